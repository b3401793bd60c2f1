"""Signing up, signing in with a password, signing out, and how long a session lasts."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from mairie.core.models import AuditEntry, Membership, Role, User
from tests.factories import make_user

pytestmark = pytest.mark.django_db

STRONG = "trois pommes vertes"


def _signup(client, **fields):
    data = {"first_name": "Jeanne", "last_name": "Leroux", "email": "", "phone": "", "password": STRONG}
    data.update(fields)
    return client.post(reverse("core:signup"), data)


def _users():
    with scopes_disabled():
        return User.objects.count()


# --- sign-up ----------------------------------------------------------------------------------------------


def test_sign_up_with_an_email_makes_a_resident_and_signs_in(client_for, commune):
    client = client_for(commune)
    response = _signup(client, email="Jeanne.Leroux@Example.org")
    assert response.status_code == 302
    assert response["Location"] == reverse("core:account")
    with scopes_disabled():
        user = User.objects.get(email="jeanne.leroux@example.org")
        assert list(Membership.objects.filter(user=user).values_list("commune", "role")) == [
            (commune.pk, Role.RESIDENT)
        ]
    assert client.get(reverse("core:account")).status_code == 200
    with scope(commune=commune):
        assert AuditEntry.objects.filter(action="core.account.created", object_id=str(user.pk)).exists()


def test_sign_up_with_a_phone_only_stores_it_in_international_form(client_for, commune):
    client = client_for(commune)
    response = _signup(client, phone="06 12 34 56 78", password="")
    assert response.status_code == 302
    with scopes_disabled():
        user = User.objects.get(phone="+33612345678")
    assert user.email is None
    assert not user.has_usable_password()  # signs in with codes


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({}, "email", "Donnez une adresse e-mail ou un numéro de téléphone"),
        ({"phone": "06 12 34"}, "phone", "Ce numéro n&#x27;est pas reconnu"),
        ({"phone": "02 99 12 34 56"}, "phone", "téléphone fixe"),
        ({"email": "pas-une-adresse"}, "email", "Cette adresse e-mail est incomplète"),
        ({"email": "j@example.org", "password": "court"}, "password", "trop court"),
        ({"email": "j@example.org", "password": "azertyuiop"}, "password", "trop courant"),
        ({"email": "j@example.org", "password": "Leroux2024"}, "password", "trop semblable"),
        ({"email": "j@example.org", "first_name": ""}, "first_name", "Ce champ est obligatoire"),
    ],
)
def test_bad_sign_up_says_what_is_wrong_next_to_the_field_and_saves_nothing(
    client_for, commune, fields, field, message
):
    before = _users()
    response = _signup(client_for(commune), **fields)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Rien n'a été enregistré" in body
    assert f'id="id_{field}-error"' in body
    error_text = body.split(f'id="id_{field}-error">', 1)[1].split("</p>", 1)[0]
    assert message in error_text
    assert 'aria-invalid="true"' in body
    assert _users() == before
    assert "_auth_user_id" not in response.client.session


def test_sign_up_refuses_an_email_or_phone_already_used(client_for, commune):
    make_user(commune, email="deja@example.org", phone="+33612345678")
    before = _users()
    response = _signup(client_for(commune), email="DEJA@example.org", phone="0033 6 12 34 56 78")
    body = response.content.decode()
    assert "Un compte existe déjà avec cette adresse" in body
    assert "Un compte existe déjà avec ce numéro" in body
    assert _users() == before


# --- password sign-in -------------------------------------------------------------------------------------


@pytest.fixture
def camille(commune):
    return make_user(commune, email="camille@example.org", phone="+33612345678", first_name="Camille")


@pytest.mark.parametrize(
    "login",
    [
        "camille@example.org",
        "  CAMILLE@example.org ",
        "06 12 34 56 78",
        "06.12.34.56.78",
        "+33 6 12 34 56 78",
        "0033612345678",
    ],
)
def test_one_field_takes_email_or_phone_written_any_french_way(client_for, commune, camille, login):
    client = client_for(commune)
    response = client.post(reverse("core:login"), {"login": login, "password": "correct horse battery"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(camille.pk)


def test_sign_in_with_the_identifier_given_at_the_counter(client_for, commune):
    person = make_user(commune, email="", password="guichet-2024-pomme")
    with scopes_disabled():
        User.objects.filter(pk=person.pk).update(email=None)
    client = client_for(commune)
    response = client.post(
        reverse("core:login"), {"login": person.username, "password": "guichet-2024-pomme"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(person.pk)


def test_sign_in_goes_back_to_the_page_asked_for_but_never_to_another_site(client_for, commune, camille):
    client = client_for(commune)
    data = {"login": "camille@example.org", "password": "correct horse battery"}
    response = client.post(reverse("core:login") + "?next=/mon-compte/", data)
    assert response["Location"] == "/mon-compte/"
    client.post(reverse("core:logout"))
    response = client.post(reverse("core:login") + "?next=https://evil.example/", data)
    assert response["Location"] == reverse("core:home")


def test_sign_in_is_audited(client_for, commune, camille):
    client_for(commune).post(
        reverse("core:login"), {"login": "camille@example.org", "password": "correct horse battery"}
    )
    with scope(commune=commune):
        assert AuditEntry.objects.filter(action="core.auth.logged_in", actor=camille).count() == 1


def test_after_sign_in_pages_speak_the_language_saved_in_the_account(client_for, commune, camille):
    with scopes_disabled():
        User.objects.filter(pk=camille.pk).update(language="en")
    client = client_for(commune)  # a shared computer left in French
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    response = client.post(
        reverse("core:login"),
        {"login": "camille@example.org", "password": "correct horse battery"},
        follow=True,
    )
    assert response.wsgi_request.LANGUAGE_CODE == "en"
    assert '<html lang="en"' in response.content.decode()
    # A wrong password changes nothing: the language stays the one on the screen.
    other = client_for(commune)
    other.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    refused = other.post(reverse("core:login"), {"login": "camille@example.org", "password": "pas le bon"})
    assert settings.LANGUAGE_COOKIE_NAME not in refused.cookies


@pytest.mark.parametrize("login", ["camille@example.org", "personne@example.org", "06 99 99 99 99"])
def test_wrong_password_or_unknown_login_get_the_same_message(client_for, commune, camille, login):
    client = client_for(commune)
    response = client.post(reverse("core:login"), {"login": login, "password": "pas le bon"})
    assert response.status_code == 200
    assert "L&#x27;identifiant ou le mot de passe ne correspond pas" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_empty_sign_in_form_names_the_missing_fields(client_for, commune):
    body = client_for(commune).post(reverse("core:login"), {"login": "", "password": ""}).content.decode()
    assert 'id="id_login-error"' in body and 'id="id_password-error"' in body


def test_an_inactive_account_cannot_sign_in(client_for, commune, camille):
    with scopes_disabled():
        User.objects.filter(pk=camille.pk).update(is_active=False)
    client = client_for(commune)
    client.post(reverse("core:login"), {"login": "camille@example.org", "password": "correct horse battery"})
    assert "_auth_user_id" not in client.session


def test_sign_out_ends_the_session(client_for, commune, camille):
    client = client_for(commune, camille)
    assert client.get(reverse("core:account")).status_code == 200
    assert client.post(reverse("core:logout")).status_code == 302
    assert client.get(reverse("core:account")).status_code == 302


def test_sign_out_needs_a_post(client_for, commune, camille):
    client = client_for(commune, camille)
    assert client.get(reverse("core:logout")).status_code == 405
    assert client.get(reverse("core:account")).status_code == 200


# --- the login page ---------------------------------------------------------------------------------------


def test_login_page_offers_codes_forgotten_password_and_sign_up(client_for, commune):
    body = client_for(commune).get(reverse("core:login")).content.decode()
    assert "Recevoir un code par e-mail ou SMS" in body and reverse("core:login_code") in body
    assert "Mot de passe oublié ?" in body and reverse("core:password_reset") in body
    assert "Créer un compte" in body and reverse("core:signup") in body
    assert 'autocomplete="username"' in body
    assert 'autocomplete="current-password"' in body
    assert "inactivité" not in body


def test_login_page_explains_an_idle_sign_out(client_for, commune):
    body = client_for(commune).get(reverse("core:login") + "?expired=1").content.decode()
    assert "Vous avez été déconnecté après une période d'inactivité" in body


def test_login_page_keeps_where_to_go_next_for_the_code_route(client_for, commune):
    body = client_for(commune).get(reverse("core:login") + "?next=/mon-compte/").content.decode()
    assert 'name="next" value="/mon-compte/"' in body
    assert reverse("core:login_code") + "?next=/mon-compte/" in body


# --- session expiry ---------------------------------------------------------------------------------------


def test_a_residents_session_lasts_the_configured_age_then_ends(client_for, commune, camille):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = client_for(commune)
        client.post(
            reverse("core:login"), {"login": "camille@example.org", "password": "correct horse battery"}
        )
        assert client.get(reverse("core:account")).status_code == 200
    with time_machine.travel(start + timedelta(seconds=settings.SESSION_COOKIE_AGE - 60), tick=False):
        assert client.get(reverse("core:account")).status_code == 200
    with time_machine.travel(start + timedelta(seconds=settings.SESSION_COOKIE_AGE + 60), tick=False):
        response = client.get(reverse("core:account"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("core:login"))


def test_residents_are_not_signed_out_for_being_idle(client_for, commune, camille):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = client_for(commune, camille)
        client.get(reverse("core:account"))
    with time_machine.travel(start + timedelta(hours=6), tick=False):
        assert client.get(reverse("core:account")).status_code == 200


def test_two_sign_ups_racing_for_one_email_save_one_account(client_for, commune, monkeypatch):
    """The form's check passed for both; the database's unique constraint decides, with a clear message."""
    from mairie.core.views.auth import SignupForm

    make_user(commune, email="course@example.org")
    monkeypatch.setattr(SignupForm, "clean_email", lambda form: form.cleaned_data["email"])
    before = _users()
    response = _signup(client_for(commune), email="course@example.org")
    assert response.status_code == 200
    assert "Un compte existe déjà avec cette adresse ou ce numéro" in response.content.decode()
    assert _users() == before
