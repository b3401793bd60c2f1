"""The services a commune can switch on. Each module's AppConfig.ready() registers itself here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Module:
    key: str
    name: str  # translatable, lazy
    description: str
    url_name: str  # the module's home page for residents
    # A key figure shown on the commune's home card ("412 personnes formées en 12 mois"); keep it cheap (cache).
    figure: Callable[[Any], str] | None = None

    def figure_for(self, commune: Any) -> str:
        return self.figure(commune) if self.figure is not None else ""


MODULES: dict[str, Module] = {}


def register_module(module: Module) -> None:
    MODULES[module.key] = module


def enabled_modules(commune: object) -> list[Module]:
    keys = getattr(commune, "enabled_modules", None) or []
    return [MODULES[key] for key in keys if key in MODULES]
