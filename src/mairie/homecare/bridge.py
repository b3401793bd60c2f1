"""The MQTT bridge: gateways' messages in, committed events and alarms out, acknowledged only once committed.

One process (``manage.py homecare_bridge``), two threads:

- paho's network thread (``loop_start``) keeps the connection alive (pings, reconnection with back-off) and only
  puts each received message on an in-memory queue; it never touches the database.
- the main thread takes the messages in order (what may be a call for help first: see ``Bridge.receive``), in
  batches (up to ``--batch-size``, 100 by default), and hands each batch to
  ``mairie.homecare.services.ingest.ingest_batch`` inside one transaction, with the bridge's counters in the same
  transaction. Only after that transaction has committed does it acknowledge the batch's
  messages to the broker (``client.ack(mid, qos)``, paho 2.x ``manual_ack=True``). A handler of one message at a
  time (``--handler``, the tests' recorders) is called for each message instead, in the same transaction.

What this gives, with a persistent session (``clean_session=False``, fixed client id) and QoS 1:

- a message whose effect is not committed is never acknowledged, so the broker delivers it again after a crash,
  a SIGKILL or a lost connection (with DUP set), and the handler's deduplication key makes the repeat harmless;
- database errors (``OperationalError``/``InterfaceError``: server gone, connection refused, locked) roll the batch
  back, close the connection, wait (exponential back-off) and retry the *same* messages in the same order, for as
  long as it takes; the broker keeps everything else queued meanwhile (``max_queued_messages``);
- payloads the handler refuses (malformed, unknown device, another home's topic...) are counted by reason and
  acknowledged: they will never succeed;
- a handler that raises something else (a bug) for one message does not block the stream nor lose the message:
  the batch is rolled back and run again one message at a time, each in a savepoint; the message that fails is
  kept whole in ``BridgeDeadLetter`` (same transaction), counted as ``error``, and acknowledged.

Acknowledgements are sent from the main thread: paho queues the PUBACK packet on a deque and wakes its network
thread through a socket pair (the same path as ``publish()`` from another thread). A message id is only valid on
the connection that delivered it: after a reconnection the broker sends unacknowledged messages again, possibly
reusing ids for other messages, so an acknowledgement for a message received on an older connection is never
sent (the message is still processed; its repeat is deduplicated and acknowledged).
"""

from __future__ import annotations

import itertools
import logging
import queue
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.utils import timezone
from paho.mqtt.enums import CallbackAPIVersion

from mairie.homecare.payloads import MAX_PAYLOAD_BYTES

log = logging.getLogger("mairie.homecare.bridge")

TOPICS = ("zigbee2mqtt/#", "teleinfo/#")
SHARED_GROUP = "mairie-bridge"
# Never subscribed: unsubscribing from it is a round trip that changes nothing (see _flush_acknowledgements).
FLUSH_TOPIC = "mairie/bridge/flush"
TRANSIENT_DATABASE_ERRORS = (OperationalError, InterfaceError)
# Counter names the bridge adds to the handler's drop reasons.
ACCEPTED = "ok"
ERROR = "error"
BAD_TOPIC = "malformed"
# Received, committed and acknowledged, not yet applied: the counter goes down as staged messages are applied
# (under the name of the bridge that staged them), so a bridge's counters still add up to what it received.
STAGED = "staged"
# Places in the bridge's queue: calls for help before everything else, the rest in the order received.
URGENT, IN_ORDER = 0, 1
# A transaction stops for a call for help that arrived meanwhile only after this many messages: a stream of them
# (a fire setting off every detector, a faulty pendant) still leaves room for the rest.
APPLIED_BEFORE_STOPPING = 10


class _RetryCarefully(Exception):
    """A handler hit a database error that is not transient: run the batch again, a savepoint per message."""


class Outcome(Protocol):
    accepted: bool
    reason: str


class Handler(Protocol):
    def __call__(self, *, topic: str, payload: bytes, received_at: datetime) -> Outcome: ...


