"""What gateways send, as data: Zigbee2MQTT topics and payload fields, Linky teleinfo, and what each means.

The rules never read raw payloads: ``parse_device_payload`` turns a device's JSON object into a ``Reading``
through ``FIELDS`` (field → expected type → meaning). Fields not in the table are kept in the device's state
and ignored by the rules. A mapped field of the wrong type makes the whole message malformed (a real
Zigbee2MQTT never sends one; trusting the rest of a forged or corrupted message would be unwise); ``null``
is allowed everywhere (Zigbee2MQTT sends it for values it does not know yet).

Sources: Koenkk/zigbee2mqtt.io ``docs/guide/usage/mqtt_topics_and_messages.md``, the device pages of the
Aqara RTCGQ11LM (motion), MCCGQ11LM (contact), SJCGQ11LM (water leak), JTYJ-GD-01LM/BW (smoke), TuYa
TS0215A_sos (SOS button); fmartinou/teleinfo2mqtt ``docs/mqtt/README.md`` (Linky).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

MAX_PAYLOAD_BYTES = 64 * 1024
# ``bridge/devices`` lists every device with its exposes: a home with many devices may exceed 64 KB.
MAX_BRIDGE_DEVICES_BYTES = 512 * 1024
MAX_STATE_KEYS = (
    64  # a device state with more keys than this is not a device (a payload stuffed to grow rows)
)
MAX_STRING = 200


class Meaning(StrEnum):
    OCCUPANCY = "occupancy"  # movement seen (activity; intrusion when armed)
    PRESENCE = "presence"  # mmWave presence (activity)
    CONTACT = "contact"  # True = closed, False = open (Zigbee2MQTT's convention)
    SMOKE = "smoke"
    WATER_LEAK = "water_leak"
    ACTION = "action"  # button action; "emergency"/"sos"/"panic" is a call for help, "fall" a fall
    SOS = "sos"  # some pendants report a boolean instead of an action
    FALL = "fall"
    BATTERY = "battery"  # percent
    BATTERY_LOW = "battery_low"
    LINKQUALITY = "linkquality"  # 0-255
    VOLTAGE = "voltage"  # mV
    TAMPER = "tamper"
    STATE = "state"  # ON/OFF (light, plug), OPEN/CLOSE/STOP (cover)
    POSITION = "position"  # cover 0-100
    BRIGHTNESS = "brightness"
    COLOR_TEMP = "color_temp"
    TEMPERATURE = "temperature"
    LOCAL_TEMPERATURE = "local_temperature"
    SETPOINT = "current_heating_setpoint"
    HUMIDITY = "humidity"
    POWER = "power"
    ENERGY = "energy"
    LAST_SEEN = "last_seen"  # set when Zigbee2MQTT's ``advanced.last_seen`` is on: a timestamp per message
    NO_OCCUPANCY_SINCE = "no_occupancy_since"
    ILLUMINANCE = "illuminance"


_NUMBER = (int, float)


@dataclass(frozen=True)
class FieldSpec:
    types: tuple[type, ...]
    meaning: Meaning
    minimum: float | None = None
    maximum: float | None = None


# Field → what it must be → what it means. Booleans are checked before numbers (bool is an int in Python).
FIELDS: dict[str, FieldSpec] = {
    "occupancy": FieldSpec((bool,), Meaning.OCCUPANCY),
    "presence": FieldSpec((bool,), Meaning.PRESENCE),
    "contact": FieldSpec((bool,), Meaning.CONTACT),
    "smoke": FieldSpec((bool,), Meaning.SMOKE),
    "water_leak": FieldSpec((bool,), Meaning.WATER_LEAK),
    "action": FieldSpec((str,), Meaning.ACTION),
    "sos": FieldSpec((bool,), Meaning.SOS),
    "fall": FieldSpec((bool,), Meaning.FALL),
    "battery": FieldSpec(_NUMBER, Meaning.BATTERY, 0, 100),
    "battery_low": FieldSpec((bool,), Meaning.BATTERY_LOW),
    "linkquality": FieldSpec(_NUMBER, Meaning.LINKQUALITY, 0, 255),
    "voltage": FieldSpec(_NUMBER, Meaning.VOLTAGE, 0, 100_000),
    "tamper": FieldSpec((bool,), Meaning.TAMPER),
    "state": FieldSpec((str,), Meaning.STATE),
    "position": FieldSpec(_NUMBER, Meaning.POSITION, 0, 100),
    "brightness": FieldSpec(_NUMBER, Meaning.BRIGHTNESS, 0, 255),
    "color_temp": FieldSpec(_NUMBER, Meaning.COLOR_TEMP, 0, 1000),
    "temperature": FieldSpec(_NUMBER, Meaning.TEMPERATURE, -60, 100),
    "local_temperature": FieldSpec(_NUMBER, Meaning.LOCAL_TEMPERATURE, -60, 100),
    "current_heating_setpoint": FieldSpec(_NUMBER, Meaning.SETPOINT, 0, 40),
    "humidity": FieldSpec(_NUMBER, Meaning.HUMIDITY, 0, 100),
    "power": FieldSpec(_NUMBER, Meaning.POWER, 0, 100_000),
    "energy": FieldSpec(_NUMBER, Meaning.ENERGY, 0, 1e12),
    "last_seen": FieldSpec((str, int), Meaning.LAST_SEEN),
    "no_occupancy_since": FieldSpec(_NUMBER, Meaning.NO_OCCUPANCY_SINCE, 0, 1e6),
    "illuminance": FieldSpec(_NUMBER, Meaning.ILLUMINANCE, 0, 1e6),
    "illuminance_lux": FieldSpec(_NUMBER, Meaning.ILLUMINANCE, 0, 1e6),
}

# ``action`` values that are a call for help, or a fall, whatever the button's brand.
SOS_ACTIONS = frozenset({"emergency", "sos", "panic", "alarm"})
FALL_ACTIONS = frozenset({"fall", "fall_detected"})
# Payload fields that identify one message (when present): a redelivery carries the same value.
SEQUENCE_FIELDS = ("last_seen", "seq", "sequence", "msg_id")


class Malformed(ValueError):
    """The payload is not what this topic carries; the message is dropped and counted."""


@dataclass
class Reading:
    """What a device state message says, in the rules' terms. ``None`` means "not in this message"."""

    occupancy: bool | None = None
    presence: bool | None = None
    contact: bool | None = None
    smoke: bool | None = None
    water_leak: bool | None = None
    sos: bool = False
    fall: bool = False
    action: str | None = None
    battery: int | None = None
    battery_low: bool | None = None
    linkquality: int | None = None
    tamper: bool | None = None
    sequence: str | None = None
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def calls_for_help(self) -> bool:
        """A call for help, a fall, smoke or a leak: an alarm that leaves at once."""
        return bool(self.sos or self.fall or self.smoke or self.water_leak)

    @property
    def is_activity(self) -> bool:
        """Something the resident did: moved, opened a door, pressed a button."""
        return bool(self.occupancy or self.presence or self.contact is False or self.action)


