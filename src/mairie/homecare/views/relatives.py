"""Pages for residents and relatives: the homes they follow, and the acknowledgement link of an alarm."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from mairie.core.models import User
from mairie.core.permissions import public, require_login
from mairie.core.services.audit import log_action
from mairie.homecare import rules, selectors
from mairie.homecare.decorators import module_required
from mairie.homecare.models import Alarm
from mairie.homecare.services.alarms import AckRefused, alarm_acknowledge_by_token, alarm_for_token

RECENT_ALARMS = 10


@require_login
@module_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The homes this person follows (their own, or as a contact), with their recent alarms."""
    commune = request.commune  # type: ignore[attr-defined]
    person: User = request.user  # type: ignore[assignment]
    homes = list(selectors.homes_for_person(person, commune))
    rows = []
    for home in homes:
        log_action("homecare.home.viewed", commune=commune, actor=person, obj=home, data={"via": "relative"})
        alarms = list(Alarm.objects.filter(home=home).order_by("-raised_at", "-pk")[:RECENT_ALARMS])
        rows.append({"home": home, "alarms": alarms})
    return render(request, "homecare/index.html", {"rows": rows})


@public
@never_cache
@require_http_methods(["GET", "POST"])
def acknowledge(request: HttpRequest, token: str) -> HttpResponse:
    """The link of an alarm's SMS or email. Works without signing in and without JavaScript.

    GET shows the alarm and a button (so that a link preview does not acknowledge by itself); POST takes the
    alarm in hand. A forged, damaged or expired link, or one for another commune, gets the same refusal page.
    """
    try:
        alarm, contact = alarm_for_token(token)
    except AckRefused:
        return render(request, "homecare/ack_refused.html", status=404)
    done = None
    if request.method == "POST":
        alarm, done = alarm_acknowledge_by_token(token=token)
    else:
        log_action(
            "homecare.alarm.viewed",
            commune=alarm.home.commune,
            actor=contact.user,
            obj=alarm,
            data={"via": "link", "contact": contact.pk},
        )
    return render(
        request,
        "homecare/ack.html",
        {
            "alarm": alarm,
            "contact": contact,
            "home": alarm.home,
            "done": done,
            "number": rules.emergency_number(alarm.kind),
        },
    )


urlpatterns = [
    path("", index, name="index"),
    path("acquitter/<str:token>/", acknowledge, name="acknowledge"),
]
