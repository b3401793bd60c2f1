"""Homecare — the MQTT bridge: sustained ingestion, alarm latency under load, memory with 10,000 homes.

Everything runs against a Mosquitto started with our shipped configuration (``deploy/mosquitto/``) on a free
loopback port, and the bridge (``manage.py homecare_bridge``) as its own process on PostgreSQL (database
``bench_homecare_bridge``, recreated), with the Redis channel layer (``127.0.0.1:6379``, database 7).

1. Ingestion. Each round queues ``--messages`` Zigbee2MQTT telemetry messages (motion, doors, reports...) from
   ``--homes`` homes in the broker for a subscriber that is away, then lets it drain them: first a paho subscriber
   that does nothing (QoS 1, automatic acknowledgement), then the bridge. Rates are messages per second between
   10 % and 90 % of the drain (the steady state, without start-up); the ratio bridge / raw is taken per round and
   its median reported.
2. Alarm latency. Telemetry flows at half the bridge's measured rate; every ~0.3 s an SOS press is published
   and timed until the console event (``alarm.raised`` on the channel group ``homecare.console.<commune_id>``,
   sent once the alarm is committed) reaches a listener in this process. Median and 99th percentile.
3. Memory. 10,000 homes (bulk-created: one gateway and 14 devices each), a message from every one of them (and
   20 SOS) through the bridge; its resident memory (VmRSS) sampled every half second, the peak (VmHWM) at the end.

    .venv/bin/python bench/homecare_bridge.py [--rounds 3] [--messages 5000] [--homes 100] [--sos 200]
                                               [--memory-homes 10000] [--skip-memory]

To compare the alarm latency of this code with another version's, side by side in one run (the same broker,
database and telemetry, the two bridges taking turns so that the machine's load falls on both alike):

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/homecare_bridge.py --skip-memory --telemetry-rate 900 --latency-against /tmp/before
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT), str(PROJECT / "src")]

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from tests.homecare.mqtt_support import (  # noqa: E402
    BRIDGE_PASSWORD,
    BRIDGE_USER,
    Broker,
    Publisher,
    discard_session,
    wait_until,
)

RESULTS = PROJECT / "bench" / "results"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
DB_NAME = "bench_homecare_bridge"
REDIS = "redis://127.0.0.1:6379/7"
RATIO_GOAL = 0.5
MEDIAN_GOAL_MS = 50.0
P99_GOAL_MS = 250.0
RSS_GOAL_MB = 150.0


def environment(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAIRIE_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="mairie.settings.base",
        MAIRIE_DATABASE_URL=f"{POSTGRES}/{DB_NAME}",
        MAIRIE_REDIS_URL=REDIS,
        MAIRIE_VAR_DIR=str(var_dir),
        MAIRIE_LOG_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join([str(PROJECT / "src"), str(PROJECT)]),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(PROJECT / "manage.py"), *args],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DB_NAME}")


def scalar(sql: str, params: tuple[Any, ...] = ()) -> int:
    """One number from the benchmark's database (its own connection: the bridge is another process)."""
    import psycopg

    with psycopg.connect(f"{POSTGRES}/{DB_NAME}", autocommit=True) as connection:
        row = connection.execute(sql, params).fetchone()
        assert row is not None, sql
        return int(row[0])


def count_events() -> int:
    return scalar("SELECT count(*) FROM homecare_deviceevent")


class _Accepted:
    accepted = True
    reason = "ok"


def null_handler(*, topic: str, payload: bytes, received_at: Any) -> _Accepted:
    """For ``homecare_bridge --handler bench.homecare_bridge.null_handler``: the bridge without ingestion."""
    return _Accepted()


def home_commune(home_id: int) -> int:
    return scalar("SELECT commune_id FROM homecare_home WHERE id = %s", (home_id,))


