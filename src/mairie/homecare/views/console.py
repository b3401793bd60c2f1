"""The operator console: open alarms live, one-click acknowledgement, an alarm's file, a home's file, figures.

An operator sees the communes where they hold a role carrying ``homecare.console``: the console of one
commune lists the alarms of all of them (with the commune's name when there are several). Acting on an alarm
of another of their communes runs in that commune's scope, after the selector checked their role there.

Without JavaScript the list reloads itself every 30 seconds (``<meta http-equiv="refresh">`` inside
``<noscript>``); with it, ``console.js`` listens on the WebSocket and reloads the list when something happens
(and every 30 seconds anyway), beeps and highlights new alarms.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_scopes import scope, scopes_disabled

from mairie.core.forms import Form
from mairie.core.models import Commune, User
from mairie.core.permissions import require_capability
from mairie.core.services.audit import log_action, log_actions
from mairie.homecare import energy, rules, selectors
from mairie.homecare.automation import command_status
from mairie.homecare.decorators import module_required
from mairie.homecare.models import Alarm, AlarmEvent, Contact, Device, DeviceEvent, Home
from mairie.homecare.service_levels import format_duration, service_levels
from mairie.homecare.services.alarms import alarm_acknowledge, alarm_close, alarm_help_on_way
from mairie.homecare.views.common import (
    STEP_EVENTS,
    add_errors,
    age_text,
    error_text,
    parse_period,
    safe_next,
    sort_open_alarms,
    step_text,
)

CONSOLE = selectors.CONSOLE
BOARD_LIMIT = 300
SEEN_SESSION_KEY = "homecare_console_seen"
SEEN_KEEP = 500
RECENT_EVENTS = 30
RECENT_ALARMS = 10


def console_board(user: User) -> tuple[list[Alarm], dict[int, AlarmEvent], list[Commune]]:
    """The open alarms of every commune where ``user`` holds the console, with each one's last escalation step.

    The console's one cross-commune read: it filters by the person's own memberships (``console_commune_ids``).
    """
    ids = selectors.console_commune_ids(user)
    with scopes_disabled():  # the console spans the operator's communes, and only those
        alarms = list(
            Alarm.objects.filter(commune_id__in=ids, state__in=Alarm.OPEN_STATES)
            .select_related("home__resident", "device", "commune")
            .order_by("-raised_at", "-pk")[:BOARD_LIMIT]
        )
        steps: dict[int, AlarmEvent] = {}
        for event in (
            AlarmEvent.objects.filter(alarm__in=[a.pk for a in alarms], kind__in=STEP_EVENTS)
            .select_related("contact")
            .order_by("at", "pk")
        ):
            steps[event.alarm_id] = event
        communes = list(Commune.objects.filter(pk__in=ids).order_by("name"))
    return sort_open_alarms(alarms), steps, communes


def _audit_shown(request: HttpRequest, alarms: list[Alarm]) -> None:
    """One ``homecare.alarm.viewed`` row per alarm the first time this session's console shows it (the list
    reloads every few seconds: an audit row per reload would bury the log)."""
    seen = list(request.session.get(SEEN_SESSION_KEY, []))
    known = set(seen)
    fresh = [alarm for alarm in alarms if alarm.pk not in known]
    log_actions(
        "homecare.alarm.viewed",
        actor=request.user,  # type: ignore[arg-type]
        items=[(alarm.commune, alarm, {"via": "console_list"}) for alarm in fresh],
    )
    seen += [alarm.pk for alarm in fresh]
    if fresh:
        request.session[SEEN_SESSION_KEY] = seen[-SEEN_KEEP:]


@require_capability(CONSOLE)
@module_required
@never_cache
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    """The live list of open alarms."""
    user: User = request.user  # type: ignore[assignment]
    alarms, steps, communes = console_board(user)
    _audit_shown(request, alarms)
    now = timezone.now()
    rows = [
        {
            "alarm": alarm,
            "age": age_text(alarm.raised_at, now),
            "step": step_text(alarm, steps.get(alarm.pk)),
            "room": alarm.device.room if alarm.device else "",
        }
        for alarm in alarms
    ]
    waiting = sum(1 for alarm in alarms if not alarm.is_acknowledged)
    return render(
        request,
        "homecare/console.html",
        {
            "rows": rows,
            "waiting": waiting,
            "several_communes": len(communes) > 1,
            "communes": communes,
            "now": now,
            "ws_path": "/ws/teleassistance/console/",
        },
    )


# ------------------------------------------------------------------------------------------------
# One alarm
# ------------------------------------------------------------------------------------------------


class CloseForm(Form):
    outcome = forms.CharField(
        label=gettext_lazy("Ce qui s'est passé"),
        max_length=2000,
        help_text=gettext_lazy(
            "Obligatoire pour terminer l'alarme. Par exemple : « Chute, aidée à se relever par sa fille, pas blessée »."
        ),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class HelpForm(Form):
    note = forms.CharField(
        label=gettext_lazy("Qui y va ? (facultatif)"),
        max_length=500,
        required=False,
        widget=forms.TextInput(),
    )


def _timeline(alarm: Alarm) -> list[AlarmEvent]:
    return list(selectors.alarm_timeline(alarm))


def _alarm_page(
    request: HttpRequest,
    alarm: Alarm,
    *,
    close_form: CloseForm | None = None,
    help_form: HelpForm | None = None,
) -> HttpResponse:
    home = alarm.home
    with scope(commune=alarm.commune):
        timeline = _timeline(alarm)
        contacts = list(Contact.objects.filter(home=home).order_by("order", "pk"))
        steps = [event for event in timeline if event.kind in STEP_EVENTS]
    return render(
        request,
        "homecare/console_alarm.html",
        {
            "alarm": alarm,
            "home": home,
            "timeline": timeline,
            "contacts": contacts,
            "step": step_text(alarm, steps[-1] if steps else None),
            "age": age_text(alarm.raised_at),
            "close_form": close_form or CloseForm(auto_id="fermer-%s"),
            "help_form": help_form or HelpForm(auto_id="aide-%s"),
            "number": rules.emergency_number(alarm.kind),
            "zone": rules.home_zone(home),
        },
    )


@require_capability(CONSOLE)
@module_required
@never_cache
@require_GET
def console_alarm(request: HttpRequest, alarm_id: int) -> HttpResponse:
    alarm = selectors.console_alarm(request.user, alarm_id)  # type: ignore[arg-type]
    return _alarm_page(request, alarm)


def _back(request: HttpRequest, alarm: Alarm) -> str:
    return safe_next(request, reverse("homecare:console_alarm", args=[alarm.pk]))


@require_capability(CONSOLE)
@module_required
@require_POST
def console_acknowledge(request: HttpRequest, alarm_id: int) -> HttpResponse:
    """One click: the operator takes the alarm; the escalation stops. Works without JavaScript."""
    alarm = selectors.console_alarm(request.user, alarm_id, audit=False)  # type: ignore[arg-type]
    with scope(commune=alarm.commune):
        done = alarm_acknowledge(user=request.user, alarm=alarm)  # type: ignore[arg-type]
    if done:
        messages.success(
            request,
            _("Vous avez pris l'alarme en charge (%(kind)s chez %(who)s). Personne d'autre ne sera appelé.")
            % {"kind": alarm.get_kind_display(), "who": alarm.home.resident.display_name},
        )
    else:
        messages.info(request, _("Cette alarme était déjà prise en charge."))
    return redirect(_back(request, alarm))


@require_capability(CONSOLE)
@module_required
@require_POST
def console_help_on_way(request: HttpRequest, alarm_id: int) -> HttpResponse:
    alarm = selectors.console_alarm(request.user, alarm_id, audit=False)  # type: ignore[arg-type]
    form = HelpForm(request.POST, auto_id="aide-%s")
    if not form.is_valid():
        return _alarm_page(request, alarm, help_form=form)
    note = form.cleaned_data["note"]
    try:
        with scope(commune=alarm.commune):
            alarm_help_on_way(user=request.user, alarm=alarm, note=note)  # type: ignore[arg-type]
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("C'est noté : l'aide est en route."))
    return redirect(_back(request, alarm))


@require_capability(CONSOLE)
@module_required
@require_http_methods(["POST"])
def console_close(request: HttpRequest, alarm_id: int) -> HttpResponse:
    """Closes the alarm as resolved or as a false alarm; what happened must be said."""
    alarm = selectors.console_alarm(request.user, alarm_id, audit=False)  # type: ignore[arg-type]
    form = CloseForm(request.POST, auto_id="fermer-%s")
    false_alarm = request.POST.get("close_as") == "false_alarm"
    if form.is_valid():
        try:
            with scope(commune=alarm.commune):
                alarm = alarm_close(
                    user=request.user,  # type: ignore[arg-type]
                    alarm=alarm,
                    outcome=form.cleaned_data["outcome"],
                    false_alarm=false_alarm,
                )
        except ValidationError as error:
            add_errors(form, error)
        except PermissionDenied:
            raise
        else:
            messages.success(
                request,
                _("L'alarme est terminée (fausse alerte).") if false_alarm else _("L'alarme est terminée."),
            )
            return redirect(reverse("homecare:console"))
    return _alarm_page(request, alarm, close_form=form)


# ------------------------------------------------------------------------------------------------
# A home's file
# ------------------------------------------------------------------------------------------------


def device_rows(devices: list[Device], now: Any) -> list[dict[str, Any]]:
    rows = []
    for device in devices:
        low = device.battery is not None and device.battery <= rules.BATTERY_LOW_PERCENT
        weak = device.linkquality is not None and device.linkquality < 20
        overdue = device.supervision_deadline is not None and device.supervision_deadline <= now
        rows.append(
            {
                "device": device,
                "battery_low": low,
                "weak_link": weak,
                "silent": overdue or not device.online,
                "last_seen": age_text(device.last_seen_at, now) if device.last_seen_at else "",
                "command": command_status(device, now=now),
            }
        )
    return rows


def home_file_context(home: Home, *, now: Any) -> dict[str, Any]:
    """What the home's file shows; the caller has checked access (and audited it)."""
    contacts = list(Contact.objects.filter(home=home).select_related("user").order_by("order", "pk"))
    devices = list(Device.objects.filter(home=home).order_by("room", "friendly_name"))
    events = list(
        DeviceEvent.objects.filter(home=home)
        .select_related("device")
        .order_by("-received_at", "-pk")[:RECENT_EVENTS]
    )
    alarms = list(
        Alarm.objects.filter(home=home).select_related("device").order_by("-raised_at", "-pk")[:RECENT_ALARMS]
    )
    timelines: dict[int, list[AlarmEvent]] = {alarm.pk: [] for alarm in alarms}
    for event in (
        AlarmEvent.objects.filter(alarm__in=alarms).select_related("actor", "contact").order_by("at", "pk")
    ):
        timelines[event.alarm_id].append(event)
    return {
        "home": home,
        "contacts": contacts,
        "devices": device_rows(devices, now),
        "events": events,
        "alarms": [{"alarm": alarm, "timeline": timelines[alarm.pk]} for alarm in alarms],
        "notice": energy.unusual_consumption(home, now=now),
        "zone": rules.home_zone(home),
        "now": now,
    }


