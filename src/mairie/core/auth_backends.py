from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from .models import User
from .phones import normalise_phone


def find_user_by_login(login: str) -> User | None:
    """The person whose email, mobile number or identifier is ``login``."""
    login = (login or "").strip()
    if not login:
        return None
    if "@" in login:
        return User.objects.filter(email__iexact=login).first()
    phone = normalise_phone(login)
    if phone:
        found = User.objects.filter(phone=phone).first()
        if found:
            return found
    return User.objects.filter(username__iexact=login).first()


class LoginBackend(ModelBackend):
    """Password sign-in with an email, a mobile number or an identifier, in one field."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None or password is None:
            return None
        user = find_user_by_login(username)
        if user is None:
            User().set_password(password)  # same cost as a real check: no timing oracle on who exists
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
