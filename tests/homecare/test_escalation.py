"""Escalation: contacts in order (availability hours), then the operators, then "call 15 / 112"; an
acknowledgement stops it; state lives in rows (a restart loses nothing); two workers never take the same step."""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection
from django_scopes import scope, scopes_disabled

from mairie.core.models import AuditEntry, Notification, Role
from mairie.homecare import escalation
from mairie.homecare.models import Alarm, AlarmEvent
from mairie.homecare.services.alarms import alarm_acknowledge, alarm_acknowledge_by_token
from mairie.homecare.tokens import ack_token
from tests.factories import make_user
from tests.homecare.homes_support import fixture, make_home

PARIS = ZoneInfo("Europe/Paris")
T = datetime(2026, 11, 26, 14, 0, tzinfo=PARIS)


def minutes(n: float) -> datetime:
    return T + timedelta(minutes=n)


@pytest.fixture
def world(commune):
    with time_machine.travel(T, tick=False):
        world = make_home(commune, now=T, contacts=2)
    world.operator = make_user(commune, Role.OPERATOR, first_name="Octave", phone="+33699000001")
    return world


def raise_sos(world, at=T) -> Alarm:
    with time_machine.travel(at, tick=False):
        outcome = world.send("sos", fixture("tuya_sos_TS0215A.json"), at)
    with scope(commune=world.commune):
        return Alarm.objects.get(pk=outcome.alarm_ids[0])


def tick(at: datetime) -> int:
    with time_machine.travel(at, tick=False):
        return escalation.escalation_tick(at)


def recipients(world, template="homecare/alarm", channel="sms") -> list:
    with scope(commune=world.commune):
        return list(
            Notification.objects.filter(template=template, channel=channel)
            .order_by("created_at", "pk")
            .values_list("recipient_id", flat=True)
        )


def timeline(alarm) -> list[str]:
    with scopes_disabled():
        return list(
            AlarmEvent.objects.filter(alarm=alarm).order_by("at", "pk").values_list("kind", flat=True)
        )


@pytest.mark.django_db
def test_contacts_in_order_then_operator_then_emergency_instruction(world):
    alarm = raise_sos(world)
    first, second = (c.user for c in world.contacts)
    assert recipients(world) == [first.pk]
    assert tick(minutes(4.99)) == 0
    assert tick(minutes(5)) == 1
    assert recipients(world) == [first.pk, second.pk]
    assert tick(minutes(10)) == 1
    assert recipients(world, "homecare/alarm_operator") == [world.operator.pk]
    assert tick(minutes(15)) == 1
    assert sorted(recipients(world, "homecare/alarm_emergency")) == sorted(
        [world.operator.pk, first.pk, second.pk]
    )
    with scopes_disabled():
        alarm.refresh_from_db()
        emergency_sms = Notification.objects.get(
            template="homecare/alarm_emergency", recipient=first, channel="sms"
        )
        steps = AuditEntry.objects.filter(action="homecare.alarm.escalated", object_id=str(alarm.pk)).count()
    assert "15 / 112" in emergency_sms.body
    assert (alarm.escalation_step, alarm.next_escalation_at, alarm.state) == (4, None, "notified")
    assert steps == 4  # one audit row per step
    assert timeline(alarm) == ["raised", "notified", "notified", "operator", "emergency"]
    assert tick(minutes(60)) == 0


@pytest.mark.django_db
def test_acknowledging_stops_the_chain(world):
    alarm = raise_sos(world)
    with scope(commune=world.commune), time_machine.travel(minutes(2), tick=False):
        _alarm, done = alarm_acknowledge_by_token(
            token=ack_token(alarm_id=alarm.pk, contact_id=world.contacts[0].pk)
        )
    assert done
    assert tick(minutes(30)) == 0
    assert recipients(world) == [world.contacts[0].user.pk]
    with scopes_disabled():
        alarm.refresh_from_db()
    assert (alarm.state, alarm.next_escalation_at, alarm.acknowledged_by_contact) == (
        "acknowledged",
        None,
        world.contacts[0],
    )
    assert alarm.acknowledged_at == minutes(2)


@pytest.mark.django_db
def test_the_others_already_told_learn_who_took_it(world):
    alarm = raise_sos(world)
    tick(minutes(5))
    with scope(commune=world.commune), time_machine.travel(minutes(6), tick=False):
        assert alarm_acknowledge(user=world.contacts[1].user, alarm=alarm)
        assert not alarm_acknowledge(user=world.operator, alarm=alarm)  # already taken: nothing more
    assert recipients(world, "homecare/alarm_acknowledged") == [world.contacts[0].user.pk]


@pytest.mark.django_db
def test_a_contact_outside_their_hours_is_skipped(commune):
    night = datetime(2026, 11, 26, 23, 0, tzinfo=PARIS)
    with time_machine.travel(night, tick=False):
        world = make_home(commune, now=night, contact_hours=[(time(8), time(20)), (None, None)])
    alarm = raise_sos(world, night)
    assert recipients(world) == [world.contacts[1].user.pk]
    assert timeline(alarm) == ["raised", "skipped", "notified"]
    with scopes_disabled():
        skipped = AlarmEvent.objects.get(alarm=alarm, kind="skipped")
    assert skipped.contact == world.contacts[0] and skipped.data == {"why": "unavailable"}


