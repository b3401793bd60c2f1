"""Local dates and 5-minute granules. Everything is timezone-aware; local means the site's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

from .models import GRANULE_MINUTES

GRANULE = timedelta(minutes=GRANULE_MINUTES)
_GRANULE_SECONDS = GRANULE_MINUTES * 60


def aware(day: date, at: time) -> datetime:
    """``day`` at ``at``, local time, as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, at))


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    return aware(day, time.min), aware(day + timedelta(days=1), time.min)


def floor_granule(moment: datetime) -> datetime:
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % _GRANULE_SECONDS, tz=UTC)


def granules(starts_at: datetime, ends_at: datetime) -> list[datetime]:
    """The 5-minute granule starts (UTC) covering [starts_at, ends_at)."""
    out: list[datetime] = []
    moment = floor_granule(starts_at)
    end = ends_at.astimezone(UTC)
    while moment < end:
        out.append(moment)
        moment += GRANULE
    return out


def local_dates(starts_at: datetime, ends_at: datetime) -> list[date]:
    """Every local date touched by [starts_at, ends_at)."""
    first = timezone.localtime(starts_at).date()
    last = timezone.localtime(ends_at - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
