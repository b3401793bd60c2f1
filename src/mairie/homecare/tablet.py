"""The resident's tablet: its link, the call for help, the day's appointments, services asked of the town hall.

The tablet of a home is a kiosk browser left signed out: it opens a signed link naming the home and the
version of its key (``TabletKey``). Staff make a new link when a tablet is lost; older links then stop working.
A resident who signs in on their own device gets the same page without a link.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.apps import apps
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mairie.core.acting import Actor, log_for
from mairie.core.models import Membership, Role, User
from mairie.core.permissions import CAPABILITIES, has_capability
from mairie.core.services.notifications import notify
from mairie.homecare import live, rules
from mairie.homecare.models import Alarm, AlarmEvent, Home, ServiceRequest, TabletKey
from mairie.homecare.services.alarms import raise_alarm

TABLET_SALT = "mairie.homecare.tablet"
MANAGE = "homecare.manage_homes"
MAX_MESSAGE = 1000


# ------------------------------------------------------------------------------------------------
# The tablet's link
# ------------------------------------------------------------------------------------------------


def _version(home: Home) -> int:
    """The home's current key version; 1 until a link was renewed (no row needed before that)."""
    return TabletKey.objects.filter(home=home).values_list("version", flat=True).first() or 1


def tablet_token(home: Home) -> str:
    """The signed token of the home's tablet link (no expiry: a kiosk; revoked by ``tablet_key_renew``)."""
    return signing.dumps([home.pk, _version(home)], salt=TABLET_SALT)


def home_for_tablet_token(token: str) -> Home | None:
    """The home a tablet link opens, in the current commune's scope; ``None`` if forged or revoked."""
    try:
        value = signing.loads(token, salt=TABLET_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(item, int) and not isinstance(item, bool) for item in value)
    ):
        return None
    home_id, version = value
    home = Home.objects.filter(pk=home_id).select_related("resident", "commune").first()
    if home is None:
        return None
    return home if version == _version(home) else None


@transaction.atomic
def tablet_key_renew(*, actor: Actor, home: Home) -> str:
    """A new tablet link for the home (a tablet lost or replaced): every earlier link stops working."""
    if not has_capability(actor.user, actor.commune, MANAGE):
        raise PermissionDenied(MANAGE)
    key, _created = TabletKey.objects.select_for_update().get_or_create(
        home=home, defaults={"commune_id": home.commune_id}
    )
    key.version += 1
    key.save(update_fields=["version"])
    log_for(actor, "homecare.tablet.renewed", obj=home, data={"version": key.version})
    return tablet_token(home)


def resident_home(user: User) -> Home | None:
    """The home of a signed-in resident in the current commune (their first, if they have several)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Home.objects.filter(resident=user).select_related("resident", "commune").order_by("pk").first()


# ------------------------------------------------------------------------------------------------
# Calling for help
# ------------------------------------------------------------------------------------------------


def _ensure_resident(actor: Actor, home: Home) -> None:
    if actor.subject.pk != home.resident_id:
        raise PermissionDenied("homecare.tablet")


@transaction.atomic
def tablet_call_for_help(*, actor: Actor, home: Home, now: datetime | None = None) -> tuple[Alarm, bool]:
    """ "Appeler à l'aide" on the tablet: an SOS alarm, escalated at once like the pendant's.

    Pressing again while the call is open adds to its timeline instead of raising a second alarm (a frightened
    person presses several times). Returns ``(alarm, newly_raised)``.
    """
    _ensure_resident(actor, home)
    now = now or timezone.now()
    home = Home.objects.select_for_update(of=("self",)).select_related("commune", "resident").get(pk=home.pk)
    open_call = (
        Alarm.objects.filter(home=home, kind=Alarm.Kind.SOS, state__in=Alarm.OPEN_STATES)
        .order_by("-raised_at", "-pk")
        .first()
    )
    if open_call is not None:
        AlarmEvent.objects.create(
            commune_id=home.commune_id,
            alarm=open_call,
            at=now,
            kind=AlarmEvent.Kind.REPEATED,
            actor=actor.user,
            data={"source": "tablet"},
        )
        log_for(actor, "homecare.tablet.sos", obj=open_call, data={"repeated": True})
        live.publish_on_commit(
            commune_id=home.commune_id,
            home_id=home.pk,
            event="alarm.repeated",
            **live.alarm_message(open_call),
        )
        return open_call, False
    alarm = raise_alarm(
        home=home,
        kind=Alarm.Kind.SOS,
        at=now,
        severity=Alarm.Severity.CRITICAL,
        data={"source": "tablet"},
        actor=actor.user,
    )
    assert alarm is not None  # no dedup key: an SOS is always raised
    log_for(actor, "homecare.tablet.sos", obj=alarm, data={"repeated": False})
    return alarm, True


# ------------------------------------------------------------------------------------------------
# The day's appointments
# ------------------------------------------------------------------------------------------------


def appointments_today(person: User, home: Home, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The person's bookings of the day (workshops, teleconsultations...) from the booking app, if present."""
    if not apps.is_installed("mairie.booking"):
        return []
    from mairie.booking.models import Booking
    from mairie.booking.selectors import bookings_of

    now = now or timezone.now()
    zone = rules.home_zone(home)
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0, 0)).replace(tzinfo=zone)
    rows = bookings_of(person).filter(
        starts_at__lt=start + timedelta(days=1),
        ends_at__gt=start,
        status__in=(Booking.Status.REQUESTED, Booking.Status.CONFIRMED, Booking.Status.OFFERED),
    )
    return [
        {
            "title": booking.display_title,
            "starts_at": booking.starts_at.astimezone(zone),
            "ends_at": booking.ends_at.astimezone(zone),
            "status": booking.get_status_display(),
            "past": booking.ends_at <= now,
        }
        for booking in rows
    ]