class BatchHandler(Protocol):
    """Applies messages in order; with ``stop_after_alarm``, returns the outcomes of a prefix that ends with the
    first message that raised an alarm (the bridge commits it and sends the rest again); with ``stop_when``
    (given only when the bridge needs it), the outcomes of a prefix that ends as soon as it returns true."""

    def __call__(
        self,
        messages: Sequence[Received],
        *,
        stop_after_alarm: bool = ...,
        stop_when: Callable[[], bool] | None = ...,
    ) -> Sequence[Outcome]: ...


def default_handler() -> Handler:
    from mairie.homecare.services.ingest import ingest_message

    return ingest_message


def default_batch_handler() -> BatchHandler:
    from mairie.homecare.services.ingest import ingest_batch

    return ingest_batch


@dataclass(frozen=True)
class BridgeConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str = ""
    password: str = ""
    client_id: str = "mairie-bridge-1"
    shared: bool = False
    keepalive: int = 60
    tls: bool = False
    ca_file: str = ""
    batch_size: int = 100
    # While behind (a backlog in the queue, or rows already staged), messages are staged instead of applied:
    # see mairie.homecare.staging. Only with the ingestion's batch handler (a test's handler sees every message).
    staging: bool = True
    stage_batch_size: int = 1000
    # Applying a chunk holds back what arrives meanwhile (a call for help included): as long as a batch.
    apply_batch_size: int = 200
    apply_interval_s: float = 5.0
    # How often a bridge that is caught up looks for rows another bridge staged and left (it stopped for good).
    staged_check_s: float = 30.0
    retry_initial_s: float = 0.2
    retry_max_s: float = 5.0
    log_interval_s: float = 60.0

    @classmethod
    def from_settings(cls, **overrides: Any) -> BridgeConfig:
        values: dict[str, Any] = {
            "host": getattr(settings, "HOMECARE_MQTT_HOST", cls.host),
            "port": getattr(settings, "HOMECARE_MQTT_PORT", cls.port),
            "username": getattr(settings, "HOMECARE_MQTT_USERNAME", cls.username),
            "password": getattr(settings, "HOMECARE_MQTT_PASSWORD", cls.password),
            "client_id": getattr(settings, "HOMECARE_MQTT_CLIENT_ID", cls.client_id),
            "tls": getattr(settings, "HOMECARE_MQTT_TLS", cls.tls),
            "ca_file": getattr(settings, "HOMECARE_MQTT_CA_FILE", cls.ca_file),
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    def subscriptions(self) -> list[str]:
        if self.shared:
            return [f"$share/{SHARED_GROUP}/{topic}" for topic in TOPICS]
        return list(TOPICS)


@dataclass(frozen=True)
class Received:
    """A message as the network thread hands it over: ``topic`` is None when it was not valid UTF-8."""

    topic: str | None
    payload: bytes
    mid: int
    qos: int
    dup: bool
    connection: int
    received_at: datetime


@dataclass
class Counters:
    """What the bridge did since it started (per reason), and what is not yet written to the database."""

    total: Counter[str] = field(default_factory=Counter)
    acked: int = 0
    redelivered: int = 0
    retries: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            **dict(sorted(self.total.items())),
            "acked": self.acked,
            "redelivered": self.redelivered,
            "retries": self.retries,
        }


class _Committed(NamedTuple):
    counts: Counter[str]
    handled: int  # messages of the batch the transaction held (a prefix when it stopped early)
    claimed: int = 0  # staged rows it claimed to apply (``handled`` of them were applied and deleted)


def _from_staged(row: Any) -> Received:
    """A staged row as a received message that is never acknowledged (it was, when it was staged)."""
    return Received(
        topic=row.topic,
        payload=row.payload,
        mid=0,
        qos=0,
        dup=False,
        connection=-1,
        received_at=row.received_at,
    )


