"""Booking services: every change to resources, sessions and bookings goes through here.

Each service is keyword-only, takes ``actor`` (who clicks, for whom, under which mandate), runs in one
transaction inside the actor's commune scope, writes an audit row (``booking.<thing>.<verb>``) and tells the
person through ``notify`` (delivered once the transaction commits).

Refusals raise a ``BookingError`` subclass whose ``str()`` is a message for the resident, in French.

Who may do what:
- anyone signed in books, cancels and modifies for themselves (``actor.subject``), or a staff member for the
  resident they act for under a mandate;
- staff (capability ``booking.manage``) create sessions and resources, mark attendance, cancel anyone's
  booking at any time, and are not held to the minimum notice, the booking horizon or the per-person limits
  (the counter books a walk-in); capacity, claims, closures, opening hours and the past hold for everybody.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_scopes import scope, scopes_disabled

from mairie.core.acting import Actor, log_for
from mairie.core.durations import human_minutes
from mairie.core.models import Commune, User
from mairie.core.permissions import ensure_capability, has_capability
from mairie.core.services.audit import log_action
from mairie.core.services.notifications import notify

from .exceptions import (
    AlreadyBooked,
    Closed,
    DeadlinePassed,
    InThePast,
    InvalidRequest,
    LimitReached,
    NotAllowed,
    NotFound,
    SessionCancelled,
    SessionFull,
    SlotTaken,
    TooFarAhead,
    TooLate,
)
from .holidays import holiday_name
from .models import Booking, Closure, OpeningRule, Package, Resource, ResourceClaim, Series, Session
from .timeutils import aware, granules, local_dates, local_day_bounds

MANAGE = "booking.manage"
Status = Booking.Status

M = TypeVar("M", bound=models.Model)


def offer_hours() -> int:
    """How long a person offered a freed seat has to accept it (setting ``BOOKING_OFFER_HOURS``, default 24)."""
    return int(getattr(settings, "BOOKING_OFFER_HOURS", 24))


def is_staff(actor: Actor) -> bool:
    return has_capability(actor.user, actor.commune, MANAGE)


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def _fetch(model: type[M], obj: M | int, *, lock: bool = False) -> M:
    """Reloads ``obj`` (or id) inside the current commune's scope: another commune's id is not found."""
    pk = obj.pk if isinstance(obj, models.Model) else obj
    try:
        pk = int(pk)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise NotFound() from None
    qs = model._default_manager.all()
    if lock:
        qs = qs.select_for_update()
    found = qs.filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


def _fetch_resources(resources: Iterable[Resource | int]) -> list[Resource]:
    ids = []
    for item in resources:
        ids.append(item.pk if isinstance(item, Resource) else item)
    try:
        wanted = {int(pk) for pk in ids}  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise NotFound(_("Cet équipement ou cette salle n'existe pas.")) from None
    found = list(Resource.objects.filter(pk__in=wanted).order_by("pk"))
    if len(found) != len(wanted):
        raise NotFound(_("Cet équipement ou cette salle n'existe pas."))
    return found


def _check_acting(actor: Actor) -> bool:
    """Booking for someone else needs a mandate or the staff capability. Returns whether the actor is staff."""
    staff = is_staff(actor)
    if actor.subject.pk != actor.user.pk and actor.mandate is None and not staff:
        raise NotAllowed(_("Vous ne pouvez réserver que pour vous-même."))
    return staff


def _check_timing(
    *, starts_at: datetime, ends_at: datetime, min_notice_minutes: int, horizon_days: int | None, staff: bool
) -> None:
    now = timezone.now()
    if staff:
        # The counter may still register someone for a session under way (drop-in), never after it ended.
        if ends_at <= now:
            raise InThePast(_("Cette séance est déjà terminée."))
        return
    if starts_at <= now:
        raise InThePast(_("Cette date est déjà passée : choisissez une date à venir."))
    if min_notice_minutes and starts_at < now + timedelta(minutes=min_notice_minutes):
        raise TooLate(
            _("Il faut réserver au moins %(delay)s à l'avance.")
            % {"delay": human_minutes(min_notice_minutes)}
        )
    if horizon_days is not None:
        last_day = timezone.localdate(now) + timedelta(days=horizon_days)
        if timezone.localtime(starts_at).date() > last_day:
            raise TooFarAhead(
                ngettext(
                    "On peut réserver au plus %(days)d jour à l'avance.",
                    "On peut réserver au plus %(days)d jours à l'avance.",
                    horizon_days,
                )
                % {"days": horizon_days}
            )


def closure_reason(
    *,
    commune: Commune,
    resources: Sequence[Resource],
    starts_at: datetime,
    ends_at: datetime,
    holidays: bool = True,
) -> str | None:
    """Why [starts_at, ends_at) is closed for these resources (a closure, a public holiday), or None."""
    closure = (
        Closure.objects.filter(commune=commune, starts_at__lt=ends_at, ends_at__gt=starts_at)
        .filter(Q(resource__isnull=True) | Q(resource__in=list(resources)))
        .order_by("starts_at")
        .first()
    )
    if closure is not None:
        return _("Fermé : %(reason)s.") % {"reason": closure.reason}
    if holidays:
        for day in local_dates(starts_at, ends_at):
            name = holiday_name(day)
            if name:
                return _("C'est un jour férié (%(name)s).") % {"name": name}
    return None


def opening_rule_for(resource: Resource, starts_at: datetime, ends_at: datetime) -> OpeningRule | bool | None:
    """The rule whose hours contain [starts_at, ends_at); ``True`` if the resource has no rules (always open
    when nothing else says otherwise), ``None`` if no rule covers it."""
    rules = list(resource.opening_rules.all())
    if not rules:
        return True
    start, end = timezone.localtime(starts_at), timezone.localtime(ends_at)
    if start.date() != end.date() and not (
        end.date() == start.date() + timedelta(days=1) and end.time() == time.min
    ):
        return None
    end_time = end.time() if end.date() == start.date() else time.max
    day = start.date()
    for rule in rules:
        if rule.weekday != day.weekday():
            continue
        if rule.valid_from and day < rule.valid_from:
            continue
        if rule.valid_until and day > rule.valid_until:
            continue
        if rule.start_time <= start.time() and end_time <= rule.end_time:
            return rule
    return None


def _check_open(
    *, commune: Commune, resources: Sequence[Resource], starts_at: datetime, ends_at: datetime
) -> None:
    holidays_apply = True
    for resource in resources:
        if not resource.is_active:
            why = resource.out_of_service_reason or _("indisponible pour le moment")
            raise Closed(
                _("« %(name)s » n'est pas disponible : %(reason)s.") % {"name": resource.name, "reason": why}
            )
        rule = opening_rule_for(resource, starts_at, ends_at)
        if rule is None:
            raise Closed(_("« %(name)s » n'est pas ouvert à cette heure-là.") % {"name": resource.name})
        if isinstance(rule, OpeningRule) and rule.open_on_public_holidays:
            holidays_apply = False
    reason = closure_reason(
        commune=commune, resources=resources, starts_at=starts_at, ends_at=ends_at, holidays=holidays_apply
    )
    if reason:
        raise Closed(reason)


def _lock_person(person: User) -> None:
    """Serialises one person's bookings so that two tabs cannot both pass the per-person limits."""
    list(User.objects.select_for_update().filter(pk=person.pk).values_list("pk", flat=True))


