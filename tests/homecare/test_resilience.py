"""No alarm lost, none doubled: the bridge as its own process, a real Mosquitto with our shipped configuration,
and the failures that happen in real life (a bridge killed, a broker restarted, the database gone for 10 s).

Each test gets a copy of a database migrated and seeded once (20 simulated homes with their gateways and
devices), a broker of its own on a free loopback port, and the gateways publish with their own logins.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mairie.homecare.simulator import Message, SimulatedHome, telemetry_burst
from tests.homecare.mqtt_support import (
    BridgeProcess,
    Broker,
    Database,
    Publisher,
    TcpProxy,
    create_database,
    mosquitto_available,
    seed_homes,
    stop_all,
    wait_until,
)

pytestmark = [
    pytest.mark.mqtt,
    pytest.mark.skipif(
        not mosquitto_available(), reason="mosquitto is not installed (apt-get install mosquitto)"
    ),
]

HOMES = 20
START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def database_prefix() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    base = os.environ.get("MAIRIE_TEST_DATABASE_NAME", "test_mairie")
    return f"{base}_mqtt_{worker}"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("databases")
    database = create_database(directory, f"{database_prefix()}_template")
    homes = seed_homes(database, homes=HOMES)
    yield database, homes, directory
    database.drop()


@pytest.fixture
def world(seeded, tmp_path: Path):
    template, homes, directory = seeded
    database = template.clone(directory, f"{database_prefix()}_{uuid.uuid4().hex[:8]}")
    broker = Broker({home.username: home.password for home in homes}).start()
    started: list[object] = [broker]
    yield database, homes, broker, tmp_path, started
    stop_all(*reversed(started))
    database.drop()


def start_bridge(
    database: Database, broker: Broker, log: Path, started: list[object], **kwargs
) -> BridgeProcess:
    bridge = BridgeProcess(broker=broker, database=database, log_path=log, **kwargs).start()
    started.append(bridge)
    wait_until(
        # A resumed session already holds the subscriptions (and the SUBACK may wait behind the backlog).
        lambda: "subscribed to" in bridge.log() or "session resumed" in bridge.log() or not bridge.running,
        timeout=60,
        what="the bridge to subscribe",
    )
    assert bridge.running, bridge.log()
    return bridge


def counts(database: Database) -> dict[str, int]:
    """What the simulated homes' messages wrote (the demo commune's own home has a history of its own)."""
    simulated = "home_id IN (SELECT id FROM homecare_home WHERE label LIKE 'Maison simulée%%')"
    return {
        "events": database.scalar(f"SELECT count(*) FROM homecare_deviceevent WHERE {simulated}"),  # noqa: S608
        "sos": database.scalar(f"SELECT count(*) FROM homecare_alarm WHERE kind = 'sos' AND {simulated}"),  # noqa: S608
        "alarms": database.scalar(f"SELECT count(*) FROM homecare_alarm WHERE {simulated}"),  # noqa: S608
        "distinct_sos_events": database.scalar(
            f"SELECT count(DISTINCT dedup_key) FROM homecare_alarm WHERE kind = 'sos' AND {simulated}"  # noqa: S608
        ),
    }


def publish_all(publisher: Publisher, homes: list[SimulatedHome], messages: Iterable[Message]) -> None:
    owner = {home.base_topic: home.username for home in homes}
    for message in messages:
        base = "/".join(message.topic.split("/")[:3])
        publisher.publish(owner[base], message.topic, message.payload)


def in_background(target, *args) -> threading.Thread:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target(*args)
        except BaseException as error:  # surfaced by the test through .errors
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.errors = errors  # type: ignore[attr-defined]
    thread.start()
    return thread


def counters_at_stop(bridge: BridgeProcess) -> dict[str, int]:
    match = re.findall(r"bridge stopped: (\{[^}]*\})", bridge.log())
    assert match, bridge.log()
    return {key: int(value) for key, value in re.findall(r"'(\w+)': (\d+)", match[-1])}


def test_bridge_killed_mid_stream_then_restarted_exactly_200_alarms(world):
    """20,000 telemetry messages holding 200 SOS; SIGKILL half-way; restart: every SOS once, none twice."""
    database, homes, broker, tmp, started = world
    bridge = start_bridge(database, broker, tmp / "bridge.log", started)
    publisher = Publisher(broker, {home.username: home.password for home in homes})
    started.append(publisher)
    messages = list(telemetry_burst(homes, count=20_000, sos=200, start=START))
    publishing = in_background(publish_all, publisher, homes, messages)

    wait_until(lambda: counts(database)["events"] >= 4_000, timeout=300, what="4,000 events")
    bridge.kill()
    killed_at = counts(database)
    staged_at_kill = database.scalar("SELECT count(*) FROM homecare_stagedmessage")
    assert killed_at["events"] < 20_000, "the bridge was killed after the stream, not in the middle of it"

    bridge = start_bridge(database, broker, tmp / "bridge-again.log", started)
    publishing.join(timeout=120)
    assert not publishing.errors  # type: ignore[attr-defined]
    publisher.wait_all_acknowledged()
    wait_until(lambda: counts(database)["events"] >= 20_000, timeout=600, what="all 20,000 events")
    assert bridge.terminate() == 0
    final = counts(database)
    assert final["events"] == 20_000
    assert final["sos"] == 200
    assert final["distinct_sos_events"] == 200
    # What was in flight at the kill came back (DUP) and was recognised; or the bridge had taken the stream in
    # faster than it could apply it, and what it had staged (committed, acknowledged) waited for the restart.
    after = counters_at_stop(bridge)
    assert after["redelivered"] >= 1 or staged_at_kill > 0
    total_rows = dict(database.query("SELECT reason, sum(count) FROM homecare_bridgecounter GROUP BY reason"))
    assert total_rows["ok"] == 20_000
    # What the first bridge had staged (committed, acknowledged, not yet applied) was applied after the restart.
    assert database.scalar("SELECT count(*) FROM homecare_stagedmessage") == 0
    assert total_rows.get("staged", 0) == 0


def test_broker_restarted_mid_stream_no_sos_lost(world):
    database, homes, broker, tmp, started = world
    bridge = start_bridge(database, broker, tmp / "bridge.log", started)
    publisher = Publisher(broker, {home.username: home.password for home in homes})
    started.append(publisher)
    messages = list(telemetry_burst(homes, count=4_000, sos=40, start=START))
    queued = messages[1_000:2_000]
    assert any(b"emergency" in message.payload for message in queued)  # SOS among what the broker must keep

    publish_all(publisher, homes, messages[:1_000])
    wait_until(lambda: counts(database)["events"] >= 1_000, timeout=120, what="the first 1,000 events")
    assert bridge.terminate() == 0  # the bridge away: the broker queues for its persistent session
    publish_all(publisher, homes, queued)
    publisher.wait_all_acknowledged()
    assert counts(database)["events"] == 1_000  # a real backlog, held only by the broker
    broker.restart()  # SIGTERM: mosquitto saves its state; the queue for the bridge survives
    start_bridge(database, broker, tmp / "bridge-2.log", started)  # same client id: the session resumes
    publishing = in_background(publish_all, publisher, homes, messages[2_000:])
    publishing.join(timeout=120)
    assert not publishing.errors  # type: ignore[attr-defined]
    publisher.wait_all_acknowledged(timeout=60)
    wait_until(lambda: counts(database)["events"] >= 4_000, timeout=300, what="all 4,000 events")
    final = counts(database)
    assert final["events"] == 4_000
    assert final["sos"] == 40


def test_same_message_delivered_twice_raises_one_alarm(world):
    database, homes, broker, tmp, started = world
    bridge = start_bridge(database, broker, tmp / "bridge.log", started)
    publisher = Publisher(broker, {homes[0].username: homes[0].password})
    started.append(publisher)
    topic = homes[0].topic(homes[0].device("sos").friendly_name)
    payload = b'{"action":"emergency","battery":97,"linkquality":81,"last_seen":"2026-11-26T09:00:00.000Z"}'
    publisher.publish(homes[0].username, topic, payload)
    publisher.publish(homes[0].username, topic, payload)
    publisher.wait_all_acknowledged()
    wait_until(
        lambda: sum(row[0] for row in database.query("SELECT count FROM homecare_bridgecounter")) >= 2,
        timeout=30,
        what="both copies counted",
    )
    assert bridge.terminate() == 0
    assert counts(database)["sos"] == 1
    assert dict(database.query("SELECT reason, count FROM homecare_bridgecounter")) == {
        "ok": 1,
        "duplicate": 1,
    }


@pytest.mark.skipif(
    not os.environ.get("MAIRIE_TEST_DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="needs PostgreSQL (MAIRIE_TEST_DATABASE_URL): SQLite has no server to lose",
)
def test_database_unavailable_for_ten_seconds_no_acknowledged_message_lost(world):
    database, homes, broker, tmp, started = world
    from urllib.parse import urlparse

    target = urlparse(database.url)
    proxy = TcpProxy(target.port or 5432, target.hostname or "127.0.0.1")
    try:
        proxied = Database(
            url=target._replace(netloc=f"{target.username or 'postgres'}@127.0.0.1:{proxy.port}").geturl(),
            kind="postgresql",
            name=database.name,
        )
        bridge = start_bridge(proxied, broker, tmp / "bridge.log", started)
        publisher = Publisher(broker, {home.username: home.password for home in homes})
        started.append(publisher)
        messages = list(telemetry_burst(homes, count=4_000, sos=40, start=START))
        publish_all(publisher, homes, messages[:1_500])
        wait_until(lambda: counts(database)["events"] >= 500, timeout=120, what="500 events")

        proxy.cut()
        outage = threading.Event()
        threading.Timer(10.0, outage.set).start()
        publish_all(publisher, homes, messages[1_500:3_000])
        frozen = counts(database)["events"]
        outage.wait(timeout=15)
        assert counts(database)["events"] == frozen  # nothing got through while the database was away
        proxy.restore()

        publish_all(publisher, homes, messages[3_000:])
        publisher.wait_all_acknowledged()
        wait_until(lambda: counts(database)["events"] >= 4_000, timeout=300, what="all 4,000 events")
        assert bridge.terminate() == 0
        final = counts(database)
        assert final["events"] == 4_000
        assert final["sos"] == 40
        assert "database unavailable" in bridge.log()
        assert counters_at_stop(bridge)["retries"] >= 2
    finally:
        proxy.close()
