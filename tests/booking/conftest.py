from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from mairie.booking import services
from mairie.core.acting import Actor
from mairie.core.models import Role
from tests.factories import make_user

PARIS = ZoneInfo("Europe/Paris")
# A Monday morning, far from any public holiday: every test starts from here unless it travels elsewhere.
NOW = datetime(2030, 3, 4, 8, 0, tzinfo=PARIS)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def mediator(commune):
    return make_user(commune, Role.MEDIATOR, first_name="Morgane")


@pytest.fixture
def staff(in_commune, mediator):
    return Actor.himself(mediator, in_commune)


def resident_actor(commune, **kwargs) -> Actor:
    return Actor.himself(make_user(commune, **kwargs), commune)


@pytest.fixture
def alice(in_commune):
    return resident_actor(in_commune, first_name="Alice")


@pytest.fixture
def bob(in_commune):
    return resident_actor(in_commune, first_name="Bob")


@pytest.fixture
def carol(in_commune):
    return resident_actor(in_commune, first_name="Carol")


@pytest.fixture
def room(staff, frozen):
    return services.resource_create(actor=staff, module="inclusion", name="Salle multimédia", kind="room")


def make_session(staff, *, day_offset: int = 2, hour: int = 14, capacity: int = 2, resources=(), **fields):
    day = NOW.date() + timedelta(days=day_offset)
    return services.session_create(
        actor=staff,
        module=fields.pop("module", "inclusion"),
        title=fields.pop("title", "Premiers pas sur smartphone"),
        starts_at=at(day, hour),
        ends_at=at(day, hour + 2),
        capacity=capacity,
        resources=resources,
        **fields,
    )
