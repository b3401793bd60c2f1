"""The signed-in person's own space: my account, my data, my history."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from mairie.core.permissions import require_login


@require_login
@require_GET
def account_home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/account/home.html")


urlpatterns = [
    path("mon-compte/", account_home, name="account"),
]
