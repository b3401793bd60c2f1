"""Home automation: commands to shutters, lights and heating, schedules at fixed times or at sunrise/sunset.

- ``sun_times(day, latitude, longitude)``: sunrise and sunset by NOAA's solar equations (the ones of its solar
  calculator spreadsheet), accurate to about a minute at our latitudes.
- ``device_command(...)``: the one door for a command to a device. It checks who asks and what is asked
  (``COMMANDS``: the commands each kind of device takes, as data), records a ``DeviceCommand`` row, and
  publishes it to ``<gateway base topic>/<friendly name>/set`` once the transaction has committed (a queue task
  that retries while the broker is unreachable). The command counts as confirmed only when the device reports
  the state asked for (``command_status``).
- Schedules and heating set-points carry ``next_run_at`` (indexed): ``automation_tick(now)`` reads only the due
  rows, sends their command and computes their next run.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_scopes import scope, scopes_disabled
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from mairie.core.acting import Actor, log_for
from mairie.core.models import Commune
from mairie.core.permissions import has_capability
from mairie.core.services.audit import log_action
from mairie.core.tasks import enqueue_on_commit
from mairie.homecare import live, rules
from mairie.homecare.models import Device, DeviceCommand, HeatingSetpoint, Home, Schedule

logger = logging.getLogger(__name__)

MANAGE = "homecare.manage_homes"
# A schedule found late (a worker stopped for a while) still runs within this delay; later, it waits for its next day.
GRACE = timedelta(minutes=60)
# A command the device has not confirmed within this delay is shown as unanswered rather than pending.
CONFIRMATION_WAIT = timedelta(minutes=10)
SETPOINT_MIN = Decimal("7")
SETPOINT_MAX = Decimal("28")
SETPOINT_STEP = Decimal("0.5")
TICK_BATCH = 500


# ------------------------------------------------------------------------------------------------
# Sunrise and sunset (NOAA)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SunTimes:
    sunrise: datetime | None  # UTC; None during polar night or day
    sunset: datetime | None


def _julian_century(moment: datetime) -> float:
    julian_day = moment.timestamp() / 86400.0 + 2440587.5
    return (julian_day - 2451545.0) / 36525.0


def _solar_position(t: float) -> tuple[float, float]:
    """(declination in degrees, equation of time in minutes) at Julian century ``t`` (NOAA's spreadsheet)."""
    mean_long = (280.46646 + t * (36000.76983 + t * 0.0003032)) % 360
    mean_anom = 357.52911 + t * (35999.05029 - 0.0001537 * t)
    eccent = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    m = math.radians(mean_anom)
    centre = (
        math.sin(m) * (1.914602 - t * (0.004817 + 0.000014 * t))
        + math.sin(2 * m) * (0.019993 - 0.000101 * t)
        + math.sin(3 * m) * 0.000289
    )
    true_long = mean_long + centre
    omega = math.radians(125.04 - 1934.136 * t)
    apparent_long = true_long - 0.00569 - 0.00478 * math.sin(omega)
    mean_obliq = 23 + (26 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60) / 60
    obliq = math.radians(mean_obliq + 0.00256 * math.cos(omega))
    declination = math.degrees(math.asin(math.sin(obliq) * math.sin(math.radians(apparent_long))))
    y = math.tan(obliq / 2) ** 2
    l0 = math.radians(mean_long)
    eq_time = 4 * math.degrees(
        y * math.sin(2 * l0)
        - 2 * eccent * math.sin(m)
        + 4 * eccent * y * math.sin(m) * math.cos(2 * l0)
        - 0.5 * y * y * math.sin(4 * l0)
        - 1.25 * eccent * eccent * math.sin(2 * m)
    )
    return declination, eq_time


def _event_minutes(day: date, latitude: float, longitude: float, sign: int, guess: float) -> float | None:
    """Minutes after 00:00 UTC of ``day`` of sunrise (sign -1) or sunset (+1), refined twice."""
    minutes = guess
    for _attempt in range(3):
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minutes)
        declination, eq_time = _solar_position(_julian_century(moment))
        lat, dec = math.radians(latitude), math.radians(declination)
        cos_hour_angle = math.cos(math.radians(90.833)) / (math.cos(lat) * math.cos(dec)) - math.tan(
            lat
        ) * math.tan(dec)
        if not -1.0 <= cos_hour_angle <= 1.0:
            return None
        hour_angle = math.degrees(math.acos(cos_hour_angle))
        solar_noon = 720 - 4 * longitude - eq_time
        minutes = solar_noon + sign * 4 * hour_angle
    return minutes


