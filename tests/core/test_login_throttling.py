"""Slowing down guessing: too many failures for one account or one address, and the door shuts a while."""

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

from mairie.core.models import AuditEntry, LoginFailure, OutboxMessage
from tests.factories import make_user

pytestmark = pytest.mark.django_db

HOST = "val-de-brume.test"
RIGHT = "correct horse battery"


@pytest.fixture(autouse=True)
def _outbox(settings):
    settings.EMAIL_BACKEND = "mairie.core.notifications.backends.OutboxEmailBackend"


@pytest.fixture
def camille(commune):
    return make_user(commune, email="camille@example.org", phone="+33612345678")


def _try(login, password, address="192.0.2.1", client=None):
    client = client or Client(HTTP_HOST=HOST)
    response = client.post(reverse("core:login"), {"login": login, "password": password}, REMOTE_ADDR=address)
    return client, response


def _throttled(response):
    return "Trop d&#x27;essais sans succès" in response.content.decode()


def test_after_too_many_wrong_passwords_even_the_right_one_waits(commune, camille):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(settings.LOGIN_MAX_FAILURES - 1):
            _, response = _try("camille@example.org", f"mauvais {n}", address=f"192.0.2.{n + 1}")
            assert not _throttled(response)
        _, response = _try("camille@example.org", "encore faux", address="192.0.2.99")
        assert _throttled(response)  # the failure that reaches the limit says so at once
        client, response = _try("camille@example.org", RIGHT, address="198.51.100.7")  # another place, too
        assert _throttled(response)
        assert "attendez 15 minutes" in response.content.decode()
        assert client.session.get("_auth_user_id") is None
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        _, response = _try("camille@example.org", RIGHT, address="198.51.100.7")
        assert "attendez 5 minutes" in response.content.decode()
    with time_machine.travel(
        start + timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS + 1), tick=False
    ):
        client, response = _try("camille@example.org", RIGHT, address="198.51.100.7")
        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(camille.pk)


def test_the_account_counter_counts_every_way_of_writing_the_login(commune, camille):
    for n, login in enumerate(
        ["camille@example.org", "06 12 34 56 78", "+33612345678", "0033 6 12 34 56 78", "CAMILLE@example.org"]
    ):
        _try(login, "faux", address=f"192.0.2.{n + 1}")
    _, response = _try("06.12.34.56.78", RIGHT, address="203.0.113.5")
    assert _throttled(response)


def test_one_address_guessing_many_accounts_is_stopped(commune, camille):
    for n in range(settings.LOGIN_MAX_FAILURES):
        _try(f"inconnu{n}@example.org", "faux", address="203.0.113.66")
    client, response = _try("camille@example.org", RIGHT, address="203.0.113.66")
    assert _throttled(response) and client.session.get("_auth_user_id") is None
    client, response = _try("camille@example.org", RIGHT, address="203.0.113.67")
    assert response.status_code == 302


def test_unknown_logins_are_throttled_like_real_ones(commune):
    for n in range(settings.LOGIN_MAX_FAILURES):
        _try("personne@example.org", "faux", address=f"192.0.2.{n + 1}")
    _, response = _try("personne@example.org", "faux", address="192.0.2.200")
    assert _throttled(response)


def test_success_clears_the_accounts_counter(commune, camille):
    for n in range(settings.LOGIN_MAX_FAILURES - 1):
        _try("camille@example.org", "faux", address=f"192.0.2.{n + 1}")
    _client, response = _try("camille@example.org", RIGHT, address="198.51.100.1")
    assert response.status_code == 302
    with scopes_disabled():
        assert not LoginFailure.objects.filter(key=f"user:{camille.pk}").exists()
    for n in range(settings.LOGIN_MAX_FAILURES - 1):
        _, response = _try("camille@example.org", "faux", address=f"192.0.2.{n + 50}")
        assert not _throttled(response)


def test_reaching_the_limit_is_audited_once(commune, camille):
    for n in range(settings.LOGIN_MAX_FAILURES + 3):
        _try("camille@example.org", "faux", address=f"192.0.2.{n + 1}")
    with scope(commune=commune):
        entries = list(AuditEntry.objects.filter(action="core.auth.throttled"))
    assert len(entries) == 1
    assert entries[0].object_id == str(camille.pk)
    assert entries[0].data["counter"] == "user"


def test_wrong_codes_count_too_and_then_no_code_is_accepted(
    commune, camille, django_capture_on_commit_callbacks
):
    client = Client(HTTP_HOST=HOST)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("core:login_code"), {"login": "camille@example.org"})
    with scopes_disabled():
        body = OutboxMessage.objects.get().body
    code = re.search(r"(?<!\d)(\d{6})(?!\d)", re.sub(r"https?://\S+", "", body)).group(1)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    # Failures by password and by code add up on the same account.
    for n in range(settings.LOGIN_MAX_FAILURES - 1):
        _try("camille@example.org", "faux", address=f"192.0.2.{n + 1}")
    response = client.post(reverse("core:login_code_enter"), {"code": wrong})
    assert _throttled(response)
    response = client.post(reverse("core:login_code_enter"), {"code": code})
    assert _throttled(response)
    assert client.session.get("_auth_user_id") is None


def test_a_throttled_address_cannot_ask_for_codes(commune, camille, django_capture_on_commit_callbacks):
    for n in range(settings.LOGIN_MAX_FAILURES):
        _try(f"inconnu{n}@example.org", "faux", address="203.0.113.66")
    client = Client(HTTP_HOST=HOST)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("core:login_code"), {"login": "camille@example.org"}, REMOTE_ADDR="203.0.113.66"
        )
    assert response.status_code == 200 and _throttled(response)
    with scopes_disabled():
        assert not OutboxMessage.objects.exists()
