"""Helpers for the tests of the people-facing pages (console, relatives, tablet, automation, energy)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import time_machine
from django.test import Client
from django_scopes import scope, scopes_disabled

from mairie.core.acting import Actor
from mairie.core.models import Commune, User
from mairie.homecare import automation
from mairie.homecare.models import Alarm, Device
from mairie.homecare.services.homes import device_register
from tests.homecare.homes_support import HomeWorld, fixture
from tests.urlwalk import verify_second_factor

BACKEND = "mairie.core.auth_backends.LoginBackend"


def client_as(commune: Commune, user: User | None = None, *, verified: bool = True) -> Client:
    """A fresh client on the commune's host, signed in as ``user`` (second factor passed when ``verified``)."""
    with scopes_disabled():
        host = commune.hosts.first().host
    client = Client(HTTP_HOST=host)
    if user is not None:
        client.force_login(user, backend=BACKEND)
        if verified:
            verify_second_factor(client, user)
    return client


def raise_sos(world: HomeWorld, at: datetime) -> Alarm:
    with time_machine.travel(at, tick=False):
        outcome = world.send("sos", fixture("tuya_sos_TS0215A.json"), at)
    with scopes_disabled():
        return Alarm.objects.select_related("home", "commune").get(pk=outcome.alarm_ids[0])


def add_controls(world: HomeWorld, now: datetime) -> HomeWorld:
    """A shutter, a light and a thermostat in the living room, as the village's homes have."""
    actor = Actor.himself(world.agent, world.commune)
    with time_machine.travel(now, tick=False), scope(commune=world.commune):
        for key, name, kind in (
            ("shutter", "salon/volet", Device.Kind.SHUTTER),
            ("light", "salon/lumiere", Device.Kind.LIGHT),
            ("thermostat", "salon/thermostat", Device.Kind.THERMOSTAT),
        ):
            world.devices[key] = device_register(
                actor=actor, gateway=world.gateway, friendly_name=name, kind=kind, room="salon", now=now
            )
    return world


class Broker:
    """Stands in for the MQTT broker in tests that are not about MQTT: records what would be published."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.down = False

    def __call__(self, topic: str, payload: bytes) -> None:
        if self.down:
            raise ConnectionRefusedError("broker down (test)")
        self.published.append((topic, json.loads(payload)))


def fake_broker(monkeypatch: Any) -> Broker:
    broker = Broker()
    monkeypatch.setitem(automation.PUBLISHER, "publish", broker)
    return broker
