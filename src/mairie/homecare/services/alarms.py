"""Alarms: raising one (with its first escalation step), acknowledging, "help on the way", closing.

Raising happens inside the caller's transaction (the ingest service, a ticker). The other services are one
transaction each, with an audit row, a timeline row and a live event after commit. Who may act on an alarm:
the commune's operators (``homecare.console``) and the home's contacts with an account; a contact without an
account acknowledges through the signed link of their SMS or email (``alarm_acknowledge_by_token``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mairie.core.models import User
from mairie.core.permissions import has_capability
from mairie.core.services.audit import log_action
from mairie.core.services.notifications import notify
from mairie.homecare import escalation, live, rules
from mairie.homecare.models import Alarm, AlarmEvent, Contact, Device, Home
from mairie.homecare.tokens import read_ack_token

MAX_OUTCOME = 2000


def open_alarm_for(home: Home, kind: str, device: Device | None) -> Alarm | None:
    return (
        Alarm.objects.filter(home=home, kind=kind, device=device, state__in=Alarm.OPEN_STATES)
        .order_by("-raised_at", "-pk")
        .first()
    )


def raise_alarm(
    *,
    home: Home,
    kind: str,
    at: datetime,
    device: Device | None = None,
    severity: str | None = None,
    dedup_key: str | None = None,
    data: dict[str, Any] | None = None,
    actor: User | None = None,
) -> Alarm | None:
    """Creates the alarm and takes its first escalation step, in the caller's transaction.

    Returns ``None`` when nothing new was raised: the same ``dedup_key`` already raised one, or (for a lasting
    condition: smoke, water, battery, device offline, door) the same device already has an open alarm.
    """
    if kind in rules.CONDITION_KINDS and open_alarm_for(home, kind, device) is not None:
        return None
    now = max(timezone.now(), at)
    alarm = Alarm(
        commune_id=home.commune_id,
        home=home,
        device=device,
        kind=kind,
        severity=severity or rules.severity_for(kind, device),
        state=Alarm.State.RAISED,
        raised_at=at,
        escalation_step=0,
        next_escalation_at=now,
        dedup_key=dedup_key,
        data=data or {},
    )
    try:
        with transaction.atomic():
            alarm.save(force_insert=True)
    except IntegrityError:
        if dedup_key and Alarm.objects.filter(dedup_key=dedup_key).exists():
            return None
        raise
    alarm.commune = home.commune
    AlarmEvent.objects.create(
        commune_id=home.commune_id,
        alarm=alarm,
        at=at,
        kind=AlarmEvent.Kind.RAISED,
        actor=actor,
        data=data or {},
    )
    log_action(
        "homecare.alarm.raised",
        commune=home.commune,
        actor=actor,
        obj=alarm,
        data={"kind": kind, "severity": alarm.severity, "device": device.pk if device else None},
    )
    live.publish_on_commit(
        commune_id=home.commune_id, home_id=home.pk, event="alarm.raised", **live.alarm_message(alarm)
    )
    escalation.escalate_now(alarm, now=now)
    return alarm


def add_timeline(alarm: Alarm, kind: str, *, at: datetime, data: dict[str, Any] | None = None) -> AlarmEvent:
    return AlarmEvent.objects.create(
        commune_id=alarm.commune_id, alarm=alarm, at=at, kind=kind, data=data or {}
    )


def resolve_by_system(alarm: Alarm, *, at: datetime, outcome: str, event: str) -> bool:
    """Closes an alarm whose cause went away by itself (a device back online). Inside the caller's transaction."""
    closed = Alarm.objects.filter(pk=alarm.pk, state__in=Alarm.OPEN_STATES).update(
        state=Alarm.State.RESOLVED, resolved_at=at, outcome=outcome, next_escalation_at=None
    )
    if not closed:
        return False
    add_timeline(alarm, event, at=at)
    add_timeline(alarm, AlarmEvent.Kind.RESOLVED, at=at, data={"outcome": outcome, "automatic": True})
    log_action(
        "homecare.alarm.resolved", commune=alarm.home.commune, actor=None, obj=alarm, data={"automatic": True}
    )
    alarm.refresh_from_db()
    live.publish_on_commit(
        commune_id=alarm.commune_id, home_id=alarm.home_id, event="alarm.closed", **live.alarm_message(alarm)
    )
    return True


