"""The rules of a home, as pure functions of its settings, a reading and the time. No database here.

The services call them to decide what a message means (an alarm, an intrusion pending its entry delay, a
door open at night) and when each deadline falls (inactivity, morning check, daily check-in). Deadlines are
stored as indexed columns; tickers read only the rows whose deadline has passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mairie.homecare.models import Alarm, Device, Home
from mairie.homecare.payloads import Reading

Kind = Alarm.Kind
Severity = Alarm.Severity

# How grave each kind of alarm is. A silent SOS pendant or fall detector is graver than a silent door sensor.
SEVERITY: dict[str, str] = {
    Kind.SOS: Severity.CRITICAL,
    Kind.FALL: Severity.CRITICAL,
    Kind.SMOKE: Severity.CRITICAL,
    Kind.WATER_LEAK: Severity.HIGH,
    Kind.INACTIVITY: Severity.HIGH,
    Kind.INTRUSION: Severity.HIGH,
    Kind.CHECKIN_MISSED: Severity.HIGH,
    Kind.DOOR_OPEN_NIGHT: Severity.MEDIUM,
    Kind.DEVICE_OFFLINE: Severity.MEDIUM,
    Kind.BATTERY_LOW: Severity.LOW,
}
LIFE_SAFETY_DEVICES = frozenset({Device.Kind.SOS, Device.Kind.FALL, Device.Kind.SMOKE})
# Comfort devices: a silent shutter or meter is a job for the console, never a text to a relative at night.
COMFORT_DEVICES = frozenset(
    {Device.Kind.SHUTTER, Device.Kind.LIGHT, Device.Kind.THERMOSTAT, Device.Kind.METER}
)
# Alarms about a lasting condition: one open alarm per device and kind, not one per message.
CONDITION_KINDS = frozenset(
    {Kind.SMOKE, Kind.WATER_LEAK, Kind.BATTERY_LOW, Kind.DEVICE_OFFLINE, Kind.DOOR_OPEN_NIGHT}
)
BATTERY_LOW_PERCENT = 15

# Which sensors trigger the intrusion alarm in each armed mode (Alarmo's modes; doors only when at home).
INTRUSION_TRIGGERS: dict[str, frozenset[str]] = {
    Home.ArmedMode.ARMED_AWAY: frozenset({Device.Kind.CONTACT, Device.Kind.MOTION}),
    Home.ArmedMode.ARMED_HOME: frozenset({Device.Kind.CONTACT}),
    Home.ArmedMode.ARMED_NIGHT: frozenset({Device.Kind.CONTACT}),
}
MAX_WINDOWS = 800  # safety bound when walking active-hours windows (two years of days)


def severity_for(kind: str, device: Device | None = None) -> str:
    if kind in (Kind.DEVICE_OFFLINE, Kind.BATTERY_LOW) and device is not None:
        if device.kind in LIFE_SAFETY_DEVICES:
            return Severity.HIGH if kind == Kind.DEVICE_OFFLINE else Severity.MEDIUM
        if device.kind in COMFORT_DEVICES:
            return Severity.LOW  # the console only
    return SEVERITY[kind]


def home_zone(home: Home) -> ZoneInfo:
    try:
        return ZoneInfo(home.timezone or "Europe/Paris")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Paris")


def _at(day: date, moment: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=tz)


# Active hours.


def active_windows(
    start: datetime, *, active_from: time, active_until: time, tz: ZoneInfo
) -> Iterator[tuple[datetime, datetime]]:
    """The resident's active periods, in order, from the one that may contain ``start``.

    ``active_from == active_until`` means active all day; ``active_from > active_until`` wraps midnight.
    """
    day = start.astimezone(tz).date() - timedelta(days=1)
    for _ in range(MAX_WINDOWS):
        if active_from == active_until:
            yield _at(day, time(0), tz), _at(day + timedelta(days=1), time(0), tz)
        elif active_from < active_until:
            yield _at(day, active_from, tz), _at(day, active_until, tz)
        else:
            yield _at(day, active_from, tz), _at(day + timedelta(days=1), active_until, tz)
        day += timedelta(days=1)


def is_active_time(at: datetime, home: Home) -> bool:
    for window_start, window_end in active_windows(
        at, active_from=home.active_from, active_until=home.active_until, tz=home_zone(home)
    ):
        if window_start > at:
            return False
        if window_start <= at < window_end:
            return True
    return False


def silence_deadline(
    *, since: datetime, threshold_minutes: int, active_from: time, active_until: time, tz: ZoneInfo
) -> datetime:
    """When ``threshold_minutes`` of active-hours silence will have passed since ``since``.

    Night hours do not count: a resident who went to bed at 22:00 is not "silent" while asleep.
    """
    remaining = timedelta(minutes=threshold_minutes)
    for window_start, window_end in active_windows(
        since, active_from=active_from, active_until=active_until, tz=tz
    ):
        if window_end <= since:
            continue
        start = max(window_start, since)
        if start + remaining <= window_end:
            return start + remaining
        remaining -= window_end - start
    raise ValueError("no active period found")  # pragma: no cover (MAX_WINDOWS days of windows)


# Morning rule: "movement in the living room by 10:00".


def _morning_window_start(home: Home) -> time:
    check = home.morning_check_time or time(10, 0)
    return home.active_from if home.active_from < check else time(0)


def morning_satisfied(home: Home, day: date) -> bool:
    """Movement was seen in the morning room on ``day`` before the check time."""
    last = home.last_morning_activity_at
    if last is None or home.morning_check_time is None:
        return False
    local = last.astimezone(home_zone(home))
    return local.date() == day and _morning_window_start(home) <= local.time() <= home.morning_check_time


def morning_deadline(home: Home, reference: datetime) -> datetime | None:
    """The next morning check still to pass, seen from ``reference``."""
    if home.morning_check_time is None:
        return None
    tz = home_zone(home)
    day = reference.astimezone(tz).date()
    today_check = _at(day, home.morning_check_time, tz)
    if reference < today_check and not morning_satisfied(home, day):
        return today_check
    return _at(day + timedelta(days=1), home.morning_check_time, tz)


def inactivity_paused(home: Home) -> bool:
    return home.mode != Home.Mode.NORMAL


def next_inactivity_deadline(home: Home, now: datetime) -> datetime | None:
    """When silence next becomes a warning (then, ``inactivity_warning_minutes`` later, an alarm).

    ``None`` while the resident is away or in hospital.
    """
    if inactivity_paused(home):
        return None
    since = home.last_activity_at or now
    deadline = silence_deadline(
        since=since,
        threshold_minutes=home.inactivity_threshold_minutes,
        active_from=home.active_from,
        active_until=home.active_until,
        tz=home_zone(home),
    )
    morning = morning_deadline(home, now)
    if morning is not None and morning < deadline:
        return morning
    return deadline


def inactivity_reason(home: Home, at: datetime) -> str:
    """Why the home is due at ``at``: the morning room stayed silent, or the silence threshold was reached."""
    if home.morning_check_time is not None:
        tz = home_zone(home)
        day = at.astimezone(tz).date()
        if at >= _at(day, home.morning_check_time, tz) and not morning_satisfied(home, day):
            since = home.last_activity_at or at
            threshold = silence_deadline(
                since=since,
                threshold_minutes=home.inactivity_threshold_minutes,
                active_from=home.active_from,
                active_until=home.active_until,
                tz=tz,
            )
            if threshold > at:
                return "morning"
    return "threshold"


# Daily check-in.


def next_checkin_due(home: Home, reference: datetime) -> datetime | None:
    """The next "I'm fine" deadline still to meet, seen from ``reference``; ``None`` when not used or paused."""
    if not home.checkin_enabled or inactivity_paused(home):
        return None
    tz = home_zone(home)
    day = reference.astimezone(tz).date()
    today_due = _at(day, home.checkin_deadline, tz)
    done_today = home.last_checkin_at is not None and home.last_checkin_at.astimezone(tz).date() == day
    if reference < today_due and not done_today:
        return today_due
    return _at(day + timedelta(days=1), home.checkin_deadline, tz)


# Doors at night.


def night_start(at: datetime, home: Home) -> datetime:
    """``at`` itself if it is outside active hours, otherwise the end of the current active period."""
    for window_start, window_end in active_windows(
        at, active_from=home.active_from, active_until=home.active_until, tz=home_zone(home)
    ):
        if window_start > at:
            return at
        if window_start <= at < window_end:
            if home.active_from == home.active_until:
                continue  # active all day: there is no night
            return window_end
    return at


def door_open_deadline(home: Home, opened_at: datetime) -> datetime | None:
    if home.active_from == home.active_until:
        return None
    return night_start(opened_at, home) + timedelta(minutes=home.door_open_night_minutes)


# Intrusion.


class IntrusionDecision(StrEnum):
    IGNORE = "ignore"
    ENTRY_DELAY = "entry_delay"
    IMMEDIATE = "immediate"


def is_intrusion_trigger(device: Device, reading: Reading) -> bool:
    if device.kind == Device.Kind.CONTACT:
        return reading.contact is False
    if device.kind == Device.Kind.MOTION:
        return bool(reading.occupancy or reading.presence)
    return False


def in_exit_delay(home: Home, at: datetime) -> bool:
    return home.armed_at is not None and at < home.armed_at + timedelta(seconds=home.exit_delay_s)


def intrusion_decision(home: Home, device: Device, reading: Reading, at: datetime) -> IntrusionDecision:
    if home.armed_mode == Home.ArmedMode.DISARMED:
        return IntrusionDecision.IGNORE
    if device.kind not in INTRUSION_TRIGGERS.get(home.armed_mode, frozenset()):
        return IntrusionDecision.IGNORE
    if not is_intrusion_trigger(device, reading) or in_exit_delay(home, at):
        return IntrusionDecision.IGNORE
    if device.use_entry_delay and home.entry_delay_s > 0:
        return IntrusionDecision.ENTRY_DELAY
    return IntrusionDecision.IMMEDIATE


# What a device message means.


@dataclass
class AlarmSpec:
    kind: str
    severity: str
    data: dict[str, Any] = field(default_factory=dict)


def battery_is_low(reading: Reading) -> bool:
    return bool(reading.battery_low) or (
        reading.battery is not None and reading.battery <= BATTERY_LOW_PERCENT
    )


def alarms_for_reading(home: Home, device: Device, reading: Reading) -> list[AlarmSpec]:
    """The alarms a state message raises by itself (intrusion and doors have their own delays).

    Smoke and water leak are always on: in every mode, armed or not.
    """
    specs: list[AlarmSpec] = []
    if reading.sos:
        specs.append(AlarmSpec(Kind.SOS, severity_for(Kind.SOS), {"action": reading.action or "sos"}))
    if reading.fall:
        specs.append(AlarmSpec(Kind.FALL, severity_for(Kind.FALL)))
    if reading.smoke:
        specs.append(AlarmSpec(Kind.SMOKE, severity_for(Kind.SMOKE)))
    if reading.water_leak:
        specs.append(AlarmSpec(Kind.WATER_LEAK, severity_for(Kind.WATER_LEAK)))
    if battery_is_low(reading):
        specs.append(
            AlarmSpec(Kind.BATTERY_LOW, severity_for(Kind.BATTERY_LOW, device), {"battery": reading.battery})
        )
    return specs


# Who to call, and when.


def contact_available(available_from: time | None, available_until: time | None, local_time: time) -> bool:
    """Availability hours of a contact; none given means always. ``from > until`` wraps midnight."""
    if available_from is None or available_until is None or available_from == available_until:
        return True
    if available_from < available_until:
        return available_from <= local_time < available_until
    return local_time >= available_from or local_time < available_until


EMERGENCY_NUMBERS: dict[str, str] = {
    Kind.SMOKE: "18 / 112",
    Kind.INTRUSION: "17 / 112",
}


def emergency_number(kind: str) -> str:
    return EMERGENCY_NUMBERS.get(kind, "15 / 112")
