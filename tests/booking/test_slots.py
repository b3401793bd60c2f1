"""Resources: opening hours, closures, public holidays, buffers, claims all or nothing, limits, notice, horizon."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied

from mairie.booking import selectors, services
from mairie.booking.exceptions import (
    Closed,
    InThePast,
    InvalidRequest,
    LimitReached,
    SlotTaken,
    TooFarAhead,
    TooLate,
)
from mairie.booking.models import Booking, ResourceClaim, Session
from tests.booking.conftest import NOW, at, make_session

pytestmark = pytest.mark.django_db

TUESDAY = NOW.date() + timedelta(days=1)  # 5 March 2030


@pytest.fixture
def printer(staff, frozen):
    """A 3D printer open Monday to Friday 9:00–12:00 and 14:00–17:00, one-hour slots, 15 minutes of cleaning."""
    opening = [(d, time(9), time(12)) for d in range(5)] + [(d, time(14), time(17)) for d in range(5)]
    return services.resource_create(
        actor=staff,
        module="fablab",
        name="Imprimante 3D",
        kind="machine",
        opening=opening,
        buffer_after_minutes=15,
        horizon_days=30,
        min_notice_minutes=60,
    )


def _starts(slots):
    return [s.starts_at.astimezone(at(TUESDAY, 0).tzinfo).strftime("%H:%M") for s in slots]


def test_slots_follow_opening_hours(printer):
    assert _starts(selectors.free_slots(printer, TUESDAY)) == [
        "09:00",
        "10:00",
        "11:00",
        "14:00",
        "15:00",
        "16:00",
    ]
    saturday = NOW.date() + timedelta(days=5)
    assert selectors.free_slots(printer, saturday) == []


def test_booked_slot_and_its_cleaning_buffer_are_gone(printer, alice):
    services.slot_book(
        actor=alice, resources=[printer], starts_at=at(TUESDAY, 9), ends_at=at(TUESDAY, 10), module="fablab"
    )
    # 9:00 is taken; 10:00 would start during the 15 minutes of cleaning after it.
    assert _starts(selectors.free_slots(printer, TUESDAY)) == ["11:00", "14:00", "15:00", "16:00"]


def test_notice_and_past_remove_todays_early_slots(printer, frozen):
    frozen.move_to(at(NOW.date(), 9, 30))
    assert _starts(selectors.free_slots(printer, NOW.date())) == ["11:00", "14:00", "15:00", "16:00"]
    # Staff are not held to the notice, but never to the past.
    assert _starts(selectors.free_slots(printer, NOW.date(), staff=True)) == [
        "10:00",
        "11:00",
        "14:00",
        "15:00",
        "16:00",
    ]


def test_horizon_hides_far_days(printer):
    assert selectors.free_slots(printer, NOW.date() + timedelta(days=30))
    assert selectors.free_slots(printer, NOW.date() + timedelta(days=31)) == []


def test_closure_removes_slots_and_refuses_bookings(staff, printer, alice):
    services.closure_create(
        actor=staff, starts_at=at(TUESDAY, 13), ends_at=at(TUESDAY, 18), reason="Formation de l'équipe"
    )
    assert _starts(selectors.free_slots(printer, TUESDAY)) == ["09:00", "10:00", "11:00"]
    with pytest.raises(Closed, match="Formation de l'équipe"):
        services.slot_book(
            actor=alice,
            resources=[printer],
            starts_at=at(TUESDAY, 14),
            ends_at=at(TUESDAY, 15),
            module="fablab",
        )
    assert not Booking.objects.exists()


def test_closure_of_one_resource_leaves_the_others(staff, printer, frozen):
    laser = services.resource_create(
        actor=staff, module="fablab", name="Découpeuse laser", opening=[(1, time(9), time(12))]
    )
    services.closure_create(
        actor=staff, starts_at=at(TUESDAY, 0), ends_at=at(TUESDAY, 23), reason="Panne", resource=printer
    )
    assert selectors.free_slots(printer, TUESDAY) == []
    assert len(selectors.free_slots(laser, TUESDAY)) == 3


def test_public_holidays_are_closed_unless_a_rule_opens_them(staff, frozen):
    easter_monday = date(2030, 4, 22)
    with_rule = services.resource_create(actor=staff, module="fablab", name="Poste 1", horizon_days=365)
    services.opening_rule_add(
        actor=staff, resource=with_rule, weekday=0, start_time=time(9), end_time=time(11)
    )
    holiday_open = services.resource_create(actor=staff, module="fablab", name="Poste 2", horizon_days=365)
    services.opening_rule_add(
        actor=staff,
        resource=holiday_open,
        weekday=0,
        start_time=time(9),
        end_time=time(11),
        open_on_public_holidays=True,
    )
    assert selectors.free_slots(with_rule, easter_monday) == []
    assert len(selectors.free_slots(with_rule, easter_monday + timedelta(days=7))) == 2
    assert len(selectors.free_slots(holiday_open, easter_monday)) == 2


def test_holiday_refuses_a_session(staff, frozen):
    with pytest.raises(Closed, match="Lundi de Pâques"):
        services.session_create(
            actor=staff,
            module="inclusion",
            title="Atelier",
            starts_at=at(date(2030, 4, 22), 14),
            ends_at=at(date(2030, 4, 22), 16),
            capacity=5,
        )
    session = services.session_create(
        actor=staff,
        module="inclusion",
        title="Atelier exceptionnel",
        starts_at=at(date(2030, 4, 22), 14),
        ends_at=at(date(2030, 4, 22), 16),
        capacity=5,
        ignore_closures=True,
    )
    assert session.pk


def test_outside_opening_hours_refused(printer, alice):
    with pytest.raises(Closed, match="pas ouvert à cette heure-là"):
        services.slot_book(
            actor=alice,
            resources=[printer],
            starts_at=at(TUESDAY, 11, 30),
            ends_at=at(TUESDAY, 12, 30),
            module="fablab",
        )


def test_notice_horizon_past_refused(printer, alice, staff, frozen):
    frozen.move_to(at(NOW.date(), 8, 30))
    with pytest.raises(TooLate, match="1 heure à l'avance"):
        services.slot_book(
            actor=alice,
            resources=[printer],
            starts_at=at(NOW.date(), 9),
            ends_at=at(NOW.date(), 10),
            module="fablab",
        )
    far = NOW.date() + timedelta(days=36)  # a Tuesday beyond the 30-day horizon
    with pytest.raises(TooFarAhead, match="30 jours"):
        services.slot_book(
            actor=alice, resources=[printer], starts_at=at(far, 9), ends_at=at(far, 10), module="fablab"
        )
    yesterday = NOW.date() - timedelta(days=4)
    with pytest.raises(InThePast):
        services.slot_book(
            actor=alice,
            resources=[printer],
            starts_at=at(yesterday, 9),
            ends_at=at(yesterday, 10),
            module="fablab",
        )
    with pytest.raises(InThePast):
        services.slot_book(
            actor=staff,
            resources=[printer],
            starts_at=at(yesterday, 9),
            ends_at=at(yesterday, 10),
            module="fablab",
        )
    with pytest.raises(InvalidRequest, match="fin doit être après"):
        services.slot_book(
            actor=alice,
            resources=[printer],
            starts_at=at(TUESDAY, 10),
            ends_at=at(TUESDAY, 9),
            module="fablab",
        )
    assert not Booking.objects.exists()


def test_same_slot_twice_refused(printer, alice, bob):
    services.slot_book(
        actor=alice, resources=[printer], starts_at=at(TUESDAY, 9), ends_at=at(TUESDAY, 10), module="fablab"
    )
    with pytest.raises(SlotTaken, match="Imprimante 3D"):
        services.slot_book(
            actor=bob,
            resources=[printer],
            starts_at=at(TUESDAY, 9, 30),
            ends_at=at(TUESDAY, 10),
            module="fablab",
        )
    # Right after, inside the cleaning buffer: refused too.
    with pytest.raises(SlotTaken):
        services.slot_book(
            actor=bob,
            resources=[printer],
            starts_at=at(TUESDAY, 10),
            ends_at=at(TUESDAY, 11),
            module="fablab",
        )
    assert Booking.objects.count() == 1


def test_several_resources_all_or_nothing(staff, alice, bob, frozen):
    """A teleconsultation needs the cabinet, the doctor and the nurse: if one is taken, none is claimed."""
    cabinet = services.resource_create(actor=staff, module="telehealth", name="Cabinet", kind="room")
    doctor = services.resource_create(actor=staff, module="telehealth", name="Dr Martin", kind="person")
    nurse = services.resource_create(actor=staff, module="telehealth", name="Infirmière", kind="person")
    # The nurse is already busy at 10:00 (home visit).
    services.slot_book(
        actor=staff,
        resources=[nurse],
        starts_at=at(TUESDAY, 10),
        ends_at=at(TUESDAY, 11),
        module="telehealth",
    )
    claims_before = ResourceClaim.objects.count()
    with pytest.raises(SlotTaken, match="Infirmière"):
        services.slot_book(
            actor=alice,
            resources=[cabinet, doctor, nurse],
            starts_at=at(TUESDAY, 10, 30),
            ends_at=at(TUESDAY, 11, 0),
            module="telehealth",
        )
    assert ResourceClaim.objects.count() == claims_before
    assert not ResourceClaim.objects.filter(resource__in=[cabinet, doctor]).exists()
    assert Booking.objects.count() == 1
    # The cabinet and doctor are still free for Bob at that time.
    booking = services.slot_book(
        actor=bob,
        resources=[cabinet, doctor],
        starts_at=at(TUESDAY, 10, 30),
        ends_at=at(TUESDAY, 11),
        module="telehealth",
    )
    assert set(booking.resources.all()) == {cabinet, doctor}
    assert ResourceClaim.objects.filter(booking=booking).count() == 12  # 2 resources × 6 granules


def test_free_slots_of_several_resources_together(staff, frozen):
    cabinet = services.resource_create(
        actor=staff, module="telehealth", name="Cabinet", slot_minutes=30, opening=[(1, time(9), time(11))]
    )
    doctor = services.resource_create(
        actor=staff, module="telehealth", name="Médecin", kind="person", opening=[(1, time(10), time(12))]
    )
    slots = selectors.free_slots(cabinet, TUESDAY, others=(doctor,))
    assert _starts(slots) == ["10:00", "10:30"]


def test_session_claims_its_room(staff, room, frozen):
    make_session(staff, resources=[room])
    with pytest.raises(SlotTaken, match="Salle multimédia"):
        make_session(staff, resources=[room], hour=15)
    assert Session.objects.count() == 1


def test_limits_per_day_and_per_week(staff, alice, bob, frozen):
    pc = services.resource_create(
        actor=staff,
        module="inclusion",
        name="PC 1",
        opening=[(d, time(9), time(17)) for d in range(5)],
        max_per_day=2,
        max_per_week=3,
    )

    def book(actor, day, hour):
        return services.slot_book(
            actor=actor,
            resources=[pc],
            starts_at=at(day, hour),
            ends_at=at(day, hour + 1),
            module="inclusion",
        )

    wednesday, thursday = TUESDAY + timedelta(days=1), TUESDAY + timedelta(days=2)
    book(alice, TUESDAY, 9)
    first_extra = book(alice, TUESDAY, 10)
    with pytest.raises(LimitReached, match="par jour"):
        book(alice, TUESDAY, 11)
    book(alice, wednesday, 9)
    with pytest.raises(LimitReached, match="par semaine"):
        book(alice, thursday, 9)
    # Somebody else is not concerned; a cancelled booking frees the quota; next week starts afresh.
    book(bob, TUESDAY, 11)
    services.booking_cancel(actor=alice, booking=first_extra)
    book(alice, thursday, 9)
    book(alice, TUESDAY + timedelta(days=7), 9)
    # The counter may go beyond the limit for someone.
    from mairie.core.acting import Actor

    counter = Actor(user=staff.user, commune=staff.commune, subject=alice.user)
    assert book(counter, thursday, 14).status == Booking.Status.CONFIRMED


def test_out_of_service_resource(staff, printer, alice):
    printer = services.resource_update(
        actor=staff, resource=printer, is_active=False, out_of_service_reason="buse bouchée"
    )
    assert selectors.free_slots(printer, TUESDAY) == []
    with pytest.raises(Closed, match="buse bouchée"):
        services.slot_book(
            actor=alice,
            resources=[printer],
            starts_at=at(TUESDAY, 9),
            ends_at=at(TUESDAY, 10),
            module="fablab",
        )


def test_move_a_slot_booking(printer, alice, bob):
    booking = services.slot_book(
        actor=alice, resources=[printer], starts_at=at(TUESDAY, 9), ends_at=at(TUESDAY, 10), module="fablab"
    )
    services.slot_book(
        actor=bob, resources=[printer], starts_at=at(TUESDAY, 14), ends_at=at(TUESDAY, 15), module="fablab"
    )
    with pytest.raises(SlotTaken):
        services.booking_modify(
            actor=alice, booking=booking, starts_at=at(TUESDAY, 14), ends_at=at(TUESDAY, 15)
        )
    booking.refresh_from_db()
    assert booking.starts_at == at(TUESDAY, 9)
    assert ResourceClaim.objects.filter(booking=booking).count() == 15  # 1 hour + 15 minutes, kept
    services.booking_modify(actor=alice, booking=booking, starts_at=at(TUESDAY, 11), ends_at=at(TUESDAY, 12))
    booking.refresh_from_db()
    assert booking.starts_at == at(TUESDAY, 11)
    # 10:00 would end with its cleaning during Alice's 11:00; 15:00 starts during Bob's cleaning.
    assert _starts(selectors.free_slots(printer, TUESDAY)) == ["09:00", "16:00"]


def test_series_skips_holidays_and_closures(staff, room, frozen):
    services.closure_create(
        actor=staff, starts_at=at(date(2030, 4, 15), 0), ends_at=at(date(2030, 4, 20), 0), reason="Vacances"
    )
    series = services.series_create(
        actor=staff,
        module="inclusion",
        title="Lundi numérique",
        weekdays=[0],
        start_time=time(14),
        duration_minutes=120,
        first_date=date(2030, 4, 1),
        last_date=date(2030, 4, 30),
        capacity=8,
        resources=[room],
    )
    days = [
        s.starts_at.astimezone(at(TUESDAY, 0).tzinfo).date() for s in Session.objects.filter(series=series)
    ]
    assert days == [date(2030, 4, 1), date(2030, 4, 8), date(2030, 4, 29)]
    assert [d for d, _reason in series.skipped] == [date(2030, 4, 15), date(2030, 4, 22)]
    assert "Lundi de Pâques" in series.skipped[1][1]


def test_series_every_two_weeks(staff, frozen):
    series = services.series_create(
        actor=staff,
        module="inclusion",
        title="Club photo",
        weekdays=[1, 3],
        start_time=time(18),
        duration_minutes=60,
        first_date=date(2030, 3, 5),
        last_date=date(2030, 3, 31),
        capacity=6,
        interval_weeks=2,
    )
    days = [
        s.starts_at.astimezone(at(TUESDAY, 0).tzinfo).date() for s in Session.objects.filter(series=series)
    ]
    assert days == [date(2030, 3, 5), date(2030, 3, 7), date(2030, 3, 19), date(2030, 3, 21)]


def test_series_update_keeps_booked_sessions(staff, room, alice, frozen):
    series = services.series_create(
        actor=staff,
        module="inclusion",
        title="Mardi",
        weekdays=[1],
        start_time=time(14),
        duration_minutes=60,
        first_date=date(2030, 3, 5),
        last_date=date(2030, 3, 26),
        capacity=4,
        resources=[room],
    )
    sessions = list(Session.objects.filter(series=series))
    booked = services.session_book(actor=alice, session=sessions[1])
    services.series_update(actor=staff, series=series, start_time=time(10), title="Mardi matin")
    after = list(Session.objects.filter(series=series).order_by("starts_at"))
    times = [(s.starts_at.astimezone(at(TUESDAY, 0).tzinfo).strftime("%d %H:%M"), s.title) for s in after]
    assert times == [
        ("05 10:00", "Mardi matin"),
        ("12 14:00", "Mardi"),  # Alice's session is not touched
        ("19 10:00", "Mardi matin"),
        ("26 10:00", "Mardi matin"),
    ]
    booked.refresh_from_db()
    assert booked.session_id == sessions[1].pk and booked.status == Booking.Status.CONFIRMED


def test_series_refused_whole_when_room_taken_one_date(staff, room, frozen):
    make_session(staff, day_offset=8, resources=[room])  # Tuesday 12 March 14:00
    with pytest.raises(SlotTaken, match="12 mars"):
        services.series_create(
            actor=staff,
            module="inclusion",
            title="Mardi",
            weekdays=[1],
            start_time=time(14),
            duration_minutes=60,
            first_date=date(2030, 3, 5),
            last_date=date(2030, 3, 26),
            capacity=4,
            resources=[room],
        )
    assert Session.objects.count() == 1


def test_new_opening_hours_replace_the_old_ones_all_or_nothing(printer, staff, alice):
    services.opening_rules_replace(actor=staff, resource=printer, opening=[(1, time(13), time(15))])
    assert _starts(selectors.free_slots(printer, TUESDAY)) == ["13:00", "14:00"]
    with pytest.raises(InvalidRequest):  # one bad line: nothing changes
        services.opening_rules_replace(
            actor=staff, resource=printer, opening=[(1, time(8), time(10)), (1, time(12), time(11))]
        )
    assert _starts(selectors.free_slots(printer, TUESDAY)) == ["13:00", "14:00"]
    with pytest.raises(PermissionDenied):  # a resident cannot
        services.opening_rules_replace(actor=alice, resource=printer, opening=[])
