"""Electricity use from the Linky meter's readings: per day, week and month, a bar chart, an unusual-use notice.

A day's use is the meter index at the day's last reading minus the index at the previous day's last reading
(what was used between two readings spanning midnight belongs to the later day), or, for the first day
with readings, its last index minus its first. A day whose index grew by more than a home's meter can deliver
(``MAX_DAY_WH``: a meter replaced, a garbled reading) is unknown, like a day without readings: never charted as a
huge bar nor taken for unusual use. Days come from one grouped query (``GROUP BY`` the local day,
``MIN``/``MAX`` of the index): the cost does not grow with the number of readings a page shows.

Unusual use compares the last complete day with the 28 days before it: outside the median ± 3 median
absolute deviations (MAD), with a floor so that a very regular home is not flagged for a few watt-hours; a
day already above the usual range before it ends is flagged too. Zero use for 24 hours while the meter still
reports (no fridge, no heating: a power cut in the home, or nobody there) is flagged as well. Homes marked
away or in hospital are not flagged: low use is expected.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Max, Min
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from mairie.homecare import rules
from mairie.homecare.models import EnergyReading, Home

BASELINE_DAYS = 28
MIN_BASELINE_DAYS = 14
MAD_FACTOR = 3
# The band is never narrower than this many Wh, nor than this share of the median, on each side.
MIN_BAND_WH = 300
MIN_BAND_SHARE = 0.15
ZERO_WINDOW = timedelta(hours=24)
# More than a home's meter can deliver in a day (36 kVA, the most a Linky "tarif bleu" allows, for 25 hours: the
# day the clocks go back): the index jumped (a meter replaced, a reading garbled), the day's use is unknown.
MAX_DAY_WH = 36_000 * 25


@dataclass(frozen=True)
class Usage:
    label: str  # shown under the bar and in the table
    start: date
    wh: int | None  # None: no reading that day (the meter or gateway was silent)
    short: str = ""  # under the chart's bar, when ``label`` is too long there

    @property
    def kwh(self) -> str:
        return "—" if self.wh is None else number_format(self.wh / 1000, 1)


def _local_midnight(day: date, home: Home) -> datetime:
    return datetime.combine(day, time(0, 0)).replace(tzinfo=rules.home_zone(home))


def daily_wh(home: Home, *, first: date, last: date) -> dict[date, int | None]:
    """Use per local day from ``first`` to ``last`` (both included), ``None`` for days without readings."""
    zone = rules.home_zone(home)
    rows = (
        EnergyReading.objects.filter(
            home=home,
            index_wh__isnull=False,
            at__gte=_local_midnight(first - timedelta(days=1), home),
            at__lt=_local_midnight(last + timedelta(days=1), home),
        )
        .annotate(day=TruncDate("at", tzinfo=zone))
        .values("day")
        .annotate(low=Min("index_wh"), high=Max("index_wh"))
        .order_by("day")
    )
    bounds = {row["day"]: (row["low"], row["high"]) for row in rows}
    out: dict[date, int | None] = {}
    day = first
    while day <= last:
        today = bounds.get(day)
        if today is None:
            out[day] = None
        else:
            low, high = today
            before = bounds.get(day - timedelta(days=1))
            use = high - before[1] if before is not None and high >= before[1] else high - low
            out[day] = max(use, 0) if use <= MAX_DAY_WH else None
        day += timedelta(days=1)
    return out


def _local_today(home: Home, now: datetime) -> date:
    return now.astimezone(rules.home_zone(home)).date()


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


DAY_LABEL = "%d/%m"


def usage(home: Home, *, period: str, now: datetime | None = None) -> list[Usage]:
    """Bars for the chart: the last 14 days, the last 12 weeks (Monday to Sunday) or the last 12 months."""
    now = now or timezone.now()
    today = _local_today(home, now)
    if period == "week":
        monday = today - timedelta(days=today.weekday())
        first = monday - timedelta(weeks=11)
        days = daily_wh(home, first=first, last=today)
        bars = []
        for n in range(12):
            start = first + timedelta(weeks=n)
            values = [days.get(start + timedelta(days=i)) for i in range(7)]
            label = _("sem. du %(day)s") % {"day": start.strftime(DAY_LABEL)}
            bars.append(Usage(label, start, _sum(values), start.strftime(DAY_LABEL)))
        return bars
    if period == "month":
        months = []
        year, month = today.year, today.month
        for _n in range(12):
            months.append(date(year, month, 1))
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        months.reverse()
        days = daily_wh(home, first=months[0], last=today)
        bars = []
        for start in months:
            values = [v for d, v in days.items() if d.year == start.year and d.month == start.month]
            bars.append(Usage(start.strftime("%m/%Y"), start, _sum(values)))
        return bars
    first = today - timedelta(days=13)
    days = daily_wh(home, first=first, last=today)
    return [Usage(day.strftime(DAY_LABEL), day, wh) for day, wh in days.items()]


# ------------------------------------------------------------------------------------------------
# Unusual use
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    kind: str  # "high", "low", "zero"
    message: str
    day: date | None = None
    wh: int | None = None
    low_wh: int | None = None
    high_wh: int | None = None


def usual_band(values: list[int]) -> tuple[int, int, int]:
    """(median, low, high): median ± 3 MAD, never narrower than the floor."""
    median = statistics.median(values)
    mad = statistics.median([abs(v - median) for v in values])
    half = max(MAD_FACTOR * mad, MIN_BAND_WH, MIN_BAND_SHARE * median)
    return round(median), max(round(median - half), 0), round(median + half)


def _kwh(wh: int) -> str:
    return number_format(wh / 1000, 1)


def unusual_consumption(home: Home, *, now: datetime | None = None) -> Notice | None:
    """A notice for the home's file and its relatives, or ``None`` when the use looks ordinary."""
    if home.mode != Home.Mode.NORMAL:
        return None
    now = now or timezone.now()
    zero = _zero_for_a_day(home, now)
    if zero is not None:
        return zero
    today = _local_today(home, now)
    yesterday = today - timedelta(days=1)
    days = daily_wh(home, first=yesterday - timedelta(days=BASELINE_DAYS), last=today)
    baseline = [wh for day, wh in days.items() if day < yesterday and wh is not None]
    if len(baseline) < MIN_BASELINE_DAYS:
        return None
    _median, low, high = usual_band(baseline)
    so_far = days.get(today)
    if so_far is not None and so_far > high:
        return Notice(
            "high",
            _(
                "Aujourd'hui, déjà %(use)s kWh consommés : bien plus que d'habitude "
                "(en général entre %(low)s et %(high)s kWh par jour)."
            )
            % {"use": _kwh(so_far), "low": _kwh(low), "high": _kwh(high)},
            today,
            so_far,
            low,
            high,
        )
    last = days.get(yesterday)
    if last is None:
        return None
    if last > high or last < low:
        more = last > high
        message = (
            _(
                "Hier, %(use)s kWh consommés : bien plus que d'habitude (en général entre %(low)s et %(high)s kWh)."
            )
            if more
            else _(
                "Hier, %(use)s kWh consommés : bien moins que d'habitude (en général entre %(low)s et %(high)s kWh)."
            )
        )
        return Notice(
            "high" if more else "low",
            message % {"use": _kwh(last), "low": _kwh(low), "high": _kwh(high)},
            yesterday,
            last,
            low,
            high,
        )
    return None


