from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
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


_SECOND_FACTOR_EXEMPT = (
    "core:two_factor",
    "core:two_factor_backup_codes",
    "core:logout",
    "core:display",
    "core:set_language",
    "core:commune_css",
)
# Whether the signed-in person has set up a second factor, remembered for the session (the two-factor
# pages update it when they switch it on or off).
SECOND_FACTOR_SESSION_KEY = "mairie_has_second_factor"
LAST_SEEN_SESSION_KEY = "mairie_last_seen"


def _has_second_factor(request: HttpRequest) -> bool:
    known = request.session.get(SECOND_FACTOR_SESSION_KEY)
    if known is None:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        known = TOTPDevice.objects.filter(user=request.user, confirmed=True).exists()
        request.session[SECOND_FACTOR_SESSION_KEY] = known
    return bool(known)


class AccountMiddleware:
    """After authentication: who acts for whom, second factor for sensitive roles, short idle time for them.

    People whose roles see health or alarm data must pass a second factor (TOTP app or backup code) before
    any page but the two-factor page itself, logout, display settings and language; so must anyone who
    chose to switch it on. Their session also ends after ``SENSITIVE_IDLE_SECONDS`` without a request.
    """

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
            last_seen = request.session.get(LAST_SEEN_SESSION_KEY, now)
            if now - last_seen > settings.SENSITIVE_IDLE_SECONDS:
                logout(request)
                return redirect(f"{reverse('core:login')}?expired=1")
            request.session[LAST_SEEN_SESSION_KEY] = now
        if (sensitive or _has_second_factor(request)) and not user.is_verified():  # type: ignore[attr-defined]
            exempt = {reverse(name) for name in _SECOND_FACTOR_EXEMPT}
            if request.path not in exempt:
                return redirect(
                    f"{reverse('core:two_factor')}?{urlencode({'next': request.get_full_path()})}"
                )
        mandate = active_mandate(agent=user, mandate_id=request.session.get(SESSION_KEY))
        if mandate is None and request.session.get(SESSION_KEY):
            del request.session[SESSION_KEY]
        request.actor = Actor(  # type: ignore[attr-defined]
            user=user,
            commune=commune,
            subject=mandate.resident if mandate else user,
            mandate=mandate,
        )
        return self.get_response(request)
