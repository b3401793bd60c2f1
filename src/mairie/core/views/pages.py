"""Public pages: the commune's home, display settings, language, legal pages, error pages."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods

from mairie.core.context_processors import DISPLAY_CHOICES, DISPLAY_COOKIE, display_preferences
from mairie.core.modules import enabled_modules
from mairie.core.permissions import public

ONE_YEAR = 365 * 24 * 3600


def _safe_next(request: HttpRequest, fallback: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}, require_https=False):
        return candidate
    return fallback


@public
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", {"services": enabled_modules(request.commune)})  # type: ignore[attr-defined]


@public
@require_http_methods(["GET", "POST"])
def display(request: HttpRequest) -> HttpResponse:
    """Large text and high contrast, for anyone, without an account: kept in a cookie."""
    current = display_preferences(request)
    if request.method == "POST":
        chosen = [item for item in DISPLAY_CHOICES if request.POST.get(item) == "on"]
        response = HttpResponseRedirect(_safe_next(request, reverse("core:display") + "?ok=1"))
        if chosen:
            response.set_cookie(DISPLAY_COOKIE, "-".join(chosen), max_age=ONE_YEAR, samesite="Lax", httponly=True)
        else:
            response.delete_cookie(DISPLAY_COOKIE, samesite="Lax")
        return response
    return render(
        request,
        "core/display.html",
        {"current": current, "saved": request.GET.get("ok") == "1", "next": _safe_next(request, "")},
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


@public
@require_GET
@cache_control(max_age=300)
def commune_css(request: HttpRequest) -> HttpResponse:
    """The commune's accent colour as a stylesheet (the CSP forbids inline styles)."""
    colour = request.commune.accent_colour  # type: ignore[attr-defined]
    css = f":root {{ --accent: {colour}; }}\n"
    return HttpResponse(css, content_type="text/css; charset=utf-8")


@public
@require_GET
def legal_notice(request: HttpRequest) -> HttpResponse:
    return render(request, "core/legal_notice.html")


@public
@require_GET
def accessibility_statement(request: HttpRequest) -> HttpResponse:
    return render(request, "core/accessibility.html")


@public
@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "core/privacy.html")


@public
def healthz(request: HttpRequest) -> JsonResponse:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: the database may be what failed.
    return HttpResponse(render_to_string("500.html"), status=500)


urlpatterns = [
    path("", home, name="home"),
    path("affichage/", display, name="display"),
    path("langue/", set_language, name="set_language"),
    path("commune.css", commune_css, name="commune_css"),
    path("mentions-legales/", legal_notice, name="legal_notice"),
    path("accessibilite/", accessibility_statement, name="accessibility"),
    path("confidentialite/", privacy, name="privacy"),
]