def sun_times(day: date, latitude: float, longitude: float) -> SunTimes:
    """Sunrise and sunset of ``day`` (a local calendar day near the given longitude), as UTC datetimes.

    Longitude east is positive. The apparent sunrise counts refraction and the sun's radius (90.833°).
    """
    base = datetime(day.year, day.month, day.day, tzinfo=UTC)
    noon = 720 - 4 * longitude
    rise = _event_minutes(day, latitude, longitude, -1, noon - 360)
    fall = _event_minutes(day, latitude, longitude, +1, noon + 360)
    return SunTimes(
        sunrise=None if rise is None else base + timedelta(minutes=rise),
        sunset=None if fall is None else base + timedelta(minutes=fall),
    )


def commune_coordinates(commune: Commune) -> tuple[float, float] | None:
    if commune.latitude is None or commune.longitude is None:
        return None
    return float(commune.latitude), float(commune.longitude)


# ------------------------------------------------------------------------------------------------
# When a schedule runs
# ------------------------------------------------------------------------------------------------


def _local(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment).replace(tzinfo=zone)


def occurrence_on(
    day: date,
    *,
    at_time: time | None,
    sun_event: str,
    offset_minutes: int,
    zone: ZoneInfo,
    coordinates: tuple[float, float] | None,
) -> datetime | None:
    """When a schedule fires on a local ``day``: its fixed time, or the sun event plus the offset."""
    if sun_event:
        if coordinates is None:
            return None
        sun = sun_times(day, *coordinates)
        moment = sun.sunrise if sun_event == Schedule.SunEvent.SUNRISE else sun.sunset
        if moment is None:
            return None
        return moment + timedelta(minutes=offset_minutes)
    if at_time is None:
        return None
    return _local(day, at_time, zone) + timedelta(minutes=offset_minutes)


def next_occurrence(
    *,
    after: datetime,
    weekdays: Iterable[int],
    at_time: time | None,
    sun_event: str,
    offset_minutes: int,
    zone: ZoneInfo,
    coordinates: tuple[float, float] | None,
) -> datetime | None:
    """The first run strictly after ``after`` on one of ``weekdays`` (0 = Monday; none = every day)."""
    days = set(weekdays or range(7))
    start = after.astimezone(zone).date() - timedelta(days=1)
    for n in range(9):
        day = start + timedelta(days=n)
        if day.weekday() not in days:
            continue
        moment = occurrence_on(
            day,
            at_time=at_time,
            sun_event=sun_event,
            offset_minutes=offset_minutes,
            zone=zone,
            coordinates=coordinates,
        )
        if moment is not None and moment > after:
            return moment
    return None


def schedule_next_run(schedule: Schedule, *, after: datetime) -> datetime | None:
    home = schedule.home
    return next_occurrence(
        after=after,
        weekdays=schedule.weekdays,
        at_time=schedule.at_time,
        sun_event=schedule.sun_event,
        offset_minutes=schedule.offset_minutes,
        zone=rules.home_zone(home),
        coordinates=commune_coordinates(home.commune),
    )


def setpoint_next_run(setpoint: HeatingSetpoint, *, after: datetime) -> datetime | None:
    return next_occurrence(
        after=after,
        weekdays=setpoint.weekdays,
        at_time=setpoint.from_time,
        sun_event="",
        offset_minutes=0,
        zone=rules.home_zone(setpoint.home),
        coordinates=None,
    )