@pytest.mark.django_db
def test_a_home_without_contacts_goes_straight_to_the_operator(commune):
    with time_machine.travel(T, tick=False):
        world = make_home(commune, now=T, contacts=0)
    operator = make_user(commune, Role.OPERATOR, phone="+33699000002")
    raise_sos(world)
    assert recipients(world, "homecare/alarm_operator") == [operator.pk]


@pytest.mark.django_db
def test_without_an_operator_the_communes_administrators_are_told(commune):
    with time_machine.travel(T, tick=False):
        world = make_home(commune, now=T, contacts=0)
    admin = make_user(commune, Role.ADMIN, phone="+33699000003")
    alarm = raise_sos(world)
    assert recipients(world, "homecare/alarm_operator") == [admin.pk]
    alarm.refresh_from_db()
    assert alarm.state == Alarm.State.NOTIFIED


@pytest.mark.django_db
def test_an_alarm_that_reaches_nobody_stays_raised_and_says_so(commune):
    with time_machine.travel(T, tick=False):
        world = make_home(commune, now=T, contacts=0)  # no contact, no operator, no administrator
    alarm = raise_sos(world)
    with scopes_disabled():
        alarm.refresh_from_db()
        assert alarm.state == Alarm.State.RAISED  # red on the console, not "notified"
        assert Notification.objects.filter(template__startswith="homecare/alarm").count() == 0
        steps = AuditEntry.objects.filter(action="homecare.alarm.escalated", object_id=str(alarm.pk))
        assert [entry.data.get("nobody") for entry in steps] == [True]
    assert tick(minutes(30)) == 1  # the 15 / 112 step: still nobody
    with scopes_disabled():
        alarm.refresh_from_db()
        assert alarm.state == Alarm.State.RAISED


@pytest.mark.django_db
def test_restart_between_two_steps_loses_nothing(world, monkeypatch):
    alarm_id = raise_sos(world).pk
    # The worker dies in the middle of the second step: its transaction rolls back, the row is still due.
    real = escalation._notify_contact

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(escalation, "_notify_contact", crash)
    assert tick(minutes(5)) == 0
    monkeypatch.setattr(escalation, "_notify_contact", real)
    with scopes_disabled():
        row = Alarm.objects.get(pk=alarm_id)
    assert (row.escalation_step, row.next_escalation_at) == (1, minutes(5))
    # A new worker (fresh objects, nothing in memory) a minute later picks it up, exactly once.
    assert tick(minutes(6)) == 1
    assert tick(minutes(6)) == 0
    assert recipients(world) == [c.user.pk for c in world.contacts]
    with scopes_disabled():
        row = Alarm.objects.get(pk=alarm_id)
    assert (row.escalation_step, row.next_escalation_at) == (2, minutes(11))


@pytest.mark.django_db
def test_an_alarm_in_another_commune_escalates_in_its_own_scope(world, other_commune):
    with time_machine.travel(T, tick=False):
        other = make_home(other_commune, now=T, contacts=2)
    raise_sos(world)
    raise_sos(other)
    assert tick(minutes(5)) == 2
    with scopes_disabled():
        second_steps = Notification.objects.filter(template="homecare/alarm", channel="sms").values_list(
            "commune_id", "recipient_id"
        )
    assert (world.commune.pk, world.contacts[1].user.pk) in second_steps
    assert (other_commune.pk, other.contacts[1].user.pk) in second_steps
    assert (world.commune.pk, other.contacts[1].user.pk) not in second_steps


@pytest.mark.skipif(
    django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="SKIP LOCKED is PostgreSQL's; SQLite serialises the ticker's transactions instead",
)
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_never_notify_the_same_step_twice(commune):
    with time_machine.travel(T, tick=False):
        worlds = [make_home(commune, now=T, contacts=3) for _ in range(3)]
        alarm_ids = []
        for world in worlds:
            for device in ("sos", "fall"):
                payload = fixture("tuya_sos_TS0215A.json") if device == "sos" else b'{"fall": true}'
                alarm_ids += world.send(device, payload, T).alarm_ids
    assert len(alarm_ids) == 6
    workers = 4
    barrier = threading.Barrier(workers)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(escalation.escalation_tick(minutes(5)))
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sum(results) == 6  # each alarm advanced once, by one of the workers
    with scopes_disabled():
        assert set(Alarm.objects.filter(pk__in=alarm_ids).values_list("escalation_step", flat=True)) == {2}
        notified = list(
            AlarmEvent.objects.filter(alarm_id__in=alarm_ids, kind="notified").values_list(
                "alarm_id", "contact_id"
            )
        )
        sms = Notification.objects.filter(template="homecare/alarm", channel="sms").count()
    assert len(notified) == len(set(notified)) == 12  # contact 1 and contact 2 of each alarm, once each
    assert sms == 12
