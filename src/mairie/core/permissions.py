"""Who may do what, per commune. Each capability names the roles that hold it; modules add their own.

A view declares the capability it needs (``@require_capability("core.view_audit")``); a service checks it again
with ``ensure_capability`` so that a task or another caller cannot skip it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from .models import Commune, Membership, Role, User

STAFF_ROLES = frozenset(
    {
        Role.MEDIATOR,
        Role.FABLAB_MANAGER,
        Role.MODERATOR,
        Role.AGENT,
        Role.PRACTITIONER,
        Role.NURSE,
        Role.OPERATOR,
        Role.ADMIN,
    }
)
# Roles that see health or alarm data: two-factor authentication is required, and idle sessions end early.
SENSITIVE_ROLES = frozenset({Role.PRACTITIONER, Role.NURSE, Role.OPERATOR})
# Capabilities that open health or alarm data to roles that are not sensitive themselves (a commune's
# administrator on the alarm console): using one needs the second factor first. Modules add theirs.
SENSITIVE_CAPABILITIES: set[str] = set()

CAPABILITIES: dict[str, frozenset[str]] = {
    "core.staff_area": STAFF_ROLES,
    "core.manage_residents": frozenset({Role.AGENT, Role.MEDIATOR, Role.ADMIN}),
    "core.act_on_behalf": frozenset({Role.AGENT, Role.MEDIATOR, Role.ADMIN}),
    "core.view_outbox": frozenset({Role.AGENT, Role.ADMIN}),
    "core.view_audit": frozenset({Role.ADMIN}),
    "core.manage_commune": frozenset({Role.ADMIN}),
    "core.manage_roles": frozenset({Role.ADMIN}),
    "core.handle_erasure": frozenset({Role.ADMIN}),
}


def register_capabilities(capabilities: dict[str, Iterable[str]], *, sensitive: Iterable[str] = ()) -> None:
    """Modules call this from their AppConfig.ready() to declare their own capabilities; ``sensitive`` names
    those that show health or alarm data (their pages ask for the second factor)."""
    for name, roles in capabilities.items():
        CAPABILITIES[name] = frozenset(roles)
    for name in sensitive:
        if name not in CAPABILITIES:
            raise KeyError(f"unknown capability {name!r}")
        SENSITIVE_CAPABILITIES.add(name)


def second_factor_roles() -> frozenset[str]:
    """Roles whose holders may be asked for the second factor: sensitive ones, and those granted a sensitive
    capability."""
    granted = {role for name in SENSITIVE_CAPABILITIES for role in CAPABILITIES[name]}
    return SENSITIVE_ROLES | frozenset(granted)


def roles_of(user: User | Any, commune: Commune | None) -> frozenset[str]:
    if commune is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    cache_attr = "_mairie_roles_cache"
    cached: dict[int, frozenset[str]] = getattr(user, cache_attr, None) or {}
    if commune.pk not in cached:
        cached[commune.pk] = frozenset(
            Membership.objects.with_scope(commune=commune).filter(user=user).values_list("role", flat=True)
        )
        setattr(user, cache_attr, cached)
    return cached[commune.pk]


def forget_roles(user: User) -> None:
    if hasattr(user, "_mairie_roles_cache"):
        delattr(user, "_mairie_roles_cache")


def has_capability(user: User | Any, commune: Commune | None, capability: str) -> bool:
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")
    return bool(roles_of(user, commune) & CAPABILITIES[capability])


def ensure_capability(user: User | Any, commune: Commune | None, capability: str) -> None:
    if not has_capability(user, commune, capability):
        raise PermissionDenied(capability)


def _verified(user: User | Any) -> bool:
    """Whether this session passed the second factor (django-otp's middleware sets ``is_verified``)."""
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified()) if callable(is_verified) else False


def needs_second_factor(user: User | Any, commune: Commune | None) -> bool:
    return bool(roles_of(user, commune) & SENSITIVE_ROLES)


# Any response: pages, redirects, file and streaming downloads (CSV, spreadsheets, logos).
ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponseBase])


def require_capability(capability: str) -> Callable[[ViewFunc], ViewFunc]:
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            ensure_capability(request.user, request.commune, capability)  # type: ignore[attr-defined]
            if capability in SENSITIVE_CAPABILITIES and not _verified(request.user):
                two_factor = reverse("core:two_factor")
                return redirect(f"{two_factor}?{urlencode({'next': request.get_full_path()})}")
            return view(request, *args, **kwargs)

        wrapped.required_capability = capability  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def require_login(view: ViewFunc) -> ViewFunc:
    """Any signed-in person with a role in this commune (a resident at least)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not roles_of(request.user, request.commune):  # type: ignore[attr-defined]
            raise PermissionDenied("not a member of this commune")
        return view(request, *args, **kwargs)

    wrapped.required_capability = "login"  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


def public(view: ViewFunc) -> ViewFunc:
    """Marks a view as open to anyone; the role × URL matrix test checks every view says which it is."""
    view.required_capability = "public"  # type: ignore[attr-defined]
    return view