# ------------------------------------------------------------------------------------------------
# What each kind of device accepts
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A command as people see it (a button) and as Zigbee2MQTT takes it (the payload)."""

    key: str
    label: Any
    payload: dict[str, Any]


COMMANDS: dict[str, tuple[Command, ...]] = {
    Device.Kind.SHUTTER: (
        Command("open", gettext_lazy("Ouvrir"), {"state": "OPEN"}),
        Command("close", gettext_lazy("Fermer"), {"state": "CLOSE"}),
        Command("stop", gettext_lazy("Arrêter"), {"state": "STOP"}),
    ),
    Device.Kind.LIGHT: (
        Command("on", gettext_lazy("Allumer"), {"state": "ON"}),
        Command("off", gettext_lazy("Éteindre"), {"state": "OFF"}),
    ),
}
CONTROLLABLE_KINDS = frozenset({Device.Kind.SHUTTER, Device.Kind.LIGHT, Device.Kind.THERMOSTAT})
SETPOINT_FIELD = "current_heating_setpoint"


def command_payload(device: Device, key: str) -> dict[str, Any]:
    for command in COMMANDS.get(device.kind, ()):
        if command.key == key:
            return dict(command.payload)
    raise ValidationError({"command": _("Cet appareil ne connaît pas cette commande.")})


def parse_temperature(value: Any) -> Decimal:
    try:
        number = Decimal(str(value).replace(",", ".").strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(
            {"temperature": _("Indiquez une température en degrés, par exemple 19,5.")}
        ) from None
    if not number.is_finite() or not SETPOINT_MIN <= number <= SETPOINT_MAX:
        raise ValidationError(
            {
                "temperature": _("Choisissez une température entre %(low)s et %(high)s °C.")
                % {"low": SETPOINT_MIN, "high": SETPOINT_MAX}
            }
        )
    return (number / SETPOINT_STEP).quantize(Decimal("1")) * SETPOINT_STEP


def validate_payload(device: Device, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload, checked against what the device's kind accepts; ``ValidationError`` otherwise."""
    if device.kind not in CONTROLLABLE_KINDS:
        raise ValidationError({"command": _("Cet appareil ne se commande pas à distance.")})
    if device.kind == Device.Kind.THERMOSTAT:
        if set(payload) != {SETPOINT_FIELD}:
            raise ValidationError({"command": _("Le chauffage se règle par une température.")})
        return {SETPOINT_FIELD: float(parse_temperature(payload[SETPOINT_FIELD]))}
    if device.kind == Device.Kind.SHUTTER and set(payload) == {"position"}:
        position = payload["position"]
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= 100:
            raise ValidationError({"command": _("La position d'un volet va de 0 à 100.")})
        return {"position": position}
    allowed = [command.payload for command in COMMANDS.get(device.kind, ())]
    if payload not in allowed:
        raise ValidationError({"command": _("Cet appareil ne connaît pas cette commande.")})
    return dict(payload)


def current_setpoint(device: Device) -> Decimal | None:
    """The set-point the thermostat last reported, or the one last asked for if it has not answered yet."""
    pending = pending_command(device)
    if pending is not None and SETPOINT_FIELD in pending.payload:
        return Decimal(str(pending.payload[SETPOINT_FIELD]))
    value = (device.state or {}).get(SETPOINT_FIELD)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return None


# ------------------------------------------------------------------------------------------------
# Confirmation: the device reports what was asked
# ------------------------------------------------------------------------------------------------


def _same(asked: Any, reported: Any) -> bool:
    if isinstance(asked, str) and isinstance(reported, str):
        return asked.upper() == reported.upper()
    if isinstance(asked, int | float) and isinstance(reported, int | float):
        return abs(float(asked) - float(reported)) < 0.01
    return bool(asked == reported)


def is_confirmed(command: DeviceCommand, device: Device) -> bool:
    """The device spoke after the command and its state holds every value asked for."""
    if device.last_seen_at is None or device.last_seen_at < command.created_at:
        return False
    state = device.state or {}
    payload = dict(command.payload)
    if payload.get("state") == "STOP":
        return True  # a stopped shutter reports its position, not "STOP"
    if device.kind == Device.Kind.SHUTTER and "state" in payload and "position" in state:
        # Covers report OPEN/CLOSE and a position; a position of 100 is open, 0 closed.
        wanted = {"OPEN": 100, "CLOSE": 0}.get(str(payload["state"]).upper())
        if wanted is not None and _same(wanted, state.get("position")):
            return True
    return all(key in state and _same(value, state[key]) for key, value in payload.items())


@dataclass(frozen=True)
class CommandStatus:
    command: DeviceCommand | None
    state: str  # "none", "pending", "confirmed", "unanswered"

    @property
    def pending(self) -> bool:
        return self.state == "pending"


def command_status(device: Device, *, now: datetime | None = None) -> CommandStatus:
    """Where the device's last command stands, for the tablet and the staff pages."""
    now = now or timezone.now()
    command = DeviceCommand.objects.filter(device=device).order_by("-created_at", "-pk").first()
    if command is None:
        return CommandStatus(None, "none")
    if is_confirmed(command, device):
        return CommandStatus(command, "confirmed")
    if now - command.created_at > CONFIRMATION_WAIT:
        return CommandStatus(command, "unanswered")
    return CommandStatus(command, "pending")


