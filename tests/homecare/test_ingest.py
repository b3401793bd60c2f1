"""ingest_message: real Zigbee2MQTT payloads in, rows and alarms out; bad input dropped with a reason."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_scopes import scope, scopes_disabled

from mairie.core.models import AuditEntry, Notification
from mairie.homecare.models import Alarm, AlarmEvent, Device, DeviceEvent, EnergyReading, Gateway
from mairie.homecare.services.ingest import ingest_message
from tests.homecare.homes_support import fixture, make_home

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=PARIS)


@pytest.fixture
def world(commune):
    with time_machine.travel(NOON, tick=False):
        return make_home(commune, now=NOON)


def counts(world):
    with scope(commune=world.commune):
        return DeviceEvent.objects.count(), Alarm.objects.count()


def test_sos_button_raises_a_critical_alarm_and_tells_the_first_contact(world):
    with time_machine.travel(NOON, tick=False):
        outcome = world.send("sos", fixture("tuya_sos_TS0215A.json"), NOON)
    assert outcome.accepted and outcome.reason == "ok"
    assert len(outcome.alarm_ids) == 1
    with scope(commune=world.commune):
        alarm = Alarm.objects.get(pk=outcome.alarm_ids[0])
        assert (alarm.kind, alarm.severity, alarm.state) == ("sos", "critical", "notified")
        assert alarm.device == world.devices["sos"]
        assert alarm.next_escalation_at == NOON + timedelta(minutes=5)
        first = world.contacts[0].user
        sms = Notification.objects.get(recipient=first, channel="sms")
        assert sms.urgent
        assert "/teleassistance/acquitter/" in sms.body
        assert not Notification.objects.filter(recipient=world.contacts[1].user).exists()
        kinds = list(AlarmEvent.objects.filter(alarm=alarm).values_list("kind", flat=True))
        assert kinds == ["raised", "notified"]
        assert AuditEntry.objects.filter(action="homecare.alarm.raised", object_id=str(alarm.pk)).exists()
        assert AuditEntry.objects.filter(action="homecare.alarm.escalated", object_id=str(alarm.pk)).exists()


def test_the_same_message_delivered_twice_raises_one_alarm(world):
    payload = fixture("tuya_sos_TS0215A.json")
    with time_machine.travel(NOON, tick=False):
        first = world.send("sos", payload, NOON)
        second = world.send("sos", payload, NOON + timedelta(seconds=40))
    assert first.accepted and len(first.alarm_ids) == 1
    assert not second.accepted and second.reason == "duplicate" and second.alarm_ids == []
    assert counts(world) == (1, 1)


def test_a_redelivery_across_the_minute_boundary_is_still_a_duplicate(world):
    payload = fixture("tuya_sos_TS0215A.json")
    at = NOON + timedelta(seconds=59)
    with time_machine.travel(at, tick=False):
        world.send("sos", payload, at)
        again = world.send("sos", payload, at + timedelta(seconds=2))
    assert again.reason == "duplicate"
    assert counts(world) == (1, 1)


def test_with_last_seen_the_payload_stamp_is_the_key(world):
    payload = fixture("tuya_sos_TS0215A_last_seen.json")
    later = NOON + timedelta(hours=3)  # a redelivery long after (the bridge was down): still the same message
    with time_machine.travel(later, tick=False):
        world.send("sos", payload, NOON)
        again = world.send("sos", payload, later)
        other = dict(json.loads(payload), last_seen="2026-11-26T15:00:00+01:00")
        third = world.send("sos", other, later)
    assert again.reason == "duplicate"
    assert third.accepted and len(third.alarm_ids) == 1
    assert counts(world) == (2, 2)


def test_two_presses_minutes_apart_are_two_alarms(world):
    payload = fixture("tuya_sos_TS0215A.json")
    with time_machine.travel(NOON + timedelta(minutes=5), tick=False):
        world.send("sos", payload, NOON)
        second = world.send("sos", payload, NOON + timedelta(minutes=5))
    assert second.accepted and len(second.alarm_ids) == 1
    assert counts(world) == (2, 2)


def test_motion_updates_activity_device_state_and_supervision(world):
    at = NOON + timedelta(minutes=3)
    with time_machine.travel(at, tick=False):
        outcome = world.send("pir", fixture("aqara_motion_RTCGQ11LM.json"), at)
    assert outcome.accepted and outcome.alarm_ids == []
    world.refresh()
    pir = world.devices["pir"]
    assert world.home.last_activity_at == at
    assert pir.last_seen_at == at and pir.battery == 91 and pir.linkquality == 120
    assert pir.state["occupancy"] is True and pir.state["power_outage_count"] == 3  # unknown fields kept
    assert pir.supervision_deadline == at + timedelta(minutes=pir.supervision_minutes)
    assert world.home.inactivity_deadline is not None and world.home.inactivity_deadline > at


def test_smoke_and_water_are_one_alarm_per_device_while_open(world):
    with time_machine.travel(NOON, tick=False):
        smoke = world.send("smoke", fixture("aqara_smoke_JTYJ-GD-01LM.json"), NOON)
        again = world.send(
            "smoke", {"smoke": True, "battery": 100, "linkquality": 70}, NOON + timedelta(seconds=30)
        )
        water = world.send("water", fixture("aqara_water_leak_SJCGQ11LM.json"), NOON)
        clear = world.send("smoke", fixture("aqara_smoke_clear.json"), NOON + timedelta(minutes=2))
    assert len(smoke.alarm_ids) == 1 and again.accepted and again.alarm_ids == []
    assert len(water.alarm_ids) == 1 and clear.alarm_ids == []
    with scope(commune=world.commune):
        alarm = Alarm.objects.get(pk=smoke.alarm_ids[0])
        assert (alarm.kind, alarm.severity) == ("smoke", "critical")
        assert Alarm.objects.get(pk=water.alarm_ids[0]).kind == "water_leak"
        assert alarm.events.filter(kind="cleared").exists()
        assert alarm.state == "notified"  # a person still closes it, with an outcome


def test_smoke_alarms_even_when_away_and_disarmed(world):
    world.home.mode = "away"
    with scope(commune=world.commune):
        world.home.save(update_fields=["mode"])
    with time_machine.travel(NOON, tick=False):
        outcome = world.send("smoke", fixture("aqara_smoke_JTYJ-GD-01LM.json"), NOON)
    assert len(outcome.alarm_ids) == 1


def test_battery_low_goes_to_the_console_only(world, django_user_model):
    with time_machine.travel(NOON, tick=False):
        outcome = world.send("pir", fixture("aqara_battery_low.json"), NOON)
    with scope(commune=world.commune):
        alarm = Alarm.objects.get(pk=outcome.alarm_ids[0])
        assert (alarm.kind, alarm.severity) == ("battery_low", "low")
        assert not Notification.objects.filter(recipient__in=[c.user for c in world.contacts]).exists()
        assert alarm.events.filter(kind="operator").exists()
        assert alarm.next_escalation_at is None


@pytest.mark.parametrize("form", ["availability_offline.txt", "availability_offline.json"])
def test_availability_offline_then_back_online(world, form):
    with time_machine.travel(NOON, tick=False):
        off = world.send("sos", fixture(form), NOON, suffix="/availability")
    assert off.accepted and len(off.alarm_ids) == 1
    world.refresh()
    assert world.devices["sos"].online is False
    back_form = form.replace("offline", "online")
    later = NOON + timedelta(minutes=10)
    with time_machine.travel(later, tick=False):
        back = world.send("sos", fixture(back_form), later, suffix="/availability")
    assert back.accepted
    world.refresh()
    assert world.devices["sos"].online is True
    with scope(commune=world.commune):
        alarm = Alarm.objects.get(pk=off.alarm_ids[0])
        assert (alarm.kind, alarm.severity, alarm.state) == ("device_offline", "high", "resolved")
        assert alarm.outcome and alarm.next_escalation_at is None
        assert alarm.events.filter(kind="device_back").exists()


def test_bridge_state_offline_is_an_alarm_for_the_whole_home(world):
    topic = f"{world.base}/bridge/state"
    with time_machine.travel(NOON, tick=False):
        online = ingest_message(topic=topic, payload=fixture("bridge_state_online.json"), received_at=NOON)
        offline = ingest_message(topic=topic, payload=fixture("bridge_state_offline.txt"), received_at=NOON)
    assert online.accepted and offline.accepted and len(offline.alarm_ids) == 1
    with scopes_disabled():
        assert Gateway.objects.get(pk=world.gateway.pk).online is False
        alarm = Alarm.objects.get(pk=offline.alarm_ids[0])
    assert alarm.device is None and alarm.kind == "device_offline"
    later = NOON + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        ingest_message(topic=topic, payload=b"online", received_at=later)
    with scopes_disabled():
        alarm.refresh_from_db()
    assert alarm.state == "resolved"


def test_an_older_online_applied_after_a_newer_offline_leaves_the_device_offline(world):
    """Applied late (the bridge staged it, or another bridge applied it after): it says nothing of the device
    since the offline message, so the offline alarm stays open."""
    with time_machine.travel(NOON + timedelta(minutes=2), tick=False):
        off = world.send(
            "sos", fixture("availability_offline.txt"), NOON + timedelta(minutes=1), suffix="/availability"
        )
        world.send("sos", fixture("availability_online.txt"), NOON, suffix="/availability")
        world.send(
            "sos", {"battery": 90}, NOON + timedelta(seconds=30)
        )  # a report from before it went offline
    world.refresh()
    assert world.devices["sos"].online is False
    with scope(commune=world.commune):
        assert Alarm.objects.get(pk=off.alarm_ids[0]).state in Alarm.OPEN_STATES


def test_an_older_gateway_state_applied_late_changes_nothing(world):
    topic = f"{world.base}/bridge/state"
    with time_machine.travel(NOON + timedelta(minutes=2), tick=False):
        ingest_message(topic=topic, payload=b"online", received_at=NOON - timedelta(minutes=1))
        offline = ingest_message(topic=topic, payload=b"offline", received_at=NOON + timedelta(minutes=1))
        late = ingest_message(topic=topic, payload=b'{"state": "online"}', received_at=NOON)
    assert late.accepted and not late.alarm_ids
    with scopes_disabled():
        assert Gateway.objects.get(pk=world.gateway.pk).online is False
        assert Alarm.objects.get(pk=offline.alarm_ids[0]).state in Alarm.OPEN_STATES


def test_bridge_devices_fills_ieee_addresses_and_models(world):
    topic = f"{world.base}/bridge/devices"
    with time_machine.travel(NOON, tick=False):
        outcome = ingest_message(topic=topic, payload=fixture("bridge_devices.json"), received_at=NOON)
    assert outcome.accepted
    world.refresh()
    assert world.devices["pir"].ieee_address == "0x00158d0004a1b2c3"
    assert world.devices["pir"].model == "Aqara RTCGQ11LM"
    assert world.devices["sos"].model == "TuYa TS0215A_sos"


def test_device_leave_is_an_offline_alarm(world):
    topic = f"{world.base}/bridge/event"
    with time_machine.travel(NOON, tick=False):
        outcome = ingest_message(
            topic=topic, payload=fixture("bridge_event_device_leave.json"), received_at=NOON
        )
    assert len(outcome.alarm_ids) == 1
    world.refresh()
    assert world.devices["pir"].online is False


@pytest.mark.parametrize(
    ("name", "index", "power"),
    [
        ("teleinfo_linky_historique.json", 12345678 + 23456789, 880),
        ("teleinfo_linky_standard.json", 4567890, 1234),
    ],
)
def test_linky_teleinfo_is_sampled_once_a_minute(world, name, index, power):
    topic = f"{world.gateway.teleinfo_topic}/021728123456"
    with time_machine.travel(NOON, tick=False):
        first = ingest_message(topic=topic, payload=fixture(name), received_at=NOON)
        soon = ingest_message(topic=topic, payload=fixture(name), received_at=NOON + timedelta(seconds=2))
        later = ingest_message(topic=topic, payload=fixture(name), received_at=NOON + timedelta(seconds=61))
    assert (first.reason, soon.reason, later.reason) == ("ok", "sampled", "ok")
    with scope(commune=world.commune):
        readings = list(EnergyReading.objects.order_by("at").values_list("index_wh", "power_va"))
    assert readings == [(index, power), (index, power)]


def test_commands_and_bridge_logs_are_ignored(world):
    with time_machine.travel(NOON, tick=False):
        command = ingest_message(
            topic=f"{world.topic('pir')}/set", payload=b'{"state":"ON"}', received_at=NOON
        )
        log = ingest_message(
            topic=f"{world.base}/bridge/logging", payload=b'{"level":"info"}', received_at=NOON
        )
    assert command.accepted and command.reason == "ignored"
    assert log.accepted and log.reason == "ignored"
    assert counts(world) == (0, 0)


@pytest.mark.parametrize(
    ("topic_suffix", "payload", "reason"),
    [
        ("/salon/pir", b"{not json", "malformed"),
        ("/salon/pir", b'{"occupancy": "yes"}', "malformed"),
        ("/salon/pir", b'{"battery": 900}', "malformed"),
        ("/salon/pir", b'{"battery": NaN}', "malformed"),
        ("/salon/pir", b"[1, 2, 3]", "malformed"),
        ("/salon/pir", b"\xff\xfe", "malformed"),
        ("/salon/pir", b"[" * 100000, "too_large"),
        ("/salon/pir", b'{"occupancy": true, "pad": "' + b"x" * 70000 + b'"}', "too_large"),
        ("/salon/pir/availability", b"maybe", "malformed"),
        ("/garage/inconnu", b'{"occupancy": true}', "unknown_device"),
        ("/salon/+", b'{"occupancy": true}', "malformed"),
        ("/bridge/devices", b'{"not": "a list"}', "malformed"),
    ],
)
def test_bad_messages_are_dropped_with_a_reason_and_write_nothing(world, topic_suffix, payload, reason):
    with time_machine.travel(NOON, tick=False):
        outcome = ingest_message(topic=world.base + topic_suffix, payload=payload, received_at=NOON)
    assert not outcome.accepted and outcome.reason == reason
    assert counts(world) == (0, 0)
    world.refresh()
    assert world.devices["pir"].last_seen_at is None


def test_topics_of_no_gateway_or_another_namespace_are_dropped(world, other_commune):
    with time_machine.travel(NOON, tick=False):
        unknown = ingest_message(
            topic="zigbee2mqtt/mont-clair/999/salon/pir", payload=b"{}", received_at=NOON
        )
        foreign = ingest_message(
            topic="homeassistant/binary_sensor/x/config", payload=b"{}", received_at=NOON
        )
        short = ingest_message(topic="zigbee2mqtt", payload=b"{}", received_at=NOON)
    assert unknown.reason == "unknown_gateway"
    assert foreign.reason == "foreign_topic"
    assert short.reason == "unknown_gateway"
    assert counts(world) == (0, 0)


def test_a_gateway_namespace_naming_another_commune_is_foreign(world, other_commune):
    # A gateway registered (by mistake, or forged) under another commune's slug gets nothing in.
    with scope(commune=world.commune):
        Gateway.objects.filter(pk=world.gateway.pk).update(
            base_topic=f"zigbee2mqtt/{other_commune.slug}/{world.home.pk}"
        )
    topic = f"zigbee2mqtt/{other_commune.slug}/{world.home.pk}/salon/pir"
    with time_machine.travel(NOON, tick=False):
        outcome = ingest_message(
            topic=topic, payload=fixture("aqara_motion_RTCGQ11LM.json"), received_at=NOON
        )
    assert not outcome.accepted and outcome.reason == "foreign_topic"
    assert counts(world) == (0, 0)


def test_each_home_gets_only_its_own_messages(world, other_commune):
    with time_machine.travel(NOON, tick=False):
        other = make_home(other_commune, now=NOON)
        outcome = other.send("sos", fixture("tuya_sos_TS0215A.json"), NOON)
    assert outcome.home_id == other.home.pk
    assert counts(world) == (0, 0)
    with scope(commune=other_commune):
        assert Alarm.objects.get().home == other.home


def test_a_device_name_with_slashes_and_a_longer_base_resolve_to_the_right_gateway(world):
    with scope(commune=world.commune):
        Device.objects.filter(pk=world.devices["pir"].pk).update(friendly_name="rdc/salon/pir")
    with time_machine.travel(NOON, tick=False):
        outcome = ingest_message(
            topic=f"{world.base}/rdc/salon/pir",
            payload=fixture("aqara_motion_RTCGQ11LM.json"),
            received_at=NOON,
        )
    assert outcome.accepted and outcome.home_id == world.home.pk
