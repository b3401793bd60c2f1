"""My account: what the person sees about themself, and changing their name, email and phone."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from mairie.core.models import AuditEntry, Role, User
from mairie.core.services.privacy import account_update_profile
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _audit(commune, action):
    with scope(commune=commune):
        return list(AuditEntry.objects.filter(action=action))


def test_account_needs_sign_in(client_for, commune):
    response = client_for(commune).get(reverse("core:account"))
    assert response.status_code == 302
    assert reverse("core:login") in response["Location"]


def test_account_shows_my_details_and_roles_here(client_for, commune, other_commune):
    person = make_user(
        commune,
        Role.MEDIATOR,
        first_name="Odile",
        last_name="Fournier",
        email="odile@example.org",
        phone=None,
    )
    with scopes_disabled():
        User.objects.filter(pk=person.pk).update(phone="+33612345678")
    body = client_for(commune, person).get(reverse("core:account")).content.decode()
    assert "Odile Fournier" in body
    assert person.username in body
    assert "odile@example.org" in body
    assert "06 12 34 56 78" in body
    assert "médiateur·rice numérique" in body and "habitant·e" in body
    for name in ("account_edit", "account_history", "account_mandates", "my_data", "erasure"):
        assert reverse(f"core:{name}") in body
    for name in ("my_notifications", "notification_preferences", "two_factor"):
        assert reverse(f"core:{name}") in body


def test_account_roles_are_those_of_this_commune_only(client_for, commune, other_commune):
    person = make_user(commune)
    with scopes_disabled():
        from mairie.core.models import Membership

        Membership.objects.create(commune=other_commune, user=person, role=Role.AGENT)
    body = client_for(commune, person).get(reverse("core:account")).content.decode()
    assert "agent de mairie" not in body


def test_edit_saves_name_and_phone_and_a_new_email_once_confirmed(
    client_for, commune, django_capture_on_commit_callbacks, mailoutbox
):
    person = make_user(commune, first_name="Odile", last_name="Fournier", email="odile@example.org")
    client = client_for(commune, person)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("core:account_edit"),
            {
                "first_name": "Odile",
                "last_name": "Fournier-Martin",
                "email": "Odile.F@Example.org",
                "phone": "06 12 34 56 78",
            },
        )
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.last_name == "Fournier-Martin" and person.phone == "+33612345678"
    assert person.email == "odile@example.org"  # not yet: a typo would cut her off from her sign-in codes
    [entry] = _audit(commune, "core.account.updated")
    assert entry.actor_id == person.pk
    assert sorted(entry.data["changed"]) == ["last_name", "phone"]
    assert "Fournier" not in str(entry.data) and "odile" not in str(entry.data)  # which fields, never values
    follow = client.get(response["Location"]).content.decode()
    assert "Nous avons envoyé un lien à odile.f@example.org" in follow
    assert "Vos informations ont été enregistrées" in follow
    # The link went to the new address; opened (even signed out, on another device), it confirms it.
    [sent] = [m for m in mailoutbox if m.to == ["odile.f@example.org"]]
    link = re.search(r"https?://[^/\s]+(/mon-compte/adresse/[^\s]+/)", sent.body).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client_for(commune).get(link)
    assert confirmed.status_code == 200 and "odile.f@example.org" in confirmed.content.decode()
    person.refresh_from_db()
    assert person.email == "odile.f@example.org"
    # The former address is told.
    assert [m.subject for m in mailoutbox if m.to == ["odile@example.org"]] == [
        "Votre adresse e-mail a été changée"
    ]
    # Used once: opening it again changes nothing and says so.
    again = client_for(commune).get(link)
    assert again.status_code == 400 and "déjà servi" in again.content.decode()


def test_a_tampered_or_old_email_link_changes_nothing(client_for, commune):
    import time_machine
    from django.utils import timezone

    from mairie.core.services.privacy import email_change_token

    person = make_user(commune, email="avant@example.org")
    token = email_change_token(user=person, new_email="apres@example.org")
    client = client_for(commune)
    assert client.get(reverse("core:account_email_confirm", args=[token[:-3] + "abc"])).status_code == 400
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=25)):
        late = client.get(reverse("core:account_email_confirm", args=[token]))
    assert late.status_code == 400 and "expiré" in late.content.decode()
    person.refresh_from_db()
    assert person.email == "avant@example.org"


def test_edit_form_starts_with_my_current_details(client_for, commune):
    person = make_user(commune, first_name="Odile", last_name="Fournier", email="odile@example.org")
    body = client_for(commune, person).get(reverse("core:account_edit")).content.decode()
    assert 'value="Odile"' in body and 'value="odile@example.org"' in body


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "taken@example.org", "Une autre personne utilise déjà cette adresse"),
        ("email", "TAKEN@example.org", "Une autre personne utilise déjà cette adresse"),
        ("email", "not-an-address", "Cette adresse n&#x27;est pas valide"),
        ("phone", "06 99 88 77 66", "Une autre personne utilise déjà ce numéro"),
        ("phone", "12345", "Ce numéro n&#x27;est pas reconnu"),
        ("first_name", "", "Ce champ est obligatoire"),
    ],
)
def test_edit_refuses_bad_input_next_to_the_field_and_saves_nothing(
    client_for, commune, field, value, message
):
    make_user(commune, email="taken@example.org", phone=None)
    other = make_user(commune, email="other@example.org")
    with scopes_disabled():
        User.objects.filter(pk=other.pk).update(phone="+33699887766")
    person = make_user(commune, first_name="Odile", last_name="Fournier", email="odile@example.org")
    data = {"first_name": "Odile", "last_name": "Nouveau", "email": "odile@example.org", "phone": ""}
    data[field] = value
    response = client_for(commune, person).post(reverse("core:account_edit"), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    assert f'id="id_{field}-error"' in body
    assert 'aria-invalid="true"' in body
    person.refresh_from_db()
    assert person.last_name == "Fournier"
    assert _audit(commune, "core.account.updated") == []


def test_edit_keeps_a_way_to_receive_codes_when_there_is_no_password(client_for, commune):
    person = make_user(commune, password=None, email="odile@example.org")
    response = client_for(commune, person).post(
        reverse("core:account_edit"), {"first_name": "Odile", "last_name": "F", "email": "", "phone": ""}
    )
    assert response.status_code == 200
    assert "Vous n&#x27;avez pas de mot de passe" in response.content.decode()
    person.refresh_from_db()
    assert person.email == "odile@example.org"


def test_removing_email_is_fine_with_a_password(client_for, commune):
    person = make_user(commune, email="odile@example.org")
    client_for(commune, person).post(
        reverse("core:account_edit"), {"first_name": "Odile", "last_name": "F", "email": "", "phone": ""}
    )
    person.refresh_from_db()
    assert person.email is None


def test_saving_unchanged_details_writes_no_audit(client_for, commune):
    person = make_user(commune, first_name="Odile", last_name="Fournier", email="odile@example.org")
    client_for(commune, person).post(
        reverse("core:account_edit"),
        {"first_name": "Odile", "last_name": "Fournier", "email": "odile@example.org", "phone": ""},
    )
    assert _audit(commune, "core.account.updated") == []


def test_staff_may_update_a_resident_only_with_the_capability(commune):
    resident = make_user(commune, first_name="Jean", last_name="Dupuis")
    neighbour = make_user(commune)
    agent = make_user(commune, Role.AGENT, first_name="Sophie", last_name="Lambert")
    with scope(commune=commune):
        with pytest.raises(PermissionDenied):
            account_update_profile(
                user=resident,
                commune=commune,
                by=neighbour,
                first_name="X",
                last_name="Y",
                email=None,
                phone=None,
            )
        account_update_profile(
            user=resident,
            commune=commune,
            by=agent,
            first_name="Jean",
            last_name="Dupuis",
            email=None,
            phone="0612345678",
        )
        [entry] = AuditEntry.objects.filter(action="core.account.updated")
    resident.refresh_from_db()
    assert resident.phone == "+33612345678"
    assert entry.actor_id == agent.pk and entry.on_behalf_of_id == resident.pk


def test_service_refuses_duplicates_even_without_the_form(commune):
    make_user(commune, email="taken@example.org")
    person = make_user(commune)
    with scope(commune=commune), pytest.raises(ValidationError) as caught:
        account_update_profile(
            user=person,
            commune=commune,
            by=person,
            first_name="A",
            last_name="B",
            email="taken@example.org",
            phone=None,
        )
    assert "email" in caught.value.message_dict
