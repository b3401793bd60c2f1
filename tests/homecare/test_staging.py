"""A backlog is staged (committed and acknowledged at once), calls for help skip it, the rest is applied in order.

The bridge runs in the test's thread with the real ingestion and a stand-in for the MQTT client: messages are put
on its queue as paho's thread would, and its acknowledgements are recorded.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import uuid
from collections import Counter
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import DatabaseError, transaction
from django_scopes import scope, scopes_disabled

from mairie.homecare import staging
from mairie.homecare.bridge import APPLIED_BEFORE_STOPPING, Bridge, BridgeConfig, Received
from mairie.homecare.bridge_stats import add_counts, totals
from mairie.homecare.models import (
    Alarm,
    AlarmEvent,
    BridgeCounter,
    BridgeDeadLetter,
    DeviceEvent,
    Gateway,
    StagedMessage,
)
from mairie.homecare.services.ingest import IncomingMessage, ingest_batch, may_call_for_help
from tests.homecare.homes_support import HomeWorld, fixture, make_home

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=PARIS)


@pytest.fixture
def world(commune):
    with time_machine.travel(NOON, tick=False):
        return make_home(commune, now=NOON)


def message(world: HomeWorld, device: str, payload: dict[str, Any], at: datetime, mid: int) -> Received:
    return Received(
        topic=world.topic(device),
        payload=json.dumps({**payload, "last_seen": at.isoformat()}).encode(),
        mid=mid,
        qos=1,
        dup=False,
        connection=0,
        received_at=at,
    )


def backlog(world: HomeWorld, count: int, *, sos_at: int | None = None) -> list[Received]:
    """Motion and door reports, a millisecond apart; an SOS press at ``sos_at``."""
    messages = []
    for n in range(count):
        at = NOON + timedelta(milliseconds=n)
        if n == sos_at:
            messages.append(message(world, "sos", {"action": "emergency"}, at, n + 1))
        elif n % 2:
            messages.append(message(world, "door", {"contact": True, "linkquality": n % 200}, at, n + 1))
        else:
            messages.append(message(world, "pir", {"occupancy": n % 4 == 0, "battery": 90}, at, n + 1))
    return messages


def bridge_with(messages: list[Received], **config: Any) -> tuple[Bridge, list[int]]:
    bridge = Bridge(BridgeConfig(client_id=f"staging-{uuid.uuid4().hex[:6]}", **config))
    acks: list[int] = []
    bridge.client = SimpleNamespace(ack=lambda mid, qos: acks.append(mid))  # type: ignore[assignment]
    bridge.connected.set()
    for received in messages:
        bridge.receive(received)
    return bridge, acks


def events_of(world: HomeWorld) -> int:
    with scopes_disabled():
        return DeviceEvent.objects.filter(home=world.home).count()


def test_a_backlog_is_acknowledged_at_once_and_a_call_for_help_behind_it_does_not_wait(world):
    messages = backlog(world, 300, sos_at=250)
    bridge, acks = bridge_with(messages, apply_batch_size=50)
    with time_machine.travel(NOON + timedelta(seconds=1), tick=False):
        assert bridge.process_next(timeout=1) == 300
        # All 300 are committed (staged or applied) and acknowledged in one go, the SOS press taken first...
        assert sorted(acks) == list(range(1, 301)) and acks[0] == 251
        # ...the SOS press already raised its alarm, though 249 messages before it are not applied yet
        # (one chunk of 50 was, the queue being empty).
        with scopes_disabled():
            alarm = Alarm.objects.get(home=world.home)
        assert alarm.kind == Alarm.Kind.SOS
        assert StagedMessage.objects.count() == 299 - 50
        assert events_of(world) == 1 + 50
        while StagedMessage.objects.exists():
            bridge.process_next(timeout=0.01)
    assert events_of(world) == 300
    assert totals(bridge=bridge.config.client_id) == Counter({"ok": 300})  # "staged" went back to 0
    # Applied in the order received: the devices show their last report.
    world.refresh()
    assert world.devices["door"].state["linkquality"] == 299 % 200
    assert world.devices["pir"].last_seen_at == NOON + timedelta(milliseconds=298)
    with scopes_disabled():
        assert Alarm.objects.filter(home=world.home).count() == 1


def test_caught_up_the_bridge_applies_each_message_before_acknowledging_it(world):
    bridge, acks = bridge_with(backlog(world, 20))
    with time_machine.travel(NOON + timedelta(seconds=1), tick=False):
        assert bridge.process_next(timeout=1) == 20
    assert not StagedMessage.objects.exists()
    assert events_of(world) == 20
    assert acks == list(range(1, 21))


def test_caught_up_a_call_for_help_is_committed_before_the_telemetry_ahead_of_it_in_the_batch(world):
    bridge, acks = bridge_with([])
    bridge.process_next(timeout=0.01)  # a bridge that has been running: nothing staged, caught up
    for received in backlog(world, 20, sos_at=15):
        bridge.receive(received)
    handler = bridge.batch_handler
    assert handler is not None
    calls: list[list[str]] = []

    def recording(messages, **options):
        calls.append([m.topic.rsplit("/", 1)[-1] for m in messages])
        return handler(messages, **options)

    bridge._batch_handler = recording
    with time_machine.travel(NOON + timedelta(seconds=1), tick=False):
        assert bridge.process_next(timeout=1) == 20
    assert calls[0][0] == "pendentif"  # its own transaction first: the alarm leaves at once
    assert sorted(acks) == list(range(1, 21)) and acks[0] == 16
    assert events_of(world) == 20
    with scopes_disabled():
        assert Alarm.objects.filter(home=world.home, kind=Alarm.Kind.SOS).count() == 1
    world.refresh()  # the telemetry applied after it still leaves each device's last report
    assert world.devices["pir"].last_seen_at == NOON + timedelta(milliseconds=18)


def arriving_during(handler: Any, *, after: int, received: Received, bridge: Bridge) -> tuple[Any, list[int]]:
    """A batch handler that records each transaction's size, and receives ``received`` (as paho's thread would)
    while the first call is applying its message number ``after``."""
    sizes: list[int] = []

    def applying(messages: Any, **options: Any) -> Any:
        stop_when = options.get("stop_when")
        if stop_when is not None and not sizes:
            checks = itertools.count(1)

            def stop_when_counting() -> bool:
                if next(checks) == after:
                    bridge.receive(received)
                return stop_when()

            options["stop_when"] = stop_when_counting
        outcomes = handler(messages, **options)
        sizes.append(len(outcomes))
        return outcomes

    return applying, sizes


def test_a_gateway_back_online_is_shown_online_whatever_order_its_messages_are_applied_in(world):
    """Zigbee2MQTT starting: bridge/state "online", then bridge/devices (whose list names "action" and "smoke"
    among the devices' features). The list is not taken for a call for help and put first; and applied before
    the state anyway (another bridge, a staged backlog), it does not make that state look stale."""
    with scopes_disabled():
        Gateway.objects.filter(home=world.home).update(online=False)

    def said(suffix: str, payload: bytes, at: datetime, mid: int) -> Received:
        return Received(
            f"{world.base}/{suffix}", payload, mid=mid, qos=1, dup=False, connection=0, received_at=at
        )

    state = said("bridge/state", fixture("bridge_state_online.json"), NOON + timedelta(seconds=1), 1)
    devices = said("bridge/devices", fixture("bridge_devices.json"), NOON + timedelta(seconds=2), 2)
    bridge, acks = bridge_with([state, devices])
    with time_machine.travel(NOON + timedelta(seconds=3), tick=False):
        assert bridge.process_next(timeout=1) == 2
    assert acks == [1, 2]  # in the order received
    with scopes_disabled():
        gateway = Gateway.objects.get(home=world.home)
    assert gateway.online and gateway.last_seen_at == NOON + timedelta(seconds=1)

    with scopes_disabled():
        Gateway.objects.filter(pk=gateway.pk).update(online=False)
    later = [
        IncomingMessage(devices.topic, devices.payload, NOON + timedelta(minutes=10, seconds=2)),
        IncomingMessage(state.topic, state.payload, NOON + timedelta(minutes=10, seconds=1)),
    ]
    with time_machine.travel(NOON + timedelta(minutes=11), tick=False):
        assert [outcome.reason for outcome in ingest_batch(later)] == ["ok", "ok"]
    gateway.refresh_from_db()
    assert gateway.online


@pytest.mark.parametrize(
    ("arrives_at", "stops_at"),
    [(12, 12), (3, APPLIED_BEFORE_STOPPING)],  # at once; or once the batch has applied its minimum
    ids=["at the next message", "after the minimum"],
)
def test_a_call_for_help_arriving_during_a_batch_stops_it(world, arrives_at, stops_at):
    bridge, acks = bridge_with([])
    bridge.process_next(timeout=0.01)  # a bridge that has been running: nothing staged, caught up
    for received in backlog(world, 20):
        bridge.receive(received)
    sos = message(world, "sos", {"action": "emergency"}, NOON + timedelta(milliseconds=20), 21)
    handler = bridge.batch_handler
    assert handler is not None
    bridge._batch_handler, sizes = arriving_during(handler, after=arrives_at, received=sos, bridge=bridge)
    with time_machine.travel(NOON + timedelta(seconds=1), tick=False):
        assert bridge.process_next(timeout=1) == 21
    # The first messages committed, then the SOS in its own transaction, then the others.
    assert sizes == [stops_at, 1, 20 - stops_at]
    assert acks == [*range(1, stops_at + 1), 21, *range(stops_at + 1, 21)]
    assert events_of(world) == 21
    with scopes_disabled():
        assert Alarm.objects.filter(home=world.home, kind=Alarm.Kind.SOS).count() == 1
    world.refresh()
    assert world.devices["door"].state["linkquality"] == 19
    assert totals(bridge=bridge.config.client_id) == Counter({"ok": 21})


def test_a_call_for_help_arriving_while_staged_rows_are_applied_stops_the_chunk(world):
    messages = backlog(world, 300)
    bridge, acks = bridge_with(messages, apply_batch_size=200)
    sos = message(world, "sos", {"action": "emergency"}, NOON + timedelta(milliseconds=300), 301)
    handler = bridge.batch_handler
    assert handler is not None
    bridge._batch_handler, sizes = arriving_during(handler, after=10, received=sos, bridge=bridge)
    with time_machine.travel(NOON + timedelta(seconds=1), tick=False):
        assert bridge.process_next(timeout=1) == 300  # staged and acknowledged; a chunk begun, stopped at 10
        assert sizes == [10]
        assert StagedMessage.objects.count() == 290  # the chunk's 190 others stay staged, none lost
        assert bridge.process_next(timeout=1) == 1  # the SOS, before any more staged row
        with scopes_disabled():
            assert Alarm.objects.filter(home=world.home, kind=Alarm.Kind.SOS).count() == 1
        assert StagedMessage.objects.count() == 90  # then, the queue empty, the next chunk of 200
        while StagedMessage.objects.exists():
            bridge.process_next(timeout=0.01)
    assert sorted(acks) == list(range(1, 302))
    assert events_of(world) == 301
    world.refresh()  # applied in order all the same: the devices show their last report
    assert world.devices["door"].state["linkquality"] == 299 % 200
    assert totals(bridge=bridge.config.client_id) == Counter({"ok": 301})


def test_an_unreadable_payload_naming_sos_waits_its_turn(world):
    """It raises no alarm (it is dropped as malformed): it must not jump the queue nor cut the batch."""
    unreadable = dataclasses.replace(message(world, "sos", {}, NOON, 3), payload=b'{"sos": tru')
    bridge, acks = bridge_with([])
    bridge.process_next(timeout=0.01)
    for received in [*backlog(world, 2), unreadable]:
        bridge.receive(received)
    bridge.receive(message(world, "sos", {"action": "emergency"}, NOON + timedelta(milliseconds=5), 4))
    with time_machine.travel(NOON + timedelta(seconds=1), tick=False):
        assert bridge.process_next(timeout=1) == 4
    assert acks == [4, 1, 2, 3]  # the real call for help first, the unreadable one in its place
    assert totals(bridge=bridge.config.client_id) == Counter({"ok": 3, "malformed": 1})


def test_a_message_staged_twice_is_applied_once(world):
    """The bridge staged it and was killed before its acknowledgement left: the broker delivers it again."""
    messages = backlog(world, 150)
    again = dataclasses.replace(messages[10], dup=True, mid=999)
    bridge, _acks = bridge_with([*messages, again])
    with time_machine.travel(NOON + timedelta(seconds=1), tick=False):
        bridge.process_next(timeout=1)
        while StagedMessage.objects.exists():
            bridge.process_next(timeout=0.01)
    assert events_of(world) == 150
    assert totals(bridge=bridge.config.client_id) == Counter({"ok": 150, "duplicate": 1})
    assert bridge.counters.redelivered == 1


@pytest.mark.parametrize("stages", [True, False], ids=["staging", "run with --no-staging"])
def test_rows_a_stopped_bridge_left_are_applied_by_the_next_one(world, stages):
    with time_machine.travel(NOON + timedelta(seconds=1), tick=False):
        with scopes_disabled(), transaction.atomic():  # as that bridge did before it stopped
            staging.stage(bridge="bridge-gone", messages=backlog(world, 30))
            add_counts(bridge="bridge-gone", counts={"staged": 30})
        bridge, acks = bridge_with([], staging=stages)
        assert bridge.process_next(timeout=0.01) == 0
    assert not StagedMessage.objects.exists()
    assert events_of(world) == 30
    assert acks == []  # acknowledged long ago, by the bridge that staged them
    # Counted under the name of the bridge that received them.
    assert totals(bridge="bridge-gone") == Counter({"ok": 30})
    assert not BridgeCounter.objects.exclude(bridge="bridge-gone").exists()


def test_a_staged_message_the_rules_fail_on_is_kept_as_a_dead_letter_and_the_rest_applied(world):
    def failing(messages: Any, **options: Any) -> Any:
        if any(b'"boom"' in received.payload for received in messages):
            raise RuntimeError("a bug in the rules")
        return ingest_batch(messages, **options)

    messages = backlog(world, 150)
    poison = message(world, "pir", {"occupancy": True, "boom": 1}, NOON + timedelta(seconds=5), 151)
    bridge = Bridge(BridgeConfig(client_id="staging-poison"), batch_handler=failing)
    acks: list[int] = []
    bridge.client = SimpleNamespace(ack=lambda mid, qos: acks.append(mid))  # type: ignore[assignment]
    bridge.connected.set()
    for received in [*messages[:100], poison, *messages[100:]]:
        bridge.receive(received)
    with time_machine.travel(NOON + timedelta(seconds=6), tick=False):
        bridge.process_next(timeout=1)
        while StagedMessage.objects.exists():
            bridge.process_next(timeout=0.01)
    assert len(acks) == 151
    assert events_of(world) == 150
    letter = BridgeDeadLetter.objects.get()
    assert letter.topic == world.topic("pir")
    assert b'"boom"' in bytes(letter.payload)
    assert totals(bridge="staging-poison") == Counter({"ok": 150, "error": 1})


def test_an_older_all_clear_applied_late_does_not_mark_a_newer_smoke_alarm_cleared(world):
    with time_machine.travel(NOON + timedelta(minutes=5), tick=False):
        assert world.send("smoke", {"smoke": True}, NOON + timedelta(minutes=2)).alarm_ids
        world.send("smoke", {"smoke": False}, NOON + timedelta(minutes=1))  # staged, applied after
        with scope(commune=world.commune):
            alarm = Alarm.objects.get(home=world.home, kind=Alarm.Kind.SMOKE)
            assert not alarm.events.filter(kind=AlarmEvent.Kind.CLEARED).exists()
        world.send("smoke", {"smoke": False}, NOON + timedelta(minutes=3))
        with scope(commune=world.commune):
            assert alarm.events.filter(kind=AlarmEvent.Kind.CLEARED).exists()


@pytest.mark.parametrize(
    ("payload", "urgent"),
    [
        (b'{"occupancy": true, "battery": 80}', False),
        (b'{"contact": false}', False),
        (b'{"smoke": false, "battery_low": true}', False),
        (b'{"water_leak": false}', False),
        (b'{"action": "single"}', False),
        (b'{"action": "emergency"}', True),
        (b'{"action": "SOS "}', True),
        (b'{"action": "fall_detected"}', True),
        (b'{"sos": true}', True),
        (b'{"fall": true}', True),
        (b'{"smoke": true}', True),
        (b'{ "water_leak" : true }', True),
        (b'{"\\u0061ction": "emergency"}', True),  # an escape that spells "action"
        (b'{"sos": tru', True),  # unreadable: left to the synchronous path, which counts it
    ],
)
def test_what_may_be_a_call_for_help_is_judged_on_the_payload(payload, urgent):
    assert may_call_for_help(payload) is urgent
    assert may_call_for_help(payload, "zigbee2mqtt/val-de-brume/1/chambre/pendentif") is urgent
    # A device may be called "…/bridge": only Zigbee2MQTT's own gateway topics are set aside.
    assert may_call_for_help(payload, "zigbee2mqtt/val-de-brume/1/garage/bridge") is urgent


@pytest.mark.parametrize(
    "topic",
    [
        "zigbee2mqtt/val-de-brume/1/bridge/devices",  # the device list names every feature, "action" among them
        "zigbee2mqtt/val-de-brume/1/bridge/state",
        "zigbee2mqtt/val-de-brume/1/bridge/event",
        "zigbee2mqtt/val-de-brume/1/bridge/response/device/rename",
        "zigbee2mqtt/val-de-brume/1/chambre/pendentif/availability",
        "zigbee2mqtt/val-de-brume/1/chambre/pendentif/set",
        "zigbee2mqtt/val-de-brume/1/chambre/pendentif/set/state",
        "teleinfo/val-de-brume/1",
    ],
)
def test_what_a_gateway_says_of_itself_is_never_taken_for_a_call_for_help(topic):
    assert (
        may_call_for_help(b'[{"exposes": [{"name": "action"}, {"name": "smoke"}], "sos": tru', topic) is False
    )


def test_a_running_bridge_applies_rows_another_bridge_left_when_it_stopped_for_good(world):
    bridge, _acks = bridge_with([], staged_check_s=30)
    with time_machine.travel(NOON + timedelta(seconds=1), tick=False):
        assert bridge.process_next(timeout=0.01) == 0  # nothing staged at its start
        with scopes_disabled(), transaction.atomic():
            staging.stage(bridge="bridge-retired", messages=backlog(world, 10))
            add_counts(bridge="bridge-retired", counts={"staged": 10})
        bridge.process_next(timeout=0.01)
        assert StagedMessage.objects.count() == 10  # caught up, it does not look at every turn...
        bridge._last_apply -= 31
        bridge.process_next(timeout=0.01)  # ...but every 30 s
        bridge.process_next(timeout=0.01)
    assert not StagedMessage.objects.exists()
    assert events_of(world) == 10
    assert totals(bridge="bridge-retired") == Counter({"ok": 10})


def test_after_a_burst_is_applied_the_stream_is_applied_directly_again(world):
    """Staging ends once a chunk comes back short: steady traffic behind a burst must not keep the bridge
    staging (the supervision ticker waits for staged messages)."""
    messages = backlog(world, 160)
    bridge, _acks = bridge_with(messages[:150])
    with time_machine.travel(NOON + timedelta(seconds=1), tick=False):
        assert bridge.process_next(timeout=1) == 150  # staged, then applied in one chunk of fewer than 200
        assert not StagedMessage.objects.exists()
        assert bridge._staged_waiting is False
        for received in messages[150:]:
            bridge.receive(received)
        assert bridge.process_next(timeout=1) == 10
    assert not StagedMessage.objects.exists()
    assert events_of(world) == 160
    assert totals(bridge=bridge.config.client_id) == Counter({"ok": 160})


def test_a_chunk_that_cannot_be_applied_does_not_hold_the_stream(world, monkeypatch):
    """The database refuses the chunk (a lock, a deadlock): the bridge goes back to its queue, where a call for
    help may wait, and tries the chunk again later."""
    bridge, acks = bridge_with(backlog(world, 150))
    claim = staging.claim
    # Not one of the transient errors, after which the bridge closes its connection (the test's transaction).
    failures = [DatabaseError("could not obtain lock on row")]

    def refusing(*, limit: int) -> Any:
        if failures:
            raise failures.pop()
        return claim(limit=limit)

    monkeypatch.setattr(staging, "claim", refusing)
    with time_machine.travel(NOON + timedelta(seconds=1), tick=False):
        assert bridge.process_next(timeout=1) == 150  # staged and acknowledged; the apply failed
        assert acks == list(range(1, 151))
        assert StagedMessage.objects.count() == 150
        assert bridge.counters.retries == 1
        bridge.receive(message(world, "sos", {"action": "emergency"}, NOON + timedelta(seconds=1), 151))
        assert bridge.process_next(timeout=1) == 1  # the SOS, at once, though the chunk waits
        with scopes_disabled():
            assert Alarm.objects.filter(home=world.home, kind=Alarm.Kind.SOS).exists()
        bridge._apply_not_before = 0.0  # the delay is over
        while StagedMessage.objects.exists():
            bridge.process_next(timeout=0.01)
    assert events_of(world) == 151


def test_steady_traffic_does_not_keep_staged_rows_waiting(world, monkeypatch):
    """Messages keep arriving, a few while each batch is being staged (steady traffic, less than a batch at a
    time): each turn stages what came and applies a chunk, so the staged rows drain while the traffic goes on
    (waiting for an empty queue, they would pile up)."""
    messages = backlog(world, 450)
    arriving = iter(messages[400:])
    stage = staging.stage

    def stage_while_messages_arrive(**kwargs: Any) -> None:
        stage(**kwargs)
        for received in itertools.islice(arriving, 5):
            bridge.receive(received)

    with time_machine.travel(NOON + timedelta(seconds=1), tick=False):
        with scopes_disabled(), transaction.atomic():
            stage(bridge="bridge-before", messages=messages[:400])
        bridge, _acks = bridge_with(list(itertools.islice(arriving, 5)))
        monkeypatch.setattr(staging, "stage", stage_while_messages_arrive)
        for _turn in range(4):
            bridge.process_next(timeout=0.01)
        assert StagedMessage.objects.count() < 50  # 400 staged before, 20 staged since: 400 applied
        for received in arriving:  # the rest of the stream
            bridge.receive(received)
        while bridge.process_next(timeout=0.01) or StagedMessage.objects.exists():
            pass
    assert events_of(world) == 450
