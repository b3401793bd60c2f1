"""Signal receivers of the core app."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from .models import User
from .services.audit import log_action


@receiver(user_logged_in)
def audit_login(sender: object, request: HttpRequest, user: User, **kwargs: object) -> None:
    log_action("core.auth.logged_in", commune=getattr(request, "commune", None), actor=user, obj=user)