# ------------------------------------------------------------------------------------------------
# Services asked of the town hall
# ------------------------------------------------------------------------------------------------


def service_staff(commune: Any) -> list[User]:
    """The commune's agents who receive residents' requests (those holding ``homecare.manage_homes``)."""
    roles = CAPABILITIES[MANAGE] - {Role.ADMIN} or CAPABILITIES[MANAGE]
    ids = Membership.objects.filter(commune=commune, role__in=roles).values_list("user_id", flat=True)
    return list(User.objects.filter(pk__in=set(ids), is_active=True, erased_at__isnull=True).order_by("pk"))


@transaction.atomic
def service_request_create(
    *,
    actor: Actor,
    home: Home | None,
    kind: str,
    message: str = "",
    wanted_on: date | None = None,
    now: datetime | None = None,
) -> ServiceRequest:
    """A resident (from the tablet or signed in) asks the town hall for a service; its agents are told."""
    if home is not None:
        _ensure_resident(actor, home)
    if kind not in ServiceRequest.Kind.values:
        raise ValidationError({"kind": _("Choisissez le service dont vous avez besoin.")})
    message = (message or "").strip()
    if len(message) > MAX_MESSAGE:
        raise ValidationError({"message": _("Ce texte est trop long (1000 caractères au plus).")})
    if kind == ServiceRequest.Kind.OTHER and not message:
        raise ValidationError({"message": _("Dites en quelques mots ce dont vous avez besoin.")})
    now = now or timezone.now()
    if wanted_on is not None and wanted_on < timezone.localdate(now):
        raise ValidationError({"wanted_on": _("Choisissez aujourd'hui ou un jour à venir.")})
    request = ServiceRequest.objects.create(
        commune=actor.commune,
        home=home,
        person=actor.subject,
        kind=kind,
        message=message,
        wanted_on=wanted_on,
        created_at=now,
    )
    log_for(actor, "homecare.service_request.created", obj=request, data={"kind": kind})
    from django.urls import reverse

    for agent in service_staff(actor.commune):
        notify(
            recipient=agent,
            commune=actor.commune,
            template="homecare/service_request",
            context={
                "kind": request.get_kind_display(),
                "person": actor.subject.display_name,
                "address": " ".join(home.address.split()) if home else "",
                "message": message,
                "wanted_on": wanted_on,
            },
            url=reverse("homecare:service_requests"),
        )
    return request


@transaction.atomic
def service_request_update(
    *, actor: Actor, request: ServiceRequest, state: str, answer: str = "", now: datetime | None = None
) -> ServiceRequest:
    """An agent takes the request in hand, marks it done or cancels it; the resident is told."""
    if not has_capability(actor.user, actor.commune, MANAGE):
        raise PermissionDenied(MANAGE)
    if state not in ServiceRequest.State.values or state == ServiceRequest.State.NEW:
        raise ValidationError({"state": _("Choisissez ce qui est fait de la demande.")})
    answer = (answer or "").strip()
    if len(answer) > MAX_MESSAGE:
        raise ValidationError({"answer": _("Ce texte est trop long (1000 caractères au plus).")})
    if state == ServiceRequest.State.CANCELLED and not answer:
        raise ValidationError({"answer": _("Dites à la personne pourquoi la demande est annulée.")})
    request = ServiceRequest.objects.select_for_update().select_related("person").get(pk=request.pk)
    previous = request.state
    request.state = state
    request.handled_by = actor.user
    request.handled_at = now or timezone.now()
    if answer:
        request.answer = answer
    request.save(update_fields=["state", "handled_by", "handled_at", "answer"])
    log_for(actor, "homecare.service_request.updated", obj=request, data={"from": previous, "to": state})
    if previous != state:
        notify(
            recipient=request.person,
            commune=actor.commune,
            template="homecare/service_request_updated",
            context={
                "kind": request.get_kind_display(),
                "state": request.get_state_display(),
                "answer": request.answer,
            },
        )
    return request
