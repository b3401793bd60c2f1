"""Seats, waiting list, offers, packages, cancel and modify deadlines, attendance: the rules a person notices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from django_scopes import scope

from mairie.booking import services
from mairie.booking.exceptions import (
    AlreadyBooked,
    DeadlinePassed,
    InThePast,
    InvalidRequest,
    NotAllowed,
    NotFound,
    SessionFull,
    TooLate,
)
from mairie.booking.models import Booking, Session
from mairie.core.acting import Actor
from mairie.core.models import AuditEntry, Mandate, Notification, Role
from tests.booking.conftest import NOW, make_session, resident_actor
from tests.factories import make_user

pytestmark = pytest.mark.django_db
Status = Booking.Status


def _status(booking: Booking) -> str:
    booking.refresh_from_db()
    return booking.status


def test_seats_then_waiting_list(staff, alice, bob, carol, frozen):
    session = make_session(staff, capacity=2)
    first = services.session_book(actor=alice, session=session)
    second = services.session_book(actor=bob, session=session)
    third = services.session_book(actor=carol, session=session)
    assert [first.status, second.status, third.status] == [
        Status.CONFIRMED,
        Status.CONFIRMED,
        Status.WAITLISTED,
    ]
    session.refresh_from_db()
    assert session.booked_count == 2 and session.is_full
    assert Notification.objects.filter(recipient=carol.user, template="booking/waitlisted").exists()
    assert AuditEntry.objects.filter(action="booking.booking.waitlisted", actor=carol.user).count() == 1


def test_same_person_cannot_book_twice(staff, alice, frozen):
    session = make_session(staff)
    services.session_book(actor=alice, session=session)
    with pytest.raises(AlreadyBooked, match="déjà inscrit"):
        services.session_book(actor=alice, session=session)
    session.refresh_from_db()
    assert session.booked_count == 1


def test_database_refuses_more_seats_than_capacity(staff, frozen):
    session = make_session(staff, capacity=1)
    Session.objects.filter(pk=session.pk).update(booked_count=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Session.objects.filter(pk=session.pk).update(booked_count=F("booked_count") + 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Session.objects.filter(pk=session.pk).update(booked_count=-1)


def test_cancel_offers_the_seat_to_the_first_waiting(staff, alice, bob, carol, frozen):
    session = make_session(staff, capacity=1)
    seat = services.session_book(actor=alice, session=session)
    waiting_bob = services.session_book(actor=bob, session=session)
    waiting_carol = services.session_book(actor=carol, session=session)
    services.booking_cancel(actor=alice, booking=seat, reason="Malade")
    assert _status(seat) == Status.CANCELLED
    assert _status(waiting_bob) == Status.OFFERED
    assert waiting_bob.offer_expires_at == NOW + timedelta(hours=24)
    assert _status(waiting_carol) == Status.WAITLISTED
    session.refresh_from_db()
    assert session.booked_count == 1  # the seat is held for Bob
    assert Notification.objects.filter(recipient=bob.user, template="booking/offered").exists()
    # Nobody else can take the held seat.
    dave = resident_actor(alice.commune)
    assert services.session_book(actor=dave, session=session).status == Status.WAITLISTED


def test_offer_accepted_confirms(staff, alice, bob, frozen):
    session = make_session(staff, capacity=1)
    seat = services.session_book(actor=alice, session=session)
    waiting = services.session_book(actor=bob, session=session)
    services.booking_cancel(actor=alice, booking=seat)
    services.offer_accept(actor=bob, booking=waiting)
    assert _status(waiting) == Status.CONFIRMED
    with pytest.raises(InvalidRequest):
        services.offer_accept(actor=bob, booking=waiting)


def test_offer_expires_then_goes_to_next_person(staff, alice, bob, carol, frozen):
    session = make_session(staff, capacity=1, day_offset=5)
    seat = services.session_book(actor=alice, session=session)
    waiting_bob = services.session_book(actor=bob, session=session)
    waiting_carol = services.session_book(actor=carol, session=session)
    services.booking_cancel(actor=alice, booking=seat)
    assert _status(waiting_bob) == Status.OFFERED

    frozen.shift(timedelta(hours=23, minutes=59))
    assert services.expire_offers() == 0
    assert _status(waiting_bob) == Status.OFFERED

    frozen.shift(timedelta(minutes=1))
    assert services.expire_offers() == 1
    assert _status(waiting_bob) == Status.CANCELLED
    assert _status(waiting_carol) == Status.OFFERED
    session.refresh_from_db()
    assert session.booked_count == 1
    assert Notification.objects.filter(recipient=bob.user, template="booking/offer_expired").exists()
    with pytest.raises(InvalidRequest):
        services.offer_accept(actor=bob, booking=waiting_bob)

    # Carol lets hers expire too: nobody is left, the seat is free again.
    frozen.shift(timedelta(hours=24))
    assert services.expire_offers() == 1
    session.refresh_from_db()
    assert session.booked_count == 0


def test_offer_cannot_be_accepted_after_it_expired_even_before_the_ticker(staff, alice, bob, frozen):
    session = make_session(staff, capacity=1, day_offset=5)
    seat = services.session_book(actor=alice, session=session)
    waiting = services.session_book(actor=bob, session=session)
    services.booking_cancel(actor=alice, booking=seat)
    frozen.shift(timedelta(hours=25))
    with pytest.raises(DeadlinePassed, match="délai pour accepter"):
        services.offer_accept(actor=bob, booking=waiting)


def test_offer_never_outlasts_the_session_start(staff, alice, bob, frozen):
    session = make_session(staff, capacity=1, day_offset=0, hour=18, cancel_deadline_hours=0)  # today 18:00
    seat = services.session_book(actor=alice, session=session)
    waiting = services.session_book(actor=bob, session=session)
    services.booking_cancel(actor=alice, booking=seat)
    waiting.refresh_from_db()
    assert waiting.offer_expires_at == session.starts_at


def test_cancel_deadline_refused_for_resident_allowed_for_staff(staff, alice, frozen):
    session = make_session(staff, day_offset=2, cancel_deadline_hours=24)
    booking = services.session_book(actor=alice, session=session)
    # Session on Wednesday 14:00: self-service cancel until Tuesday 14:00.
    frozen.move_to(session.starts_at - timedelta(hours=24, seconds=1))
    assert services.can_self_cancel(booking)
    frozen.move_to(session.starts_at - timedelta(hours=23))
    booking.refresh_from_db()
    assert not services.can_self_cancel(booking)
    with pytest.raises(DeadlinePassed, match="24 heures avant"):
        services.booking_cancel(actor=alice, booking=booking)
    assert _status(booking) == Status.CONFIRMED
    services.booking_cancel(actor=staff, booking=booking, reason="Appel de la personne")
    assert _status(booking) == Status.CANCELLED
    entry = AuditEntry.objects.get(action="booking.booking.cancelled")
    assert entry.actor == staff.user and entry.data["by_staff"] is True


def test_waiting_list_can_always_be_left(staff, alice, bob, frozen):
    session = make_session(staff, capacity=1, day_offset=1)
    services.session_book(actor=alice, session=session)
    waiting = services.session_book(actor=bob, session=session)
    frozen.move_to(session.starts_at - timedelta(hours=1))
    services.booking_cancel(actor=bob, booking=waiting)
    assert _status(waiting) == Status.CANCELLED


def test_someone_else_cannot_cancel_my_booking(staff, alice, bob, frozen):
    session = make_session(staff)
    booking = services.session_book(actor=alice, session=session)
    with pytest.raises(NotFound):
        services.booking_cancel(actor=bob, booking=booking)
    assert _status(booking) == Status.CONFIRMED


def test_another_communes_session_is_not_found(staff, alice, other_commune, frozen):
    with scope(commune=other_commune):
        theirs = make_session(Actor.himself(make_user(other_commune, Role.MEDIATOR), other_commune))
    with pytest.raises(NotFound):
        services.session_book(actor=alice, session=theirs.pk)
    with pytest.raises(NotFound):
        services.session_book(actor=alice, session="pas-un-nombre")  # type: ignore[arg-type]
    with scope(commune=other_commune):
        theirs.refresh_from_db()
        assert theirs.booked_count == 0
        assert not Booking.objects.exists()


def test_past_and_late_bookings_refused(staff, alice, frozen):
    session = make_session(staff, day_offset=0, hour=10, min_notice_minutes=180)  # today 10:00, now 08:00
    with pytest.raises(TooLate, match="3 heures à l'avance"):
        services.session_book(actor=alice, session=session)
    frozen.move_to(session.starts_at + timedelta(minutes=5))
    with pytest.raises(InThePast):
        services.session_book(actor=alice, session=session)
    assert not Booking.objects.exists()
    # The counter can still register a walk-in while the session is under way, not after it ended.
    walk_in = Actor.himself(make_user(alice.commune), alice.commune)
    counter = Actor(user=staff.user, commune=staff.commune, subject=walk_in.user)
    assert services.session_book(actor=counter, session=session).status == Status.CONFIRMED
    frozen.move_to(session.ends_at)
    with pytest.raises(InThePast):
        services.session_book(actor=counter, session=session)


def test_sessions_in_the_past_cannot_be_created(staff, frozen):
    with pytest.raises(InThePast):
        make_session(staff, day_offset=-1)
    with pytest.raises(InvalidRequest, match="au moins une place"):
        make_session(staff, capacity=0)
    assert not Session.objects.exists()


def test_residents_cannot_create_sessions(alice, frozen):
    with pytest.raises(PermissionDenied):
        make_session(alice)


def test_booking_for_someone_else_needs_a_mandate_or_staff(staff, alice, bob, frozen):
    session = make_session(staff)
    for_bob = Actor(user=alice.user, commune=alice.commune, subject=bob.user)
    with pytest.raises(NotAllowed):
        services.session_book(actor=for_bob, session=session)
    mandate = Mandate.objects.create(
        commune=staff.commune,
        agent=staff.user,
        resident=bob.user,
        purpose="Inscriptions aux ateliers",
        consent_method="in_person",
        expires_at=NOW + timedelta(days=1),
    )
    counter = Actor(user=staff.user, commune=staff.commune, subject=bob.user, mandate=mandate)
    booking = services.session_book(actor=counter, session=session)
    assert booking.person == bob.user and booking.booked_by == staff.user and booking.mandate == mandate
    entry = AuditEntry.objects.get(action="booking.booking.confirmed")
    assert entry.actor == staff.user and entry.on_behalf_of == bob.user
    with pytest.raises(AlreadyBooked, match="Cette personne est déjà inscrite"):
        services.session_book(actor=counter, session=session)


def test_package_all_seats_or_waiting_list(staff, alice, bob, carol, frozen):
    first = make_session(staff, day_offset=2, capacity=2)
    second = make_session(staff, day_offset=9, capacity=1)
    package = services.package_create(
        actor=staff, module="inclusion", title="Parcours e-mail", sessions=[first, second]
    )

    booked = services.package_book(actor=alice, package=package)
    assert [b.status for b in booked] == [Status.CONFIRMED, Status.CONFIRMED]
    # The second session is now full: Bob gets no seat at all, he waits for the whole package.
    waiting = services.package_book(actor=bob, package=package)
    assert [b.status for b in waiting] == [Status.WAITLISTED, Status.WAITLISTED]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.booked_count, second.booked_count) == (1, 1)
    # Carol books only the first session (seat left there).
    services.session_book(actor=carol, session=first)

    # Alice cancels her package: both seats free; Bob is offered the whole package.
    services.booking_cancel(actor=alice, booking=booked[0])
    assert {_status(b) for b in booked} == {Status.CANCELLED}
    assert {_status(b) for b in waiting} == {Status.OFFERED}
    services.offer_accept(actor=bob, booking=waiting[1])
    assert {_status(b) for b in waiting} == {Status.CONFIRMED}
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.booked_count, second.booked_count) == (2, 1)


def test_package_waiter_skipped_while_one_of_its_sessions_is_full(staff, alice, bob, carol, frozen):
    first = make_session(staff, day_offset=2, capacity=1)
    second = make_session(staff, day_offset=9, capacity=1)
    package = services.package_create(
        actor=staff, module="inclusion", title="Parcours", sessions=[first, second]
    )
    alice_first = services.session_book(actor=alice, session=first)
    services.session_book(actor=carol, session=second)
    bob_package = services.package_book(actor=bob, package=package)  # both waitlisted
    dave = resident_actor(alice.commune)
    dave_first = services.session_book(actor=dave, session=first)  # waits for the first only
    services.booking_cancel(actor=alice, booking=alice_first)
    # Bob was first in line but the second session is still full: the seat goes to Dave.
    assert {_status(b) for b in bob_package} == {Status.WAITLISTED}
    assert _status(dave_first) == Status.OFFERED
    second.refresh_from_db()
    assert second.booked_count == 1


def test_modify_moves_to_another_session_and_frees_the_old_seat(staff, alice, bob, frozen):
    monday = make_session(staff, day_offset=7, capacity=1)
    tuesday = make_session(staff, day_offset=8, capacity=1)
    booking = services.session_book(actor=alice, session=monday)
    waiting = services.session_book(actor=bob, session=monday)
    moved = services.booking_modify(actor=alice, booking=booking, session=tuesday)
    assert moved.session == tuesday and moved.status == Status.CONFIRMED
    assert _status(booking) == Status.CANCELLED
    assert _status(waiting) == Status.OFFERED
    # An offer must be accepted before it can be moved.
    with pytest.raises(InvalidRequest, match="confirmée"):
        services.booking_modify(actor=bob, booking=waiting, session=tuesday)
    other = make_session(staff, day_offset=9, capacity=1)
    services.offer_accept(actor=bob, booking=waiting)
    services.session_book(actor=resident_actor(alice.commune), session=other)
    # No seat there: the move is refused and nothing changes.
    with pytest.raises(SessionFull):
        services.booking_modify(actor=bob, booking=waiting, session=other)
    assert _status(waiting) == Status.CONFIRMED
    monday.refresh_from_db()
    assert monday.booked_count == 1


def test_modify_after_deadline_refused_for_resident(staff, alice, frozen):
    first = make_session(staff, day_offset=1, cancel_deadline_hours=48)
    second = make_session(staff, day_offset=3)
    booking = services.session_book(actor=alice, session=first)
    with pytest.raises(DeadlinePassed):
        services.booking_modify(actor=alice, booking=booking, session=second)
    moved = services.booking_modify(actor=staff, booking=booking, session=second)
    assert moved.person == alice.user and moved.booked_by == staff.user


def test_attendance_from_the_day_of_the_session(staff, alice, bob, frozen):
    session = make_session(staff, day_offset=1)
    present = services.session_book(actor=alice, session=session)
    absent = services.session_book(actor=bob, session=session)
    with pytest.raises(InvalidRequest, match="à partir du jour"):
        services.attendance_mark(actor=staff, booking=present, attended=True)
    frozen.move_to(session.ends_at)
    services.attendance_mark(actor=staff, booking=present, attended=True)
    services.attendance_mark(actor=staff, booking=absent, attended=False)
    assert (_status(present), _status(absent)) == (Status.ATTENDED, Status.NO_SHOW)
    with pytest.raises(PermissionDenied):
        services.attendance_mark(actor=alice, booking=present, attended=False)
    session.refresh_from_db()
    assert session.booked_count == 2  # attendance keeps the seats


def test_session_cancelled_tells_everyone_and_frees_the_room(staff, room, alice, bob, frozen):
    session = make_session(staff, capacity=1, resources=[room])
    seat = services.session_book(actor=alice, session=session)
    waiting = services.session_book(actor=bob, session=session)
    services.session_cancel(actor=staff, session=session, reason="Animatrice malade")
    assert (_status(seat), _status(waiting)) == (Status.CANCELLED, Status.CANCELLED)
    assert Notification.objects.filter(template="booking/session_cancelled").count() >= 2
    # The room's time is free again for another session.
    again = make_session(staff, capacity=1, resources=[room])
    assert again.pk != session.pk


def test_capacity_grows_offers_seats(staff, alice, bob, frozen):
    session = make_session(staff, capacity=1)
    services.session_book(actor=alice, session=session)
    waiting = services.session_book(actor=bob, session=session)
    with pytest.raises(InvalidRequest, match="déjà prises"):
        services.session_update(actor=staff, session=session, capacity=0)
    services.session_update(actor=staff, session=session, capacity=2)
    assert _status(waiting) == Status.OFFERED
