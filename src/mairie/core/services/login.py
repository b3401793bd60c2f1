"""Signing in without a password, and slowing down people who guess.

A one-time code is six digits, valid ``LOGIN_CODE_TTL_SECONDS``, usable once, tried at most
``MAX_CODE_ATTEMPTS`` times. The same message holds a link that does the same job. Only keyed hashes are
stored: someone who reads the database cannot use a code or a link.

Throttling counts failures (wrong password, wrong code) per account and per client address; after
``LOGIN_MAX_FAILURES`` in ``LOGIN_FAILURE_WINDOW_SECONDS`` further attempts are refused until the oldest of
those failures leaves the window.
"""

from __future__ import annotations

import enum
import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from mairie.core.models import Commune, LoginCode, LoginFailure, User
from mairie.core.notifications.rendering import absolute_url
from mairie.core.phones import is_mobile, normalise_phone
from mairie.core.services.audit import log_action
from mairie.core.services.notifications import notify

CODE_LENGTH = 6
MAX_CODE_ATTEMPTS = 5
_TEMPLATES = {LoginCode.Purpose.LOGIN: "core/login_code", LoginCode.Purpose.RESET: "core/password_reset"}


# --- throttling -------------------------------------------------------------------------------------------


def throttle_keys(*, user: User | None, login: str = "", address: str | None = None) -> list[str]:
    """The counters an attempt belongs to: the account (or the login written, when it matches no one)
    and the client's address."""
    keys = []
    if user is not None:
        keys.append(f"user:{user.pk}")
    elif login.strip():
        keys.append(f"login:{login.strip().lower()[:190]}")
    if address:
        keys.append(f"ip:{address}")
    return keys


def _window() -> timedelta:
    return timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def throttle_wait_seconds(*, keys: Iterable[str]) -> int:
    """How long to wait before the next attempt is allowed; 0 when it is allowed now."""
    now = timezone.now()
    limit = settings.LOGIN_MAX_FAILURES
    wait = 0
    for key in keys:
        recent = list(
            LoginFailure.objects.filter(key=key, created_at__gt=now - _window())
            .order_by("-created_at")
            .values_list("created_at", flat=True)[:limit]
        )
        if len(recent) >= limit:
            free_at = recent[limit - 1] + _window()
            wait = max(wait, math.ceil((free_at - now).total_seconds()))
    return wait


@transaction.atomic
def login_failure_record(*, keys: Sequence[str], commune: Commune | None, user: User | None) -> int:
    """Counts one failed attempt on each key; returns how long the person must now wait (0: not yet)."""
    now = timezone.now()
    LoginFailure.objects.filter(created_at__lt=now - _window()).delete()  # forgotten once out of the window
    LoginFailure.objects.bulk_create([LoginFailure(key=key, created_at=now) for key in keys])
    wait = throttle_wait_seconds(keys=keys)
    if wait:
        limit = settings.LOGIN_MAX_FAILURES
        for key in keys:
            if LoginFailure.objects.filter(key=key, created_at__gt=now - _window()).count() == limit:
                # Written once, when a counter reaches the limit; refused attempts afterwards add nothing.
                log_action(
                    "core.auth.throttled",
                    commune=commune,
                    actor=None,
                    obj=user if key.startswith("user:") else None,
                    data={"counter": key.split(":", 1)[0], "failures": limit, "wait_seconds": wait},
                )
    return wait


@transaction.atomic
def login_failures_clear(*, user: User, login: str = "") -> None:
    """A successful sign-in wipes the account's counter (not the address's: others may share it)."""
    keys = throttle_keys(user=user) + ([f"login:{login.strip().lower()[:190]}"] if login.strip() else [])
    LoginFailure.objects.filter(key__in=keys).delete()


def wait_minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


# --- one-time codes and links -----------------------------------------------------------------------------


def _digest(kind: str, salt: str, value: str) -> str:
    return salted_hmac(f"mairie.login-{kind}", f"{salt}:{value}", algorithm="sha256").hexdigest()


def _hash(kind: str, value: str) -> str:
    salt = secrets.token_hex(8)
    return f"{salt}${_digest(kind, salt, value)}"


def _matches(kind: str, stored: str, value: str) -> bool:
    salt, _, digest = stored.partition("$")
    return bool(digest) and constant_time_compare(digest, _digest(kind, salt, value))


def channels_for(user: User) -> list[str]:
    """Where a code can reach this person: their email, their mobile phone."""
    available: list[str] = []
    if user.email:
        available.append(LoginCode.Channel.EMAIL)
    if user.phone and is_mobile(user.phone):
        available.append(LoginCode.Channel.SMS)
    return available


def pick_channel(*, user: User, requested: str | None, login: str) -> str | None:
    """The channel asked for when the person has it; else the kind of address they typed; else any."""
    available = channels_for(user)
    if not available:
        return None
    if requested in available:
        return requested
    if "@" in login and LoginCode.Channel.EMAIL in available:
        return LoginCode.Channel.EMAIL
    if "@" not in login and normalise_phone(login) and LoginCode.Channel.SMS in available:
        return LoginCode.Channel.SMS
    return available[0]


