"""The demo command: one account per role, and testers can sign in to the accounts that need a second factor."""

from __future__ import annotations

import io

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from mairie.core.management.commands.demo import SECOND_FACTOR_LOGINS, demo_totp_key_base32
from mairie.core.models import Commune, User
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _code(login: str) -> str:
    out = io.StringIO()
    call_command("demo_totp", login, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


@time_machine.travel("2026-11-26 10:00:00 +00:00", tick=False)
def test_demo_gives_the_nurse_a_printed_key_and_she_signs_in_with_its_code(client):
    out = io.StringIO()
    call_command("demo", stdout=out)
    printed = out.getvalue()
    assert "demo-mairie-2026" in printed and "manage.py demo_totp <login>" in printed
    for login in SECOND_FACTOR_LOGINS:
        assert demo_totp_key_base32(login) in printed
        assert TOTPDevice.objects.filter(user__username=login, confirmed=True).count() == 1

    with scopes_disabled():
        host = Commune.objects.get(slug="val-de-brume").hosts.first().host
    client.defaults["HTTP_HOST"] = host
    client.post(reverse("core:login"), {"login": "infirmiere", "password": "demo-mairie-2026"})
    asked = client.get(reverse("core:account"))
    assert asked.status_code == 302 and asked.url.startswith(reverse("core:two_factor"))
    assert "Deuxième code" in client.get(asked.url).content.decode()  # her app is set up: only the code
    code = _code("infirmiere")
    assert len(code) == 6 and code.isdigit()
    verified = client.post(asked.url, {"token": code})
    assert verified.status_code == 302 and verified.url == reverse("core:account")
    assert client.get(reverse("core:account")).status_code == 200

    call_command("demo", stdout=io.StringIO())  # again: still one app each, the same key
    assert TOTPDevice.objects.filter(user__username__in=SECOND_FACTOR_LOGINS).count() == len(
        SECOND_FACTOR_LOGINS
    )


def test_demo_totp_never_shows_the_code_of_a_real_authenticator_app(commune):
    person = make_user(commune)
    User.objects.filter(pk=person.pk).update(username="medecin")
    TOTPDevice.objects.create(user=person, name="Application", confirmed=True)  # a key of its own
    with pytest.raises(CommandError, match="no demo authenticator app"):
        _code("medecin")
    with pytest.raises(CommandError, match="no demo authenticator app"):
        _code("nobody")
