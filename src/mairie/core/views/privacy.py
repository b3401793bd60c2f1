"""Personal data: a person's own data (page and JSON), erasure requests and their handling."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