def _zero_for_a_day(home: Home, now: datetime) -> Notice | None:
    """The meter still reports (a reading in the last two hours) but its index has not moved for 24 hours."""
    readings = EnergyReading.objects.filter(home=home, index_wh__isnull=False)
    latest = readings.filter(at__lte=now).order_by("-at").values("at", "index_wh").first()
    if latest is None or now - latest["at"] > timedelta(hours=2):
        return None
    start = readings.filter(at__lte=now - ZERO_WINDOW).order_by("-at").values("at", "index_wh").first()
    if start is None:
        return None
    moved = readings.filter(at__gt=start["at"], at__lte=now).exclude(index_wh=start["index_wh"]).exists()
    if moved:
        return None
    return Notice(
        "zero",
        _(
            "Aucune électricité consommée depuis 24 heures : coupure de courant dans le logement, "
            "ou personne à la maison ?"
        ),
        wh=0,
    )


# ------------------------------------------------------------------------------------------------
# The chart (server-rendered SVG; the same numbers are in a table next to it)
# ------------------------------------------------------------------------------------------------

CHART_WIDTH = 640
CHART_HEIGHT = 240
MARGIN_LEFT = 48
MARGIN_BOTTOM = 40
MARGIN_TOP = 12


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** int(f"{value:e}".split("e")[1])
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def bar_chart(bars: list[Usage]) -> dict[str, Any]:
    """Geometry for ``homecare/energy_chart.html``: bars in kWh with a scale of four gridlines."""
    values = [b.wh for b in bars if b.wh is not None]
    top_kwh = _nice_ceiling(max(values) / 1000 if values else 0)
    plot_h = CHART_HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    plot_w = CHART_WIDTH - MARGIN_LEFT - 8
    slot = plot_w / max(len(bars), 1)
    shapes = []
    for n, bar in enumerate(bars):
        height = 0.0 if bar.wh is None else plot_h * (bar.wh / 1000) / top_kwh
        x = MARGIN_LEFT + n * slot + slot * 0.15
        shapes.append(
            {
                "x": round(x, 1),
                "y": round(MARGIN_TOP + plot_h - height, 1),
                "width": round(slot * 0.7, 1),
                "height": round(height, 1),
                "label": bar.short or bar.label,
                "label_x": round(x + slot * 0.35, 1),
                "missing": bar.wh is None,
                "value": bar.kwh,
            }
        )
    grid = []
    for i in range(5):
        kwh = top_kwh * i / 4
        grid.append(
            {
                "y": round(MARGIN_TOP + plot_h - plot_h * i / 4, 1),
                "label": number_format(kwh, 1 if top_kwh < 10 else 0),
            }
        )
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": MARGIN_LEFT,
        "right": CHART_WIDTH - 8,
        "label_y": CHART_HEIGHT - MARGIN_BOTTOM + 18,
        "bars": shapes,
        "grid": grid,
        "every_label": len(bars) <= 14,
    }
