"""Tickers over deadline columns. Each reads only rows whose deadline has passed (an indexed range scan), so
its cost grows with the homes that are due, not with the homes there are.

Rows are taken with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (several workers share the work) and
re-checked under their lock before acting, so running a tick twice, or on two workers, does the work once.
Every function takes ``now`` so that tests (and a late worker) decide what time it is.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from mairie.core.models import AuditEntry
from mairie.homecare import live, rules, staging
from mairie.homecare.models import Alarm, Device, DeviceEvent, Home
from mairie.homecare.services.alarms import raise_alarm

logger = logging.getLogger(__name__)

BATCH = 500


def _bulk_audit(action: str, homes: list[Home], data: dict[str, Any]) -> None:
    """One audit row per home, written in one statement (a tick may warn hundreds of homes at once)."""
    now = timezone.now()
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                commune_id=home.commune_id,
                created_at=now,
                action=action,
                object_type=Home._meta.label_lower,
                object_id=str(home.pk),
                object_repr=str(home)[:200],
                data={**data, "reason": home.inactivity_reason},
            )
            for home in homes
        ]
    )


# Inactivity.


def due_homes(now: datetime, *, limit: int = BATCH) -> list[Home]:
    """The homes whose inactivity deadline has passed, locked (others' locked rows skipped). In a transaction."""
    return list(
        Home.objects.filter(inactivity_deadline__lte=now)
        .order_by("inactivity_deadline")
        .select_for_update(skip_locked=True)[:limit]
    )


def inactivity_tick(now: datetime | None = None, *, limit: int = BATCH) -> dict[str, int]:
    """Silent homes: first a warning on the tablet (the resident can cancel it), then the alarm.

    Only deadlines up to ``staging.known_until``: a movement the bridge has taken in but not applied yet (a
    backlog after a broker restart) must not end in a warning, or an alarm, for a silence that did not happen.

    Returns ``{"warnings": n, "alarms": m}``.
    """
    now = now or timezone.now()
    known_until = staging.known_until(now)
    warned: list[Home] = []
    to_alarm: list[int] = []
    with scopes_disabled(), transaction.atomic():  # the ticker works for every commune
        groups: dict[tuple[int, str], list[Home]] = defaultdict(list)
        paused: list[int] = []
        for home in due_homes(known_until, limit=limit):
            if rules.inactivity_paused(home):
                paused.append(home.pk)
            elif home.inactivity_state == Home.InactivityState.OK and home.inactivity_warning_minutes > 0:
                home.inactivity_reason = rules.inactivity_reason(home, home.inactivity_deadline or now)
                groups[(home.inactivity_warning_minutes, home.inactivity_reason)].append(home)
            elif home.inactivity_state == Home.InactivityState.ALARM:
                paused.append(home.pk)
            else:
                to_alarm.append(home.pk)
        if paused:
            Home.objects.filter(pk__in=paused).update(inactivity_deadline=None)
        for (minutes, reason), homes in groups.items():
            Home.objects.filter(pk__in=[home.pk for home in homes]).update(
                inactivity_state=Home.InactivityState.WARNING,
                inactivity_reason=reason,
                inactivity_deadline=now + timedelta(minutes=minutes),
            )
            warned += homes
        if warned:
            _bulk_audit("homecare.inactivity.warning", warned, {})
            live.publish_many_on_commit(
                [
                    {
                        "commune_id": home.commune_id,
                        "home_id": home.pk,
                        "event": "inactivity.warning",
                        "console": False,
                        "reason": home.inactivity_reason,
                        "until": (now + timedelta(minutes=home.inactivity_warning_minutes)).isoformat(),
                    }
                    for home in warned
                ]
            )
    alarms = sum(1 for home_id in to_alarm if _inactivity_alarm(home_id, now, known_until))
    return {"warnings": len(warned), "alarms": alarms}


def _inactivity_alarm(home_id: int, now: datetime, known_until: datetime) -> bool:
    """The warning ran out (or there is none): the alarm. One transaction per home; the lock and re-check make
    a second worker, or a second run, do nothing."""
    with scopes_disabled(), transaction.atomic():
        home = (
            Home.objects.select_for_update(of=("self",)).select_related("commune").filter(pk=home_id).first()
        )
        if home is None or home.inactivity_deadline is None or home.inactivity_deadline > known_until:
            return False
        if home.inactivity_state == Home.InactivityState.ALARM or rules.inactivity_paused(home):
            Home.objects.filter(pk=home.pk).update(inactivity_deadline=None)
            return False
        with scope(commune=home.commune):
            reason = home.inactivity_reason or rules.inactivity_reason(home, now)
            alarm = raise_alarm(
                home=home,
                kind=Alarm.Kind.INACTIVITY,
                at=now,
                dedup_key=f"inactivity:{home.pk}:{home.inactivity_deadline.isoformat()}",
                data={
                    "reason": reason,
                    "last_activity_at": home.last_activity_at.isoformat() if home.last_activity_at else None,
                },
            )
            Home.objects.filter(pk=home.pk).update(
                inactivity_state=Home.InactivityState.ALARM,
                inactivity_reason=reason,
                inactivity_deadline=None,
            )
        return alarm is not None


# Supervision: devices silent past their period.


def supervision_tick(now: datetime | None = None, *, limit: int = BATCH) -> int:
    now = now or timezone.now()
    known_until = staging.known_until(now)
    with scopes_disabled():
        ids = list(
            Device.objects.filter(supervision_deadline__lte=known_until)
            .order_by("supervision_deadline")
            .values_list("pk", flat=True)[:limit]
        )
    return sum(1 for device_id in ids if _supervision_alarm(device_id, now, known_until))


def _supervision_alarm(device_id: int, now: datetime, known_until: datetime) -> bool:
    with scopes_disabled(), transaction.atomic():
        device = (
            Device.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("home__commune")
            .filter(pk=device_id, supervision_deadline__lte=known_until)
            .first()
        )
        if device is None:
            return False
        deadline = device.supervision_deadline
        assert deadline is not None
        Device.objects.filter(pk=device.pk).update(online=False, supervision_deadline=None)
        with scope(commune=device.home.commune):
            alarm = raise_alarm(
                home=device.home,
                device=device,
                kind=Alarm.Kind.DEVICE_OFFLINE,
                at=now,
                dedup_key=f"supervision:{device.pk}:{deadline.isoformat()}",
                data={
                    "source": "supervision",
                    "minutes": device.supervision_minutes,
                    "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
                },
            )
        return alarm is not None


# Daily check-in.


def checkin_tick(now: datetime | None = None, *, limit: int = BATCH) -> int:
    now = now or timezone.now()
    with scopes_disabled():
        ids = list(
            Home.objects.filter(checkin_due_at__lte=now)
            .order_by("checkin_due_at")
            .values_list("pk", flat=True)[:limit]
        )
    return sum(1 for home_id in ids if _checkin_missed(home_id, now))


def _checkin_missed(home_id: int, now: datetime) -> bool:
    with scopes_disabled(), transaction.atomic():
        home = (
            Home.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("commune")
            .filter(pk=home_id, checkin_due_at__lte=now)
            .first()
        )
        if home is None:
            return False
        due = home.checkin_due_at
        assert due is not None
        tz = rules.home_zone(home)
        done = (
            home.last_checkin_at is not None
            and home.last_checkin_at.astimezone(tz).date() == due.astimezone(tz).date()
        )
        alarm = None
        with scope(commune=home.commune):
            if home.checkin_enabled and not rules.inactivity_paused(home) and not done:
                alarm = raise_alarm(
                    home=home,
                    kind=Alarm.Kind.CHECKIN_MISSED,
                    at=now,
                    dedup_key=f"checkin:{home.pk}:{due.isoformat()}",
                    data={"due": due.isoformat()},
                )
            Home.objects.filter(pk=home.pk).update(checkin_due_at=rules.next_checkin_due(home, max(now, due)))
        return alarm is not None


# Intrusion: entry delays that ran out.


def intrusion_tick(now: datetime | None = None, *, limit: int = BATCH) -> int:
    now = now or timezone.now()
    with scopes_disabled():
        ids = list(
            Home.objects.filter(intrusion_deadline__lte=now)
            .order_by("intrusion_deadline")
            .values_list("pk", flat=True)[:limit]
        )
    return sum(1 for home_id in ids if _intrusion_alarm(home_id, now))


def _intrusion_alarm(home_id: int, now: datetime) -> bool:
    with scopes_disabled(), transaction.atomic():
        home = (
            Home.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("commune", "intrusion_device")
            .filter(pk=home_id, intrusion_deadline__lte=now)
            .first()
        )
        if home is None:
            return False
        deadline = home.intrusion_deadline
        assert deadline is not None
        Home.objects.filter(pk=home.pk).update(intrusion_deadline=None)
        if home.armed_mode == Home.ArmedMode.DISARMED:
            return False
        with scope(commune=home.commune):
            alarm = raise_alarm(
                home=home,
                device=home.intrusion_device,
                kind=Alarm.Kind.INTRUSION,
                at=now,
                dedup_key=f"intrusion:{home.pk}:{deadline.isoformat()}",
                data={"mode": home.armed_mode, "entry_delay_s": home.entry_delay_s},
            )
        return alarm is not None


# Doors left open at night.


def door_tick(now: datetime | None = None, *, limit: int = BATCH) -> int:
    """Doors still open at their deadline, up to ``staging.known_until``: the report of the door being closed
    may be waiting in a backlog the bridge has taken in and not applied yet."""
    now = now or timezone.now()
    known_until = staging.known_until(now)
    with scopes_disabled():
        ids = list(
            Device.objects.filter(open_deadline__lte=known_until)
            .order_by("open_deadline")
            .values_list("pk", flat=True)[:limit]
        )
    return sum(1 for device_id in ids if _door_alarm(device_id, now, known_until))


def _door_alarm(device_id: int, now: datetime, known_until: datetime) -> bool:
    with scopes_disabled(), transaction.atomic():
        device = (
            Device.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("home__commune")
            .filter(pk=device_id, open_deadline__lte=known_until)
            .first()
        )
        if device is None:
            return False
        deadline = device.open_deadline
        assert deadline is not None
        Device.objects.filter(pk=device.pk).update(open_deadline=None)
        if device.state.get("contact") is not False:
            return False
        with scope(commune=device.home.commune):
            alarm = raise_alarm(
                home=device.home,
                device=device,
                kind=Alarm.Kind.DOOR_OPEN_NIGHT,
                at=now,
                dedup_key=f"door:{device.pk}:{deadline.isoformat()}",
                data={"minutes": device.home.door_open_night_minutes},
            )
        return alarm is not None


def all_ticks(now: datetime | None = None) -> dict[str, Any]:
    """Every deadline ticker once, each failure logged without stopping the others."""
    now = now or timezone.now()
    counts: dict[str, Any] = {}
    for name, tick in (
        ("inactivity", inactivity_tick),
        ("supervision", supervision_tick),
        ("checkin", checkin_tick),
        ("intrusion", intrusion_tick),
        ("door", door_tick),
    ):
        try:
            counts[name] = tick(now)
        except Exception:
            logger.exception("Homecare %s tick failed; the next minute tries again", name)
            counts[name] = "failed"
    return counts


def purge_device_events(now: datetime | None = None) -> int:
    days = int(getattr(settings, "MAIRIE_HOMECARE_EVENT_RETENTION_DAYS", 90))
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with scopes_disabled():
        deleted, _ = DeviceEvent.objects.filter(received_at__lt=cutoff).delete()
    return deleted
