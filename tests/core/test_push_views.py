"""Pages of Web Push: switching a device on (JSON from the page's script), removing one (a plain form), the
account page's section, the service worker."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from mairie.core.models import AuditEntry, Membership, PushSubscription, Role
from mairie.core.services.notifications import push_subscribe
from tests.core.push_support import Browser, b64, configure_vapid
from tests.factories import make_user

pytestmark = pytest.mark.django_db

FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:140.0) Gecko/140.0 Firefox/140.0"


@pytest.fixture
def vapid(settings):
    return configure_vapid(settings, hosts=["fcm.googleapis.com", "push.services.mozilla.com"])


@pytest.fixture
def resident(commune):
    return make_user(commune, first_name="Lucie")


def _post_json(client, data, **extra):
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    return client.post(
        reverse("core:push_subscribe"),
        body,
        content_type="application/json",
        HTTP_USER_AGENT=FIREFOX_ANDROID,
        **extra,
    )


def _devices(commune):
    with scope(commune=commune):
        return list(PushSubscription.objects.order_by("pk"))


def test_a_browser_switches_on_and_is_listed_on_my_account(client_for, commune, resident, vapid):
    client = client_for(commune, resident)
    browser = Browser("https://updates.push.services.mozilla.com/wpush/v2/abc")

    response = _post_json(client, browser.subscription())

    assert response.status_code == 201
    [device] = _devices(commune)
    assert (device.user_id, device.endpoint, device.label) == (
        resident.pk,
        browser.endpoint,
        "Firefox sur Android",
    )
    assert device.p256dh == b64(browser.public_bytes)
    page = client.get(reverse("core:account")).content.decode()
    assert "Notifications sur mes appareils" in page
    assert vapid in page  # the key the page's script subscribes with
    assert "Firefox sur Android" in page
    with scope(commune=commune):
        assert AuditEntry.objects.filter(action="core.push.device_added", actor=resident).count() == 1


def test_switching_on_again_updates_the_same_device(client_for, commune, resident, vapid):
    client = client_for(commune, resident)
    browser = Browser("https://fcm.googleapis.com/fcm/send/abc")
    _post_json(client, browser.subscription())
    browser.auth_secret = b"0123456789abcdef"

    assert _post_json(client, browser.subscription()).status_code == 201
    [device] = _devices(commune)
    assert device.auth == b64(b"0123456789abcdef")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "illisible"),
        ("[1, 2]", "illisible"),
        ({"endpoint": "https://fcm.googleapis.com/fcm/send/x"}, "clés de chiffrement"),
        (
            {"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": {"p256dh": "abc", "auth": "def"}},
            "pas valides",
        ),
        ({"endpoint": "http://10.0.0.5/admin", "keys": {"p256dh": "a", "auth": "b"}}, "pas accepté"),
        ({"endpoint": "", "keys": {}}, "manque"),
    ],
)
def test_bad_subscriptions_get_a_clear_400_and_change_nothing(
    client_for, commune, resident, vapid, body, message
):
    response = _post_json(client_for(commune, resident), body)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert _devices(commune) == []


def test_a_key_that_is_not_on_the_curve_is_refused(client_for, commune, resident, vapid):
    data = Browser("https://fcm.googleapis.com/fcm/send/x").subscription()
    data["keys"]["p256dh"] = b64(b"\x04" + b"\x01" * 64)

    response = _post_json(client_for(commune, resident), data)

    assert response.status_code == 400
    assert _devices(commune) == []


def test_subscribing_needs_the_csrf_token_and_a_signed_in_member(commune, resident, vapid):
    host = commune.hosts.first().host
    checked = Client(enforce_csrf_checks=True, HTTP_HOST=host)
    checked.force_login(resident, backend="mairie.core.auth_backends.LoginBackend")
    data = Browser("https://fcm.googleapis.com/fcm/send/x").subscription()

    assert _post_json(checked, data).status_code == 403
    anonymous = Client(HTTP_HOST=host)
    assert _post_json(anonymous, data).status_code == 302
    assert _devices(commune) == []


def test_without_keys_the_account_page_says_nothing_and_subscribing_is_refused(
    client_for, commune, resident, settings
):
    settings.PUSH_VAPID_PRIVATE_KEY = ""
    settings.PUSH_VAPID_PUBLIC_KEY = ""
    settings.PUSH_ENDPOINT_HOSTS = ["fcm.googleapis.com"]
    client = client_for(commune, resident)

    page = client.get(reverse("core:account")).content.decode()
    response = _post_json(client, Browser("https://fcm.googleapis.com/fcm/send/x").subscription())

    assert "Notifications sur mes appareils" not in page and "push.js" not in page
    assert response.status_code == 400
    assert _devices(commune) == []


def test_the_page_without_javascript_says_email_and_sms_still_work(client_for, commune, resident, vapid):
    page = client_for(commune, resident).get(reverse("core:account")).content.decode()

    assert "data-push-fallback" in page
    assert "les messages arrivent toujours par e-mail ou SMS" in page
    assert "Aucun appareil ne reçoit de notifications" in page


def test_removing_a_device_with_the_plain_form(client_for, commune, resident, vapid):
    with scope(commune=commune):
        device = push_subscribe(
            user=resident,
            commune=commune,
            data=Browser("https://fcm.googleapis.com/fcm/send/x").subscription(),
        )
    client = client_for(commune, resident)

    response = client.post(reverse("core:push_unsubscribe"), {"appareil": device.pk}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("core:account")
    assert "ne recevra plus de notifications" in response.content.decode()
    assert _devices(commune) == []
    with scope(commune=commune):
        assert AuditEntry.objects.filter(action="core.push.device_removed", actor=resident).count() == 1


def test_nobody_removes_another_persons_device(client_for, commune, resident, vapid):
    with scope(commune=commune):
        device = push_subscribe(
            user=resident,
            commune=commune,
            data=Browser("https://fcm.googleapis.com/fcm/send/x").subscription(),
        )
    neighbour = make_user(commune, first_name="Paul")

    response = client_for(commune, neighbour).post(
        reverse("core:push_unsubscribe"), {"appareil": device.pk}, follow=True
    )
    for bad in ("", "abc", "-1"):
        client_for(commune, neighbour).post(reverse("core:push_unsubscribe"), {"appareil": bad})

    assert "rien n&#x27;a changé" in response.content.decode()
    assert _devices(commune) == [device]


def test_devices_of_another_commune_are_neither_listed_nor_removable(
    client_for, commune, other_commune, resident, vapid
):
    with scopes_disabled():
        Membership.objects.create(commune=other_commune, user=resident, role=Role.RESIDENT)
    with scope(commune=other_commune):
        elsewhere = push_subscribe(
            user=resident,
            commune=other_commune,
            data=Browser("https://fcm.googleapis.com/fcm/send/elsewhere").subscription(),
            user_agent=FIREFOX_ANDROID,
        )
    client = client_for(commune, resident)

    page = client.get(reverse("core:account")).content.decode()
    client.post(reverse("core:push_unsubscribe"), {"appareil": elsewhere.pk})

    assert "Firefox sur Android" not in page
    assert _devices(other_commune) == [elsewhere]


def test_the_service_worker_is_served_from_the_root_for_the_whole_site(client_for, commune):
    response = client_for(commune).get(reverse("core:push_service_worker"))

    assert reverse("core:push_service_worker") == "/service-worker.js"
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    body = response.content.decode()
    assert 'addEventListener("push"' in body and "requireInteraction" in body and "openWindow" in body


def test_a_person_has_at_most_ten_devices(client_for, commune, resident, vapid):
    client = client_for(commune, resident)
    for n in range(10):
        assert (
            _post_json(client, Browser(f"https://fcm.googleapis.com/fcm/send/{n}").subscription()).status_code
            == 201
        )

    response = _post_json(client, Browser("https://fcm.googleapis.com/fcm/send/eleventh").subscription())

    assert response.status_code == 400
    assert "retirez-en un" in response.json()["error"]
    assert len(_devices(commune)) == 10
    assert (
        _post_json(client, Browser("https://fcm.googleapis.com/fcm/send/3").subscription()).status_code == 201
    )


def test_signing_out_switches_off_the_devices_switched_on_in_that_session(
    client_for, commune, resident, vapid
):
    """A shared computer (the Numéripôle's, a family tablet): once signed out, the person's notifications stop
    appearing on it. A device switched on in an earlier session (their own phone) stays on."""
    with scope(commune=commune):
        phone = push_subscribe(
            user=resident,
            commune=commune,
            data=Browser("https://fcm.googleapis.com/fcm/send/phone").subscription(),
            user_agent=FIREFOX_ANDROID,
        )
    client = client_for(commune, resident)
    assert (
        _post_json(client, Browser("https://fcm.googleapis.com/fcm/send/shared").subscription()).status_code
        == 201
    )

    response = client.post(reverse("core:logout"), follow=True)

    assert [device.pk for device in _devices(commune)] == [phone.pk]
    assert "Cet appareil ne recevra plus vos notifications." in response.content.decode()
    with scope(commune=commune):
        assert AuditEntry.objects.filter(action="core.push.device_removed", actor=resident).count() == 1


def test_signing_out_without_a_device_switched_on_says_nothing_about_notifications(
    client_for, commune, resident, vapid
):
    client = client_for(commune, resident)
    response = client.post(reverse("core:logout"), follow=True)
    assert response.status_code == 200
    assert "notifications" not in response.content.decode()
