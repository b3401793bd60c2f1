"""The bridge loop against a real Mosquitto running our shipped configuration, with handlers the tests control.

What a broker sees is what matters here: a message is acknowledged only after its effect is committed, so a
bridge that stops (or loses the database) before that gets it again; refused payloads and handler bugs are
acknowledged (they would never succeed) and do not stop the stream. "Not delivered again" is checked with a
marker: the broker sends unacknowledged messages first, then queued ones, so once a marker published after the
fact has arrived, nothing else is coming.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from django.db import OperationalError
from paho.mqtt.enums import CallbackAPIVersion

from mairie.homecare.bridge import Bridge, BridgeConfig, Received
from mairie.homecare.models import BridgeCounter
from tests.homecare.mqtt_support import (
    BRIDGE_PASSWORD,
    BRIDGE_USER,
    SHIPPED_ACL,
    SHIPPED_CONF,
    Broker,
    Publisher,
    discard_session,
    mosquitto_available,
    wait_until,
)

pytestmark = [
    pytest.mark.mqtt,
    pytest.mark.skipif(
        not mosquitto_available(), reason="mosquitto is not installed (apt-get install mosquitto)"
    ),
]

GATEWAY = "val-de-brume/12"
GATEWAY_PASSWORD = "gateway-12-secret"
OTHER_GATEWAY = "mont-clair/3"
BASE = f"zigbee2mqtt/{GATEWAY}"


@pytest.fixture(scope="module")
def broker():
    broker = Broker({GATEWAY: GATEWAY_PASSWORD, OTHER_GATEWAY: "gateway-3-secret"}).start()
    yield broker
    broker.close()


@pytest.fixture
def publisher(broker: Broker):
    publisher = Publisher(broker, {GATEWAY: GATEWAY_PASSWORD})
    yield publisher
    publisher.close()


@dataclass
class Recorder:
    """A handler: records what it was given; ``fail`` decides, per call, to raise instead."""

    seen: list[tuple[str, bytes, bool]]
    fail: Any = None
    reason: str = ""

    def __call__(self, *, topic: str, payload: bytes, received_at: Any) -> SimpleNamespace:
        if self.fail is not None:
            error = self.fail(topic, payload)
            if error is not None:
                raise error
        self.seen.append((topic, payload, True))
        if payload.startswith(b"bad"):
            return SimpleNamespace(accepted=False, reason="malformed")
        return SimpleNamespace(accepted=True, reason=self.reason)

    def payloads(self) -> list[bytes]:
        return [payload for _, payload, _ in self.seen]


def make_bridge(broker: Broker, client_id: str, handler: Any, **config: Any) -> Bridge:
    bridge = Bridge(
        BridgeConfig(
            host="127.0.0.1",
            port=broker.port,
            username=BRIDGE_USER,
            password=BRIDGE_PASSWORD,
            client_id=client_id,
            retry_initial_s=0.05,
            retry_max_s=0.2,
            **config,
        ),
        handler=handler,
        record_counts=None,
        dead_letter=lambda **kwargs: dead_letters.append(kwargs),
    )
    bridge.start()
    wait_until(bridge.connected.is_set, timeout=10, what="the bridge to connect")
    return bridge


dead_letters: list[dict[str, Any]] = []


def pump(bridge: Bridge, until: Any, *, timeout: float = 20, what: str = "messages") -> None:
    """Runs the bridge's processing loop in the test's thread until ``until()``."""

    def step() -> bool:
        bridge.process_next(timeout=0.05)
        return bool(until())

    wait_until(step, timeout=timeout, what=what, interval=0)


def subscribed(bridge: Bridge, publisher: Publisher) -> None:
    """Waits until the broker routes our topics to the bridge (its SUBACK came back), then until a marker
    published after that went through: a message published before the SUBACK is not the bridge's."""
    wait_until(bridge.subscribed.is_set, timeout=20, what="the broker's SUBACK")
    marker = f"ready-{uuid.uuid4().hex}".encode()
    handler = bridge.handler
    publisher.publish(GATEWAY, f"{BASE}/probe", marker)
    pump(bridge, lambda: marker in handler.payloads(), what="the subscription")  # type: ignore[attr-defined]


def client_id() -> str:
    return f"bridge-test-{uuid.uuid4().hex[:8]}"