# Who may act.


def is_contact_of(user: User, home: Home) -> bool:
    return Contact.objects.filter(home=home, user=user).exists()


def can_handle(user: User, alarm: Alarm) -> bool:
    return has_capability(user, alarm.home.commune, "homecare.console") or is_contact_of(user, alarm.home)


def _ensure_can_handle(user: User, alarm: Alarm) -> None:
    if not can_handle(user, alarm):
        raise PermissionDenied("homecare.alarm")


# Acknowledging.


def _acknowledge(
    alarm: Alarm, *, user: User | None, contact: Contact | None, now: datetime, via: str
) -> bool:
    updated = Alarm.objects.filter(pk=alarm.pk, state__in=Alarm.UNACKNOWLEDGED_STATES).update(
        state=Alarm.State.ACKNOWLEDGED,
        acknowledged_at=now,
        acknowledged_by=user,
        acknowledged_by_contact=contact,
        next_escalation_at=None,
    )
    if not updated:
        return False
    alarm.refresh_from_db()
    AlarmEvent.objects.create(
        commune_id=alarm.commune_id,
        alarm=alarm,
        at=now,
        kind=AlarmEvent.Kind.ACKNOWLEDGED,
        actor=user,
        contact=contact,
        data={"via": via},
    )
    log_action(
        "homecare.alarm.acknowledged",
        commune=alarm.home.commune,
        actor=user,
        obj=alarm,
        data={"via": via, "contact": contact.pk if contact else None},
    )
    who = contact.name if contact is not None else (user.display_name if user is not None else "")
    _tell_the_others(
        alarm, who=who, except_user=user if user is not None else (contact.user if contact else None)
    )
    live.publish_on_commit(
        commune_id=alarm.commune_id,
        home_id=alarm.home_id,
        event="alarm.acknowledged",
        by=who,
        **live.alarm_message(alarm),
    )
    return True


def _tell_the_others(alarm: Alarm, *, who: str, except_user: User | None) -> None:
    """The contacts already woken up learn that someone is taking care of it."""
    home = alarm.home
    for contact in escalation.notified_contacts(alarm):
        if contact.user is None or contact.user == except_user:
            continue
        notify(
            recipient=contact.user,
            commune=alarm.commune,
            template="homecare/alarm_acknowledged",
            context={**escalation.alarm_context(alarm, home), "who": who},
            urgent=True,
            respect_preferences=False,
        )


@transaction.atomic
def alarm_acknowledge(*, user: User, alarm: Alarm, now: datetime | None = None) -> bool:
    """An operator or a contact with an account takes the alarm in hand: the escalation stops.

    Returns False if it was already acknowledged (by someone else, or closed).
    """
    alarm = Alarm.objects.select_for_update(of=("self",)).select_related("home__commune").get(pk=alarm.pk)
    _ensure_can_handle(user, alarm)
    contact = Contact.objects.filter(home=alarm.home, user=user).first()
    via = "console" if has_capability(user, alarm.home.commune, "homecare.console") else "account"
    return _acknowledge(alarm, user=user, contact=contact, now=now or timezone.now(), via=via)


class AckRefused(Exception):
    """The link is expired, damaged, or not for an alarm of this commune."""


@transaction.atomic
def alarm_acknowledge_by_token(*, token: str, now: datetime | None = None) -> tuple[Alarm, bool]:
    """A contact acknowledges from the link in their SMS or email, without signing in.

    Runs in the scope of the commune the request came to: an alarm of another commune is not found. The
    contact named in the token must belong to the alarm's home. Returns ``(alarm, newly_acknowledged)``.
    """
    alarm, contact = alarm_for_token(token)
    alarm = Alarm.objects.select_for_update(of=("self",)).select_related("home__commune").get(pk=alarm.pk)
    done = _acknowledge(alarm, user=contact.user, contact=contact, now=now or timezone.now(), via="link")
    return alarm, done