def _check_limits(
    *, person: User, resources: Sequence[Resource], starts_at: datetime, exclude: Booking | None = None
) -> None:
    limited = [r for r in resources if r.max_per_day is not None or r.max_per_week is not None]
    if not limited:
        return
    _lock_person(person)
    day = timezone.localtime(starts_at).date()
    day_start, day_end = local_day_bounds(day)
    week_start, _unused = local_day_bounds(day - timedelta(days=day.weekday()))
    week_end = week_start + timedelta(days=7)
    for resource in limited:
        held = Booking.objects.filter(person=person, status__in=Booking.HOLDS_SEAT).filter(
            Q(resources=resource) | Q(session__resources=resource)
        )
        if exclude is not None:
            held = held.exclude(pk=exclude.pk)
        if resource.max_per_day is not None:
            count = (
                held.filter(starts_at__gte=day_start, starts_at__lt=day_end).values("pk").distinct().count()
            )
            if count >= resource.max_per_day:
                raise LimitReached(
                    ngettext(
                        "« %(name)s » : %(max)d réservation par personne et par jour au plus, "
                        "et vous l'avez déjà ce jour-là.",
                        "« %(name)s » : %(max)d réservations par personne et par jour au plus, "
                        "et vous les avez déjà ce jour-là.",
                        resource.max_per_day,
                    )
                    % {"name": resource.name, "max": resource.max_per_day}
                )
        if resource.max_per_week is not None:
            count = (
                held.filter(starts_at__gte=week_start, starts_at__lt=week_end).values("pk").distinct().count()
            )
            if count >= resource.max_per_week:
                raise LimitReached(
                    ngettext(
                        "« %(name)s » : %(max)d réservation par personne et par semaine au plus, "
                        "et vous l'avez déjà cette semaine-là.",
                        "« %(name)s » : %(max)d réservations par personne et par semaine au plus, "
                        "et vous les avez déjà cette semaine-là.",
                        resource.max_per_week,
                    )
                    % {"name": resource.name, "max": resource.max_per_week}
                )


def claim_resources(
    *,
    commune: Commune,
    resources: Sequence[Resource],
    starts_at: datetime,
    ends_at: datetime,
    session: Session | None = None,
    booking: Booking | None = None,
) -> int:
    """Claims every 5-minute granule of [start − buffer before, end + buffer after) of each resource, all or
    nothing: if any granule is held already, nothing is kept and ``SlotTaken`` names the resource."""
    rows: list[ResourceClaim] = []
    for resource in resources:
        span = granules(
            starts_at - timedelta(minutes=resource.buffer_before_minutes),
            ends_at + timedelta(minutes=resource.buffer_after_minutes),
        )
        rows.extend(
            ResourceClaim(commune=commune, resource=resource, starts_at=g, session=session, booking=booking)
            for g in span
        )
    try:
        with transaction.atomic():
            ResourceClaim.objects.bulk_create(rows)
    except IntegrityError:
        taken = _taken_resource(resources, starts_at, ends_at)
        if taken is not None:
            raise SlotTaken(
                _("« %(name)s » est déjà réservé à ce moment-là. Choisissez un autre créneau.")
                % {"name": taken.name}
            ) from None
        raise SlotTaken() from None
    return len(rows)


def _taken_resource(resources: Sequence[Resource], starts_at: datetime, ends_at: datetime) -> Resource | None:
    for resource in resources:
        span = granules(
            starts_at - timedelta(minutes=resource.buffer_before_minutes),
            ends_at + timedelta(minutes=resource.buffer_after_minutes),
        )
        if ResourceClaim.objects.filter(resource=resource, starts_at__in=span).exists():
            return resource
    return None


def _take_seat(session_id: int) -> bool:
    """One seat, atomically: ``UPDATE ... SET booked_count = booked_count + 1 WHERE booked_count < capacity``."""
    return (
        Session.objects.filter(
            pk=session_id, status=Session.Status.SCHEDULED, booked_count__lt=F("capacity")
        ).update(booked_count=F("booked_count") + 1)
        == 1
    )


def _release_seat(session_id: int) -> None:
    Session.objects.filter(pk=session_id, booked_count__gt=0).update(booked_count=F("booked_count") - 1)


def _mine_url() -> str:
    return reverse("booking:mine")


def _notify(booking: Booking, template: str, **context: Any) -> None:
    notify(
        recipient=booking.person,
        commune=booking.commune,
        template=f"booking/{template}",
        context={"booking": booking, **context},
        url=_mine_url(),
    )


def _deadline_hours(booking: Booking) -> int:
    if booking.session_id:
        return booking.session.cancel_deadline_hours  # type: ignore[union-attr]
    hours = [r.cancel_deadline_hours for r in booking.resources.all()]
    return max(hours, default=0)


def change_deadline(booking: Booking) -> datetime:
    """Until when the person may cancel or move this booking online."""
    return booking.starts_at - timedelta(hours=_deadline_hours(booking))


def can_self_cancel(booking: Booking) -> bool:
    if not booking.is_live:
        return False
    if booking.status in (Status.WAITLISTED, Status.OFFERED):
        return True
    return timezone.now() <= change_deadline(booking)


