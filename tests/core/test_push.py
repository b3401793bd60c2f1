"""Web Push: RFC 8291 encryption, VAPID, notify() rows per device, delivery to a real HTTP push service
(started in the test; it decrypts what it receives), 404/410, retries, alarms."""

from __future__ import annotations

import json
import time
from datetime import datetime
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django_scopes import scope, scopes_disabled
from huey.contrib.djhuey import HUEY

from mairie.core.models import Membership, Notification, PushSubscription, Role
from mairie.core.notifications import delivery, push
from mairie.core.personal_data import export_document
from mairie.core.services.notifications import choose_channels, notify, push_subscribe
from mairie.core.services.privacy import erasure_complete, erasure_request_create
from tests.core.notifications_support import add_test_templates
from tests.core.push_support import Browser, PushService, b64, configure_vapid, unb64, verify_vapid
from tests.factories import make_user

pytestmark = pytest.mark.django_db

SUBJECT = "mailto:exploitation@val-de-brume.test"


@pytest.fixture
def vapid(settings):
    return configure_vapid(settings, hosts=["http://127.0.0.1"], subject=SUBJECT)


@pytest.fixture
def service():
    with PushService() as running:
        yield running


@pytest.fixture(autouse=True)
def _setup(settings):
    add_test_templates(settings)
    HUEY.flush()
    yield
    HUEY.flush()


@pytest.fixture
def resident(commune):
    return make_user(commune, first_name="Lucie", email="lucie@example.org", phone="+33612345678")


def _subscribe(user, commune, browser, agent="Mozilla/5.0 (Android 14) Firefox/140.0"):
    with scope(commune=commune):
        return push_subscribe(user=user, commune=commune, data=browser.subscription(), user_agent=agent)


def _notify(recipient, commune, **kwargs):
    kwargs.setdefault("template", "tests/visit")
    kwargs.setdefault("context", {"day": "mardi", "note": "Apportez vos lunettes"})
    with scope(commune=commune):
        return notify(recipient=recipient, commune=commune, **kwargs)


# RFC 8291 and RFC 8292


def test_encryption_matches_the_example_of_rfc_8291_appendix_a():
    sender = push.private_key_from_b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")
    body = push.encrypt(
        b"When I grow up, I want to be a watermelon",
        p256dh="BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        auth="BTBZMqHH6r4Tts7J_aSIgg",
        salt=unb64("DGv6ra1nlYgDCS1FRnbzlw"),
        sender_key=sender,
    )

    assert push.b64url_encode(body) == (
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK"
        "6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
    )


def test_a_browser_decrypts_what_we_encrypt_and_a_long_payload_is_cut_to_one_record():
    browser = Browser(endpoint="https://fcm.googleapis.com/fcm/send/abc")
    keys = browser.subscription()["keys"]
    message = push.PushMessage(title="Alerte", body="é" * 5000, url="/x/", urgent=True)

    payload = message.payload()
    decrypted = browser.decrypt(push.encrypt(payload, p256dh=keys["p256dh"], auth=keys["auth"]))

    assert decrypted == payload
    assert len(payload) <= push.MAX_PAYLOAD
    data = json.loads(payload)
    assert data["title"] == "Alerte" and data["url"] == "/x/" and data["body"].endswith("…")


def test_vapid_header_is_an_es256_jwt_for_the_push_services_origin(vapid, settings):
    keys = push.vapid_keys()
    assert keys is not None and keys.public_key_b64 == vapid

    claims, key = verify_vapid(push.vapid_authorization("https://fcm.googleapis.com/fcm/send/abc", keys))

    assert key == vapid
    assert claims["aud"] == "https://fcm.googleapis.com"
    assert claims["sub"] == SUBJECT
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600


def test_keys_that_do_not_match_are_refused_by_name(settings):
    other_public, _private = push.generate_vapid_pair()
    _public, private = push.generate_vapid_pair()
    settings.PUSH_VAPID_PRIVATE_KEY = private
    settings.PUSH_VAPID_PUBLIC_KEY = other_public

    with pytest.raises(ImproperlyConfigured, match="MAIRIE_VAPID_PUBLIC_KEY"):
        push.vapid_keys()
    settings.PUSH_VAPID_PRIVATE_KEY = "not-a-key"
    with pytest.raises(ImproperlyConfigured, match="MAIRIE_VAPID_PRIVATE_KEY"):
        push.vapid_keys()