def _live_codes(*, user: User, purpose: str, now: datetime) -> QuerySet[LoginCode]:
    return LoginCode.objects.filter(user=user, purpose=purpose, used_at__isnull=True, expires_at__gt=now)


@transaction.atomic
def login_code_send(
    *, commune: Commune, user: User, purpose: str, channel: str, site_url: str
) -> LoginCode | None:
    """Makes a code and a link and sends them to the person. Returns None (and sends nothing) when this
    account already received the maximum number of codes within the throttling window.

    ``site_url`` (``https://host/``) builds the link only when the commune has no host name of its own.
    """
    now = timezone.now()
    LoginCode.objects.filter(user=user, expires_at__lt=now - timedelta(days=1)).delete()
    sent_recently = LoginCode.objects.filter(user=user, created_at__gt=now - _window()).count()
    if sent_recently >= settings.LOGIN_MAX_FAILURES:
        log_action(
            "core.auth.throttled",
            commune=commune,
            actor=None,
            obj=user,
            data={"counter": "codes_sent", "failures": sent_recently},
        )
        return None
    code = f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"
    secret = secrets.token_urlsafe(16)  # 128 bits, short enough for an SMS
    login_code = LoginCode.objects.create(
        user=user,
        purpose=purpose,
        channel=channel,
        code_hash=_hash("code", code),
        link_secret_hash=_hash("link", secret),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.LOGIN_CODE_TTL_SECONDS),
    )
    # The commune's own host name when it has one (a forged Host header cannot redirect the link).
    link = absolute_url(
        commune, reverse("core:login_link", kwargs={"code_id": login_code.pk, "secret": secret})
    )
    if not link.startswith(("http://", "https://")):
        link = site_url.rstrip("/") + link
    notify(
        recipient=user,
        commune=commune,
        template=_TEMPLATES[LoginCode.Purpose(purpose)],
        context={"code": code, "link": link, "minutes": settings.LOGIN_CODE_TTL_SECONDS // 60},
        urgent=True,
        channels=[channel],
        respect_preferences=False,
    )
    # Never the code itself in the log: only that one was sent, why, and by which way.
    log_action(
        "core.auth.code_sent",
        commune=commune,
        actor=None,
        obj=user,
        data={"purpose": purpose, "channel": channel},
    )
    return login_code


class CodeResult(enum.Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"  # some code is still live: the person may try again
    NONE_LIVE = "none_live"  # expired, used, or tried too many times: ask for a new one


@dataclass(frozen=True)
class CodeCheck:
    result: CodeResult
    login_code: LoginCode | None = None


@transaction.atomic
def login_code_check(*, user: User | None, purpose: str, code: str) -> CodeCheck:
    """Checks a typed code against the person's live codes; a match is used up at once.

    Every code sent in the last minutes stays valid until it expires (a late SMS still works after
    asking for another); each wrong try counts against all of them.
    """
    if user is None:
        return CodeCheck(CodeResult.NONE_LIVE)
    now = timezone.now()
    live = list(
        _live_codes(user=user, purpose=purpose, now=now)
        .filter(attempts__lt=MAX_CODE_ATTEMPTS)
        .select_for_update()
        .order_by("-created_at")
    )
    if not live:
        return CodeCheck(CodeResult.NONE_LIVE)
    typed = "".join(ch for ch in code if ch.isdigit())
    for candidate in live:
        if len(typed) == CODE_LENGTH and _matches("code", candidate.code_hash, typed):
            LoginCode.objects.filter(pk=candidate.pk).update(used_at=now, attempts=F("attempts") + 1)
            candidate.used_at = now
            return CodeCheck(CodeResult.ACCEPTED, candidate)
    LoginCode.objects.filter(pk__in=[c.pk for c in live]).update(attempts=F("attempts") + 1)
    still_live = any(c.attempts + 1 < MAX_CODE_ATTEMPTS for c in live)
    return CodeCheck(CodeResult.WRONG if still_live else CodeResult.NONE_LIVE)


def login_link_find(*, code_id: int, secret: str) -> LoginCode | None:
    """The live code a link points at, if its secret is right; the link is not used up by looking."""
    login_code = (
        LoginCode.objects.filter(pk=code_id, used_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("user")
        .first()
    )
    if login_code is None or not _matches("link", login_code.link_secret_hash, secret):
        return None
    if not login_code.user.is_active:
        return None
    return login_code


@transaction.atomic
def login_link_use(*, code_id: int, secret: str) -> LoginCode | None:
    """Uses a link up; None if it was already used (even a split second ago, in another tab), or expired."""
    login_code = login_link_find(code_id=code_id, secret=secret)
    if login_code is None:
        return None
    now = timezone.now()
    won = LoginCode.objects.filter(pk=login_code.pk, used_at__isnull=True, expires_at__gt=now).update(
        used_at=now
    )
    if not won:
        return None
    login_code.used_at = now
    return login_code