class Bridge:
    def __init__(
        self,
        env: dict[str, str],
        broker: Broker,
        log: Path,
        client_id: str = "bench-bridge",
        args: tuple[str, ...] = (),
        source: Path | None = None,
    ) -> None:
        self.client_id = client_id
        self.args = args
        # Another checkout's code (its src/ first on the path): the same models, another version of the bridge.
        paths = {"PYTHONPATH": os.pathsep.join([str(source / "src"), str(PROJECT)])} if source else {}
        self.env = environment(
            Path(env["MAIRIE_VAR_DIR"]),
            MAIRIE_MQTT_HOST="127.0.0.1",
            MAIRIE_MQTT_PORT=str(broker.port),
            MAIRIE_MQTT_USERNAME=BRIDGE_USER,
            MAIRIE_MQTT_PASSWORD=BRIDGE_PASSWORD,
            MAIRIE_MQTT_CLIENT_ID=client_id,
            MAIRIE_LOG_LEVEL="INFO",
            **paths,
        )
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> None:
        offset = self.launch()
        self.wait_subscribed(offset)

    def launch(self) -> int:
        """Starts the process without waiting; returns the log's length before it, for ``wait_subscribed``."""
        offset = len(self.log_text())
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    str(PROJECT / "manage.py"),
                    "homecare_bridge",
                    "--log-interval",
                    "3600",
                    *self.args,
                ],
                env=self.env,
                cwd=PROJECT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return offset

    def wait_subscribed(self, offset: int) -> None:
        wait_until(
            lambda: "subscribed to" in self.log_text()[offset:], timeout=120, what="the bridge to subscribe"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def rss_mb(self) -> tuple[float, float]:
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        values = {
            line.split(":")[0]: int(line.split()[1]) / 1024
            for line in status.splitlines()
            if line.startswith("Vm")
        }
        return values["VmRSS"], values["VmHWM"]


def steady_rate(samples: list[tuple[float, int]], total: int) -> float:
    """Messages per second between 10 % and 90 % of ``total`` in ``(time, count)`` samples.

    A drain so fast that one sample saw less than 10 % and the next more than 90 % is measured across those two
    samples instead (a lower bound: the interval holds some of the start or the end); it read 0 before."""
    low_index = next(i for i, s in enumerate(samples) if s[1] >= 0.1 * total)
    high = next(s for s in samples if s[1] >= 0.9 * total)
    low = samples[low_index]
    if low is high and low_index > 0:
        low = samples[low_index - 1]
    return (high[1] - low[1]) / max(high[0] - low[0], 1e-6)


def publish_backlog(broker: Broker, messages: list[Any]) -> None:
    publisher = Publisher(broker, {BRIDGE_USER: BRIDGE_PASSWORD})
    try:
        for message in messages:
            publisher.publish(BRIDGE_USER, message.topic, message.payload)
        publisher.wait_all_acknowledged(timeout=600)
    finally:
        publisher.close()


def raw_drain(broker: Broker, messages: list[Any]) -> float:
    """A paho subscriber that does nothing: how fast the broker delivers a backlog to a QoS 1 client.

    Its session is made first (subscribe, leave), the backlog is published, then it comes back and drains it."""
    received: list[float] = []
    subscribed = threading.Event()
    client_id = f"bench-raw-{uuid.uuid4().hex[:6]}"

    def make() -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        client.username_pw_set(BRIDGE_USER, BRIDGE_PASSWORD)
        client.on_message = lambda c, u, m: received.append(time.perf_counter())
        client.on_connect = lambda c, u, f, rc, p: c.subscribe("zigbee2mqtt/#", 1)
        client.on_subscribe = lambda c, u, mid, codes, p: subscribed.set()
        return client

    first = make()
    first.connect("127.0.0.1", broker.port)
    first.loop_start()
    subscribed.wait(timeout=10)
    first.disconnect()
    first.loop_stop()
    publish_backlog(broker, messages)
    received.clear()
    client = make()
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    wait_until(lambda: len(received) >= len(messages), timeout=600, what="raw drain")
    client.disconnect()
    client.loop_stop()
    discard_session(broker, client_id)
    total = len(messages)
    return (0.8 * total) / (received[int(0.9 * total) - 1] - received[int(0.1 * total) - 1])


def shared_drain(bridges: list[Bridge], total: int) -> tuple[float, list[int]]:
    """Bridges sharing one subscription (``--shared``), all stopped while the backlog was queued, come back
    together and drain it; returns the rate and how many messages each handled."""
    before = [count_handled(bridge.client_id) for bridge in bridges]
    offsets = [bridge.launch() for bridge in bridges]
    for bridge, offset in zip(bridges, offsets, strict=True):
        bridge.wait_subscribed(offset)
    samples = []
    applied = []
    while True:
        each = [count_handled(b.client_id) - n for b, n in zip(bridges, before, strict=True)]
        waiting = count_staged()
        at = time.perf_counter()
        samples.append((at, sum(each)))
        applied.append((at, sum(each) - waiting))
        if sum(each) >= total and waiting == 0:
            break
        for bridge in bridges:
            if bridge.process is None or bridge.process.poll() is not None:
                sys.exit(f"a shared bridge stopped:\n{bridge.log_text()[-3000:]}")
        time.sleep(0.05)
    return steady_rate(samples, total), steady_rate(applied, total), each


def count_handled(bridge: str) -> int:
    return scalar("SELECT coalesce(sum(count), 0) FROM homecare_bridgecounter WHERE bridge = %s", (bridge,))


def count_staged() -> int:
    return scalar("SELECT count(*) FROM homecare_stagedmessage")


def bridge_drain(bridge: Bridge, total: int) -> tuple[float, float]:
    """The bridge (stopped while the backlog was queued) comes back and drains it.

    Returns two rates: messages taken from the broker (committed to the database, staged or applied, and
    acknowledged), and messages applied (events, device states, rules: taken minus still staged)."""
    before = count_handled(bridge.client_id)
    bridge.start()
    taken: list[tuple[float, int]] = []
    applied: list[tuple[float, int]] = []
    while True:
        at = time.perf_counter()
        done = count_handled(bridge.client_id) - before
        waiting = count_staged()
        taken.append((at, done))
        applied.append((at, done - waiting))
        if done >= total and waiting == 0:
            break
        if bridge.process is None or bridge.process.poll() is not None:
            sys.exit(f"the bridge stopped:\n{bridge.log_text()[-3000:]}")
        time.sleep(0.05)  # 0.2 s let a fast drain (the bridge without ingestion) end between two samples
    return steady_rate(taken, total), steady_rate(applied, total)


def sos_behind_backlog(
    args: argparse.Namespace, broker: Broker, homes: list[Any], commune_id: int, bridges: dict[str, Bridge]
) -> dict[str, Any]:
    """A call for help published last, behind a backlog of ``--messages`` telemetry messages, to bridges that
    were away (a bridge restarted, a network cut): time from the bridge's first committed message to the alarm's
    console event, and to the whole backlog applied. Each bridge drains a backlog of its own, of the same size
    (the same messages twice would be duplicates to the second), with only its session on the broker."""
    from mairie.homecare.simulator import last_seen, telemetry_burst

    for bridge in bridges.values():  # no session: each gets one just before its own backlog
        discard_session(broker, bridge.client_id)
    listener = ConsoleListener(commune_id)
    found: dict[str, list[dict[str, float]]] = {name: [] for name in bridges}
    try:
        for round_number in range(1, args.rounds + 1):
            home = homes[round_number % len(homes)]
            sos_topic = home.topic(home.device("sos").friendly_name)
            for offset, (name, bridge) in enumerate(bridges.items()):
                # Only this bridge has a session while its backlog (distinct messages, same size) is queued.
                bridge.start()
                bridge.stop()
                start = datetime.now(UTC) + timedelta(days=10 + 2 * round_number + offset)
                messages = list(
                    telemetry_burst(homes, count=args.messages, sos=0, start=start, seed=50 + round_number)
                )
                sos_payload = json.dumps(
                    {"action": "emergency", "last_seen": last_seen(start + timedelta(hours=1))}
                )
                publisher = Publisher(broker, {BRIDGE_USER: BRIDGE_PASSWORD})
                try:
                    for message in messages:
                        publisher.publish(BRIDGE_USER, message.topic, message.payload)
                    publisher.publish(BRIDGE_USER, sos_topic, sos_payload.encode())
                    publisher.wait_all_acknowledged(timeout=600)
                finally:
                    publisher.close()
                with listener.condition:
                    listener.events.clear()
                before = count_handled(bridge.client_id)
                launched = time.perf_counter()
                bridge.launch()
                began = alarm_at = None
                while True:
                    now = time.perf_counter()
                    done = count_handled(bridge.client_id) - before
                    if began is None and done > 0:
                        began = now
                    if alarm_at is None:
                        event = listener.wait_for(
                            lambda m, h=home: (
                                m.get("event") == "alarm.raised" and m.get("home_id") == h.home_id
                            ),
                            timeout=0.01,
                        )
                        alarm_at = event[0] if event else None
                    if alarm_at is not None and done >= len(messages) + 1 and count_staged() == 0:
                        break
                    if bridge.process is None or bridge.process.poll() is not None:
                        sys.exit(f"the bridge stopped:\n{bridge.log_text()[-3000:]}")
                    if time.perf_counter() - launched > 600:
                        sys.exit(f"{name}: no alarm, or the backlog not applied, after 10 minutes")
                    time.sleep(0.01)
                assert began is not None
                found[name].append(
                    {
                        "alarm_ms": (alarm_at - began) * 1000,
                        "alarm_from_launch_ms": (alarm_at - launched) * 1000,
                        "all_applied_ms": (time.perf_counter() - began) * 1000,
                    }
                )
                bridge.stop()
                print(
                    f"  SOS behind {len(messages)} messages, {name}: alarm after "
                    f"{found[name][-1]['alarm_ms']:.0f} ms, all applied after {found[name][-1]['all_applied_ms']:.0f} ms"
                )
                discard_session(broker, bridge.client_id)
    finally:
        listener.stopping = True
    summary: dict[str, Any] = {"messages": args.messages}
    for name, rounds in found.items():
        summary[name] = {
            "alarm_ms": [round(r["alarm_ms"], 1) for r in rounds],
            "median_alarm_ms": round(statistics.median(r["alarm_ms"] for r in rounds), 1),
            "median_alarm_from_launch_ms": round(
                statistics.median(r["alarm_from_launch_ms"] for r in rounds), 1
            ),
            "median_all_applied_ms": round(statistics.median(r["all_applied_ms"] for r in rounds), 1),
        }
    summary["alarm_ratio"] = round(
        summary["staging"]["median_alarm_ms"] / summary["without_staging"]["median_alarm_ms"], 3
    )
    return summary


class ConsoleListener:
    """Listens to ``homecare.console.<commune_id>`` on Redis, in its own thread and event loop."""

    def __init__(self, commune_id: int) -> None:
        self.group = f"homecare.console.{commune_id}"
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.ready = threading.Event()
        self.stopping = False
        self.condition = threading.Condition()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.thread.start()
        self.ready.wait(timeout=10)

    async def _run(self) -> None:
        from channels_redis.core import RedisChannelLayer

        layer = RedisChannelLayer(hosts=[REDIS])
        channel = await layer.new_channel()
        await layer.group_add(self.group, channel)
        self.ready.set()
        while not self.stopping:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=0.5)
            except TimeoutError:
                continue
            with self.condition:
                self.events.append((time.perf_counter(), message))
                self.condition.notify_all()
        await layer.group_discard(self.group, channel)

    def wait_for(self, predicate: Any, timeout: float) -> tuple[float, dict[str, Any]] | None:
        deadline = time.monotonic() + timeout
        with self.condition:
            while True:
                for at, message in self.events:
                    if predicate(message):
                        return at, message
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.condition.wait(timeout=left)


