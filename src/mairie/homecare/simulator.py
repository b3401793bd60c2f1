"""Simulated homes: the Zigbee2MQTT and Linky traffic real gateways send, for the demo, the tests and the benches.

``HomeSimulator`` walks a resident through days and nights (waking up, moving from room to room, going out for
errands, bathroom trips at night), and produces, in time order, what the home's devices would publish:
motion (``occupancy`` then its reset after 90 s), door openings (``contact``), periodic reports with
draining batteries, the SOS pendant's check-ins, the smoke and leak detectors' reports, shutters, lights and
the thermostat, availability (both forms) and ``bridge/state``/``bridge/devices`` at start-up, and the Linky
meter every minute. Incidents are injected on request: a fall, a fire, a call for help.

Payloads follow the device pages of zigbee2mqtt.io (Aqara RTCGQ11LM, MCCGQ11LM, SJCGQ11LM, JTYJ-GD-01LM/BW,
TuYa TS0215A_sos...) with Zigbee2MQTT's ``advanced.last_seen: ISO_8601`` on, so that every message carries its
own timestamp (a redelivered message is identical; two real presses are not). Nothing here touches the
database: ``homecare_simulate`` creates the homes and publishes what this module generates.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

OCCUPANCY_TIMEOUT = timedelta(seconds=90)
REPORT_INTERVAL = timedelta(minutes=50)  # Aqara sensors report about hourly
PENDANT_CHECKIN = timedelta(minutes=20)  # shorter than the pendant's 60-minute supervision period
METER_INTERVAL = timedelta(minutes=1)
THERMOSTAT_INTERVAL = timedelta(minutes=15)


@dataclass(frozen=True)
class DeviceSpec:
    friendly_name: str  # relative to the home's base topic; "/" nests topics, as in Zigbee2MQTT
    kind: str  # mairie.homecare.models.Device.Kind value
    room: str
    vendor: str
    model: str
    battery: bool = True


# One home's devices, as the village's homes are equipped.
HOME_DEVICES: tuple[DeviceSpec, ...] = (
    DeviceSpec("entree/porte", "contact", "entrée", "Aqara", "MCCGQ11LM"),
    DeviceSpec("entree/mouvement", "motion", "entrée", "Aqara", "RTCGQ11LM"),
    DeviceSpec("salon/mouvement", "motion", "salon", "Aqara", "RTCGQ11LM"),
    DeviceSpec("cuisine/mouvement", "motion", "cuisine", "Aqara", "RTCGQ11LM"),
    DeviceSpec("chambre/mouvement", "motion", "chambre", "Aqara", "RTCGQ11LM"),
    DeviceSpec("salle_de_bain/mouvement", "motion", "salle de bain", "Aqara", "RTCGQ11LM"),
    DeviceSpec("cuisine/fumee", "smoke", "cuisine", "Aqara", "JTYJ-GD-01LM/BW"),
    DeviceSpec("salle_de_bain/fuite", "water_leak", "salle de bain", "Aqara", "SJCGQ11LM"),
    DeviceSpec("pendentif", "sos", "", "TuYa", "TS0215A_sos"),
    DeviceSpec("chambre/chute", "fall", "chambre", "TuYa", "ZG-205Z", battery=False),
    DeviceSpec("salon/volet", "shutter", "salon", "Legrand", "067776", battery=False),
    DeviceSpec("salon/lumiere", "light", "salon", "Philips", "9290022166", battery=False),
    DeviceSpec("salon/thermostat", "thermostat", "salon", "TuYa", "TS0601_thermostat"),
)
_PARIS = ZoneInfo("Europe/Paris")
ROOMS_BY_DAY = ("salon", "cuisine", "salon", "chambre", "salle de bain", "entrée", "salon", "cuisine")


@dataclass(frozen=True)
class SimulatedHome:
    """What the simulator needs to know about a home in the database."""

    home_id: int
    base_topic: str
    teleinfo_topic: str
    adco: str
    devices: tuple[DeviceSpec, ...] = HOME_DEVICES
    username: str = ""
    password: str = ""

    def topic(self, friendly_name: str) -> str:
        return f"{self.base_topic}/{friendly_name}"

    def device(self, kind: str) -> DeviceSpec:
        return next(spec for spec in self.devices if spec.kind == kind)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimulatedHome:
        return cls(
            home_id=data["home_id"],
            base_topic=data["base_topic"],
            teleinfo_topic=data["teleinfo_topic"],
            adco=data["adco"],
            devices=tuple(
                DeviceSpec(item["friendly_name"], item["kind"], item.get("room", ""), "", "")
                for item in data["devices"]
            ),
            username=data.get("username", ""),
            password=data.get("password", ""),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "home_id": self.home_id,
            "username": self.username,
            "password": self.password,
            "base_topic": self.base_topic,
            "teleinfo_topic": self.teleinfo_topic,
            "adco": self.adco,
            "devices": [
                {"friendly_name": d.friendly_name, "kind": d.kind, "room": d.room} for d in self.devices
            ],
        }


@dataclass(frozen=True, order=True)
class Message:
    at: datetime
    topic: str = field(compare=False)
    payload: bytes = field(compare=False)
    retain: bool = field(default=False, compare=False)


def ieee_for(home_id: int, index: int) -> str:
    return f"0x00158d{home_id:06x}{index:04x}"[:18]


def last_seen(at: datetime) -> str:
    """Zigbee2MQTT's ``last_seen`` in ISO_8601 mode: UTC with milliseconds."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def bridge_devices_payload(home: SimulatedHome) -> bytes:
    """A trimmed ``bridge/devices`` list (real ones add ``exposes``, endpoints, firmware...)."""
    devices: list[dict[str, Any]] = [
        {
            "friendly_name": "Coordinator",
            "ieee_address": f"0x00124b{home.home_id:010x}"[:18],
            "type": "Coordinator",
            "interview_completed": True,
        }
    ]
    for index, spec in enumerate(home.devices):
        devices.append(
            {
                "friendly_name": spec.friendly_name,
                "ieee_address": ieee_for(home.home_id, index),
                "type": "EndDevice" if spec.battery else "Router",
                "power_source": "Battery" if spec.battery else "Mains (single phase)",
                "interview_completed": True,
                "supported": True,
                "definition": {"vendor": spec.vendor, "model": spec.model, "description": spec.kind},
            }
        )
    return dumps(devices)