def _check_deadline(booking: Booking, staff: bool) -> None:
    if staff or booking.status in (Status.WAITLISTED, Status.OFFERED):
        return
    if timezone.now() > change_deadline(booking):
        hours = _deadline_hours(booking)
        raise DeadlinePassed(
            ngettext(
                "On peut annuler ou modifier en ligne jusqu'à %(n)d heure avant le début. "
                "Il est trop tard : appelez la mairie.",
                "On peut annuler ou modifier en ligne jusqu'à %(n)d heures avant le début. "
                "Il est trop tard : appelez la mairie.",
                hours,
            )
            % {"n": hours}
        )


def _own_booking(actor: Actor, booking: Booking | int, staff: bool) -> Booking:
    found = _fetch(Booking, booking, lock=True)
    if found.person_id != actor.subject.pk and not staff:
        raise NotFound(_("Cette réservation n'existe pas."))
    return found


# ---------------------------------------------------------------------------------------------------------------
# Resources, opening rules, closures (staff)


def resource_create(
    *,
    actor: Actor,
    module: str,
    name: str,
    kind: str = Resource.Kind.OTHER,
    opening: Iterable[tuple[int, time, time]] = (),
    **fields: Any,
) -> Resource:
    """A resource and its weekly opening hours (``opening=[(0, time(9), time(12)), ...]``, 0 = Monday)."""
    with scope(commune=actor.commune), transaction.atomic():
        ensure_capability(actor.user, actor.commune, MANAGE)
        resource = Resource.objects.create(
            commune=actor.commune, module=module, name=name, kind=kind, **fields
        )
        for weekday, start, end in opening:
            opening_rule_add(actor=actor, resource=resource, weekday=weekday, start_time=start, end_time=end)
        log_for(actor, "booking.resource.created", obj=resource, data={"module": module})
        return resource