def alarm_for_token(token: str) -> tuple[Alarm, Contact]:
    """The alarm and contact a link names, or ``AckRefused``. Read-only."""
    ids = read_ack_token(token)
    if ids is None:
        raise AckRefused("bad or expired token")
    alarm_id, contact_id = ids
    alarm = (
        Alarm.objects.select_related("home__resident", "home__commune", "device").filter(pk=alarm_id).first()
    )
    if alarm is None:
        raise AckRefused("no such alarm here")
    contact = Contact.objects.select_related("user").filter(pk=contact_id, home_id=alarm.home_id).first()
    if contact is None:
        raise AckRefused("not a contact of this home")
    return alarm, contact


# After acknowledging.


@transaction.atomic
def alarm_help_on_way(*, user: User, alarm: Alarm, note: str = "", now: datetime | None = None) -> Alarm:
    alarm = Alarm.objects.select_for_update(of=("self",)).select_related("home__commune").get(pk=alarm.pk)
    _ensure_can_handle(user, alarm)
    now = now or timezone.now()
    if alarm.state in Alarm.CLOSED_STATES:
        raise ValidationError(_("Cette alarme est déjà terminée."))
    if alarm.state in Alarm.UNACKNOWLEDGED_STATES:
        _acknowledge(alarm, user=user, contact=None, now=now, via="help_on_way")
    Alarm.objects.filter(pk=alarm.pk).update(state=Alarm.State.HELP_ON_WAY, next_escalation_at=None)
    alarm.refresh_from_db()
    AlarmEvent.objects.create(
        commune_id=alarm.commune_id,
        alarm=alarm,
        at=now,
        kind=AlarmEvent.Kind.HELP_ON_WAY,
        actor=user,
        data={"note": note.strip()[:MAX_OUTCOME]} if note.strip() else {},
    )
    log_action("homecare.alarm.help_on_way", commune=alarm.home.commune, actor=user, obj=alarm)
    live.publish_on_commit(
        commune_id=alarm.commune_id,
        home_id=alarm.home_id,
        event="alarm.help_on_way",
        **live.alarm_message(alarm),
    )
    return alarm


@transaction.atomic
def alarm_close(
    *, user: User, alarm: Alarm, outcome: str, false_alarm: bool = False, now: datetime | None = None
) -> Alarm:
    """Closes the alarm: resolved, or a false alarm. The outcome (what happened) is required."""
    alarm = Alarm.objects.select_for_update(of=("self",)).select_related("home__commune").get(pk=alarm.pk)
    _ensure_can_handle(user, alarm)
    outcome = (outcome or "").strip()
    if not outcome:
        raise ValidationError(
            {
                "outcome": _(
                    "Dites en quelques mots ce qui s'est passé : c'est obligatoire pour terminer l'alarme."
                )
            }
        )
    if len(outcome) > MAX_OUTCOME:
        raise ValidationError({"outcome": _("Ce texte est trop long (2000 caractères au plus).")})
    if alarm.state in Alarm.CLOSED_STATES:
        raise ValidationError(_("Cette alarme est déjà terminée."))
    now = now or timezone.now()
    if alarm.state in Alarm.UNACKNOWLEDGED_STATES:
        _acknowledge(alarm, user=user, contact=None, now=now, via="close")
    state = Alarm.State.FALSE_ALARM if false_alarm else Alarm.State.RESOLVED
    Alarm.objects.filter(pk=alarm.pk).update(
        state=state, resolved_at=now, outcome=outcome, next_escalation_at=None
    )
    alarm.refresh_from_db()
    AlarmEvent.objects.create(
        commune_id=alarm.commune_id,
        alarm=alarm,
        at=now,
        kind=AlarmEvent.Kind.FALSE_ALARM if false_alarm else AlarmEvent.Kind.RESOLVED,
        actor=user,
        data={"outcome": outcome},
    )
    log_action(
        "homecare.alarm.false_alarm" if false_alarm else "homecare.alarm.resolved",
        commune=alarm.home.commune,
        actor=user,
        obj=alarm,
    )
    live.publish_on_commit(
        commune_id=alarm.commune_id, home_id=alarm.home_id, event="alarm.closed", **live.alarm_message(alarm)
    )
    return alarm
