from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from .acting import SESSION_KEY, Actor, active_mandate
from .permissions import needs_second_factor
from .tenancy import commune_for_host

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# Paths served without a commune: static files, health check, the platform operators' Django admin.
_PLATFORM_PREFIXES = ("/static/", "/healthz", "/admin/")


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", "geolocation=(), payment=(), usb=()")
        return response


class CommuneMiddleware:
    """Resolves the commune from the host name and runs the rest of the request inside its scope.

    Commune-owned models raise ScopeError outside a scope, so a view that forgets the commune fails loudly
    instead of showing another commune's data.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(_PLATFORM_PREFIXES):
            request.commune = None  # type: ignore[attr-defined]
            with scopes_disabled():  # platform-level: the admin checks is_superuser itself
                if request.path.startswith("/admin/"):
                    request.commune = commune_for_host(request.get_host())  # type: ignore[attr-defined]
                return self.get_response(request)
        with scopes_disabled():
            commune = commune_for_host(request.get_host())
        if commune is None:
            return HttpResponseNotFound(render_to_string("unknown_host.html"))
        request.commune = commune  # type: ignore[attr-defined]
        with scope(commune=commune):
            return self.get_response(request)


_SECOND_FACTOR_EXEMPT = ("core:two_factor", "core:logout", "core:display", "core:set_language")


class AccountMiddleware:
    """After authentication: who acts for whom, second factor for sensitive roles, short idle time for them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        commune = getattr(request, "commune", None)
        user = request.user
        request.actor = None  # type: ignore[attr-defined]
        if commune is None or not user.is_authenticated:
            return self.get_response(request)
        sensitive = needs_second_factor(user, commune)
        if sensitive:
            now = int(time.time())
            last_seen = request.session.get("mairie_last_seen", now)
            if now - last_seen > settings.SENSITIVE_IDLE_SECONDS:
                logout(request)
                return redirect(f"{reverse('core:login')}?expired=1")
            request.session["mairie_last_seen"] = now
            if not user.is_verified():  # type: ignore[union-attr]
                exempt = {reverse(name) for name in _SECOND_FACTOR_EXEMPT}
                if request.path not in exempt and not request.path.startswith("/static/"):
                    return redirect(f"{reverse('core:two_factor')}?next={request.get_full_path()}")
        mandate = active_mandate(agent=user, mandate_id=request.session.get(SESSION_KEY))  # type: ignore[arg-type]
        if mandate is None and request.session.get(SESSION_KEY):
            del request.session[SESSION_KEY]
        request.actor = Actor(  # type: ignore[attr-defined]
            user=user,  # type: ignore[arg-type]
            commune=commune,
            subject=mandate.resident if mandate else user,  # type: ignore[arg-type]
            mandate=mandate,
        )
        return self.get_response(request)
