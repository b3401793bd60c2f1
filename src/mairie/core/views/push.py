"""Notifications on a person's devices (Web Push): switch a browser on, remove a device, the service worker.

Like every "my account" page, these are about the person signed in, even while a staff member acts for
someone else. The device list and the button live on "Mon compte" (``core/account/_push_devices.html``).
"""

from __future__ import annotations

import json
from functools import lru_cache

from django.contrib import messages
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from mairie.core.notifications.push import InvalidSubscription
from mairie.core.permissions import public, require_login
from mairie.core.services.notifications import push_subscribe, push_unsubscribe

MAX_BODY = 4096  # a subscription is a few hundred bytes
SERVICE_WORKER = "mairie/push-sw.js"
# The devices switched on in this session: signing out switches them off (see ``switch_off_this_browser``).
SESSION_DEVICES = "push_devices_switched_on"


def _error(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=400)


@require_login
@require_POST
def push_subscribe_view(request: HttpRequest) -> HttpResponse:
    """The page's script posts ``PushSubscription.toJSON()`` here (with the CSRF token in a header)."""
    if len(request.body) > MAX_BODY:
        return _error(_("L'abonnement envoyé par le navigateur est trop long."))
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _error(_("L'abonnement envoyé par le navigateur est illisible."))
    try:
        device = push_subscribe(
            user=request.user,  # type: ignore[arg-type]
            commune=request.commune,  # type: ignore[attr-defined]
            data=data,
            user_agent=request.headers.get("User-Agent", "")[:500],
        )
    except InvalidSubscription as error:
        return _error(str(error))
    switched_on = [pk for pk in request.session.get(SESSION_DEVICES, []) if pk != device.pk]
    request.session[SESSION_DEVICES] = [*switched_on, device.pk]
    messages.success(request, _("C'est fait : cet appareil recevra les notifications."))  # shown after reload
    return JsonResponse({"id": device.pk, "label": device.label}, status=201)


def switch_off_this_browser(request: HttpRequest) -> int:
    """Before signing out: the devices switched on in this session stop receiving the person's notifications.

    A browser is often shared (a Numéripôle computer, a family tablet): once its user has signed out, their
    messages must not keep appearing on it. Returns how many devices were switched off. A device switched on in
    an earlier session stays on (it is listed on "Mon compte", where it can be removed)."""
    user = request.user
    if not user.is_authenticated:
        return 0
    return sum(
        push_unsubscribe(
            user=user,  # type: ignore[arg-type]
            commune=request.commune,  # type: ignore[attr-defined]
            device_id=pk,
        )
        for pk in request.session.get(SESSION_DEVICES, [])
        if isinstance(pk, int)
    )


@require_login
@require_POST
def push_unsubscribe_view(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("appareil", "")
    removed = raw.isdigit() and push_unsubscribe(
        user=request.user,  # type: ignore[arg-type]
        commune=request.commune,  # type: ignore[attr-defined]
        device_id=int(raw),
    )
    if removed:
        messages.success(request, _("Cet appareil ne recevra plus de notifications."))
    else:
        messages.error(request, _("Cet appareil n'est pas (ou plus) dans votre liste : rien n'a changé."))
    return redirect("core:account")


@lru_cache(maxsize=1)
def _service_worker_source() -> bytes:
    found = finders.find(SERVICE_WORKER)
    if found:
        with open(str(found), "rb") as file:
            return file.read()
    with staticfiles_storage.open(SERVICE_WORKER) as file:  # collected (production)
        return bytes(file.read())


@public
@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """Served from the site's root, so that it may work for the whole site (``scope: "/"``)."""
    response = HttpResponse(_service_worker_source(), content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"  # browsers then pick up a new version at their next check
    return response


urlpatterns = [
    path("mon-compte/appareils/activer/", push_subscribe_view, name="push_subscribe"),
    path("mon-compte/appareils/retirer/", push_unsubscribe_view, name="push_unsubscribe"),
    path("service-worker.js", service_worker, name="push_service_worker"),
]
