"""Town-hall staff: the commune's connected homes, their shutters, lights and heating by hand and on schedules,
and the tablet's link."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from mairie.core.forms import Form
from mairie.core.permissions import require_capability
from mairie.core.services.audit import log_action
from mairie.homecare import automation, energy, rules, selectors
from mairie.homecare.decorators import module_required
from mairie.homecare.models import Device, DeviceCommand, HeatingSetpoint, Home, Schedule
from mairie.homecare.tablet import tablet_key_renew, tablet_token
from mairie.homecare.views.common import add_errors, error_text
from mairie.homecare.views.console import device_rows

MANAGE = "homecare.manage_homes"
WEEKDAYS = [
    ("0", gettext_lazy("lundi")),
    ("1", gettext_lazy("mardi")),
    ("2", gettext_lazy("mercredi")),
    ("3", gettext_lazy("jeudi")),
    ("4", gettext_lazy("vendredi")),
    ("5", gettext_lazy("samedi")),
    ("6", gettext_lazy("dimanche")),
]


class ScheduleForm(Form):
    device = forms.TypedChoiceField(label=gettext_lazy("Appareil"), coerce=int)
    command = forms.ChoiceField(
        label=gettext_lazy("Commande"),
        choices=[
            ("open", gettext_lazy("Ouvrir (volet)")),
            ("close", gettext_lazy("Fermer (volet)")),
            ("on", gettext_lazy("Allumer (lumière)")),
            ("off", gettext_lazy("Éteindre (lumière)")),
        ],
    )
    sun_event = forms.ChoiceField(
        label=gettext_lazy("Quand"),
        choices=Schedule.SunEvent.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    at_time = forms.TimeField(
        label=gettext_lazy("Heure"),
        required=False,
        help_text=gettext_lazy("Pour une heure fixe, par exemple 08:30."),
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    offset_minutes = forms.IntegerField(
        label=gettext_lazy("Décalage (minutes)"),
        required=False,
        initial=0,
        min_value=-240,
        max_value=240,
        help_text=gettext_lazy(
            "Avant (nombre négatif) ou après le lever ou le coucher du soleil, par exemple 15."
        ),
    )
    weekdays = forms.MultipleChoiceField(
        label=gettext_lazy("Jours"),
        choices=WEEKDAYS,
        required=False,
        help_text=gettext_lazy("Aucun jour coché : tous les jours."),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, home: Home, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["device"].choices = [  # type: ignore[attr-defined]
            (d.pk, f"{d} ({d.get_kind_display()})")
            for d in Device.objects.filter(home=home, kind__in=automation.COMMANDS).order_by("room", "pk")
        ]


class SetpointForm(Form):
    device = forms.TypedChoiceField(label=gettext_lazy("Chauffage"), coerce=int)
    temperature = forms.CharField(
        label=gettext_lazy("Température (°C)"),
        max_length=5,
        help_text=gettext_lazy("Entre 7 et 28, par demi-degré, par exemple 19,5."),
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    from_time = forms.TimeField(
        label=gettext_lazy("À partir de"), widget=forms.TimeInput(attrs={"type": "time"})
    )
    weekdays = forms.MultipleChoiceField(
        label=gettext_lazy("Jours"),
        choices=WEEKDAYS,
        required=False,
        help_text=gettext_lazy("Aucun jour coché : tous les jours."),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, home: Home, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["device"].choices = [  # type: ignore[attr-defined]
            (d.pk, f"{d} — {d.room}" if d.room else str(d))
            for d in Device.objects.filter(home=home, kind=Device.Kind.THERMOSTAT).order_by("room", "pk")
        ]


class TemperatureForm(Form):
    temperature = forms.CharField(
        label=gettext_lazy("Température voulue (°C)"),
        max_length=5,
        help_text=gettext_lazy("Entre 7 et 28, par demi-degré, par exemple 19,5."),
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )

    def clean_temperature(self) -> float:
        try:
            return float(automation.parse_temperature(self.cleaned_data["temperature"]))
        except ValidationError as error:
            raise ValidationError(error.message_dict["temperature"]) from None


def temperature_form(device: Device, data: Any = None) -> TemperatureForm:
    current = automation.current_setpoint(device)
    return TemperatureForm(
        data,
        auto_id=f"thermostat-{device.pk}-%s",
        initial={"temperature": str(current).replace(".", ",") if current is not None else ""},
    )


def _home(request: HttpRequest, home_id: int) -> Home:
    home = selectors.staff_homes(request.user, request.commune).filter(pk=home_id).first()  # type: ignore[arg-type, attr-defined]
    if home is None:
        raise Http404
    return home


@require_capability(MANAGE)
@module_required
@require_GET
def staff_homes(request: HttpRequest) -> HttpResponse:
    """The homes are listed once, on the setup list (each row leads to its controls too); old links land there."""
    return redirect("homecare:setup_homes")


def _home_page(
    request: HttpRequest,
    home: Home,
    *,
    schedule_form: ScheduleForm | None = None,
    setpoint_form: SetpointForm | None = None,
    failed_command: tuple[int, TemperatureForm] | None = None,
) -> HttpResponse:
    now = timezone.now()
    zone = rules.home_zone(home)
    sun = automation.home_sun_times(home, now.astimezone(zone).date())
    devices = list(
        Device.objects.filter(home=home, kind__in=automation.CONTROLLABLE_KINDS).order_by("room", "pk")
    )
    controls = [
        {
            **row,
            "commands": automation.COMMANDS.get(row["device"].kind, ()),
            "setpoint": automation.current_setpoint(row["device"]),
            "form": (
                failed_command[1]
                if failed_command and failed_command[0] == row["device"].pk
                else temperature_form(row["device"])
            )
            if row["device"].kind == Device.Kind.THERMOSTAT
            else None,
        }
        for row in device_rows(devices, now)
    ]
    return render(
        request,
        "homecare/automation_home.html",
        {
            "home": home,
            "controls": controls,
            "schedules": list(
                Schedule.objects.filter(home=home)
                .select_related("device")
                .order_by("sun_event", "at_time", "pk")
            ),
            "setpoints": list(
                HeatingSetpoint.objects.filter(home=home)
                .select_related("device")
                .order_by("room", "from_time", "pk")
            ),
            "schedule_form": schedule_form or ScheduleForm(home=home, auto_id="programme-%s"),
            "setpoint_form": setpoint_form or SetpointForm(home=home, auto_id="chauffage-%s"),
            "sunrise": sun.sunrise.astimezone(zone) if sun and sun.sunrise else None,
            "sunset": sun.sunset.astimezone(zone) if sun and sun.sunset else None,
            "has_coordinates": automation.commune_coordinates(home.commune) is not None,
            "tablet_url": request.build_absolute_uri(reverse("homecare:tablet", args=[tablet_token(home)])),
            "zone": zone,
            "weekday_names": dict(WEEKDAYS),
            "notice": energy.unusual_consumption(home, now=now),
        },
    )


@require_capability(MANAGE)
@module_required
@never_cache
@require_GET
def staff_home(request: HttpRequest, home_id: int) -> HttpResponse:
    home = _home(request, home_id)
    log_action(
        "homecare.home.viewed",
        commune=home.commune,
        actor=request.user,  # type: ignore[arg-type]
        obj=home,
        data={"via": "automation"},
    )
    return _home_page(request, home)


def _back(home: Home) -> HttpResponse:
    return redirect(reverse("homecare:staff_home", args=[home.pk]))


@require_capability(MANAGE)
@module_required
@require_POST
def staff_command(request: HttpRequest, home_id: int) -> HttpResponse:
    """A command by hand: open or close a shutter, switch a light, set a thermostat."""
    home = _home(request, home_id)
    actor = request.actor  # type: ignore[attr-defined]
    device = Device.objects.filter(home=home, pk=_int(request.POST.get("device"))).first()
    by_temperature = "temperature" in request.POST  # the thermostat's form; the others send a command
    if device is not None and by_temperature and device.kind == Device.Kind.THERMOSTAT:
        form = temperature_form(device, request.POST)
        if not form.is_valid():
            return _home_page(request, home, failed_command=(device.pk, form))
        payload: dict[str, Any] = {automation.SETPOINT_FIELD: form.cleaned_data["temperature"]}
    try:
        if device is None or by_temperature != (device.kind == Device.Kind.THERMOSTAT):
            raise ValidationError(_("Choisissez un appareil de ce logement."))
        if not by_temperature:
            payload = automation.command_payload(device, request.POST.get("command", ""))
        automation.device_command(
            actor=actor, device=device, payload=payload, source=DeviceCommand.Source.STAFF
        )
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.info(request, _("Commande envoyée. En attente de confirmation de l'appareil."))
    return _back(home)


def _int(raw: Any) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 0


@require_capability(MANAGE)
@module_required
@require_POST
def staff_schedule_add(request: HttpRequest, home_id: int) -> HttpResponse:
    home = _home(request, home_id)
    form = ScheduleForm(request.POST, home=home, auto_id="programme-%s")
    if form.is_valid():
        data = form.cleaned_data
        device = Device.objects.filter(home=home, pk=data["device"]).first()
        try:
            if device is None:
                raise ValidationError({"device": _("Choisissez un appareil de ce logement.")})
            automation.schedule_create(
                actor=request.actor,  # type: ignore[attr-defined]
                device=device,
                command=data["command"],
                at_time=data["at_time"],
                sun_event=data["sun_event"] or "",
                offset_minutes=data["offset_minutes"] or 0,
                weekdays=[int(day) for day in data["weekdays"]],
            )
        except ValidationError as error:
            if hasattr(error, "error_dict") and "command" in error.error_dict:
                error = ValidationError(
                    {
                        "command": _(
                            "Cet appareil ne connaît pas cette commande (un volet s'ouvre ou se ferme, une lumière s'allume ou s'éteint)."
                        )
                    }
                )
            add_errors(form, error)
        else:
            messages.success(request, _("La programmation est enregistrée."))
            return _back(home)
    return _home_page(request, home, schedule_form=form)


@require_capability(MANAGE)
@module_required
@require_POST
def staff_schedule_delete(request: HttpRequest, home_id: int, schedule_id: int) -> HttpResponse:
    home = _home(request, home_id)
    schedule = Schedule.objects.filter(home=home, pk=schedule_id).first()
    if schedule is None:
        raise Http404
    automation.schedule_delete(actor=request.actor, schedule=schedule)  # type: ignore[attr-defined]
    messages.success(request, _("La programmation est supprimée."))
    return _back(home)


@require_capability(MANAGE)
@module_required
@require_POST
def staff_setpoint_add(request: HttpRequest, home_id: int) -> HttpResponse:
    home = _home(request, home_id)
    form = SetpointForm(request.POST, home=home, auto_id="chauffage-%s")
    if form.is_valid():
        data = form.cleaned_data
        device = Device.objects.filter(home=home, pk=data["device"], kind=Device.Kind.THERMOSTAT).first()
        try:
            if device is None:
                raise ValidationError({"device": _("Choisissez un chauffage de ce logement.")})
            automation.setpoint_create(
                actor=request.actor,  # type: ignore[attr-defined]
                home=home,
                room=device.room,
                device=device,
                temperature=data["temperature"],
                from_time=data["from_time"],
                weekdays=[int(day) for day in data["weekdays"]],
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Le programme de chauffage est enregistré."))
            return _back(home)
    return _home_page(request, home, setpoint_form=form)


@require_capability(MANAGE)
@module_required
@require_POST
def staff_setpoint_delete(request: HttpRequest, home_id: int, setpoint_id: int) -> HttpResponse:
    home = _home(request, home_id)
    setpoint = HeatingSetpoint.objects.filter(home=home, pk=setpoint_id).first()
    if setpoint is None:
        raise Http404
    automation.setpoint_delete(actor=request.actor, setpoint=setpoint)  # type: ignore[attr-defined]
    messages.success(request, _("Le programme de chauffage est supprimé."))
    return _back(home)


@require_capability(MANAGE)
@module_required
@require_POST
def staff_tablet_renew(request: HttpRequest, home_id: int) -> HttpResponse:
    home = _home(request, home_id)
    tablet_key_renew(actor=request.actor, home=home)  # type: ignore[attr-defined]
    messages.success(
        request,
        _(
            "Nouveau lien créé : l'ancien ne fonctionne plus. Ouvrez le nouveau lien sur la tablette du logement."
        ),
    )
    return _back(home)


urlpatterns = [
    path("gestion/", staff_homes, name="staff_homes"),
    path("gestion/maisons/<int:home_id>/", staff_home, name="staff_home"),
    path("gestion/maisons/<int:home_id>/commande/", staff_command, name="staff_command"),
    path("gestion/maisons/<int:home_id>/programmes/", staff_schedule_add, name="staff_schedule_add"),
    path(
        "gestion/maisons/<int:home_id>/programmes/<int:schedule_id>/supprimer/",
        staff_schedule_delete,
        name="staff_schedule_delete",
    ),
    path("gestion/maisons/<int:home_id>/chauffage/", staff_setpoint_add, name="staff_setpoint_add"),
    path(
        "gestion/maisons/<int:home_id>/chauffage/<int:setpoint_id>/supprimer/",
        staff_setpoint_delete,
        name="staff_setpoint_delete",
    ),
    path("gestion/maisons/<int:home_id>/tablette/", staff_tablet_renew, name="staff_tablet_renew"),
]
