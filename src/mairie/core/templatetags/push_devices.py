"""The "Notifications sur mes appareils" section of "Mon compte" (``{% push_devices_section %}``)."""

from __future__ import annotations

from typing import Any

from django import template

from mairie.core.notifications.push import vapid_keys
from mairie.core.services.notifications import push_devices_of

register = template.Library()


@register.inclusion_tag("core/account/_push_devices.html", takes_context=True)
def push_devices_section(context: template.Context) -> dict[str, Any]:
    """Nothing at all when the installation has no push channel; else the person's devices and the button."""
    keys = vapid_keys()
    request = context["request"]
    if keys is None or not request.user.is_authenticated:
        return {"enabled": False}
    return {
        "enabled": True,
        "public_key": keys.public_key_b64,
        "devices": list(push_devices_of(request.user)),
        "csrf_token": context.get("csrf_token"),
    }
