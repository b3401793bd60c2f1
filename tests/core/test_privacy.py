"""My data: a readable page of everything kept about me, and the same as a JSON download."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.urls import reverse
from django_scopes import scope

from mairie.core import personal_data
from mairie.core.models import AuditEntry, Mandate, Role
from mairie.core.services.audit import log_action
from mairie.core.services.notifications import notify
from tests.factories import make_user

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 4, 14, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def resident(commune):
    person = make_user(commune, first_name="Jean", last_name="Dupuis", email="jean.dupuis@example.org")
    agent = make_user(commune, Role.AGENT, first_name="Sophie", last_name="Lambert")
    with scope(commune=commune):
        mandate = Mandate.objects.create(
            commune=commune,
            agent=agent,
            resident=person,
            purpose="Inscription à l'atelier tablette",
            consent_method=Mandate.ConsentMethod.PAPER,
            expires_at=NOW + dt.timedelta(days=30),
        )
        log_action("core.account.updated", commune=commune, actor=agent, obj=person, mandate=mandate)
        notify(
            recipient=person,
            commune=commune,
            template="core/erasure_refused",
            context={"commune_name": commune.name, "answer": "Un dossier est encore ouvert."},
            channels=["in_app"],
        )
    return person


def test_page_shows_everything_kept_about_me(client_for, commune, resident):
    body = client_for(commune, resident).get(reverse("core:my_data")).content.decode()
    for heading in (
        "Votre compte",
        "Vos rôles dans la commune",
        "Les personnes que vous avez autorisées à agir pour vous",
        "Les messages qui vous ont été envoyés",
        "Ce qui a été fait avec votre compte",
    ):
        assert heading in body
    assert "jean.dupuis@example.org" in body and resident.username in body
    assert "habitant·e" in body
    assert "Sophie Lambert" in body and "Inscription à l&#x27;atelier tablette" in body
    assert "accord signé sur papier" in body
    assert "Un dossier est encore ouvert." in body
    assert "Modification du nom ou des coordonnées" in body
    assert "4 mai 2026" in body
    assert "empreinte" in body and "pbkdf2" not in body.lower() and "md5$" not in body
    assert reverse("core:my_data_json") in body


def test_page_shows_nothing_of_other_people(client_for, commune, resident):
    neighbour = make_user(commune, first_name="Paul", last_name="Voisin", email="paul@example.org")
    body = client_for(commune, neighbour).get(reverse("core:my_data")).content.decode()
    assert "jean.dupuis@example.org" not in body
    assert "Inscription à l&#x27;atelier tablette" not in body
    assert "Un dossier est encore ouvert." not in body


def test_json_download_is_an_attachment_with_the_same_data_and_is_audited(client_for, commune, resident):
    response = client_for(commune, resident).get(reverse("core:my_data_json"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="mes-donnees-{commune.slug}-2026-05-04.json"'
    )
    document = json.loads(response.content)
    assert document["personne"] == resident.pk
    sections = document["sections"]
    assert sections["core.profile"]["donnees"]["Adresse e-mail"] == "jean.dupuis@example.org"
    assert sections["core.profile"]["donnees"]["Compte créé le"].startswith("2026-05-04T14:30")
    [mandate] = sections["core.mandates_given"]["donnees"]
    assert mandate["Personne autorisée"] == "Sophie Lambert"
    assert sections["core.notifications"]["donnees"][0]["Message"].startswith("La mairie ne peut pas")
    with scope(commune=commune):
        [entry] = AuditEntry.objects.filter(action="core.privacy.exported")
    assert entry.actor_id == resident.pk


def test_data_pages_need_sign_in(client_for, commune):
    client = client_for(commune)
    for name in ("my_data", "my_data_json", "erasure"):
        response = client.get(reverse(f"core:{name}"))
        assert response.status_code == 302 and reverse("core:login") in response["Location"]


def test_a_module_adds_its_own_data_through_the_registry(client_for, commune, resident, monkeypatch):
    def workshops(user, commune_):
        with scope(commune=commune_):  # providers run in the commune's scope: a scoped query works
            AuditEntry.objects.filter(actor=user).count()
        return [{"Atelier": "Premiers pas sur tablette", "Date": NOW}]

    monkeypatch.setattr(personal_data, "_PROVIDERS", dict(personal_data._PROVIDERS))
    personal_data.register_personal_data_provider(
        "inclusion.bookings", "Vos inscriptions aux ateliers", workshops
    )
    client = client_for(commune, resident)
    body = client.get(reverse("core:my_data")).content.decode()
    assert "Vos inscriptions aux ateliers" in body and "Premiers pas sur tablette" in body
    document = json.loads(client.get(reverse("core:my_data_json")).content)
    assert document["sections"]["inclusion.bookings"]["donnees"][0]["Atelier"] == "Premiers pas sur tablette"


def test_readable_values():
    assert personal_data.readable(None) == "—"
    assert personal_data.readable(True) == "oui"
    assert personal_data.readable(False) == "non"
    assert personal_data.readable(["a", "b"]) == "a, b"
    assert personal_data.readable(dt.date(2026, 5, 4)) == "4 mai 2026"