def latency(
    bridge: Bridge, broker: Broker, homes: list[Any], commune_id: int, *, rate: float, presses: int
) -> list[float]:
    from mairie.homecare.simulator import last_seen, telemetry_burst

    listener = ConsoleListener(commune_id)
    telemetry = Publisher(broker, {BRIDGE_USER: BRIDGE_PASSWORD})
    stop = threading.Event()

    def flow() -> None:
        start = datetime.now(UTC) + timedelta(days=30)
        stream = telemetry_burst(homes, count=10_000_000, sos=0, start=start, seed=99)
        began = time.perf_counter()
        for sent, message in enumerate(stream):
            if stop.is_set():
                return
            ahead = sent / rate - (time.perf_counter() - began)
            if ahead > 0:
                time.sleep(ahead)
            telemetry.publish(BRIDGE_USER, message.topic, message.payload)

    flowing = threading.Thread(target=flow, daemon=True)
    flowing.start()
    time.sleep(3)
    sos = Publisher(broker, {BRIDGE_USER: BRIDGE_PASSWORD})
    results = []
    try:
        for n in range(presses + 10):
            home = homes[n % len(homes)]
            topic = home.topic(home.device("sos").friendly_name)
            payload = json.dumps(
                {
                    "action": "emergency",
                    "battery": 100,
                    "linkquality": 90,
                    "last_seen": last_seen(datetime.now(UTC)),
                }
            ).encode()
            with listener.condition:
                listener.events.clear()
            published = time.perf_counter()
            sos.publish(BRIDGE_USER, topic, payload)
            found = listener.wait_for(
                lambda m, h=home: m.get("event") == "alarm.raised" and m.get("home_id") == h.home_id,
                timeout=15,
            )
            if n < 10:  # warm-up
                continue
            if found is None:  # counted as a 15 s latency, and said
                print(f"  no console event for SOS {n} within 15 s")
                results.append(15_000.0)
            else:
                results.append((found[0] - published) * 1000)
            time.sleep(0.3)
    finally:
        stop.set()
        flowing.join(timeout=10)
        listener.stopping = True
        telemetry.close()
        sos.close()
    return results


