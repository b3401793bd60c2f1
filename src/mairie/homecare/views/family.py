"""Relatives ("Mes proches"): the homes where a person is on the call list, and their resident's own home.

A relative sees only those homes (``selectors.homes_for_person``): another home's page, alarm or energy is a 404,
whatever the commune. Each page read is audited (``homecare.home.viewed``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from mairie.core.permissions import require_login
from mairie.core.services.audit import log_action
from mairie.homecare import energy, rules, selectors
from mairie.homecare.decorators import module_required
from mairie.homecare.models import Alarm, AlarmEvent, Contact, Home
from mairie.homecare.services.alarms import alarm_acknowledge
from mairie.homecare.services.homes import home_set_mode
from mairie.homecare.views.common import age_text, safe_next

RECENT_CLOSED = 10


def _summary(home: Home, now: Any) -> dict[str, Any]:
    open_alarms = list(
        Alarm.objects.filter(home=home, state__in=Alarm.OPEN_STATES).order_by("-raised_at", "-pk")
    )
    return {
        "home": home,
        "open_alarms": open_alarms,
        "calm": not open_alarms,
        "warning": home.inactivity_state == Home.InactivityState.WARNING,
        "last_activity": age_text(home.last_activity_at, now) if home.last_activity_at else "",
        "notice": energy.unusual_consumption(home, now=now),
    }


@require_login
@module_required
@never_cache
@require_GET
def family(request: HttpRequest) -> HttpResponse:
    """The homes this person follows, each with its state: calm, or an alarm in progress."""
    commune = request.commune  # type: ignore[attr-defined]
    now = timezone.now()
    rows = []
    for home in selectors.homes_for_person(request.user, commune):  # type: ignore[arg-type]
        log_action(
            "homecare.home.viewed",
            commune=commune,
            actor=request.user,  # type: ignore[arg-type]
            obj=home,
            data={"via": "relative_list"},
        )
        rows.append(_summary(home, now))
    return render(request, "homecare/relative_list.html", {"rows": rows})


@require_login
@module_required
@never_cache
@require_GET
def family_home(request: HttpRequest, home_id: int) -> HttpResponse:
    """One home: its state, its open alarms with their timeline (and a button to take one in hand), the last ones."""
    commune = request.commune  # type: ignore[attr-defined]
    home = selectors.home_for_person(request.user, commune, home_id)  # type: ignore[arg-type]
    now = timezone.now()
    summary = _summary(home, now)
    closed = list(
        Alarm.objects.filter(home=home, state__in=Alarm.CLOSED_STATES).order_by("-raised_at", "-pk")[
            :RECENT_CLOSED
        ]
    )
    shown = [*summary["open_alarms"], *closed]
    timelines: dict[int, list[AlarmEvent]] = {alarm.pk: [] for alarm in shown}
    for event in (
        AlarmEvent.objects.filter(alarm__in=shown).select_related("actor", "contact").order_by("at", "pk")
    ):
        timelines[event.alarm_id].append(event)
    is_contact = Contact.objects.filter(home=home, user=request.user).exists()  # type: ignore[misc]
    return render(
        request,
        "homecare/relative_home.html",
        {
            **summary,
            "open_rows": [{"alarm": a, "timeline": timelines[a.pk]} for a in summary["open_alarms"]],
            "closed_rows": [{"alarm": a, "timeline": timelines[a.pk]} for a in closed],
            "can_acknowledge": is_contact,
            "can_set_mode": is_contact or home.resident_id == request.user.pk,
            "modes": Home.Mode.choices,
            "is_resident": home.resident_id == request.user.pk,
            "zone": rules.home_zone(home),
        },
    )


@require_login
@module_required
@require_POST
def family_acknowledge(request: HttpRequest, alarm_id: int) -> HttpResponse:
    """A relative with an account takes an alarm of their senior's home in hand (404 for any other home)."""
    commune = request.commune  # type: ignore[attr-defined]
    followed = selectors.homes_for_person(request.user, commune)  # type: ignore[arg-type]
    alarm = Alarm.objects.filter(pk=alarm_id, home__in=followed).select_related("home__resident").first()
    if alarm is None:
        raise Http404
    back = safe_next(request, reverse("homecare:family_home", args=[alarm.home_id]))
    try:
        done = alarm_acknowledge(user=request.user, alarm=alarm)  # type: ignore[arg-type]
    except PermissionDenied:
        messages.error(request, _("Seules les personnes à prévenir peuvent prendre une alarme en charge."))
        return redirect(back)
    if done:
        messages.success(
            request,
            _(
                "Merci. Vous avez pris l'alarme en charge : les autres personnes ne seront pas appelées. "
                "Allez voir %(who)s ou appelez-la."
            )
            % {"who": alarm.home.resident.display_name},
        )
    else:
        messages.info(request, _("Cette alarme est déjà prise en charge."))
    return redirect(back)


@require_login
@module_required
@require_POST
def family_mode(request: HttpRequest, home_id: int) -> HttpResponse:
    """The resident or a relative on the call list says she is home, away for a while, or in hospital."""
    commune = request.commune  # type: ignore[attr-defined]
    home = selectors.home_for_person(request.user, commune, home_id)  # type: ignore[arg-type]
    back = reverse("homecare:family_home", args=[home.pk])
    mode = request.POST.get("mode", "")
    try:
        home = home_set_mode(actor=request.actor, home=home, mode=mode)  # type: ignore[attr-defined]
    except ValidationError:
        messages.error(
            request, _("Choisissez « à la maison », « quelques jours ailleurs » ou « à l'hôpital ».")
        )
        return redirect(back)
    except PermissionDenied:
        raise Http404 from None
    if home.mode == Home.Mode.NORMAL:
        messages.success(
            request,
            _("C'est noté : %(who)s est à la maison. La surveillance reprend comme d'habitude.")
            % {"who": home.resident.display_name},
        )
    else:
        messages.success(
            request,
            _(
                "C'est noté. Tant que %(who)s n'est pas à la maison, l'absence de mouvement ne déclenche pas "
                "d'alarme. Les appels à l'aide, chutes, fumée et fuites restent surveillés."
            )
            % {"who": home.resident.display_name},
        )
    return redirect(back)


@require_login
@module_required
@never_cache
@require_GET
def family_energy(request: HttpRequest, home_id: int) -> HttpResponse:
    from mairie.homecare.views.energy import energy_page

    home = selectors.home_for_person(request.user, request.commune, home_id)  # type: ignore[arg-type, attr-defined]
    return energy_page(request, home, back=reverse("homecare:family_home", args=[home.pk]))


urlpatterns = [
    path("mes-proches/", family, name="family"),
    path("mes-proches/<int:home_id>/", family_home, name="family_home"),
    path("mes-proches/<int:home_id>/energie/", family_energy, name="family_energy"),
    path("mes-proches/<int:home_id>/presence/", family_mode, name="family_mode"),
    path(
        "mes-proches/alarmes/<int:alarm_id>/prendre-en-charge/", family_acknowledge, name="family_acknowledge"
    ),
]
