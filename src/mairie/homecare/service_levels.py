"""Service-level figures for the operator console, computed in SQL over a period.

- time to acknowledge: median and 95th percentile (linear interpolation between the two nearest ranks, as
  PostgreSQL's ``percentile_cont``), and the share acknowledged within 60 seconds (tele-assistance services
  commit to answering 97.5 % of calls within a minute);
- alarms per type;
- false-alarm rate: false alarms among the alarms closed in the period.

The database orders the durations and returns only the one or two rows a percentile needs (``ORDER BY …
LIMIT 2 OFFSET k``); counts are ``GROUP BY`` queries. Nothing is loaded row by row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet

from mairie.homecare.models import Alarm

ANSWER_TARGET = timedelta(seconds=60)


@dataclass(frozen=True)
class KindCount:
    kind: str
    label: str
    count: int


@dataclass(frozen=True)
class ServiceLevels:
    start: datetime
    end: datetime
    raised: int
    acknowledged: int
    ack_median: timedelta | None
    ack_p95: timedelta | None
    within_target: int
    per_kind: list[KindCount]
    closed: int
    false_alarms: int

    @property
    def false_alarm_rate(self) -> float | None:
        return self.false_alarms / self.closed if self.closed else None

    @property
    def within_target_rate(self) -> float | None:
        return self.within_target / self.acknowledged if self.acknowledged else None


def _durations(alarms: QuerySet[Alarm]) -> QuerySet[Alarm]:
    return alarms.filter(acknowledged_at__isnull=False).annotate(
        wait=ExpressionWrapper(F("acknowledged_at") - F("raised_at"), output_field=DurationField())
    )


def percentile(alarms: QuerySet[Alarm], fraction: float, *, count: int | None = None) -> timedelta | None:
    """The ``fraction`` percentile of the time to acknowledge (0.5: median), interpolated between ranks."""
    waits = _durations(alarms)
    n = waits.count() if count is None else count
    if n == 0:
        return None
    position = (n - 1) * fraction
    below = math.floor(position)
    rows = list(waits.order_by("wait", "pk").values_list("wait", flat=True)[below : below + 2])  # type: ignore[misc]
    low = rows[0]
    if len(rows) == 1 or position == below:
        return low
    return low + (rows[1] - low) * (position - below)


def service_levels(alarms: QuerySet[Alarm], *, start: datetime, end: datetime) -> ServiceLevels:
    """Figures for the alarms raised in ``[start, end)`` among ``alarms`` (already limited to what the
    person may see)."""
    period = alarms.filter(raised_at__gte=start, raised_at__lt=end)
    totals = period.aggregate(
        raised=Count("pk"),
        acknowledged=Count("pk", filter=Q(acknowledged_at__isnull=False)),
        closed=Count("pk", filter=Q(state__in=Alarm.CLOSED_STATES)),
        false_alarms=Count("pk", filter=Q(state=Alarm.State.FALSE_ALARM)),
    )
    within = _durations(period).filter(wait__lte=ANSWER_TARGET).count()  # type: ignore[misc]
    labels = dict(Alarm.Kind.choices)
    per_kind = [
        KindCount(row["kind"], str(labels.get(row["kind"], row["kind"])), row["n"])
        for row in period.order_by().values("kind").annotate(n=Count("pk")).order_by("-n", "kind")
    ]
    acknowledged = totals["acknowledged"]
    return ServiceLevels(
        start=start,
        end=end,
        raised=totals["raised"],
        acknowledged=acknowledged,
        ack_median=percentile(period, 0.5, count=acknowledged),
        ack_p95=percentile(period, 0.95, count=acknowledged),
        within_target=within,
        per_kind=per_kind,
        closed=totals["closed"],
        false_alarms=totals["false_alarms"],
    )


def format_duration(value: timedelta | None) -> str:
    """``1 min 05 s``, ``42 s``, ``2 h 03 min``: short and exact enough for the figures page."""
    if value is None:
        return "—"
    seconds = round(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
