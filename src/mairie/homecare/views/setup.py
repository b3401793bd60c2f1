"""Town-hall staff set homes up: the homes of the commune, creating one for a resident, its settings, its
gateway (MQTT login shown once), its devices, the people to call and in what order, presence and intrusion modes.

Thin views: reads from ``home_setup``, writes through ``services.homes`` (one transaction and an audit row each).
Everything is a plain form posted with its CSRF token: nothing needs JavaScript.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mairie.core.models import Commune, User
from mairie.core.permissions import require_capability
from mairie.homecare import home_setup
from mairie.homecare.decorators import module_required
from mairie.homecare.forms import (
    ContactForm,
    DeviceAddForm,
    DeviceEditForm,
    HomeCreateForm,
    HomeSearchForm,
    HomeSettingsForm,
    ResidentSearchForm,
)
from mairie.homecare.models import Contact, Device, Gateway, Home
from mairie.homecare.services import homes as services
from mairie.homecare.views.common import add_errors, error_text

MANAGE = home_setup.MANAGE


def _viewer(request: HttpRequest) -> tuple[User, Commune]:
    return request.user, request.commune  # type: ignore[return-value, attr-defined]


def _home(request: HttpRequest, home_id: int, *, audit: bool = False) -> Home:
    return home_setup.setup_home(*_viewer(request), home_id, audit=audit)


def _to_home(home: Home, anchor: str = "") -> HttpResponse:
    return redirect(reverse("homecare:setup_home", args=[home.pk]) + (f"#{anchor}" if anchor else ""))


def _actor(request: HttpRequest) -> Any:
    return request.actor  # type: ignore[attr-defined]


# The homes.


@require_capability(MANAGE)
@module_required
@require_GET
def setup_homes(request: HttpRequest) -> HttpResponse:
    form = HomeSearchForm(request.GET or None, auto_id="recherche-%s")
    query = form.cleaned_data["q"] if form.is_valid() else ""
    return render(
        request,
        "homecare/setup_homes.html",
        {
            "form": form,
            "rows": home_setup.setup_homes(*_viewer(request), query=query),
            "searching": bool(query),
        },
    )


@require_capability(MANAGE)
@module_required
@require_http_methods(["GET", "POST"])
def setup_home_create(request: HttpRequest) -> HttpResponse:
    """Step 1 (GET ``?q=``): find the person. Step 2 (GET ``?personne=<id>``, then POST): name the home."""
    viewer, commune = _viewer(request)
    source = request.POST if request.method == "POST" else request.GET
    try:
        chosen_id = int(source.get("resident") or source.get("personne") or 0)
    except ValueError:
        chosen_id = 0
    resident = home_setup.resident_of_commune(viewer, commune, chosen_id)
    if resident is None:
        search = ResidentSearchForm(request.GET or None, auto_id="personne-%s")
        query = search.cleaned_data["q"] if search.is_valid() else ""
        return render(
            request,
            "homecare/setup_home_create.html",
            {
                "search": search,
                "query": query,
                "candidates": home_setup.resident_candidates(viewer, commune, query),
                "lost": bool(chosen_id),
            },
        )
    if request.method == "POST":
        form = HomeCreateForm(request.POST, auto_id="logement-%s")
        if form.is_valid():
            try:
                home = services.home_create(
                    actor=_actor(request),
                    resident=resident,
                    label=form.cleaned_data["label"],
                    address=form.cleaned_data["address"],
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "Le logement est créé. Vérifiez maintenant ses réglages : horaires, seuils, règle du matin."
                    ),
                )
                return redirect("homecare:setup_settings", home_id=home.pk)
    else:
        form = HomeCreateForm(
            initial={"resident": resident.pk, "address": ""},
            auto_id="logement-%s",
        )
    return render(request, "homecare/setup_home_create.html", {"resident": resident, "form": form})


@require_capability(MANAGE)
@module_required
@never_cache
@require_GET
def setup_home(request: HttpRequest, home_id: int) -> HttpResponse:
    home = _home(request, home_id, audit=True)
    busy = home_setup.devices_with_open_alarms(home)
    devices = list(home.devices.order_by("room", "friendly_name", "pk"))
    contacts = list(home.contacts.select_related("user").order_by("order", "pk"))
    return render(
        request,
        "homecare/setup_home.html",
        {
            "home": home,
            "gateway": home_setup.home_gateway(home),
            "devices": [{"device": d, "busy": d.pk in busy} for d in devices],
            "contacts": contacts,
            "modes": Home.Mode.choices,
            "armed_modes": Home.ArmedMode.choices,
        },
    )


# Settings.


@require_capability(MANAGE)
@module_required
@require_http_methods(["GET", "POST"])
def setup_settings(request: HttpRequest, home_id: int) -> HttpResponse:
    home = _home(request, home_id)
    if request.method == "POST":
        form = HomeSettingsForm.for_home(home, request.POST, auto_id="reglages-%s")
        if form.is_valid():
            try:
                services.home_configure(actor=_actor(request), home=home, **form.cleaned_data)
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, _("Les réglages sont enregistrés."))
                return _to_home(home, "reglages")
    else:
        form = HomeSettingsForm.for_home(home, auto_id="reglages-%s")
    return render(
        request,
        "homecare/setup_settings.html",
        {"home": home, "form": form, "rooms": home_setup.known_rooms(home)},
    )


# Gateway.


def broker_url(request: HttpRequest) -> str:
    """Where gateways reach the broker: ``HOMECARE_MQTT_PUBLIC_URL`` when the deployment sets it, otherwise
    the site's own host name on the TLS port of the broker configuration we ship (docs/homecare.md)."""
    configured = settings.HOMECARE_MQTT_PUBLIC_URL
    if configured:
        return str(configured)
    return f"mqtts://{request.get_host().split(':')[0]}:8883"


