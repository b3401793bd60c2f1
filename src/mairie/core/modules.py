"""The services a commune can switch on. Each module's AppConfig.ready() registers itself here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Module:
    key: str
    name: str  # translatable, lazy
    description: str
    url_name: str  # the module's home page for residents


MODULES: dict[str, Module] = {}


def register_module(module: Module) -> None:
    MODULES[module.key] = module


def enabled_modules(commune: object) -> list[Module]:
    keys = getattr(commune, "enabled_modules", None) or []
    return [MODULES[key] for key in keys if key in MODULES]
