"""Reads for the catalogue pages: a constant number of queries, whatever the number of sessions."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from mairie.booking.models import Booking, Session
from mairie.core.models import Commune, User
from mairie.inclusion.models import Equipment, Theme, Workshop, WorkshopSession


def upcoming_sessions(
    commune: Commune, *, theme_id: int | None = None, level: int | None = None, now: datetime | None = None
) -> QuerySet[WorkshopSession]:
    """Published workshops' sessions not yet over, soonest first, with workshop, theme and seats in one query."""
    now = now or timezone.now()
    sessions = WorkshopSession.objects.filter(
        commune=commune,
        workshop__is_published=True,
        session__status=Session.Status.SCHEDULED,
        session__ends_at__gt=now,
    )
    if theme_id:
        sessions = sessions.filter(workshop__theme_id=theme_id)
    if level:
        sessions = sessions.filter(workshop__level=level)
    return sessions.select_related("workshop__theme", "session").order_by("session__starts_at", "pk")


def themes(commune: Commune) -> list[Theme]:
    return list(Theme.objects.filter(commune=commune))


def published_workshops(commune: Commune) -> QuerySet[Workshop]:
    now = timezone.now()
    return (
        Workshop.objects.filter(commune=commune, is_published=True)
        .select_related("theme")
        .annotate(
            upcoming=Count(
                "sessions",
                filter=Q(
                    sessions__session__ends_at__gt=now, sessions__session__status=Session.Status.SCHEDULED
                ),
            )
        )
    )


def workshop(commune: Commune, pk: int, *, published_only: bool = True) -> Workshop:
    found = Workshop.objects.filter(commune=commune, pk=pk).select_related("theme").first()
    if found is None or (published_only and not found.is_published):
        raise Http404
    return found


def workshop_session(commune: Commune, pk: int, *, published_only: bool = True) -> WorkshopSession:
    found = (
        WorkshopSession.objects.filter(commune=commune, pk=pk)
        .select_related("workshop__theme", "session", "package", "mediator")
        .first()
    )
    if found is None or (published_only and not found.workshop.is_published):
        raise Http404
    return found


def course_sessions(ws: WorkshopSession) -> list[WorkshopSession]:
    """The sessions of the course ``ws`` belongs to (itself alone if it is not part of one)."""
    if not ws.package_id:
        return [ws]
    return list(
        WorkshopSession.objects.filter(package_id=ws.package_id)
        .select_related("session")
        .order_by("session__starts_at")
    )


def live_booking(ws: WorkshopSession, person: User) -> Booking | None:
    """The person's current registration to this session (confirmed, waiting, offered), if any."""
    return (
        Booking.objects.filter(session_id=ws.session_id, person=person, status__in=Booking.LIVE)
        .order_by("-created_at")
        .first()
    )


def equipment_list(commune: Commune) -> QuerySet[Equipment]:
    return Equipment.objects.filter(commune=commune, is_active=True).select_related(
        "required_workshop", "resource"
    )


def equipment_item(commune: Commune, pk: int) -> Equipment:
    found = equipment_list(commune).filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def with_open_loans(items: QuerySet[Equipment]) -> QuerySet[Equipment]:
    from mairie.inclusion.models import Loan

    return items.prefetch_related(
        Prefetch(
            "loans",
            queryset=Loan.objects.filter(returned_at__isnull=True).select_related("borrower"),
            to_attr="open_loans",
        )
    )