@dataclass
class _DeviceState:
    spec: DeviceSpec
    battery: float
    linkquality: int
    extra: dict[str, Any] = field(default_factory=dict)


class HomeSimulator:
    """One home's traffic from ``start`` on, in time order (``messages(until)``), reproducible from ``seed``."""

    def __init__(
        self, home: SimulatedHome, *, start: datetime, seed: int = 0, meter_index_wh: int | None = None
    ) -> None:
        self.home = home
        self.rng = random.Random(f"{seed}-{home.home_id}")
        self.now = start
        self.state = {
            spec.friendly_name: _DeviceState(
                spec, battery=self.rng.uniform(35, 100), linkquality=self.rng.randint(40, 200)
            )
            for spec in home.devices
        }
        # Batteries drain; in one home out of five the leak detector's is nearly flat already.
        leak = next((spec for spec in home.devices if spec.kind == "water_leak"), None)
        if leak is not None and home.home_id % 5 == 0:
            self.state[leak.friendly_name].battery = 12.0
        self.wake = time(7, self.rng.randint(0, 59))
        self.sleep = time(21, self.rng.randint(30, 59))
        # The meter's index goes on from its last reading when the home has a history (the demo's), as a real one.
        self.index_wh = (
            meter_index_wh if meter_index_wh is not None else self.rng.randint(5_000_000, 40_000_000)
        )
        self._queue: list[tuple[datetime, int, str, dict[str, Any]]] = []
        self._sequence = itertools.count()
        self._schedule(start, "startup")
        self._schedule(start + timedelta(seconds=self.rng.uniform(1, 30)), "move")
        self._schedule(start + timedelta(seconds=self.rng.uniform(0, 60)), "meter")
        self._schedule(start + timedelta(minutes=self.rng.uniform(0, 15)), "thermostat")
        for spec in home.devices:
            if spec.kind == "sos":
                self._schedule(
                    start + self.rng.uniform(0.1, 1.0) * PENDANT_CHECKIN, "report", name=spec.friendly_name
                )
            elif spec.battery:
                self._schedule(
                    start + self.rng.uniform(0.1, 1.0) * REPORT_INTERVAL, "report", name=spec.friendly_name
                )

    # --- scheduling -------------------------------------------------------------------------------------------

    def _schedule(self, at: datetime, what: str, **data: Any) -> None:
        heapq.heappush(self._queue, (at, next(self._sequence), what, data))

    def inject(self, at: datetime, incident: str) -> None:
        """``fall``, ``fire``, ``sos``, ``leak`` or ``door_open`` at ``at`` (simulated time)."""
        self._schedule(at, incident)

    def messages(self, until: datetime) -> Iterator[Message]:
        while self._queue and self._queue[0][0] <= until:
            at, _, what, data = heapq.heappop(self._queue)
            self.now = at
            yield from getattr(self, f"_on_{what}")(at, **data)

    # --- helpers ------------------------------------------------------------------------------------------------

    def awake(self, at: datetime) -> bool:
        local = at.astimezone(_PARIS).time()
        return self.wake <= local < self.sleep

    def _device_message(self, at: datetime, name: str, fields: dict[str, Any]) -> Message:
        device = self.state[name]
        payload: dict[str, Any] = dict(fields)
        if device.spec.battery:
            device.battery = max(0.0, device.battery - self.rng.uniform(0.0, 0.02))
            payload.setdefault("battery", round(device.battery))
            payload.setdefault("voltage", int(2700 + device.battery * 4))
        device.linkquality = max(5, min(255, device.linkquality + self.rng.randint(-6, 6)))
        payload["linkquality"] = device.linkquality
        payload["last_seen"] = last_seen(at)
        return Message(at, self.home.topic(name), dumps(payload))

    def _name(self, kind: str, room: str | None = None) -> str | None:
        for spec in self.home.devices:
            if spec.kind == kind and (room is None or spec.room == room):
                return spec.friendly_name
        return None

    # --- what happens ------------------------------------------------------------------------------------------

    def _on_startup(self, at: datetime) -> Iterator[Message]:
        base = self.home.base_topic
        yield Message(at, f"{base}/bridge/state", dumps({"state": "online"}), retain=True)
        yield Message(at, f"{base}/bridge/devices", bridge_devices_payload(self.home), retain=True)
        for index, spec in enumerate(self.home.devices):
            # Both forms exist in the field: plain text (Zigbee2MQTT < 1.31, legacy) and JSON.
            body = b"online" if index % 2 else dumps({"state": "online"})
            yield Message(at, f"{self.home.topic(spec.friendly_name)}/availability", body, retain=True)

    def _on_move(self, at: datetime) -> Iterator[Message]:
        if self.awake(at):
            room = self.rng.choice(ROOMS_BY_DAY)
            if room == "entrée" and self.rng.random() < 0.15:
                yield from self._go_out(at)
                return
            delay = timedelta(minutes=self.rng.expovariate(1 / 8))
        else:
            # At night: asleep, a bathroom trip now and then (no motion sensor sees the bed).
            room = "salle de bain" if self.rng.random() < 0.2 else ""
            delay = timedelta(minutes=self.rng.uniform(60, 150))
        name = self._name("motion", room) if room else None
        if name:
            yield self._device_message(at, name, {"occupancy": True, "illuminance": self.rng.randint(0, 400)})
            self._schedule(at + OCCUPANCY_TIMEOUT, "occupancy_clear", name=name)
        # The bedroom's fall radar (mmWave) sees the resident there, asleep included: it reports presence.
        radar = self._name("fall", room or "chambre")
        if radar:
            distance = round(self.rng.uniform(0.5, 3.5), 2)
            yield self._device_message(at, radar, {"presence": True, "target_distance": distance})
        if room == "salon" and self.awake(at):
            yield from self._shutters_and_lights(at)
        self._schedule(at + delay, "move")

    def _go_out(self, at: datetime) -> Iterator[Message]:
        door = self._name("contact")
        hall = self._name("motion", "entrée")
        if hall:
            yield self._device_message(at, hall, {"occupancy": True, "illuminance": 80})
            self._schedule(at + OCCUPANCY_TIMEOUT, "occupancy_clear", name=hall)
        if door:
            self._schedule(at + timedelta(seconds=20), "contact", name=door, closed=False)
            self._schedule(at + timedelta(seconds=35), "contact", name=door, closed=True)
        away = timedelta(minutes=self.rng.uniform(30, 150))  # errands, the market, a neighbour
        if door:
            self._schedule(at + away, "contact", name=door, closed=False)
            self._schedule(at + away + timedelta(seconds=10), "contact", name=door, closed=True)
        self._schedule(at + away + timedelta(seconds=30), "move")

    def _on_contact(self, at: datetime, name: str, closed: bool) -> Iterator[Message]:
        yield self._device_message(at, name, {"contact": closed})

    def _on_occupancy_clear(self, at: datetime, name: str) -> Iterator[Message]:
        yield self._device_message(at, name, {"occupancy": False})

    def _shutters_and_lights(self, at: datetime) -> Iterator[Message]:
        local = at.astimezone(_PARIS).time()
        shutter, light = self._name("shutter"), self._name("light")
        evening = local >= time(18, 30)
        if shutter and self.state[shutter].extra.get("position") != (0 if evening else 100):
            position = 0 if evening else 100
            self.state[shutter].extra["position"] = position
            yield self._device_message(
                at, shutter, {"state": "CLOSE" if evening else "OPEN", "position": position}
            )
        if light and self.state[light].extra.get("state") != ("ON" if evening else "OFF"):
            self.state[light].extra["state"] = "ON" if evening else "OFF"
            yield self._device_message(
                at, light, {"state": "ON" if evening else "OFF", "brightness": 180, "color_temp": 370}
            )

    def _on_report(self, at: datetime, name: str) -> Iterator[Message]:
        spec = self.state[name].spec
        fields: dict[str, Any] = {}
        if spec.kind == "motion":
            fields = {"occupancy": False, "illuminance": self.rng.randint(0, 300)}
        elif spec.kind == "contact":
            fields = {"contact": True}
        elif spec.kind == "smoke":
            fields = {"smoke": False, "smoke_density": 0, "test": False}
        elif spec.kind == "water_leak":
            fields = {"water_leak": False, "battery_low": self.state[name].battery < 10, "tamper": False}
        elif spec.kind == "thermostat":
            fields = {"local_temperature": round(self.rng.uniform(18.5, 21.0), 1)}
        yield self._device_message(at, name, fields)
        interval = PENDANT_CHECKIN if spec.kind == "sos" else REPORT_INTERVAL
        self._schedule(at + interval * self.rng.uniform(0.9, 1.1), "report", name=name)

    def _on_thermostat(self, at: datetime) -> Iterator[Message]:
        name = self._name("thermostat")
        if name:
            setpoint = 19 if self.awake(at) else 17
            yield self._device_message(
                at,
                name,
                {
                    "local_temperature": round(self.rng.uniform(setpoint - 1, setpoint + 1), 1),
                    "current_heating_setpoint": setpoint,
                    "system_mode": "heat",
                },
            )
        self._schedule(at + THERMOSTAT_INTERVAL, "thermostat")

    def _on_meter(self, at: datetime) -> Iterator[Message]:
        power = self.rng.randint(150, 600) + (1500 if self.awake(at) and self.rng.random() < 0.1 else 0)
        self.index_wh += round(power * METER_INTERVAL.total_seconds() / 3600)
        payload = {
            "ADCO": {"raw": self.home.adco, "value": int(self.home.adco)},
            "OPTARIF": {"raw": "BASE", "value": "BASE"},
            "ISOUSC": {"raw": "30", "value": 30},
            "BASE": {"raw": f"{self.index_wh:09d}", "value": self.index_wh},
            "PTEC": {"raw": "TH..", "value": "TH"},
            "IINST": {"raw": f"{power // 230:03d}", "value": power // 230},
            "PAPP": {"raw": f"{power:05d}", "value": power},
        }
        yield Message(at, f"{self.home.teleinfo_topic}/{self.home.adco}", dumps(payload))
        self._schedule(at + METER_INTERVAL, "meter")

    # --- incidents ----------------------------------------------------------------------------------------------

    def _on_sos(self, at: datetime) -> Iterator[Message]:
        name = self._name("sos")
        if name:
            yield self._device_message(at, name, {"action": "emergency"})

    def _on_fall(self, at: datetime) -> Iterator[Message]:
        name = self._name("fall")
        if name:
            yield self._device_message(at, name, {"presence": True, "fall": True})
        # After a fall the resident does not move: the motion sensors stay quiet (inactivity follows).
        self._queue = [item for item in self._queue if item[2] != "move"]
        heapq.heapify(self._queue)

    def _on_fire(self, at: datetime) -> Iterator[Message]:
        name = self._name("smoke")
        if name:
            yield self._device_message(at, name, {"smoke": True, "smoke_density": 40, "test": False})
            self._schedule(at + timedelta(seconds=30), "smoke_report", name=name, density=85)

    def _on_smoke_report(self, at: datetime, name: str, density: int) -> Iterator[Message]:
        yield self._device_message(at, name, {"smoke": True, "smoke_density": density, "test": False})

    def _on_leak(self, at: datetime) -> Iterator[Message]:
        name = self._name("water_leak")
        if name:
            yield self._device_message(at, name, {"water_leak": True, "battery_low": False, "tamper": False})

    def _on_door_open(self, at: datetime) -> Iterator[Message]:
        name = self._name("contact")
        if name:
            yield self._device_message(at, name, {"contact": False})


def telemetry_burst(
    homes: list[SimulatedHome], *, count: int, sos: int, start: datetime, seed: int = 0
) -> Iterator[Message]:
    """``count`` messages of ordinary telemetry spread over ``homes``, ``sos`` of them calls for help.

    For the tests and benches: as fast as it can be generated, every message distinct (``last_seen`` advances
    by a millisecond per message), the SOS presses spread evenly through the stream and over the homes' pendants.
    """
    rng = random.Random(seed)
    sos_positions = {round((index + 0.5) * count / sos) for index in range(sos)} if sos else set()
    sos_index = 0
    for position in range(count):
        at = start + timedelta(milliseconds=position)
        if position in sos_positions:
            home = homes[sos_index % len(homes)]
            sos_index += 1
            name = home.device("sos").friendly_name
            payload: dict[str, Any] = {"action": "emergency", "battery": 100, "linkquality": 80}
        else:
            home = homes[position % len(homes)]
            spec = home.devices[rng.randrange(len(home.devices))]
            name = spec.friendly_name
            payload = _telemetry_fields(spec, rng)
            if spec.kind == "thermostat":
                payload["local_temperature"] = round(rng.uniform(17, 22), 1)
        payload["last_seen"] = last_seen(at)
        yield Message(at, home.topic(name), dumps(payload))


def _telemetry_fields(spec: DeviceSpec, rng: random.Random) -> dict[str, Any]:
    fields: dict[str, Any] = {"linkquality": rng.randint(20, 200)}
    if spec.battery:
        fields["battery"] = rng.randint(20, 100)
    if spec.kind == "motion":
        fields["occupancy"] = rng.random() < 0.5
    elif spec.kind == "contact":
        fields["contact"] = rng.random() < 0.8
    elif spec.kind == "smoke":
        fields["smoke"] = False
    elif spec.kind == "water_leak":
        fields["water_leak"] = False
    elif spec.kind == "fall":
        fields["presence"] = rng.random() < 0.7
    elif spec.kind in ("shutter",):
        fields.update(state="OPEN", position=100)
    elif spec.kind == "light":
        fields.update(state=rng.choice(["ON", "OFF"]), brightness=rng.randint(0, 254))
    return fields
