"""Reads that enforce who may see what. Views and the console use these, never raw lookups by id.

- An operator (``homecare.console``) sees the alarms and homes of the communes where they hold a role that
  carries it — across communes for the console, so those reads say ``scopes_disabled()`` and filter by the
  person's own communes.
- A relative sees only the homes where they are a contact (and the resident their own home).
- Every read of a home's file or an alarm is audited (``homecare.home.viewed``, ``homecare.alarm.viewed``).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404
from django_scopes import scopes_disabled

from mairie.core.models import Commune, Membership, User
from mairie.core.permissions import CAPABILITIES, has_capability
from mairie.core.services.audit import log_action
from mairie.homecare.models import Alarm, AlarmEvent, Home

CONSOLE = "homecare.console"


def console_commune_ids(user: User) -> list[int]:
    """The communes whose alarms this person may watch (where they hold a role carrying the console)."""
    if not getattr(user, "is_authenticated", False):
        return []
    with scopes_disabled():  # a person's memberships across communes: platform-level read
        return sorted(
            set(
                Membership.objects.filter(
                    user=user, role__in=CAPABILITIES[CONSOLE], commune__is_active=True
                ).values_list("commune_id", flat=True)
            )
        )


def console_alarms(user: User, *, open_only: bool = True) -> QuerySet[Alarm]:
    """Alarms across the person's console communes, newest first (unacknowledged ones first when open)."""
    ids = console_commune_ids(user)
    with scopes_disabled():  # the console spans the operator's communes, and only those
        alarms = Alarm.objects.filter(commune_id__in=ids).select_related(
            "home__resident", "device", "commune"
        )
        if open_only:
            alarms = alarms.filter(state__in=Alarm.OPEN_STATES)
        return alarms.order_by("-raised_at", "-pk")


def console_alarm(user: User, alarm_id: int, *, audit: bool = True) -> Alarm:
    """One alarm for the console; 404 if it is not in the person's communes. Audited."""
    with scopes_disabled():
        alarm = (
            Alarm.objects.filter(pk=alarm_id, commune_id__in=console_commune_ids(user))
            .select_related("home__resident", "home__commune", "device", "commune")
            .first()
        )
    if alarm is None:
        raise Http404
    if audit:
        log_action(
            "homecare.alarm.viewed", commune=alarm.commune, actor=user, obj=alarm, data={"via": "console"}
        )
    return alarm


def console_home(user: User, home_id: int) -> Home:
    """A home's file for the console; 404 outside the person's communes. Audited."""
    with scopes_disabled():
        home = (
            Home.objects.filter(pk=home_id, commune_id__in=console_commune_ids(user))
            .select_related("resident", "commune")
            .first()
        )
    if home is None:
        raise Http404
    log_action("homecare.home.viewed", commune=home.commune, actor=user, obj=home, data={"via": "console"})
    return home


# Inside one commune (the request's scope).


def homes_for_person(user: User, commune: Commune) -> QuerySet[Home]:
    """The homes a person follows in this commune: their own, and those where they are a contact."""
    if not getattr(user, "is_authenticated", False):
        return Home.objects.none()
    return (
        Home.objects.filter(commune=commune)
        .filter(Q(resident=user) | Q(contacts__user=user))
        .distinct()
        .select_related("resident")
        .order_by("label", "pk")
    )


def home_for_person(user: User, commune: Commune, home_id: int) -> Home:
    """A home its resident or one of its contacts may see; 404 for anyone else. Audited."""
    home = homes_for_person(user, commune).filter(pk=home_id).first()
    if home is None:
        raise Http404
    log_action("homecare.home.viewed", commune=commune, actor=user, obj=home, data={"via": "relative"})
    return home


def alarm_for_person(user: User, commune: Commune, alarm_id: int) -> Alarm:
    """An alarm of a home the person follows (or any alarm of the commune for its console roles). Audited."""
    alarms = Alarm.objects.filter(commune=commune).select_related("home__resident", "device")
    if not has_capability(user, commune, CONSOLE):
        alarms = alarms.filter(home__in=homes_for_person(user, commune))
    alarm = alarms.filter(pk=alarm_id).first()
    if alarm is None:
        raise Http404
    log_action("homecare.alarm.viewed", commune=commune, actor=user, obj=alarm)
    return alarm


def alarm_timeline(alarm: Alarm) -> QuerySet[AlarmEvent]:
    """The alarm's events in order (the caller has already checked access with one of the selectors above)."""
    return AlarmEvent.objects.filter(alarm=alarm).select_related("actor", "contact").order_by("at", "pk")


def staff_homes(user: User, commune: Commune) -> QuerySet[Home]:
    """Every home of the commune, for the staff who set them up (``homecare.manage_homes``) or the console."""
    if not (has_capability(user, commune, "homecare.manage_homes") or has_capability(user, commune, CONSOLE)):
        return Home.objects.none()
    return Home.objects.filter(commune=commune).select_related("resident").order_by("label", "pk")
