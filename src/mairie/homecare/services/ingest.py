"""The one door for what gateways send: ``ingest_message(topic=..., payload=..., received_at=...)``.

The MQTT bridge calls it for every message and acknowledges the message to the broker once it returns
(whatever the outcome): the effect is committed, or the message was dropped for a reason it counts. A
database error is raised, never swallowed: the bridge must not acknowledge, and retries the same message.

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
60–120 s counts as a redelivery ("duplicate"). A redelivered SOS therefore raises one alarm; alarms also
carry a unique key derived from the event.

Drops (``accepted=False``), never an exception: ``too_large``, ``malformed``, ``foreign_topic`` (not a
topic we serve, or the topic's commune is not the gateway's), ``unknown_gateway``, ``unknown_device``,
``duplicate``. Accepted with nothing to do: ``ignored``; a meter reading within a minute of the last one:
``sampled``. Anything else raised (a database error, or a bug) propagates: the bridge does not acknowledge a
database error and retries the message; it keeps a message that hit a bug as a dead letter and moves on.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django_scopes import scope, scopes_disabled

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


@dataclass(frozen=True)
class Route:
    gateway: Gateway
    kind: str  # state, availability, bridge_state, bridge_devices, bridge_event, teleinfo, ignored
    name: str = ""  # the device's friendly name (or the meter's ADCO)


def _segments_ok(topic: str) -> bool:
    return (
        0 < len(topic) <= MAX_TOPIC
        and not any(char in topic for char in "+#\x00")
        and "//" not in topic
        and not topic.endswith("/")
    )


def find_gateway(topic: str) -> tuple[Gateway | None, str]:
    """The gateway whose namespace holds ``topic`` (longest prefix), and which namespace (zigbee or teleinfo)."""
    parts = topic.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(2, len(parts))]
    if not prefixes:
        return None, ""
    with scopes_disabled():  # the topic tells which commune: found here, then entered
        if parts[0] == ZIGBEE_ROOT:
            gateways = list(Gateway.objects.filter(base_topic__in=prefixes).select_related("commune"))
            key = "base_topic"
        else:
            gateways = list(Gateway.objects.filter(teleinfo_topic__in=prefixes).select_related("commune"))
            key = "teleinfo_topic"
    if not gateways:
        return None, key
    return max(gateways, key=lambda gateway: len(getattr(gateway, key) or "")), key


def route(topic: str) -> Route | str:
    """Where a topic goes, or the reason it goes nowhere."""
    if not isinstance(topic, str) or not _segments_ok(topic):
        return Reason.MALFORMED
    root = topic.split("/", 1)[0]
    if root not in (ZIGBEE_ROOT, TELEINFO_ROOT):
        return Reason.FOREIGN_TOPIC
    gateway, key = find_gateway(topic)
    if gateway is None:
        return Reason.UNKNOWN_GATEWAY
    base = getattr(gateway, key)
    base_parts = base.split("/")
    # Default layout ``<root>/<commune-slug>/<home-id>``: the slug must be the gateway's own commune.
    if (
        len(base_parts) == 3
        and base_parts[2] == str(gateway.home_id)
        and base_parts[1] != gateway.commune.slug
    ):
        return Reason.FOREIGN_TOPIC
    rest = topic[len(base) + 1 :]
    if key == "teleinfo_topic":
        return Route(gateway, "teleinfo", rest)
    if rest == "bridge/state":
        return Route(gateway, "bridge_state")
    if rest == "bridge/devices":
        return Route(gateway, "bridge_devices")
    if rest == "bridge/event":
        return Route(gateway, "bridge_event")
    if rest == "bridge" or rest.startswith("bridge/"):
        return Route(gateway, "ignored")
    last = rest.rsplit("/", 1)[-1]
    if last in ("set", "get") or "/set/" in rest or "/get/" in rest:
        return Route(gateway, "ignored")  # commands (ours included: the bridge publishes them)
    if last == "availability":
        return Route(gateway, "availability", rest[: -len("/availability")])
    return Route(gateway, "state", rest)


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


def _record_event(
    *, home: Home, device: Device | None, kind: str, data: Any, at: datetime, keys: tuple[str, str]
) -> DeviceEvent | None:
    """Writes the event row; ``None`` if this message was already recorded (a redelivery)."""
    key, previous_key = keys
    if previous_key != key and DeviceEvent.objects.filter(dedup_key=previous_key).exists():
        return None
    event = DeviceEvent(
        commune_id=home.commune_id,
        home=home,
        device=device,
        kind=kind,
        payload=data,
        received_at=at,
        dedup_key=key,
    )
    try:
        with transaction.atomic():
            event.save(force_insert=True)
    except IntegrityError:
        return None
    return event


def ingest_message(*, topic: str, payload: bytes, received_at: datetime) -> IngestOutcome:
    """Applies one MQTT message; see the module's docstring. Safe to call twice with the same message."""
    if not isinstance(payload, bytes | bytearray | memoryview):
        return _drop(Reason.MALFORMED)
    payload = bytes(payload)
    if len(payload) > payloads.MAX_BRIDGE_DEVICES_BYTES:
        return _drop(Reason.TOO_LARGE)
    try:
        where = route(topic)
    except (ValueError, TypeError):
        return _drop(Reason.MALFORMED)
    if isinstance(where, str):
        return _drop(where)
    if len(payload) > _size_limit(where.kind):
        return _drop(Reason.TOO_LARGE, where.gateway.home_id)
    if where.kind == "ignored":
        return IngestOutcome(accepted=True, reason=Reason.IGNORED, home_id=where.gateway.home_id)
    try:
        with scope(commune=where.gateway.commune):
            return _apply(where, topic, payload, received_at)
    except Malformed:
        return _drop(Reason.MALFORMED, where.gateway.home_id)


