"""My history: what I did, and what was done for me, in plain words."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from mairie.core.action_labels import describe_action
from mairie.core.models import Mandate, Role
from mairie.core.selectors import history_for, history_lines
from mairie.core.services.audit import log_action
from tests.factories import make_user

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _mandate(commune, agent, resident):
    with scope(commune=commune):
        return Mandate.objects.create(
            commune=commune,
            agent=agent,
            resident=resident,
            purpose="Inscription à l'atelier tablette",
            consent_method=Mandate.ConsentMethod.IN_PERSON,
            starts_at=START,
            expires_at=START + dt.timedelta(days=30),
        )


def _log(commune, action, *, actor, minutes, **kwargs):
    with time_machine.travel(START + dt.timedelta(minutes=minutes), tick=False), scope(commune=commune):
        return log_action(action, commune=commune, actor=actor, **kwargs)


def test_history_shows_my_actions_and_what_staff_did_for_me_newest_first(client_for, commune):
    resident = make_user(commune, first_name="Jean", last_name="Dupuis")
    agent = make_user(commune, Role.AGENT, first_name="Sophie", last_name="Lambert")
    mandate = _mandate(commune, agent, resident)
    _log(commune, "core.auth.logged_in", actor=resident, minutes=1, obj=resident)
    _log(commune, "core.account.updated", actor=agent, minutes=2, obj=resident, mandate=mandate)
    _log(commune, "core.privacy.exported", actor=resident, minutes=3, obj=resident)

    body = client_for(commune, resident).get(reverse("core:account_history")).content.decode()

    exported = body.index("Téléchargement de vos données")
    updated = body.index("Modification du nom ou des coordonnées")
    logged_in = body.index("Connexion au site")
    assert exported < updated < logged_in
    assert "Fait par Sophie Lambert (agent de mairie) pour vous" in body


def test_history_hides_other_people_and_other_communes(client_for, commune, other_commune):
    resident = make_user(commune, first_name="Jean", last_name="Dupuis")
    neighbour = make_user(commune)
    _log(commune, "core.privacy.exported", actor=neighbour, minutes=1, obj=neighbour)
    _log(other_commune, "core.account.updated", actor=resident, minutes=2, obj=resident)
    body = client_for(commune, resident).get(reverse("core:account_history")).content.decode()
    assert "Téléchargement de vos données" not in body
    assert "Modification du nom ou des coordonnées" not in body
    assert "Création du compte" in body


def test_staff_history_says_for_whom_they_acted(commune):
    resident = make_user(commune, first_name="Jean", last_name="Dupuis")
    agent = make_user(commune, Role.AGENT, first_name="Sophie", last_name="Lambert")
    mandate = _mandate(commune, agent, resident)
    _log(commune, "core.account.updated", actor=agent, minutes=1, obj=resident, mandate=mandate)
    with scope(commune=commune):
        line = history_lines(
            agent, commune, history_for(agent, commune).filter(action="core.account.updated")
        )[0]
    assert line.by_whom == "Fait par vous pour Jean Dupuis"


def test_unknown_action_codes_still_read_as_words():
    assert describe_action("core.account.created") == "Création du compte"
    assert describe_action("spaceport.session.booked") == "Action « session booked » (spaceport)"
    assert describe_action("core.something_new") == "Action « something new » (Socle)"


def test_history_is_paginated(client_for, commune):
    resident = make_user(commune)
    for minute in range(29):  # with the account's creation (the newest, made now): 30 lines
        _log(commune, "core.auth.logged_in", actor=resident, minutes=minute, obj=resident)
    client = client_for(commune, resident)
    first = client.get(reverse("core:account_history")).content.decode()
    second = client.get(reverse("core:account_history") + "?page=2").content.decode()
    assert first.count("Création du compte") == 1 and first.count("Connexion au site") == 24
    assert second.count("Connexion au site") == 5
    assert "Page 1 sur 2" in first and "?page=2" in first


def _queries_for_history(client_for, commune, resident, staff_count):
    for n in range(staff_count):
        agent = make_user(commune, Role.AGENT, first_name=f"Agent{n}")
        mandate = _mandate(commune, agent, resident)
        _log(commune, "core.account.updated", actor=agent, minutes=n, obj=resident, mandate=mandate)
    client = client_for(commune, resident)
    client.get(reverse("core:account_history"))  # warm the session
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("core:account_history"))
    assert response.status_code == 200
    assert response.content.decode().count("(agent de mairie) pour vous") == min(staff_count, 25)
    return len(queries)


def test_history_query_count_does_not_grow_with_rows(client_for, commune, other_commune):
    few = _queries_for_history(client_for, commune, make_user(commune), 2)
    many = _queries_for_history(client_for, commune, make_user(commune), 20)
    assert few == many


def test_erased_actor_reads_as_erased_person(commune):
    resident = make_user(commune)
    agent = make_user(commune, Role.AGENT, first_name="Sophie", last_name="Lambert")
    mandate = _mandate(commune, agent, resident)
    _log(commune, "core.account.updated", actor=agent, minutes=1, obj=resident, mandate=mandate)
    agent.erased_at = timezone.now()
    agent.save(update_fields=["erased_at"])
    with scope(commune=commune):
        entries = history_for(resident, commune).filter(action="core.account.updated")
        [line] = history_lines(resident, commune, entries)
    assert line.by_whom.startswith("Fait par Personne effacée")