@pytest.mark.django_db
def test_a_message_is_acknowledged_once_committed_and_not_delivered_again(broker, publisher):
    name = client_id()
    first = Recorder([])
    bridge = make_bridge(broker, name, first)
    subscribed(bridge, publisher)
    publisher.publish(GATEWAY, f"{BASE}/pendentif", b'{"action":"emergency"}')
    pump(bridge, lambda: b'{"action":"emergency"}' in first.payloads())
    assert bridge.counters.acked == 2
    bridge.close()

    # Same client id again: the persistent session resumes; nothing unacknowledged is waiting.
    publisher.publish(GATEWAY, f"{BASE}/marker", b"marker")
    again = Recorder([])
    bridge = make_bridge(broker, name, again)
    pump(bridge, lambda: b"marker" in again.payloads())
    bridge.close()
    assert again.payloads() == [b"marker"]


@pytest.mark.django_db
def test_database_down_nothing_is_acknowledged_and_the_same_message_comes_back(broker, publisher):
    name = client_id()
    attempts: list[bytes] = []
    holder: dict[str, Bridge] = {}

    def database_down(topic: str, payload: bytes) -> Exception | None:
        if b"sos" not in payload:
            return None
        attempts.append(payload)
        if len(attempts) == 3:
            holder["bridge"].stop()  # the process is stopped while it is still retrying
        return OperationalError("connection refused")

    failing = Recorder([], fail=database_down)
    bridge = holder["bridge"] = make_bridge(broker, name, failing)
    subscribed(bridge, publisher)
    seen_before = list(failing.payloads())
    publisher.publish(GATEWAY, f"{BASE}/pendentif", b'{"action":"sos"}')
    pump(bridge, lambda: bridge.stop_requested.is_set(), what="three attempts")
    assert failing.payloads() == seen_before
    assert bridge.counters.retries == 3
    assert bridge.counters.acked == len(seen_before)
    bridge.close()

    publisher.publish(GATEWAY, f"{BASE}/marker", b"marker")
    healthy = Recorder([])
    bridge = make_bridge(broker, name, healthy)
    pump(bridge, lambda: b"marker" in healthy.payloads())
    bridge.close()
    assert healthy.payloads() == [b'{"action":"sos"}', b"marker"]
    assert bridge.counters.redelivered == 1


@pytest.mark.django_db
def test_retries_keep_the_order_and_process_each_message_once(broker, publisher):
    failures = {"left": 4}

    def flaky(topic: str, payload: bytes) -> Exception | None:
        if payload == b"17" and failures["left"]:
            failures["left"] -= 1
            return OperationalError("server closed the connection unexpectedly")
        return None

    recorder = Recorder([], fail=flaky)
    bridge = make_bridge(broker, client_id(), recorder, batch_size=8)
    subscribed(bridge, publisher)
    recorder.seen.clear()
    for number in range(40):
        publisher.publish(GATEWAY, f"{BASE}/salon/mouvement", str(number).encode())
    pump(bridge, lambda: b"39" in recorder.payloads())
    bridge.close()
    # A failed batch is rolled back and retried whole: what the handler saw before the failure in that batch
    # is seen again; committed batches are not.
    committed = list(dict.fromkeys(recorder.payloads()))
    assert committed == [str(number).encode() for number in range(40)]
    assert failures["left"] == 0


@pytest.mark.django_db
def test_refused_payloads_and_handler_bugs_are_acknowledged_and_the_stream_goes_on(broker, publisher):
    name = client_id()
    dead_letters.clear()

    def bug(topic: str, payload: bytes) -> Exception | None:
        return KeyError("state") if payload == b"crash" else None

    recorder = Recorder([], fail=bug)
    bridge = make_bridge(broker, name, recorder)
    subscribed(bridge, publisher)
    for payload in (b"bad json {", b"crash", b'{"occupancy":true}'):
        publisher.publish(GATEWAY, f"{BASE}/salon/mouvement", payload)
    pump(bridge, lambda: b'{"occupancy":true}' in recorder.payloads())
    assert bridge.counters.total["malformed"] == 1
    assert bridge.counters.total["error"] == 1
    assert bridge.counters.total["ok"] == 2  # the probe and the motion
    assert [letter["message"].payload for letter in dead_letters] == [b"crash"]
    assert "KeyError" in dead_letters[0]["error"]
    bridge.close()

    publisher.publish(GATEWAY, f"{BASE}/marker", b"marker")
    again = Recorder([])
    bridge = make_bridge(broker, name, again)
    pump(bridge, lambda: b"marker" in again.payloads())
    bridge.close()
    assert again.payloads() == [b"marker"]


