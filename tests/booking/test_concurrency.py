"""No double booking under real concurrency: 50 threads, each with its own PostgreSQL connection, released
together by a barrier. SQLite serialises every write, so these tests only mean something on PostgreSQL."""

from __future__ import annotations

import fcntl
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_scopes import scope

from mairie.booking import services
from mairie.booking.exceptions import BookingError, SlotTaken
from mairie.booking.holidays import is_public_holiday
from mairie.booking.models import Booking, ResourceClaim, Session
from mairie.core.acting import Actor
from mairie.core.models import Role
from tests.factories import make_user

THREADS = 50
LOCK_FILE = Path(tempfile.gettempdir()) / "mairie-booking-race.lock"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="needs PostgreSQL (MAIRIE_TEST_DATABASE_URL): SQLite runs one writer at a time, so there is no race",
    ),
]


def race(commune, actors: list[Actor], attempt: Callable[[Actor], Booking]) -> list[object]:
    """Runs ``attempt(actor)`` in one thread per actor, all released at once; returns each outcome.

    Races of parallel test workers (pytest -n) take turns: 50 connections each would pass PostgreSQL's
    default limit of 100 together."""
    with open(LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _race(commune, actors, attempt)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _race(commune, actors: list[Actor], attempt: Callable[[Actor], Booking]) -> list[object]:
    barrier = threading.Barrier(len(actors))
    outcomes: list[object] = [None] * len(actors)

    def run(index: int, actor: Actor) -> None:
        try:
            with scope(commune=commune):
                barrier.wait(timeout=60)
                outcomes[index] = attempt(actor)
        except BookingError as error:
            outcomes[index] = error
        except Exception as error:
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


@pytest.fixture
def people(commune):
    return [Actor.himself(make_user(commune, first_name=f"P{i}"), commune) for i in range(THREADS)]


@pytest.fixture
def mediator_actor(commune):
    return Actor.himself(make_user(commune, Role.MEDIATOR), commune)


def test_fifty_people_race_for_the_last_seat(commune, people, mediator_actor):
    start = timezone.now() + timedelta(days=3)
    with scope(commune=commune):
        session = services.session_create(
            actor=mediator_actor,
            module="inclusion",
            title="Dernière place",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            capacity=5,
        )
        for _ in range(4):
            services.session_book(actor=Actor.himself(make_user(commune), commune), session=session)

    outcomes = race(commune, people, lambda actor: services.session_book(actor=actor, session=session.pk))

    errors = [o for o in outcomes if not isinstance(o, Booking)]
    assert not errors, errors
    assert Counter(o.status for o in outcomes) == {Booking.Status.CONFIRMED: 1, Booking.Status.WAITLISTED: 49}
    with scope(commune=commune):
        session.refresh_from_db()
        assert session.booked_count == session.capacity == 5
        assert Booking.objects.filter(session=session, status=Booking.Status.CONFIRMED).count() == 5


def test_fifty_people_race_for_the_same_machine_slot(commune, people, mediator_actor):
    with scope(commune=commune):
        # No opening rules: the machine is bookable at any time, so the test does not depend on today's date.
        printer = services.resource_create(actor=mediator_actor, module="fablab", name="Imprimante 3D")
    start = (timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    while is_public_holiday(timezone.localtime(start).date()):
        start += timedelta(days=1)

    def attempt(actor: Actor) -> Booking:
        return services.slot_book(
            actor=actor,
            resources=[printer.pk],
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            module="fablab",
        )

    outcomes = race(commune, people, attempt)

    won = [o for o in outcomes if isinstance(o, Booking)]
    taken = [o for o in outcomes if isinstance(o, SlotTaken)]
    others = [o for o in outcomes if not isinstance(o, Booking | SlotTaken)]
    assert len(won) == 1 and len(taken) == THREADS - 1, others
    with scope(commune=commune):
        assert Booking.objects.filter(resources=printer).count() == 1
        assert ResourceClaim.objects.filter(resource=printer).count() == 12
        assert set(ResourceClaim.objects.filter(resource=printer).values_list("booking_id", flat=True)) == {
            won[0].pk
        }


def test_one_person_clicking_fifty_times_gets_one_seat(commune, mediator_actor):
    start = timezone.now() + timedelta(days=3)
    with scope(commune=commune):
        session = services.session_create(
            actor=mediator_actor,
            module="inclusion",
            title="Double clic",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            capacity=10,
        )
    same = Actor.himself(make_user(commune), commune)
    outcomes = race(
        commune, [same] * THREADS, lambda actor: services.session_book(actor=actor, session=session.pk)
    )
    assert sum(isinstance(o, Booking) for o in outcomes) == 1
    assert all(isinstance(o, Booking | BookingError) for o in outcomes), outcomes
    with scope(commune=commune):
        session.refresh_from_db()
        assert session.booked_count == 1
        assert Session.objects.get(pk=session.pk).bookings.count() == 1
