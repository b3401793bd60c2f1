"""The booking engine's objects for the URL walks (role × URL matrix, commune isolation, bad input)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from django.db import models
from django.utils import timezone

from mairie.booking.models import Booking, Resource, Session
from tests.urlwalk import PARAM_KINDS, CommuneWorld, register_world_builder

PARAM_KINDS.update(
    {
        "booking_id": "booking",
        "booking_session_id": "booking_session",
        "booking_resource_id": "booking_resource",
    }
)


@register_world_builder
def booking_objects(world: CommuneWorld) -> Mapping[str, models.Model]:
    """A resource of a module the commune has on, a session, and the resident's booking of it."""
    commune = world.commune
    module = (commune.enabled_modules or ["booking"])[0]
    start = timezone.now() + timedelta(days=3)
    resource = Resource.objects.create(commune=commune, module=module, name=f"Salle {commune.name}")
    session = Session.objects.create(
        commune=commune,
        module=module,
        title="Atelier smartphone",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        capacity=8,
        booked_count=1,
    )
    booking = Booking.objects.create(
        commune=commune,
        module=module,
        person=world.resident,
        session=session,
        title=session.title,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        booked_by=world.resident,
    )
    return {"booking": booking, "booking_session": session, "booking_resource": resource}
