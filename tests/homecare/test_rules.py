"""The rules, with time frozen: inactivity (threshold, active hours, morning rule, warning, pauses), daily
check-in, intrusion with exit and entry delays, doors at night, supervision of silent devices."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_scopes import scope

from mairie.core.acting import Actor
from mairie.core.models import AuditEntry
from mairie.homecare import rules
from mairie.homecare.models import Alarm, AlarmEvent, Home, StagedMessage
from mairie.homecare.services import ticks
from mairie.homecare.services.homes import home_arm, home_checkin, home_disarm, home_set_mode
from tests.homecare.homes_support import fixture, make_home

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=PARIS)


def as_resident(world, service, **kwargs):
    with scope(commune=world.commune):
        return service(actor=Actor.himself(world.resident, world.commune), home=world.home, **kwargs)


def alarms(world, kind=None):
    with scope(commune=world.commune):
        qs = Alarm.objects.filter(home=world.home)
        if kind:
            qs = qs.filter(kind=kind)
        return list(qs.order_by("raised_at", "pk"))


# Pure functions.


def test_silence_counts_only_during_active_hours():
    deadline = rules.silence_deadline(
        since=at(26, 21), threshold_minutes=120, active_from=time(7), active_until=time(22), tz=PARIS
    )
    # 21:00 → 22:00 counts one hour; the night does not count; 07:00 → 08:00 the second hour.
    assert deadline == at(27, 8)


def test_silence_starting_at_night_counts_from_the_morning():
    deadline = rules.silence_deadline(
        since=at(27, 3), threshold_minutes=60, active_from=time(7), active_until=time(22), tz=PARIS
    )
    assert deadline == at(27, 8)


def test_active_hours_may_wrap_midnight_or_last_all_day():
    wrapped = rules.silence_deadline(
        since=at(26, 23), threshold_minutes=120, active_from=time(10), active_until=time(1), tz=PARIS
    )
    assert wrapped == at(27, 1)  # 23:00 → 01:00 is active
    all_day = rules.silence_deadline(
        since=at(26, 23), threshold_minutes=120, active_from=time(0), active_until=time(0), tz=PARIS
    )
    assert all_day == at(27, 1)


def test_silence_across_the_daylight_saving_change_counts_real_minutes():
    # Night of 28-29 March 2026: clocks go from 02:00 to 03:00. All-day activity: 3 real hours from 00:30.
    since = datetime(2026, 3, 29, 0, 30, tzinfo=PARIS)
    deadline = rules.silence_deadline(
        since=since, threshold_minutes=180, active_from=time(0), active_until=time(0), tz=PARIS
    )
    assert deadline - since == timedelta(hours=3)


@pytest.mark.parametrize(
    ("start", "until", "now", "expected"),
    [
        (None, None, time(3), True),
        (time(8), time(20), time(8), True),
        (time(8), time(20), time(20), False),
        (time(8), time(20), time(7, 59), False),
        (time(20), time(8), time(23), True),
        (time(20), time(8), time(7), True),
        (time(20), time(8), time(12), False),
    ],
)
def test_contact_availability_hours(start, until, now, expected):
    assert rules.contact_available(start, until, now) is expected


# Inactivity through the ticker.


@pytest.fixture
def world(commune):
    start = at(26, 8)
    with time_machine.travel(start, tick=False):
        world = make_home(commune, now=start, inactivity_threshold_minutes=180, inactivity_warning_minutes=10)
        world.send("pir", fixture("aqara_motion_RTCGQ11LM.json"), start)
    return world.refresh()


def test_inactivity_deadline_follows_the_last_movement(world):
    assert world.home.last_activity_at == at(26, 8)
    assert world.home.inactivity_deadline == at(26, 11)


def test_one_second_before_the_threshold_nothing_happens(world):
    assert ticks.inactivity_tick(at(26, 10, 59, 59)) == {"warnings": 0, "alarms": 0}
    world.refresh()
    assert world.home.inactivity_state == "ok"


def test_threshold_exactly_reached_warns_the_tablet_then_alarms(world):
    assert ticks.inactivity_tick(at(26, 11)) == {"warnings": 1, "alarms": 0}
    world.refresh()
    assert world.home.inactivity_state == "warning"
    assert world.home.inactivity_deadline == at(26, 11, 10)
    with scope(commune=world.commune):
        assert AuditEntry.objects.filter(
            action="homecare.inactivity.warning", object_id=str(world.home.pk)
        ).exists()
    assert ticks.inactivity_tick(at(26, 11, 9, 59)) == {"warnings": 0, "alarms": 0}
    with time_machine.travel(at(26, 11, 10), tick=False):
        assert ticks.inactivity_tick(at(26, 11, 10)) == {"warnings": 0, "alarms": 1}
    [alarm] = alarms(world, "inactivity")
    assert (alarm.severity, alarm.state, alarm.data["reason"]) == ("high", "notified", "threshold")
    world.refresh()
    assert world.home.inactivity_state == "alarm" and world.home.inactivity_deadline is None
    # Running the ticker again (or on a second worker) raises nothing more.
    assert ticks.inactivity_tick(at(26, 11, 20)) == {"warnings": 0, "alarms": 0}
    assert len(alarms(world)) == 1


def test_inactivity_waits_for_a_movement_the_bridge_staged_and_has_not_applied_yet(world):
    """After a broker restart the bridge takes a backlog in before applying it: a movement may wait there. The
    resident is not warned, and no alarm raised, for a silence that is not certain; a deadline that passed before
    the oldest staged message was received did pass in silence."""
    moved = {"occupancy": True, "linkquality": 80}
    staged = StagedMessage.objects.create(
        bridge="b", topic=world.topic("pir"), payload=json.dumps(moved).encode(), received_at=at(26, 10, 58)
    )
    assert ticks.inactivity_tick(at(26, 11, 5)) == {"warnings": 0, "alarms": 0}  # deadline 11:00, after 10:58
    world.refresh()
    assert world.home.inactivity_state == "ok"
    with time_machine.travel(at(26, 11, 6), tick=False):  # the bridge applies it: the silence was not one
        world.send("pir", moved, at(26, 10, 58))
        staged.delete()
    world.refresh()
    assert world.home.inactivity_deadline == at(26, 13, 58)
    assert ticks.inactivity_tick(at(26, 11, 10)) == {"warnings": 0, "alarms": 0}
    assert alarms(world) == []
    # Another backlog whose oldest message came after the new deadline: that silence is certain.
    StagedMessage.objects.create(
        bridge="b", topic=world.topic("pir"), payload=json.dumps(moved).encode(), received_at=at(26, 14)
    )
    assert ticks.inactivity_tick(at(26, 14, 5)) == {"warnings": 1, "alarms": 0}


def test_staged_messages_that_are_never_applied_do_not_silence_the_ticker_for_ever(world):
    """No bridge applies them (stopped, or run without staging): after ten minutes the ticker stops waiting."""
    StagedMessage.objects.create(
        bridge="b", topic=world.topic("pir"), payload=b'{"occupancy": true}', received_at=at(26, 10, 58)
    )
    assert ticks.inactivity_tick(at(26, 11, 8)) == {"warnings": 0, "alarms": 0}  # waits: 10:58 < 11:00
    assert ticks.inactivity_tick(at(26, 11, 10, 1)) == {"warnings": 1, "alarms": 0}  # no longer


def test_movement_during_the_warning_cancels_it(world):
    ticks.inactivity_tick(at(26, 11))
    moved = at(26, 11, 5)
    with time_machine.travel(moved, tick=False):
        world.send("pir", {"occupancy": True, "linkquality": 90}, moved)
    world.refresh()
    assert world.home.inactivity_state == "ok"
    assert world.home.inactivity_deadline == at(26, 14, 5)
    assert ticks.inactivity_tick(at(26, 11, 10)) == {"warnings": 0, "alarms": 0}
    assert alarms(world) == []


def test_im_fine_on_the_tablet_cancels_the_warning(world):
    ticks.inactivity_tick(at(26, 11))
    with time_machine.travel(at(26, 11, 2), tick=False):
        as_resident(world, home_checkin)
    world.refresh()
    assert world.home.inactivity_state == "ok" and world.home.last_checkin_at == at(26, 11, 2)
    assert ticks.inactivity_tick(at(26, 11, 10)) == {"warnings": 0, "alarms": 0}


def test_movement_after_the_alarm_is_noted_on_its_timeline(world):
    ticks.inactivity_tick(at(26, 11))
    with time_machine.travel(at(26, 11, 10), tick=False):
        ticks.inactivity_tick(at(26, 11, 10))
    with time_machine.travel(at(26, 11, 30), tick=False):
        world.send("pir", {"occupancy": True, "linkquality": 91}, at(26, 11, 30))
    [alarm] = alarms(world, "inactivity")
    with scope(commune=world.commune):
        assert alarm.events.filter(kind="activity").exists()
        alarm.refresh_from_db()
    assert alarm.is_open  # a person closes it
    world.refresh()
    assert world.home.inactivity_state == "ok" and world.home.inactivity_deadline == at(26, 14, 30)


@pytest.mark.parametrize("mode", ["away", "hospital"])
def test_away_and_hospital_pause_inactivity(world, mode):
    with time_machine.travel(at(26, 9), tick=False):
        as_resident(world, home_set_mode, mode=mode)
    world.refresh()
    assert world.home.inactivity_deadline is None
    assert ticks.inactivity_tick(at(27, 20)) == {"warnings": 0, "alarms": 0}
    with time_machine.travel(at(28, 15), tick=False):
        as_resident(world, home_set_mode, mode="normal")
    world.refresh()
    # Back home: silence counts from the return, not from before leaving.
    assert world.home.inactivity_deadline == at(28, 18)
    assert alarms(world) == []


def test_warning_already_running_when_leaving_is_dropped(world):
    ticks.inactivity_tick(at(26, 11))
    with time_machine.travel(at(26, 11, 3), tick=False):
        as_resident(world, home_set_mode, mode="away")
    assert ticks.inactivity_tick(at(26, 11, 10)) == {"warnings": 0, "alarms": 0}
    assert alarms(world) == []


def test_the_evening_and_the_night_do_not_count(world):
    evening = at(26, 21)
    with time_machine.travel(evening, tick=False):
        world.send("pir", {"occupancy": True, "linkquality": 92}, evening)
    world.refresh()
    # One hour before 22:00, then two from 07:00.
    assert world.home.inactivity_deadline == at(27, 9)
    assert ticks.inactivity_tick(at(27, 6)) == {"warnings": 0, "alarms": 0}


def test_morning_rule_no_movement_in_the_living_room_by_ten(commune):
    start = at(26, 21)
    with time_machine.travel(start, tick=False):
        world = make_home(
            commune,
            now=start,
            inactivity_threshold_minutes=720,
            inactivity_warning_minutes=10,
            morning_check_time=time(10),
            morning_check_room="salon",
        )
        world.send(
            "door", fixture("aqara_contact_MCCGQ11LM_open.json"), start
        )  # activity, not the living room
    world.refresh()
    assert world.home.inactivity_deadline == at(27, 10)
    assert ticks.inactivity_tick(at(27, 10)) == {"warnings": 1, "alarms": 0}
    world.refresh()
    assert world.home.inactivity_reason == "morning"
    with time_machine.travel(at(27, 10, 10), tick=False):
        assert ticks.inactivity_tick(at(27, 10, 10))["alarms"] == 1
    [alarm] = alarms(world, "inactivity")
    assert alarm.data["reason"] == "morning"


def test_morning_rule_satisfied_by_movement_in_that_room(commune):
    start = at(27, 7, 30)
    with time_machine.travel(start, tick=False):
        world = make_home(
            commune,
            now=start,
            inactivity_threshold_minutes=720,
            morning_check_time=time(10),
            morning_check_room="Salon",
        )
        world.send("pir", fixture("aqara_motion_RTCGQ11LM.json"), start)  # the pir is in the "salon"
    world.refresh()
    # Satisfied for today: next check tomorrow 10:00, unless the 12 h threshold comes first (07:30 → 19:30).
    assert world.home.inactivity_deadline == at(27, 19, 30)
    assert ticks.inactivity_tick(at(27, 10, 0)) == {"warnings": 0, "alarms": 0}


def test_without_warning_minutes_the_alarm_is_immediate(commune):
    start = at(26, 8)
    with time_machine.travel(start, tick=False):
        world = make_home(commune, now=start, inactivity_threshold_minutes=60, inactivity_warning_minutes=0)
        world.send("pir", fixture("aqara_motion_RTCGQ11LM.json"), start)
    with time_machine.travel(at(26, 9), tick=False):
        assert ticks.inactivity_tick(at(26, 9)) == {"warnings": 0, "alarms": 1}


def test_the_inactivity_check_reads_only_due_homes(world, django_assert_max_num_queries):
    # Two indexed SELECTs (the oldest staged message, none; the due homes, none), inside a savepoint.
    with django_assert_max_num_queries(4):
        ticks.inactivity_tick(at(26, 10))


# Daily check-in.


def test_daily_checkin_missed_raises_an_alarm(commune):
    start = at(26, 8)
    with time_machine.travel(start, tick=False):
        world = make_home(commune, now=start, checkin_enabled=True, checkin_deadline=time(11))
    world.refresh()
    assert world.home.checkin_due_at == at(26, 11)
    assert ticks.checkin_tick(at(26, 10, 59)) == 0
    with time_machine.travel(at(26, 11), tick=False):
        assert ticks.checkin_tick(at(26, 11)) == 1
        assert ticks.checkin_tick(at(26, 11)) == 0
    [alarm] = alarms(world, "checkin_missed")
    assert alarm.severity == "high"
    world.refresh()
    assert world.home.checkin_due_at == at(27, 11)


def test_daily_checkin_done_in_time_moves_to_tomorrow(commune):
    start = at(26, 8)
    with time_machine.travel(start, tick=False):
        world = make_home(commune, now=start, checkin_enabled=True, checkin_deadline=time(11))
    with time_machine.travel(at(26, 9, 30), tick=False):
        as_resident(world, home_checkin)
    world.refresh()
    assert world.home.checkin_due_at == at(27, 11)
    assert ticks.checkin_tick(at(26, 11)) == 0
    assert alarms(world) == []


# Intrusion (Alarmo-style delays).


@pytest.fixture
def armed(world):
    with time_machine.travel(at(26, 9), tick=False):
        as_resident(world, home_arm, mode="armed_away")
    return world.refresh()


def test_exit_delay_lets_the_resident_leave(armed):
    leaving = at(26, 9, 0, 59)  # exit delay: 60 s
    with time_machine.travel(leaving, tick=False):
        outcome = armed.send("door", fixture("aqara_contact_MCCGQ11LM_open.json"), leaving)
    assert outcome.alarm_ids == []
    armed.refresh()
    assert armed.home.intrusion_deadline is None


def test_door_opening_while_armed_waits_the_entry_delay_then_alarms(armed):
    opened = at(26, 14)
    with time_machine.travel(opened, tick=False):
        outcome = armed.send("door", fixture("aqara_contact_MCCGQ11LM_open.json"), opened)
    assert outcome.alarm_ids == []
    armed.refresh()
    assert armed.home.intrusion_deadline == opened + timedelta(seconds=30)
    assert ticks.intrusion_tick(opened + timedelta(seconds=29)) == 0
    with time_machine.travel(opened + timedelta(seconds=30), tick=False):
        assert ticks.intrusion_tick(opened + timedelta(seconds=30)) == 1
    [alarm] = alarms(armed, "intrusion")
    assert alarm.device == armed.devices["door"] and alarm.severity == "high"


def test_entry_delay_cancelled_by_disarm(armed):
    opened = at(26, 14)
    with time_machine.travel(opened, tick=False):
        armed.send("door", fixture("aqara_contact_MCCGQ11LM_open.json"), opened)
    with time_machine.travel(opened + timedelta(seconds=20), tick=False):
        as_resident(armed, home_disarm)
    assert ticks.intrusion_tick(opened + timedelta(minutes=5)) == 0
    assert alarms(armed, "intrusion") == []


def test_motion_while_armed_away_without_entry_delay_alarms_at_once(armed):
    with scope(commune=armed.commune):
        armed.devices["pir"].use_entry_delay = False
        armed.devices["pir"].save(update_fields=["use_entry_delay"])
    moved = at(26, 15)
    with time_machine.travel(moved, tick=False):
        outcome = armed.send("pir", fixture("aqara_motion_RTCGQ11LM.json"), moved)
    assert len(outcome.alarm_ids) == 1
    assert alarms(armed, "intrusion")[0].data["mode"] == "armed_away"


def test_motion_while_armed_home_is_ignored(world):
    with time_machine.travel(at(26, 9), tick=False):
        as_resident(world, home_arm, mode="armed_home")
    moved = at(26, 15)
    with time_machine.travel(moved, tick=False):
        world.send("pir", fixture("aqara_motion_RTCGQ11LM.json"), moved)
    world.refresh()
    assert world.home.intrusion_deadline is None
    assert alarms(world, "intrusion") == []


# Doors at night.


def test_door_left_open_at_night(world):
    opened = at(26, 23)
    with time_machine.travel(opened, tick=False):
        world.send("door", fixture("aqara_contact_MCCGQ11LM_open.json"), opened)
    world.refresh()
    assert world.devices["door"].open_deadline == at(26, 23, 15)
    assert ticks.door_tick(at(26, 23, 14)) == 0
    with time_machine.travel(at(26, 23, 15), tick=False):
        assert ticks.door_tick(at(26, 23, 15)) == 1
    [alarm] = alarms(world, "door_open_night")
    assert alarm.severity == "medium"


def test_a_door_closed_in_time_but_not_applied_yet_is_not_an_alarm(world):
    """The report of the door closing at 23:10 waits in a backlog the bridge took in (after a broker restart)."""
    with time_machine.travel(at(26, 23), tick=False):
        world.send("door", fixture("aqara_contact_MCCGQ11LM_open.json"), at(26, 23))
    StagedMessage.objects.create(
        bridge="b",
        topic=world.topic("door"),
        payload=fixture("aqara_contact_MCCGQ11LM_closed.json"),
        received_at=at(26, 23, 10),
    )
    with time_machine.travel(at(26, 23, 20), tick=False):
        assert ticks.door_tick(at(26, 23, 20)) == 0  # deadline 23:15, after the staged report of 23:10
    assert alarms(world, "door_open_night") == []


def test_door_opened_in_the_day_and_closed_before_night_is_nothing(world):
    with time_machine.travel(at(26, 15), tick=False):
        world.send("door", fixture("aqara_contact_MCCGQ11LM_open.json"), at(26, 15))
    world.refresh()
    assert world.devices["door"].open_deadline == at(26, 22, 15)  # still open at 22:15 would be an alarm
    with time_machine.travel(at(26, 15, 1), tick=False):
        world.send("door", fixture("aqara_contact_MCCGQ11LM_closed.json"), at(26, 15, 1))
    world.refresh()
    assert world.devices["door"].open_deadline is None
    assert ticks.door_tick(at(27, 1)) == 0


# Supervision.


def test_sos_pendant_silent_past_its_period_is_an_alarm(world):
    sos = world.devices["sos"]
    assert sos.supervision_minutes == 60
    assert sos.supervision_deadline == at(26, 9)  # registered at 08:00
    assert ticks.supervision_tick(at(26, 8, 59)) == 0
    with time_machine.travel(at(26, 9), tick=False):
        assert ticks.supervision_tick(at(26, 9)) == 2  # the pendant and the meter: 60 min
        assert ticks.supervision_tick(at(26, 9, 1)) == 0
    [alarm] = [a for a in alarms(world, "device_offline") if a.device == sos]
    assert alarm.severity == "high"
    world.refresh()
    assert world.devices["sos"].online is False


def test_supervision_waits_for_what_the_bridge_staged_and_has_not_applied_yet(world):
    """A device's report may be among the messages the bridge took in and has not applied: a deadline that
    passed after the oldest of them was received waits for them; one that passed before it did not wait."""
    staged = StagedMessage.objects.create(
        bridge="b", topic=world.topic("sos"), payload=b'{"battery": 90}', received_at=at(26, 8, 58)
    )
    assert ticks.supervision_tick(at(26, 9, 5)) == 0  # deadlines 09:00, after the staged message of 08:58
    assert not alarms(world, "device_offline")
    staged.received_at = at(
        26, 9, 1
    )  # the oldest staged message came after the deadlines: they passed in silence
    staged.save()
    with time_machine.travel(at(26, 9, 5), tick=False):
        assert ticks.supervision_tick(at(26, 9, 5)) == 2


def test_a_silent_comfort_device_goes_to_the_console_only(world):
    with time_machine.travel(at(26, 9), tick=False):
        ticks.supervision_tick(at(26, 9))
    [alarm] = [a for a in alarms(world, "device_offline") if a.device == world.devices["meter"]]
    assert alarm.severity == "low"  # the meter: nobody is texted for it
    assert world.contacts  # the home has relatives to call, and none is called for the meter
    with scope(commune=world.commune):
        assert not AlarmEvent.objects.filter(alarm=alarm, kind=AlarmEvent.Kind.NOTIFIED).exists()
        assert AlarmEvent.objects.filter(alarm=alarm, kind=AlarmEvent.Kind.OPERATOR).exists()


def test_device_offline_then_back_closes_the_supervision_alarm(world):
    with time_machine.travel(at(26, 9), tick=False):
        ticks.supervision_tick(at(26, 9))
    back = at(26, 9, 30)
    with time_machine.travel(back, tick=False):
        world.send("sos", {"battery": 100, "linkquality": 77}, back)
    [alarm] = [a for a in alarms(world, "device_offline") if a.device == world.devices["sos"]]
    assert alarm.state == "resolved" and alarm.next_escalation_at is None
    world.refresh()
    assert world.devices["sos"].online and world.devices["sos"].supervision_deadline == at(26, 10, 30)
    # Silent again: a new alarm.
    with time_machine.travel(at(26, 10, 30), tick=False):
        assert ticks.supervision_tick(at(26, 10, 30)) == 1
    assert len([a for a in alarms(world, "device_offline") if a.device == world.devices["sos"]]) == 2


def test_a_device_heard_from_in_time_stays_supervised(world):
    with time_machine.travel(at(26, 8, 50), tick=False):
        world.send("sos", {"battery": 99, "linkquality": 81}, at(26, 8, 50))
    with time_machine.travel(at(26, 9, 30), tick=False):
        ticks.supervision_tick(at(26, 9, 30))  # the meter said nothing: its alarm
    assert world.devices["sos"] not in [a.device for a in alarms(world, "device_offline")]
    world.refresh()
    assert world.devices["sos"].supervision_deadline == at(26, 9, 50)


def test_mode_values_are_checked(world):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        as_resident(world, home_set_mode, mode="holidays")
    with scope(commune=world.commune):
        assert Home.objects.get(pk=world.home.pk).mode == "normal"
