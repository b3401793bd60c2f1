"""Escalation: who is told about an alarm, in which order, and when the next person is.

The chain of a home: its contacts in order (skipping those outside their availability hours or with no way
to reach them) → the commune's tele-assistance operators → the instruction to call 15 / 112 (critical and
high alarms). Each step waits ``home.ack_minutes`` for an acknowledgement.

State lives only in rows: ``Alarm.escalation_step`` (steps done) and ``Alarm.next_escalation_at`` (indexed,
NULL once acknowledged, closed or at the end of the chain). ``escalation_tick`` takes due alarms one at a
time with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite's IMMEDIATE transactions run one after
the other), and each step is a compare-and-set on the step number: two workers never take the same step,
and a restart loses nothing (the next tick finds the row still due).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from mairie.core.models import Commune, Membership, Role, User
from mairie.core.services.audit import log_action
from mairie.core.services.notifications import notify, reachable_channels
from mairie.homecare import live, rules
from mairie.homecare.models import Alarm, AlarmEvent, Contact, Home
from mairie.homecare.tokens import ack_path

logger = logging.getLogger(__name__)

CONTACT = "contact"
OPERATOR = "operator"
EMERGENCY = "emergency"
TICK_BATCH = 200


@dataclass(frozen=True)
class Step:
    kind: str
    contact: Contact | None = None


def escalation_plan(alarm: Alarm, contacts: list[Contact]) -> list[Step]:
    """The steps of this alarm's chain. Low alarms (a battery) go to the console only."""
    if alarm.severity == Alarm.Severity.LOW:
        return [Step(OPERATOR)]
    steps = [Step(CONTACT, contact) for contact in contacts if contact.kind != Contact.Kind.OPERATOR]
    steps.append(Step(OPERATOR))
    if alarm.severity in (Alarm.Severity.CRITICAL, Alarm.Severity.HIGH):
        steps.append(Step(EMERGENCY))
    return steps


def home_contacts(home: Home) -> list[Contact]:
    return list(Contact.objects.filter(home=home).select_related("user").order_by("order", "pk"))


def _active(ids: set[int]) -> list[User]:
    return list(User.objects.filter(pk__in=ids, is_active=True, erased_at__isnull=True).order_by("pk"))


def operators_of(commune: Commune, home: Home) -> list[User]:
    """The commune's tele-assistance operators, and accounts of the home's "téléassistance" contacts.

    A commune with none (no contract yet, or the only operator's account closed) still has someone on the
    console: its administrators, who hold the console too. An alarm must never go to nobody.
    """
    ids = set(
        Membership.objects.filter(commune=commune, role=Role.OPERATOR).values_list("user_id", flat=True)
    )
    ids |= set(
        Contact.objects.filter(home=home, kind=Contact.Kind.OPERATOR, user__isnull=False).values_list(
            "user_id", flat=True
        )
    )
    operators = _active(ids)
    if operators:
        return operators
    return _active(
        set(Membership.objects.filter(commune=commune, role=Role.ADMIN).values_list("user_id", flat=True))
    )


def console_path() -> str:
    try:
        return reverse("homecare:console")
    except NoReverseMatch:
        return reverse("core:staff_home") if _has_url("core:staff_home") else "/"


def _has_url(name: str) -> bool:
    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


def alarm_context(alarm: Alarm, home: Home) -> dict[str, Any]:
    device = alarm.device
    return {
        "alarm": alarm,
        "kind": alarm.get_kind_display(),
        "home": home,
        "resident": home.resident.display_name,
        "address": " ".join(home.address.split()),
        "room": device.room if device is not None else "",
        "raised_at": timezone.localtime(alarm.raised_at, rules.home_zone(home)),
        "emergency_number": rules.emergency_number(alarm.kind),
    }


def _contact_reachable(contact: Contact) -> bool:
    return contact.user is not None and bool(reachable_channels(contact.user))


def _notify_contact(alarm: Alarm, home: Home, contact: Contact, template: str) -> None:
    assert contact.user is not None
    path = ack_path(alarm_id=alarm.pk, contact_id=contact.pk)
    notify(
        recipient=contact.user,
        commune=alarm.commune,
        template=template,
        context={**alarm_context(alarm, home), "contact": contact},
        urgent=True,
        respect_preferences=False,  # someone who agreed to be called for alarms gets them on every channel
        url=path,
    )


def _notify_operators(alarm: Alarm, home: Home, operators: list[User], template: str) -> int:
    for operator in operators:
        notify(
            recipient=operator,
            commune=alarm.commune,
            template=template,
            context=alarm_context(alarm, home),
            urgent=True,
            respect_preferences=False,
            url=console_path(),
        )
    return len(operators)


def notified_contacts(alarm: Alarm) -> list[Contact]:
    ids = AlarmEvent.objects.filter(
        alarm=alarm, kind=AlarmEvent.Kind.NOTIFIED, contact__isnull=False
    ).values_list("contact_id", flat=True)
    return list(Contact.objects.filter(pk__in=set(ids), user__isnull=False).select_related("user"))


