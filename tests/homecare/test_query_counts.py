"""The homecare pages' SQL query counts do not grow with what they show: more alarms on the console, more
events in a home's file or a relative's timeline, more homes in the figures. Loaded with N rows, then 10 N."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mairie.core.models import Role
from tests.factories import make_user
from tests.homecare.homes_support import fixture, make_home
from tests.homecare.people_support import client_as

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
T = datetime(2026, 11, 26, 9, 0, tzinfo=PARIS)
N = 2


def queries(client, url: str) -> int:
    with (
        time_machine.travel(T + timedelta(hours=2), tick=False),
        CaptureQueriesContext(connection) as captured,
    ):
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured)


def assert_constant(client, url: str, grow: Callable[[int], None]) -> None:
    grow(N)
    queries(client, url)  # warm the commune cache, as every request after the first finds it
    with_n = queries(client, url)
    grow(9 * N)
    queries(client, url)  # the console writes its "viewed" audit rows for new alarms once, in one statement
    with_10n = queries(client, url)
    assert with_10n == with_n, f"{url}: {with_n} queries with {N} rows, {with_10n} with {10 * N} rows"


@pytest.fixture
def world(commune):
    with time_machine.travel(T, tick=False):
        world = make_home(commune, now=T)
    world.operator = make_user(commune, Role.OPERATOR, first_name="Octave")
    return world


def presses(world, start: int = 0) -> Callable[[int], None]:
    """SOS presses (each a new alarm: the pendant's own timestamp differs) and motion, on the world's home."""
    made = {"n": start}

    def grow(count: int) -> None:
        for _ in range(count):
            made["n"] += 1
            at = T + timedelta(minutes=made["n"])
            with time_machine.travel(at, tick=False):
                payload = {**_sos(), "last_seen": at.isoformat()}
                world.send("sos", payload, at)
                world.send("pir", {"occupancy": True, "last_seen": at.isoformat()}, at)

    return grow


def _sos() -> dict:
    import json

    return json.loads(fixture("tuya_sos_TS0215A.json"))


def more_homes(commune) -> Callable[[int], None]:
    def grow(count: int) -> None:
        for _ in range(count):
            with time_machine.travel(T, tick=False):
                other = make_home(commune, now=T, contacts=1)
                other.send("sos", fixture("tuya_sos_TS0215A.json"), T)

    return grow


def test_the_console_costs_the_same_with_ten_times_the_alarms(world):
    assert_constant(
        client_as(world.commune, world.operator), reverse("homecare:console"), more_homes(world.commune)
    )


def test_the_figures_cost_the_same_with_ten_times_the_alarms(world):
    url = reverse("homecare:console_figures")
    assert_constant(client_as(world.commune, world.operator), url, more_homes(world.commune))


def test_a_homes_file_costs_the_same_with_ten_times_the_events(world):
    url = reverse("homecare:console_home", args=[world.home.pk])
    assert_constant(client_as(world.commune, world.operator), url, presses(world))


def test_a_relatives_page_costs_the_same_with_ten_times_the_events(world):
    relative = world.contacts[0].user
    url = reverse("homecare:family_home", args=[world.home.pk])
    assert_constant(client_as(world.commune, relative), url, presses(world))
