"""Notifications: my messages and preferences, the staff outbox of emails and SMS."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mairie.core.acting import Actor
from mairie.core.models import OutboxMessage
from mairie.core.notifications.forms import PreferencesForm
from mairie.core.permissions import require_capability, require_login
from mairie.core.services.notifications import (
    account_update_preferences,
    inbox_for,
    notifications_mark_all_read,
    outbox_for,
    unread_count,
)

INBOX_PAGE_SIZE = 30
OUTBOX_PAGE_SIZE = 50
ONE_YEAR = 365 * 24 * 3600


@require_login
@require_GET
def my_notifications(request: HttpRequest) -> HttpResponse:
    user = request.user
    page = Paginator(inbox_for(user), INBOX_PAGE_SIZE).get_page(request.GET.get("page"))  # type: ignore[arg-type]
    return render(
        request,
        "core/notifications/inbox.html",
        {"page": page, "unread": unread_count(user)},  # type: ignore[arg-type]
    )


@require_login
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = notifications_mark_all_read(user=request.user, commune=request.commune)  # type: ignore[arg-type, attr-defined]
    if count:
        messages.success(
            request,
            ngettext("%(count)d message marqué comme lu.", "%(count)d messages marqués comme lus.", count)
            % {"count": count},
        )
    return redirect("core:my_notifications")


@require_login
@require_http_methods(["GET", "POST"])
def notification_preferences(request: HttpRequest) -> HttpResponse:
    # About the person signed in, even while a staff member acts for someone else (like every "my account"
    # page).
    actor = Actor.himself(request.user, request.commune)  # type: ignore[arg-type, attr-defined]
    subject = actor.subject
    form = PreferencesForm(request.POST or None, user=subject)
    if request.method == "POST" and form.is_valid():
        try:
            account_update_preferences(actor=actor, **form.cleaned_data)
        except ValidationError as error:  # checked again by the service; the form normally catches it first
            for field, field_errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, field_errors)
        else:
            messages.success(request, _("Vos préférences de contact sont enregistrées."))
            response = redirect("core:notification_preferences")
            language = form.cleaned_data["language"]
            translation.activate(language)
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=ONE_YEAR, samesite="Lax")
            return response
    return render(request, "core/notifications/preferences.html", {"form": form, "subject": subject})


@require_capability("core.view_outbox")
@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    channel = request.GET.get("canal", "")
    if channel not in OutboxMessage.Channel.values:
        channel = ""
    search = request.GET.get("destinataire", "").strip()[:100]
    found = outbox_for(commune=request.commune, channel=channel, search=search)  # type: ignore[attr-defined]
    page = Paginator(found, OUTBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "core/notifications/outbox.html",
        {"page": page, "channel": channel, "search": search, "channels": OutboxMessage.Channel.choices},
    )


urlpatterns = [
    path("mon-compte/messages/", my_notifications, name="my_notifications"),
    path("mon-compte/messages/tout-lu/", mark_all_read, name="notifications_mark_all_read"),
    path("mon-compte/preferences/", notification_preferences, name="notification_preferences"),
    path("gestion/messages/", outbox, name="outbox"),
]