def test_without_keys_there_is_no_push_channel_unless_debug_makes_a_demo_key_once(settings, tmp_path):
    settings.PUSH_VAPID_PRIVATE_KEY = ""
    settings.PUSH_VAPID_PUBLIC_KEY = ""
    settings.PUSH_VAPID_DEV_KEY_FILE = str(tmp_path / "vapid.txt")
    settings.DEBUG = False
    assert push.vapid_keys() is None

    settings.DEBUG = True
    first = push.vapid_keys()
    again = push.vapid_keys()

    assert first is not None and again is not None
    assert first.public_key_b64 == again.public_key_b64
    assert (tmp_path / "vapid.txt").stat().st_mode & 0o777 == 0o600


def test_only_push_services_addresses_are_accepted(settings):
    settings.PUSH_ENDPOINT_HOSTS = ["fcm.googleapis.com", "push.apple.com", "http://127.0.0.1"]

    assert push.endpoint_allowed("https://fcm.googleapis.com/fcm/send/x")
    assert push.endpoint_allowed("https://web.push.apple.com/abc")
    assert push.endpoint_allowed("http://127.0.0.1:8123/push/a")
    assert not push.endpoint_allowed("http://fcm.googleapis.com/fcm/send/x")  # https only
    assert not push.endpoint_allowed("https://evil-push.apple.com.example/abc")
    assert not push.endpoint_allowed("https://169.254.169.254/latest/meta-data")
    assert not push.endpoint_allowed("https://user:pw@fcm.googleapis.com/x")


# notify()


def test_notify_adds_one_push_row_per_device(commune, resident, vapid):
    phone = _subscribe(resident, commune, Browser("http://127.0.0.1:9/push/phone"))
    laptop = _subscribe(resident, commune, Browser("http://127.0.0.1:9/push/laptop"))

    rows = _notify(resident, commune, url="/mon-compte/")

    pushes = [row for row in rows if row.channel == "push"]
    assert [row.channel for row in rows] == ["in_app", "email", "sms", "push", "push"]
    assert {row.push_subscription_id for row in pushes} == {phone.pk, laptop.pk}
    assert all(row.body == "Dans le site : Apportez vos lunettes" for row in pushes)
    assert all(row.status == "pending" and row.url == "/mon-compte/" for row in pushes)


def test_no_push_without_a_device_or_without_keys_and_channels_still_restrict(
    commune, resident, vapid, settings
):
    assert "push" not in [row.channel for row in _notify(resident, commune)]
    _subscribe(resident, commune, Browser("http://127.0.0.1:9/push/phone"))

    assert [row.channel for row in _notify(resident, commune, channels=["email"])] == ["email"]
    assert [row.channel for row in _notify(resident, commune, channels=["push"])] == ["push"]
    settings.PUSH_VAPID_PRIVATE_KEY = ""
    settings.PUSH_VAPID_PUBLIC_KEY = ""
    assert "push" not in [row.channel for row in _notify(resident, commune)]


def test_a_device_in_another_commune_does_not_count(commune, other_commune, resident, vapid):
    with scopes_disabled():
        Membership.objects.create(commune=other_commune, user=resident, role="resident")
    _subscribe(resident, other_commune, Browser("http://127.0.0.1:9/push/elsewhere"))

    assert "push" not in [row.channel for row in _notify(resident, commune)]
    assert choose_channels(resident, ["push"], commune=other_commune) == ["push"]
    assert choose_channels(resident, ["push"], commune=commune) == []


def test_quiet_hours_delay_push_like_email_but_not_urgent_messages(commune, resident, vapid):
    resident.quiet_hours_start, resident.quiet_hours_end = clock_time(0, 0), clock_time(23, 59)
    resident.save()
    _subscribe(resident, commune, Browser("http://127.0.0.1:9/push/phone"))

    normal = next(row for row in _notify(resident, commune) if row.channel == "push")
    urgent = next(row for row in _notify(resident, commune, urgent=True) if row.channel == "push")

    assert normal.send_after > normal.created_at
    assert urgent.send_after == urgent.created_at


# Delivery to a push service