def _apply(where: Route, topic: str, payload: bytes, at: datetime) -> IngestOutcome:
    gateway = where.gateway
    device: Device | None = None
    if where.kind in ("state", "availability", "teleinfo"):
        device = Device.objects.filter(gateway=gateway, friendly_name=where.name).first()
        if device is None:
            return _drop(Reason.UNKNOWN_DEVICE, gateway.home_id)
        device.gateway = gateway
    # Parse before opening the transaction: a malformed payload writes nothing.
    parsed: Any
    if where.kind == "state":
        parsed = payloads.parse_device_payload(payload)
    elif where.kind in ("availability", "bridge_state"):
        parsed = payloads.parse_availability(payload)
    elif where.kind == "bridge_devices":
        parsed = payloads.parse_bridge_devices(payload)
    elif where.kind == "bridge_event":
        parsed = payloads.parse_bridge_event(payload)
    else:
        parsed = payloads.parse_teleinfo(payload)
    handler = _HANDLERS[where.kind]
    with transaction.atomic():
        home = Home.objects.select_for_update(of=("self",)).select_related("commune").get(pk=gateway.home_id)
        gateway.home = home
        if device is not None:
            device.home = home
        return handler(
            home=home, gateway=gateway, device=device, parsed=parsed, topic=topic, payload=payload, at=at
        )


# Handlers: inside the transaction, the home row locked.


def _device_seen(device: Device, at: datetime, fields: list[str]) -> None:
    """The device spoke: supervision restarts; if it was offline, its offline alarm closes by itself."""
    if device.last_seen_at is None or at >= device.last_seen_at:
        device.last_seen_at = at
        device.supervision_deadline = at + timedelta(minutes=device.supervision_minutes)
        fields += ["last_seen_at", "supervision_deadline"]
    if not device.online:
        device.online = True
        fields.append("online")
        _device_back(device, at)


def _device_back(device: Device, at: datetime) -> None:
    for alarm in Alarm.objects.filter(
        device=device, kind=Alarm.Kind.DEVICE_OFFLINE, state__in=Alarm.OPEN_STATES
    ):
        alarm.home = device.home
        alarm_services.resolve_by_system(
            alarm,
            at=at,
            outcome=_("L'appareil est de nouveau joignable."),
            event=AlarmEvent.Kind.DEVICE_BACK,
        )


def _raise(home: Home, device: Device | None, spec: rules.AlarmSpec, at: datetime, key: str) -> Alarm | None:
    return alarm_services.raise_alarm(
        home=home,
        device=device,
        kind=spec.kind,
        severity=spec.severity,
        at=at,
        dedup_key=f"{spec.kind}:{key}"[:200],
        data=spec.data,
    )


