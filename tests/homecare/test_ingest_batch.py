"""ingest_batch: a batch costs a fixed number of queries, and means exactly what its messages mean one by one."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_scopes import scope, scopes_disabled

from mairie.core.acting import Actor
from mairie.homecare.models import Alarm, AlarmEvent, DeviceEvent, EnergyReading
from mairie.homecare.services import ticks
from mairie.homecare.services.homes import device_register
from mairie.homecare.services.ingest import IncomingMessage, ingest_batch, ingest_message
from tests.homecare.homes_support import HomeWorld, fixture, make_home

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=PARIS)


@pytest.fixture
def worlds(commune, other_commune):
    with time_machine.travel(NOON, tick=False):
        return make_home(commune, now=NOON), make_home(other_commune, now=NOON)


def telemetry(worlds: tuple[HomeWorld, ...], count: int, start: datetime) -> list[IncomingMessage]:
    """Ordinary traffic (no alarm): motion, doors closing, dry detectors, batteries fine, meters."""
    messages = []
    for n in range(count):
        world = worlds[n % len(worlds)]
        at = start + timedelta(milliseconds=n)
        stamp = {"last_seen": at.isoformat(), "linkquality": 40 + n % 100}
        device, payload = [
            ("pir", {"occupancy": n % 2 == 0, "battery": 90, **stamp}),
            ("door", {"contact": True, "battery": 80, **stamp}),
            ("smoke", {"smoke": False, "battery": 70, **stamp}),
            ("water", {"water_leak": False, "battery": 60, **stamp}),
            ("fall", {"presence": True, **stamp}),
        ][n % 5]
        messages.append(IncomingMessage(world.topic(device), json.dumps(payload).encode(), at))
    return messages


def queries_for(messages: list[IncomingMessage]) -> int:
    with CaptureQueriesContext(connection) as captured:
        outcomes = ingest_batch(messages)
    assert [outcome.reason for outcome in outcomes] == ["ok"] * len(messages)
    return len(captured.captured_queries)


def test_the_queries_of_a_batch_do_not_grow_with_its_size(worlds):
    with time_machine.travel(NOON, tick=False):
        small = queries_for(telemetry(worlds, 10, NOON))
        # The bridge's batch size (SQLite would split a much larger insert: 999 parameters a statement).
        large = queries_for(telemetry(worlds, 100, NOON + timedelta(minutes=5)))
        with_meter = telemetry(worlds, 100, NOON + timedelta(minutes=10))
        for world in worlds:
            with_meter.append(
                IncomingMessage(
                    world.topic("meter").replace("zigbee2mqtt/", "teleinfo/", 1),
                    fixture("teleinfo_linky_standard.json"),
                    NOON + timedelta(minutes=10),
                )
            )
        metered = queries_for(with_meter)
    assert large == small
    # Gateways, homes locked, devices, dedup keys, open detector alarms, the events' insert, the devices' and the
    # homes' updates (a few sets of changed fields each), and the savepoint around them.
    assert small <= 16
    assert metered <= small + 3  # the meters' last readings, their insert, the meters' update
    with scopes_disabled():
        assert DeviceEvent.objects.count() == 210
        assert EnergyReading.objects.count() == 2


def test_hostile_traffic_costs_one_query_a_batch_and_writes_nothing(worlds):
    world = worlds[0]
    messages = [IncomingMessage(f"zigbee2mqtt/nowhere/{n}/pir", b"{}", NOON) for n in range(50)] + [
        IncomingMessage(world.topic("pir").replace("pir", f"ghost-{n}"), b"{}", NOON) for n in range(50)
    ]
    messages += [IncomingMessage("elsewhere/x", b"{}", NOON), IncomingMessage(world.topic("pir"), b"[", NOON)]
    with time_machine.travel(NOON, tick=False), CaptureQueriesContext(connection) as captured:
        outcomes = ingest_batch(messages)
    reasons = [outcome.reason for outcome in outcomes]
    assert reasons == ["unknown_gateway"] * 50 + ["unknown_device"] * 50 + ["foreign_topic", "malformed"]
    assert len(captured.captured_queries) <= 6
    with scope(commune=world.commune):
        assert DeviceEvent.objects.count() == 0


def test_a_repeated_message_inside_one_batch_is_one_event_and_one_alarm(worlds):
    world = worlds[0]
    sos = fixture("tuya_sos_TS0215A.json")
    messages = [
        IncomingMessage(world.topic("sos"), sos, NOON),
        IncomingMessage(world.topic("sos"), sos, NOON + timedelta(seconds=70)),  # the previous minute's key
    ]
    with time_machine.travel(NOON, tick=False):
        outcomes = ingest_batch(messages)
    assert [o.reason for o in outcomes] == ["ok", "duplicate"]
    assert len(outcomes[0].alarm_ids) == 1 and outcomes[1].alarm_ids == []
    with scope(commune=world.commune):
        assert (DeviceEvent.objects.count(), Alarm.objects.count()) == (1, 1)


def test_a_batch_can_stop_right_after_an_alarm(worlds):
    world = worlds[0]
    messages = telemetry((world,), 3, NOON)
    messages.insert(1, IncomingMessage(world.topic("sos"), fixture("tuya_sos_TS0215A.json"), NOON))
    with time_machine.travel(NOON, tick=False):
        first = ingest_batch(messages, stop_after_alarm=True)
        rest = ingest_batch(messages[len(first) :], stop_after_alarm=True)
    assert [o.reason for o in first] == ["ok", "ok"] and first[1].alarm_ids
    assert [o.reason for o in rest] == ["ok", "ok"]
    with scope(commune=world.commune):
        assert DeviceEvent.objects.count() == 4


def test_a_device_registered_between_two_batches_is_found_at_once(worlds):
    world = worlds[0]
    topic = f"{world.base}/cuisine/nouveau"
    payload = json.dumps({"occupancy": True, "last_seen": "2026-11-26T12:00:00+01:00"}).encode()
    with time_machine.travel(NOON, tick=False):
        assert ingest_message(topic=topic, payload=payload, received_at=NOON).reason == "unknown_device"
        with scope(commune=world.commune):
            device_register(
                actor=Actor.himself(world.agent, world.commune),
                gateway=world.gateway,
                friendly_name="cuisine/nouveau",
                kind="motion",
                now=NOON,
            )
        assert ingest_message(topic=topic, payload=payload, received_at=NOON).reason == "ok"


def scenario(world: HomeWorld) -> list[IncomingMessage]:
    """A stretch of life in one home, alarms included, with every kind of message."""
    steps: list[tuple[str, str, Any, int]] = [
        ("pir", "", fixture("aqara_motion_RTCGQ11LM.json"), 0),
        ("door", "", fixture("aqara_contact_MCCGQ11LM_open.json"), 5),
        ("pir", "", fixture("aqara_motion_no_occupancy.json"), 10),
        ("smoke", "", fixture("aqara_smoke_JTYJ-GD-01LM.json"), 20),
        ("smoke", "", fixture("aqara_smoke_JTYJ-GD-01LM.json"), 25),  # the same, 5 s later: a duplicate
        ("smoke", "", fixture("aqara_smoke_clear.json"), 90),
        ("pir", "", fixture("aqara_battery_low.json"), 100),
        (
            "pir",
            "",
            {"battery": 8, "battery_low": True, "occupancy": True},
            130,
        ),  # still low: no second alarm
        ("sos", "/availability", fixture("availability_offline.json"), 140),
        ("sos", "/availability", fixture("availability_online.json"), 200),
        ("sos", "", fixture("tuya_sos_TS0215A.json"), 210),
        ("door", "", fixture("aqara_contact_MCCGQ11LM_closed.json"), 215),
        ("water", "", fixture("aqara_water_leak_SJCGQ11LM.json"), 220),
        ("water", "", fixture("aqara_water_leak_dry.json"), 260),
        ("fall", "", {"presence": True, "linkquality": 12}, 270),
    ]
    messages = []
    for device, suffix, payload, seconds in steps:
        body = json.dumps(payload).encode() if isinstance(payload, dict) else payload
        messages.append(IncomingMessage(world.topic(device, suffix), body, NOON + timedelta(seconds=seconds)))
    messages.append(IncomingMessage(f"{world.base}/bridge/devices", fixture("bridge_devices.json"), NOON))
    messages.append(
        IncomingMessage(
            f"{world.base}/bridge/state", fixture("bridge_state_offline.txt"), NOON + timedelta(seconds=300)
        )
    )
    return messages


def snapshot(world: HomeWorld) -> dict[str, Any]:
    world.refresh()
    with scope(commune=world.commune):
        devices = {
            key: (
                d.state,
                d.battery,
                d.linkquality,
                d.online,
                d.last_seen_at,
                d.supervision_deadline,
                d.open_deadline,
                d.ieee_address,
                d.model,
            )
            for key, d in world.devices.items()
        }
        home = world.home
        alarms = sorted(
            (a.kind, a.state, a.device.friendly_name if a.device else "", a.severity)
            for a in Alarm.objects.filter(home=home).select_related("device")
        )
        timeline = sorted(AlarmEvent.objects.filter(alarm__home=home).values_list("alarm__kind", "kind"))
        events = sorted(DeviceEvent.objects.filter(home=home).values_list("kind", "received_at"))
    return {
        "devices": devices,
        "home": (
            home.last_activity_at,
            home.inactivity_deadline,
            home.checkin_due_at,
            home.intrusion_deadline,
        ),
        "alarms": alarms,
        "timeline": timeline,
        "events": events,
    }


def test_a_batch_leaves_exactly_what_the_same_messages_leave_one_by_one(commune):
    with time_machine.travel(NOON, tick=False):
        one_by_one, batched = make_home(commune, now=NOON), make_home(commune, now=NOON)
        singles = [
            ingest_message(topic=m.topic, payload=m.payload, received_at=m.received_at)
            for m in scenario(one_by_one)
        ]
        together = ingest_batch(scenario(batched))
    assert [(o.reason, len(o.alarm_ids)) for o in together] == [(o.reason, len(o.alarm_ids)) for o in singles]
    assert "duplicate" in [o.reason for o in together]
    first, second = snapshot(one_by_one), snapshot(batched)
    assert first["devices"].keys() == second["devices"].keys()
    for key in first["devices"]:
        assert first["devices"][key] == second["devices"][key], key
    assert first == second
    assert {kind for kind, *_ in first["alarms"]} >= {
        "smoke",
        "battery_low",
        "device_offline",
        "sos",
        "water_leak",
    }


@pytest.mark.django_db(transaction=True)
def test_two_bridges_given_the_same_messages_in_any_order_never_deadlock_nor_double_anything(commune):
    """Two bridge processes of a shared group can both hold copies of a message (a redelivery after a
    reconnection goes to either). The homes are locked in key order whatever the messages' order, and the dedup
    keys are read under those locks: each message is recorded once, the SOS raises one alarm."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite has one writer at a time)")
    with time_machine.travel(NOON, tick=False):
        worlds = tuple(make_home(commune, now=NOON, contacts=1) for _ in range(3))
        messages = telemetry(worlds, 60, NOON)
        messages.insert(30, IncomingMessage(worlds[2].topic("sos"), fixture("tuya_sos_TS0215A.json"), NOON))
        orders = [messages, list(reversed(messages))]
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def bridge(batch: list[IncomingMessage]) -> None:
            try:
                start.wait(timeout=10)
                with transaction.atomic():
                    ingest_batch(batch)
            except BaseException as error:  # reported by the test itself, below
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=bridge, args=(order,)) for order in orders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    with scopes_disabled():
        assert DeviceEvent.objects.count() == len(messages)
        assert Alarm.objects.filter(kind="sos").count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_alarm_the_ticker_raises_for_a_home_does_not_wait_for_that_homes_batch_in_progress(commune):
    """The bridge locks a batch's homes against other bridges. A ticker raising an alarm for one of them (a row
    that refers to the home: PostgreSQL checks that reference at commit) goes on meanwhile: it neither waits
    for the batch, nor can it deadlock with the bridge when the batch then writes a device the ticker holds."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite has one writer at a time)")
    with time_machine.travel(NOON, tick=False):
        world = make_home(commune, now=NOON, contacts=1)
    inside, release, ticked = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def holding_the_batch_open() -> bool:
        inside.set()
        release.wait(timeout=30)
        return False

    def bridge() -> None:
        try:
            movement = IncomingMessage(world.topic("pir"), b'{"occupancy": true}', NOON + timedelta(hours=2))
            with transaction.atomic():
                ingest_batch([movement], stop_when=holding_the_batch_open)
        except BaseException as error:  # reported by the test itself, below
            errors.append(error)
        finally:
            connection.close()

    def ticker() -> None:
        try:
            assert (
                ticks.supervision_tick(NOON + timedelta(hours=2)) >= 1
            )  # the pendant: silent for 60 minutes
            ticked.set()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=bridge)]
    threads[0].start()
    try:
        assert inside.wait(timeout=10), "the batch did not start"
        threads.append(threading.Thread(target=ticker))
        threads[1].start()
        assert ticked.wait(timeout=5), "the ticker waited for the bridge's batch"
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    with scopes_disabled():
        assert Alarm.objects.filter(home=world.home, kind="device_offline").exists()
        assert DeviceEvent.objects.filter(home=world.home).count() == 1


def test_an_sos_press_with_a_battery_level_that_is_fine_reads_no_alarm_before_raising_its_own(worlds):
    world = worlds[0]
    payload = json.dumps({"action": "emergency", "battery": 100, "linkquality": 90}).encode()
    with time_machine.travel(NOON, tick=False), CaptureQueriesContext(connection) as captured:
        outcome = ingest_message(topic=world.topic("sos"), payload=payload, received_at=NOON)
    assert outcome.alarm_ids
    reads = [q["sql"] for q in captured.captured_queries if q["sql"].startswith('SELECT "homecare_alarm"')]
    assert reads == []  # a low battery or smoke gone would need the open condition alarms; this needs none
