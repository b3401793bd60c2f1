"""``manage.py homecare_broker_passwords``: the broker's password file follows the gateways in the database, keeps
the other users (the bridge's own), and forgets a gateway that is gone, so its old password stops working."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django_scopes import scope, scopes_disabled

from mairie.core.acting import Actor
from mairie.homecare.models import Gateway
from mairie.homecare.services.homes import gateway_register, home_create
from tests.homecare.homes_support import make_home

pytestmark = pytest.mark.django_db

BRIDGE_LINE = "mairie-bridge:$7$101$c2FsdA==$aGFzaA=="


def users(path) -> list[str]:
    return [line.split(":", 1)[0] for line in path.read_text().splitlines()]


def run(path) -> str:
    out = StringIO()
    call_command("homecare_broker_passwords", output=str(path), stdout=out)
    return out.getvalue()


def test_a_deleted_gateway_loses_its_login_and_the_bridge_keeps_its_own(commune, tmp_path):
    world = make_home(commune, now=datetime(2026, 11, 26, 9, 0, tzinfo=UTC), contacts=0)
    with scope(commune=commune):
        other = home_create(
            actor=Actor.himself(world.agent, commune), resident=world.resident, label="Maison 2"
        )
        gone, _password = gateway_register(actor=Actor.himself(world.agent, commune), home=other)
    path = tmp_path / "passwd"
    path.write_text(BRIDGE_LINE + "\n")
    run(path)
    assert users(path) == ["mairie-bridge", world.gateway.mqtt_username, gone.mqtt_username]
    assert (tmp_path / "passwd.gateways").read_text().split() == [
        world.gateway.mqtt_username,
        gone.mqtt_username,
    ]

    with scopes_disabled():
        Gateway.objects.filter(pk=gone.pk).delete()
    assert "1 former gateway(s) removed" in run(path)
    assert users(path) == ["mairie-bridge", world.gateway.mqtt_username]

    # A gateway whose password was cleared (taken out of service) is dropped the same way.
    with scopes_disabled():
        Gateway.objects.filter(pk=world.gateway.pk).update(password_hash="")
    run(path)
    assert users(path) == ["mairie-bridge"]
    assert (tmp_path / "passwd.gateways").read_text() == ""