def _handle_state(
    *, home: Home, gateway: Gateway, device: Device, parsed: Reading, topic: str, payload: bytes, at: datetime
) -> IngestOutcome:
    keys = _dedup_keys(gateway.pk, topic, payload, parsed.sequence, at)
    event = _record_event(home=home, device=device, kind="state", data=parsed.state, at=at, keys=keys)
    if event is None:
        return IngestOutcome(accepted=False, reason=Reason.DUPLICATE, home_id=home.pk)
    fields: list[str] = []
    newest = device.last_seen_at is None or at >= device.last_seen_at
    previous_contact = device.state.get("contact") if isinstance(device.state, dict) else None
    _device_seen(device, at, fields)
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
        alarm = _raise(home, device, spec, at, event.dedup_key)
        if alarm is not None:
            alarm_ids.append(alarm.pk)
    _clear_conditions(device, parsed, at)
    home_fields: list[str] = []
    if parsed.is_activity:
        morning = (
            bool(parsed.occupancy or parsed.presence)
            and bool(home.morning_check_room)
            and (device.room.strip().lower() == home.morning_check_room.strip().lower())
        )
        home_fields += record_activity(home, at=at, morning_room=morning)
    alarm_ids += _intrusion(home, device, parsed, at, event.dedup_key, home_fields)
    if device.kind == Device.Kind.CONTACT and newest and parsed.contact is not None:
        _door(home, device, parsed.contact, previous_contact, at, fields)
    if fields:
        device.save(update_fields=list(dict.fromkeys(fields)))
    if home_fields:
        home.save(update_fields=list(dict.fromkeys(home_fields)))
    return IngestOutcome(accepted=True, reason=Reason.OK, alarm_ids=alarm_ids, home_id=home.pk)


def _clear_conditions(device: Device, reading: Reading, at: datetime) -> None:
    """Smoke or water gone: noted on the open alarm's timeline (a person still closes it, with an outcome)."""
    cleared = []
    if reading.smoke is False:
        cleared.append(Alarm.Kind.SMOKE)
    if reading.water_leak is False:
        cleared.append(Alarm.Kind.WATER_LEAK)
    if not cleared:
        return
    for alarm in Alarm.objects.filter(device=device, kind__in=cleared, state__in=Alarm.OPEN_STATES):
        if not AlarmEvent.objects.filter(alarm=alarm, kind=AlarmEvent.Kind.CLEARED).exists():
            alarm_services.add_timeline(alarm, AlarmEvent.Kind.CLEARED, at=at)


def _intrusion(
    home: Home, device: Device, reading: Reading, at: datetime, key: str, home_fields: list[str]
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
    return [alarm.pk] if alarm else []


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
    home: Home, device: Device | None, at: datetime, key: str, data: dict[str, Any]
) -> list[int]:
    alarm = alarm_services.raise_alarm(
        home=home, device=device, kind=Alarm.Kind.DEVICE_OFFLINE, at=at, dedup_key=f"offline:{key}", data=data
    )
    return [alarm.pk] if alarm else []


def _handle_availability(
    *, home: Home, gateway: Gateway, device: Device, parsed: bool, topic: str, payload: bytes, at: datetime
) -> IngestOutcome:
    keys = _dedup_keys(gateway.pk, topic, payload, None, at)
    event = _record_event(
        home=home, device=device, kind="availability", data={"online": parsed}, at=at, keys=keys
    )
    if event is None:
        return IngestOutcome(accepted=False, reason=Reason.DUPLICATE, home_id=home.pk)
    fields: list[str] = []
    alarm_ids: list[int] = []
    if parsed:
        _device_seen(device, at, fields)
    elif device.online and (device.last_seen_at is None or at >= device.last_seen_at):
        device.online = False
        device.supervision_deadline = None
        fields += ["online", "supervision_deadline"]
        alarm_ids = _offline_alarm(home, device, at, event.dedup_key, {"source": "availability"})
    if fields:
        device.save(update_fields=list(dict.fromkeys(fields)))
    return IngestOutcome(accepted=True, reason=Reason.OK, alarm_ids=alarm_ids, home_id=home.pk)


def _handle_bridge_state(
    *, home: Home, gateway: Gateway, device: None, parsed: bool, topic: str, payload: bytes, at: datetime
) -> IngestOutcome:
    keys = _dedup_keys(gateway.pk, topic, payload, None, at)
    event = _record_event(
        home=home, device=None, kind="bridge_state", data={"online": parsed}, at=at, keys=keys
    )
    if event is None:
        return IngestOutcome(accepted=False, reason=Reason.DUPLICATE, home_id=home.pk)
    was_online = gateway.online
    Gateway.objects.filter(pk=gateway.pk).update(online=parsed, last_seen_at=at)
    alarm_ids: list[int] = []
    if parsed and not was_online:
        for alarm in Alarm.objects.filter(
            home=home, device__isnull=True, kind=Alarm.Kind.DEVICE_OFFLINE, state__in=Alarm.OPEN_STATES
        ):
            alarm.home = home
            alarm_services.resolve_by_system(
                alarm,
                at=at,
                outcome=_("La passerelle est de nouveau en ligne."),
                event=AlarmEvent.Kind.DEVICE_BACK,
            )
    elif not parsed and was_online:
        alarm_ids = _offline_alarm(
            home, None, at, event.dedup_key, {"source": "bridge_state", "gateway": gateway.pk}
        )
    return IngestOutcome(accepted=True, reason=Reason.OK, alarm_ids=alarm_ids, home_id=home.pk)


