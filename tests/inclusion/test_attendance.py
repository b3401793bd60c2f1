"""The roll call makes the session's La Coop record at once; the mediator completes it afterwards."""

from datetime import timedelta

import pytest
import time_machine

from mairie.booking.models import Booking
from mairie.core.acting import Actor
from mairie.inclusion.models import Accompaniment, Beneficiary, Participation
from mairie.inclusion.services.sessions import register
from tests.factories import make_user
from tests.inclusion.helpers import make_session, make_workshop, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def booked(numeripole, staff, theme):
    """A session with three people registered, and the three bookings."""
    ws = make_session(staff, make_workshop(staff, theme, duration_minutes=90), days=2)
    people = [make_user(numeripole, first_name=name) for name in ("Anne", "Bruno", "Chloé")]
    bookings = [register(actor=Actor.himself(p, numeripole), workshop_session=ws)[0] for p in people]
    return ws, people, bookings


def _roll_call(client, ws, present, **autonomy):
    data = {"present": [b.pk for b in present]}
    data.update(autonomy)
    return client.post(f"/numeripole/gestion/seances/{ws.pk}/appel/", data)


def test_the_roll_call_makes_one_collective_record_with_the_people_present(
    client_for, numeripole, mediator, booked
):
    ws, people, bookings = booked
    client = client_for(numeripole, mediator)
    with time_machine.travel(ws.session.starts_at + timedelta(minutes=100)):
        assert "L'appel" in text(client.get(f"/numeripole/gestion/seances/{ws.pk}/"))
        response = _roll_call(client, ws, bookings[:2], **{f"autonomy_{bookings[0].pk}": "autonome"})
    record = Accompaniment.objects.get()
    assert (
        response.status_code == 302
        and response["Location"] == f"/numeripole/gestion/accompagnements/{record.pk}/"
    )
    assert record.kind == "collectif" and record.workshop_session == ws
    assert record.duration_minutes == 90 and record.title == ws.workshop.title
    assert record.coop_themes == ["prendre_en_main_du_materiel"] and record.completed_at is None
    rows = {p.beneficiary.user: p for p in Participation.objects.select_related("beneficiary__user")}
    assert set(rows) == set(people[:2])
    assert rows[people[0]].autonomy == "autonome" and rows[people[1]].autonomy == ""
    statuses = dict(Booking.objects.values_list("person_id", "status"))
    assert statuses == {people[0].pk: "attended", people[1].pk: "attended", people[2].pk: "no_show"}
    assert Beneficiary.objects.get(user=people[0]).first_seen_on == record.date


def test_a_second_roll_call_corrects_the_first(client_for, numeripole, mediator, booked):
    ws, people, bookings = booked
    client = client_for(numeripole, mediator)
    with time_machine.travel(ws.session.starts_at + timedelta(minutes=100)):
        _roll_call(client, ws, bookings)
        _roll_call(client, ws, bookings[1:])
    assert Accompaniment.objects.count() == 1
    assert {p.beneficiary.user for p in Participation.objects.all()} == set(people[1:])
    # Anne's only accompaniment was removed: she is no longer counted as a new person.
    assert Beneficiary.objects.get(user=people[0]).first_seen_on is None


def test_no_roll_call_before_the_day(client_for, numeripole, mediator, booked):
    ws, _, bookings = booked
    client = client_for(numeripole, mediator)
    page = text(client.get(f"/numeripole/gestion/seances/{ws.pk}/"))
    assert "L'appel se fait à partir du jour de la séance" in page
    response = _roll_call(client, ws, bookings)
    assert response.status_code == 200 and "error-summary" in text(response)
    assert not Accompaniment.objects.exists()
    assert set(Booking.objects.values_list("status", flat=True)) == {"confirmed"}


def test_a_wrong_autonomy_shows_the_roll_call_again_unchanged(client_for, numeripole, mediator, booked):
    ws, _, bookings = booked
    client = client_for(numeripole, mediator)
    with time_machine.travel(ws.session.starts_at + timedelta(minutes=100)):
        response = _roll_call(client, ws, bookings, **{f"autonomy_{bookings[0].pk}": "n'importe quoi"})
    body = text(response)
    assert response.status_code == 200
    assert "Choisissez un niveau d'autonomie dans la liste" in body and 'aria-invalid="true"' in body
    assert not Accompaniment.objects.exists()
    assert set(Booking.objects.values_list("status", flat=True)) == {"confirmed"}


def test_completing_the_record_updates_every_participation(client_for, numeripole, mediator, booked, theme):
    ws, people, bookings = booked
    client = client_for(numeripole, mediator)
    with time_machine.travel(ws.session.starts_at + timedelta(minutes=100)):
        _roll_call(client, ws, bookings)
        record = Accompaniment.objects.get()
        first = Participation.objects.get(beneficiary__user=people[0])
        response = client.post(
            f"/numeripole/gestion/accompagnements/{record.pk}/",
            {
                "duration_minutes": "120",
                "place_kind": "lieu_activite",
                "theme": theme.pk,
                "coop_themes": ["email"],
                "materials": ["telephone"],
                "autonomy": "partiellement_autonome",
                "redirection": "administration",
                f"autonomy_{first.pk}": "entierement_accompagne",
            },
        )
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.completed_at is not None and record.redirection == "administration"
    assert record.coop_themes == ["prendre_en_main_du_materiel", "email"] and record.materials == [
        "telephone"
    ]
    levels = dict(Participation.objects.values_list("beneficiary__user", "autonomy"))
    assert (
        levels[people[0].pk] == "entierement_accompagne" and levels[people[1].pk] == "partiellement_autonome"
    )
    assert set(Participation.objects.values_list("duration_minutes", flat=True)) == {120}


def test_a_negative_duration_is_refused_next_to_the_field(client_for, numeripole, mediator, booked, theme):
    ws, _, bookings = booked
    client = client_for(numeripole, mediator)
    with time_machine.travel(ws.session.starts_at + timedelta(minutes=100)):
        _roll_call(client, ws, bookings)
        record = Accompaniment.objects.get()
        response = client.post(
            f"/numeripole/gestion/accompagnements/{record.pk}/",
            {"duration_minutes": "-30", "place_kind": "lieu_activite", "theme": theme.pk},
        )
    body = text(response)
    assert response.status_code == 200 and 'id="id_duration_minutes-error"' in body
    record.refresh_from_db()
    assert record.duration_minutes == 90 and record.completed_at is None
