"""The one door for what gateways send: ``ingest_batch(messages)``, and ``ingest_message(...)`` for one message.

The MQTT bridge calls ``ingest_batch`` for each batch it receives, inside the batch's transaction, and
acknowledges the messages to the broker once that transaction has committed (whatever each outcome): the
effect is committed, or the message was dropped for a reason it counts. A database error is raised, never
swallowed: the bridge must not acknowledge, and retries the same messages.

Topics (per gateway, ``Gateway.base_topic`` = ``zigbee2mqtt/<commune-slug>/<home-id>`` by default):

========================================  ==============================================================
``<base>/<friendly_name>``                device state (JSON object; the name may contain "/")
``<base>/<friendly_name>/availability``   ``online``/``offline`` or ``{"state": "online"}``
``<base>/bridge/state``                   the gateway itself, same two forms
``<base>/bridge/devices``                 list of devices (IEEE address, model)
``<base>/bridge/event``                   ``{"type": "device_leave", "data": {...}}``
``<base>/bridge/…`` other, ``…/set``,      understood and ignored (our own commands, logs, responses)
``…/get``
``<teleinfo_topic>/<ADCO>``               Linky meter (``Gateway.teleinfo_topic``, ``teleinfo/<slug>/<id>``)
========================================  ==============================================================

Idempotency: MQTT delivers at least once. Each accepted message writes a ``DeviceEvent`` whose unique
``dedup_key`` is ``sha256(gateway, topic, payload, stamp)``: the stamp is the payload's own ``last_seen`` /
sequence when Zigbee2MQTT sends one (``advanced.last_seen``, recommended), otherwise the minute the message
arrived, and the previous minute is checked as well, so an identical message on the same topic within
60–120 s counts as a redelivery ("duplicate"), in the same batch or an earlier one. A redelivered SOS
therefore raises one alarm; alarms also carry a unique key derived from the event.

Drops (``accepted=False``), never an exception: ``too_large``, ``malformed``, ``foreign_topic`` (not a
topic we serve, or the topic's commune is not the gateway's), ``unknown_gateway``, ``unknown_device``,
``duplicate``. Accepted with nothing to do: ``ignored``; a meter reading within a minute of the last one:
``sampled``. Anything else raised (a database error, or a bug) propagates: the bridge does not acknowledge a
database error and retries the messages; it runs a batch that hit a bug again message by message, and keeps
the one that fails as a dead letter.

How a batch runs (a constant number of queries, whatever its size): the gateways of all its topics in one
query (and none for a topic that cannot be ours); then, in one transaction, the batch's homes locked in one
``SELECT … FOR NO KEY UPDATE`` ordered by key (two bridges sharing a subscription never deadlock), their devices in
one query, the dedup keys already recorded in one query, the open "condition" alarms (smoke, leak, battery,
offline, door) and the meters' last readings in one query each when the batch needs them. The rules run in
Python on these rows, in the messages' order; then one insert for the events, one for the meter readings, and
one update per model and set of changed fields. Alarms go through ``mairie.homecare.services.alarms`` as
they always did (rare). Nothing is cached between batches: a gateway or device registered a moment ago is
found on its next message, and one deleted is gone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.db import IntegrityError, connection, models, transaction
from django.db.models import BooleanField, Max, Q
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _
from django_scopes import scope, scopes_disabled

from mairie.core.bulk import can_copy, copy_rows, execute_bound, select_bound
from mairie.core.models import Commune
from mairie.core.services.audit import log_action
from mairie.homecare import payloads, rules
from mairie.homecare.models import Alarm, AlarmEvent, Device, DeviceEvent, EnergyReading, Gateway, Home
from mairie.homecare.payloads import Malformed, Reading
from mairie.homecare.services import alarms as alarm_services
from mairie.homecare.services.homes import record_activity

logger = logging.getLogger(__name__)

ZIGBEE_ROOT = "zigbee2mqtt"
TELEINFO_ROOT = "teleinfo"
MAX_TOPIC = 512
DEDUP_BUCKET_SECONDS = 60
ENERGY_SAMPLE = timedelta(seconds=60)
# A batch whose event insert collides with a concurrent writer is run again from scratch (then the collision
# is seen as a duplicate); more than this many collisions in a row is not a race but a bug.
MAX_BATCH_ATTEMPTS = 3


class Reason:
    OK = "ok"
    IGNORED = "ignored"
    SAMPLED = "sampled"
    DUPLICATE = "duplicate"
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    FOREIGN_TOPIC = "foreign_topic"
    UNKNOWN_GATEWAY = "unknown_gateway"
    UNKNOWN_DEVICE = "unknown_device"
    ERROR = "error"


DROP_REASONS = frozenset(
    {
        Reason.DUPLICATE,
        Reason.TOO_LARGE,
        Reason.MALFORMED,
        Reason.FOREIGN_TOPIC,
        Reason.UNKNOWN_GATEWAY,
        Reason.UNKNOWN_DEVICE,
        Reason.ERROR,
    }
)


@dataclass
class IngestOutcome:
    accepted: bool
    reason: str
    alarm_ids: list[int] = field(default_factory=list)
    home_id: int | None = None

    @property
    def dropped(self) -> bool:
        return not self.accepted


def _drop(reason: str, home_id: int | None = None) -> IngestOutcome:
    return IngestOutcome(accepted=False, reason=reason, home_id=home_id)


class Message(Protocol):
    """What ``ingest_batch`` reads of a message (the bridge's ``Received`` is one)."""

    @property
    def topic(self) -> str | None: ...

    @property
    def payload(self) -> bytes: ...

    @property
    def received_at(self) -> datetime: ...


@dataclass(frozen=True)
class IncomingMessage:
    topic: Any
    payload: Any
    received_at: datetime


@dataclass(frozen=True)
class Route:
    gateway: Gateway
    kind: str  # state, availability, bridge_state, bridge_devices, bridge_event, teleinfo, ignored
    name: str = ""  # the device's friendly name (or the meter's ADCO)


DEVICE_KINDS = frozenset({"state", "availability", "teleinfo"})
# Gateway-level messages that may name any of the gateway's devices: all its devices are loaded.
WHOLE_GATEWAY_KINDS = frozenset({"bridge_devices", "bridge_event"})


# Routing.


def _segments_ok(topic: str) -> bool:
    return (
        0 < len(topic) <= MAX_TOPIC
        and not any(char in topic for char in "+#\x00")
        and "//" not in topic
        and not topic.endswith("/")
    )


@dataclass(frozen=True)
class _Namespace:
    """Where a topic could belong: ``key`` is the Gateway column (``base_topic``/``teleinfo_topic``)."""

    key: str
    prefixes: tuple[str, ...]  # longest first


def _namespace(topic: Any) -> _Namespace | str:
    """The prefixes a gateway of this topic could have, or the reason no gateway can have it (no query)."""
    if not isinstance(topic, str) or not _segments_ok(topic):
        return Reason.MALFORMED
    try:
        topic.encode()
    except UnicodeEncodeError:  # lone surrogates: not a topic MQTT can carry
        return Reason.MALFORMED
    parts = topic.split("/")
    if parts[0] not in (ZIGBEE_ROOT, TELEINFO_ROOT):
        return Reason.FOREIGN_TOPIC
    prefixes = tuple("/".join(parts[:i]) for i in range(len(parts) - 1, 1, -1))
    if not prefixes:
        return Reason.UNKNOWN_GATEWAY
    return _Namespace("base_topic" if parts[0] == ZIGBEE_ROOT else "teleinfo_topic", prefixes)


def _gateways_for(namespaces: Iterable[_Namespace]) -> dict[tuple[str, str], Gateway]:
    """The gateways owning any of these prefixes, in one query, by (column, topic)."""
    wanted: dict[str, set[str]] = {"base_topic": set(), "teleinfo_topic": set()}
    for namespace in namespaces:
        wanted[namespace.key].update(namespace.prefixes)
    condition = Q()
    for key, prefixes in wanted.items():
        if prefixes:
            condition |= Q(**{f"{key}__in": sorted(prefixes)})
    if not condition:
        return {}
    found: dict[tuple[str, str], Gateway] = {}
    with scopes_disabled():  # the topic tells which commune: found here, then entered
        gateways = list(Gateway.objects.filter(condition))
        # A commune object per commune, not per row (a batch's hundred gateways are mostly of a few communes).
        communes = Commune.objects.in_bulk({gateway.commune_id for gateway in gateways}) if gateways else {}
    for gateway in gateways:
        gateway.commune = communes[gateway.commune_id]
        for key, prefixes in wanted.items():
            value = getattr(gateway, key)
            if value in prefixes:
                found[(key, value)] = gateway
    return found


def _route_in(namespace: _Namespace, gateways: dict[tuple[str, str], Gateway], topic: str) -> Route | str:
    gateway = next(
        (gateways[(namespace.key, p)] for p in namespace.prefixes if (namespace.key, p) in gateways), None
    )
    if gateway is None:
        return Reason.UNKNOWN_GATEWAY
    base = getattr(gateway, namespace.key)
    base_parts = base.split("/")
    # Default layout ``<root>/<commune-slug>/<home-id>``: the slug must be the gateway's own commune.
    if (
        len(base_parts) == 3
        and base_parts[2] == str(gateway.home_id)
        and base_parts[1] != gateway.commune.slug
    ):
        return Reason.FOREIGN_TOPIC
    rest = topic[len(base) + 1 :]
    if namespace.key == "teleinfo_topic":
        return Route(gateway, "teleinfo", rest)
    if rest == "bridge/state":
        return Route(gateway, "bridge_state")
    if rest == "bridge/devices":
        return Route(gateway, "bridge_devices")
    if rest == "bridge/event":
        return Route(gateway, "bridge_event")
    if rest == "bridge" or rest.startswith("bridge/"):
        return Route(gateway, "ignored")
    kind = _device_topic_kind(rest)
    if kind == "availability":
        return Route(gateway, kind, rest[: -len("/availability")])
    return Route(gateway, kind, rest) if kind == "state" else Route(gateway, "ignored")


def _device_topic_kind(path: str) -> str:
    """What a device's topic (``<name>``, ``<name>/availability``, ``<name>/set``…) carries: "state",
    "availability", or "ignored" for a command (ours included: the bridge publishes them)."""
    last = path.rsplit("/", 1)[-1]
    if last in ("set", "get") or "/set/" in path or "/get/" in path:
        return "ignored"
    return "availability" if last == "availability" else "state"


def route(topic: str) -> Route | str:
    """Where a topic goes, or the reason it goes nowhere (one query at most)."""
    namespace = _namespace(topic)
    if isinstance(namespace, str):
        return namespace
    return _route_in(namespace, _gateways_for([namespace]), topic)


def _size_limit(kind: str) -> int:
    return payloads.MAX_BRIDGE_DEVICES_BYTES if kind == "bridge_devices" else payloads.MAX_PAYLOAD_BYTES


def dedup_key(gateway_id: int, topic: str, payload: bytes, stamp: str) -> str:
    digest = hashlib.sha256()
    for part in (str(gateway_id).encode(), topic.encode(), payload, stamp.encode()):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _dedup_keys(
    gateway_id: int, topic: str, payload: bytes, sequence: str | None, at: datetime
) -> tuple[str, str]:
    """The message's key, and the key a copy received in the previous minute would have had."""
    if sequence:
        key = dedup_key(gateway_id, topic, payload, f"seq:{sequence}")
        return key, key
    bucket = int(at.timestamp()) // DEDUP_BUCKET_SECONDS
    return (
        dedup_key(gateway_id, topic, payload, f"min:{bucket}"),
        dedup_key(gateway_id, topic, payload, f"min:{bucket - 1}"),
    )


def _parse(kind: str, payload: bytes) -> Any:
    if kind == "state":
        return payloads.parse_device_payload(payload)
    if kind in ("availability", "bridge_state"):
        return payloads.parse_availability(payload)
    if kind == "bridge_devices":
        return payloads.parse_bridge_devices(payload)
    if kind == "bridge_event":
        return payloads.parse_bridge_event(payload)
    return payloads.parse_teleinfo(payload)


# The batch.


@dataclass
class _Pending:
    """A message routed to a gateway, waiting for its transaction."""

    index: int
    topic: str
    payload: bytes
    at: datetime
    route: Route
    parsed: Any = None
    malformed: bool = False
    keys: tuple[str, str] | None = None


class _Conflict(Exception):
    """An event insert met a row a concurrent transaction committed meanwhile: run the batch again."""


class _Batch:
    """The rows a batch works on, held in memory under the homes' locks, and what it will write."""

    def __init__(self) -> None:
        self.homes: dict[int, Home] = {}
        self.devices: dict[tuple[int, str], Device] = {}
        self.gateway_devices: dict[int, list[Device]] = defaultdict(list)
        self.recorded_keys: set[str] = set()  # in the database before this batch, or written by it
        self.events: list[DeviceEvent] = []
        self.readings: list[EnergyReading] = []
        self.last_reading: dict[int, datetime] = {}
        # (home, device, kind) of the open alarms about a lasting condition; None: not loaded. Only trusted
        # while this batch has not raised or closed an alarm itself.
        self.open_conditions: set[tuple[int, int | None, str]] | None = None
        self.alarms_changed = False
        self._changes: dict[tuple[type[models.Model], int], tuple[models.Model, dict[str, None]]] = {}

    def change(self, obj: models.Model, fields: Iterable[str]) -> None:
        """``obj``'s ``fields`` changed in memory: written once, at the end of the batch."""
        fields = list(fields)
        if not fields:
            return
        _obj, changed = self._changes.setdefault((type(obj), obj.pk), (obj, {}))
        changed.update(dict.fromkeys(fields))

    def record_event(
        self, *, home: Home, device: Device | None, kind: str, data: Any, at: datetime, keys: tuple[str, str]
    ) -> str | None:
        """Queues the event row; ``None`` if this message was already recorded (a redelivery)."""
        key, previous_key = keys
        if key in self.recorded_keys or previous_key in self.recorded_keys:
            return None
        self.recorded_keys.add(key)
        self.events.append(
            DeviceEvent(
                commune_id=home.commune_id,
                home=home,
                device=device,
                kind=kind,
                payload=data,
                received_at=at,
                dedup_key=key,
            )
        )
        return key

    def condition_open(self, home: Home, device: Device | None, kind: str) -> bool | None:
        """Whether ``device`` has an open ``kind`` alarm, if known without a query."""
        if self.open_conditions is None or self.alarms_changed:
            return None
        return (home.pk, device.pk if device else None, kind) in self.open_conditions

    def write(self) -> None:
        if self.events:
            try:  # no savepoint of its own: the batch's transaction is rolled back and run again
                if can_copy():
                    copy_rows(DeviceEvent, _EVENT_COLUMNS, (_event_row(event) for event in self.events))
                else:
                    DeviceEvent.objects.bulk_create(self.events)
            except IntegrityError as error:
                raise _Conflict from error
        if self.readings:
            EnergyReading.objects.bulk_create(self.readings)
        groups: dict[tuple[type[models.Model], tuple[str, ...]], list[models.Model]] = defaultdict(list)
        for (model, _pk), (obj, changed) in self._changes.items():
            groups[(model, tuple(sorted(changed)))].append(obj)
        for (model, names), objs in groups.items():
            if len(objs) == 1:
                objs[0].save(update_fields=names)
            else:
                _update_rows(model, objs, names)


_EVENT_COLUMNS = ("commune_id", "home_id", "device_id", "kind", "payload", "received_at", "dedup_key")


def _event_row(event: DeviceEvent) -> tuple[Any, ...]:
    return (
        event.commune_id,
        event.home_id,
        event.device_id,
        event.kind,
        json.dumps(event.payload),
        event.received_at,
        event.dedup_key,
    )


def _update_rows(model: type[models.Model], objs: list[models.Model], names: tuple[str, ...]) -> None:
    """One ``UPDATE … FROM (VALUES …)`` for rows whose same fields changed. Django's ``bulk_update`` writes a
    ``CASE`` per row and field, whose building in Python costs more than the whole query here (a hundred
    devices, five fields). Values go through each field's own conversion, as ``save()`` does."""
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    fields: list[models.Field[Any, Any]] = []
    for name in names:
        found = meta.get_field(name)
        assert isinstance(found, models.Field) and found.concrete, name
        fields.append(found)
    quote = connection.ops.quote_name
    columns = [quote(str(f.column)) for f in (pk, *fields)]
    table = quote(meta.db_table)
    key = columns[0]
    assignments = ", ".join(f"{column} = v.{column}" for column in columns[1:])
    if connection.vendor == "postgresql":
        # One array per column, bound by the server: the statement's text is the same whatever the number of
        # rows, and no value is quoted into it in Python.
        arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in (pk, *fields))
        sql = (
            f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v ({', '.join(columns)}) "  # noqa: S608
            f"WHERE {table}.{key} = v.{key}"
        )
        values = [[pk.get_db_prep_value(obj.pk, connection) for obj in objs]]
        values += [[f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in objs] for f in fields]
        execute_bound(sql, values)
        return
    row = f"({', '.join(['%s'] * len(columns))})"
    per_statement = max(1, 900 // len(columns))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per_statement):
            chunk = objs[start : start + per_statement]
            params: list[Any] = []
            for obj in chunk:
                params.append(pk.get_db_prep_value(obj.pk, connection))
                params += [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
            # Names from the model's metadata, quoted; values as parameters.
            sql = (
                f"WITH v ({', '.join(columns)}) AS (VALUES {', '.join([row] * len(chunk))}) "  # noqa: S608
                f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{key} = v.{key}"
            )
            cursor.execute(sql, params)


def ingest_message(*, topic: str, payload: bytes, received_at: datetime) -> IngestOutcome:
    """Applies one MQTT message; see the module's docstring. Safe to call twice with the same message."""
    return ingest_batch([IncomingMessage(topic, payload, received_at)])[0]


def ingest_batch(
    messages: Sequence[Message],
    *,
    stop_after_alarm: bool = False,
    stop_when: Callable[[], bool] | None = None,
) -> list[IngestOutcome]:
    """Applies messages in order, in one transaction; one outcome per message, in the same order.

    With ``stop_after_alarm``, the batch ends right after the first message that raised an alarm: the outcomes
    returned are those of the messages applied (a prefix of ``messages``); the caller commits and sends the
    rest again, so that the alarm leaves without waiting for the messages behind it. ``stop_when`` ends it the
    same way, after any message, as soon as it returns true (the bridge: a call for help has just arrived and
    must not wait for the rest of this batch to be applied).
    """
    for attempt in range(1, MAX_BATCH_ATTEMPTS + 1):
        try:
            return _ingest_once(messages, stop_after_alarm=stop_after_alarm, stop_when=stop_when)
        except _Conflict as conflict:
            if attempt == MAX_BATCH_ATTEMPTS:
                raise IntegrityError("device events kept colliding with another writer") from conflict
            logger.info("a concurrent writer recorded one of the batch's events; running it again")
    raise AssertionError("unreachable")  # pragma: no cover


def _ingest_once(
    messages: Sequence[Message], *, stop_after_alarm: bool, stop_when: Callable[[], bool] | None
) -> list[IngestOutcome]:
    outcomes: list[IngestOutcome | None] = [None] * len(messages)
    routed: list[tuple[int, _Namespace]] = []
    for index, message in enumerate(messages):
        payload = message.payload
        if not isinstance(payload, bytes | bytearray | memoryview):
            outcomes[index] = _drop(Reason.MALFORMED)
            continue
        if len(payload) > payloads.MAX_BRIDGE_DEVICES_BYTES:
            outcomes[index] = _drop(Reason.TOO_LARGE)
            continue
        namespace = _namespace(message.topic)
        if isinstance(namespace, str):
            outcomes[index] = _drop(namespace)
        else:
            routed.append((index, namespace))
    gateways = _gateways_for(namespace for _index, namespace in routed) if routed else {}
    pending: list[_Pending] = []
    for index, namespace in routed:
        message = messages[index]
        topic = message.topic
        assert isinstance(topic, str)
        payload = bytes(message.payload)
        where = _route_in(namespace, gateways, topic)
        if isinstance(where, str):
            outcomes[index] = _drop(where)
        elif len(payload) > _size_limit(where.kind):
            outcomes[index] = _drop(Reason.TOO_LARGE, where.gateway.home_id)
        elif where.kind == "ignored":
            outcomes[index] = IngestOutcome(
                accepted=True, reason=Reason.IGNORED, home_id=where.gateway.home_id
            )
        else:
            item = _Pending(index, topic, payload, message.received_at, where)
            # Parsed before the transaction: a malformed payload writes nothing (counted once its device is
            # known: an unknown device is reported as such first).
            try:
                item.parsed = _parse(where.kind, payload)
            except Malformed:
                item.malformed = True
            pending.append(item)
    limit = len(messages)
    if stop_after_alarm:
        # A call for help, a fall, smoke or a leak: the batch ends with it, before the rows of the messages
        # behind it are even read (the alarm's transaction holds only what came before it).
        first = next((item.index for item in pending if _calls_for_help(item)), None)
        if first is not None:
            limit = first + 1
            pending = [item for item in pending if item.index < limit]
    if pending:
        with scopes_disabled(), transaction.atomic():
            applied = _apply_all(pending, outcomes, stop_after_alarm=stop_after_alarm, stop_when=stop_when)
        if applied is not None:
            limit = applied
    done = [outcome for outcome in outcomes[:limit] if outcome is not None]
    assert len(done) == limit, "every message has an outcome"
    return done


_URGENT_NAMES = (b'"sos"', b'"fall"', b'"smoke"', b'"water_leak"', b'"action"', b"\\u")


def may_call_for_help(payload: bytes, topic: str | None = None, *, unreadable: bool = True) -> bool:
    """Whether a message might be a call for help, a fall, smoke or a leak, judged on its topic and payload alone
    (no query): the bridge takes these before everything else it holds, and keeps them on its synchronous path
    when it stages a backlog (``mairie.homecare.staging``).

    Only a device's state can be one: not the meter (``teleinfo/…``), nor what a gateway says of itself
    (``…/bridge/…``: its device list names "action", "smoke" and "water_leak" among the devices' features) or of a
    device's availability (``…/availability``), nor a command (``…/set``, ``…/get``); Zigbee2MQTT reserves these
    names. Otherwise it errs on the side of yes: a payload that names none of those fields (``sos``, ``fall``,
    ``smoke``, ``water_leak``, ``action``), nor holds a ``\\u`` escape that could spell them, is ordinary telemetry
    without being parsed; any other is parsed. A payload that names one of them but cannot be read is
    ``unreadable``: yes by default (staging applies it at once, so it is counted at once); the bridge's queue
    says no (it raises no alarm: it will be dropped, and must not cut the batch in progress).
    """
    if topic is not None and not _may_be_device_state(topic):
        return False
    if not any(name in payload for name in _URGENT_NAMES):
        return False
    try:
        reading = payloads.parse_device_payload(payload)
    except Malformed:
        return unreadable
    return reading.calls_for_help


# What Zigbee2MQTT publishes of the gateway itself under its base topic (reserved names): a device may well be
# called "garage/bridge", so only these endings are taken for the gateway's own topics.
_GATEWAY_TOPIC = re.compile(
    r"/bridge/(?:state|devices|event|info|logging|extensions|groups|definitions|config|options|health"
    r"|converters|response/.+|request/.+)$"
)


def _may_be_device_state(topic: str) -> bool:
    """What ``_route_in`` may route to a device's state, judged without the gateway (its base topic unknown)."""
    if topic.startswith(TELEINFO_ROOT + "/") or _GATEWAY_TOPIC.search(topic):
        return False
    return _device_topic_kind(topic) == "state"


def _calls_for_help(item: _Pending) -> bool:
    return item.route.kind == "state" and not item.malformed and item.parsed.calls_for_help


def _apply_all(
    pending: list[_Pending],
    outcomes: list[IngestOutcome | None],
    *,
    stop_after_alarm: bool,
    stop_when: Callable[[], bool] | None,
) -> int | None:
    """Inside the batch's transaction (scopes disabled: every row is found through the gateway, and each
    message is applied in its commune's scope). Returns how many messages the batch holds when it stopped
    early (after an alarm, or ``stop_when``), else None."""
    batch = _Batch()
    _lock_homes(batch, pending)
    _load_devices(batch, pending)
    _load_recorded_keys(batch, pending)
    _load_open_conditions(batch, pending)
    _load_last_readings(batch, pending)
    stopped_at: int | None = None
    for item in pending:
        outcome = _apply_one(batch, item)
        outcomes[item.index] = outcome
        if (stop_after_alarm and outcome.alarm_ids) or (stop_when is not None and stop_when()):
            stopped_at = item.index + 1
            break
    batch.write()
    return stopped_at


def _lock_homes(batch: _Batch, pending: list[_Pending]) -> None:
    ids = sorted({item.route.gateway.home_id for item in pending})
    # One lock statement, in key order: two bridges sharing a subscription take them in the same order.
    # FOR NO KEY UPDATE (what an UPDATE of the home's fields takes anyway): it excludes other bridges and the
    # tickers' locks, not a transaction that only refers to the home (a ticker's alarm, checked at its commit),
    # which would otherwise wait for the whole batch, or deadlock with it over a device row the ticker holds.
    communes = {item.route.gateway.commune_id: item.route.gateway.commune for item in pending}
    for home in Home.objects.select_for_update(of=("self",), no_key=True).filter(pk__in=ids).order_by("pk"):
        if home.commune_id in communes:  # always, unless the home changed commune meanwhile: then it is read
            home.commune = communes[home.commune_id]
        batch.homes[home.pk] = home


def _load_devices(batch: _Batch, pending: list[_Pending]) -> None:
    """The batch's devices in one query, read under the homes' locks (their state is current)."""
    named = sorted(
        {(item.route.gateway.pk, item.route.name) for item in pending if item.route.kind in DEVICE_KINDS}
    )
    whole = sorted({item.route.gateway.pk for item in pending if item.route.kind in WHOLE_GATEWAY_KINDS})
    if not named and not whole:
        return
    condition = Q()
    if named:
        # (gateway, name) pairs: a row-value IN, which PostgreSQL and SQLite both answer from the unique index.
        rows = ", ".join(["(%s, %s)"] * len(named))
        condition |= Q(
            RawSQL(  # noqa: S611 (the text is placeholders only; every value is a bound parameter)
                f"(gateway_id, friendly_name) IN (VALUES {rows})",
                [value for pair in named for value in pair],
                output_field=BooleanField(),
            )
        )
    if whole:
        condition |= Q(gateway_id__in=whole)
    gateways = {item.route.gateway.pk: item.route.gateway for item in pending}
    for device in Device.objects.filter(condition).order_by("room", "friendly_name", "pk"):
        gateway = gateways.get(device.gateway_id)
        if gateway is None:  # pragma: no cover (the query asked for these gateways only)
            continue
        device.gateway = gateway
        home = batch.homes.get(gateway.home_id)
        if home is not None:
            device.home = home
        batch.devices[(device.gateway_id, device.friendly_name)] = device
        batch.gateway_devices[device.gateway_id].append(device)


def _load_recorded_keys(batch: _Batch, pending: list[_Pending]) -> None:
    """Which of the batch's dedup keys (and previous-minute keys) are already recorded, in one query."""
    wanted: set[str] = set()
    for item in pending:
        if item.malformed or item.route.kind == "teleinfo":
            continue
        if item.route.kind in DEVICE_KINDS and (item.route.gateway.pk, item.route.name) not in batch.devices:
            continue
        sequence = item.parsed.sequence if item.route.kind == "state" else None
        item.keys = _dedup_keys(item.route.gateway.pk, item.topic, item.payload, sequence, item.at)
        wanted.update(item.keys)
    if not wanted:
        return
    if can_copy():  # one array bound by the server rather than a thousand literals quoted in Python
        table = connection.ops.quote_name(DeviceEvent._meta.db_table)
        batch.recorded_keys = {
            key
            for (key,) in select_bound(
                f"SELECT dedup_key FROM {table} WHERE dedup_key = ANY(%s::varchar[])",  # noqa: S608
                [sorted(wanted)],
            )
        }
        return
    batch.recorded_keys = set(
        DeviceEvent.objects.filter(dedup_key__in=sorted(wanted))
        .order_by()
        .values_list("dedup_key", flat=True)
    )


def _needs_condition_check(reading: Reading) -> bool:
    """Whether the open condition alarms are consulted for this reading: to raise a battery alarm (once per
    device), or to mark smoke or water gone. A battery level that is fine consults nothing (most messages carry
    one, an SOS press among them: one query less on its way)."""
    return reading.smoke is not None or reading.water_leak is not None or rules.battery_is_low(reading)


def _load_open_conditions(batch: _Batch, pending: list[_Pending]) -> None:
    """The open smoke / leak / battery alarms of the batch's devices, when its readings may raise or clear one:
    most telemetry says ``smoke: false`` or a battery level, and asking each time would be a query a message."""
    devices = {
        batch.devices[key].pk
        for item in pending
        if item.route.kind == "state"
        and not item.malformed
        and (key := (item.route.gateway.pk, item.route.name)) in batch.devices
        and _needs_condition_check(item.parsed)
    }
    if not devices:
        return
    batch.open_conditions = set(
        Alarm.objects.filter(
            home_id__in=list(batch.homes),
            device_id__in=sorted(devices),
            kind__in=sorted(rules.CONDITION_KINDS),
            state__in=Alarm.OPEN_STATES,
        )
        .order_by()
        .values_list("home_id", "device_id", "kind")
    )


def _load_last_readings(batch: _Batch, pending: list[_Pending]) -> None:
    meters = {
        batch.devices[key].pk
        for item in pending
        if item.route.kind == "teleinfo"
        and (key := (item.route.gateway.pk, item.route.name)) in batch.devices
    }
    if meters:
        batch.last_reading = dict(
            EnergyReading.objects.filter(device_id__in=sorted(meters))
            .order_by()
            .values("device_id")
            .annotate(last=Max("at"))
            .values_list("device_id", "last")
        )


def _apply_one(batch: _Batch, item: _Pending) -> IngestOutcome:
    gateway = item.route.gateway
    home = batch.homes.get(gateway.home_id)
    if home is None:  # the home went away since the gateway was read: as if the gateway were unknown
        return _drop(Reason.UNKNOWN_GATEWAY)
    device: Device | None = None
    if item.route.kind in DEVICE_KINDS:
        device = batch.devices.get((gateway.pk, item.route.name))
        if device is None:
            return _drop(Reason.UNKNOWN_DEVICE, gateway.home_id)
    if item.malformed:
        return _drop(Reason.MALFORMED, gateway.home_id)
    gateway.home = home
    handler = _HANDLERS[item.route.kind]
    with scope(commune=gateway.commune):
        outcome: IngestOutcome = handler(
            batch=batch,
            home=home,
            gateway=gateway,
            device=device,
            parsed=item.parsed,
            topic=item.topic,
            payload=item.payload,
            at=item.at,
            keys=item.keys,
        )
    return outcome


# Handlers: inside the transaction, the home row locked; they change rows in memory (``batch.change``) and
# call the alarm services, which write at once.


def _device_seen(batch: _Batch, device: Device, at: datetime, fields: list[str]) -> None:
    """The device spoke: supervision restarts; if it was offline, its offline alarm closes by itself (unless
    this message is older than the alarm: applied late, it says nothing of the device since)."""
    if device.last_seen_at is None or at >= device.last_seen_at:
        device.last_seen_at = at
        device.supervision_deadline = at + timedelta(minutes=device.supervision_minutes)
        fields += ["last_seen_at", "supervision_deadline"]
    if not device.online and _device_back(batch, device, at):
        device.online = True
        fields.append("online")


def _device_back(batch: _Batch, device: Device, at: datetime) -> bool:
    """Closes the device's open offline alarms, unless one was raised after ``at`` (the device has been found
    offline since this message); returns whether the device is back."""
    offline = list(
        Alarm.objects.filter(device=device, kind=Alarm.Kind.DEVICE_OFFLINE, state__in=Alarm.OPEN_STATES)
    )
    if any(alarm.raised_at > at for alarm in offline):
        return False
    for alarm in offline:
        alarm.home = device.home
        batch.alarms_changed = True
        alarm_services.resolve_by_system(
            alarm,
            at=at,
            outcome=_("L'appareil est de nouveau joignable."),
            event=AlarmEvent.Kind.DEVICE_BACK,
        )
    return True


def _raise(
    batch: _Batch, home: Home, device: Device | None, spec: rules.AlarmSpec, at: datetime, key: str
) -> Alarm | None:
    if spec.kind in rules.CONDITION_KINDS and batch.condition_open(home, device, spec.kind):
        return None  # raise_alarm would find the open alarm and return None: one query saved
    alarm = alarm_services.raise_alarm(
        home=home,
        device=device,
        kind=spec.kind,
        severity=spec.severity,
        at=at,
        dedup_key=f"{spec.kind}:{key}"[:200],
        data=spec.data,
    )
    if alarm is not None:
        batch.alarms_changed = True
    return alarm


def _handle_state(
    *,
    batch: _Batch,
    home: Home,
    gateway: Gateway,
    device: Device,
    parsed: Reading,
    topic: str,
    payload: bytes,
    at: datetime,
    keys: tuple[str, str],
) -> IngestOutcome:
    key = batch.record_event(home=home, device=device, kind="state", data=parsed.state, at=at, keys=keys)
    if key is None:
        return IngestOutcome(accepted=False, reason=Reason.DUPLICATE, home_id=home.pk)
    fields: list[str] = []
    newest = device.last_seen_at is None or at >= device.last_seen_at
    previous_contact = device.state.get("contact") if isinstance(device.state, dict) else None
    _device_seen(batch, device, at, fields)
    if newest:
        merged = {**(device.state if isinstance(device.state, dict) else {}), **parsed.state}
        device.state = merged if len(merged) <= payloads.MAX_STATE_KEYS else dict(parsed.state)
        fields.append("state")
        if parsed.battery is not None:
            device.battery = parsed.battery
            fields.append("battery")
        if parsed.linkquality is not None:
            device.linkquality = parsed.linkquality
            fields.append("linkquality")
    alarm_ids: list[int] = []
    for spec in rules.alarms_for_reading(home, device, parsed):
        alarm = _raise(batch, home, device, spec, at, key)
        if alarm is not None:
            alarm_ids.append(alarm.pk)
    if newest:  # an older message applied late (staged, or another bridge's) must not clear a newer alarm
        _clear_conditions(batch, home, device, parsed, at)
    home_fields: list[str] = []
    if parsed.is_activity:
        morning = (
            bool(parsed.occupancy or parsed.presence)
            and bool(home.morning_check_room)
            and (device.room.strip().lower() == home.morning_check_room.strip().lower())
        )
        home_fields += record_activity(home, at=at, morning_room=morning)
    alarm_ids += _intrusion(batch, home, device, parsed, at, key, home_fields)
    if device.kind == Device.Kind.CONTACT and newest and parsed.contact is not None:
        _door(home, device, parsed.contact, previous_contact, at, fields)
    batch.change(device, fields)
    batch.change(home, home_fields)
    return IngestOutcome(accepted=True, reason=Reason.OK, alarm_ids=alarm_ids, home_id=home.pk)


def _clear_conditions(batch: _Batch, home: Home, device: Device, reading: Reading, at: datetime) -> None:
    """Smoke or water gone: noted on the open alarm's timeline (a person still closes it, with an outcome)."""
    cleared = []
    if reading.smoke is False and batch.condition_open(home, device, Alarm.Kind.SMOKE) is not False:
        cleared.append(Alarm.Kind.SMOKE)
    if reading.water_leak is False and batch.condition_open(home, device, Alarm.Kind.WATER_LEAK) is not False:
        cleared.append(Alarm.Kind.WATER_LEAK)
    if not cleared:
        return
    for alarm in Alarm.objects.filter(device=device, kind__in=cleared, state__in=Alarm.OPEN_STATES):
        if not AlarmEvent.objects.filter(alarm=alarm, kind=AlarmEvent.Kind.CLEARED).exists():
            alarm_services.add_timeline(alarm, AlarmEvent.Kind.CLEARED, at=at)


def _intrusion(
    batch: _Batch,
    home: Home,
    device: Device,
    reading: Reading,
    at: datetime,
    key: str,
    home_fields: list[str],
) -> list[int]:
    decision = rules.intrusion_decision(home, device, reading, at)
    if decision == rules.IntrusionDecision.IGNORE:
        return []
    if decision == rules.IntrusionDecision.ENTRY_DELAY:
        if home.intrusion_deadline is None:
            home.intrusion_deadline = at + timedelta(seconds=home.entry_delay_s)
            home.intrusion_device = device
            home_fields += ["intrusion_deadline", "intrusion_device"]
            log_action(
                "homecare.intrusion.entry_delay",
                commune=home.commune,
                actor=None,
                obj=home,
                data={"device": device.pk, "until": home.intrusion_deadline.isoformat()},
            )
        return []
    alarm = alarm_services.raise_alarm(
        home=home,
        device=device,
        kind=Alarm.Kind.INTRUSION,
        at=at,
        dedup_key=f"intrusion:{key}",
        data={"mode": home.armed_mode},
    )
    if home.intrusion_deadline is not None:
        home.intrusion_deadline = None
        home_fields.append("intrusion_deadline")
    if alarm is None:
        return []
    batch.alarms_changed = True
    return [alarm.pk]


def _door(home: Home, device: Device, closed: bool, was_closed: Any, at: datetime, fields: list[str]) -> None:
    if closed:
        if device.open_deadline is not None:
            device.open_deadline = None
            fields.append("open_deadline")
        return
    if was_closed is False and device.open_deadline is not None:
        return  # still open: the first opening's deadline stands
    device.open_deadline = rules.door_open_deadline(home, at)
    fields.append("open_deadline")


def _offline_alarm(
    batch: _Batch, home: Home, device: Device | None, at: datetime, key: str, data: dict[str, Any]
) -> list[int]:
    alarm = alarm_services.raise_alarm(
        home=home, device=device, kind=Alarm.Kind.DEVICE_OFFLINE, at=at, dedup_key=f"offline:{key}", data=data
    )
    if alarm is None:
        return []
    batch.alarms_changed = True
    return [alarm.pk]


def _handle_availability(
    *,
    batch: _Batch,
    home: Home,
    gateway: Gateway,
    device: Device,
    parsed: bool,
    topic: str,
    payload: bytes,
    at: datetime,
    keys: tuple[str, str],
) -> IngestOutcome:
    key = batch.record_event(
        home=home, device=device, kind="availability", data={"online": parsed}, at=at, keys=keys
    )
    if key is None:
        return IngestOutcome(accepted=False, reason=Reason.DUPLICATE, home_id=home.pk)
    fields: list[str] = []
    alarm_ids: list[int] = []
    if parsed:
        _device_seen(batch, device, at, fields)
    elif device.online and (device.last_seen_at is None or at >= device.last_seen_at):
        device.online = False
        device.supervision_deadline = None
        fields += ["online", "supervision_deadline"]
        alarm_ids = _offline_alarm(batch, home, device, at, key, {"source": "availability"})
    batch.change(device, fields)
    return IngestOutcome(accepted=True, reason=Reason.OK, alarm_ids=alarm_ids, home_id=home.pk)


def _handle_bridge_state(
    *,
    batch: _Batch,
    home: Home,
    gateway: Gateway,
    device: None,
    parsed: bool,
    topic: str,
    payload: bytes,
    at: datetime,
    keys: tuple[str, str],
) -> IngestOutcome:
    key = batch.record_event(
        home=home, device=None, kind="bridge_state", data={"online": parsed}, at=at, keys=keys
    )
    if key is None:
        return IngestOutcome(accepted=False, reason=Reason.DUPLICATE, home_id=home.pk)
    if gateway.last_seen_at is not None and at < gateway.last_seen_at:
        # Older than what the gateway said last (applied late: staged, or by another bridge): recorded, no effect.
        return IngestOutcome(accepted=True, reason=Reason.OK, home_id=home.pk)
    was_online = gateway.online
    gateway.online, gateway.last_seen_at = parsed, at
    batch.change(gateway, ["online", "last_seen_at"])
    alarm_ids: list[int] = []
    if parsed and not was_online:
        for alarm in Alarm.objects.filter(
            home=home, device__isnull=True, kind=Alarm.Kind.DEVICE_OFFLINE, state__in=Alarm.OPEN_STATES
        ):
            alarm.home = home
            batch.alarms_changed = True
            alarm_services.resolve_by_system(
                alarm,
                at=at,
                outcome=_("La passerelle est de nouveau en ligne."),
                event=AlarmEvent.Kind.DEVICE_BACK,
            )
    elif not parsed and was_online:
        alarm_ids = _offline_alarm(
            batch, home, None, at, key, {"source": "bridge_state", "gateway": gateway.pk}
        )
    return IngestOutcome(accepted=True, reason=Reason.OK, alarm_ids=alarm_ids, home_id=home.pk)


def _handle_bridge_devices(
    *,
    batch: _Batch,
    home: Home,
    gateway: Gateway,
    device: None,
    parsed: list[dict[str, Any]],
    topic: str,
    payload: bytes,
    at: datetime,
    keys: tuple[str, str],
) -> IngestOutcome:
    key = batch.record_event(
        home=home, device=None, kind="bridge_devices", data={"devices": len(parsed)}, at=at, keys=keys
    )
    if key is None:
        return IngestOutcome(accepted=False, reason=Reason.DUPLICATE, home_id=home.pk)
    for item in parsed:
        registered = batch.devices.get((gateway.pk, item["friendly_name"]))
        if registered is None:
            continue
        changes = []
        if item["ieee_address"] and registered.ieee_address != item["ieee_address"]:
            registered.ieee_address = item["ieee_address"]
            changes.append("ieee_address")
        if item["model"] and registered.model != item["model"]:
            registered.model = item["model"]
            changes.append("model")
        batch.change(registered, changes)
    # The gateway's last_seen_at is left to bridge/state: it is what an older state applied late (staged, or by
    # another bridge) is compared with, and a device list newer than that state must not make it look stale.
    return IngestOutcome(accepted=True, reason=Reason.OK, home_id=home.pk)


def _handle_bridge_event(
    *,
    batch: _Batch,
    home: Home,
    gateway: Gateway,
    device: None,
    parsed: dict[str, Any],
    topic: str,
    payload: bytes,
    at: datetime,
    keys: tuple[str, str],
) -> IngestOutcome:
    key = batch.record_event(home=home, device=None, kind="bridge_event", data=parsed, at=at, keys=keys)
    if key is None:
        return IngestOutcome(accepted=False, reason=Reason.DUPLICATE, home_id=home.pk)
    alarm_ids: list[int] = []
    if parsed["type"] == "device_leave":
        data = parsed["data"]
        name, ieee = data.get("friendly_name"), data.get("ieee_address")
        left = batch.devices.get((gateway.pk, name)) if isinstance(name, str) else None
        if left is None and isinstance(ieee, str) and ieee:
            # The gateway's devices are in Device's order (room, name): the first with this address, as before.
            left = next((d for d in batch.gateway_devices[gateway.pk] if d.ieee_address == ieee), None)
        if left is not None and left.online:
            left.online, left.supervision_deadline = False, None
            batch.change(left, ["online", "supervision_deadline"])
            left.home = home
            alarm_ids = _offline_alarm(batch, home, left, at, key, {"source": "device_leave"})
    return IngestOutcome(accepted=True, reason=Reason.OK, alarm_ids=alarm_ids, home_id=home.pk)


def _handle_teleinfo(
    *,
    batch: _Batch,
    home: Home,
    gateway: Gateway,
    device: Device,
    parsed: payloads.TeleinfoReading,
    topic: str,
    payload: bytes,
    at: datetime,
    keys: None,
) -> IngestOutcome:
    last = batch.last_reading.get(device.pk)
    if last is not None and abs(at - last) < ENERGY_SAMPLE:
        return IngestOutcome(accepted=True, reason=Reason.SAMPLED, home_id=home.pk)
    batch.readings.append(
        EnergyReading(
            commune_id=home.commune_id,
            home=home,
            device=device,
            at=at,
            index_wh=parsed.index_wh,
            power_va=parsed.power_va,
        )
    )
    batch.last_reading[device.pk] = max(last, at) if last is not None else at
    fields: list[str] = []
    _device_seen(batch, device, at, fields)
    device.state = {"index_wh": parsed.index_wh, "power_va": parsed.power_va}
    fields.append("state")
    batch.change(device, fields)
    return IngestOutcome(accepted=True, reason=Reason.OK, home_id=home.pk)


_HANDLERS: dict[str, Any] = {
    "state": _handle_state,
    "availability": _handle_availability,
    "bridge_state": _handle_bridge_state,
    "bridge_devices": _handle_bridge_devices,
    "bridge_event": _handle_bridge_event,
    "teleinfo": _handle_teleinfo,
}
