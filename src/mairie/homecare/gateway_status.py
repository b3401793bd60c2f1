"""The "Passerelles" status for a commune's console: gateways offline or silent, devices offline or with a low
battery. Reads inside the request's commune scope only (the console spans several communes; this page does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max, Q

from mairie.core.models import Commune, User
from mairie.core.permissions import ensure_capability
from mairie.homecare import rules
from mairie.homecare.models import Device, Gateway
from mairie.homecare.selectors import CONSOLE

# A gateway is "silent" when neither it nor any of its devices has said anything for this long. Battery sensors
# report at least hourly (availability, link quality), so two hours without a word means the home is cut off.
GATEWAY_SILENT_AFTER = timedelta(hours=2)
# The page lists problems, not every device: a commune has at most a few hundred homes.
LIMIT = 300


@dataclass(frozen=True)
class GatewayLine:
    gateway: Gateway
    last_sign_of_life: datetime | None
    offline: bool  # the gateway said so (Zigbee2MQTT's bridge/state), or never said it was online
    silent: bool


@dataclass(frozen=True)
class DeviceLine:
    device: Device
    offline: bool
    battery_low: bool


@dataclass(frozen=True)
class GatewayStatus:
    gateways: list[GatewayLine]
    devices: list[DeviceLine]
    gateways_total: int
    devices_total: int

    @property
    def all_well(self) -> bool:
        return not self.gateways and not self.devices


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def gateway_status(viewer: User, commune: Commune, *, now: datetime) -> GatewayStatus:
    """What is wrong with the commune's gateways and devices, in four queries whatever their number."""
    ensure_capability(viewer, commune, CONSOLE)
    gateways = (
        Gateway.objects.filter(commune=commune)
        .select_related("home__resident")
        .annotate(last_device_seen=Max("devices__last_seen_at"))
        .order_by("home__label", "pk")
    )
    gateway_lines = []
    for gateway in gateways:
        last = _latest(gateway.last_seen_at, gateway.last_device_seen)  # type: ignore[attr-defined]
        silent = last is None or now - last > GATEWAY_SILENT_AFTER
        if silent or not gateway.online:
            gateway_lines.append(GatewayLine(gateway, last, offline=not gateway.online, silent=silent))
    devices = (
        Device.objects.filter(commune=commune)
        .filter(
            Q(online=False) | Q(supervision_deadline__lte=now) | Q(battery__lte=rules.BATTERY_LOW_PERCENT)
        )
        .select_related("home__resident", "gateway")
        .order_by("home__label", "room", "friendly_name", "pk")[:LIMIT]
    )
    device_lines = [
        DeviceLine(
            device,
            offline=not device.online
            or (device.supervision_deadline is not None and device.supervision_deadline <= now),
            battery_low=device.battery is not None and device.battery <= rules.BATTERY_LOW_PERCENT,
        )
        for device in devices
    ]
    return GatewayStatus(
        gateways=gateway_lines[:LIMIT],
        devices=device_lines,
        gateways_total=Gateway.objects.filter(commune=commune).count(),
        devices_total=Device.objects.filter(commune=commune).count(),
    )
