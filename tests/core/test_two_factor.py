"""Two-factor authentication: required for roles that see health or alarm data, optional for everyone else;
and the short idle time of those sensitive sessions."""

from __future__ import annotations

import re
import time
from base64 import b32decode
from datetime import timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_scopes import scope, scopes_disabled

from mairie.core.models import AuditEntry, OutboxMessage, Role
from tests.factories import make_user

pytestmark = pytest.mark.django_db

HOST = "val-de-brume.test"
PASSWORD = "correct horse battery"


def _sign_in(user, client=None):
    client = client or Client(HTTP_HOST=HOST)
    response = client.post(reverse("core:login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def _app_code(secret: str) -> str:
    """What the phone app shows now for this key."""
    totp = TOTP(b32decode(secret.replace(" ", "")), step=30, t0=0, digits=6)
    totp.time = time.time()
    return f"{totp.token():06d}"


def _secret_on(page: str) -> str:
    return re.search(r'<p class="secret" id="cle"><code>([A-Z2-7 ]+)</code>', page).group(1)


def _set_up(client):
    """Scans the QR code (reads the key on the page) and types the first code, as a person does."""
    page = client.get(reverse("core:two_factor")).content.decode()
    secret = _secret_on(page)
    response = client.post(reverse("core:two_factor"), {"token": _app_code(secret)})
    assert response.status_code == 302, response.content.decode()
    codes_page = client.get(response["Location"]).content.decode()
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", codes_page)
    return secret, codes


@pytest.fixture
def nurse(commune):
    return make_user(commune, Role.NURSE, email="infirmiere@example.org")


@pytest.fixture
def resident(commune):
    return make_user(commune, email="habitant@example.org")


# --- required for sensitive roles -------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.NURSE, Role.OPERATOR])
def test_sensitive_roles_are_sent_to_set_up_two_factor_after_sign_in(commune, role):
    person = make_user(commune, role, email=f"{role}@example.org")
    client = _sign_in(person)
    response = client.get(reverse("core:account"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('core:two_factor')}?next={quote('/mon-compte/', safe='')}"
    page = client.get(response["Location"]).content.decode()
    assert "la double authentification est obligatoire" in page
    assert 'src="data:image/svg+xml' in page  # the QR code, inline (no external request)
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{4})+", _secret_on(page))
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page


@pytest.mark.parametrize("role", [Role.AGENT, Role.MEDIATOR, Role.ADMIN, Role.RELATIVE])
def test_other_roles_are_not_forced(commune, role):
    person = make_user(commune, role, email=f"{role}@example.org")
    client = _sign_in(person)
    assert client.get(reverse("core:account")).status_code == 200


def test_until_verified_only_logout_display_and_language_are_reachable(commune, nurse):
    client = _sign_in(nurse)
    for name in ("core:home", "core:account", "core:password_change", "core:staff_home"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("core:two_factor")), (
            name
        )
    assert client.get(reverse("core:display")).status_code == 200
    assert client.get(reverse("core:commune_css")).status_code == 200
    assert client.post(reverse("core:set_language"), {"language": "fr", "next": "/"}).status_code == 302
    assert client.post(reverse("core:logout")).status_code == 302
    assert client.session.get("_auth_user_id") is None


def test_set_up_then_the_site_opens_and_backup_codes_are_shown_once(commune, nurse):
    start = timezone.now()
    client = _sign_in(nurse)
    page = client.get(reverse("core:two_factor") + "?next=/mon-compte/").content.decode()
    secret = _secret_on(page)
    with time_machine.travel(start, tick=False):
        wrong = f"{(int(_app_code(secret)) + 1) % 1_000_000:06d}"
        body = client.post(reverse("core:two_factor"), {"token": wrong}).content.decode()
        assert "Ce code ne correspond pas" in body
        assert client.get(reverse("core:account")).status_code == 302
        # Straight after a wrong code, django-otp wants a short pause (1, 2, 4... seconds).
        body = client.post(reverse("core:two_factor"), {"token": _app_code(secret)}).content.decode()
        assert "Attendez quelques secondes" in body
    with time_machine.travel(start + timedelta(seconds=3), tick=False):
        response = client.post(
            reverse("core:two_factor"), {"token": _app_code(secret), "next": "/mon-compte/"}
        )
    assert response["Location"].startswith(reverse("core:two_factor_backup_codes"))
    codes_page = client.get(response["Location"]).content.decode()
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", codes_page)
    assert len(set(codes)) == 10
    assert 'href="/mon-compte/"' in codes_page
    assert client.get(reverse("core:two_factor_backup_codes")).status_code == 302  # never shown again
    assert client.get(reverse("core:account")).status_code == 200
    with scope(commune=commune):
        assert AuditEntry.objects.filter(action="core.auth.two_factor_enabled", actor=nurse).count() == 1


def test_next_sign_in_asks_for_the_app_code(commune, nurse):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        secret, _codes = _set_up(_sign_in(nurse))
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        client = _sign_in(nurse)
        response = client.get(reverse("core:account"))
        page = client.get(response["Location"]).content.decode()
        assert "<h1>Deuxième code</h1>" in page
        assert "data:image/svg+xml" not in page and secret not in page  # the key is never shown again
        body = client.post(reverse("core:two_factor"), {"token": "12345"}).content.decode()
        assert "Le code compte six chiffres" in body
        code = _app_code(secret)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        body = client.post(reverse("core:two_factor"), {"token": wrong}).content.decode()
        assert "Ce code ne convient pas" in body
    with time_machine.travel(start + timedelta(minutes=2, seconds=5), tick=False):
        response = client.post(
            reverse("core:two_factor"), {"token": _app_code(secret), "next": "/mon-compte/"}
        )
        assert response["Location"] == "/mon-compte/"
        assert client.get(reverse("core:account")).status_code == 200
        # The same code cannot serve twice (someone reading over a shoulder).
        other = _sign_in(nurse)
        other.post(reverse("core:two_factor"), {"token": _app_code(secret)})
        assert other.get(reverse("core:account")).status_code == 302


def test_a_backup_code_works_once(commune, nurse):
    _secret, codes = _set_up(_sign_in(nurse))
    client = _sign_in(nurse)
    client.post(reverse("core:two_factor"), {"token": codes[0].upper()})
    assert client.get(reverse("core:account")).status_code == 200
    other = _sign_in(nurse)
    body = other.post(reverse("core:two_factor"), {"token": codes[0]}).content.decode()
    assert "Ce code ne convient pas" in body
    assert other.get(reverse("core:account")).status_code == 302


def test_new_backup_codes_replace_the_old_ones(commune, nurse):
    client = _sign_in(nurse)
    _secret, old_codes = _set_up(client)
    page = client.get(reverse("core:two_factor")).content.decode()
    assert "La double authentification est active" in page
    assert "Il vous reste 10 codes de secours" in page
    assert "Désactiver la double authentification" not in page  # required for a nurse
    response = client.post(reverse("core:two_factor"), {"action": "renew"})
    new_codes = re.findall(
        r"<li><code>([a-z2-7]{8})</code></li>", client.get(response["Location"]).content.decode()
    )
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        other = _sign_in(nurse)
        other.post(reverse("core:two_factor"), {"token": old_codes[1]})
        assert other.get(reverse("core:account")).status_code == 302
    with time_machine.travel(start + timedelta(seconds=3), tick=False):
        other.post(reverse("core:two_factor"), {"token": new_codes[1]})
        assert other.get(reverse("core:account")).status_code == 200


def test_a_nurse_cannot_switch_it_off(commune, nurse):
    client = _sign_in(nurse)
    _set_up(client)
    client.post(reverse("core:two_factor"), {"action": "disable"})
    other = _sign_in(nurse)
    assert other.get(reverse("core:account")).status_code == 302


def test_too_many_wrong_codes_are_throttled(commune, nurse):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        secret, _codes = _set_up(_sign_in(nurse))
    client = _sign_in(nurse)
    for n in range(settings.LOGIN_MAX_FAILURES):
        with time_machine.travel(start + timedelta(minutes=1, seconds=40 * n), tick=False):
            wrong = f"{(int(_app_code(secret)) + 7) % 1_000_000:06d}"
            client.post(reverse("core:two_factor"), {"token": wrong})
    with time_machine.travel(start + timedelta(minutes=6), tick=False):
        body = client.post(reverse("core:two_factor"), {"token": _app_code(secret)}).content.decode()
        assert "Trop d&#x27;essais sans succès" in body
        assert client.get(reverse("core:account")).status_code == 302


# --- optional for everyone else ---------------------------------------------------------------------------


def test_a_resident_may_switch_it_on_then_it_is_asked_at_each_sign_in(commune, resident):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = _sign_in(resident)
        page = client.get(reverse("core:two_factor")).content.decode()
        assert "obligatoire" not in page and 'src="data:image/svg+xml' in page
        secret, _codes = _set_up(client)
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        other = _sign_in(resident)
        assert other.get(reverse("core:account")).status_code == 302
        other.post(reverse("core:two_factor"), {"token": _app_code(secret)})
        assert other.get(reverse("core:account")).status_code == 200
        page = other.get(reverse("core:two_factor")).content.decode()
        assert "Désactiver la double authentification" in page
        other.post(reverse("core:two_factor"), {"action": "disable"})
        assert other.get(reverse("core:account")).status_code == 200
    with scope(commune=commune):
        assert AuditEntry.objects.filter(action="core.auth.two_factor_disabled", actor=resident).exists()
    third = _sign_in(resident)
    assert third.get(reverse("core:account")).status_code == 200


def test_changing_phones_keeps_the_old_app_until_the_new_one_is_confirmed(commune, resident):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = _sign_in(resident)
        old_secret, _codes = _set_up(client)
        page = client.get(reverse("core:two_factor") + "?step=setup").content.decode()
        new_secret = _secret_on(page)
        assert new_secret != old_secret
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        other = _sign_in(resident)
        other.post(reverse("core:two_factor"), {"token": _app_code(old_secret)})
        assert other.get(reverse("core:account")).status_code == 200  # the new phone is not confirmed yet
        client.post(reverse("core:two_factor"), {"token": _app_code(new_secret), "step": "setup"})
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        third = _sign_in(resident)
        third.post(reverse("core:two_factor"), {"token": _app_code(old_secret)})
        assert third.get(reverse("core:account")).status_code == 302
    with time_machine.travel(start + timedelta(minutes=2, seconds=3), tick=False):
        third.post(reverse("core:two_factor"), {"token": _app_code(new_secret)})
        assert third.get(reverse("core:account")).status_code == 200


def test_two_factor_page_needs_sign_in(client_for, commune):
    response = client_for(commune).get(reverse("core:two_factor"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("core:login"))


# --- idle timeout of sensitive sessions -------------------------------------------------------------------


def test_sensitive_sessions_end_after_the_idle_time(commune, nurse):
    start = timezone.now()
    idle = settings.SENSITIVE_IDLE_SECONDS
    with time_machine.travel(start, tick=False):
        client = _sign_in(nurse)
        _set_up(client)
        assert client.get(reverse("core:account")).status_code == 200
    with time_machine.travel(start + timedelta(seconds=idle - 60), tick=False):
        assert client.get(reverse("core:account")).status_code == 200  # active: the clock starts again
    with time_machine.travel(start + timedelta(seconds=2 * idle - 120), tick=False):
        assert client.get(reverse("core:account")).status_code == 200
    with time_machine.travel(start + timedelta(seconds=3 * idle), tick=False):
        response = client.get(reverse("core:account"))
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('core:login')}?expired=1"
        assert client.session.get("_auth_user_id") is None
        page = client.get(response["Location"]).content.decode()
        assert "Vous avez été déconnecté après une période d'inactivité" in page


def test_a_code_or_a_new_password_does_not_skip_the_second_factor(
    commune, nurse, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "mairie.core.notifications.backends.OutboxEmailBackend"
    _set_up(_sign_in(nurse))
    for purpose in ("core:login_code", "core:password_reset"):
        client = Client(HTTP_HOST=HOST)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse(purpose), {"login": nurse.email})
        with scopes_disabled():
            body = OutboxMessage.objects.order_by("-id").first().body
        path = re.search(r"https?://[^/\s]+(/connexion/lien/\d+/[\w-]+/)", body).group(1)
        data = {} if purpose == "core:login_code" else {"new_password1": "quatre saisons douces"}
        data |= {"new_password2": data["new_password1"]} if data else {}
        client.post(path, data)
        assert client.session.get("_auth_user_id") == str(nurse.pk)
        response = client.get(reverse("core:account"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("core:two_factor"))
