"""Public pages: the commune's home, display settings, language, legal pages, error pages."""

from __future__ import annotations

import datetime
import logging
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language, gettext
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from mairie.core.colors import AA_NORMAL_TEXT, HEX_COLOUR, WHITE, contrast_ratio
from mairie.core.context_processors import DISPLAY_CHOICES, DISPLAY_COOKIE, display_preferences
from mairie.core.modules import enabled_modules
from mairie.core.permissions import public

logger = logging.getLogger(__name__)

ONE_YEAR = 365 * 24 * 3600


def _safe_next(request: HttpRequest, fallback: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}, require_https=False):
        return candidate
    return fallback


@public
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    commune = request.commune  # type: ignore[attr-defined]
    services = [(module, module.figure_for(commune)) for module in enabled_modules(commune)]
    return render(request, "core/home.html", {"services": services})


@public
@require_http_methods(["GET", "POST"])
def display(request: HttpRequest) -> HttpResponse:
    """Large text and high contrast, for anyone, without an account: kept in a cookie on this device."""
    back = _safe_next(request, "")
    if request.method == "POST":
        chosen = [item for item in DISPLAY_CHOICES if request.POST.get(item) == "on"]
        target = reverse("core:display") + "?ok=1" + (f"&next={quote(back)}" if back else "")
        response = HttpResponseRedirect(target)
        if chosen:
            value = "-".join(chosen)
            response.set_cookie(DISPLAY_COOKIE, value, max_age=ONE_YEAR, samesite="Lax", httponly=True)
        else:
            response.delete_cookie(DISPLAY_COOKIE, samesite="Lax")
        return response
    return render(
        request,
        "core/display.html",
        {"current": display_preferences(request), "saved": request.GET.get("ok") == "1", "next": back},
    )


@public
@require_http_methods(["POST"])
def set_language(request: HttpRequest) -> HttpResponse:
    language = request.POST.get("language", "")
    response = HttpResponseRedirect(_safe_next(request, reverse("core:home")))
    if check_for_language(language) and language in dict(settings.LANGUAGES):
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=ONE_YEAR, samesite="Lax")
        if request.user.is_authenticated and request.user.language != language:  # type: ignore[union-attr]
            from mairie.core.services.accounts import account_set_language

            account_set_language(user=request.user, language=language)  # type: ignore[arg-type]
    return response


def _mix(colour: str, other: str, share: float) -> str:
    """``colour`` with ``share`` (0 to 1) of ``other`` mixed in, channel by channel."""
    channels = []
    for i in (1, 3, 5):
        a, b = int(colour[i : i + 2], 16), int(other[i : i + 2], 16)
        channels.append(round(a + (b - a) * share))
    return "#" + "".join(f"{c:02x}" for c in channels)


def commune_palette(accent: str) -> dict[str, str]:
    """The commune's colours: its accent, a light tint of it for panels, an accent dark enough on that tint.

    The accent itself is guaranteed at least 4.5:1 against white (the model refuses less); on the tint it may
    fall just under, so links on tinted panels use ``accent-ink``, darkened step by step until it passes.
    """
    if not HEX_COLOUR.match(accent or ""):
        accent = "#1d4f91"
    accent = accent.lower()
    tint = _mix(accent, WHITE, 0.93)
    ink = accent
    share = 0.0
    while contrast_ratio(ink, tint) < AA_NORMAL_TEXT and share < 1:
        share = min(1.0, share + 0.05)
        ink = _mix(accent, "#000000", share)
    return {"accent": accent, "accent-ink": ink, "tint": tint}


@public
@require_GET
@cache_control(max_age=3600)
def commune_css(request: HttpRequest) -> HttpResponse:
    """The commune's colours as a stylesheet (the CSP forbids inline styles)."""
    palette = commune_palette(request.commune.accent_colour)  # type: ignore[attr-defined]
    declarations = " ".join(f"--{name}: {value};" for name, value in palette.items())
    return HttpResponse(f":root {{ {declarations} }}\n", content_type="text/css; charset=utf-8")


@public
@require_GET
def legal_notice(request: HttpRequest) -> HttpResponse:
    hosting = {
        "name": settings.MAIRIE_HOSTING_NAME,
        "address": settings.MAIRIE_HOSTING_ADDRESS,
        "phone": settings.MAIRIE_HOSTING_PHONE,
    }
    context = {"hosting": hosting, "source_url": settings.MAIRIE_SOURCE_URL}
    return render(request, "core/legal_notice.html", context)


# The day this accessibility statement was last written (RGAA asks for it); change it with the statement.
ACCESSIBILITY_STATEMENT_DATE = datetime.date(2026, 11, 26)


@public
@require_GET
def accessibility_statement(request: HttpRequest) -> HttpResponse:
    context = {
        "site_host": request.get_host().split(":")[0],
        "statement_date": ACCESSIBILITY_STATEMENT_DATE,
        "mail_subject": gettext("Problème d'accessibilité sur le site"),
    }
    return render(request, "core/accessibility.html", context)


@public
@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    context = {
        "code_minutes": settings.LOGIN_CODE_TTL_SECONDS // 60,
        "session_days": settings.SESSION_COOKIE_AGE // (24 * 3600),
    }
    return render(request, "core/privacy.html", context)


@public
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and ``run_platform``: 200 when this node can serve, 503 when its database is out."""
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.warning("health check: the database does not answer", exc_info=True)
        return JsonResponse({"status": "database unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent from a page left open too long (or cookies refused): say what to do, in plain words."""
    return render(request, "403_csrf.html", status=403)


_LAST_RESORT = (
    '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Erreur du service</title></head>'
    "<body><main><h1>Le service a un problème</h1><p>Réessayez dans quelques minutes.</p>"
    '<p lang="en">Something went wrong on our side. Please try again in a few minutes.</p>'
    "</main></body></html>"
)


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page: no database, no context processors (the database may be what failed)."""
    content: str
    try:
        content = render_to_string(
            "500.html", {"home_url": "/", "platform_name": settings.MAIRIE_PLATFORM_NAME}
        )
    except Exception:  # the page that says "something failed" must never fail itself
        content = _LAST_RESORT
    return HttpResponse(content, status=500)


urlpatterns = [
    path("", home, name="home"),
    path("affichage/", display, name="display"),
    path("langue/", set_language, name="set_language"),
    path("commune.css", commune_css, name="commune_css"),
    path("mentions-legales/", legal_notice, name="legal_notice"),
    path("accessibilite/", accessibility_statement, name="accessibility"),
    path("confidentialite/", privacy, name="privacy"),
]
