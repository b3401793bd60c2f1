"""Sessions of a workshop and registrations: the booking engine does the seats, this adds the catalogue.

A workshop session IS a ``booking.Session`` (module "inclusion"); a course's sessions are one
``booking.Package``; a registration IS a ``booking.Booking`` made by ``booking.services.session_book`` or
``package_book``. Nothing here counts seats.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction

from mairie.booking import services as booking
from mairie.booking.models import Booking
from mairie.core.acting import Actor, log_for
from mairie.core.models import User
from mairie.inclusion.errors import InclusionError
from mairie.inclusion.models import Workshop, WorkshopSession
from mairie.inclusion.registry import MODULE_KEY
from mairie.inclusion.services.beneficiaries import beneficiary_for
from mairie.inclusion.services.common import ensure_manager


def _check_mediator(actor: Actor, mediator: User | None) -> None:
    from mairie.core.permissions import has_capability

    if mediator is not None and not has_capability(mediator, actor.commune, "inclusion.manage"):
        raise InclusionError("Cette personne n'anime pas au Numéripôle.", field="mediator")


def _create_one(
    *, actor: Actor, workshop: Workshop, starts_at: datetime, capacity: int, place: str, mediator: User | None
) -> WorkshopSession:
    session = booking.session_create(
        actor=actor,
        module=MODULE_KEY,
        title=workshop.title,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=workshop.duration_minutes),
        capacity=capacity,
        description=workshop.summary,
        location=place,
    )
    return WorkshopSession.objects.create(
        commune=actor.commune, workshop=workshop, session=session, place=place, mediator=mediator
    )


@transaction.atomic
def workshop_session_create(
    *,
    actor: Actor,
    workshop: Workshop,
    starts_at: datetime,
    capacity: int | None = None,
    place: str = "",
    mediator: User | None = None,
) -> WorkshopSession:
    """One session of a single-session workshop (or of a drop-in). Refused in the past, on a closure…"""
    ensure_manager(actor)
    if workshop.is_course:
        raise InclusionError(
            f"Cet atelier est un parcours de {workshop.sessions_per_course} séances : donnez toutes les dates.",
            field="starts_at",
        )
    _check_mediator(actor, mediator)
    created = _create_one(
        actor=actor,
        workshop=workshop,
        starts_at=starts_at,
        capacity=capacity or workshop.default_capacity,
        place=place,
        mediator=mediator,
    )
    log_for(actor, "inclusion.session.created", obj=created, data={"workshop": workshop.pk})
    return created


@transaction.atomic
def course_create(
    *,
    actor: Actor,
    workshop: Workshop,
    starts: Sequence[datetime],
    capacity: int | None = None,
    place: str = "",
    mediator: User | None = None,
) -> list[WorkshopSession]:
    """All the sessions of a course, booked together as one ``booking.Package``."""
    ensure_manager(actor)
    _check_mediator(actor, mediator)
    dates = sorted(starts)
    if len(dates) != workshop.sessions_per_course:
        raise InclusionError(
            f"Ce parcours compte {workshop.sessions_per_course} séances : donnez {workshop.sessions_per_course} dates.",
            field="starts",
        )
    for before, after in itertools.pairwise(dates):
        if after < before + timedelta(minutes=workshop.duration_minutes):
            raise InclusionError("Deux séances du parcours se chevauchent.", field="starts")
    created = [
        _create_one(
            actor=actor,
            workshop=workshop,
            starts_at=start,
            capacity=capacity or workshop.default_capacity,
            place=place,
            mediator=mediator,
        )
        for start in dates
    ]
    package = booking.package_create(
        actor=actor, module=MODULE_KEY, title=workshop.title, sessions=[ws.session for ws in created]
    )
    WorkshopSession.objects.filter(pk__in=[ws.pk for ws in created]).update(package=package)
    for ws in created:
        ws.package = package
    log_for(
        actor,
        "inclusion.course.created",
        obj=package,
        data={"workshop": workshop.pk, "sessions": len(created)},
    )
    return created


@transaction.atomic
def register(*, actor: Actor, workshop_session: WorkshopSession) -> list[Booking]:
    """Registers ``actor.subject`` (the resident, or the person a mediator acts for at the desk).

    A course is booked whole (its package). Full: a place on the waiting list. The person's Numéripôle
    profile is made on first registration (commune of residence from their account).
    """
    if workshop_session.workshop.is_drop_in:
        raise InclusionError(
            "Pas besoin de s'inscrire à l'accès libre : venez quand vous voulez pendant l'horaire."
        )
    if not workshop_session.workshop.is_published:
        raise InclusionError("Cet atelier n'est plus proposé.")
    beneficiary_for(commune=actor.commune, user=actor.subject)
    if workshop_session.package_id:
        return booking.package_book(actor=actor, package=workshop_session.package_id)
    return [booking.session_book(actor=actor, session=workshop_session.session_id)]
