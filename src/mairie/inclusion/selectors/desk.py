"""Reads for the mediator's pages. Each takes the commune; the views check the capability."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from mairie.booking.models import Booking, Session
from mairie.core import backoffice
from mairie.core.models import Commune, User
from mairie.inclusion.models import Accompaniment, Equipment, Loan, Participation, WorkshopSession


def sessions_between(commune: Commune, start: datetime, end: datetime) -> QuerySet[WorkshopSession]:
    return (
        WorkshopSession.objects.filter(
            commune=commune, session__starts_at__gte=start, session__starts_at__lt=end
        )
        .select_related("workshop__theme", "session", "mediator")
        .order_by("session__starts_at", "pk")
    )


def recent_sessions_without_roll_call(commune: Commune, *, days: int = 14) -> QuerySet[WorkshopSession]:
    """Sessions of the last days (already started) whose attendance was not taken yet."""
    now = timezone.now()
    return (
        sessions_between(commune, now - timedelta(days=days), now)
        .filter(
            session__status=Session.Status.SCHEDULED, accompaniment__isnull=True, session__booked_count__gt=0
        )
        .exclude(workshop__kind="drop_in")
    )


def records_to_complete(commune: Commune) -> QuerySet[Accompaniment]:
    return (
        Accompaniment.objects.filter(commune=commune, completed_at__isnull=True)
        .select_related("theme", "workshop_session")
        .annotate(people=Count("participations"))
        .order_by("-date", "-pk")
    )


def records(commune: Commune) -> QuerySet[Accompaniment]:
    return (
        Accompaniment.objects.filter(commune=commune)
        .select_related("theme", "mediator")
        .annotate(people=Count("participations"))
        .order_by("-date", "-pk")
    )


def record(commune: Commune, pk: int) -> Accompaniment:
    found = (
        Accompaniment.objects.filter(commune=commune, pk=pk)
        .select_related("theme", "workshop_session__session", "mediator")
        .prefetch_related(
            Prefetch(
                "participations",
                queryset=Participation.objects.select_related("beneficiary__user").order_by("pk"),
            ),
            "equipment",
        )
        .first()
    )
    if found is None:
        raise Http404
    return found


def roster(ws: WorkshopSession) -> list[Booking]:
    return list(
        Booking.objects.filter(session_id=ws.session_id)
        .exclude(status=Booking.Status.CANCELLED)
        .select_related("person", "booked_by")
        .order_by("created_at", "pk")
    )


def dropin_visits(ws: WorkshopSession) -> list[Participation]:
    return list(
        Participation.objects.filter(accompaniment__workshop_session=ws)
        .select_related("beneficiary__user")
        .order_by("checked_in_at", "pk")
    )


def open_loans(commune: Commune) -> QuerySet[Loan]:
    return (
        Loan.objects.filter(commune=commune, returned_at__isnull=True)
        .select_related("equipment", "borrower")
        .order_by("due_on", "pk")
    )


def loan(commune: Commune, pk: int) -> Loan:
    found = Loan.objects.filter(commune=commune, pk=pk).select_related("equipment", "borrower").first()
    if found is None:
        raise Http404
    return found


def all_equipment(commune: Commune) -> QuerySet[Equipment]:
    return (
        Equipment.objects.filter(commune=commune)
        .select_related("required_workshop", "resource")
        .prefetch_related(
            Prefetch(
                "loans",
                queryset=Loan.objects.filter(returned_at__isnull=True).select_related("borrower"),
                to_attr="open_loans",
            )
        )
    )


def equipment(commune: Commune, pk: int) -> Equipment:
    found = all_equipment(commune).filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def loans_of(item: Equipment, limit: int = 20) -> list[Loan]:
    return list(
        Loan.objects.filter(equipment=item).select_related("borrower").order_by("-starts_on", "-pk")[:limit]
    )


def people(viewer: User, commune: Commune, query: str, limit: int = 15) -> list[User]:
    """Residents matching ``query`` (name, phone…), for the desk's "who is it?" steps."""
    if not query.strip():
        return []
    return list(backoffice.residents(viewer, commune, query=query)[:limit])


def person(viewer: User, commune: Commune, user_id: object) -> User | None:
    """A resident of this commune by id, or None (another commune's id, or garbage)."""
    try:
        pk = int(str(user_id))
    except (TypeError, ValueError):
        return None
    found = backoffice.residents(viewer, commune).filter(pk=pk).first()
    return found