def _password_page(
    request: HttpRequest, home: Home, gateway: Gateway, password: str, *, new: bool
) -> HttpResponse:
    """Shown once, never cached: the password exists nowhere else in clear."""
    response = render(
        request,
        "homecare/setup_gateway_password.html",
        {
            "home": home,
            "gateway": gateway,
            "password": password,
            "new": new,
            "server": broker_url(request),
            "client_id": gateway.mqtt_username.replace("/", "-"),
        },
    )
    add_never_cache_headers(response)
    response.headers["Cache-Control"] = "no-store, private"
    return response


@require_capability(MANAGE)
@module_required
@require_POST
def setup_gateway_register(request: HttpRequest, home_id: int) -> HttpResponse:
    home = _home(request, home_id)
    if home_setup.home_gateway(home) is not None:
        messages.info(request, _("Ce logement a déjà sa passerelle."))
        return _to_home(home, "passerelle")
    try:
        gateway, password = services.gateway_register(actor=_actor(request), home=home)
    except ValidationError as error:
        messages.error(request, error_text(error))
        return _to_home(home, "passerelle")
    return _password_page(request, home, gateway, password, new=True)


@require_capability(MANAGE)
@module_required
@require_POST
def setup_gateway_reset(request: HttpRequest, home_id: int) -> HttpResponse:
    home = _home(request, home_id)
    gateway = home_setup.home_gateway(home)
    if gateway is None:
        messages.info(request, _("Ce logement n'a pas encore de passerelle."))
        return _to_home(home, "passerelle")
    gateway, password = services.gateway_reset_password(actor=_actor(request), gateway=gateway)
    return _password_page(request, home, gateway, password, new=False)


# Devices.