def pending_command(device: Device, *, now: datetime | None = None) -> DeviceCommand | None:
    status = command_status(device, now=now)
    return status.command if status.pending else None


# ------------------------------------------------------------------------------------------------
# Sending a command
# ------------------------------------------------------------------------------------------------


def _ensure_may_command(actor: Actor, home: Home) -> None:
    if actor.subject == home.resident and actor.subject.pk == home.resident_id:
        return
    if not has_capability(actor.user, actor.commune, MANAGE):
        raise PermissionDenied(MANAGE)


def _record(
    *, device: Device, payload: dict[str, Any], source: str, user: Any, now: datetime
) -> DeviceCommand:
    command = DeviceCommand.objects.create(
        commune_id=device.commune_id,
        home_id=device.home_id,
        device=device,
        payload=payload,
        source=source,
        requested_by=user,
        created_at=now,
    )
    enqueue_on_commit(publish_device_command, command.pk)
    live.publish_on_commit(
        commune_id=device.commune_id,
        home_id=device.home_id,
        event="device.command",
        console=False,
        device_id=device.pk,
        command_id=command.pk,
    )
    return command


@transaction.atomic
def device_command(
    *,
    actor: Actor,
    device: Device,
    payload: dict[str, Any],
    source: str = DeviceCommand.Source.STAFF,
    now: datetime | None = None,
) -> DeviceCommand:
    """The resident (tablet) or town-hall staff send a command to one of the home's devices."""
    device = Device.objects.select_related("home__resident", "gateway").get(pk=device.pk)
    _ensure_may_command(actor, device.home)
    clean = validate_payload(device, payload)
    command = _record(device=device, payload=clean, source=source, user=actor.user, now=now or timezone.now())
    log_for(
        actor,
        "homecare.device.command",
        obj=device,
        data={"payload": clean, "source": source, "command": command.pk},
    )
    return command


def heating_step(
    *, actor: Actor, device: Device, delta: Decimal, source: str = DeviceCommand.Source.TABLET
) -> DeviceCommand:
    """ "+" or "−" on the tablet: half a degree up or down from the current set-point (19 °C if unknown)."""
    current = current_setpoint(device) or Decimal("19")
    wanted = min(max(current + delta, SETPOINT_MIN), SETPOINT_MAX)
    return device_command(actor=actor, device=device, payload={SETPOINT_FIELD: float(wanted)}, source=source)


# The broker. ``publish`` is replaced in tests; in production it opens a short connection per command.


def command_topic(device: Device) -> str:
    return f"{device.gateway.base_topic.rstrip('/')}/{device.friendly_name}/set"


