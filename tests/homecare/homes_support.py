"""Building senior homes for the tests through the same services the product uses."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any

from django_scopes import scope, scopes_disabled

from mairie.core.acting import Actor
from mairie.core.models import Commune, Role, User
from mairie.homecare.models import Contact, Device, Gateway, Home
from mairie.homecare.services.homes import contact_add, device_register, gateway_register, home_create
from mairie.homecare.services.ingest import IngestOutcome, ingest_message
from tests.factories import make_user

FIXTURES = Path(__file__).parent / "fixtures"


def _contact_phone(commune: Commune, home: Home, n: int) -> str:
    """A French mobile number (+336 and eight digits) for the n-th contact of a home. Always eight digits:
    PostgreSQL does not reuse primary keys between tests, so they grow past any fixed width."""
    return f"+336{(commune.pk * 1_000_000 + home.pk * 100 + n) % 10**8:08d}"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture(name))


@dataclass
class HomeWorld:
    commune: Commune
    agent: User
    resident: User
    home: Home
    gateway: Gateway
    devices: dict[str, Device] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.gateway.base_topic

    def topic(self, device: str, suffix: str = "") -> str:
        return f"{self.base}/{self.devices[device].friendly_name}{suffix}"

    def send(
        self, device: str, payload: bytes | str | dict, at: datetime, *, suffix: str = ""
    ) -> IngestOutcome:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        if isinstance(payload, str):
            payload = payload.encode()
        return ingest_message(topic=self.topic(device, suffix), payload=payload, received_at=at)

    def refresh(self) -> HomeWorld:
        with scope(commune=self.commune):
            self.home.refresh_from_db()
            for device in self.devices.values():
                device.refresh_from_db()
        return self


DEVICES = {
    "pir": ("salon/pir", Device.Kind.MOTION, "salon"),
    "door": ("entree/porte", Device.Kind.CONTACT, "entrée"),
    "sos": ("pendentif", Device.Kind.SOS, ""),
    "smoke": ("cuisine/fumee", Device.Kind.SMOKE, "cuisine"),
    "water": ("salle-de-bain/fuite", Device.Kind.WATER_LEAK, "salle de bain"),
    "fall": ("chambre/chute", Device.Kind.FALL, "chambre"),
    "meter": ("021728123456", Device.Kind.METER, ""),
}


def make_home(
    commune: Commune,
    *,
    now: datetime,
    contacts: int = 2,
    enable_module: bool = True,
    contact_hours: list[tuple[time | None, time | None]] | None = None,
    **settings: Any,
) -> HomeWorld:
    """A home with a gateway, one device of each kind and ``contacts`` relatives with accounts."""
    if enable_module and not commune.has_module("homecare"):
        with scopes_disabled():
            commune.enabled_modules = [*commune.enabled_modules, "homecare"]
            commune.save(update_fields=["enabled_modules"])
    agent = make_user(commune, Role.AGENT, first_name="Agathe")
    resident = make_user(commune, first_name="Madeleine", last_name=f"Dupont{commune.pk}")
    actor = Actor.himself(agent, commune)
    with scope(commune=commune):
        home = home_create(
            actor=actor, resident=resident, label="Maison 12", address="12 rue des Tilleuls", **settings
        )
        gateway, _password = gateway_register(actor=actor, home=home)
        devices = {}
        for key, (name, kind, room) in DEVICES.items():
            devices[key] = device_register(
                actor=actor, gateway=gateway, friendly_name=name, kind=kind, room=room, now=now
            )
        people = []
        hours = contact_hours or []
        for n in range(contacts):
            available_from, available_until = hours[n] if n < len(hours) else (None, None)
            people.append(
                contact_add(
                    actor=actor,
                    home=home,
                    name=f"Proche {n + 1}",
                    phone=_contact_phone(commune, home, n),
                    email=f"proche{n + 1}.{home.pk}.{commune.pk}@example.org",
                    available_from=available_from,
                    available_until=available_until,
                )
            )
        home.refresh_from_db()
    return HomeWorld(commune, agent, resident, home, gateway, devices, people)
