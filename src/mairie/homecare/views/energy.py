"""A home's electricity use, for the console and for relatives (the views that call this checked access)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mairie.homecare import energy
from mairie.homecare.models import Home

PERIODS = {
    "jour": ("day", _("Par jour (14 derniers jours)")),
    "semaine": ("week", _("Par semaine (12 dernières semaines)")),
    "mois": ("month", _("Par mois (12 derniers mois)")),
}


def energy_page(request: HttpRequest, home: Home, *, back: str) -> HttpResponse:
    chosen = request.GET.get("periode", "jour")
    if chosen not in PERIODS:
        chosen = "jour"
    period, title = PERIODS[chosen]
    now = timezone.now()
    bars = energy.usage(home, period=period, now=now)
    known = [bar.wh for bar in bars if bar.wh is not None]
    return render(
        request,
        "homecare/energy.html",
        {
            "home": home,
            "bars": bars,
            "chart": energy.bar_chart(bars),
            "periods": [(key, label) for key, (_p, label) in PERIODS.items()],
            "chosen": chosen,
            "title": title,
            "total": energy.Usage("", bars[0].start, sum(known)).kwh if known else "—",
            "notice": energy.unusual_consumption(home, now=now),
            "back": back,
        },
    )