@pytest.mark.django_db
def test_bridge_offline_gets_everything_queued_meanwhile_beyond_mosquittos_default_limit(broker, publisher):
    """The shipped max_queued_messages: 3,000 messages while the bridge is away (the default 1000 drops 2,000)."""
    name = client_id()
    recorder = Recorder([])
    bridge = make_bridge(broker, name, recorder)
    subscribed(bridge, publisher)
    bridge.close()

    for number in range(3000):
        publisher.publish(GATEWAY, f"{BASE}/salon/thermostat", b'{"local_temperature":19,"n":%d}' % number)
    publisher.wait_all_acknowledged()
    recorder = Recorder([])
    bridge = make_bridge(broker, name, recorder, batch_size=200)
    pump(bridge, lambda: len(recorder.seen) >= 3000, timeout=60, what="3000 queued messages")
    bridge.close()
    assert [payload.rsplit(b":", 1)[1] for payload in recorder.payloads()] == [
        b"%d}" % number for number in range(3000)
    ]


@pytest.mark.django_db
def test_shared_subscription_splits_the_work_between_bridges(broker, publisher):
    left, right = Recorder([]), Recorder([])
    first = make_bridge(broker, client_id(), left, shared=True)
    second = make_bridge(broker, client_id(), right, shared=True)

    def both_pumped() -> bool:
        first.process_next(timeout=0.01)
        second.process_next(timeout=0.01)
        return len(left.seen) + len(right.seen) >= 200

    # Let both subscriptions settle, then count only what follows.
    marker_count = 0
    while not (left.seen and right.seen) and marker_count < 200:
        publisher.publish(GATEWAY, f"{BASE}/probe", b"probe")
        marker_count += 1
        first.process_next(timeout=0.02)
        second.process_next(timeout=0.02)
    left.seen.clear()
    right.seen.clear()
    for number in range(200):
        publisher.publish(GATEWAY, f"{BASE}/salon/mouvement", b"%d" % number)
    wait_until(both_pumped, timeout=20, what="200 messages across two bridges", interval=0)
    first.close()
    second.close()
    for bridge in (first, second):  # offline members of a shared group would keep receiving their share
        discard_session(broker, bridge.config.client_id)
    assert left.seen and right.seen
    assert sorted(left.payloads() + right.payloads(), key=int) == [b"%d" % n for n in range(200)]


@pytest.mark.django_db
def test_a_gateway_cannot_publish_into_another_homes_topics(broker, publisher):
    recorder = Recorder([])
    bridge = make_bridge(broker, client_id(), recorder)
    subscribed(bridge, publisher)
    recorder.seen.clear()
    publisher.publish(GATEWAY, f"zigbee2mqtt/{OTHER_GATEWAY}/pendentif", b'{"action":"emergency"}')
    publisher.publish(GATEWAY, "zigbee2mqtt/val-de-brume/1/pendentif", b'{"action":"emergency"}')
    publisher.publish(GATEWAY, f"{BASE}/marker", b"marker")
    pump(bridge, lambda: b"marker" in recorder.payloads())
    bridge.close()
    assert [topic for topic, _, _ in recorder.seen] == [f"{BASE}/marker"]


def test_acknowledgements_never_go_to_a_newer_connection():
    """A message id is only valid on the connection that delivered it: after a reconnection it may name
    another message, which must not be acknowledged before it is committed."""
    acks: list[int] = []
    bridge = Bridge(BridgeConfig(), handler=Recorder([]), record_counts=None)
    bridge.client = SimpleNamespace(ack=lambda mid, qos: acks.append(mid))  # type: ignore[assignment]
    flags = SimpleNamespace(session_present=True)
    ok = SimpleNamespace(is_failure=False)
    bridge.client.subscribe = lambda topics: None  # type: ignore[attr-defined]
    bridge._on_connect(bridge.client, None, flags, ok, None)  # type: ignore[arg-type]
    old = Received("t", b"", mid=7, qos=1, dup=False, connection=bridge._connection, received_at=None)  # type: ignore[arg-type]
    bridge._on_disconnect(bridge.client, None, flags, ok, None)  # type: ignore[arg-type]
    bridge._on_connect(bridge.client, None, flags, ok, None)  # type: ignore[arg-type]
    new = Received("t", b"", mid=8, qos=1, dup=True, connection=bridge._connection, received_at=None)  # type: ignore[arg-type]
    bridge._acknowledge([old, new])
    assert acks == [8]