def resource_update(*, actor: Actor, resource: Resource | int, **fields: Any) -> Resource:
    """Changes a resource's settings (``is_active=False, out_of_service_reason=...`` takes it out of service)."""
    allowed = {f.name for f in Resource._meta.concrete_fields} - {"id", "commune", "module", "created_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"unknown resource fields: {sorted(unknown)}")
    with scope(commune=actor.commune), transaction.atomic():
        ensure_capability(actor.user, actor.commune, MANAGE)
        found = _fetch(Resource, resource, lock=True)
        for name, value in fields.items():
            setattr(found, name, value)
        found.save()
        log_for(actor, "booking.resource.updated", obj=found, data={"fields": sorted(fields)})
        return found


def opening_rules_replace(
    *, actor: Actor, resource: Resource | int, opening: Iterable[tuple[int, time, time]]
) -> list[OpeningRule]:
    """The resource's weekly hours become exactly ``opening`` (``[(weekday, start, end)]``); all or nothing."""
    with scope(commune=actor.commune), transaction.atomic():
        ensure_capability(actor.user, actor.commune, MANAGE)
        found = _fetch(Resource, resource, lock=True)
        removed, _by_model = OpeningRule.objects.filter(resource=found).delete()
        rules = [
            opening_rule_add(actor=actor, resource=found, weekday=weekday, start_time=start, end_time=end)
            for weekday, start, end in opening
        ]
        log_for(actor, "booking.opening.replaced", obj=found, data={"removed": removed, "rules": len(rules)})
        return rules


def opening_rule_add(
    *,
    actor: Actor,
    resource: Resource | int,
    weekday: int,
    start_time: time,
    end_time: time,
    valid_from: date | None = None,
    valid_until: date | None = None,
    open_on_public_holidays: bool = False,
) -> OpeningRule:
    with scope(commune=actor.commune), transaction.atomic():
        ensure_capability(actor.user, actor.commune, MANAGE)
        found = _fetch(Resource, resource)
        if not 0 <= weekday <= 6:
            raise InvalidRequest(_("Le jour de la semaine va de 0 (lundi) à 6 (dimanche)."))
        if start_time >= end_time:
            raise InvalidRequest(_("L'heure de fin doit être après l'heure de début."))
        if valid_from and valid_until and valid_from > valid_until:
            raise InvalidRequest(_("La date de fin doit être après la date de début."))
        rule = OpeningRule.objects.create(
            resource=found,
            weekday=weekday,
            start_time=start_time,
            end_time=end_time,
            valid_from=valid_from,
            valid_until=valid_until,
            open_on_public_holidays=open_on_public_holidays,
        )
        log_for(actor, "booking.opening.added", obj=found, data={"weekday": weekday})
        return rule


def closure_create(
    *,
    actor: Actor,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    resource: Resource | int | None = None,
) -> Closure:
    """Closes the whole commune (``resource=None``) or one resource. Existing bookings are kept: the staff
    decide whom to call (``bookings_during`` lists them)."""
    with scope(commune=actor.commune), transaction.atomic():
        ensure_capability(actor.user, actor.commune, MANAGE)
        if starts_at >= ends_at:
            raise InvalidRequest(_("La fin de la fermeture doit être après son début."))
        if not reason.strip():
            raise InvalidRequest(_("Indiquez la raison de la fermeture."))
        found = _fetch(Resource, resource) if resource is not None else None
        closure = Closure.objects.create(
            commune=actor.commune, resource=found, starts_at=starts_at, ends_at=ends_at, reason=reason.strip()
        )
        log_for(actor, "booking.closure.created", obj=closure, data={"resource": found.pk if found else None})
        return closure


# ---------------------------------------------------------------------------------------------------------------
# Sessions and series (staff)


def _new_session(
    *,
    actor: Actor,
    module: str,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    resources: Sequence[Resource],
    description: str = "",
    location: str = "",
    cancel_deadline_hours: int = 24,
    min_notice_minutes: int = 0,
    series: Series | None = None,
) -> Session:
    session = Session.objects.create(
        commune=actor.commune,
        module=module,
        title=title,
        description=description,
        location=location,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        series=series,
        cancel_deadline_hours=cancel_deadline_hours,
        min_notice_minutes=min_notice_minutes,
    )
    if resources:
        session.resources.set(resources)
        claim_resources(
            commune=actor.commune, resources=resources, starts_at=starts_at, ends_at=ends_at, session=session
        )
    return session


def _validate_session(*, title: str, starts_at: datetime, ends_at: datetime, capacity: int) -> None:
    if not title.strip():
        raise InvalidRequest(_("Donnez un titre à la séance."))
    if starts_at >= ends_at:
        raise InvalidRequest(_("La fin de la séance doit être après son début."))
    if capacity < 1:
        raise InvalidRequest(_("Il faut au moins une place."))
    if starts_at <= timezone.now():
        raise InThePast(_("On ne peut pas créer une séance dans le passé."))


def session_create(
    *,
    actor: Actor,
    module: str,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    resources: Sequence[Resource | int] = (),
    description: str = "",
    location: str = "",
    cancel_deadline_hours: int = 24,
    min_notice_minutes: int = 0,
    ignore_closures: bool = False,
) -> Session:
    """A dated session with ``capacity`` seats, holding ``resources`` (room, projector) for its whole length.

    Refused on a closure or a public holiday unless ``ignore_closures``; refused if a resource is taken."""
    with scope(commune=actor.commune), transaction.atomic():
        ensure_capability(actor.user, actor.commune, MANAGE)
        _validate_session(title=title, starts_at=starts_at, ends_at=ends_at, capacity=capacity)
        found = _fetch_resources(resources)
        for resource in found:
            if not resource.is_active:
                raise Closed(_("« %(name)s » n'est pas disponible.") % {"name": resource.name})
        if not ignore_closures:
            reason = closure_reason(
                commune=actor.commune, resources=found, starts_at=starts_at, ends_at=ends_at
            )
            if reason:
                raise Closed(reason)
        session = _new_session(
            actor=actor,
            module=module,
            title=title.strip(),
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=capacity,
            resources=found,
            description=description,
            location=location,
            cancel_deadline_hours=cancel_deadline_hours,
            min_notice_minutes=min_notice_minutes,
        )
        log_for(
            actor,
            "booking.session.created",
            obj=session,
            data={"module": module, "capacity": capacity, "resources": [r.pk for r in found]},
        )
        return session


def session_update(
    *,
    actor: Actor,
    session: Session | int,
    title: str | None = None,
    description: str | None = None,
    location: str | None = None,
    capacity: int | None = None,
    cancel_deadline_hours: int | None = None,
    min_notice_minutes: int | None = None,
) -> Session:
    """Changes what a session says and its number of seats (never below the seats already taken)."""
    with scope(commune=actor.commune), transaction.atomic():
        ensure_capability(actor.user, actor.commune, MANAGE)
        found = _fetch(Session, session, lock=True)
        changed = []
        for name, value in (
            ("title", title),
            ("description", description),
            ("location", location),
            ("cancel_deadline_hours", cancel_deadline_hours),
            ("min_notice_minutes", min_notice_minutes),
        ):
            if value is not None:
                setattr(found, name, value)
                changed.append(name)
        grew = False
        if capacity is not None:
            if capacity < found.booked_count:
                raise InvalidRequest(
                    _("%(n)d places sont déjà prises : la capacité ne peut pas descendre en dessous.")
                    % {"n": found.booked_count}
                )
            grew = capacity > found.capacity
            found.capacity = capacity
            changed.append("capacity")
        if not found.title.strip():
            raise InvalidRequest(_("Donnez un titre à la séance."))
        found.save()
        log_for(actor, "booking.session.updated", obj=found, data={"fields": changed})
        if grew:
            offer_freed_seats(found)
        return found


def session_cancel(*, actor: Actor, session: Session | int, reason: str) -> Session:
    """Cancels a session: every live booking is cancelled and its person told; the resources are freed."""
    with scope(commune=actor.commune), transaction.atomic():
        ensure_capability(actor.user, actor.commune, MANAGE)
        found = _fetch(Session, session, lock=True)
        if found.status == Session.Status.CANCELLED:
            raise SessionCancelled(_("Cette séance est déjà annulée."))
        if not reason.strip():
            raise InvalidRequest(_("Indiquez la raison de l'annulation : elle sera envoyée aux inscrits."))
        now = timezone.now()
        bookings = list(
            Booking.objects.filter(session=found, status__in=Booking.LIVE).select_related("person", "commune")
        )
        for booking in bookings:
            booking.status = Status.CANCELLED
            booking.cancelled_at = now
            booking.cancel_reason = reason.strip()[:300]
            booking.offer_expires_at = None
            booking.save(update_fields=["status", "cancelled_at", "cancel_reason", "offer_expires_at"])
            _notify(booking, "session_cancelled", reason=reason.strip())
        Session.objects.filter(pk=found.pk).update(status=Session.Status.CANCELLED, booked_count=0)
        ResourceClaim.objects.filter(session=found).delete()
        ResourceClaim.objects.filter(booking__in=bookings).delete()
        found.refresh_from_db()
        log_for(
            actor, "booking.session.cancelled", obj=found, data={"reason": reason, "bookings": len(bookings)}
        )
        return found


def series_dates(
    *, weekdays: Sequence[int], first_date: date, last_date: date, interval_weeks: int = 1
) -> list[date]:
    """The dates of a series: the given weekdays, every ``interval_weeks`` weeks from ``first_date``'s week."""
    week0 = first_date - timedelta(days=first_date.weekday())
    out = []
    day = first_date
    while day <= last_date:
        weeks = (day - week0).days // 7
        if day.weekday() in weekdays and weeks % interval_weeks == 0:
            out.append(day)
        day += timedelta(days=1)
    return out


def _validate_series(
    *, weekdays: Sequence[int], duration_minutes: int, first_date: date, last_date: date, interval_weeks: int
) -> list[int]:
    days = sorted({int(d) for d in weekdays})
    if not days or any(d < 0 or d > 6 for d in days):
        raise InvalidRequest(_("Choisissez au moins un jour de la semaine."))
    if duration_minutes <= 0:
        raise InvalidRequest(_("La durée doit être d'au moins une minute."))
    if first_date > last_date:
        raise InvalidRequest(_("La dernière date doit être après la première."))
    if interval_weeks < 1:
        raise InvalidRequest(_("L'intervalle est d'au moins une semaine."))
    if (last_date - first_date).days > 2 * 366:
        raise InvalidRequest(_("Une série dure deux ans au plus."))
    return days


def _generate(
    actor: Actor, series: Series, resources: Sequence[Resource], skip: set[date]
) -> list[tuple[date, str]]:
    """Creates the series' future sessions on its dates, except ``skip``; returns the dates left out and why."""
    skipped: list[tuple[date, str]] = []
    now = timezone.now()
    for day in series_dates(
        weekdays=series.weekdays,
        first_date=series.first_date,
        last_date=series.last_date,
        interval_weeks=series.interval_weeks,
    ):
        if day in skip:
            continue
        starts_at = aware(day, series.start_time)
        ends_at = starts_at + timedelta(minutes=series.duration_minutes)
        if starts_at <= now:
            continue
        reason = closure_reason(
            commune=actor.commune, resources=resources, starts_at=starts_at, ends_at=ends_at
        )
        if reason:
            skipped.append((day, reason))
            continue
        try:
            with transaction.atomic():
                _new_session(
                    actor=actor,
                    module=series.module,
                    title=series.title,
                    description=series.description,
                    location=series.location,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    capacity=series.capacity,
                    resources=resources,
                    cancel_deadline_hours=series.cancel_deadline_hours,
                    min_notice_minutes=series.min_notice_minutes,
                    series=series,
                )
        except SlotTaken as taken:
            raise SlotTaken(
                _("%(date)s : %(why)s") % {"date": _format_day(day), "why": taken.message}
            ) from None
    return skipped


def _format_day(day: date) -> str:
    from django.utils.formats import date_format

    return date_format(day, "l j F Y")


def series_create(
    *,
    actor: Actor,
    module: str,
    title: str,
    weekdays: Sequence[int],
    start_time: time,
    duration_minutes: int,
    first_date: date,
    last_date: date,
    capacity: int,
    interval_weeks: int = 1,
    resources: Sequence[Resource | int] = (),
    description: str = "",
    location: str = "",
    cancel_deadline_hours: int = 24,
    min_notice_minutes: int = 0,
) -> Series:
    """A recurring session and its sessions. Closures and public holidays are skipped (listed in
    ``series.skipped``: ``[(date, reason)]``); a resource already taken on one date refuses the whole series."""
    with scope(commune=actor.commune), transaction.atomic():
        ensure_capability(actor.user, actor.commune, MANAGE)
        days = _validate_series(
            weekdays=weekdays,
            duration_minutes=duration_minutes,
            first_date=first_date,
            last_date=last_date,
            interval_weeks=interval_weeks,
        )
        if not title.strip():
            raise InvalidRequest(_("Donnez un titre à la série."))
        if capacity < 1:
            raise InvalidRequest(_("Il faut au moins une place."))
        found = _fetch_resources(resources)
        series = Series.objects.create(
            commune=actor.commune,
            module=module,
            title=title.strip(),
            description=description,
            location=location,
            weekdays=days,
            start_time=start_time,
            duration_minutes=duration_minutes,
            first_date=first_date,
            last_date=last_date,
            interval_weeks=interval_weeks,
            capacity=capacity,
            cancel_deadline_hours=cancel_deadline_hours,
            min_notice_minutes=min_notice_minutes,
        )
        series.resources.set(found)
        skipped = _generate(actor, series, found, skip=set())
        count = Session.objects.filter(series=series).count()
        log_for(
            actor,
            "booking.series.created",
            obj=series,
            data={"sessions": count, "skipped": [d.isoformat() for d, _r in skipped]},
        )
        series.skipped = skipped  # type: ignore[attr-defined]
        return series


def series_update(
    *,
    actor: Actor,
    series: Series | int,
    title: str | None = None,
    description: str | None = None,
    location: str | None = None,
    weekdays: Sequence[int] | None = None,
    start_time: time | None = None,
    duration_minutes: int | None = None,
    last_date: date | None = None,
    interval_weeks: int | None = None,
    capacity: int | None = None,
) -> Series:
    """Changes a series and regenerates its future sessions. A future session that somebody booked (or waits
    for) is kept as it is; the others are replaced by the new schedule."""
    with scope(commune=actor.commune), transaction.atomic():
        ensure_capability(actor.user, actor.commune, MANAGE)
        found = _fetch(Series, series, lock=True)
        for name, value in (
            ("title", title),
            ("description", description),
            ("location", location),
            ("start_time", start_time),
            ("duration_minutes", duration_minutes),
            ("last_date", last_date),
            ("interval_weeks", interval_weeks),
            ("capacity", capacity),
        ):
            if value is not None:
                setattr(found, name, value)
        if weekdays is not None:
            found.weekdays = list(weekdays)
        found.weekdays = _validate_series(
            weekdays=found.weekdays,
            duration_minutes=found.duration_minutes,
            first_date=found.first_date,
            last_date=found.last_date,
            interval_weeks=found.interval_weeks,
        )
        if found.capacity < 1:
            raise InvalidRequest(_("Il faut au moins une place."))
        found.save()
        now = timezone.now()
        future = Session.objects.filter(series=found, starts_at__gt=now, status=Session.Status.SCHEDULED)
        with_people = set(
            Booking.objects.filter(session__in=future, status__in=Booking.LIVE).values_list(
                "session_id", flat=True
            )
        )
        replaced = [s for s in future if s.pk not in with_people]
        kept_days = {timezone.localtime(s.starts_at).date() for s in future if s.pk in with_people}
        ResourceClaim.objects.filter(session__in=replaced).delete()
        Package.sessions.through.objects.filter(session__in=replaced).delete()
        Booking.objects.filter(session__in=replaced).update(session=None)  # cancelled history keeps its times
        Session.objects.filter(pk__in=[s.pk for s in replaced]).delete()
        skipped = _generate(actor, found, list(found.resources.all()), skip=kept_days)
        log_for(
            actor,
            "booking.series.updated",
            obj=found,
            data={"replaced": len(replaced), "kept": len(kept_days)},
        )
        found.skipped = skipped  # type: ignore[attr-defined]
        return found


def package_create(*, actor: Actor, module: str, title: str, sessions: Sequence[Session | int]) -> Package:
    with scope(commune=actor.commune), transaction.atomic():
        ensure_capability(actor.user, actor.commune, MANAGE)
        if not title.strip():
            raise InvalidRequest(_("Donnez un titre au parcours."))
        found = [_fetch(Session, s) for s in sessions]
        if len(found) < 1:
            raise InvalidRequest(_("Un parcours compte au moins une séance."))
        package = Package.objects.create(commune=actor.commune, module=module, title=title.strip())
        package.sessions.set(found)
        log_for(actor, "booking.package.created", obj=package, data={"sessions": [s.pk for s in found]})
        return package


# ---------------------------------------------------------------------------------------------------------------
# Booking a seat, a package, a slot


def _book_seat(
    *, actor: Actor, session: Session, staff: bool, waitlist: bool, package: Package | None = None
) -> Booking:
    if session.status == Session.Status.CANCELLED:
        raise SessionCancelled()
    _check_timing(
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        min_notice_minutes=session.min_notice_minutes,
        horizon_days=None,
        staff=staff,
    )
    person = actor.subject
    resources = list(session.resources.all())
    if not staff:
        _check_limits(person=person, resources=resources, starts_at=session.starts_at)
    if Booking.objects.filter(person=person, session=session, status__in=Booking.LIVE).exists():
        raise _already_booked(actor)
    took = _take_seat(session.pk)
    if not took and not waitlist:
        raise SessionFull(_("« %(title)s » est complète.") % {"title": session.title})
    booking = Booking(
        commune=actor.commune,
        module=session.module,
        person=person,
        session=session,
        title=session.title,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        status=Status.CONFIRMED if took else Status.WAITLISTED,
        booked_by=actor.user,
        mandate=actor.mandate,
        package=package,
    )
    try:
        with transaction.atomic():
            booking.save(force_insert=True)
    except IntegrityError:
        raise _already_booked(actor) from None
    return booking


def _already_booked(actor: Actor) -> AlreadyBooked:
    if actor.subject.pk != actor.user.pk:
        return AlreadyBooked(_("Cette personne est déjà inscrite à cette séance."))
    return AlreadyBooked()


def session_book(*, actor: Actor, session: Session | int) -> Booking:
    """A seat in ``session`` for ``actor.subject``: confirmed if one is left, otherwise a place on the
    waiting list (status ``waitlisted``). Another commune's session is not found."""
    with scope(commune=actor.commune), transaction.atomic():
        staff = _check_acting(actor)
        found = _fetch(Session, session)
        booking = _book_seat(actor=actor, session=found, staff=staff, waitlist=True)
        confirmed = booking.status == Status.CONFIRMED
        log_for(
            actor,
            "booking.booking.confirmed" if confirmed else "booking.booking.waitlisted",
            obj=booking,
            data={"session": found.pk, "module": found.module},
        )
        _notify(booking, "confirmed" if confirmed else "waitlisted")
        return booking


def package_book(*, actor: Actor, package: Package | int) -> list[Booking]:
    """A seat in every session of the package, or none: if one is full, the person goes on the waiting list
    for the whole package (every booking ``waitlisted``; a freed seat is offered only when all are free)."""
    with scope(commune=actor.commune), transaction.atomic():
        staff = _check_acting(actor)
        found = _fetch(Package, package)
        sessions = list(found.sessions.filter(status=Session.Status.SCHEDULED).order_by("starts_at", "pk"))
        if not sessions:
            raise InvalidRequest(_("Ce parcours n'a pas de séance à venir."))
        bookings: list[Booking] = []
        try:
            with transaction.atomic():
                for session in sessions:
                    bookings.append(
                        _book_seat(actor=actor, session=session, staff=staff, waitlist=False, package=found)
                    )
        except SessionFull:
            bookings = []
            for session in sessions:
                if session.status == Session.Status.CANCELLED:
                    raise SessionCancelled() from None
                if Booking.objects.filter(
                    person=actor.subject, session=session, status__in=Booking.LIVE
                ).exists():
                    raise _already_booked(actor) from None
                booking = Booking(
                    commune=actor.commune,
                    module=found.module,
                    person=actor.subject,
                    session=session,
                    title=session.title,
                    starts_at=session.starts_at,
                    ends_at=session.ends_at,
                    status=Status.WAITLISTED,
                    booked_by=actor.user,
                    mandate=actor.mandate,
                    package=found,
                )
                booking.save(force_insert=True)
                bookings.append(booking)
        confirmed = bookings[0].status == Status.CONFIRMED
        log_for(
            actor,
            "booking.package.confirmed" if confirmed else "booking.package.waitlisted",
            obj=found,
            data={"bookings": [b.pk for b in bookings]},
        )
        _notify(
            bookings[0],
            "package_confirmed" if confirmed else "package_waitlisted",
            package=found,
            bookings=bookings,
        )
        return bookings


def slot_book(
    *,
    actor: Actor,
    resources: Sequence[Resource | int],
    starts_at: datetime,
    ends_at: datetime,
    module: str,
    title: str = "",
) -> Booking:
    """Books several resources together between two times (all or nothing): a machine, a cabinet plus a
    doctor plus a nurse. Checks opening hours, closures, holidays, notice, horizon, per-person limits."""
    with scope(commune=actor.commune), transaction.atomic():
        staff = _check_acting(actor)
        if not resources:
            raise InvalidRequest(_("Choisissez ce que vous voulez réserver."))
        found = _fetch_resources(resources)
        if starts_at >= ends_at:
            raise InvalidRequest(_("L'heure de fin doit être après l'heure de début."))
        _check_timing(
            starts_at=starts_at,
            ends_at=ends_at,
            min_notice_minutes=max(r.min_notice_minutes for r in found),
            horizon_days=min(r.horizon_days for r in found),
            staff=staff,
        )
        _check_open(commune=actor.commune, resources=found, starts_at=starts_at, ends_at=ends_at)
        if not staff:
            _check_limits(person=actor.subject, resources=found, starts_at=starts_at)
        booking = Booking.objects.create(
            commune=actor.commune,
            module=module,
            person=actor.subject,
            title=(title.strip() or ", ".join(r.name for r in found))[:200],
            starts_at=starts_at,
            ends_at=ends_at,
            status=Status.CONFIRMED,
            booked_by=actor.user,
            mandate=actor.mandate,
        )
        booking.resources.set(found)
        claim_resources(
            commune=actor.commune, resources=found, starts_at=starts_at, ends_at=ends_at, booking=booking
        )
        log_for(
            actor,
            "booking.slot.booked",
            obj=booking,
            data={"module": module, "resources": [r.pk for r in found], "starts_at": starts_at.isoformat()},
        )
        _notify(booking, "confirmed")
        return booking


# ---------------------------------------------------------------------------------------------------------------
# Cancelling, the waiting list, offers


def _group(booking: Booking) -> list[Booking]:
    """A booking and, for a package, the person's other live bookings of the same package."""
    if booking.package_id is None:
        return [booking]
    return list(
        Booking.objects.select_for_update()
        .filter(package_id=booking.package_id, person_id=booking.person_id, status=booking.status)
        .order_by("starts_at", "pk")
    )


def _cancel_rows(bookings: Sequence[Booking], reason: str) -> list[int]:
    """Marks bookings cancelled, gives back their seats and resources; returns the sessions with a freed seat."""
    now = timezone.now()
    freed: list[int] = []
    for booking in bookings:
        if booking.holds_seat and booking.session_id:
            _release_seat(booking.session_id)
            freed.append(booking.session_id)
        ResourceClaim.objects.filter(booking=booking).delete()
        booking.status = Status.CANCELLED
        booking.cancelled_at = now
        booking.cancel_reason = reason[:300]
        booking.offer_expires_at = None
        booking.save(update_fields=["status", "cancelled_at", "cancel_reason", "offer_expires_at"])
    return freed


def booking_cancel(*, actor: Actor, booking: Booking | int, reason: str = "") -> Booking:
    """Cancels a booking (for a package: the whole package). The person may do it until the deadline, staff
    always; leaving a waiting list or declining an offer is always possible. The freed seat is offered to the
    next person on the waiting list."""
    with scope(commune=actor.commune), transaction.atomic():
        staff = is_staff(actor)
        found = _own_booking(actor, booking, staff)
        if not found.is_live:
            raise InvalidRequest(_("Cette réservation est déjà annulée ou terminée."))
        _check_deadline(found, staff)
        group = _group(found)
        freed = _cancel_rows(group, reason.strip())
        log_for(
            actor,
            "booking.booking.cancelled",
            obj=found,
            data={"bookings": [b.pk for b in group], "reason": reason.strip()[:300], "by_staff": staff},
        )
        found.refresh_from_db()
        _notify(found, "cancelled", reason=reason.strip())
        for session_id in dict.fromkeys(freed):
            offer_freed_seats(Session.objects.get(pk=session_id))
        return found


def offer_freed_seats(session: Session) -> list[Booking]:
    """Offers the session's free seats to the waiting list, first come first served. The seat is held for the
    person until ``offer_expires_at``. A package waiter is offered only if every session of the package has a
    seat (else the next person is). Runs inside the caller's transaction and scope."""
    now = timezone.now()
    offered: list[Booking] = []
    if session.status != Session.Status.SCHEDULED or session.starts_at <= now:
        return offered
    expires = min(now + timedelta(hours=offer_hours()), session.starts_at)
    waiting = (
        Booking.objects.select_for_update()
        .filter(session_id=session.pk, status=Status.WAITLISTED)
        .select_related("person", "commune")
        .order_by("created_at", "pk")
    )
    for candidate in waiting:
        if not _take_seat(session.pk):
            break
        group = [candidate]
        if candidate.package_id:
            others = list(
                Booking.objects.select_for_update()
                .filter(
                    package_id=candidate.package_id, person_id=candidate.person_id, status=Status.WAITLISTED
                )
                .exclude(pk=candidate.pk)
            )
            try:
                with transaction.atomic():
                    for other in others:
                        if not _take_seat(other.session_id):  # type: ignore[arg-type]
                            raise SessionFull()
            except SessionFull:
                _release_seat(session.pk)
                continue
            group += others
        for booking in group:
            booking.status = Status.OFFERED
            booking.offer_expires_at = expires
            booking.save(update_fields=["status", "offer_expires_at"])
        log_action(
            "booking.offer.made",
            commune=session.commune,
            actor=None,
            obj=candidate,
            data={
                "session": session.pk,
                "expires_at": expires.isoformat(),
                "bookings": [b.pk for b in group],
            },
        )
        _notify(candidate, "offered", expires_at=expires)
        offered.append(candidate)
    return offered


def offer_accept(*, actor: Actor, booking: Booking | int) -> Booking:
    """The person takes the seat offered to them (the whole package if it is one)."""
    with scope(commune=actor.commune), transaction.atomic():
        staff = is_staff(actor)
        found = _own_booking(actor, booking, staff)
        if found.status != Status.OFFERED:
            raise InvalidRequest(_("Aucune place ne vous est proposée pour cette séance en ce moment."))
        if found.offer_expires_at is not None and found.offer_expires_at <= timezone.now():
            raise DeadlinePassed(_("Le délai pour accepter cette place est dépassé."))
        group = _group(found)
        for item in group:
            item.status = Status.CONFIRMED
            item.offer_expires_at = None
            item.save(update_fields=["status", "offer_expires_at"])
        log_for(actor, "booking.offer.accepted", obj=found, data={"bookings": [b.pk for b in group]})
        found.refresh_from_db()
        _notify(found, "confirmed")
        return found


def expire_offers() -> int:
    """Ticker: offers not accepted in time are withdrawn and the seat goes to the next person. Safe with
    several workers (rows locked with SKIP LOCKED where the database has it). Returns how many expired."""
    from django.db import connection

    now = timezone.now()
    expired = 0
    with scopes_disabled():
        due = list(
            Booking.objects.filter(status=Status.OFFERED, offer_expires_at__lte=now)
            .order_by("offer_expires_at", "pk")
            .values_list("pk", "commune_id")
        )
    for pk, commune_id in due:
        commune = Commune.objects.get(pk=commune_id)
        with scope(commune=commune), transaction.atomic():
            qs = Booking.objects.filter(pk=pk, status=Status.OFFERED, offer_expires_at__lte=now)
            if connection.features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True)
            booking = qs.select_related("person", "commune").first()
            if booking is None:
                continue  # another worker has it, or it was accepted meanwhile
            group = _group(booking)
            freed = _cancel_rows(group, str(_("Place proposée non acceptée à temps")))
            log_action(
                "booking.offer.expired",
                commune=commune,
                actor=None,
                obj=booking,
                data={"bookings": [b.pk for b in group]},
            )
            _notify(booking, "offer_expired")
            for session_id in dict.fromkeys(freed):
                offer_freed_seats(Session.objects.get(pk=session_id))
            expired += 1
    return expired


