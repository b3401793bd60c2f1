"""Reminders the day before, by the person's channels; once only; personal data and erasure."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mairie.booking import services
from mairie.booking.models import Booking
from mairie.core.models import Notification
from mairie.core.personal_data import collect_personal_data, run_erasure_handlers
from tests.booking.conftest import make_session

pytestmark = pytest.mark.django_db


def test_reminder_the_day_before_once(staff, alice, bob, frozen, in_commune):
    tomorrow = make_session(staff, day_offset=1, hour=10)  # in 26 hours
    later = make_session(staff, day_offset=3, hour=10)
    waiting_full = make_session(staff, day_offset=1, hour=9, capacity=1)
    mine = services.session_book(actor=alice, session=tomorrow)
    services.session_book(actor=alice, session=later)
    services.session_book(actor=bob, session=waiting_full)
    waiting = services.session_book(actor=alice, session=waiting_full)
    assert waiting.status == Booking.Status.WAITLISTED

    assert services.send_reminders() == 2  # Alice tomorrow 10:00, Bob tomorrow 9:00; not the waiting list
    mine.refresh_from_db()
    assert mine.reminded_at is not None
    sent = Notification.objects.filter(recipient=alice.user, template="booking/reminder")
    assert {n.channel for n in sent} == {"in_app", "email"}  # Alice has an email, no mobile phone
    assert "Premiers pas sur smartphone" in sent.get(channel="email").body
    assert services.send_reminders() == 0  # never twice
    frozen.shift(timedelta(days=2))
    assert services.send_reminders() == 1  # the session of day 3 is now tomorrow


def test_moved_booking_is_reminded_again(staff, alice, frozen, in_commune):
    first = make_session(staff, day_offset=1, hour=10)
    second = make_session(staff, day_offset=4, hour=10)
    booking = services.session_book(actor=alice, session=first)
    services.send_reminders()
    moved = services.booking_modify(actor=staff, booking=booking, session=second)
    assert moved.reminded_at is None


def test_personal_data_and_erasure(staff, alice, bob, frozen, in_commune):
    session = make_session(staff, capacity=1)
    seat = services.session_book(actor=alice, session=session)
    waiting = services.session_book(actor=bob, session=session)
    sections = {s.key: s for s in collect_personal_data(alice.user, in_commune)}
    assert sections["booking.bookings"].rows[0]["Quoi"] == session.title
    run_erasure_handlers(alice.user, in_commune)
    seat.refresh_from_db()
    waiting.refresh_from_db()
    assert seat.status == Booking.Status.CANCELLED and waiting.status == Booking.Status.OFFERED