def broker_publish(topic: str, payload: bytes, *, timeout: float = 5.0) -> None:
    """Publishes one QoS 1 message and waits for the broker's acknowledgement; raises if it did not come."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"mairie-web-{uuid.uuid4().hex[:12]}", clean_session=True
    )
    if settings.HOMECARE_MQTT_USERNAME:
        client.username_pw_set(settings.HOMECARE_MQTT_USERNAME, settings.HOMECARE_MQTT_PASSWORD or None)
    if settings.HOMECARE_MQTT_TLS:
        client.tls_set(ca_certs=settings.HOMECARE_MQTT_CA_FILE or None)
    client.connect(settings.HOMECARE_MQTT_HOST, settings.HOMECARE_MQTT_PORT, keepalive=15)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=timeout)
        if not info.is_published():
            raise TimeoutError(f"the broker did not acknowledge {topic} within {timeout} s")
    finally:
        client.disconnect()
        client.loop_stop()


PUBLISHER: dict[str, Callable[[str, bytes], None]] = {"publish": broker_publish}


def publish_now(command_id: int) -> bool:
    """Publishes a recorded command (once). Returns True when the broker took it; raises when it did not."""
    with scopes_disabled():  # a queue task: the row says which commune, entered below
        command = (
            DeviceCommand.objects.select_related("device__gateway", "commune").filter(pk=command_id).first()
        )
    if command is None or command.published_at is not None:
        return False
    with scope(commune=command.commune):
        topic = command_topic(command.device)
        payload = json.dumps(command.payload, separators=(",", ":")).encode()
        try:
            PUBLISHER["publish"](topic, payload)
        except Exception as error:
            DeviceCommand.objects.filter(pk=command.pk).update(
                attempts=command.attempts + 1, error=str(error)[:300]
            )
            raise
        DeviceCommand.objects.filter(pk=command.pk, published_at__isnull=True).update(
            published_at=timezone.now(), attempts=command.attempts + 1, error=""
        )
    return True


@db_task(retries=6, retry_delay=5)
def publish_device_command(command_id: int) -> bool:
    """Queue task: sends a recorded command to the broker, retried while the broker cannot be reached."""
    try:
        return publish_now(command_id)
    except Exception:
        logger.warning("Device command %s not published yet; retrying", command_id, exc_info=True)
        raise


# ------------------------------------------------------------------------------------------------
# Schedules and heating set-points (town-hall staff)
# ------------------------------------------------------------------------------------------------


def _clean_weekdays(weekdays: Iterable[int]) -> list[int]:
    days = sorted({int(day) for day in weekdays})
    if any(day < 0 or day > 6 for day in days):
        raise ValidationError({"weekdays": _("Choisissez des jours de la semaine.")})
    return days if len(days) < 7 else []


@transaction.atomic
def schedule_create(
    *,
    actor: Actor,
    device: Device,
    command: str,
    at_time: time | None = None,
    sun_event: str = "",
    offset_minutes: int = 0,
    weekdays: Iterable[int] = (),
    now: datetime | None = None,
) -> Schedule:
    """A shutter or light command every chosen day, at a fixed time or at sunrise/sunset plus an offset."""
    if not has_capability(actor.user, actor.commune, MANAGE):
        raise PermissionDenied(MANAGE)
    device = Device.objects.select_related("home__commune").get(pk=device.pk)
    payload = command_payload(device, command)
    if sun_event not in Schedule.SunEvent.values:
        raise ValidationError(
            {"sun_event": _("Choisissez une heure fixe, le lever ou le coucher du soleil.")}
        )
    if not sun_event and at_time is None:
        raise ValidationError(
            {"at_time": _("Indiquez l'heure, ou choisissez le lever ou le coucher du soleil.")}
        )
    if sun_event and commune_coordinates(device.home.commune) is None:
        raise ValidationError(
            {
                "sun_event": _(
                    "La position de la commune n'est pas connue : indiquez-la dans les réglages de la commune, "
                    "ou choisissez une heure fixe."
                )
            }
        )
    if not -240 <= offset_minutes <= 240:
        raise ValidationError({"offset_minutes": _("Le décalage va de −240 à +240 minutes.")})
    schedule = Schedule(
        commune_id=device.commune_id,
        home=device.home,
        device=device,
        action=payload,
        at_time=None if sun_event else at_time,
        sun_event=sun_event,
        offset_minutes=offset_minutes,
        weekdays=_clean_weekdays(weekdays),
    )
    schedule.next_run_at = schedule_next_run(schedule, after=now or timezone.now())
    schedule.save()
    log_for(actor, "homecare.schedule.created", obj=schedule, data={"device": device.pk, "action": payload})
    return schedule


@transaction.atomic
def schedule_delete(*, actor: Actor, schedule: Schedule) -> None:
    if not has_capability(actor.user, actor.commune, MANAGE):
        raise PermissionDenied(MANAGE)
    log_for(actor, "homecare.schedule.deleted", obj=schedule, data={"device": schedule.device_id})
    schedule.delete()


@transaction.atomic
def setpoint_create(
    *,
    actor: Actor,
    home: Home,
    room: str,
    temperature: Any,
    from_time: time,
    weekdays: Iterable[int] = (),
    device: Device | None = None,
    now: datetime | None = None,
) -> HeatingSetpoint:
    """From ``from_time`` on the chosen days, the room's thermostat is set to ``temperature``."""
    if not has_capability(actor.user, actor.commune, MANAGE):
        raise PermissionDenied(MANAGE)
    value = parse_temperature(temperature)
    room = room.strip()
    if device is not None and (device.home_id != home.pk or device.kind != Device.Kind.THERMOSTAT):
        raise ValidationError({"device": _("Choisissez un chauffage de ce logement.")})
    if device is None and not room:
        raise ValidationError({"room": _("Indiquez la pièce, ou choisissez le chauffage.")})
    setpoint = HeatingSetpoint(
        commune_id=home.commune_id,
        home=home,
        room=room or (device.room if device else ""),
        device=device,
        temperature=value,
        from_time=from_time,
        weekdays=_clean_weekdays(weekdays),
    )
    setpoint.next_run_at = setpoint_next_run(setpoint, after=now or timezone.now())
    setpoint.save()
    log_for(
        actor,
        "homecare.setpoint.created",
        obj=setpoint,
        data={"room": setpoint.room, "temperature": str(value), "from": from_time.isoformat()},
    )
    return setpoint


