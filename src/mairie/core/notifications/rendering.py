"""Turning a notification template into the text of each channel, in the recipient's language.

A notification ``template="core/login_code"`` is a folder ``templates/notifications/core/login_code/`` with
``subject.txt`` (required), ``email.txt``, ``sms.txt``, ``in_app.txt`` and ``push.txt`` (each optional:
missing ones fall back to the subject; ``push.txt`` to the in-app text). Email and SMS bodies are then put in the shared layout of
``notifications/_layout/``.
Templates are plain text: nothing is HTML-escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template import Context, TemplateDoesNotExist, engines
from django.urls import reverse
from django.utils import translation
from django_scopes import scopes_disabled

from mairie.core.models import Commune, CommuneHost, User

SUBJECT_MAX_LENGTH = 200
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    email: str
    sms: str
    in_app: str
    push: str = ""


def _first_host(commune: Commune) -> str:
    """The commune's first host name, read once per commune object (a notification renders several links, an
    alarm notifies several people: one query, not one per link)."""
    host: str | None = getattr(commune, "_mairie_first_host", None)
    if host is None:
        with scopes_disabled():  # CommuneHost is platform data, read for this one commune
            found = (
                CommuneHost.objects.filter(commune=commune)
                .order_by("pk")
                .values_list("host", flat=True)
                .first()
            )
        host = found or ""
        commune._mairie_first_host = host  # type: ignore[attr-defined]
    return host


def absolute_url(commune: Commune, path: str) -> str:
    """``/mon-compte/`` → ``https://<the commune's first host name>/mon-compte/``; absolute URLs unchanged."""
    if not path or path.startswith(("http://", "https://")):
        return path
    host = _first_host(commune)
    if not host:
        return path
    port = str(getattr(settings, "MAIRIE_LINK_PORT", "") or "")
    scheme = getattr(settings, "MAIRIE_LINK_SCHEME", "https") or "https"
    authority = f"{host}:{port}" if port and port not in {"80", "443"} else host
    return f"{scheme}://{authority}{path}"


def _link(commune: Commune, path: str) -> str:
    """A link for an email or SMS: absolute, or nothing (a bare path is useless outside the site)."""
    url = absolute_url(commune, path)
    return url if url.startswith(("http://", "https://")) else ""


def _render(name: str, context: dict[str, Any]) -> str:
    template = engines["django"].get_template(name)
    return template.template.render(Context(context, autoescape=False))  # type: ignore[attr-defined]


def _render_optional(name: str, context: dict[str, Any]) -> str | None:
    try:
        return _render(name, context)
    except TemplateDoesNotExist:
        return None


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _one_line(text: str) -> str:
    return " ".join(text.split())[:SUBJECT_MAX_LENGTH]


def render_message(
    template: str, *, recipient: User, commune: Commune, context: dict[str, Any] | None = None, url: str = ""
) -> RenderedMessage:
    """Renders every channel's text of ``template`` for ``recipient``, in their language."""
    if not re.fullmatch(r"[a-z0-9_]+(/[a-z0-9_]+)+", template):
        raise ValueError(f"notification template names look like 'core/login_code', not {template!r}")
    folder = f"notifications/{template}"
    language = (
        recipient.language if recipient.language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
    )
    with translation.override(language):
        data: dict[str, Any] = {
            **(context or {}),
            "recipient": recipient,
            "commune": commune,
            "url": url,
            "absolute_url": _link(commune, url),
            "platform_name": settings.MAIRIE_PLATFORM_NAME,
        }
        subject = _one_line(_render(f"{folder}/subject.txt", data))
        email_body = _tidy(_render_optional(f"{folder}/email.txt", data) or subject)
        sms_body = _tidy(_render_optional(f"{folder}/sms.txt", data) or subject)
        in_app = _tidy(_render_optional(f"{folder}/in_app.txt", data) or subject)
        push = _tidy(_render_optional(f"{folder}/push.txt", data) or in_app)
        layout = {
            **data,
            "subject": subject,
            "preferences_url": _link(commune, reverse("core:notification_preferences")),
        }
        email = _tidy(_render("notifications/_layout/email.txt", {**layout, "body": email_body}))
        sms = _tidy(_render("notifications/_layout/sms.txt", {**layout, "body": sms_body}))
    return RenderedMessage(subject=subject, email=email, sms=sms, in_app=in_app, push=push)
