"""Builders for Numéripôle tests, through the product's own services."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from mairie.booking.holidays import holiday_name
from mairie.core.acting import Actor
from mairie.inclusion.models import Theme, Workshop, WorkshopSession
from mairie.inclusion.services.catalogue import workshop_save
from mairie.inclusion.services.sessions import course_create, workshop_session_create


def in_days(days: int, hour: int = 14) -> datetime:
    """``hour`` o'clock, ``days`` from today, moved past a public holiday (the booking engine closes them)."""
    day = timezone.localdate() + timedelta(days=days)
    while holiday_name(day):
        day += timedelta(days=1)
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, 0))


def make_workshop(actor: Actor, theme: Theme, **fields: Any) -> Workshop:
    values: dict[str, Any] = {
        "title": "Premiers pas avec son smartphone",
        "theme": theme,
        "level": 1,
        "summary": "Allumer, appeler, envoyer un message.",
        "duration_minutes": 120,
        "default_capacity": 8,
        "skills": ["2.1", "5.2"],
    }
    values.update(fields)
    return workshop_save(actor=actor, **values)


def make_session(actor: Actor, workshop: Workshop, *, days: int = 3, **fields: Any) -> WorkshopSession:
    # Weekdays only: the booking engine refuses public holidays, not weekends; keep hours in the afternoon.
    return workshop_session_create(actor=actor, workshop=workshop, starts_at=in_days(days), **fields)


def make_course(
    actor: Actor, workshop: Workshop, *, first_day: int = 3, **fields: Any
) -> list[WorkshopSession]:
    starts = [in_days(first_day + 7 * i) for i in range(workshop.sessions_per_course)]
    return course_create(actor=actor, workshop=workshop, starts=starts, **fields)


def text(response: Any) -> str:
    """The page as a person reads it (entities such as ``&#x27;`` turned back into characters)."""
    import html

    return html.unescape(response.content.decode())
