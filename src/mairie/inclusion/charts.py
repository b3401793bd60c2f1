"""Server-rendered SVG bar charts: readable without JavaScript, with a title and a description for screen
readers (``role="img"``); each chart sits next to a table holding the same numbers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 230
BAR_AREA = 300
VALUE_WIDTH = 60


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    y: int
    width: int
    text_y: int


@dataclass(frozen=True)
class BarChart:
    key: str
    title: str
    description: str
    bars: list[Bar]
    width: int
    height: int
    label_width: int
    value_x: int


def _short(label: str, limit: int = 32) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(key: str, title: str, items: list[tuple[str, float]], unit: str) -> BarChart:
    """Horizontal bars, one per item, scaled to the largest value."""
    top = max((value for _, value in items), default=0) or 1
    bars = []
    for i, (label, value) in enumerate(items):
        y = i * (BAR_HEIGHT + GAP)
        width = round(BAR_AREA * float(Decimal(str(value)) / Decimal(str(top)))) if value else 0
        bars.append(
            Bar(label=_short(label), value=value, y=y, width=max(width, 1 if value else 0), text_y=y + 16)
        )
    described = "; ".join(f"{label} : {value:g} {unit}" for label, value in items) or _("aucune donnée")
    return BarChart(
        key=key,
        title=title,
        description=described,
        bars=bars,
        width=LABEL_WIDTH + BAR_AREA + VALUE_WIDTH,
        height=max(len(items), 1) * (BAR_HEIGHT + GAP),
        label_width=LABEL_WIDTH,
        value_x=LABEL_WIDTH + 6,
    )