def latency_summary(
    bridge: Bridge, broker: Broker, homes: list[Any], commune_id: int, *, rate: float, presses: int
) -> dict[str, Any]:
    return summarise(latency(bridge, broker, homes, commune_id, rate=rate, presses=presses), rate=rate)


def latency_taking_turns(
    bridges: dict[str, Bridge],
    broker: Broker,
    homes: list[Any],
    commune_id: int,
    *,
    rate: float,
    presses: int,
    turns: int = 4,
) -> dict[str, dict[str, Any]]:
    """The latency of each bridge, ``presses`` each, in ``turns`` alternating parts (one session at a time: two
    bridges subscribed together would both take every message)."""
    latencies: dict[str, list[float]] = {name: [] for name in bridges}
    for turn in range(turns):
        for name, bridge in bridges.items():
            bridge.start()
            part = presses // turns + (1 if turn < presses % turns else 0)
            latencies[name] += latency(bridge, broker, homes, commune_id, rate=rate, presses=part)
            staged = count_staged()
            bridge.stop()
            discard_session(broker, bridge.client_id)
            print(
                f"  turn {turn + 1}/{turns}, {name}: {summarise(latencies[name], rate=rate, staged=staged)}"
            )
    return {name: summarise(values, rate=rate) for name, values in latencies.items()}


