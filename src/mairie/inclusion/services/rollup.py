"""The daily activity rollup (``ActivityDay``), kept in step with the participations by the services."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db.models import Count, Sum

from mairie.core.models import Commune
from mairie.inclusion.models import ActivityDay, Participation


def activity_days_refresh(*, commune: Commune, days: Iterable[date]) -> None:
    """Recomputes the rollup rows of ``days`` from their participations (call it inside the writing service's
    transaction, after the participations changed)."""
    wanted = sorted(set(days))
    if not wanted:
        return
    ActivityDay.objects.filter(commune=commune, date__in=wanted).delete()
    rows = (
        Participation.objects.filter(commune=commune, date__in=wanted)
        .values("date", "theme_id", "autonomy")
        .annotate(n=Count("id"), minutes=Sum("duration_minutes"))
        .order_by()
    )
    ActivityDay.objects.bulk_create(
        [
            ActivityDay(
                commune=commune,
                date=row["date"],
                theme_id=row["theme_id"],
                autonomy=row["autonomy"],
                participations=row["n"],
                minutes=row["minutes"] or 0,
            )
            for row in rows
        ]
    )


def activity_days_rebuild(*, commune: Commune) -> int:
    """Recomputes a commune's whole rollup (after a bulk import); returns the number of days."""
    days = list(Participation.objects.filter(commune=commune).values_list("date", flat=True).distinct())
    ActivityDay.objects.filter(commune=commune).delete()
    for start in range(0, len(days), 500):
        activity_days_refresh(commune=commune, days=days[start : start + 500])
    return len(days)
