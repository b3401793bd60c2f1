"""Acting on behalf of a resident: consent recorded, the resident told, every action "done by X for Y"."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from django_scopes import scope

from mairie.core.acting import SESSION_KEY, Actor, log_for
from mairie.core.models import AuditEntry, Mandate, Notification, Role
from mairie.core.services.mandates import Duration, mandate_expiry, mandate_start
from tests.factories import make_user

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
BANNER = "Vous agissez pour"


@pytest.fixture
def agent(commune):
    return make_user(commune, Role.AGENT, first_name="Sophie", last_name="Lambert")


@pytest.fixture
def odette(commune):
    return make_user(commune, first_name="Odette", last_name="Vidal", email="odette@example.org")


def _text(response) -> str:
    """The page as a person reads it: no tags, entities decoded, white space folded."""
    return re.sub(r"\s+", " ", html.unescape(strip_tags(response.content.decode())))


def _act(client, person, **fields):
    data = {"purpose": "Inscription à l'atelier tablette", "consent_method": "in_person", "duration": "1h"}
    return client.post(reverse("core:staff_act_start", args=[person.pk]), {**data, **fields})


def test_agent_acts_for_a_resident_with_consent_recorded_and_the_resident_told(
    client_for, commune, agent, odette, django_capture_on_commit_callbacks, mailoutbox
):
    client = client_for(commune, agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = _act(client, odette, consent_method="phone", duration="1m")
    assert response.status_code == 302
    with scope(commune=commune):
        mandate = Mandate.objects.get()
        started = AuditEntry.objects.get(action="core.mandate.started")
        told = list(Notification.objects.filter(recipient=odette, template="core/mandate_started"))
    assert (mandate.agent, mandate.resident, mandate.consent_method) == (agent, odette, "phone")
    assert mandate.purpose == "Inscription à l'atelier tablette"
    assert timedelta(days=28) <= mandate.expires_at - mandate.starts_at <= timedelta(days=31)
    assert (started.actor, started.on_behalf_of, started.mandate) == (agent, odette, mandate)
    assert {n.channel for n in told} == {"in_app", "email"}
    assert "Sophie Lambert" in told[0].subject and "atelier tablette" in told[0].body
    [email] = [m for m in mailoutbox if m.to == ["odette@example.org"]]
    assert "Sophie Lambert" in email.body and "Inscription à l'atelier tablette" in email.body
    assert client.session[SESSION_KEY] == mandate.pk
    page = _text(client.get(reverse("core:home")))
    assert f"{BANNER} Odette Vidal" in page


def test_stop_then_resume_acting_under_the_same_mandate(client_for, commune, agent, odette):
    client = client_for(commune, agent)
    _act(client, odette, duration="today")
    client.post(reverse("core:stop_acting"))
    assert BANNER not in _text(client.get(reverse("core:home")))
    with scope(commune=commune):
        mandate = Mandate.objects.get()
        stopped = AuditEntry.objects.get(action="core.mandate.stopped")
    assert mandate.is_active()  # stopping for now does not withdraw the resident's consent
    assert (stopped.actor, stopped.on_behalf_of, stopped.mandate) == (agent, odette, mandate)

    page = _text(client.get(reverse("core:staff_resident", args=[odette.pk])))
    assert "Reprendre avec cet accord" in page
    client.post(reverse("core:staff_act_resume", args=[mandate.pk]))
    assert f"{BANNER} Odette Vidal" in _text(client.get(reverse("core:home")))
    with scope(commune=commune):
        assert Mandate.objects.count() == 1
        resumed = AuditEntry.objects.get(action="core.mandate.resumed")
    assert (resumed.actor, resumed.on_behalf_of, resumed.mandate) == (agent, odette, mandate)


def test_an_agent_cannot_act_for_themself(client_for, commune, agent):
    response = _act(client_for(commune, agent), agent)
    assert response.status_code == 302
    with scope(commune=commune):
        assert not Mandate.objects.exists()
        with pytest.raises(ValidationError):
            mandate_start(
                agent=agent,
                resident=agent,
                commune=commune,
                purpose="x",
                consent_method="in_person",
                expires_at=mandate_expiry(Duration.ONE_HOUR),
            )


def test_an_agent_cannot_act_for_a_person_of_another_commune(client_for, commune, other_commune, agent):
    elsewhere = make_user(other_commune)
    assert _act(client_for(commune, agent), elsewhere).status_code == 404
    with scope(commune=commune):
        with pytest.raises(ValidationError):
            mandate_start(
                agent=agent,
                resident=elsewhere,
                commune=commune,
                purpose="x",
                consent_method="in_person",
                expires_at=mandate_expiry(Duration.ONE_HOUR),
            )
        assert not Mandate.objects.exists()


def test_a_resident_cannot_start_a_mandate_even_through_the_service(commune, odette):
    other = make_user(commune)
    with scope(commune=commune), pytest.raises(PermissionDenied):
        mandate_start(
            agent=other,
            resident=odette,
            commune=commune,
            purpose="x",
            consent_method="in_person",
            expires_at=mandate_expiry(Duration.ONE_HOUR),
        )


def test_no_acting_for_someone_while_acting_for_someone_else(client_for, commune, agent, odette):
    marcel = make_user(commune, first_name="Marcel", last_name="Dubois")
    client = client_for(commune, agent)
    _act(client, odette)
    response = _act(client, marcel)
    assert response.status_code == 302
    with scope(commune=commune):
        assert list(Mandate.objects.values_list("resident", flat=True)) == [odette.pk]
    page = _text(client.get(response.url))
    assert "Vous agissez déjà pour Odette Vidal" in page
    assert f"{BANNER} Odette Vidal" in page


def test_missing_purpose_or_consent_is_explained_and_nothing_saved(client_for, commune, agent, odette):
    client = client_for(commune, agent)
    response = _act(client, odette, purpose="", consent_method="")
    body = _text(response)
    assert response.status_code == 200
    assert "Rien n'a été enregistré" in body and "Pour quoi faire ? : Ce champ est obligatoire" in body
    with scope(commune=commune):
        assert not Mandate.objects.exists()
    assert SESSION_KEY not in client.session


def test_actions_logged_while_acting_read_done_by_agent_for_resident(client_for, commune, agent, odette):
    admin = make_user(commune, Role.ADMIN)
    with scope(commune=commune):
        mandate = mandate_start(
            agent=agent,
            resident=odette,
            commune=commune,
            purpose="Réservation",
            consent_method="paper",
            expires_at=mandate_expiry(Duration.ONE_HOUR),
        )
        actor = Actor(user=agent, commune=commune, subject=odette, mandate=mandate)
        entry = log_for(actor, "inclusion.session.booked", data={"session": 12})
        alone = log_for(Actor.himself(odette, commune), "inclusion.session.cancelled")
    assert (entry.actor, entry.on_behalf_of, entry.mandate, entry.commune) == (
        agent,
        odette,
        mandate,
        commune,
    )
    assert (alone.actor, alone.on_behalf_of, alone.mandate) == (odette, None, None)

    journal = _text(
        client_for(commune, admin).get(reverse("core:staff_audit"), {"action": "inclusion.session.b"})
    )
    assert "Sophie Lambert pour Odette Vidal" in journal
    history = _text(client_for(commune, odette).get(reverse("core:account_history")))
    assert "Sophie Lambert" in history


def test_the_mandate_expiry_ends_acting(client_for, commune, agent, odette):
    start = datetime(2026, 11, 26, 10, 0, tzinfo=PARIS)
    with time_machine.travel(start, tick=False) as traveller:
        client = client_for(commune, agent)
        _act(client, odette, duration="1h")
        traveller.move_to(start + timedelta(minutes=59))
        assert f"{BANNER} Odette Vidal" in _text(client.get(reverse("core:home")))
        traveller.move_to(start + timedelta(minutes=61))
        page = _text(client.get(reverse("core:home")))
        assert BANNER not in page
        assert SESSION_KEY not in client.session
        assert "Reprendre avec cet accord" not in _text(
            client.get(reverse("core:staff_resident", args=[odette.pk]))
        )


def test_a_revoked_mandate_ends_acting_at_once(client_for, commune, agent, odette):
    client = client_for(commune, agent)
    _act(client, odette)
    with scope(commune=commune):
        Mandate.objects.update(revoked_at=timezone.now(), revoked_by=odette)
    assert BANNER not in _text(client.get(reverse("core:home")))


def test_resuming_someone_elses_mandate_is_a_404(client_for, commune, agent, odette):
    colleague = make_user(commune, Role.AGENT)
    with scope(commune=commune):
        mandate = mandate_start(
            agent=colleague,
            resident=odette,
            commune=commune,
            purpose="x",
            consent_method="in_person",
            expires_at=mandate_expiry(Duration.ONE_HOUR),
        )
    client = client_for(commune, agent)
    assert client.post(reverse("core:staff_act_resume", args=[mandate.pk])).status_code == 404
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize(
    ("now", "duration", "expected"),
    [
        (datetime(2026, 11, 26, 10, 30), Duration.ONE_HOUR, datetime(2026, 11, 26, 11, 30)),
        (datetime(2026, 11, 26, 10, 30), Duration.TODAY, datetime(2026, 11, 27, 0, 0)),
        (datetime(2027, 1, 31, 9, 0), Duration.ONE_MONTH, datetime(2027, 2, 28, 9, 0)),
        (datetime(2026, 11, 26, 9, 0), Duration.SIX_MONTHS, datetime(2027, 5, 26, 9, 0)),
        (datetime(2028, 2, 29, 9, 0), Duration.ONE_YEAR, datetime(2029, 2, 28, 9, 0)),
    ],
)
def test_mandate_durations(now, duration, expected):
    result = mandate_expiry(duration, now=now.replace(tzinfo=PARIS))
    assert timezone.localtime(result).replace(tzinfo=None) == expected
