"""Drop-in ("accès libre"): the mediator notes each arrival, a known resident or an anonymous visitor."""

from datetime import timedelta

import pytest
import time_machine

from mairie.inclusion.models import Accompaniment, Beneficiary, Participation, Workshop
from tests.inclusion.helpers import make_session, make_workshop, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def drop_in(staff, theme):
    workshop = make_workshop(
        staff, theme, title="Accès libre", kind=Workshop.Kind.DROP_IN, duration_minutes=180
    )
    return make_session(staff, workshop, days=1)


def test_arrivals_are_listed_and_each_visit_recorded(client_for, numeripole, mediator, resident, drop_in):
    client = client_for(numeripole, mediator)
    url = f"/numeripole/gestion/acces-libre/{drop_in.pk}/"
    with time_machine.travel(drop_in.session.starts_at + timedelta(minutes=20)):
        found = text(client.get(url, {"q": "Vidal"}))
        assert "Noter l'arrivée de Odette Vidal" in found
        client.post(url, {"person": resident.pk})
        client.post(
            url,
            {
                "visitor": "anonymous",
                "age_band": "soixante_dix_plus",
                "residence_name": "Montfort",
                "residence_insee": "35188",
            },
        )
        page = text(client.get(url))
    assert (
        "2 passages notés" in page and "Odette Vidal" in page and "personne anonyme (70 ans et plus)" in page
    )
    record = Accompaniment.objects.get()
    assert record.kind == "collectif" and record.workshop_session == drop_in
    visits = list(Participation.objects.order_by("pk"))
    assert [v.beneficiary.user for v in visits] == [resident, None]
    assert visits[1].residence_insee == "35188" and visits[1].age_band == "soixante_dix_plus"
    assert Beneficiary.objects.get(pk=visits[1].beneficiary_id).is_anonymous


def test_the_same_person_is_not_counted_twice(client_for, numeripole, mediator, resident, drop_in):
    client = client_for(numeripole, mediator)
    url = f"/numeripole/gestion/acces-libre/{drop_in.pk}/"
    with time_machine.travel(drop_in.session.starts_at + timedelta(minutes=20)):
        client.post(url, {"person": resident.pk})
        response = client.post(url, {"person": resident.pk})
    assert "Odette Vidal est déjà noté·e aujourd'hui" in text(response)
    assert Participation.objects.count() == 1


def test_a_wrong_insee_code_is_refused_next_to_the_field(client_for, numeripole, mediator, drop_in):
    client = client_for(numeripole, mediator)
    url = f"/numeripole/gestion/acces-libre/{drop_in.pk}/"
    with time_machine.travel(drop_in.session.starts_at + timedelta(minutes=20)):
        response = client.post(
            url, {"visitor": "anonymous", "age_band": "non_communique", "residence_insee": "123"}
        )
    body = text(response)
    assert response.status_code == 200 and "Le code INSEE compte cinq caractères" in body
    assert not Participation.objects.exists() and not Beneficiary.objects.exists()


def test_arrivals_are_noted_on_the_day_only(client_for, numeripole, mediator, resident, drop_in):
    client = client_for(numeripole, mediator)
    url = f"/numeripole/gestion/acces-libre/{drop_in.pk}/"
    assert "On note les arrivées le jour de la séance" in text(client.get(url))
    response = client.post(url, {"person": resident.pk})
    assert "On note les arrivées le jour de la séance" in text(response)
    assert not Participation.objects.exists()


def test_someone_of_another_commune_cannot_be_checked_in(
    client_for, numeripole, mediator, other_commune, drop_in
):
    from tests.factories import make_user

    stranger = make_user(other_commune)
    client = client_for(numeripole, mediator)
    with time_machine.travel(drop_in.session.starts_at + timedelta(minutes=20)):
        response = client.post(f"/numeripole/gestion/acces-libre/{drop_in.pk}/", {"person": stranger.pk})
    assert response.status_code == 400 and "pas dans la liste des habitants" in text(response)
    assert not Participation.objects.exists()
