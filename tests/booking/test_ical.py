"""Calendar feeds: RFC 5545 basics (CRLF, folding at 75 octets, escaping, UTC times), tokens, other communes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django_scopes import scope

from mairie.booking import ical, services
from tests.booking.conftest import NOW, at, make_session

pytestmark = pytest.mark.django_db


def parse(body: bytes) -> list[dict[str, str]]:
    """A tiny RFC 5545 reader: checks CRLF and folding, unfolds, returns the VEVENTs' properties."""
    text = body.decode("utf-8")
    assert text.endswith("\r\n")
    raw_lines = text[:-2].split("\r\n")
    assert all("\n" not in line and "\r" not in line for line in raw_lines)
    assert all(len(line.encode("utf-8")) <= 75 for line in raw_lines), "lines are folded at 75 octets"
    lines: list[str] = []
    for line in raw_lines:
        if line.startswith(" "):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(line.startswith("PRODID:") for line in lines)
    events, current = [], None
    for line in lines:
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            events.append(current)
            current = None
        elif current is not None:
            name, _, value = line.partition(":")
            current[name] = value
    return events


def unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] in "nN" else m[1], value)


def test_escape_and_fold():
    assert ical.escape_text("a;b,c\\d\ne") == "a\\;b\\,c\\\\d\\ne"
    long = "SUMMARY:" + "é" * 100
    folded = ical.fold(long)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == long


def test_person_feed_round_trip(client_for, commune, staff, alice, frozen):
    session = make_session(
        staff,
        title="Impôts en ligne ; déclarer, payer, suivre — atelier pour débutants et curieux",
        location="Salle 2, mairie",
    )
    booking = services.session_book(actor=alice, session=session)
    client = client_for(commune, alice.user)
    page = client.get("/reservations/").content.decode()
    feed_url = re.search(r'href="https?://[^/]+(/reservations/agenda/[^"]+\.ics)"', page)[1]
    client.logout()  # a calendar application has no session: the token is the key
    response = client.get(feed_url)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    events = parse(response.content)
    assert len(events) == 1
    event = events[0]
    assert event["UID"] == f"booking-{booking.pk}@val-de-brume.test"
    assert (
        event["DTSTART"] == session.starts_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") == "20300306T130000Z"
    )
    assert event["DTEND"] == "20300306T150000Z"
    assert re.fullmatch(r"\d{8}T\d{6}Z", event["DTSTAMP"])
    assert unescape(event["SUMMARY"]) == session.title
    assert unescape(event["LOCATION"]) == "Salle 2, mairie"
    assert event["STATUS"] == "CONFIRMED"


def test_feed_token_tampered_or_from_another_commune(client_for, commune, other_commune, alice, frozen):
    client = client_for(commune)
    token = ical.person_token(person_id=alice.user.pk, commune_id=commune.pk)
    assert client.get(f"/reservations/agenda/{token}.ics").status_code == 200
    assert client.get(f"/reservations/agenda/{token[:-2]}xx.ics").status_code == 404
    foreign = ical.person_token(person_id=alice.user.pk, commune_id=other_commune.pk)
    assert client.get(f"/reservations/agenda/{foreign}.ics").status_code == 404
    # A resource token does not open a person's feed.
    as_resource = ical.resource_token(resource_id=alice.user.pk, commune_id=commune.pk)
    assert client.get(f"/reservations/agenda/{as_resource}.ics").status_code == 404


def test_resource_feed_lists_sessions_and_bookings_without_names(client_for, commune, staff, alice, frozen):
    pc = services.resource_create(
        actor=staff, module="inclusion", name="PC 1", opening=[(1, time(9), time(12))]
    )
    make_session(staff, resources=[pc], title="Atelier traitement de texte")
    tuesday = NOW.date() + timedelta(days=1)
    services.slot_book(
        actor=alice, resources=[pc], starts_at=at(tuesday, 9), ends_at=at(tuesday, 10), module="inclusion"
    )
    token = ical.resource_token(resource_id=pc.pk, commune_id=commune.pk)
    response = client_for(commune).get(f"/reservations/agenda/ressource/{token}.ics")
    events = parse(response.content)
    assert [e["DTSTART"] for e in events] == ["20300305T080000Z", "20300306T130000Z"]
    assert alice.user.last_name not in response.content.decode()
    with scope(commune=commune):
        assert "Atelier traitement de texte" in unescape(events[1]["SUMMARY"])


def test_calendar_utc_and_stamp():
    body = ical.calendar(
        "Test",
        [
            ical.Event(
                uid="x@y",
                starts_at=datetime(2030, 7, 1, 10, tzinfo=UTC),
                ends_at=datetime(2030, 7, 1, 11, tzinfo=UTC),
                summary="A",
            )
        ],
        now=datetime(2030, 6, 1, tzinfo=UTC),
    )
    events = parse(body.encode())
    assert events == [
        {
            "UID": "x@y",
            "DTSTAMP": "20300601T000000Z",
            "DTSTART": "20300701T100000Z",
            "DTEND": "20300701T110000Z",
            "SUMMARY": "A",
            "STATUS": "CONFIRMED",
        }
    ]


def test_a_person_renews_their_calendar_link_and_the_old_one_stops_working(
    client_for, commune, alice, frozen
):
    from mairie.core.models import AuditEntry

    client = client_for(commune, alice.user)
    page = client.get("/reservations/").content.decode()
    old = re.search(r'href="(https?://[^"]+\.ics)"', page).group(1)
    assert client.get(old).status_code == 200
    assert 'action="/reservations/agenda/renouveler/"' in page
    response = client.post("/reservations/agenda/renouveler/", follow=True)
    text = response.content.decode()
    assert "L&#x27;ancien ne fonctionne plus" in text
    new = re.search(r'href="(https?://[^"]+\.ics)"', text).group(1)
    assert new != old
    assert client.get(old).status_code == 404  # the shared link shows nothing any more
    assert client.get(new).status_code == 200
    with scope(commune=commune):
        assert AuditEntry.objects.filter(action="booking.feed.renewed", actor=alice.user).count() == 1
    # Renewing needs a POST (a link in an email cannot do it behind the person's back).
    assert client.get("/reservations/agenda/renouveler/").status_code == 405