@require_capability(MANAGE)
@module_required
@require_http_methods(["GET", "POST"])
def setup_device_add(request: HttpRequest, home_id: int) -> HttpResponse:
    home = _home(request, home_id)
    gateway = home_setup.home_gateway(home)
    if gateway is None:
        messages.info(
            request, _("Enregistrez d'abord la passerelle du logement : les appareils passent par elle.")
        )
        return _to_home(home, "passerelle")
    if request.method == "POST":
        form = DeviceAddForm(request.POST, auto_id="appareil-%s")
        if form.is_valid():
            data = form.cleaned_data
            try:
                device = services.device_register(
                    actor=_actor(request),
                    gateway=gateway,
                    friendly_name=data["friendly_name"],
                    kind=data["kind"],
                    room=data["room"],
                    label=data["label"],
                    supervision_minutes=data["supervision_minutes"],
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(
                    request,
                    _("L'appareil « %(name)s » est ajouté. Ses messages sont acceptés dès maintenant.")
                    % {"name": device.friendly_name},
                )
                return _to_home(home, "appareils")
    else:
        kind = request.GET.get("type", "")
        initial: dict[str, Any] = {}
        if kind in Device.Kind.values:
            initial = {"kind": kind, "supervision_minutes": services.DEFAULT_SUPERVISION.get(kind, 1500)}
        form = DeviceAddForm(initial=initial, auto_id="appareil-%s")
    return render(
        request,
        "homecare/setup_device_form.html",
        {"home": home, "form": form, "device": None, "rooms": home_setup.known_rooms(home)},
    )


@require_capability(MANAGE)
@module_required
@require_http_methods(["GET", "POST"])
def setup_device_edit(request: HttpRequest, home_id: int, device_id: int) -> HttpResponse:
    home = _home(request, home_id)
    device = home_setup.home_device(home, device_id)
    if request.method == "POST":
        form = DeviceEditForm(request.POST, auto_id="appareil-%s")
        if form.is_valid():
            try:
                services.device_update(actor=_actor(request), device=device, **form.cleaned_data)
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, _("L'appareil est modifié."))
                return _to_home(home, "appareils")
    else:
        form = DeviceEditForm(
            initial={
                "room": device.room,
                "label": device.label,
                "supervision_minutes": device.supervision_minutes,
            },
            auto_id="appareil-%s",
        )
    return render(
        request,
        "homecare/setup_device_form.html",
        {"home": home, "form": form, "device": device, "rooms": home_setup.known_rooms(home)},
    )


@require_capability(MANAGE)
@module_required
@require_http_methods(["GET", "POST"])
def setup_device_remove(request: HttpRequest, home_id: int, device_id: int) -> HttpResponse:
    home = _home(request, home_id)
    device = home_setup.home_device(home, device_id)
    busy = device.pk in home_setup.devices_with_open_alarms(home)
    if request.method == "POST":
        try:
            services.device_remove(actor=_actor(request), device=device)
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(
                request, _("L'appareil « %(name)s » est retiré.") % {"name": device.friendly_name}
            )
        return _to_home(home, "appareils")
    return render(request, "homecare/setup_confirm.html", {"home": home, "device": device, "busy": busy})


# Contacts.


def _contact_values(form: ContactForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "kind": data["kind"],
        "phone": data["phone"],
        "email": data["email"],
        "available_from": data["available_from"],
        "available_until": data["available_until"],
    }


@require_capability(MANAGE)
@module_required
@require_http_methods(["GET", "POST"])
def setup_contact_add(request: HttpRequest, home_id: int) -> HttpResponse:
    home = _home(request, home_id)
    if request.method == "POST":
        form = ContactForm(request.POST, auto_id="contact-%s")
        if form.is_valid():
            values = _contact_values(form)
            try:
                services.check_contact_hours(values["available_from"], values["available_until"])
                contact = services.contact_add(actor=_actor(request), home=home, **values)
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(
                    request,
                    _("%(name)s est ajouté·e, en position %(order)s.")
                    % {"name": contact.name, "order": contact.order},
                )
                return _to_home(home, "contacts")
    else:
        form = ContactForm(auto_id="contact-%s")
    return render(request, "homecare/setup_contact_form.html", {"home": home, "form": form, "contact": None})


@require_capability(MANAGE)
@module_required
@require_http_methods(["GET", "POST"])
def setup_contact_edit(request: HttpRequest, home_id: int, contact_id: int) -> HttpResponse:
    home = _home(request, home_id)
    contact = home_setup.home_contact(home, contact_id)
    if request.method == "POST":
        form = ContactForm(request.POST, auto_id="contact-%s")
        if form.is_valid():
            try:
                services.contact_update(actor=_actor(request), contact=contact, **_contact_values(form))
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(
                    request,
                    _("Les informations de %(name)s sont enregistrées.")
                    % {"name": form.cleaned_data["name"]},
                )
                return _to_home(home, "contacts")
    else:
        form = ContactForm.for_contact(contact, auto_id="contact-%s")
    return render(
        request, "homecare/setup_contact_form.html", {"home": home, "form": form, "contact": contact}
    )


