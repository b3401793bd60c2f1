"""Reads of the booking engine. Callers are inside the commune's scope (a request, or a task that entered it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone
from django_scopes import scope

from mairie.core.models import Commune, User

from .holidays import holiday_name
from .models import Booking, Closure, Resource, ResourceClaim, Session
from .timeutils import aware, granules, local_day_bounds


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime

    @property
    def key(self) -> str:
        """A stable form value for this slot (ISO start in UTC)."""
        return self.starts_at.astimezone(UTC).isoformat()


def _rules_for_day(resource: Resource, day: date) -> list:  # type: ignore[type-arg]
    return [
        rule
        for rule in resource.opening_rules.all()
        if rule.weekday == day.weekday()
        and (rule.valid_from is None or rule.valid_from <= day)
        and (rule.valid_until is None or day <= rule.valid_until)
    ]


def free_slots(
    resource: Resource, day: date, *, staff: bool = False, others: tuple[Resource, ...] = ()
) -> list[Slot]:
    """The bookable slots of ``resource`` on ``day`` (local date): its opening hours cut in ``slot_minutes``,
    minus closures and public holidays (unless the rule opens on holidays), minus the times held by claims
    (buffers included), minus what is too soon (minimum notice) or too far (horizon), and never in the past.
    ``staff`` ignores notice and horizon, as the services do. ``others`` must be free at the same time too
    (a teleconsultation: the cabinet plus the doctor plus the nurse)."""
    if not resource.is_active or any(not o.is_active for o in others):
        return []
    now = timezone.now()
    if not staff:
        horizon = min([resource.horizon_days, *[o.horizon_days for o in others]])
        if day > timezone.localdate(now) + timedelta(days=horizon):
            return []
    notice = 0 if staff else max([resource.min_notice_minutes, *[o.min_notice_minutes for o in others]])
    earliest = now + timedelta(minutes=notice)
    rules = _rules_for_day(resource, day)
    if not rules:
        return []
    holiday = holiday_name(day)
    day_start, day_end = local_day_bounds(day)
    everyone = (resource, *others)
    closures = list(
        Closure.objects.filter(commune_id=resource.commune_id, starts_at__lt=day_end, ends_at__gt=day_start)
        .filter(Q(resource__isnull=True) | Q(resource__in=everyone))
        .values_list("starts_at", "ends_at")
    )
    margin = timedelta(hours=12)
    claimed: dict[int, set[datetime]] = {r.pk: set() for r in everyone}
    for resource_id, moment in ResourceClaim.objects.filter(
        resource__in=everyone, starts_at__gte=day_start - margin, starts_at__lt=day_end + margin
    ).values_list("resource_id", "starts_at"):
        claimed[resource_id].add(moment)
    other_rules = {o.pk: _rules_for_day(o, day) for o in others}
    all_rules_of_others = {o.pk: list(o.opening_rules.all()) for o in others}
    step = timedelta(minutes=resource.slot_minutes)
    slots: dict[datetime, Slot] = {}
    for rule in rules:
        if holiday and not rule.open_on_public_holidays:
            continue
        start = aware(day, rule.start_time)
        end = aware(day, rule.end_time)
        while start + step <= end:
            slot = Slot(start, start + step)
            start += step
            if slot.starts_at < earliest or slot.starts_at <= now:
                continue
            if any(c_start < slot.ends_at and c_end > slot.starts_at for c_start, c_end in closures):
                continue
            if not _free(resource, slot, claimed[resource.pk]):
                continue
            if not all(
                _open_for(o, slot, other_rules[o.pk], bool(all_rules_of_others[o.pk]), holiday)
                and _free(o, slot, claimed[o.pk])
                for o in others
            ):
                continue
            slots[slot.starts_at] = slot
    return [slots[key] for key in sorted(slots)]


def _free(resource: Resource, slot: Slot, claimed: set[datetime]) -> bool:
    span = granules(
        slot.starts_at - timedelta(minutes=resource.buffer_before_minutes),
        slot.ends_at + timedelta(minutes=resource.buffer_after_minutes),
    )
    return not any(g in claimed for g in span)


def _open_for(resource: Resource, slot: Slot, rules: list, has_rules: bool, holiday: str | None) -> bool:  # type: ignore[type-arg]
    if not has_rules:
        return not holiday
    start, end = timezone.localtime(slot.starts_at).time(), timezone.localtime(slot.ends_at).time()
    return any(
        r.start_time <= start and end <= r.end_time and (not holiday or r.open_on_public_holidays)
        for r in rules
    )


def sessions_with_seats(module: str | None = None) -> QuerySet[Session]:
    """Upcoming scheduled sessions that still have a free seat, soonest first."""
    qs = Session.objects.filter(
        status=Session.Status.SCHEDULED, starts_at__gt=timezone.now(), booked_count__lt=F("capacity")
    )
    if module:
        qs = qs.filter(module=module)
    return qs.order_by("starts_at", "pk")


def upcoming_sessions(module: str | None = None) -> QuerySet[Session]:
    qs = Session.objects.filter(status=Session.Status.SCHEDULED, ends_at__gt=timezone.now())
    if module:
        qs = qs.filter(module=module)
    return qs.order_by("starts_at", "pk")


def bookings_of(person: User) -> QuerySet[Booking]:
    """A person's bookings in the current commune, with what pages need (no query per row)."""
    return (
        Booking.objects.filter(person=person)
        .select_related("session", "package")
        .prefetch_related(Prefetch("resources", queryset=Resource.objects.order_by("name")))
        .order_by("starts_at", "pk")
    )