def summarise(values: list[float], *, rate: float, staged: int | None = None) -> dict[str, Any]:
    latencies = sorted(values)
    return {
        "telemetry_rate": round(rate, 1),
        "presses": len(latencies),
        "median_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 1),
        "p95_ms": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 1),
        "late": sum(1 for value in latencies if value >= 15_000),
        "max_ms": round(latencies[-1], 1),
        # Taken in but not applied when the telemetry stopped: 0 when the bridge kept up with it.
        "staged_at_end": count_staged() if staged is None else staged,
    }


def bulk_homes(count: int, env: dict[str, str]) -> tuple[list[Any], int]:
    """``count`` homes with a gateway and the simulator's 14 devices each, bulk-inserted (setup, not measured)."""
    os.environ.update({k: v for k, v in env.items() if k.startswith(("MAIRIE_", "DJANGO_"))})
    import django

    django.setup()
    from django_scopes import scopes_disabled

    from mairie.core.models import Commune, User
    from mairie.homecare.models import Device, Gateway, Home
    from mairie.homecare.simulator import HOME_DEVICES, SimulatedHome

    with scopes_disabled():
        commune, _ = Commune.objects.get_or_create(
            slug="bench-memoire", defaults={"name": "Bench mémoire", "insee_code": "99777"}
        )
        resident, _ = User.objects.get_or_create(username="bench-resident", defaults={"first_name": "Bench"})
        Home.objects.bulk_create(
            [Home(commune=commune, resident=resident, label=f"Maison {n}") for n in range(count)],
            batch_size=5000,
        )
        homes = list(Home.objects.filter(commune=commune).order_by("pk").values_list("pk", flat=True))
        Gateway.objects.bulk_create(
            [
                Gateway(
                    commune=commune,
                    home_id=pk,
                    mqtt_username=f"{commune.slug}/{pk}",
                    base_topic=f"zigbee2mqtt/{commune.slug}/{pk}",
                    teleinfo_topic=f"teleinfo/{commune.slug}/{pk}",
                )
                for pk in homes
            ],
            batch_size=5000,
        )
        gateways = dict(Gateway.objects.filter(commune=commune).values_list("home_id", "pk"))
        devices = [
            Device(
                commune=commune,
                home_id=pk,
                gateway_id=gateways[pk],
                friendly_name=spec.friendly_name,
                kind=spec.kind,
                room=spec.room,
            )
            for pk in homes
            for spec in HOME_DEVICES
        ]
        Device.objects.bulk_create(devices, batch_size=10_000)
    simulated = [
        SimulatedHome(
            home_id=pk,
            base_topic=f"zigbee2mqtt/{commune.slug}/{pk}",
            teleinfo_topic=f"teleinfo/{commune.slug}/{pk}",
            adco="",
        )
        for pk in homes
    ]
    return simulated, commune.pk


