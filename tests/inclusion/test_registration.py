"""Registering: online by the resident (a plain button, no JavaScript), or at the desk by a mediator acting
for them; a full session gives a place on the waiting list; a course is booked whole; bad requests change
nothing."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from mairie.booking.models import Booking, Session
from mairie.core.acting import SESSION_KEY, Actor
from mairie.core.models import AuditEntry, Mandate, Role
from mairie.core.services.mandates import mandate_start
from mairie.inclusion.models import Beneficiary, Theme, Workshop
from mairie.inclusion.services.sessions import register
from tests.factories import make_user
from tests.inclusion.helpers import in_days, make_course, make_session, make_workshop, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def workshop(staff, theme):
    return make_workshop(staff, theme, default_capacity=2)


def _page(client, ws):
    return text(client.get(f"/numeripole/seances/{ws.pk}/"))


def test_a_resident_registers_with_one_button(client_for, numeripole, staff, workshop, resident):
    ws = make_session(staff, workshop)
    client = client_for(numeripole, resident)
    assert "Je m'inscris" in _page(client, ws)
    response = client.post("/numeripole/inscription/", {"session": ws.pk}, follow=True)
    body = text(response)
    assert "vous êtes inscrit·e" in body
    booking = Booking.objects.get(session=ws.session)
    assert booking.person == resident and booking.status == Booking.Status.CONFIRMED
    assert Session.objects.get(pk=ws.session_id).booked_count == 1
    assert "1 place libre" in _page(client, ws)
    # The person's profile here is made at once, living in the commune of their account.
    profile = Beneficiary.objects.get(user=resident)
    assert profile.residence_insee == numeripole.insee_code


def test_a_full_session_puts_the_next_person_on_the_waiting_list(client_for, numeripole, staff, workshop):
    ws = make_session(staff, workshop)
    for _ in range(2):
        register(actor=Actor.himself(make_user(numeripole), numeripole), workshop_session=ws)
    late = make_user(numeripole)
    client = client_for(numeripole, late)
    assert "Me mettre sur la liste d'attente" in _page(client, ws)
    body = text(client.post("/numeripole/inscription/", {"session": ws.pk}, follow=True))
    assert "liste d'attente" in body
    assert Booking.objects.get(person=late).status == Booking.Status.WAITLISTED
    assert Session.objects.get(pk=ws.session_id).booked_count == 2


def test_a_course_is_booked_whole(client_for, numeripole, staff, theme, resident):
    course = make_workshop(staff, theme, title="Impôts en ligne", sessions_per_course=3, default_capacity=4)
    sessions = make_course(staff, course)
    assert len({ws.package_id for ws in sessions}) == 1
    client = client_for(numeripole, resident)
    page = _page(client, sessions[1])
    assert "Parcours de 3 séances" in page
    body = text(client.post("/numeripole/inscription/", {"session": sessions[1].pk}, follow=True))
    assert "Les 3 séances du parcours sont réservées" in body
    bookings = Booking.objects.filter(person=resident).order_by("starts_at")
    assert [b.session_id for b in bookings] == [ws.session_id for ws in sessions]
    assert {b.package_id for b in bookings} == {sessions[0].package_id}


def test_the_mediator_registers_a_resident_at_the_desk(client_for, numeripole, staff, workshop, mediator):
    odette = make_user(numeripole, first_name="Odette", last_name="Vidal", email="", phone=None)
    assert odette.email is None and odette.phone is None
    ws = make_session(staff, workshop)
    mandate = mandate_start(
        agent=mediator,
        resident=odette,
        commune=numeripole,
        purpose="Inscription aux ateliers",
        consent_method=Mandate.ConsentMethod.IN_PERSON,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    client = client_for(numeripole, mediator)
    session = client.session
    session[SESSION_KEY] = mandate.pk
    session.save()
    assert "Inscrire Odette Vidal" in _page(client, ws)
    body = text(client.post("/numeripole/inscription/", {"session": ws.pk}, follow=True))
    assert "Odette Vidal est inscrit·e" in body
    booking = Booking.objects.get(session=ws.session)
    assert booking.person == odette and booking.booked_by == mediator and booking.mandate == mandate
    entry = AuditEntry.objects.filter(action="booking.booking.confirmed").get()
    assert entry.actor == mediator and entry.on_behalf_of == odette


def test_another_communes_session_is_refused_and_nothing_changes(
    client_for, numeripole, other_commune, resident
):
    with scopes_disabled():
        other_commune.enabled_modules = ["inclusion"]
        other_commune.save()
    with scope(commune=other_commune):
        far_mediator = make_user(other_commune, Role.MEDIATOR)
        far_staff = Actor.himself(far_mediator, other_commune)
        theme = Theme.objects.create(
            commune=other_commune, name="Photo", coop_theme="creer_avec_le_numerique"
        )
        far_ws = make_session(far_staff, make_workshop(far_staff, theme))
    client = client_for(numeripole, resident)
    for value in (far_ws.pk, "n'importe quoi", ""):
        response = client.post("/numeripole/inscription/", {"session": value})
        assert response.status_code == 400
        assert "Cette séance n'existe pas" in text(response)
    with scopes_disabled():
        assert not Booking.objects.exists()
        assert Session.objects.get(pk=far_ws.session_id).booked_count == 0


def test_a_session_already_started_is_closed(client_for, numeripole, staff, workshop, resident):
    ws = make_session(staff, workshop, days=1)
    client = client_for(numeripole, resident)
    with time_machine.travel(ws.session.starts_at + timedelta(minutes=5)):
        assert "Les inscriptions à cette séance sont closes" in _page(client, ws)
        body = text(client.post("/numeripole/inscription/", {"session": ws.pk}, follow=True))
    assert "déjà passée" in body
    assert not Booking.objects.exists()


def test_no_registration_for_drop_in(client_for, numeripole, staff, theme, resident):
    drop_in = make_workshop(staff, theme, title="Accès libre", kind=Workshop.Kind.DROP_IN)
    ws = make_session(staff, drop_in)
    client = client_for(numeripole, resident)
    assert "pas besoin de s'inscrire" in _page(client, ws)
    body = text(client.post("/numeripole/inscription/", {"session": ws.pk}, follow=True))
    assert "Pas besoin de s'inscrire" in body
    assert not Booking.objects.exists()


def test_signed_out_visitors_are_asked_to_sign_in(client_for, numeripole, staff, workshop):
    ws = make_session(staff, workshop)
    client = client_for(numeripole)
    assert "Se connecter pour s'inscrire" in _page(client, ws)
    response = client.post("/numeripole/inscription/", {"session": ws.pk})
    assert response.status_code == 302 and "/connexion/" in response["Location"]


def test_pages_are_not_found_when_the_commune_has_not_switched_the_module_on(client_for, commune, resident):
    with scopes_disabled():
        commune.enabled_modules = []
        commune.save()
    client = client_for(commune, resident)
    for url in ("/numeripole/", "/numeripole/mon-parcours/", "/numeripole/ateliers/"):
        assert client.get(url).status_code == 404


def test_in_days_helper_lands_in_the_future():
    assert in_days(1) > timezone.now()
