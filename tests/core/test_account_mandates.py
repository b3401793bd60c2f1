"""The people who may act for me: seeing my accords and taking one back."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django_scopes import scope

from mairie.core.acting import SESSION_KEY
from mairie.core.models import AuditEntry, Mandate, Role
from mairie.core.services.mandates import mandate_revoke
from tests.factories import make_user

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _mandate(
    commune, agent, resident, *, days=30, started_days_ago=0, purpose="Inscription à l'atelier tablette"
):
    with scope(commune=commune):
        return Mandate.objects.create(
            commune=commune,
            agent=agent,
            resident=resident,
            purpose=purpose,
            consent_method=Mandate.ConsentMethod.PHONE,
            starts_at=NOW - dt.timedelta(days=started_days_ago),
            expires_at=NOW - dt.timedelta(days=started_days_ago) + dt.timedelta(days=days),
        )


@pytest.fixture
def people(commune):
    return {
        "resident": make_user(commune, first_name="Jean", last_name="Dupuis"),
        "agent": make_user(commune, Role.AGENT, first_name="Sophie", last_name="Lambert"),
        "mediator": make_user(commune, Role.MEDIATOR, first_name="Karim", last_name="Benali"),
    }


def test_page_lists_running_and_past_accords_with_who_what_until_how(client_for, commune, people):
    _mandate(commune, people["agent"], people["resident"])
    _mandate(
        commune,
        people["mediator"],
        people["resident"],
        days=10,
        started_days_ago=40,
        purpose="Prêt de tablette",
    )
    body = client_for(commune, people["resident"]).get(reverse("core:account_mandates")).content.decode()
    running = body[body.index("Accords en cours") : body.index("Accords terminés")]
    past = body[body.index("Accords terminés") :]
    assert "Sophie Lambert" in running and "(agent de mairie)" in running
    assert "Inscription à l&#x27;atelier tablette" in running
    assert "1 avril 2026" in running  # until
    assert "accord donné par téléphone" in running
    assert "Retirer mon accord à Sophie Lambert" in running
    assert "Karim Benali" in past and "Prêt de tablette" in past and "terminé le" in past
    assert "Karim Benali" not in running


def test_page_shows_only_my_accords(client_for, commune, people):
    neighbour = make_user(commune, first_name="Paul", last_name="Voisin")
    _mandate(commune, people["agent"], neighbour, purpose="Dossier de Paul")
    body = client_for(commune, people["resident"]).get(reverse("core:account_mandates")).content.decode()
    assert "Dossier de Paul" not in body
    assert "Personne ne peut agir pour vous en ce moment" in body


def test_revoking_ends_the_accord_and_the_agent_can_no_longer_act(client_for, commune, people):
    mandate = _mandate(commune, people["agent"], people["resident"])
    agent_client = client_for(commune, people["agent"])
    session = agent_client.session
    session[SESSION_KEY] = mandate.pk
    session.save()
    assert "Vous agissez pour" in agent_client.get(reverse("core:account")).content.decode()

    from django.test import Client

    resident_client = Client(HTTP_HOST="val-de-brume.test")
    resident_client.force_login(people["resident"], backend="mairie.core.auth_backends.LoginBackend")
    response = resident_client.post(reverse("core:account_mandate_revoke", args=[mandate.pk]))
    assert response.status_code == 302
    follow = resident_client.get(response["Location"]).content.decode()
    assert "Sophie Lambert ne peut plus agir pour vous" in follow
    assert "retiré le" in follow and "par vous" in follow

    with scope(commune=commune):
        mandate.refresh_from_db()
        [entry] = AuditEntry.objects.filter(action="core.mandate.revoked")
    assert mandate.revoked_at == NOW and mandate.revoked_by_id == people["resident"].pk
    assert entry.actor_id == people["resident"].pk
    assert "Vous agissez pour" not in agent_client.get(reverse("core:account")).content.decode()


def test_another_persons_accord_is_a_404_and_stays(client_for, commune, people):
    neighbour = make_user(commune)
    mandate = _mandate(commune, people["agent"], neighbour)
    response = client_for(commune, people["resident"]).post(
        reverse("core:account_mandate_revoke", args=[mandate.pk])
    )
    assert response.status_code == 404
    with scope(commune=commune):
        mandate.refresh_from_db()
    assert mandate.revoked_at is None


def test_accord_of_another_commune_is_a_404(client_for, commune, other_commune, people):
    with scope(commune=other_commune):
        foreign = Mandate.objects.create(
            commune=other_commune,
            agent=make_user(other_commune, Role.AGENT),
            resident=people["resident"],
            purpose="Ailleurs",
            consent_method=Mandate.ConsentMethod.PAPER,
            expires_at=NOW + dt.timedelta(days=3),
        )
    response = client_for(commune, people["resident"]).post(
        reverse("core:account_mandate_revoke", args=[foreign.pk])
    )
    assert response.status_code == 404


def test_revoking_needs_post(client_for, commune, people):
    mandate = _mandate(commune, people["agent"], people["resident"])
    response = client_for(commune, people["resident"]).get(
        reverse("core:account_mandate_revoke", args=[mandate.pk])
    )
    assert response.status_code == 405


def test_revoking_a_finished_accord_says_so_and_changes_nothing(client_for, commune, people):
    mandate = _mandate(commune, people["agent"], people["resident"], days=1, started_days_ago=5)
    client = client_for(commune, people["resident"])
    response = client.post(reverse("core:account_mandate_revoke", args=[mandate.pk]), follow=True)
    assert "n&#x27;est plus en cours" in response.content.decode()
    with scope(commune=commune):
        mandate.refresh_from_db()
        assert not AuditEntry.objects.filter(action="core.mandate.revoked").exists()
    assert mandate.revoked_at is None


def test_who_may_revoke(commune, people):
    neighbour = make_user(commune)
    with scope(commune=commune):
        mandate = _mandate(commune, people["agent"], people["resident"])
        with pytest.raises(PermissionDenied):
            mandate_revoke(mandate=mandate, by=neighbour)
        mandate_revoke(mandate=mandate, by=people["agent"])  # the agent may give it back
        with pytest.raises(ValidationError):
            mandate_revoke(mandate=mandate, by=people["resident"])
        entry = AuditEntry.objects.get(action="core.mandate.revoked")
    assert entry.actor_id == people["agent"].pk and entry.on_behalf_of_id == people["resident"].pk
    assert entry.object_repr == ""  # no names in the append-only log
