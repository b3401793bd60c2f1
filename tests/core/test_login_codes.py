"""Signing in with a code or a link sent by email or SMS, and choosing a new password the same way."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from mairie.core.models import AuditEntry, LoginCode, OutboxMessage, User
from mairie.core.services.login import CodeResult, login_code_check
from tests.factories import make_user

pytestmark = pytest.mark.django_db

HOST = "val-de-brume.test"


@pytest.fixture(autouse=True)
def _outbox(settings):
    """Emails land in the outbox table, as in the demo (pytest-django would keep them in memory)."""
    settings.EMAIL_BACKEND = "mairie.core.notifications.backends.OutboxEmailBackend"


@pytest.fixture
def camille(commune):
    return make_user(commune, email="camille@example.org", phone="+33612345678", first_name="Camille")


@pytest.fixture
def ask(client_for, commune, django_capture_on_commit_callbacks):
    """``ask("camille@example.org")`` asks for a code the way a person does; messages are delivered."""

    def _ask(login, channel="", *, reset=False, client=None, next_url=""):
        client = client or client_for(commune)
        url = reverse("core:password_reset" if reset else "core:login_code")
        if next_url:
            url += f"?next={next_url}"
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"login": login, "channel": channel})
        return response

    return _ask


def _messages(to=None):
    with scopes_disabled():
        found = OutboxMessage.objects.order_by("id")
        if to:
            found = found.filter(to=to)
        return list(found)


def _code(message):
    text = re.sub(r"https?://\S+", "", message.body)
    return re.search(r"(?<!\d)(\d{6})(?!\d)", text).group(1)


def _link_path(message):
    return re.search(r"https?://[^/\s]+(/connexion/lien/\d+/[\w-]+/)", message.body).group(1)


def _enter(client, code, *, reset=False, **extra):
    url = reverse("core:password_reset_enter" if reset else "core:login_code_enter")
    return client.post(url, {"code": code}, **extra)


def _signed_in_as(client):
    return client.session.get("_auth_user_id")


# --- asking for a code ------------------------------------------------------------------------------------


def test_code_by_email_signs_in(ask, camille):
    response = ask("camille@example.org")
    assert response.status_code == 302 and response["Location"] == reverse("core:login_code_enter")
    client = response.client
    page = client.get(response["Location"]).content.decode()
    assert "Si un compte correspond à « camille@example.org »" in page
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    (message,) = _messages()
    assert message.channel == "email" and message.to == "camille@example.org"
    assert "Votre code pour vous connecter" in message.subject
    response = _enter(client, _code(message))
    assert response.status_code == 302 and response["Location"] == reverse("core:home")
    assert _signed_in_as(client) == str(camille.pk)


def test_code_by_sms_when_the_person_types_their_phone(ask, camille):
    response = ask("06 12 34 56 78")
    (message,) = _messages()
    assert message.channel == "sms" and message.to == "+33612345678"
    assert len(message.body) <= 160, message.body
    assert f"https://{HOST}/connexion/lien/" in message.body
    _enter(response.client, _code(message))
    assert _signed_in_as(response.client) == str(camille.pk)


def test_the_person_chooses_email_or_sms(ask, camille):
    ask("camille@example.org", "sms")
    ask("06 12 34 56 78", "email")
    assert [(m.channel, m.to) for m in _messages()] == [
        ("sms", "+33612345678"),
        ("email", "camille@example.org"),
    ]


def test_a_channel_the_person_lacks_falls_back_to_the_other(ask, commune):
    make_user(commune, email="sans-portable@example.org")
    ask("sans-portable@example.org", "sms")
    assert [m.channel for m in _messages()] == ["email"]


def test_code_sent_is_audited_without_the_code(ask, commune, camille):
    ask("camille@example.org")
    code = _code(_messages()[0])
    with scope(commune=commune):
        (entry,) = AuditEntry.objects.filter(action="core.auth.code_sent")
    assert entry.object_id == str(camille.pk)
    assert entry.data == {"purpose": "login", "channel": "email"}
    assert code not in str(entry.data)


def test_codes_and_links_are_stored_hashed(ask, camille):
    ask("camille@example.org")
    message = _messages()[0]
    code, secret = _code(message), _link_path(message).rstrip("/").rsplit("/", 1)[1]
    with scopes_disabled():
        row = LoginCode.objects.get(user=camille)
    assert code not in row.code_hash and secret not in row.link_secret_hash
    assert row.expires_at - row.created_at == timedelta(seconds=settings.LOGIN_CODE_TTL_SECONDS)


def test_the_answer_never_says_whether_an_account_exists(ask, camille):
    known = ask("camille@example.org")
    unknown = ask("personne@example.org", client=Client(HTTP_HOST=HOST))
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    page_known = known.client.get(known["Location"]).content.decode()
    page_unknown = unknown.client.get(unknown["Location"]).content.decode()
    strip = lambda page: re.sub(r'value="[^"]+"|« [^»]+ »', "", page)  # noqa: E731  (token, the login typed)
    assert strip(page_known) == strip(page_unknown)
    assert len(_messages()) == 1
    # Wrong codes get the same words as well.
    body_known = _enter(known.client, "000000").content.decode()
    body_unknown = _enter(unknown.client, "000000").content.decode()
    assert "Ce code ne correspond pas" in body_known and "Ce code ne correspond pas" in body_unknown


def test_an_account_without_email_or_phone_gets_the_same_page_and_no_message(ask, commune):
    person = make_user(commune, email="")
    with scopes_disabled():
        User.objects.filter(pk=person.pk).update(email=None)
    response = ask(person.username)
    assert response["Location"] == reverse("core:login_code_enter")
    assert _messages() == []


def test_a_code_for_one_person_does_not_open_anothers_account(ask, commune, camille):
    make_user(commune, email="dominique@example.org")
    ask("camille@example.org")
    response = ask("dominique@example.org", client=Client(HTTP_HOST=HOST))
    camilles_code = _code(_messages("camille@example.org")[0])
    _enter(response.client, camilles_code)
    assert _signed_in_as(response.client) is None


def test_the_code_page_needs_a_code_asked_for_first(client_for, commune):
    response = client_for(commune).get(reverse("core:login_code_enter"))
    assert response.status_code == 302 and response["Location"] == reverse("core:login_code")


def test_a_code_that_is_not_six_digits_is_explained(ask, camille):
    response = ask("camille@example.org")
    body = _enter(response.client, "12 34").content.decode()
    assert "Le code compte six chiffres" in body
    assert 'id="id_code-error"' in body


def test_spaces_in_a_typed_code_are_fine(ask, camille):
    response = ask("camille@example.org")
    code = _code(_messages()[0])
    _enter(response.client, f" {code[:3]} {code[3:]} ")
    assert _signed_in_as(response.client) == str(camille.pk)


def test_sign_in_by_code_goes_back_to_the_page_asked_for(ask, camille):
    response = ask("camille@example.org", next_url="/mon-compte/")
    response = _enter(response.client, _code(_messages()[0]))
    assert response["Location"] == "/mon-compte/"


# --- limits of a code -------------------------------------------------------------------------------------


def test_a_code_works_only_once(ask, camille):
    response = ask("camille@example.org")
    code = _code(_messages()[0])
    _enter(response.client, code)
    response.client.post(reverse("core:logout"))
    again = ask(
        "camille@example.org", client=Client(HTTP_HOST=HOST)
    )  # a new code is sent; the old one is spent
    body = _enter(again.client, code).content.decode()
    assert _signed_in_as(again.client) is None
    assert "Ce code ne correspond pas" in body


def test_a_code_expires_after_the_configured_time(ask, camille):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        response = ask("camille@example.org")
        code = _code(_messages()[0])
    with time_machine.travel(start + timedelta(seconds=settings.LOGIN_CODE_TTL_SECONDS + 1), tick=False):
        body = _enter(response.client, code).content.decode()
    assert _signed_in_as(response.client) is None
    assert "Ce code n&#x27;est plus valable : il a plus de 15 minutes" in body


def test_a_code_still_works_just_before_it_expires(ask, camille):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        response = ask("camille@example.org")
        code = _code(_messages()[0])
    with time_machine.travel(start + timedelta(seconds=settings.LOGIN_CODE_TTL_SECONDS - 5), tick=False):
        _enter(response.client, code)
    assert _signed_in_as(response.client) == str(camille.pk)


def test_five_wrong_tries_spend_the_code(ask, camille, settings):
    settings.LOGIN_MAX_FAILURES = 100  # the per-code limit alone, without the account's throttling
    response = ask("camille@example.org")
    code = _code(_messages()[0])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        _enter(response.client, wrong)
    body = _enter(response.client, code).content.decode()
    assert _signed_in_as(response.client) is None
    assert "Ce code a été essayé trop de fois" in body


def test_the_try_limit_holds_across_browsers(ask, camille, settings):
    settings.LOGIN_MAX_FAILURES = 100
    ask("camille@example.org")
    code = _code(_messages()[0])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert login_code_check(user=camille, purpose="login", code=wrong).result is not CodeResult.ACCEPTED
    assert login_code_check(user=camille, purpose="login", code=code).result is CodeResult.NONE_LIVE


def test_an_earlier_code_still_works_after_asking_again(ask, camille):
    response = ask("camille@example.org")
    first = _code(_messages()[0])
    ask("camille@example.org", client=response.client)
    assert len(_messages()) == 2
    _enter(response.client, first)
    assert _signed_in_as(response.client) == str(camille.pk)


def test_no_more_than_the_limit_of_codes_per_account(ask, commune, camille):
    for _ in range(settings.LOGIN_MAX_FAILURES + 2):
        response = ask("camille@example.org", client=Client(HTTP_HOST=HOST))
        assert response["Location"] == reverse("core:login_code_enter")
    assert len(_messages()) == settings.LOGIN_MAX_FAILURES
    with scope(commune=commune):
        assert AuditEntry.objects.filter(action="core.auth.throttled", data__counter="codes_sent").exists()


# --- links ------------------------------------------------------------------------------------------------


def test_the_link_signs_in_with_one_button(ask, camille):
    ask("camille@example.org")
    path = _link_path(_messages()[0])
    browser = Client(HTTP_HOST=HOST)  # perhaps another device: the link needs no session
    page = browser.get(path)
    assert page.status_code == 200
    assert "Bonjour Camille" in page.content.decode()
    assert _signed_in_as(browser) is None  # a mail scanner opening the link does not spend it
    response = browser.post(path)
    assert response.status_code == 302
    assert _signed_in_as(browser) == str(camille.pk)


def test_a_link_works_only_once_and_spends_its_code(ask, camille):
    response = ask("camille@example.org")
    message = _messages()[0]
    path = _link_path(message)
    Client(HTTP_HOST=HOST).post(path)
    other = Client(HTTP_HOST=HOST)
    assert other.post(path).status_code == 410
    page = other.get(path)
    assert page.status_code == 410 and "Ce lien n'est plus valable" in page.content.decode()
    assert _signed_in_as(other) is None
    _enter(response.client, _code(message))
    assert _signed_in_as(response.client) is None


def test_a_link_expires_with_its_code(ask, camille):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        ask("camille@example.org")
        path = _link_path(_messages()[0])
    with time_machine.travel(start + timedelta(seconds=settings.LOGIN_CODE_TTL_SECONDS + 1), tick=False):
        browser = Client(HTTP_HOST=HOST)
        response = browser.get(path)
        assert response.status_code == 410
        assert "Recevoir un nouveau code" in response.content.decode()
        assert browser.post(path).status_code == 410
    assert _signed_in_as(browser) is None


def test_a_link_with_a_wrong_secret_does_nothing(ask, camille):
    ask("camille@example.org")
    path = _link_path(_messages()[0])
    forged = re.sub(r"/[\w-]+/$", "/AAAAAAAAAAAAAAAAAAAAAA/", path)
    browser = Client(HTTP_HOST=HOST)
    assert browser.post(forged).status_code == 410
    assert _signed_in_as(browser) is None
    assert browser.post(path).status_code == 302  # the real one still works


# --- forgotten password -----------------------------------------------------------------------------------


def test_forgotten_password_by_code_then_a_new_password(ask, client_for, commune, camille):
    elsewhere = Client(HTTP_HOST=HOST)
    elsewhere.force_login(camille, backend="mairie.core.auth_backends.LoginBackend")
    assert elsewhere.get(reverse("core:account")).status_code == 200

    response = ask("camille@example.org", reset=True)
    assert response["Location"] == reverse("core:password_reset_enter")
    client = response.client
    (message,) = _messages()
    assert message.subject == "Choisir un nouveau mot de passe"
    response = _enter(client, _code(message), reset=True)
    assert response["Location"] == reverse("core:password_reset_new")
    assert _signed_in_as(client) is None  # not yet: first the new password

    page = client.get(reverse("core:password_reset_new")).content.decode()
    assert 'autocomplete="new-password"' in page
    body = client.post(
        reverse("core:password_reset_new"), {"new_password1": "court", "new_password2": "court"}
    ).content.decode()
    assert "trop court" in body
    body = client.post(
        reverse("core:password_reset_new"),
        {"new_password1": "quatre saisons douces", "new_password2": "quatre saisons douce"},
    ).content.decode()
    assert "Les deux mots de passe ne sont pas identiques" in body
    with scopes_disabled():
        assert User.objects.get(pk=camille.pk).check_password("correct horse battery")

    response = client.post(
        reverse("core:password_reset_new"),
        {"new_password1": "quatre saisons douces", "new_password2": "quatre saisons douces"},
    )
    assert response.status_code == 302
    assert _signed_in_as(client) == str(camille.pk)
    assert client.get(reverse("core:account")).status_code == 200
    # The session opened before on another device is over.
    assert elsewhere.get(reverse("core:account")).status_code == 302
    fresh = Client(HTTP_HOST=HOST)
    fresh.post(reverse("core:login"), {"login": "camille@example.org", "password": "correct horse battery"})
    assert _signed_in_as(fresh) is None
    fresh.post(reverse("core:login"), {"login": "camille@example.org", "password": "quatre saisons douces"})
    assert _signed_in_as(fresh) == str(camille.pk)
    with scope(commune=commune):
        assert AuditEntry.objects.filter(action="core.auth.password_changed", data__how="reset").count() == 1
    # The page to choose a password is closed again.
    assert Client(HTTP_HOST=HOST).get(reverse("core:password_reset_new")).status_code == 302


def test_forgotten_password_by_link(ask, camille):
    ask("06 12 34 56 78", reset=True)
    (message,) = _messages()
    assert message.channel == "sms" and "nouveau mot de passe : code" in message.body
    assert len(message.body) <= 160, message.body
    path = _link_path(message)
    browser = Client(HTTP_HOST=HOST)
    page = browser.get(path).content.decode()
    assert "Choisir un nouveau mot de passe" in page
    body = browser.post(path, {"new_password1": "azertyuiop", "new_password2": "azertyuiop"}).content.decode()
    assert "trop courant" in body
    response = browser.post(
        path, {"new_password1": "quatre saisons douces", "new_password2": "quatre saisons douces"}
    )
    assert response.status_code == 302
    assert _signed_in_as(browser) == str(camille.pk)
    with scopes_disabled():
        assert User.objects.get(pk=camille.pk).check_password("quatre saisons douces")
    assert Client(HTTP_HOST=HOST).get(path).status_code == 410  # used


def test_a_login_code_cannot_reset_a_password_nor_the_reverse(ask, camille):
    response = ask("camille@example.org")
    login_code = _code(_messages()[0])
    reset = ask("camille@example.org", reset=True, client=Client(HTTP_HOST=HOST))
    _enter(reset.client, login_code, reset=True)
    assert reset.client.get(reverse("core:password_reset_new")).status_code == 302  # sent back to start
    reset_code = _code(_messages()[1])
    _enter(response.client, reset_code)
    assert _signed_in_as(response.client) is None


def test_the_new_password_page_closes_after_the_code_lifetime(ask, camille):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        response = ask("camille@example.org", reset=True)
        _enter(response.client, _code(_messages()[0]), reset=True)
    with time_machine.travel(start + timedelta(seconds=settings.LOGIN_CODE_TTL_SECONDS + 60), tick=False):
        page = response.client.get(reverse("core:password_reset_new"))
    assert page.status_code == 302 and page["Location"] == reverse("core:password_reset")


def test_forgotten_password_page_is_linked_and_clear(client_for, commune):
    body = client_for(commune).get(reverse("core:password_reset")).content.decode()
    assert "<h1>Mot de passe oublié</h1>" in body
    assert 'autocomplete="username"' in body


# --- changing one's password ------------------------------------------------------------------------------


def test_change_password_keeps_this_session_and_ends_the_others(client_for, commune, camille):
    elsewhere = Client(HTTP_HOST=HOST)
    elsewhere.force_login(camille, backend="mairie.core.auth_backends.LoginBackend")
    client = client_for(commune, camille)
    body = client.post(
        reverse("core:password_change"),
        {
            "old_password": "pas le bon",
            "new_password1": "quatre saisons douces",
            "new_password2": "quatre saisons douces",
        },
    ).content.decode()
    assert "Ce n&#x27;est pas votre mot de passe actuel" in body
    response = client.post(
        reverse("core:password_change"),
        {
            "old_password": "correct horse battery",
            "new_password1": "quatre saisons douces",
            "new_password2": "quatre saisons douces",
        },
    )
    assert response.status_code == 302
    assert client.get(reverse("core:account")).status_code == 200
    assert elsewhere.get(reverse("core:account")).status_code == 302


def test_someone_without_a_password_can_set_one(client_for, commune):
    person = make_user(commune, password=None)
    client = client_for(commune, person)
    page = client.get(reverse("core:password_change")).content.decode()
    assert "old_password" not in page
    client.post(
        reverse("core:password_change"),
        {"new_password1": "quatre saisons douces", "new_password2": "quatre saisons douces"},
    )
    with scopes_disabled():
        assert User.objects.get(pk=person.pk).check_password("quatre saisons douces")
