"""How the MQTT bridge is doing: "État du pont MQTT" for platform operators, "Passerelles" for a commune.

The platform page shows rows that belong to no commune (a refused message may be anyone's), so it lives in the
platform operators' space, the Django admin (``mairie/homecare/admin.py`` routes these views through
``admin_site.admin_view``: superusers only, CSRF, never cached). The security walks leave ``/admin/`` to the
admin's own tests; ``tests/homecare/test_bridge_health.py`` checks these pages, and the commune page is in the
role × URL matrix like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from mairie.core.permissions import require_capability
from mairie.homecare import bridge_stats
from mairie.homecare.decorators import module_required
from mairie.homecare.gateway_status import GATEWAY_SILENT_AFTER, gateway_status
from mairie.homecare.models import BridgeDeadLetter
from mairie.homecare.selectors import CONSOLE
from mairie.homecare.views.common import age_text, error_text

PAGE_SIZE = 20
PAGE_URL = "admin:homecare_bridgedeadletter_changelist"


@dataclass(frozen=True)
class LetterRow:
    letter: BridgeDeadLetter
    age: str
    preview: str
    payload_size: int
    note: str = ""  # what was typed, shown again after an error
    note_error: str = ""


def _rows(
    page: Page[BridgeDeadLetter], *, failed_id: int | None, note: str, note_error: str
) -> list[LetterRow]:
    now = timezone.now()
    return [
        LetterRow(
            letter=letter,
            age=age_text(letter.received_at, now),
            preview=bridge_stats.payload_preview(letter.payload),
            payload_size=len(letter.payload),
            note=note if letter.pk == failed_id else "",
            note_error=note_error if letter.pk == failed_id else "",
        )
        for letter in page
    ]


def platform_page(
    request: HttpRequest,
    *,
    admin_context: dict[str, Any],
    failed_id: int | None = None,
    note: str = "",
    note_error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The bridges' counters and the dead letters waiting, a page at a time (four queries whatever their number)."""
    viewer = request.user
    health = bridge_stats.bridge_health(viewer)  # type: ignore[arg-type]
    page = Paginator(bridge_stats.dead_letters_waiting(viewer), PAGE_SIZE).get_page(  # type: ignore[arg-type]
        request.POST.get("page") or request.GET.get("page")
    )
    rows = _rows(page, failed_id=failed_id, note=note, note_error=note_error)
    return render(
        request,
        "homecare/bridge_health.html",
        {
            **admin_context,
            "title": _("État du pont MQTT"),
            "health": health,
            "silent_minutes": int(bridge_stats.BRIDGE_SILENT_AFTER.total_seconds() // 60),
            "page": page,
            "rows": rows,
            # An error about a message no longer on this page (someone closed it meanwhile) is shown at the top.
            "error_elsewhere": note_error if not any(row.note_error for row in rows) else "",
        },
        status=status,
    )


def _back(request: HttpRequest) -> HttpResponse:
    page = request.POST.get("page", "")
    query = f"?{urlencode({'page': page})}" if page.isdigit() and page != "1" else ""
    return redirect(reverse(PAGE_URL) + query + "#messages-mis-de-cote")


@require_POST
def mark_handled(request: HttpRequest, dead_letter_id: int, *, admin_context: dict[str, Any]) -> HttpResponse:
    typed = request.POST.get("note", "")
    try:
        bridge_stats.dead_letter_mark_handled(
            actor=request.user,  # type: ignore[arg-type]
            dead_letter_id=dead_letter_id,
            note=typed,
        )
    except bridge_stats.DeadLetterUnavailable as error:
        messages.error(request, error_text(error))
        return _back(request)
    except ValidationError as error:
        return platform_page(
            request,
            admin_context=admin_context,
            failed_id=dead_letter_id,
            note=typed,
            note_error=error_text(error),
            status=400,
        )
    messages.success(request, _("Message marqué comme traité. Votre note est dans le journal."))
    return _back(request)


@require_POST
def replay(request: HttpRequest, dead_letter_id: int, *, admin_context: dict[str, Any]) -> HttpResponse:
    try:
        result = bridge_stats.dead_letter_replay(
            actor=request.user,  # type: ignore[arg-type]
            dead_letter_id=dead_letter_id,
        )
    except bridge_stats.DeadLetterUnavailable as error:
        messages.error(request, error_text(error))
        return _back(request)
    if result.handled:
        messages.success(
            request,
            _("Message rejoué et accepté (%(reason)s) : il est marqué comme traité.")
            % {"reason": result.reason_text},
        )
    elif result.reason == "error":
        messages.error(
            request,
            _(
                "Le message échoue encore : %(error)s. Il reste à traiter (le défaut est sans doute dans le code)."
            )
            % {"error": result.error},
        )
    elif result.reason == "duplicate":
        messages.warning(
            request,
            _(
                "Ce message est déjà enregistré (il a sans doute été reçu à nouveau et traité depuis) : "
                "vérifiez-le, puis marquez-le comme traité."
            ),
        )
    else:
        messages.warning(
            request,
            _("Message rejoué mais refusé : %(reason)s. Il reste à traiter.")
            % {"reason": result.reason_text},
        )
    return _back(request)


# ------------------------------------------------------------------------------------------------
# For a commune: "Passerelles", next to the console
# ------------------------------------------------------------------------------------------------


@require_capability(CONSOLE)
@module_required
@never_cache
@require_GET
def console_gateways(request: HttpRequest) -> HttpResponse:
    """This commune's gateways offline or silent, its devices offline or with a low battery."""
    now = timezone.now()
    status = gateway_status(request.user, request.commune, now=now)  # type: ignore[arg-type, attr-defined]
    return render(
        request,
        "homecare/console_gateways.html",
        {
            "status": status,
            "gateways": [
                {"line": line, "age": age_text(line.last_sign_of_life, now) if line.last_sign_of_life else ""}
                for line in status.gateways
            ],
            "devices": [
                {
                    "line": line,
                    "age": age_text(line.device.last_seen_at, now) if line.device.last_seen_at else "",
                }
                for line in status.devices
            ],
            "silent_hours": int(GATEWAY_SILENT_AFTER.total_seconds() // 3600),
            "now": now,
        },
    )


urlpatterns = [
    path("console/passerelles/", console_gateways, name="console_gateways"),
]
