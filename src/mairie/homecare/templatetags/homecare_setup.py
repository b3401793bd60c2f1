"""``{% load homecare_setup %}{% can_set_up_homes home as allowed %}``: whether to offer the link to a home's
setup page (the console spans communes: only for a home of the commune of this page, whose setup pages these are)."""

from __future__ import annotations

from typing import Any

from django import template

from mairie.core.permissions import has_capability
from mairie.homecare.home_setup import MANAGE
from mairie.homecare.models import Home

register = template.Library()


@register.simple_tag(takes_context=True)
def can_set_up_homes(context: dict[str, Any], home: Home) -> bool:
    request = context.get("request")
    commune = getattr(request, "commune", None)
    if request is None or commune is None or home.commune_id != commune.pk:
        return False
    return has_capability(request.user, commune, MANAGE)