@require_capability(CONSOLE)
@module_required
@never_cache
@require_GET
def console_home(request: HttpRequest, home_id: int) -> HttpResponse:
    home = selectors.console_home(request.user, home_id)  # type: ignore[arg-type]
    with scope(commune=home.commune):
        context = home_file_context(home, now=timezone.now())
    return render(request, "homecare/console_home.html", context)


@require_capability(CONSOLE)
@module_required
@never_cache
@require_GET
def console_home_energy(request: HttpRequest, home_id: int) -> HttpResponse:
    from mairie.homecare.views.energy import energy_page

    home = selectors.console_home(request.user, home_id)  # type: ignore[arg-type]
    with scope(commune=home.commune):
        return energy_page(request, home, back=reverse("homecare:console_home", args=[home.pk]))


# ------------------------------------------------------------------------------------------------
# Figures
# ------------------------------------------------------------------------------------------------


@require_capability(CONSOLE)
@module_required
@require_GET
def console_figures(request: HttpRequest) -> HttpResponse:
    """Service levels over a period: time to acknowledge (median, 95th percentile), alarms per type,
    false-alarm rate, share answered within a minute."""
    start, end, first, last = parse_period(request)
    alarms = selectors.console_alarms(request.user, open_only=False)  # type: ignore[arg-type]
    figures = service_levels(alarms, start=start, end=end)
    log_action(
        "homecare.figures.viewed",
        commune=request.commune,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        data={"from": first.isoformat(), "to": last.isoformat()},
    )
    return render(
        request,
        "homecare/console_figures.html",
        {
            "figures": figures,
            "first": first,
            "last": last,
            "median": format_duration(figures.ack_median),
            "p95": format_duration(figures.ack_p95),
            "max_kind": max((k.count for k in figures.per_kind), default=0),
            "last_day_inclusive": end - timedelta(days=1),
        },
    )


urlpatterns = [
    path("console/", console, name="console"),
    path("console/chiffres/", console_figures, name="console_figures"),
    path("console/alarmes/<int:alarm_id>/", console_alarm, name="console_alarm"),
    path(
        "console/alarmes/<int:alarm_id>/prendre-en-charge/", console_acknowledge, name="console_acknowledge"
    ),
    path("console/alarmes/<int:alarm_id>/aide-en-route/", console_help_on_way, name="console_help_on_way"),
    path("console/alarmes/<int:alarm_id>/terminer/", console_close, name="console_close"),
    path("console/maisons/<int:home_id>/", console_home, name="console_home"),
    path("console/maisons/<int:home_id>/energie/", console_home_energy, name="console_home_energy"),
]