def test_a_database_error_of_one_message_reruns_the_batch_carefully_and_keeps_that_message(db):
    """Not transient (a constraint, bad data): on PostgreSQL the batch's transaction is unusable after it, so
    the batch is rolled back and run again with a savepoint per message; the culprit becomes a dead letter."""
    dead_letters.clear()

    def constraint(topic: str, payload: bytes) -> Exception | None:
        if payload == b"bad":  # a real violation: PostgreSQL aborts the transaction after it
            BridgeCounter.objects.create(bridge="poison", reason="twice")
            BridgeCounter.objects.create(bridge="poison", reason="twice")
        return None

    recorder = Recorder([], fail=constraint)
    bridge = Bridge(
        BridgeConfig(),
        handler=recorder,
        record_counts=None,
        dead_letter=lambda **kwargs: dead_letters.append(kwargs),
    )
    acks: list[int] = []
    bridge.client = SimpleNamespace(ack=lambda mid, qos: acks.append(mid))  # type: ignore[assignment]
    bridge.connected.set()
    for mid, payload in enumerate([b"first", b"bad", b"last"], start=1):
        bridge.receive(Received("t", payload, mid=mid, qos=1, dup=False, connection=0, received_at=None))  # type: ignore[arg-type]
    assert bridge.process_next(timeout=1) == 3
    assert recorder.payloads() == [b"first", b"first", b"last"]  # the first run was rolled back
    assert [letter["message"].payload for letter in dead_letters] == [b"bad"]
    assert bridge.counters.total == {"ok": 2, "error": 1}
    assert bridge.counters.retries == 0
    assert acks == [1, 2, 3]
    assert not BridgeCounter.objects.filter(bridge="poison").exists()  # its savepoint was rolled back


def test_an_alarm_is_committed_without_waiting_for_the_messages_behind_it(db):
    transactions: list[dict[str, int]] = []

    def handler(*, topic: str, payload: bytes, received_at: Any) -> SimpleNamespace:
        return SimpleNamespace(accepted=True, reason="ok", alarm_ids=[7] if payload == b"sos" else [])

    bridge = Bridge(
        BridgeConfig(),
        handler=handler,
        record_counts=lambda *, bridge, counts: transactions.append(dict(counts)),
    )
    acks: list[int] = []
    bridge.client = SimpleNamespace(ack=lambda mid, qos: acks.append(mid))  # type: ignore[assignment]
    bridge.connected.set()
    for mid, payload in enumerate([b"motion", b"sos", b"door", b"meter"], start=1):
        bridge.receive(Received("t", payload, mid=mid, qos=1, dup=False, connection=0, received_at=None))  # type: ignore[arg-type]
    assert bridge.process_next(timeout=1) == 4
    assert transactions == [{"ok": 2}, {"ok": 2}]  # committed right after the SOS, then the rest
    assert acks == [1, 2, 3, 4]


def test_messages_of_an_older_connection_wait_for_their_redelivery_only_when_the_session_was_resumed(db):
    recorder = Recorder([])
    bridge = Bridge(BridgeConfig(), handler=recorder, record_counts=None)
    bridge.client = SimpleNamespace(ack=lambda mid, qos: None, subscribe=lambda topics: None)  # type: ignore[assignment]
    ok = SimpleNamespace(is_failure=False)

    def reconnect(*, session_present: bool) -> None:
        flags = SimpleNamespace(session_present=session_present)
        bridge._on_disconnect(bridge.client, None, flags, ok, None)  # type: ignore[arg-type]
        bridge._on_connect(bridge.client, None, flags, ok, None)  # type: ignore[arg-type]

    def received(payload: bytes) -> Received:
        return Received(
            "t", payload, mid=1, qos=1, dup=False, connection=bridge._connection, received_at=None
        )  # type: ignore[arg-type]

    reconnect(session_present=False)
    bridge.receive(received(b"before"))
    reconnect(session_present=True)  # the broker kept the session: "before" comes again on this connection
    assert bridge.process_next(timeout=1) == 0
    bridge.receive(received(b"lost-session"))
    reconnect(session_present=False)  # the broker lost the session: what we hold is all there is
    assert bridge.process_next(timeout=1) == 1
    assert recorder.payloads() == [b"lost-session"]