def test_the_worker_delivers_an_encrypted_signed_message_to_each_device(
    commune, resident, vapid, service, django_capture_on_commit_callbacks
):
    phone, laptop = Browser(service.endpoint("phone")), Browser(service.endpoint("laptop"))
    _subscribe(resident, commune, phone)
    _subscribe(resident, commune, laptop)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        rows = _notify(resident, commune, channels=["push"], url="/mon-compte/")

    assert len(service.received) == 2
    by_path = {request.path: request for request in service.received}
    for browser, name in ((phone, "phone"), (laptop, "laptop")):
        request = by_path[f"/push/{name}"]
        payload = json.loads(browser.decrypt(request.body))
        assert payload["title"] == "[fr] Visite le mardi"
        assert payload["body"] == "Dans le site : Apportez vos lunettes"
        assert payload["url"] == "/mon-compte/"
        assert payload["urgent"] is False
        assert request.headers["content-encoding"] == "aes128gcm"
        assert request.headers["urgency"] == "normal"
        assert int(request.headers["ttl"]) > 0
        claims, key = verify_vapid(request.headers["authorization"])
        assert key == vapid
        assert claims["aud"] == service.origin and claims["sub"] == SUBJECT
    with scope(commune=commune):
        assert {row.status for row in Notification.objects.filter(pk__in=[r.pk for r in rows])} == {"sent"}
        assert all(device.last_success_at for device in PushSubscription.objects.all())


def test_an_urgent_alarm_goes_out_with_urgency_high_and_its_link(commune, resident, vapid, service):
    phone = Browser(service.endpoint("phone"))
    _subscribe(resident, commune, phone)
    [row] = _notify(resident, commune, channels=["push"], urgent=True, url="/teleassistance/alarme/7/ack/")

    assert delivery.deliver(row.pk) is delivery.Outcome.SENT

    [request] = service.received
    payload = json.loads(phone.decrypt(request.body))
    assert request.headers["urgency"] == "high"
    assert payload["urgent"] is True and payload["url"] == "/teleassistance/alarme/7/ack/"


def test_410_forgets_the_device_and_the_other_device_still_gets_it(commune, resident, vapid, service):
    gone, kept = Browser(service.endpoint("gone")), Browser(service.endpoint("kept"))
    gone_device = _subscribe(resident, commune, gone)
    _subscribe(resident, commune, kept)
    service.statuses["/push/gone"] = 410
    rows = _notify(resident, commune, channels=["push"])

    outcomes = {row.push_subscription_id: delivery.deliver(row.pk) for row in rows}

    assert outcomes[gone_device.pk] is delivery.Outcome.SKIPPED
    assert sorted(outcomes.values(), key=str) == [delivery.Outcome.SENT, delivery.Outcome.SKIPPED]
    with scope(commune=commune):
        assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [kept.endpoint]
        assert Notification.objects.get(pk=rows[0].pk).status == "skipped"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_push_service_error_is_tried_again_later(commune, resident, vapid, service, status):
    _subscribe(resident, commune, Browser(service.endpoint("phone")))
    service.statuses["/push/phone"] = status
    [row] = _notify(resident, commune, channels=["push"])

    with pytest.raises(push.PushError):
        delivery.deliver(row.pk)

    with scope(commune=commune):
        row.refresh_from_db()
        assert row.status == "pending" and row.attempts == 1
        assert str(status) in row.last_error
        assert row.send_after > row.created_at
        assert PushSubscription.objects.count() == 1
    service.statuses["/push/phone"] = 201
    with scope(commune=commune):
        Notification.objects.filter(pk=row.pk).update(send_after=row.created_at)
    assert delivery.deliver_due() == {delivery.Outcome.SENT: 1}
    assert len(service.received) == 2


def test_a_refused_request_fails_for_good(commune, resident, vapid, service):
    _subscribe(resident, commune, Browser(service.endpoint("phone")))
    service.statuses["/push/phone"] = 403
    [row] = _notify(resident, commune, channels=["push"])

    assert delivery.deliver(row.pk) is delivery.Outcome.FAILED


