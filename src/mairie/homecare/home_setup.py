"""Reads for the staff pages that set homes up (``views/setup.py``): the commune's homes with their state, one
home with everything on it, the residents a home can be made for. Each takes the person looking and checks
``homecare.manage_homes``; an id from another commune is a 404, like an id that does not exist.

Also puts the pages on the staff home and describes their audit codes (see ``register``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from mairie.core.backoffice import members_of
from mairie.core.models import Commune, User
from mairie.core.permissions import ensure_capability
from mairie.core.phones import normalise_phone
from mairie.core.services.audit import log_action
from mairie.homecare.models import Alarm, Contact, Device, Gateway, Home

MANAGE = "homecare.manage_homes"
MAX_CANDIDATES = 20

ACTION_LABELS = {
    "homecare.gateway.password_reset": _("Nouveau mot de passe de passerelle"),
    "homecare.device.updated": _("Appareil modifié"),
    "homecare.device.removed": _("Appareil retiré"),
    "homecare.contact.updated": _("Personne à prévenir modifiée"),
    "homecare.contact.moved": _("Ordre des personnes à prévenir changé"),
    "homecare.contact.removed": _("Personne à prévenir retirée"),
}


def register() -> None:
    """The setup pages' audit labels; called by the app's registry (``ready()``). The staff home's card
    « Logements connectés » leads to these pages (registered there too)."""
    from mairie.core.action_labels import register_action_labels

    register_action_labels(dict(ACTION_LABELS))


@dataclass(frozen=True)
class HomeRow:
    home: Home
    gateway: Gateway | None
    open_alarms: int


def _words_match(query: str, *fields: str) -> Q:
    condition = Q()
    for word in query.split():
        any_field = Q()
        for field in fields:
            any_field |= Q(**{f"{field}__icontains": word})
        condition &= any_field
    return condition


def setup_homes(viewer: User, commune: Commune, *, query: str = "") -> list[HomeRow]:
    """The commune's homes (search by the resident's name or the home's label), each with its gateway and the
    number of open alarms, in a constant number of queries."""
    ensure_capability(viewer, commune, MANAGE)
    homes: QuerySet[Home] = Home.objects.filter(commune=commune)
    query = (query or "").strip()
    if query:
        homes = homes.filter(
            _words_match(query, "label", "address", "resident__first_name", "resident__last_name")
        )
    homes = (
        homes.select_related("resident")
        .prefetch_related(
            Prefetch("gateways", queryset=Gateway.objects.order_by("pk"), to_attr="gateway_list")
        )
        .annotate(open_alarms=Count("alarms", filter=Q(alarms__state__in=Alarm.OPEN_STATES), distinct=True))
        .order_by("label", "pk")
    )
    return [
        HomeRow(home, home.gateway_list[0] if home.gateway_list else None, home.open_alarms)  # type: ignore[attr-defined]
        for home in homes
    ]


def setup_home(viewer: User, commune: Commune, home_id: int, *, audit: bool = False) -> Home:
    """One home of this commune, for the person setting it up; 404 for any other. ``audit``: the page that shows
    the home's file writes ``homecare.home.viewed`` (forms posting to it do not)."""
    ensure_capability(viewer, commune, MANAGE)
    home = Home.objects.filter(commune=commune, pk=home_id).select_related("resident", "commune").first()
    if home is None:
        raise Http404
    if audit:
        log_action("homecare.home.viewed", commune=commune, actor=viewer, obj=home, data={"via": "setup"})
    return home


def home_gateway(home: Home) -> Gateway | None:
    return Gateway.objects.filter(home=home).order_by("pk").first()


def home_device(home: Home, device_id: int) -> Device:
    device = Device.objects.filter(home=home, pk=device_id).select_related("gateway").first()
    if device is None:
        raise Http404
    return device


def home_contact(home: Home, contact_id: int) -> Contact:
    contact = Contact.objects.filter(home=home, pk=contact_id).first()
    if contact is None:
        raise Http404
    return contact


def devices_with_open_alarms(home: Home) -> set[int]:
    return set(
        Alarm.objects.filter(home=home, state__in=Alarm.OPEN_STATES, device__isnull=False).values_list(
            "device_id", flat=True
        )
    )


def resident_candidates(viewer: User, commune: Commune, query: str) -> list[User]:
    """People of this commune a home can be made for: every word matches a name or the email, or the query is
    their phone number. Nobody without a query (the page asks for one)."""
    ensure_capability(viewer, commune, MANAGE)
    query = (query or "").strip()
    if not query:
        return []
    people = members_of(commune).filter(erased_at__isnull=True)
    phone = normalise_phone(query)
    if phone:
        people = people.filter(phone=phone)
    else:
        people = people.filter(_words_match(query, "first_name", "last_name", "email", "username"))
    return list(people.order_by("last_name", "first_name", "pk")[:MAX_CANDIDATES])


def resident_of_commune(viewer: User, commune: Commune, user_id: int | None) -> User | None:
    ensure_capability(viewer, commune, MANAGE)
    if not user_id:
        return None
    return members_of(commune).filter(erased_at__isnull=True, pk=user_id).first()


def known_rooms(home: Home) -> list[str]:
    """The rooms already written for this home's devices, for the forms' suggestions."""
    rooms = {room.strip() for room in Device.objects.filter(home=home).values_list("room", flat=True)}
    return sorted(room for room in rooms if room)
