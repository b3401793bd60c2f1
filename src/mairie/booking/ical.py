"""iCalendar (RFC 5545) feeds written by hand: a person's bookings, a resource's agenda.

Lines end with CRLF and are folded at 75 octets; text values are escaped; times are in UTC ("Z")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core import signing
from django.utils import timezone

PRODID = "-//Mairie 4.0//Reservations//FR"
_SALT = "mairie.booking.ical"


@dataclass(frozen=True)
class Event:
    uid: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str = ""
    location: str = ""
    status: str = "CONFIRMED"  # CONFIRMED, TENTATIVE, CANCELLED
    url: str = ""


def escape_text(value: str) -> str:
    """TEXT escaping (RFC 5545 §3.3.11): backslash, semicolon, comma, newlines."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """Folds a content line at 75 octets (continuation lines start with one space), never inside a
    UTF-8 character."""
    out: list[str] = []
    current = ""
    size = 0
    limit = 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current = " "
            size = 1
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(name: str, events: Iterable[Event], *, now: datetime | None = None) -> str:
    stamp = format_utc(now or timezone.now())
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
    ]
    for event in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{event.uid}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{format_utc(event.starts_at)}",
            f"DTEND:{format_utc(event.ends_at)}",
            f"SUMMARY:{escape_text(event.summary)}",
            f"STATUS:{event.status}",
        ]
        if event.description:
            lines.append(f"DESCRIPTION:{escape_text(event.description)}")
        if event.location:
            lines.append(f"LOCATION:{escape_text(event.location)}")
        if event.url:
            lines.append(f"URL:{event.url}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def person_token(*, person_id: int, commune_id: int, generation: int = 0) -> str:
    """The key of a person's feed. ``generation`` (``CalendarFeedKey``) is left out while 0, so that the links
    given before renewal existed keep working until the person renews theirs."""
    data: dict[str, Any] = {"k": "p", "p": person_id, "c": commune_id}
    if generation:
        data["g"] = generation
    return signing.Signer(salt=_SALT).sign_object(data)


def resource_token(*, resource_id: int, commune_id: int) -> str:
    return signing.Signer(salt=_SALT).sign_object({"k": "r", "r": resource_id, "c": commune_id})


def read_token(token: str) -> dict[str, Any] | None:
    try:
        data = signing.Signer(salt=_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return data if isinstance(data, dict) else None
