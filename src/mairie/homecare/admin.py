"""The platform operators' "État du pont MQTT", in their space: the Django admin (superusers only).

The bridge's counters and dead letters belong to no commune, so no commune role may see them; the admin's own
door (``admin_site.admin_view``: signed in, ``has_permission``, CSRF, never cached) guards these views, and the
services check the acting person again. The admin's list of dead letters *is* this page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from mairie.core.action_labels import register_action_labels
from mairie.homecare.bridge_stats import is_platform_operator
from mairie.homecare.models import BridgeDeadLetter

register_action_labels(
    {
        "homecare.bridge.dead_letter_handled": _("Message du pont MQTT marqué comme traité"),
        "homecare.bridge.dead_letter_replayed": _("Message du pont MQTT rejoué"),
    }
)


@admin.register(BridgeDeadLetter)
class BridgeHealthAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_operator(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.page_view), name="homecare_bridgedeadletter_changelist"),
            path(
                "<int:dead_letter_id>/traite/",
                wrap(self.mark_handled_view),
                name="homecare_bridgedeadletter_mark_handled",
            ),
            path(
                "<int:dead_letter_id>/rejouer/",
                wrap(self.replay_view),
                name="homecare_bridgedeadletter_replay",
            ),
        ]

    # The views are imported when called: the admin is discovered before the modules register their capabilities.

    def page_view(self, request: HttpRequest) -> HttpResponse:
        from mairie.homecare.views import bridge_health

        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET"])
        return bridge_health.platform_page(request, admin_context=self.admin_site.each_context(request))

    def mark_handled_view(self, request: HttpRequest, dead_letter_id: int) -> HttpResponse:
        from mairie.homecare.views import bridge_health

        return bridge_health.mark_handled(
            request, dead_letter_id, admin_context=self.admin_site.each_context(request)
        )

    def replay_view(self, request: HttpRequest, dead_letter_id: int) -> HttpResponse:
        from mairie.homecare.views import bridge_health

        return bridge_health.replay(
            request, dead_letter_id, admin_context=self.admin_site.each_context(request)
        )