def memory(bridge: Bridge, broker: Broker, homes: list[Any]) -> dict[str, float]:
    from mairie.homecare.simulator import telemetry_burst

    start = datetime.now(UTC) + timedelta(days=60)
    messages = list(telemetry_burst(homes, count=len(homes), sos=20, start=start, seed=5))
    before = count_events()
    samples: list[float] = []
    publishing = threading.Thread(target=publish_backlog, args=(broker, messages), daemon=True)
    publishing.start()
    while count_events() - before < len(messages):
        samples.append(bridge.rss_mb()[0])
        time.sleep(0.5)
    publishing.join(timeout=60)
    rss, peak = bridge.rss_mb()
    return {
        "rss_mb": round(rss, 1),
        "peak_mb": round(peak, 1),
        "median_rss_mb": round(statistics.median(samples), 1),
    }


def shared_rounds(
    args: argparse.Namespace,
    env: dict[str, str],
    broker: Broker,
    var_dir: Path,
    homes: list[Any],
    others: tuple[Bridge, ...],
) -> dict[str, Any]:
    """``--shared-bridges`` processes in one shared group, each round side by side with a raw subscriber."""
    from mairie.homecare.simulator import telemetry_burst

    for other in others:  # their sessions would queue these backlogs too
        discard_session(broker, other.client_id)
    group = [
        Bridge(env, broker, var_dir / f"shared-{n}.log", client_id=f"bench-shared-{n}", args=("--shared",))
        for n in range(1, args.shared_bridges + 1)
    ]
    for process in group:  # their sessions (one shared subscription) exist from now on
        process.start()
        process.stop()
    raws, rates, applied, ratios, applied_ratios, splits = [], [], [], [], [], []
    try:
        for round_number in range(1, args.rounds + 1):
            start = datetime.now(UTC) + timedelta(days=100 + round_number)
            messages = list(
                telemetry_burst(homes, count=args.messages, sos=0, start=start, seed=100 + round_number)
            )
            raw = raw_drain(broker, messages)
            rate, rate_applied, split = shared_drain(group, len(messages))
            for process in group:
                process.stop()
            raws.append(raw)
            rates.append(rate)
            applied.append(rate_applied)
            ratios.append(rate / raw)
            applied_ratios.append(rate_applied / raw)
            splits.append(split)
            print(
                f"  shared round {round_number}/{args.rounds}: raw {raw:.0f}/s, {len(group)} bridges {rate:.0f}/s "
                f"taken (each: {split}), ratio {rate / raw:.3f}; {rate_applied:.0f}/s applied, "
                f"ratio {rate_applied / raw:.3f}"
            )
    finally:
        for process in group:
            process.stop()
            discard_session(broker, process.client_id)
    return {
        "bridges": len(group),
        "raw_rates": [round(x, 1) for x in raws],
        "shared_rates": [round(x, 1) for x in rates],
        "messages_per_bridge": splits,
        "ratios": [round(x, 4) for x in ratios],
        "median_raw": round(statistics.median(raws), 1),
        "median_shared": round(statistics.median(rates), 1),
        "median_ratio": round(statistics.median(ratios), 4),
        "applied_rates": [round(x, 1) for x in applied],
        "median_applied": round(statistics.median(applied), 1),
        "median_applied_ratio": round(statistics.median(applied_ratios), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--homes", type=int, default=100)
    parser.add_argument("--sos", type=int, default=200)
    parser.add_argument("--memory-homes", type=int, default=10_000)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--skip-latency", action="store_true", help="only the ingestion rounds (and the shared ones)"
    )
    parser.add_argument(
        "--latency-without-staging",
        action="store_true",
        help="after the latency phase, the same with a bridge run with --no-staging, side by side",
    )
    parser.add_argument(
        "--latency-against",
        type=Path,
        metavar="CHECKOUT",
        help="instead of the latency phase, this code's bridge and the one of another checkout (a git worktree "
        "of an earlier commit) taking turns, side by side",
    )
    parser.add_argument(
        "--shared-bridges",
        type=int,
        default=2,
        help="after the rounds, this many bridge processes sharing the subscription (--shared) drain a backlog "
        "of the same size, side by side with the raw subscriber (0 or 1: skip)",
    )
    parser.add_argument(
        "--telemetry-rate",
        type=float,
        help="skip the ingestion rounds; telemetry at this rate during latency",
    )
    args = parser.parse_args()

    from mairie.homecare.simulator import SimulatedHome, telemetry_burst

    var_dir = Path(f"/tmp/mairie-bench-bridge-{os.getpid()}")
    var_dir.mkdir(parents=True, exist_ok=True)
    env = environment(var_dir)
    print(f"database {DB_NAME}: migrate, {args.homes} homes")
    recreate_database()
    manage(env, "migrate", "--noinput")
    output = manage(
        env, "homecare_simulate", "--setup-only", "--json", "--simulated-only", "--homes", str(args.homes)
    )
    homes = [SimulatedHome.from_json(item) for item in json.loads(output.strip().splitlines()[-1])["homes"]]
    commune_id = home_commune(homes[0].home_id)
    broker = Broker({}).start()
    bridge = Bridge(env, broker, var_dir / "bridge.log")
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }
    try:
        null = Bridge(
            env,
            broker,
            var_dir / "null.log",
            client_id="bench-bridge-null",
            args=("--handler", "bench.homecare_bridge.null_handler"),
        )
        direct = Bridge(
            env, broker, var_dir / "direct.log", client_id="bench-bridge-direct", args=("--no-staging",)
        )
        # Their sessions exist from now on; they stay away while backlogs build. (The bridge without staging
        # comes later, with backlogs of its own: the same messages twice would be mere duplicates to it.)
        for process in (bridge, null):
            process.start()
            process.stop()
        raws, bridges, applied, nulls, ratios, applied_ratios = [], [], [], [], [], []
        for round_number in range(1, 0 if args.telemetry_rate else args.rounds + 1):
            start = datetime.now(UTC) + timedelta(days=round_number)
            messages = list(
                telemetry_burst(homes, count=args.messages, sos=0, start=start, seed=round_number)
            )
            raw = raw_drain(broker, messages)  # the same backlog waits for both bridges meanwhile
            ours, ours_applied = bridge_drain(bridge, len(messages))
            bridge.stop()
            empty, _ = bridge_drain(null, len(messages))
            null.stop()
            raws.append(raw)
            bridges.append(ours)
            applied.append(ours_applied)
            nulls.append(empty)
            ratios.append(ours / raw)
            applied_ratios.append(ours_applied / raw)
            print(
                f"  round {round_number}/{args.rounds}: raw {raw:.0f}/s, bridge {ours:.0f}/s taken "
                f"(ratio {ours / raw:.3f}), {ours_applied:.0f}/s applied (ratio {ours_applied / raw:.3f}), "
                f"bridge without ingestion {empty:.0f}/s"
            )
        if args.shared_bridges > 1 and not args.telemetry_rate:
            result["shared"] = shared_rounds(args, env, broker, var_dir, homes, (bridge, null))
        if bridges:
            result["ingestion"] = {
                "messages": args.messages,
                "homes": args.homes,
                "raw_rates": [round(x, 1) for x in raws],
                "bridge_rates": [round(x, 1) for x in bridges],
                "null_handler_rates": [round(x, 1) for x in nulls],
                "median_null_handler": round(statistics.median(nulls), 1),
                "null_handler_ratio": round(statistics.median(nulls) / statistics.median(raws), 4),
                "ratios": [round(x, 4) for x in ratios],
                "median_raw": round(statistics.median(raws), 1),
                "median_bridge": round(statistics.median(bridges), 1),
                "median_ratio": round(statistics.median(ratios), 4),
                "applied_rates": [round(x, 1) for x in applied],
                "median_applied": round(statistics.median(applied), 1),
                "applied_ratios": [round(x, 4) for x in applied_ratios],
                "median_applied_ratio": round(statistics.median(applied_ratios), 4),
            }
        discard_session(broker, null.client_id)
        if args.skip_latency:
            return finish(result)
        if not args.telemetry_rate:
            result["sos_behind_backlog"] = sos_behind_backlog(
                args, broker, homes, commune_id, {"staging": bridge, "without_staging": direct}
            )
        # Half of what the bridge can keep up with: the applied rate (what it takes in faster is staged).
        rate = args.telemetry_rate or 0.5 * statistics.median(applied)
        if args.latency_against:
            other = Bridge(
                env,
                broker,
                var_dir / "other.log",
                client_id="bench-bridge-other",
                source=args.latency_against,
            )
            print(f"latency: {args.sos} SOS each, this bridge and {args.latency_against}'s, at {rate:.0f}/s")
            result["latency_side_by_side"] = {
                "other": str(args.latency_against),
                **latency_taking_turns(
                    {"this": bridge, "other": other}, broker, homes, commune_id, rate=rate, presses=args.sos
                ),
            }
            print(f"  {result['latency_side_by_side']}")
            return finish(result)  # a comparison: the memory phase is this bridge's alone
        bridge.start()
        print(f"latency: {args.sos} SOS while telemetry flows at {rate:.0f}/s")
        result["latency"] = latency_summary(bridge, broker, homes, commune_id, rate=rate, presses=args.sos)
        print(f"  staging: {result['latency']}")
        if args.latency_without_staging:
            # The same, side by side, with the bridge that never stages (only one session at a time).
            bridge.stop()
            discard_session(broker, bridge.client_id)
            direct.start()
            result["latency_without_staging"] = latency_summary(
                direct, broker, homes, commune_id, rate=rate, presses=args.sos
            )
            print(f"  without staging: {result['latency_without_staging']}")
            direct.stop()
            discard_session(broker, direct.client_id)
            bridge.start()
        if not args.skip_memory:
            bridge.stop()
            print(f"memory: {args.memory_homes} homes")
            many, _ = bulk_homes(args.memory_homes, env)
            bridge.start()
            result["memory"] = {"homes": args.memory_homes, **memory(bridge, broker, many)}
            print(f"  {result['memory']}")
    finally:
        bridge.stop()
        broker.close()
    finish(result)


def finish(result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"homecare-bridge-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"results: {path}")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
