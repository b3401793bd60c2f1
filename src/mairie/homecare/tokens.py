"""Signed, expiring acknowledgement links sent to contacts by SMS and email (no login needed to use them).

A token names one alarm and one contact of that alarm's home; the view checks both again, in the commune
the request came to. A token for home A's alarm cannot acknowledge anything of home B.
"""

from __future__ import annotations

from datetime import timedelta

from django.core import signing
from django.urls import reverse

ACK_SALT = "mairie.homecare.ack"
ACK_MAX_AGE = timedelta(hours=24)


def ack_token(*, alarm_id: int, contact_id: int) -> str:
    return signing.dumps([alarm_id, contact_id], salt=ACK_SALT)


def read_ack_token(token: str, *, max_age: timedelta = ACK_MAX_AGE) -> tuple[int, int] | None:
    """``(alarm_id, contact_id)``, or ``None`` if the token is forged, damaged or expired."""
    try:
        value = signing.loads(token, salt=ACK_SALT, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(item, int) and not isinstance(item, bool) for item in value)
    ):
        return None
    return value[0], value[1]


def ack_path(*, alarm_id: int, contact_id: int) -> str:
    return reverse("homecare:acknowledge", args=[ack_token(alarm_id=alarm_id, contact_id=contact_id)])