def test_a_topic_that_is_not_utf8_is_counted_as_malformed_without_reaching_the_handler(db):
    recorder = Recorder([])
    bridge = Bridge(BridgeConfig(), handler=recorder, record_counts=None)
    bridge.client = SimpleNamespace(ack=lambda mid, qos: None)  # type: ignore[assignment]
    message = mqtt.MQTTMessage(mid=3, topic=b"zigbee2mqtt/\xff\xfe/x")
    message.qos = 1
    message.payload = b"{}"
    bridge._on_message(bridge.client, None, message)  # type: ignore[arg-type]
    bridge.connected.set()
    assert bridge.process_next(timeout=1) == 1
    assert recorder.seen == []
    assert bridge.counters.total == {"malformed": 1}


def test_shipped_broker_config_keeps_messages():
    """The values that matter, as shipped (the tests above run the broker with this very file)."""
    settings = {}
    for line in SHIPPED_CONF.read_text().splitlines():
        words = line.split()
        if words and not words[0].startswith("#"):
            settings.setdefault(words[0], []).append(" ".join(words[1:]))
    assert settings["persistence"] == ["true"]
    assert int(settings["autosave_interval"][0]) <= 60
    assert int(settings["max_queued_messages"][0]) >= 100_000
    assert settings["max_queued_bytes"] == ["0"]
    assert settings["allow_anonymous"] == ["false"]
    assert settings["queue_qos0_messages"] == ["true"]
    assert int(settings["max_inflight_messages"][0]) >= 100
    acl = SHIPPED_ACL.read_text()
    assert "pattern readwrite zigbee2mqtt/%u/#" in acl
    assert Path(SHIPPED_CONF).with_name("demo.conf").exists()


@pytest.mark.django_db
def test_broker_password_file_from_the_database_lets_each_gateway_in(commune):
    from django.core.management import call_command
    from django_scopes import scope

    from mairie.core.acting import Actor
    from mairie.homecare.services.homes import gateway_register, home_create
    from tests.homecare.homes_support import make_home

    world = make_home(commune, now=datetime(2026, 11, 26, 9, 0, tzinfo=UTC), contacts=0)
    actor = Actor.himself(world.agent, commune)
    with scope(commune=commune):
        other = home_create(actor=actor, resident=world.resident, label="Maison 13")
        gateway, password = gateway_register(actor=actor, home=other)
    broker = Broker({})
    try:
        call_command("homecare_broker_passwords", output=str(broker.password_file), stdout=StringIO())
        lines = broker.password_file.read_text().splitlines()
        assert [line.split(":", 1)[0] for line in lines] == [
            BRIDGE_USER,
            world.gateway.mqtt_username,
            gateway.mqtt_username,
        ]
        broker.start()
        assert connects(broker, gateway.mqtt_username, password)
        assert not connects(broker, gateway.mqtt_username, "not-the-password")
        assert connects(broker, BRIDGE_USER, BRIDGE_PASSWORD)  # kept from the existing file
    finally:
        broker.close()


def connects(broker: Broker, username: str, password: str) -> bool:
    result: list[bool] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"login-{uuid.uuid4().hex[:6]}")
    client.username_pw_set(username, password)
    client.on_connect = lambda c, u, flags, code, props: result.append(not code.is_failure)
    client.connect("127.0.0.1", broker.port, keepalive=10)
    client.loop_start()
    try:
        wait_until(lambda: result, timeout=10, what=f"{username} to get an answer")
    finally:
        client.disconnect()
        client.loop_stop()
    return result[0]


@pytest.mark.django_db
def test_counters_add_up_per_bridge_and_dead_letters_wait_to_be_handled():
    from mairie.homecare import bridge_stats

    bridge_stats.add_counts(bridge="mairie-bridge-1", counts={"ok": 3, "malformed": 1})
    bridge_stats.add_counts(bridge="mairie-bridge-1", counts={"ok": 2, "duplicate": 0})
    bridge_stats.add_counts(bridge="mairie-bridge-2", counts={"ok": 10})
    assert bridge_stats.totals(bridge="mairie-bridge-1") == {"ok": 5, "malformed": 1}
    assert bridge_stats.totals() == {"ok": 15, "malformed": 1}
    bridge_stats.keep_dead_letter(
        bridge="mairie-bridge-1",
        topic="zigbee2mqtt/val-de-brume/12/pendentif",
        payload=b'{"action":"emergency"}',
        error="KeyError('state')",
        received_at=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
    )
    assert bridge_stats.open_dead_letters() == 1
