"""Quiet hours: the part of the day when a person does not want to be disturbed by email or SMS."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo

from django.utils import timezone


def quiet_period_end(
    now: datetime, start: time | None, end: time | None, tz: tzinfo | None = None
) -> datetime:
    """When a non-urgent message may go out: ``now``, or the end of the quiet period ``now`` falls in.

    ``start`` and ``end`` are wall-clock times in ``tz`` (the commune's time zone, Europe/Paris by default);
    the period may wrap midnight (22:00 → 07:00). No period when either bound is missing or both are equal.
    """
    if start is None or end is None or start == end:
        return now
    tz = tz or timezone.get_default_timezone()
    local = now.astimezone(tz)
    moment = local.time().replace(tzinfo=None)
    if start < end:
        if start <= moment < end:
            return datetime.combine(local.date(), end, tzinfo=tz)
        return now
    if moment >= start:  # after the evening start: quiet until tomorrow's end
        return datetime.combine(local.date() + timedelta(days=1), end, tzinfo=tz)
    if moment < end:  # early morning: quiet until this morning's end
        return datetime.combine(local.date(), end, tzinfo=tz)
    return now
