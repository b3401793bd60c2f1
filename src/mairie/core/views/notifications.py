"""Notifications: my messages and preferences, the staff outbox of emails and SMS."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