def _handle_bridge_devices(
    *,
    home: Home,
    gateway: Gateway,
    device: None,
    parsed: list[dict[str, Any]],
    topic: str,
    payload: bytes,
    at: datetime,
) -> IngestOutcome:
    keys = _dedup_keys(gateway.pk, topic, payload, None, at)
    event = _record_event(
        home=home, device=None, kind="bridge_devices", data={"devices": len(parsed)}, at=at, keys=keys
    )
    if event is None:
        return IngestOutcome(accepted=False, reason=Reason.DUPLICATE, home_id=home.pk)
    known = {d.friendly_name: d for d in Device.objects.filter(gateway=gateway)}
    for item in parsed:
        registered = known.get(item["friendly_name"])
        if registered is None:
            continue
        changes = {}
        if item["ieee_address"] and registered.ieee_address != item["ieee_address"]:
            changes["ieee_address"] = item["ieee_address"]
        if item["model"] and registered.model != item["model"]:
            changes["model"] = item["model"]
        if changes:
            Device.objects.filter(pk=registered.pk).update(**changes)
    Gateway.objects.filter(pk=gateway.pk).update(last_seen_at=at)
    return IngestOutcome(accepted=True, reason=Reason.OK, home_id=home.pk)


def _handle_bridge_event(
    *,
    home: Home,
    gateway: Gateway,
    device: None,
    parsed: dict[str, Any],
    topic: str,
    payload: bytes,
    at: datetime,
) -> IngestOutcome:
    keys = _dedup_keys(gateway.pk, topic, payload, None, at)
    event = _record_event(home=home, device=None, kind="bridge_event", data=parsed, at=at, keys=keys)
    if event is None:
        return IngestOutcome(accepted=False, reason=Reason.DUPLICATE, home_id=home.pk)
    alarm_ids: list[int] = []
    if parsed["type"] == "device_leave":
        data = parsed["data"]
        name, ieee = data.get("friendly_name"), data.get("ieee_address")
        left = (
            Device.objects.filter(gateway=gateway, friendly_name=name).first()
            if isinstance(name, str)
            else None
        )
        if left is None and isinstance(ieee, str) and ieee:
            left = Device.objects.filter(gateway=gateway, ieee_address=ieee).first()
        if left is not None and left.online:
            Device.objects.filter(pk=left.pk).update(online=False, supervision_deadline=None)
            left.home = home
            alarm_ids = _offline_alarm(home, left, at, event.dedup_key, {"source": "device_leave"})
    return IngestOutcome(accepted=True, reason=Reason.OK, alarm_ids=alarm_ids, home_id=home.pk)


def _handle_teleinfo(
    *,
    home: Home,
    gateway: Gateway,
    device: Device,
    parsed: payloads.TeleinfoReading,
    topic: str,
    payload: bytes,
    at: datetime,
) -> IngestOutcome:
    last = EnergyReading.objects.filter(device=device).order_by("-at").values_list("at", flat=True).first()
    if last is not None and abs(at - last) < ENERGY_SAMPLE:
        return IngestOutcome(accepted=True, reason=Reason.SAMPLED, home_id=home.pk)
    EnergyReading.objects.create(
        commune_id=home.commune_id,
        home=home,
        device=device,
        at=at,
        index_wh=parsed.index_wh,
        power_va=parsed.power_va,
    )
    fields: list[str] = []
    _device_seen(device, at, fields)
    device.state = {"index_wh": parsed.index_wh, "power_va": parsed.power_va}
    fields.append("state")
    device.save(update_fields=list(dict.fromkeys(fields)))
    return IngestOutcome(accepted=True, reason=Reason.OK, home_id=home.pk)


_HANDLERS: dict[str, Any] = {
    "state": _handle_state,
    "availability": _handle_availability,
    "bridge_state": _handle_bridge_state,
    "bridge_devices": _handle_bridge_devices,
    "bridge_event": _handle_bridge_event,
    "teleinfo": _handle_teleinfo,
}