def advance(alarm: Alarm, *, now: datetime) -> bool:
    """Takes the alarm's next step if it is due and nobody took it. Inside a transaction, in the commune's scope.

    Returns whether this call took the step.
    """
    if alarm.state not in Alarm.UNACKNOWLEDGED_STATES or alarm.next_escalation_at is None:
        return False
    if alarm.next_escalation_at > now:
        return False
    home = Home.objects.select_related("resident").get(pk=alarm.home_id)
    plan = escalation_plan(alarm, home_contacts(home))
    local_time = now.astimezone(rules.home_zone(home)).time()
    step = alarm.escalation_step
    skipped: list[tuple[Contact, str]] = []
    action: Step | None = None
    while step < len(plan):
        candidate = plan[step]
        step += 1
        if candidate.kind == CONTACT:
            contact = candidate.contact
            assert contact is not None
            if not rules.contact_available(contact.available_from, contact.available_until, local_time):
                skipped.append((contact, "unavailable"))
                continue
            if not _contact_reachable(contact):
                skipped.append((contact, "unreachable"))
                continue
        action = candidate
        break
    final = step >= len(plan)
    next_at = None if final else now + timedelta(minutes=home.ack_minutes)
    # "Notified" only once someone really was: a step that finds nobody to tell leaves the alarm "raised",
    # red at the top of the console, never looking taken care of.
    kind = action.kind if action is not None else None
    operators = operators_of(alarm.commune, home) if kind in (OPERATOR, EMERGENCY) else []
    told_before = notified_contacts(alarm) if kind == EMERGENCY else []
    tells_someone = kind == CONTACT or bool(operators) or bool(told_before)
    new_state = Alarm.State.NOTIFIED if tells_someone else alarm.state
    claimed = Alarm.objects.filter(
        pk=alarm.pk,
        escalation_step=alarm.escalation_step,
        state__in=Alarm.UNACKNOWLEDGED_STATES,
        next_escalation_at__lte=now,
    ).update(escalation_step=step, next_escalation_at=next_at, state=new_state)
    if claimed != 1:
        return False
    previous_step = alarm.escalation_step
    alarm.escalation_step, alarm.next_escalation_at, alarm.state = step, next_at, new_state
    for contact, why in skipped:
        AlarmEvent.objects.create(
            commune=alarm.commune,
            alarm=alarm,
            at=now,
            kind=AlarmEvent.Kind.SKIPPED,
            contact=contact,
            data={"why": why},
        )
    data: dict[str, Any] = {
        "from_step": previous_step,
        "to_step": step,
        "skipped": [c.pk for c, _ in skipped],
    }
    if action is not None and action.kind == CONTACT:
        assert action.contact is not None
        _notify_contact(alarm, home, action.contact, "homecare/alarm")
        AlarmEvent.objects.create(
            commune=alarm.commune, alarm=alarm, at=now, kind=AlarmEvent.Kind.NOTIFIED, contact=action.contact
        )
        data.update(to="contact", contact=action.contact.pk)
    elif action is not None and action.kind == OPERATOR:
        count = _notify_operators(alarm, home, operators, "homecare/alarm_operator")
        AlarmEvent.objects.create(
            commune=alarm.commune,
            alarm=alarm,
            at=now,
            kind=AlarmEvent.Kind.OPERATOR,
            data={"operators": count},
        )
        data.update(to="operator", operators=count)
    elif action is not None and action.kind == EMERGENCY:
        count = _notify_operators(alarm, home, operators, "homecare/alarm_emergency")
        for contact in told_before:
            _notify_contact(alarm, home, contact, "homecare/alarm_emergency")
        number = rules.emergency_number(alarm.kind)
        AlarmEvent.objects.create(
            commune=alarm.commune,
            alarm=alarm,
            at=now,
            kind=AlarmEvent.Kind.EMERGENCY,
            data={"number": number},
        )
        data.update(to="emergency", number=number, operators=count)
    if action is not None and not tells_someone:
        data["nobody"] = True
        logger.error(
            "Alarm %s (%s, commune %s): nobody could be told at step %s; it stays raised on the console",
            alarm.pk,
            alarm.kind,
            alarm.commune_id,
            step,
        )
    log_action("homecare.alarm.escalated", commune=alarm.commune, actor=None, obj=alarm, data=data)
    live.publish_on_commit(
        commune_id=alarm.commune_id,
        home_id=alarm.home_id,
        event="alarm.escalated",
        **live.alarm_message(alarm),
    )
    return True


def _due_alarms() -> Any:
    return Alarm.objects.filter(next_escalation_at__isnull=False, state__in=Alarm.UNACKNOWLEDGED_STATES)


def escalation_tick(now: datetime | None = None, *, limit: int = TICK_BATCH) -> int:
    """Advances every due alarm by one step, each in its own transaction. Returns how many steps were taken.

    Safe to run on several workers at once, and again after a crash: the rows say what is left to do.
    """
    now = now or timezone.now()
    taken = 0
    failed: set[int] = set()
    for _ in range(limit):
        candidate: Alarm | None = None
        try:
            with scopes_disabled(), transaction.atomic():  # the ticker works for every commune
                candidate = (
                    _due_alarms()
                    .filter(next_escalation_at__lte=now)
                    .exclude(pk__in=failed)
                    .order_by("next_escalation_at", "pk")
                    .select_related("commune")
                    .select_for_update(skip_locked=True, of=("self",))
                    .first()
                )
                if candidate is None:
                    break
                with scope(commune=candidate.commune):
                    if advance(candidate, now=now):
                        taken += 1
                    else:  # acknowledged meanwhile: nothing left for this row
                        failed.add(candidate.pk)
        except Exception:
            if candidate is None:
                raise
            logger.exception("Escalation of alarm %s failed; the next tick tries again", candidate.pk)
            failed.add(candidate.pk)
    return taken


def escalate_now(alarm: Alarm, *, now: datetime | None = None) -> bool:
    """The first step, taken in the transaction that raised the alarm (so the first person is told at once)."""
    return advance(alarm, now=now or timezone.now())