def record_batch_counts(*, bridge: str, counts: Counter[str]) -> None:
    """Adds the batch's counts to the bridge's rows, inside the batch's transaction (swappable in tests)."""
    from mairie.homecare.bridge_stats import add_counts

    add_counts(bridge=bridge, counts=counts)


def keep_dead_letter(*, bridge: str, message: Received, error: str) -> None:
    from mairie.homecare.bridge_stats import keep_dead_letter as keep

    keep(
        bridge=bridge,
        topic=message.topic or "",
        payload=message.payload,
        error=error,
        received_at=message.received_at,
    )


class Bridge:
    def __init__(
        self,
        config: BridgeConfig,
        *,
        handler: Handler | None = None,
        batch_handler: BatchHandler | None = None,
        record_counts: Callable[..., None] | None = record_batch_counts,
        dead_letter: Callable[..., None] = keep_dead_letter,
    ) -> None:
        self.config = config
        self._handler = handler
        # Batches go to ingest_batch unless a handler of single messages was given.
        self._batch_handler = batch_handler
        self._batches = handler is None or batch_handler is not None
        self._record_counts = record_counts
        self._dead_letter = dead_letter
        self.counters = Counters()
        self.stop_requested = threading.Event()
        self.connected = threading.Event()
        # Set once the broker has acknowledged our subscriptions on the current connection (SUBACK): from then on
        # it routes the gateways' topics to us (the health check and the tests wait for it).
        self.subscribed = threading.Event()
        self._disconnected = threading.Event()
        self._unsubacks = threading.Condition()
        self._unsubacked: set[int] = set()
        # Bounded: Mosquitto 2.0.11 does not hold to max_inflight_messages once acknowledgements flow (each PUBACK
        # releases up to that many queued messages), so a backlog would otherwise all land in this process.
        # When full, the network thread waits here, stops reading, and TCP holds the broker back.
        # (place, arrival number, message): what may be a call for help is taken before the rest (see receive).
        self._inbox: queue.PriorityQueue[tuple[int, int, Received]] = queue.PriorityQueue(
            maxsize=max(1000, 4 * config.batch_size, config.stage_batch_size)
        )
        self._arrivals = itertools.count()
        self._may_call_for_help: Callable[..., bool] | None = None
        # Whether staged rows may be waiting (true at start: a bridge that stopped may have left some).
        self._staged_waiting = True
        self._last_apply = 0.0
        self._apply_not_before = 0.0
        self._apply_delay = 0.0
        # Guards the connection number and the connected flag against acknowledgements sent meanwhile.
        self._connection_lock = threading.Lock()
        self._connection = 0
        self._session_resumed = False
        self._last_log = time.monotonic()
        self.client = self._make_client()

    # --- MQTT side (network thread) ---------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.config.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if self.config.username:
            client.username_pw_set(self.config.username, self.config.password or None)
        if self.config.tls:
            client.tls_set(ca_certs=self.config.ca_file or None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        return client

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, props: Any
    ) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        with self._connection_lock:
            self._connection += 1
            self._session_resumed = bool(flags.session_present)
            self.connected.set()
            self._disconnected.clear()
        if not flags.session_present:
            # First start with this client id, or the broker lost its state (persistence off?): whatever it held
            # for us before is gone. Logged loudly because in steady state it must never happen.
            log.warning("connected to %s:%s without a stored session", self.config.host, self.config.port)
        else:
            log.info("connected to %s:%s, session resumed", self.config.host, self.config.port)
        client.subscribe([(topic, 1) for topic in self.config.subscriptions()])

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, props: Any
    ) -> None:
        with self._connection_lock:
            self._connection += 1
            self.connected.clear()
            self.subscribed.clear()
            self._disconnected.set()
        if not self.stop_requested.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, codes: list[Any], props: Any
    ) -> None:
        refused = False
        for topic, code in zip(self.config.subscriptions(), codes, strict=False):
            if code.is_failure:
                refused = True
                log.error("subscription to %s refused by the broker (%s): check its ACL", topic, code)
        if not refused:
            log.info("subscribed to %s", ", ".join(self.config.subscriptions()))
            self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Runs in paho's thread: an exception here would end that thread, so nothing may raise.
        try:
            try:
                topic: str | None = message.topic
            except UnicodeDecodeError:
                topic = None
            self.receive(
                Received(
                    topic=topic,
                    payload=bytes(message.payload),
                    mid=message.mid,
                    qos=message.qos,
                    dup=bool(message.dup),
                    connection=self._connection,
                    received_at=timezone.now(),
                )
            )
        except Exception:
            log.exception("could not queue a received message (it stays unacknowledged)")

    def receive(self, received: Received) -> None:
        """Queues a received message for the main thread (paho's thread calls it; tests too).

        With the ingestion's batch handler, what may be a call for help, a fall, smoke or a leak
        (``ingest.may_call_for_help``, on its topic and payload) goes ahead of everything queued, and the batch
        being applied meanwhile stops once it has applied ``APPLIED_BEFORE_STOPPING`` messages (``stop_when``)
        and commits what it has done: the alarm never waits for a batch of telemetry, only for a few messages.
        The rules go by each message's own time, so an older report applied after it changes nothing newer (as
        with staging)."""
        place = IN_ORDER
        if received.topic is not None and self._urgency(received.payload, received.topic):
            place = URGENT
        item = (place, next(self._arrivals), received)
        while not self.stop_requested.is_set():
            try:
                self._inbox.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        # Stopping: the message stays unacknowledged, the broker delivers it again next time.

    def _urgency(self, payload: bytes, topic: str) -> bool:
        if self.batch_handler is None:
            return False  # a handler of single messages (the tests' recorders) sees every message in order
        if len(payload) > MAX_PAYLOAD_BYTES:
            return False  # refused as too large, whatever it says
        if self._may_call_for_help is None:
            from mairie.homecare.services.ingest import may_call_for_help

            self._may_call_for_help = may_call_for_help
        try:
            return self._may_call_for_help(payload, topic, unreadable=False)
        except Exception:  # in paho's thread: never raise; in doubt, first
            log.exception("could not judge whether a message is a call for help; taken first")
            return True

    def _stop_for_calls_for_help(self) -> Callable[[], bool]:
        """``stop_when`` for one transaction: a call for help is waiting, and it has applied enough already."""
        applied = itertools.count(1)
        return lambda: next(applied) >= APPLIED_BEFORE_STOPPING and self._urgent_waiting()

    def _urgent_waiting(self) -> bool:
        """Whether a message that may be a call for help is waiting (the queue's head is its smallest item;
        read without the queue's lock, as only this thread takes from it: at worst a turn late)."""
        waiting = self._inbox.queue
        return bool(waiting) and waiting[0][0] == URGENT

    # --- Processing side (main thread) ------------------------------------------------------------------------

    @property
    def handler(self) -> Handler:
        if self._handler is None:
            self._handler = default_handler()
        return self._handler

    @property
    def batch_handler(self) -> BatchHandler | None:
        """The handler of whole batches, or None when messages go one by one to ``handler``."""
        if self._batch_handler is None and self._batches:
            self._batch_handler = default_batch_handler()
        return self._batch_handler

    def start(self) -> None:
        """Connect in the background; paho retries by itself until the broker answers."""
        self.client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive)
        self.client.loop_start()

    def run(self, *, until: Callable[[], bool] | None = None) -> None:
        """Process messages until ``stop()`` (SIGTERM) or ``until()`` is true, then disconnect."""
        self.start()
        try:
            while not self.stop_requested.is_set() and not (until and until()):
                self.process_next(timeout=0.2)
                self._log_periodically()
        finally:
            self.close()

    def stop(self) -> None:
        self.stop_requested.set()

    def close(self) -> None:
        """Messages received but not yet processed stay unacknowledged: the broker keeps them for next time."""
        self.stop_requested.set()
        try:
            if self.connected.is_set():
                self._flush_acknowledgements(timeout=5)
                self.client.disconnect()
                self._disconnected.wait(timeout=5)
        finally:
            self.client.loop_stop()
        log.info("bridge stopped: %s", self.counters.as_dict())

    def _flush_acknowledgements(self, *, timeout: float) -> None:
        """Waits until the broker has read the acknowledgements sent so far.

        Closing the socket while the broker is still sending to us makes the kernel answer with a reset, and a
        reset makes the broker drop what it had not read yet from us: the last PUBACKs. An UNSUBSCRIBE of a
        topic we never subscribed to changes nothing in the session, and the broker answers it only after
        reading everything sent before it on this connection.
        """
        result, mid = self.client.unsubscribe(FLUSH_TOPIC)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            return
        with self._unsubacks:
            if not self._unsubacks.wait_for(lambda: mid in self._unsubacked, timeout=timeout):
                log.warning(
                    "the broker did not confirm the last acknowledgements; they may come back as duplicates"
                )

    def _on_unsubscribe(self, client: mqtt.Client, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        with self._unsubacks:
            self._unsubacked.add(mid)
            self._unsubacks.notify_all()

    @property
    def stages(self) -> bool:
        return self.config.staging and self.batch_handler is not None

    def process_next(self, *, timeout: float) -> int:
        """Processes one batch of received messages and acknowledges it; returns its size.

        Caught up, it waits up to ``timeout`` for messages and applies them. Behind (a backlog queued here, or
        staged rows waiting), it stages what has arrived and, unless a batch or more is waiting in its queue,
        applies a chunk of the staged rows (see ``mairie.homecare.staging``)."""
        applies_staged = self.batch_handler is not None  # rows left by any bridge, staging itself or not
        if (
            applies_staged
            and not self._staged_waiting
            and time.monotonic() - self._last_apply >= self.config.staged_check_s
        ):
            self._last_apply = time.monotonic()
            self._staged_waiting = self._staged_rows_exist()
        if applies_staged and not self.stages and self._staged_waiting:
            # Run without staging (--no-staging), after a bridge that staged: its rows are applied all the same,
            # a chunk per turn ahead of the stream, or they would wait for ever, committed and acknowledged.
            self._apply_staged()
        if not (self.stages and (self._staged_waiting or self._inbox.qsize() >= self.config.batch_size)):
            return self._apply_received(timeout=timeout)
        batch = self._take(self.config.stage_batch_size)
        handled = self._stage(self._without_expected_redeliveries(batch)) if batch else 0
        if self._staged_waiting and (
            self._inbox.qsize() < self.config.batch_size
            or time.monotonic() - self._last_apply >= self.config.apply_interval_s
        ):
            # A burst being taken in (a batch or more waiting) goes first, but never for longer than
            # apply_interval_s at a time. Steady traffic leaves less than a batch between two turns: then a chunk
            # is applied at each turn, and the staged rows drain as long as the rules keep up with the traffic.
            self._apply_staged()
        return handled

    def _staged_rows_exist(self) -> bool:
        from mairie.homecare import staging

        try:
            return staging.any_waiting()
        except TRANSIENT_DATABASE_ERRORS:
            self._close_database_connections()
            return False  # asked again at the next check

    def _take(
        self, limit: int, *, first: Received | None = None, urgent_only: bool = False
    ) -> list[Received]:
        """Up to ``limit`` queued messages, calls for help first, then in the order received."""
        batch = [first] if first is not None else []
        while len(batch) < limit and not (urgent_only and not self._urgent_waiting()):
            try:
                batch.append(self._inbox.get_nowait()[2])
            except queue.Empty:
                break
        return batch

    def _apply_received(self, *, timeout: float) -> int:
        try:
            first = self._inbox.get(timeout=timeout)[2]
        except queue.Empty:
            return 0
        batch = self._without_expected_redeliveries(self._take(self.config.batch_size, first=first))
        handled = urgent = 0
        while handled < len(batch):
            if handled and self._urgent_waiting():
                # It came while the batch was being applied, which stopped for it: it goes first.
                committed = self._commit_and_acknowledge(self._take_urgent())
                if committed is None:
                    break
                urgent += committed
            committed = self._commit_and_acknowledge(batch[handled:], first_part_only=True)
            if committed is None:
                break  # stopping: the rest stays unacknowledged
            handled += committed
        return handled + urgent

    def _take_urgent(self) -> list[Received]:
        return self._without_expected_redeliveries(self._take(self.config.batch_size, urgent_only=True))

    def _commit_and_acknowledge(self, batch: list[Received], *, first_part_only: bool = False) -> int | None:
        """Commits the batch in as many transactions as it takes (one more after each alarm) and acknowledges
        each once committed; returns how many messages were handled, or None when stopping. ``first_part_only``:
        one transaction, which stops early if a call for help arrives meanwhile (the caller sees to it)."""
        handled = 0
        while handled < len(batch):
            committed = self._commit_with_retries(
                batch[handled:], stop_when=self._stop_for_calls_for_help() if first_part_only else None
            )
            if committed is None:
                return None
            self._acknowledge(batch[handled : handled + committed])
            handled += committed
            if first_part_only:
                break
        return handled

    def _stage(self, batch: list[Received]) -> int:
        """Stages the batch and applies its calls for help, in one transaction; acknowledges it once committed.
        Returns how many messages were handled (0 when stopping before the commit)."""
        from mairie.homecare.services.ingest import MAX_TOPIC, may_call_for_help

        now: list[Received] = []
        later: list[Received] = []
        for message in batch:
            if (
                message.topic is None
                or len(message.topic) > MAX_TOPIC
                or len(message.payload) > MAX_PAYLOAD_BYTES
                # The payload alone, erring on yes: a call for help must never be staged behind a backlog.
                or may_call_for_help(message.payload)
            ):
                now.append(message)  # calls for help, and what will be refused anyway (counted at once)
            else:
                later.append(message)
        committed = self._commit_with_retries(now, stage=later, whole=True)
        if committed is None:
            return 0
        self._staged_waiting = self._staged_waiting or bool(later)
        self._acknowledge(batch)
        return len(batch)

    def _apply_staged(self) -> int:
        """Applies the oldest staged rows (a chunk), deleting them in the same transaction; returns how many.

        One attempt: on a failure it gives up until a later turn (with a growing delay), so that the messages
        arriving meanwhile, a call for help among them, are not held behind a chunk that cannot be applied."""
        now = time.monotonic()
        if now < self._apply_not_before:
            return 0
        self._last_apply = now
        try:
            try:
                done = self._commit([], apply_staged=True, stop_when=self._stop_for_calls_for_help())
            except _RetryCarefully:
                done = self._commit([], apply_staged=True, careful=True)
        except Exception as error:
            self.counters.retries += 1
            if isinstance(error, TRANSIENT_DATABASE_ERRORS):
                log.warning("applying staged messages failed (%s); trying again later", error)
                self._close_database_connections()
            else:
                log.exception("applying staged messages failed; trying again later")
            self._apply_delay = min(
                max(self._apply_delay * 2, self.config.retry_initial_s), self.config.retry_max_s
            )
            self._apply_not_before = time.monotonic() + self._apply_delay
            return 0
        self._apply_delay = 0.0
        self.counters.total.update(done.counts)
        if done.claimed < self.config.apply_batch_size and done.handled == done.claimed:
            # All this bridge could claim is applied; what arrived since is in its queue, in order, and may be
            # applied directly: out of staging (rows another bridge holds are its own to apply).
            self._staged_waiting = False
        return done.handled

    def _without_expected_redeliveries(self, batch: list[Received]) -> list[Received]:
        """Drops the messages of an older connection when the current one resumed the session: the broker
        delivers them again on this connection (and their acknowledgement could only go there). Otherwise
        (disconnected, or a session the broker had lost) they are processed: an alarm must not wait for the
        broker to come back, and a redelivery later is recognised as a duplicate."""
        with self._connection_lock:
            if not (self.connected.is_set() and self._session_resumed):
                return batch
            current = self._connection
        return [message for message in batch if message.connection == current]

    def _commit_with_retries(
        self,
        batch: list[Received],
        *,
        stage: Sequence[Received] = (),
        whole: bool = False,
        stop_when: Callable[[], bool] | None = None,
    ) -> int | None:
        """Commits the batch, or its beginning up to the first message that raised an alarm (all of it when
        ``whole``) or to when ``stop_when`` said so, with ``stage`` staged in the same transaction. Returns how
        many messages of the batch were handled, or None when stopping."""
        delay = self.config.retry_initial_s
        careful = False
        what = f"{len(batch) + len(stage)} message(s)"
        while True:
            try:
                counts, committed, _claimed = self._commit(
                    batch, careful=careful, stage=stage, whole=whole, stop_when=stop_when
                )
            except _RetryCarefully:
                careful = True  # at once, not a failure: see _handle
                continue
            except TRANSIENT_DATABASE_ERRORS as error:
                log.warning("database unavailable (%s); retrying %s in %.1f s", error, what, delay)
            except Exception:
                # Not a message's fault (those are dead-lettered inside _commit): an error after the commit
                # (an on_commit hook) or in the counters. Retrying is safe: the handler deduplicates.
                log.exception("batch of %s failed; retrying in %.1f s", what, delay)
            else:
                self.counters.total.update(counts)
                self.counters.redelivered += sum(1 for message in batch[:committed] if message.dup)
                self.counters.redelivered += sum(1 for message in stage if message.dup)
                return committed
            self.counters.retries += 1
            self._close_database_connections()
            if self.stop_requested.wait(delay):
                return None  # stopping: nothing acknowledged, the broker delivers the batch again
            delay = min(delay * 2, self.config.retry_max_s)

    def _commit(
        self,
        batch: list[Received],
        *,
        careful: bool = False,
        stage: Sequence[Received] = (),
        whole: bool = False,
        apply_staged: bool = False,
        stop_when: Callable[[], bool] | None = None,
    ) -> _Committed:
        """One transaction for the batch; unless ``whole``, it ends early after a message that raised an alarm,
        so that the alarm is committed (and its notifications and console event leave) without waiting for the
        messages behind it; with ``stop_when``, as soon as that says so (batch handler only). Returns the counts
        and how many messages of the batch (or staged rows) the transaction holds."""
        from mairie.homecare import staging

        batch_handler = None if careful else self.batch_handler
        whole = whole or apply_staged
        per_bridge: dict[str, Counter[str]] = {}
        with transaction.atomic():
            claimed: list[Any] = []
            if apply_staged:
                claimed = staging.claim(limit=self.config.apply_batch_size)
                batch = [_from_staged(row) for row in claimed]
            if stage:
                staging.stage(bridge=self.config.client_id, messages=stage)
            if batch_handler is not None:
                reasons = self._handle_batch(batch_handler, batch, whole=whole, stop_when=stop_when)
            else:
                reasons = []
                for message in batch:
                    reason, alarm = self._handle(message, careful=careful)
                    reasons.append(reason)
                    if alarm and not whole:
                        break
            if apply_staged:
                claimed_applied = claimed[: len(reasons)]  # the rest stays staged, for the next turn
                staging.delete(claimed_applied)
                for row, reason in zip(claimed_applied, reasons, strict=True):
                    counts = per_bridge.setdefault(row.bridge, Counter())
                    counts[reason] += 1
                    counts[STAGED] -= 1
            else:
                counts = per_bridge.setdefault(self.config.client_id, Counter(reasons))
                if stage:
                    counts[STAGED] += len(stage)
            if self._record_counts is not None:
                for bridge, counts in sorted(per_bridge.items()):  # one order for all: no deadlock
                    self._record_counts(bridge=bridge, counts=counts)
        total: Counter[str] = Counter()
        for counts in per_bridge.values():
            total.update(counts)
        return _Committed(total, len(reasons), len(claimed))

    def _handle_batch(
        self,
        handler: BatchHandler,
        batch: list[Received],
        *,
        whole: bool,
        stop_when: Callable[[], bool] | None = None,
    ) -> list[str]:
        """The whole batch in one call (a few queries for all its messages); the reason counted for each message
        handled, in order. Any failure but a transient database error sends the batch back to be run carefully,
        message by message, to find and keep the culprit."""
        readable = [message for message in batch if message.topic is not None]
        try:
            # stop_when only when given: a batch handler that never stops early need not know the argument.
            options = {"stop_when": stop_when} if stop_when is not None else {}
            outcomes = handler(readable, stop_after_alarm=not whole, **options) if readable else []
        except TRANSIENT_DATABASE_ERRORS:
            raise
        except Exception as error:
            log.warning(
                "batch of %d message(s) failed (%r); running it one message at a time", len(batch), error
            )
            raise _RetryCarefully from error
        reasons: list[str] = []
        handled = 0
        for message in batch:
            if handled == len(outcomes) < len(readable):
                break  # the handler stopped after an alarm: the rest goes in the next transaction
            if message.topic is None:
                reasons.append(BAD_TOPIC)
                continue
            outcome = outcomes[handled]
            handled += 1
            reasons.append(
                (outcome.reason or ACCEPTED) if outcome.accepted else (outcome.reason or "dropped")
            )
        return reasons

    def _handle(self, message: Received, *, careful: bool) -> tuple[str, bool]:
        """Runs the handler; a failure that is not the database's is kept as a dead letter.

        The handler writes inside its own transaction (a savepoint here), so a bug that raises leaves nothing
        half-written. A database error that is not transient (a constraint, bad data) may however leave the
        batch's transaction unusable on PostgreSQL: the batch is then rolled back and run again "carefully",
        each message in a savepoint of its own. Not doing that on every message saves two round trips each.
        """
        if message.topic is None:
            return BAD_TOPIC, False
        try:
            if careful:
                with transaction.atomic():
                    outcome = self._handle_one(message)
            else:
                outcome = self._handle_one(message)
        except TRANSIENT_DATABASE_ERRORS:
            raise
        except DatabaseError as error:
            if not careful:
                raise _RetryCarefully from error
            return self._keep(message, error), False
        except Exception as error:
            return self._keep(message, error), False
        alarm = bool(getattr(outcome, "alarm_ids", None))
        if outcome.accepted:
            return outcome.reason or ACCEPTED, alarm
        return outcome.reason or "dropped", alarm

    def _handle_one(self, message: Received) -> Outcome:
        assert message.topic is not None
        if self._batches and self.batch_handler is not None:
            return self.batch_handler([message])[0]
        return self.handler(topic=message.topic, payload=message.payload, received_at=message.received_at)

    def _keep(self, message: Received, error: Exception) -> str:
        log.error(
            "handler failed on %s (%d bytes); kept as a dead letter",
            message.topic,
            len(message.payload),
            exc_info=error,
        )
        self._dead_letter(bridge=self.config.client_id, message=message, error=repr(error)[:2000])
        return ERROR

    def _acknowledge(self, batch: Iterable[Received]) -> None:
        with self._connection_lock:
            if not self.connected.is_set():
                return
            current = self._connection
            for message in batch:
                if message.qos > 0 and message.connection == current:
                    self.client.ack(message.mid, message.qos)
                    self.counters.acked += 1

    def _close_database_connections(self) -> None:
        for connection in connections.all(initialized_only=True):
            try:
                connection.close()
            except Exception:  # a dead connection may fail to close; it is dropped either way
                log.debug("closing a broken database connection failed", exc_info=True)

    def _log_periodically(self) -> None:
        now = time.monotonic()
        if now - self._last_log >= self.config.log_interval_s:
            self._last_log = now
            log.info("bridge counters: %s (queued %d)", self.counters.as_dict(), self._inbox.qsize())