# ---------------------------------------------------------------------------------------------------------------
# Moving a booking, attendance


def booking_modify(
    *,
    actor: Actor,
    booking: Booking | int,
    session: Session | int | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> Booking:
    """Moves a booking: to another session of the same service (a seat must be free there: no waiting list
    on a move), or a resource booking to other times (same resources). Until the deadline for the person,
    always for staff. The old seat is offered to the waiting list. Returns the booking now valid."""
    with scope(commune=actor.commune), transaction.atomic():
        staff = is_staff(actor)
        found = _own_booking(actor, booking, staff)
        if found.status not in (Status.CONFIRMED, Status.REQUESTED):
            raise InvalidRequest(_("Seule une réservation confirmée peut être déplacée."))
        _check_deadline(found, staff)
        if found.package_id:
            raise InvalidRequest(
                _(
                    "Une séance d'un parcours ne se déplace pas seule : annulez le parcours ou appelez la mairie."
                )
            )
        if found.session_id:
            if session is None:
                raise InvalidRequest(_("Choisissez la nouvelle séance."))
            target = _fetch(Session, session)
            if target.pk == found.session_id:
                raise InvalidRequest(_("C'est déjà la séance réservée."))
            if target.module != found.module:
                raise InvalidRequest(
                    _("On ne peut déplacer une réservation que vers une séance du même service.")
                )
            person_actor = Actor(
                user=actor.user, commune=actor.commune, subject=found.person, mandate=actor.mandate
            )
            old_session_id = found.session_id
            freed = _cancel_rows([found], str(_("Déplacée vers une autre séance")))
            new = _book_seat(actor=person_actor, session=target, staff=staff, waitlist=False)
            log_for(
                actor,
                "booking.booking.moved",
                obj=new,
                data={"from_booking": found.pk, "from_session": old_session_id, "to_session": target.pk},
            )
            _notify(new, "moved")
            for session_id in freed:
                offer_freed_seats(Session.objects.get(pk=session_id))
            return new
        if starts_at is None or ends_at is None:
            raise InvalidRequest(_("Choisissez le nouveau créneau."))
        if starts_at >= ends_at:
            raise InvalidRequest(_("L'heure de fin doit être après l'heure de début."))
        resources = list(found.resources.all())
        _check_timing(
            starts_at=starts_at,
            ends_at=ends_at,
            min_notice_minutes=max((r.min_notice_minutes for r in resources), default=0),
            horizon_days=min((r.horizon_days for r in resources), default=None),
            staff=staff,
        )
        _check_open(commune=actor.commune, resources=resources, starts_at=starts_at, ends_at=ends_at)
        if not staff:
            _check_limits(person=found.person, resources=resources, starts_at=starts_at, exclude=found)
        old = (found.starts_at, found.ends_at)
        ResourceClaim.objects.filter(booking=found).delete()
        claim_resources(
            commune=actor.commune, resources=resources, starts_at=starts_at, ends_at=ends_at, booking=found
        )
        found.starts_at, found.ends_at, found.reminded_at = starts_at, ends_at, None
        found.save(update_fields=["starts_at", "ends_at", "reminded_at"])
        log_for(
            actor,
            "booking.booking.moved",
            obj=found,
            data={
                "from": [old[0].isoformat(), old[1].isoformat()],
                "to": [starts_at.isoformat(), ends_at.isoformat()],
            },
        )
        _notify(found, "moved")
        return found


def attendance_mark(*, actor: Actor, booking: Booking | int, attended: bool) -> Booking:
    """Staff mark a person present or absent, from the day of the session on."""
    with scope(commune=actor.commune), transaction.atomic():
        ensure_capability(actor.user, actor.commune, MANAGE)
        found = _fetch(Booking, booking, lock=True)
        if found.status not in (Status.CONFIRMED, Status.REQUESTED, Status.ATTENDED, Status.NO_SHOW):
            raise InvalidRequest(_("Seule une réservation confirmée peut être pointée."))
        if timezone.localtime(found.starts_at).date() > timezone.localdate():
            raise InvalidRequest(_("La présence se note à partir du jour de la séance."))
        found.status = Status.ATTENDED if attended else Status.NO_SHOW
        found.save(update_fields=["status"])
        log_for(actor, "booking.attendance.marked", obj=found, data={"attended": attended})
        return found


# ---------------------------------------------------------------------------------------------------------------
# Reminders


def send_reminders() -> int:
    """Ticker: confirmed bookings starting in 20 to 28 hours and not reminded yet get a reminder on the
    person's channels. Each row is locked (SKIP LOCKED where available) so two workers never both send."""
    from django.db import connection

    now = timezone.now()
    window = (now + timedelta(hours=20), now + timedelta(hours=28))
    sent = 0
    with scopes_disabled():
        due = list(
            Booking.objects.filter(
                status=Status.CONFIRMED,
                reminded_at__isnull=True,
                starts_at__gte=window[0],
                starts_at__lte=window[1],
            )
            .order_by("starts_at", "pk")
            .values_list("pk", "commune_id")
        )
    communes: dict[int, Commune] = {}
    for pk, commune_id in due:
        if commune_id not in communes:
            communes[commune_id] = Commune.objects.get(pk=commune_id)
        commune = communes[commune_id]
        with scope(commune=commune), transaction.atomic():
            qs = Booking.objects.filter(pk=pk, status=Status.CONFIRMED, reminded_at__isnull=True)
            if connection.features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True, of=("self",))
            booking = qs.select_related("person", "commune").first()
            if booking is None:
                continue
            booking.reminded_at = now
            booking.save(update_fields=["reminded_at"])
            _notify(booking, "reminder")
            log_action("booking.reminder.sent", commune=commune, actor=None, obj=booking)
            sent += 1
    return sent


@transaction.atomic
def calendar_feed_renew(*, actor: Actor) -> int:
    """A new calendar link for the person acted for; every older link stops working. Returns the generation."""
    from .models import CalendarFeedKey

    key, _created = CalendarFeedKey.objects.select_for_update().get_or_create(
        commune=actor.commune, person=actor.subject
    )
    key.generation += 1
    key.renewed_at = timezone.now()
    key.save(update_fields=["generation", "renewed_at"])
    log_for(actor, "booking.feed.renewed", obj=actor.subject, data={"generation": key.generation})
    return key.generation