@require_capability(MANAGE)
@module_required
@require_POST
def setup_contact_move(request: HttpRequest, home_id: int, contact_id: int) -> HttpResponse:
    home = _home(request, home_id)
    contact = home_setup.home_contact(home, contact_id)
    try:
        moved = services.contact_move(
            actor=_actor(request), contact=contact, direction=request.POST.get("direction", "")
        )
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(
            request,
            _("%(name)s est maintenant en position %(order)s.") % {"name": moved.name, "order": moved.order},
        )
    return _to_home(home, "contacts")


@require_capability(MANAGE)
@module_required
@require_http_methods(["GET", "POST"])
def setup_contact_remove(request: HttpRequest, home_id: int, contact_id: int) -> HttpResponse:
    home = _home(request, home_id)
    contact = home_setup.home_contact(home, contact_id)
    if request.method == "POST":
        services.contact_remove(actor=_actor(request), contact=contact)
        messages.success(request, _("%(name)s ne sera plus prévenu·e.") % {"name": contact.name})
        return _to_home(home, "contacts")
    others = Contact.objects.filter(home=home).exclude(pk=contact.pk).count()
    return render(
        request, "homecare/setup_confirm.html", {"home": home, "contact": contact, "others": others}
    )


# Presence and intrusion.


@require_capability(MANAGE)
@module_required
@require_POST
def setup_mode(request: HttpRequest, home_id: int) -> HttpResponse:
    home = _home(request, home_id)
    try:
        home = services.home_set_mode(actor=_actor(request), home=home, mode=request.POST.get("mode", ""))
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("Présence : %(mode)s.") % {"mode": home.get_mode_display()})
    return _to_home(home, "mode")


@require_capability(MANAGE)
@module_required
@require_POST
def setup_arm(request: HttpRequest, home_id: int) -> HttpResponse:
    home = _home(request, home_id)
    mode = request.POST.get("armed_mode", "")
    try:
        if mode == Home.ArmedMode.DISARMED:
            home = services.home_disarm(actor=_actor(request), home=home)
        else:
            home = services.home_arm(actor=_actor(request), home=home, mode=mode)
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("Alarme intrusion : %(mode)s.") % {"mode": home.get_armed_mode_display()})
    return _to_home(home, "mode")


urlpatterns = [
    path("gestion/logements/", setup_homes, name="setup_homes"),
    path("gestion/logements/nouveau/", setup_home_create, name="setup_home_create"),
    path("gestion/logements/<int:home_id>/", setup_home, name="setup_home"),
    path("gestion/logements/<int:home_id>/reglages/", setup_settings, name="setup_settings"),
    path(
        "gestion/logements/<int:home_id>/passerelle/", setup_gateway_register, name="setup_gateway_register"
    ),
    path(
        "gestion/logements/<int:home_id>/passerelle/mot-de-passe/",
        setup_gateway_reset,
        name="setup_gateway_reset",
    ),
    path("gestion/logements/<int:home_id>/mode/", setup_mode, name="setup_mode"),
    path("gestion/logements/<int:home_id>/intrusion/", setup_arm, name="setup_arm"),
    path("gestion/logements/<int:home_id>/appareils/", setup_device_add, name="setup_device_add"),
    path(
        "gestion/logements/<int:home_id>/appareils/<int:device_id>/",
        setup_device_edit,
        name="setup_device_edit",
    ),
    path(
        "gestion/logements/<int:home_id>/appareils/<int:device_id>/retirer/",
        setup_device_remove,
        name="setup_device_remove",
    ),
    path("gestion/logements/<int:home_id>/contacts/", setup_contact_add, name="setup_contact_add"),
    path(
        "gestion/logements/<int:home_id>/contacts/<int:contact_id>/",
        setup_contact_edit,
        name="setup_contact_edit",
    ),
    path(
        "gestion/logements/<int:home_id>/contacts/<int:contact_id>/ordre/",
        setup_contact_move,
        name="setup_contact_move",
    ),
    path(
        "gestion/logements/<int:home_id>/contacts/<int:contact_id>/retirer/",
        setup_contact_remove,
        name="setup_contact_remove",
    ),
]
