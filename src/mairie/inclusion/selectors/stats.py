"""The Numéripôle's statistics: every figure is one aggregate query in SQL.

All figures but two read ``Participation`` only (one row per person per accompaniment, with the date,
duration, theme, age band, commune of residence and autonomy copied in), through its ``(commune, date)``
index: the cost grows with the rows of the period, never with a query per row. "New people" reads
``Beneficiary.first_seen_on`` through its ``(commune, first_seen_on)`` index; sessions and mediator hours read
``Accompaniment`` through its ``(commune, date)`` index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from mairie.core.models import Commune
from mairie.inclusion.models import Accompaniment, Beneficiary, Participation, Theme
from mairie.inclusion.vocabularies import AgeBand, Autonomy

HOME_FIGURE_SECONDS = 600


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    people: int  # distinct persons
    participations: int
    hours: float


@dataclass
class Stats:
    start: date
    end: date
    people: int = 0
    new_people: int = 0
    anonymous_visits: int = 0
    participations: int = 0
    person_hours: float = 0.0
    sessions: int = 0
    individual: int = 0
    mediator_hours: float = 0.0
    by_theme: list[Row] = field(default_factory=list)
    by_age: list[Row] = field(default_factory=list)
    by_residence: list[Row] = field(default_factory=list)
    by_autonomy: list[Row] = field(default_factory=list)
    by_month: list[Row] = field(default_factory=list)

    def breakdowns(self) -> list[tuple[str, str, list[Row]]]:
        return [
            ("theme", _("Par thème"), self.by_theme),
            ("age", _("Par tranche d'âge"), self.by_age),
            ("residence", _("Par commune de résidence"), self.by_residence),
            ("autonomy", _("Par niveau d'autonomie"), self.by_autonomy),
            ("month", _("Par mois"), self.by_month),
        ]


def _hours(minutes: int | None) -> float:
    return round((minutes or 0) / 60, 1)


def _grouped(rows: Any, key: str, label_of: Any) -> list[Row]:
    out = [
        Row(
            key=str(row[key] or ""),
            label=label_of(row),
            people=row["people"],
            participations=row["n"],
            hours=_hours(row["minutes"]),
        )
        for row in rows
    ]
    return out


def _aggregates() -> dict[str, Any]:
    return {
        "people": Count("beneficiary_id", distinct=True),
        "n": Count("id"),
        "minutes": Sum("duration_minutes"),
    }


def statistics(commune: Commune, start: date, end: date) -> Stats:
    """The figures of ``commune`` for ``start``–``end`` (both included). Nine queries, whatever the data."""
    stats = Stats(start=start, end=end)
    period = Participation.objects.filter(commune=commune, date__gte=start, date__lte=end)
    totals = period.aggregate(
        people=Count("beneficiary_id", distinct=True),
        n=Count("id"),
        minutes=Sum("duration_minutes"),
        anonymous=Count("id", filter=Q(residence_name="", residence_insee="", age_band=AgeBand.UNKNOWN)),
    )
    stats.people = totals["people"] or 0
    stats.participations = totals["n"] or 0
    stats.person_hours = _hours(totals["minutes"])
    stats.new_people = Beneficiary.objects.filter(
        commune=commune, first_seen_on__gte=start, first_seen_on__lte=end
    ).count()
    activity = Accompaniment.objects.filter(commune=commune, date__gte=start, date__lte=end).aggregate(
        sessions=Count("id", filter=Q(kind=Accompaniment.Kind.COLLECTIVE)),
        individual=Count("id", filter=Q(kind=Accompaniment.Kind.INDIVIDUAL)),
        minutes=Sum("duration_minutes"),
    )
    stats.sessions = activity["sessions"] or 0
    stats.individual = activity["individual"] or 0
    stats.mediator_hours = _hours(activity["minutes"])

    names = dict(Theme.objects.filter(commune=commune).values_list("pk", "name"))
    no_theme = _("Sans thème")
    stats.by_theme = sorted(
        _grouped(
            period.values("theme_id").annotate(**_aggregates()).order_by(),
            "theme_id",
            lambda row: names.get(row["theme_id"], no_theme),
        ),
        key=lambda r: (-r.people, r.label),
    )
    ages = dict(AgeBand.choices)
    order = {value: i for i, value in enumerate(AgeBand.values)}
    stats.by_age = sorted(
        _grouped(
            period.values("age_band").annotate(**_aggregates()).order_by(),
            "age_band",
            lambda row: str(ages.get(row["age_band"], row["age_band"])),
        ),
        key=lambda r: order.get(r.key, 99),
    )
    unknown_place = _("Non renseignée")
    stats.by_residence = sorted(
        _grouped(
            period.values("residence_insee").annotate(name=Max("residence_name"), **_aggregates()).order_by(),
            "residence_insee",
            lambda row: (
                (f"{row['name']} ({row['residence_insee']})" if row["residence_insee"] else row["name"])
                or unknown_place
            ),
        ),
        key=lambda r: (-r.people, r.label),
    )
    autonomy = dict(Autonomy.choices)
    autonomy_order = {value: i for i, value in enumerate(Autonomy.values)}
    stats.by_autonomy = sorted(
        _grouped(
            period.values("autonomy").annotate(**_aggregates()).order_by(),
            "autonomy",
            lambda row: str(autonomy.get(row["autonomy"], _("Non renseignée"))),
        ),
        key=lambda r: autonomy_order.get(r.key, 99),
    )
    months = (
        period.annotate(month=TruncMonth("date")).values("month").annotate(**_aggregates()).order_by("month")
    )
    stats.by_month = _grouped(
        months,
        "month",
        lambda row: formats.date_format(row["month"], "YEAR_MONTH_FORMAT") if row["month"] else "",
    )
    return stats


def people_trained_last_12_months(commune: Commune, *, today: date | None = None) -> int:
    today = today or timezone.localdate()
    return Participation.objects.filter(
        commune=commune, date__gt=today - timedelta(days=365), date__lte=today
    ).aggregate(n=Count("beneficiary_id", distinct=True))["n"]


def home_figure(commune: Commune) -> str:
    """ "412 personnes formées ces 12 derniers mois", for the commune's home page (cached ten minutes)."""
    key = f"inclusion:home-figure:{commune.pk}:{timezone.localdate().isoformat()}"
    count = cache.get(key)
    if count is None:
        count = people_trained_last_12_months(commune)
        cache.set(key, count, HOME_FIGURE_SECONDS)
    if not count:
        return ""
    return ngettext(
        "%(count)d personne accompagnée ces 12 derniers mois",
        "%(count)d personnes accompagnées ces 12 derniers mois",
        count,
    ) % {"count": count}
