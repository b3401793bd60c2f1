from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .permissions import has_capability, roles_of

DISPLAY_COOKIE = "mairie_affichage"
DISPLAY_CHOICES = ("large", "contrast")


def display_preferences(request: HttpRequest) -> list[str]:
    raw = request.COOKIES.get(DISPLAY_COOKIE, "")
    return [item for item in raw.split("-") if item in DISPLAY_CHOICES]


def platform(request: HttpRequest) -> dict[str, Any]:
    commune = getattr(request, "commune", None)
    user = getattr(request, "user", None)
    roles = roles_of(user, commune) if user is not None else frozenset()
    return {
        "platform_name": settings.MAIRIE_PLATFORM_NAME,
        "commune": commune,
        "actor": getattr(request, "actor", None),
        "my_roles": roles,
        "is_staff_here": bool(commune and user and has_capability(user, commune, "core.staff_area")),
        "display_classes": " ".join(f"display-{item}" for item in display_preferences(request)),
    }
