"""The resident's tablet: one full-screen page with very large buttons, every action a plain POST form.

``/teleassistance/tablette/<token>/`` is the kiosk's signed link; ``/teleassistance/tablette/`` is the same page
for a resident signed in on their own device. The page works without JavaScript; with it, ``tablet.js`` keeps a
WebSocket open (reconnecting by itself after a network loss) and refreshes the page's live part when
something happens, and every few seconds while a command waits for the device's confirmation.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from mairie.core.acting import Actor
from mairie.core.forms import Form
from mairie.core.permissions import public, require_login
from mairie.homecare import automation, rules
from mairie.homecare.decorators import module_required
from mairie.homecare.models import Alarm, Device, DeviceCommand, Home, ServiceRequest
from mairie.homecare.services.homes import home_checkin
from mairie.homecare.tablet import (
    appointments_today,
    home_for_tablet_token,
    resident_home,
    service_request_create,
    tablet_call_for_help,
)
from mairie.homecare.views.common import add_errors, error_text

HALF_DEGREE = Decimal("0.5")


class ServiceRequestForm(Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("De quoi avez-vous besoin ?"),
        choices=ServiceRequest.Kind.choices,
        widget=forms.RadioSelect,
    )
    message = forms.CharField(
        label=gettext_lazy("Précisions"),
        required=False,
        max_length=1000,
        help_text=gettext_lazy(
            "Par exemple : « un repas sans sel », « aller chez le médecin jeudi à 10 h »."
        ),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    wanted_on = forms.DateField(
        label=gettext_lazy("Pour quel jour ?"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


def _state_text(device: Device) -> str:
    """What the device last reported, in words."""
    state = device.state or {}
    if device.kind == Device.Kind.SHUTTER:
        position = state.get("position")
        value = str(state.get("state", "")).upper()
        if position == 100 or (position is None and value == "OPEN"):
            return _("ouvert")
        if position == 0 or (position is None and value == "CLOSE"):
            return _("fermé")
        if isinstance(position, int | float):
            return _("ouvert à %(n)s %%") % {"n": round(position)}
        return _("état inconnu")
    if device.kind == Device.Kind.LIGHT:
        value = str(state.get("state", "")).upper()
        return {"ON": _("allumée"), "OFF": _("éteinte")}.get(value, _("état inconnu"))
    if device.kind == Device.Kind.THERMOSTAT:
        parts = []
        setpoint = state.get(automation.SETPOINT_FIELD)
        measured = state.get("local_temperature")
        if isinstance(setpoint, int | float):
            parts.append(_("réglé sur %(t)s °C") % {"t": f"{setpoint:g}".replace(".", ",")})
        if isinstance(measured, int | float):
            parts.append(_("il fait %(t)s °C") % {"t": f"{measured:g}".replace(".", ",")})
        return ", ".join(parts) or _("état inconnu")
    return ""


def _controls(home: Home) -> list[dict[str, Any]]:
    now = timezone.now()
    controls = []
    for device in Device.objects.filter(home=home, kind__in=automation.CONTROLLABLE_KINDS).order_by(
        "kind", "room", "pk"
    ):
        status = automation.command_status(device, now=now)
        controls.append(
            {
                "device": device,
                "name": device.label
                or device.get_kind_display() + (f" — {device.room}" if device.room else ""),
                "state": _state_text(device),
                "status": status,
                "commands": automation.COMMANDS.get(device.kind, ()),
                "setpoint": automation.current_setpoint(device),
            }
        )
    return controls


def _page(
    request: HttpRequest, home: Home, *, token: str, form: ServiceRequestForm | None = None
) -> HttpResponse:
    now = timezone.now()
    zone = rules.home_zone(home)
    open_alarms = list(
        Alarm.objects.filter(home=home, state__in=Alarm.OPEN_STATES).order_by("-raised_at", "-pk")
    )
    controls = _controls(home)
    checked_today = (
        home.last_checkin_at is not None
        and home.last_checkin_at.astimezone(zone).date() == now.astimezone(zone).date()
    )
    ws_path = f"/ws/teleassistance/maison/{home.pk}/" + (f"?jeton={token}" if token else "")
    return render(
        request,
        "homecare/tablet.html",
        {
            "home": home,
            "action_url": reverse("homecare:tablet", args=[token])
            if token
            else reverse("homecare:tablet_mine"),
            "open_alarms": open_alarms,
            "sos_open": any(a.kind == Alarm.Kind.SOS for a in open_alarms),
            "warning": home.inactivity_state == Home.InactivityState.WARNING,
            "warning_until": home.inactivity_deadline.astimezone(zone) if home.inactivity_deadline else None,
            "checked_today": checked_today,
            "controls": controls,
            "pending": any(c["status"].pending for c in controls),
            "appointments": appointments_today(home.resident, home, now=now),
            "form": form or ServiceRequestForm(auto_id="demande-%s"),
            "today": now.astimezone(zone),
            "ws_path": ws_path,
        },
    )


def _device(home: Home, raw: str | None) -> Device:
    try:
        device_id = int(raw or "")
    except ValueError:
        raise ValidationError(_("Choisissez un appareil.")) from None
    device = Device.objects.filter(home=home, pk=device_id, kind__in=automation.CONTROLLABLE_KINDS).first()
    if device is None:
        raise ValidationError(_("Cet appareil n'est pas dans votre logement."))
    return device


def _act(request: HttpRequest, home: Home, token: str) -> HttpResponse:
    """One POST: the button pressed says what to do; then back to the page (or the page with form errors)."""
    actor = Actor.himself(home.resident, request.commune)  # type: ignore[attr-defined]
    action = request.POST.get(
        "do", ""
    )  # not "action": a field of that name would hide form.action from scripts
    here = reverse("homecare:tablet", args=[token]) if token else reverse("homecare:tablet_mine")
    try:
        if action == "sos":
            _alarm, new = tablet_call_for_help(actor=actor, home=home)
            messages.warning(
                request,
                _(
                    "Votre appel à l'aide est parti. Vos proches sont prévenus, quelqu'un va vous rappeler ou venir."
                )
                if new
                else _("Votre appel à l'aide est déjà en cours. Quelqu'un va vous rappeler ou venir."),
            )
        elif action == "checkin":
            home_checkin(actor=actor, home=home)
            messages.success(request, _("Merci ! C'est noté : tout va bien."))
        elif action == "command":
            device = _device(home, request.POST.get("device"))
            automation.device_command(
                actor=actor,
                device=device,
                payload=automation.command_payload(device, request.POST.get("command", "")),
                source=DeviceCommand.Source.TABLET,
            )
            messages.info(request, _("C'est demandé. En attente de confirmation de l'appareil."))
        elif action in ("warmer", "cooler"):
            device = _device(home, request.POST.get("device"))
            if device.kind != Device.Kind.THERMOSTAT:
                raise ValidationError(_("Cet appareil n'est pas un chauffage."))
            automation.heating_step(
                actor=actor, device=device, delta=HALF_DEGREE if action == "warmer" else -HALF_DEGREE
            )
            messages.info(request, _("C'est demandé. En attente de confirmation du chauffage."))
        elif action == "service":
            form = ServiceRequestForm(request.POST, auto_id="demande-%s")
            if form.is_valid():
                try:
                    service_request_create(
                        actor=actor,
                        home=home,
                        kind=form.cleaned_data["kind"],
                        message=form.cleaned_data["message"],
                        wanted_on=form.cleaned_data["wanted_on"],
                    )
                except ValidationError as error:
                    add_errors(form, error)
                else:
                    messages.success(
                        request, _("Votre demande est envoyée à la mairie. On vous rappelle bientôt.")
                    )
                    return redirect(here)
            return _page(request, home, token=token, form=form)
        else:
            messages.error(request, _("Ce bouton n'existe pas. Choisissez un des boutons de la page."))
    except ValidationError as error:
        messages.error(request, error_text(error))
    except PermissionDenied:
        raise Http404 from None
    return redirect(here)


@public
@module_required
@never_cache
@require_http_methods(["GET", "POST"])
def tablet(request: HttpRequest, token: str) -> HttpResponse:
    """The kiosk's page, opened by the home's signed link (a wrong or revoked link: 404)."""
    home = home_for_tablet_token(token)
    if home is None:
        raise Http404
    if request.method == "POST":
        return _act(request, home, token)
    return _page(request, home, token=token)


@require_login
@module_required
@never_cache
@require_http_methods(["GET", "POST"])
def tablet_mine(request: HttpRequest) -> HttpResponse:
    """The same page for a resident signed in on their own device."""
    home = resident_home(request.user)  # type: ignore[arg-type]
    if home is None:
        if request.method == "POST":
            return redirect(reverse("homecare:tablet_mine"))
        return render(request, "homecare/tablet_none.html")
    if request.method == "POST":
        return _act(request, home, "")
    return _page(request, home, token="")


urlpatterns = [
    path("tablette/", tablet_mine, name="tablet_mine"),
    path("tablette/<str:token>/", tablet, name="tablet"),
]
