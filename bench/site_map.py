"""Run inside the benchmark's Django settings: prints, as JSON, the pages to measure and a resident's session.

Resident pages are found from the URLconf, so a module's new page is weighed without editing the benchmark:
every URL without parameters whose view is public, needs only a login, or needs a capability residents hold.
"""

from __future__ import annotations

import json
from importlib import import_module
from typing import Any

import django
from django.urls import URLPattern, URLResolver, get_resolver

PLATFORM_PREFIXES = ("/admin/", "/__bench__/", "/healthz", "/static/")
RESIDENT_LOGIN = "marcel"


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> list[tuple[str, str, Any]]:
    found: list[tuple[str, str, Any]] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.pattern.converters or getattr(entry.pattern, "regex", None) is None:
                continue
            nested = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += _walk(entry.url_patterns, prefix + str(entry.pattern), nested)
        elif (
            isinstance(entry, URLPattern) and not entry.pattern.converters and "(?P" not in str(entry.pattern)
        ):
            found.append(
                (f"{namespace}{entry.name or ''}", "/" + prefix + str(entry.pattern), entry.callback)
            )
    return found


def resident_pages() -> list[dict[str, Any]]:
    from mairie.core.models import Role
    from mairie.core.permissions import CAPABILITIES

    pages = []
    for name, path, view in _walk(get_resolver().url_patterns):
        path = path.replace("^", "").replace("$", "").replace("\\", "")
        if path.startswith(PLATFORM_PREFIXES) or name.endswith("logout"):
            continue  # signing out would end the session the other pages are weighed with
        capability = getattr(view, "required_capability", None)
        if capability == "public":
            pages.append({"name": name, "path": path, "signed_in": False})
        elif capability == "login" or Role.RESIDENT in CAPABILITIES.get(str(capability), frozenset()):
            pages.append({"name": name, "path": path, "signed_in": True})
    return sorted(pages, key=lambda page: page["path"])


def resident_session() -> dict[str, str]:
    """A signed-in session for the demo resident, made the way Django's login() makes one."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django_scopes import scopes_disabled

    from mairie.core.models import User

    with scopes_disabled():
        user = User.objects.get(username=RESIDENT_LOGIN)
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return {"name": settings.SESSION_COOKIE_NAME, "value": str(store.session_key)}


def main() -> None:
    django.setup()
    from django.urls import reverse

    print(
        json.dumps(
            {
                "home": reverse("core:home"),
                "login": reverse("core:login"),
                "resident_pages": resident_pages(),
                "session": resident_session(),
            }
        )
    )


if __name__ == "__main__":
    main()
