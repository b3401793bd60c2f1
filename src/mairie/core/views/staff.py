"""The commune's back office for staff: residents, acting on behalf, roles, settings, audit log."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from mairie.core.acting import SESSION_KEY
from mairie.core.permissions import require_capability, require_login


@require_capability("core.staff_area")
@require_GET
def staff_home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/staff/home.html")


@require_login
@require_POST
def stop_acting(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    return redirect("core:staff_home")


urlpatterns = [
    path("gestion/", staff_home, name="staff_home"),
    path("gestion/agir/fin/", stop_acting, name="stop_acting"),
]
