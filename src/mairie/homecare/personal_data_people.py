"""What the people-facing side of homecare keeps about a person: the services they asked the town hall for, the
commands they sent to their devices, and their tablet's link."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext

from mairie.core.models import Commune, User
from mairie.homecare.models import DeviceCommand, Home, ServiceRequest, TabletKey


def service_requests_data(user: User, commune: Commune) -> list[dict[str, Any]]:
    return [
        {
            gettext("Date"): item.created_at,
            gettext("Service"): item.get_kind_display(),
            gettext("Précisions"): item.message,
            gettext("Pour le"): item.wanted_on,
            gettext("État"): item.get_state_display(),
            gettext("Réponse"): item.answer,
        }
        for item in ServiceRequest.objects.filter(commune=commune, person=user).order_by("-created_at")
    ]


def erase(user: User, commune: Commune) -> None:
    """The person's requests go (the town hall's answers with them), their commands no longer name them, and the
    tablet links of their home stop working."""
    ServiceRequest.objects.filter(commune=commune, person=user).delete()
    DeviceCommand.objects.filter(commune=commune, requested_by=user).update(requested_by=None)
    for home in Home.objects.filter(commune=commune, resident=user):
        key, _created = TabletKey.objects.get_or_create(home=home, defaults={"commune_id": commune.pk})
        TabletKey.objects.filter(pk=key.pk).update(version=key.version + 1)