def my_bookings(person: User) -> dict[str, list[Booking]]:
    """ "Mes réservations": upcoming (confirmed, offered, waiting), and the recent past (last 90 days)."""
    now = timezone.now()
    rows = list(bookings_of(person).filter(ends_at__gte=now - timedelta(days=90)))
    upcoming = [b for b in rows if b.ends_at > now and b.status != Booking.Status.CANCELLED]
    offered = [b for b in upcoming if b.status == Booking.Status.OFFERED]
    waiting = [b for b in upcoming if b.status == Booking.Status.WAITLISTED]
    confirmed = [b for b in upcoming if b.status not in (Booking.Status.OFFERED, Booking.Status.WAITLISTED)]
    past = [b for b in rows if b not in upcoming]
    past.sort(key=lambda b: b.starts_at, reverse=True)
    return {"offered": offered, "confirmed": confirmed, "waiting": waiting, "past": past}


def waiting_list(session: Session) -> QuerySet[Booking]:
    """The people waiting for a seat, in the order they will be offered one."""
    return (
        Booking.objects.filter(session=session, status=Booking.Status.WAITLISTED)
        .select_related("person")
        .order_by("created_at", "pk")
    )


def session_roster(session: Session) -> QuerySet[Booking]:
    """Everyone booked in a session (for the staff: attendance)."""
    return (
        Booking.objects.filter(session=session)
        .exclude(status=Booking.Status.CANCELLED)
        .select_related("person", "booked_by")
        .order_by("status", "created_at", "pk")
    )


def bookings_during(*, start: datetime, end: datetime, resource: Resource | None = None) -> QuerySet[Booking]:
    """Live bookings between two times (a closure announced: whom to call)."""
    qs = Booking.objects.filter(status__in=Booking.LIVE, starts_at__lt=end, ends_at__gt=start)
    if resource is not None:
        qs = qs.filter(Q(resources=resource) | Q(session__resources=resource)).distinct()
    return qs.select_related("person", "session")


def resource_agenda(resource: Resource, *, start: datetime, end: datetime) -> QuerySet[Booking]:
    """Bookings holding a resource (directly or through their session), for its calendar feed."""
    return (
        Booking.objects.filter(starts_at__lt=end, ends_at__gt=start)
        .filter(status__in=Booking.HOLDS_SEAT)
        .filter(Q(resources=resource) | Q(session__resources=resource))
        .select_related("session", "person")
        .distinct()
        .order_by("starts_at", "pk")
    )


def resource_sessions(resource: Resource, *, start: datetime, end: datetime) -> QuerySet[Session]:
    return Session.objects.filter(
        resources=resource, status=Session.Status.SCHEDULED, starts_at__lt=end, ends_at__gt=start
    ).order_by("starts_at", "pk")


def bookings_of_anyone() -> QuerySet[Booking]:
    """Every booking of the current commune, with what a page about one booking needs."""
    return Booking.objects.select_related("session", "package", "person", "commune").prefetch_related(
        "resources"
    )


def feed_generation(person: User, commune: Commune) -> int:
    """The generation of ``person``'s calendar link in ``commune`` (0 until they first renew it)."""
    from .models import CalendarFeedKey

    with scope(commune=commune):
        found = CalendarFeedKey.objects.filter(person=person).values_list("generation", flat=True).first()
    return found or 0