def test_a_removed_device_or_a_device_taken_over_is_skipped(commune, resident, vapid, service):
    browser = Browser(service.endpoint("shared"))
    _subscribe(resident, commune, browser)
    [row] = _notify(resident, commune, channels=["push"])
    neighbour = make_user(commune, first_name="Paul")
    _subscribe(neighbour, commune, browser)  # the shared tablet now belongs to Paul

    assert delivery.deliver(row.pk) is delivery.Outcome.SKIPPED
    assert service.received == []


# Homecare escalation


def test_an_alarm_reaches_the_first_contacts_phone_by_push_with_the_ack_link(commune, vapid, service):
    from mairie.homecare.models import Alarm
    from tests.homecare.homes_support import fixture, make_home

    at = datetime(2026, 11, 26, 14, 0, tzinfo=ZoneInfo("Europe/Paris"))
    with time_machine.travel(at, tick=False):
        world = make_home(commune, now=at, contacts=2)
    first = world.contacts[0].user
    phone = Browser(service.endpoint("first-contact"))
    _subscribe(first, commune, phone)

    with time_machine.travel(at, tick=False):
        outcome = world.send("sos", fixture("tuya_sos_TS0215A.json"), at)
    with scope(commune=commune):
        alarm = Alarm.objects.get(pk=outcome.alarm_ids[0])
        row = Notification.objects.get(template="homecare/alarm", channel="push")
    assert row.recipient_id == first.pk and row.urgent
    from mairie.homecare.tokens import read_ack_token

    token = row.url.rstrip("/").rsplit("/", 1)[-1]  # /teleassistance/acquitter/<signed alarm and contact>/
    assert read_ack_token(token) is not None and read_ack_token(token)[0] == alarm.pk

    assert delivery.deliver(row.pk) in {
        delivery.Outcome.SENT,
        delivery.Outcome.NOT_CLAIMED,
    }  # maybe sent on commit
    [request] = service.received
    payload = json.loads(phone.decrypt(request.body))
    assert request.headers["urgency"] == "high"
    assert payload["url"] == row.url and payload["urgent"] is True
    assert payload["title"].startswith("ALARME")


# Personal data


def test_devices_are_in_the_data_download_and_go_with_an_erasure(commune, resident, vapid):
    _subscribe(resident, commune, Browser("http://127.0.0.1:9/push/phone"))

    with scope(commune=commune):
        document = export_document(resident, commune)
    [device] = document["sections"]["core.push_devices"]["donnees"]
    assert device["Appareil"] == "Firefox sur Android"
    assert device["Adresse du service de notification"] == "http://127.0.0.1:9/push/phone"

    admin = make_user(commune, Role.ADMIN)
    with scope(commune=commune):
        request = erasure_request_create(user=resident, commune=commune)
        erasure_complete(erasure_request=request, by=admin)
    with scopes_disabled():
        assert not PushSubscription.objects.filter(user=resident).exists()


def test_the_public_key_the_page_gives_is_the_one_that_signs(vapid):
    keys = push.vapid_keys()
    assert keys is not None
    point = unb64(keys.public_key_b64)
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    assert b64(point) == vapid


# Production settings


def test_production_with_a_vapid_key_stays_clean_and_a_wrong_pair_is_refused(tmp_path):
    from tests.core.test_deploy_settings import PRODUCTION_ENV, run_manage

    public, private = push.generate_vapid_pair()
    other_public, _ = push.generate_vapid_pair()
    with_push = {
        **PRODUCTION_ENV,
        "MAIRIE_VAPID_PUBLIC_KEY": public,
        "MAIRIE_VAPID_PRIVATE_KEY": private,
        "MAIRIE_VAPID_SUBJECT": "mailto:exploitation@val-de-brume.fr",
    }

    clean = run_manage(tmp_path, "check", "--deploy", "--fail-level", "DEBUG", env=with_push)
    mismatched = run_manage(tmp_path, "check", env={**with_push, "MAIRIE_VAPID_PUBLIC_KEY": other_public})
    no_subject = run_manage(tmp_path, "check", env={**with_push, "MAIRIE_VAPID_SUBJECT": ""})

    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "MAIRIE_VAPID_PUBLIC_KEY does not belong to MAIRIE_VAPID_PRIVATE_KEY" in mismatched.stderr
    assert "MAIRIE_VAPID_SUBJECT is required" in no_subject.stderr
    assert not (tmp_path / "vapid-dev-private-key.txt").exists()