def _check(name: str, value: Any) -> None:
    spec = FIELDS[name]
    if value is None:
        return
    if isinstance(value, bool) and bool not in spec.types:
        raise Malformed(f"{name}: expected {spec.types}, got a boolean")
    if not isinstance(value, spec.types):
        raise Malformed(f"{name}: expected {spec.types}, got {type(value).__name__}")
    if isinstance(value, float) and value != value:  # NaN
        raise Malformed(f"{name}: not a number")
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise Malformed(f"{name}: too long")
    if isinstance(value, _NUMBER) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            raise Malformed(f"{name}: {value} below {spec.minimum}")
        if spec.maximum is not None and value > spec.maximum:
            raise Malformed(f"{name}: {value} above {spec.maximum}")


def load_json(payload: bytes) -> Any:
    try:
        return json.loads(payload.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise Malformed(f"not JSON: {error.__class__.__name__}") from error


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_device_payload(payload: bytes) -> Reading:
    """A ``zigbee2mqtt/<base>/<friendly_name>`` message: always a JSON object."""
    data = load_json(payload)
    if not isinstance(data, dict):
        raise Malformed("a device state is a JSON object")
    if len(data) > MAX_STATE_KEYS:
        raise Malformed("too many fields")
    reading = Reading()
    for name, value in data.items():
        if name in FIELDS:
            _check(name, value)
    reading.state = data
    reading.occupancy = data.get("occupancy")
    reading.presence = data.get("presence")
    reading.contact = data.get("contact")
    reading.smoke = data.get("smoke")
    reading.water_leak = data.get("water_leak")
    reading.battery_low = data.get("battery_low")
    reading.tamper = data.get("tamper")
    battery = data.get("battery")
    reading.battery = round(battery) if battery is not None else None
    linkquality = data.get("linkquality")
    reading.linkquality = round(linkquality) if linkquality is not None else None
    action = data.get("action")
    reading.action = action or None
    action_key = (action or "").strip().lower()
    reading.sos = bool(data.get("sos")) or action_key in SOS_ACTIONS
    reading.fall = bool(data.get("fall")) or action_key in FALL_ACTIONS
    for name in SEQUENCE_FIELDS:
        if data.get(name) not in (None, ""):
            reading.sequence = str(data[name])[:MAX_STRING]
            break
    return reading


def parse_availability(payload: bytes) -> bool:
    """``online``/``offline``, or ``{"state": "online"}`` (Zigbee2MQTT ≥ 1.31's JSON form). True = online."""
    text = payload.strip()
    if text in (b"online", b"offline"):
        return text == b"online"
    data = load_json(payload)
    if isinstance(data, dict) and data.get("state") in ("online", "offline"):
        return data["state"] == "online"
    raise Malformed("availability is online or offline")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_bridge_devices(payload: bytes) -> list[dict[str, Any]]:
    """``bridge/devices``: the list of the gateway's devices, with their IEEE address and model."""
    data = load_json(payload)
    if not isinstance(data, list):
        raise Malformed("bridge/devices is a list")
    devices = []
    for item in data:
        if not isinstance(item, dict):
            raise Malformed("bridge/devices holds objects")
        name, ieee = item.get("friendly_name"), item.get("ieee_address")
        if not isinstance(name, str) or not isinstance(ieee, str) or len(name) > MAX_STRING or len(ieee) > 32:
            raise Malformed("bridge/devices entries have a friendly_name and an ieee_address")
        definition: dict[str, Any] = item["definition"] if isinstance(item.get("definition"), dict) else {}
        model = _text(definition.get("model"))
        vendor = _text(definition.get("vendor"))
        power = _text(item.get("power_source"))
        devices.append(
            {
                "friendly_name": name,
                "ieee_address": ieee,
                "model": f"{vendor} {model}".strip()[:120],
                "power_source": power[:40],
                "type": _text(item.get("type"))[:40],
            }
        )
    return devices


def parse_bridge_event(payload: bytes) -> dict[str, Any]:
    """``bridge/event``: ``{"type": "device_leave", "data": {"friendly_name": ..., "ieee_address": ...}}``."""
    data = load_json(payload)
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise Malformed("bridge/event is an object with a type")
    event_data = data.get("data")
    if event_data is not None and not isinstance(event_data, dict):
        raise Malformed("bridge/event data is an object")
    return {"type": data["type"][:60], "data": event_data or {}}


@dataclass(frozen=True)
class TeleinfoReading:
    index_wh: int | None
    power_va: int | None
    values: dict[str, Any]


# Linky "historique" and "standard" labels: index fields are summed (HC + HP), power is the apparent power.
TELEINFO_INDEX_FIELDS = (
    "BASE",
    "HCHC",
    "HCHP",
    "EJPHN",
    "EJPHPM",
    "BBRHCJB",
    "BBRHPJB",
    "BBRHCJW",
    "BBRHPJW",
    "BBRHCJR",
    "BBRHPJR",
)
TELEINFO_STANDARD_INDEX = "EAST"
TELEINFO_POWER_FIELDS = ("PAPP", "SINSTS")


def _teleinfo_value(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("value")
    return item


def _teleinfo_int(name: str, item: Any) -> int | None:
    value = _teleinfo_value(item)
    if value is None:
        return None
    if isinstance(value, bool):
        raise Malformed(f"{name} is a number")
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise Malformed(f"{name} is a number")
        value = int(value)
    if not isinstance(value, int | float) or value < 0 or value > 10**12:
        raise Malformed(f"{name} is a number")
    return int(value)


def parse_teleinfo(payload: bytes) -> TeleinfoReading:
    """``teleinfo/<…>/<ADCO>``: ``{"PAPP": {"raw": "04110", "value": 4110}, "BASE": {...}, ...}``."""
    data = load_json(payload)
    if not isinstance(data, dict) or len(data) > MAX_STATE_KEYS:
        raise Malformed("teleinfo is a JSON object")
    index: int | None = None
    if TELEINFO_STANDARD_INDEX in data:
        index = _teleinfo_int(TELEINFO_STANDARD_INDEX, data[TELEINFO_STANDARD_INDEX])
    else:
        parts = [_teleinfo_int(name, data[name]) for name in TELEINFO_INDEX_FIELDS if name in data]
        known = [part for part in parts if part is not None]
        index = sum(known) if known else None
    power: int | None = None
    for name in TELEINFO_POWER_FIELDS:
        if name in data:
            power = _teleinfo_int(name, data[name])
            break
    if index is None and power is None:
        raise Malformed("teleinfo without index nor power")
    values = {key: _teleinfo_value(value) for key, value in data.items() if isinstance(key, str)}
    return TeleinfoReading(index_wh=index, power_va=power, values=values)
