"""The Numéripôle's statistics: aggregates computed in SQL, four queries whatever the period or the data.

``Participation`` holds one row per person per accompaniment with the date, duration, theme, age band, commune
of residence and autonomy copied in, so the figures read that table through its ``(commune, date)`` index
(covering the grouped columns on PostgreSQL) and never run a query per row. See ``statistics``.
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
from mairie.inclusion.models import Accompaniment, ActivityDay, Beneficiary, Participation, Theme
from mairie.inclusion.vocabularies import AgeBand, Autonomy

HOME_FIGURE_SECONDS = 600


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    people: int | None  # distinct persons: by age band and commune of residence
    participations: int | None  # and hours: by theme, autonomy, month
    hours: float | None


@dataclass
class Stats:
    start: date
    end: date
    people: int = 0
    new_people: int = 0
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


def _rows(groups: dict[Any, Any], label_of: Any, *, people: bool = False) -> list[Row]:
    """``groups``: key → people (``people=True``), or key → [participations, minutes]."""
    out = []
    for key, values in groups.items():
        if people:
            out.append(
                Row(key=str(key or ""), label=label_of(key), people=values, participations=None, hours=None)
            )
        else:
            count, minutes = values
            out.append(
                Row(
                    key=str(key or ""),
                    label=label_of(key),
                    people=None,
                    participations=count,
                    hours=_hours(minutes),
                )
            )
    return out


def statistics(commune: Commune, start: date, end: date) -> Stats:
    """The figures of ``commune`` for ``start``–``end`` (both included), in four queries whatever the data.

    1. People: the beneficiaries with at least one participation in the period (a semi-join through the
       ``(commune, date)`` index of participations), grouped by age band and commune of residence, with
       how many came for the first time in the period. Their sum is the number of unique people.
    2. Activity: participations and minutes by (theme, autonomy, month), summed from the daily rollup
       ``ActivityDay`` (a few rows a day, kept by the services) rather than from every participation; split
       into the three breakdowns here.
    3. Sessions and mediator hours: the accompaniments of the period (``(commune, date)`` index).
    4. Theme names.
    No ``COUNT(DISTINCT)`` over the participations: with 100,000 rows it is what costs (a sort per group);
    and only the people query reads every participation of the period.
    """
    stats = Stats(start=start, end=end)
    period = Participation.objects.filter(commune=commune, date__gte=start, date__lte=end)
    people_rows = (
        Beneficiary.objects.filter(commune=commune, pk__in=period.values("beneficiary_id"))
        .values("age_band", "residence_insee")
        .annotate(
            name=Max("residence_name"),
            people=Count("id"),
            new=Count("id", filter=Q(first_seen_on__gte=start, first_seen_on__lte=end)),
        )
        .order_by()
    )
    by_age: dict[str, int] = {}
    by_residence: dict[str, int] = {}
    residence_names: dict[str, str] = {}
    for row in people_rows:
        stats.people += row["people"]
        stats.new_people += row["new"]
        by_age[row["age_band"]] = by_age.get(row["age_band"], 0) + row["people"]
        by_residence[row["residence_insee"]] = by_residence.get(row["residence_insee"], 0) + row["people"]
        residence_names.setdefault(row["residence_insee"], row["name"] or "")
    activity = (
        ActivityDay.objects.filter(commune=commune, date__gte=start, date__lte=end)
        .annotate(month=TruncMonth("date"))
        .values("theme_id", "autonomy", "month")
        .annotate(n=Sum("participations"), minutes=Sum("minutes"))
        .order_by()
    )
    by_theme: dict[Any, list[int]] = {}
    by_autonomy: dict[Any, list[int]] = {}
    by_month: dict[Any, list[int]] = {}
    for line in activity:
        n, minutes = line["n"], line["minutes"] or 0
        stats.participations += n
        stats.person_hours += minutes
        for groups, key in (
            (by_theme, line["theme_id"]),
            (by_autonomy, line["autonomy"]),
            (by_month, line["month"]),
        ):
            values = groups.setdefault(key, [0, 0])
            values[0] += n
            values[1] += minutes
    stats.person_hours = _hours(int(stats.person_hours))
    activity_totals = Accompaniment.objects.filter(commune=commune, date__gte=start, date__lte=end).aggregate(
        sessions=Count("id", filter=Q(kind=Accompaniment.Kind.COLLECTIVE)),
        individual=Count("id", filter=Q(kind=Accompaniment.Kind.INDIVIDUAL)),
        minutes=Sum("duration_minutes"),
    )
    stats.sessions = activity_totals["sessions"] or 0
    stats.individual = activity_totals["individual"] or 0
    stats.mediator_hours = _hours(activity_totals["minutes"])

    names = dict(Theme.objects.filter(commune=commune).values_list("pk", "name"))
    no_theme, unknown = _("Sans thème"), _("Non renseignée")
    stats.by_theme = sorted(
        _rows(by_theme, lambda key: names.get(key, no_theme)),
        key=lambda r: (-(r.participations or 0), r.label),
    )
    ages = dict(AgeBand.choices)
    order = {value: i for i, value in enumerate(AgeBand.values)}
    stats.by_age = sorted(
        _rows(by_age, lambda key: str(ages.get(key, key)), people=True), key=lambda r: order.get(r.key, 99)
    )
    stats.by_residence = sorted(
        _rows(
            by_residence,
            lambda key: (
                (f"{residence_names.get(key, '')} ({key})" if key else residence_names.get(key, ""))
                or unknown
            ),
            people=True,
        ),
        key=lambda r: (-(r.people or 0), r.label),
    )
    autonomy = dict(Autonomy.choices)
    autonomy_order = {value: i for i, value in enumerate(Autonomy.values)}
    stats.by_autonomy = sorted(
        _rows(by_autonomy, lambda key: str(autonomy.get(key, unknown))),
        key=lambda r: autonomy_order.get(r.key, 99),
    )
    stats.by_month = sorted(
        _rows(by_month, lambda key: formats.date_format(key, "YEAR_MONTH_FORMAT") if key else ""),
        key=lambda r: r.key,
    )
    return stats


def people_trained_last_12_months(commune: Commune, *, today: date | None = None) -> int:
    """Distinct people accompanied in the last 365 days (the semi-join of ``statistics``, no COUNT DISTINCT)."""
    today = today or timezone.localdate()
    recent = Participation.objects.filter(
        commune=commune, date__gt=today - timedelta(days=365), date__lte=today
    )
    return Beneficiary.objects.filter(commune=commune, pk__in=recent.values("beneficiary_id")).count()


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
