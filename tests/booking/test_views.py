"""Resident pages: "Mes réservations" (cancel without JavaScript, accept an offer), ticket, slot picker; staff pages."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope, scopes_disabled

from mairie.booking import services
from mairie.booking.models import Booking
from mairie.core.acting import Actor
from mairie.core.models import Mandate, Role
from tests.booking.conftest import NOW, at, make_session, resident_actor
from tests.factories import make_user

pytestmark = pytest.mark.django_db
Status = Booking.Status


def _text(response) -> str:
    return response.content.decode()


def test_my_bookings_lists_and_cancels_without_javascript(client_for, commune, staff, alice, bob, frozen):
    session = make_session(staff, capacity=1, title="Découvrir la tablette")
    mine = services.session_book(actor=alice, session=session)
    services.session_book(actor=bob, session=session)
    client = client_for(commune, alice.user)
    page = _text(client.get("/reservations/"))
    assert "Découvrir la tablette" in page
    assert f'action="/reservations/{mine.pk}/annuler/"' in page
    assert f'href="/reservations/{mine.pk}/ticket/"' in page
    assert ".ics" in page

    response = client.post(f"/reservations/{mine.pk}/annuler/", {})
    assert response.status_code == 302 and response["Location"] == "/reservations/"
    with scope(commune=commune):
        mine.refresh_from_db()
        assert mine.status == Status.CANCELLED
    page = _text(client.get("/reservations/"))
    assert "la réservation est annulée" in page
    assert "Vous n&#x27;avez pas de réservation à venir" in page or "pas de réservation à venir" in page

    # Bob, first on the waiting list, sees the offer and takes it.
    client = client_for(commune, bob.user)
    page = _text(client.get("/reservations/"))
    assert "Une place vous attend" in page
    with scope(commune=commune):
        offered = Booking.objects.get(person=bob.user)
    assert client.post(f"/reservations/{offered.pk}/accepter/").status_code == 302
    with scope(commune=commune):
        offered.refresh_from_db()
        assert offered.status == Status.CONFIRMED


def test_cancel_too_late_shows_why_and_changes_nothing(client_for, commune, staff, alice, frozen):
    session = make_session(staff, day_offset=0, hour=18)
    booking = services.session_book(actor=alice, session=session)
    client = client_for(commune, alice.user)
    page = _text(client.get("/reservations/"))
    assert "Trop tard pour annuler en ligne" in page
    assert f'action="/reservations/{booking.pk}/annuler/"' not in page
    response = client.post(f"/reservations/{booking.pk}/annuler/", {}, follow=True)
    assert "24 heures avant le début" in _text(response)
    with scope(commune=commune):
        booking.refresh_from_db()
        assert booking.status == Status.CONFIRMED


def test_too_long_reason_is_refused_next_to_the_field(client_for, commune, staff, alice, frozen):
    booking = services.session_book(actor=alice, session=make_session(staff))
    response = client_for(commune, alice.user).post(
        f"/reservations/{booking.pk}/annuler/", {"reason": "x" * 301}
    )
    assert response.status_code == 200
    assert 'aria-invalid="true"' in _text(response)
    with scope(commune=commune):
        booking.refresh_from_db()
        assert booking.status == Status.CONFIRMED


def test_ticket_only_for_the_person_someone_acting_for_them_or_staff(
    client_for, commune, staff, alice, bob, frozen
):
    booking = services.session_book(actor=alice, session=make_session(staff, title="Atelier e-mail"))
    url = f"/reservations/{booking.pk}/ticket/"
    client = client_for(commune, alice.user)
    page = _text(client.get(url))
    assert "Atelier e-mail" in page and str(booking.pk) in page and alice.user.display_name in page
    client.logout()
    assert client_for(commune, bob.user).get(url).status_code == 404
    client.logout()
    # Staff see it from their pages.
    staff_client = client_for(commune, staff.user)
    assert staff_client.get(f"/reservations/gestion/reservations/{booking.pk}/ticket/").status_code == 200
    # An agent acting for Alice under a mandate sees it at her address.
    agent = make_user(commune, Role.AGENT)
    with scopes_disabled():
        mandate = Mandate.objects.create(
            commune=commune,
            agent=agent,
            resident=alice.user,
            purpose="Réservations",
            consent_method="in_person",
            expires_at=NOW + timedelta(hours=2),
        )
    client = client_for(commune, agent)
    session = client.session
    session["mairie_mandate_id"] = mandate.pk
    session.save()
    assert client.get(url).status_code == 200


def test_another_communes_booking_is_not_found(client_for, commune, other_commune, alice, frozen):
    with scope(commune=other_commune):
        theirs_staff = Actor.himself(make_user(other_commune, Role.MEDIATOR), other_commune)
        theirs = services.session_book(
            actor=resident_actor(other_commune), session=make_session(theirs_staff)
        )
    client = client_for(commune, alice.user)
    for url in (f"/reservations/{theirs.pk}/ticket/", f"/reservations/{theirs.pk}/annuler/"):
        assert client.get(url).status_code == 404
    assert client.post(f"/reservations/{theirs.pk}/annuler/").status_code == 404
    with scope(commune=other_commune):
        theirs.refresh_from_db()
        assert theirs.status == Status.CONFIRMED


def test_my_bookings_query_count_does_not_grow(client_for, commune, staff, alice, room, frozen):
    client = client_for(commune, alice.user)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/reservations/").status_code == 200
        return len(queries)

    def add(first_day: int, n: int) -> None:
        for i in range(n):
            session = make_session(staff, day_offset=first_day + i, capacity=3, resources=[room])
            services.session_book(actor=alice, session=session)

    add(2, 1)
    count()  # the first request also looks up the commune (then cached)
    few = count()
    add(3, 6)
    with scope(commune=commune):
        slot_room = services.resource_create(
            actor=staff, module="inclusion", name="PC", opening=[(d, time(9), time(17)) for d in range(5)]
        )
        services.slot_book(
            actor=alice,
            resources=[slot_room],
            starts_at=at(NOW.date() + timedelta(days=1), 9),
            ends_at=at(NOW.date() + timedelta(days=1), 10),
            module="inclusion",
        )
    with CaptureQueriesContext(connection) as queries:
        client.get("/reservations/")
    many = len(queries)
    assert many == few, "\n".join(q["sql"] for q in queries.captured_queries)


def test_resource_slots_page_books_and_respects_the_module_switch(client_for, commune, staff, alice, frozen):
    with scopes_disabled():
        commune.enabled_modules = ["inclusion"]
        commune.save()
    pc = services.resource_create(
        actor=staff, module="inclusion", name="Poste 3", opening=[(1, time(9), time(11))]
    )
    tuesday = (NOW.date() + timedelta(days=1)).isoformat()
    client = client_for(commune, alice.user)
    page = _text(client.get(f"/reservations/ressources/{pc.pk}/?jour={tuesday}"))
    assert ">09h00<span" in page and ">10h00<span" in page
    start = at(NOW.date() + timedelta(days=1), 10).isoformat()
    response = client.post(f"/reservations/ressources/{pc.pk}/", {"debut": start})
    assert response.status_code == 302 and "/ticket/" in response["Location"]
    page = _text(client.get(f"/reservations/ressources/{pc.pk}/?jour={tuesday}"))
    assert ">09h00<span" in page and ">10h00<span" not in page
    # The same slot again: a clear message, nothing booked.
    response = client.post(f"/reservations/ressources/{pc.pk}/", {"debut": start}, follow=True)
    assert "déjà réservé" in _text(response)
    assert client.post(f"/reservations/ressources/{pc.pk}/", {"debut": "n'importe quoi"}).status_code == 302
    with scope(commune=commune):
        assert Booking.objects.count() == 1
    with scopes_disabled():
        commune.enabled_modules = []
        commune.save()
    cache.clear()  # the commune is cached per host name
    assert client.get(f"/reservations/ressources/{pc.pk}/").status_code == 404


def test_anonymous_sees_slots_but_must_sign_in_to_book(client, commune, staff, frozen):
    with scopes_disabled():
        commune.enabled_modules = ["inclusion"]
        commune.save()
    pc = services.resource_create(
        actor=staff, module="inclusion", name="Poste 4", opening=[(1, time(9), time(11))]
    )
    client.defaults["HTTP_HOST"] = "val-de-brume.test"
    tuesday = (NOW.date() + timedelta(days=1)).isoformat()
    assert "connectez-vous" in _text(client.get(f"/reservations/ressources/{pc.pk}/?jour={tuesday}"))
    start = at(NOW.date() + timedelta(days=1), 9).isoformat()
    response = client.post(f"/reservations/ressources/{pc.pk}/", {"debut": start})
    assert response.status_code == 302 and "/connexion/" in response["Location"]


def test_staff_session_page_marks_attendance(client_for, commune, staff, alice, bob, frozen):
    session = make_session(staff, day_offset=0, hour=9, capacity=1)
    present = services.session_book(
        actor=Actor(user=staff.user, commune=commune, subject=alice.user), session=session
    )
    services.session_book(actor=bob, session=session)
    client = client_for(commune, staff.user)
    page = _text(client.get(f"/reservations/gestion/seances/{session.pk}/"))
    assert alice.user.display_name in page and "Liste d" in page and bob.user.display_name in page
    client.post(f"/reservations/gestion/reservations/{present.pk}/presence/", {"present": "1"})
    with scope(commune=commune):
        present.refresh_from_db()
        assert present.status == Status.ATTENDED
    assert (
        client_for(commune, alice.user).get(f"/reservations/gestion/seances/{session.pk}/").status_code == 403
    )


def test_staff_home_and_closure_form(client_for, commune, staff, room, frozen):
    make_session(staff, title="Atelier photo")
    client = client_for(commune, staff.user)
    page = _text(client.get("/reservations/gestion/"))
    assert "Atelier photo" in page and "Salle multimédia" in page and "agenda/ressource/" in page
    bad = client.post(
        "/reservations/gestion/fermetures/",
        {"starts_at": "2030-03-10T10:00", "ends_at": "2030-03-09T10:00", "reason": "Travaux"},
    )
    assert bad.status_code == 200 and "La réouverture doit être après" in _text(bad)
    good = client.post(
        "/reservations/gestion/fermetures/",
        {
            "starts_at": "2030-03-10T10:00",
            "ends_at": "2030-03-12T10:00",
            "reason": "Travaux",
            "resource": room.pk,
        },
    )
    assert good.status_code == 302
    with scope(commune=commune):
        assert room.closures.get().reason == "Travaux"


def test_account_page_links_to_my_bookings(client_for, commune, alice):
    assert 'href="/reservations/"' in _text(client_for(commune, alice.user).get("/mon-compte/"))