@transaction.atomic
def setpoint_delete(*, actor: Actor, setpoint: HeatingSetpoint) -> None:
    if not has_capability(actor.user, actor.commune, MANAGE):
        raise PermissionDenied(MANAGE)
    log_for(actor, "homecare.setpoint.deleted", obj=setpoint, data={"room": setpoint.room})
    setpoint.delete()


def setpoint_devices(setpoint: HeatingSetpoint) -> list[Device]:
    if setpoint.device_id:
        return [setpoint.device] if setpoint.device else []
    return list(
        Device.objects.filter(
            home_id=setpoint.home_id, kind=Device.Kind.THERMOSTAT, room__iexact=setpoint.room.strip()
        )
    )


# ------------------------------------------------------------------------------------------------
# The ticker
# ------------------------------------------------------------------------------------------------


def _run_schedule(schedule: Schedule, now: datetime) -> bool:
    due = schedule.next_run_at
    sent = False
    if due is not None and now - due <= GRACE and schedule.enabled:
        _record(device=schedule.device, payload=dict(schedule.action), source="schedule", user=None, now=now)
        sent = True
    schedule.last_run_at = now if sent else schedule.last_run_at
    schedule.next_run_at = schedule_next_run(schedule, after=max(now, due or now))
    schedule.save(update_fields=["last_run_at", "next_run_at"])
    if sent:
        log_action(
            "homecare.schedule.ran",
            commune=schedule.home.commune,
            actor=None,
            obj=schedule,
            data={
                "device": schedule.device_id,
                "action": schedule.action,
                "due": due.isoformat() if due else None,
            },
        )
    return sent


def _run_setpoint(setpoint: HeatingSetpoint, now: datetime) -> int:
    due = setpoint.next_run_at
    sent = 0
    if due is not None and now - due <= GRACE:
        for device in setpoint_devices(setpoint):
            _record(
                device=device,
                payload={SETPOINT_FIELD: float(setpoint.temperature)},
                source=DeviceCommand.Source.HEATING,
                user=None,
                now=now,
            )
            sent += 1
        setpoint.last_run_at = now
    setpoint.next_run_at = setpoint_next_run(setpoint, after=max(now, due or now))
    setpoint.save(update_fields=["last_run_at", "next_run_at"])
    return sent


def automation_tick(now: datetime | None = None, *, limit: int = TICK_BATCH) -> dict[str, int]:
    """Sends the commands of every due schedule and heating set-point. Reads only due rows (indexed).

    Each row is taken under ``SELECT … FOR UPDATE SKIP LOCKED`` and moved to its next run in the same
    transaction as its command, so two workers never send the same run twice.
    """
    now = now or timezone.now()
    counts = {"schedules": 0, "setpoints": 0}
    with scopes_disabled(), transaction.atomic():  # the ticker works for every commune
        schedules = list(
            Schedule.objects.filter(next_run_at__lte=now)
            .select_related("home__commune", "device__gateway")
            .order_by("next_run_at", "pk")
            .select_for_update(skip_locked=True, of=("self",))[:limit]
        )
        for schedule in schedules:
            with scope(commune=schedule.home.commune):
                counts["schedules"] += int(_run_schedule(schedule, now))
        setpoints = list(
            HeatingSetpoint.objects.filter(next_run_at__lte=now)
            .select_related("home__commune", "device__gateway")
            .order_by("next_run_at", "pk")
            .select_for_update(skip_locked=True, of=("self",))[:limit]
        )
        for setpoint in setpoints:
            with scope(commune=setpoint.home.commune):
                counts["setpoints"] += _run_setpoint(setpoint, now)
    return counts


def home_sun_times(home: Home, day: date) -> SunTimes | None:
    coordinates = commune_coordinates(home.commune)
    return sun_times(day, *coordinates) if coordinates else None


@db_periodic_task(crontab(minute="*"))
def homecare_automation_ticker() -> None:
    """Every minute: shutters, lights and heating whose scheduled time has come."""
    counts = automation_tick()
    if any(counts.values()):
        logger.info("Homecare automation: %s", counts)
