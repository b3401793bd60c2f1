"""The platform operators' "État du pont MQTT" (Django admin): counters in words, silence and dead-letter
warnings, replaying or closing a dead letter (one transaction with its audit row), refusals, no N+1, no JS."""

from __future__ import annotations

import html
import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from mairie.core.models import AuditEntry, Role, User
from mairie.homecare import bridge_stats
from mairie.homecare.bridge_stats import add_counts, keep_dead_letter
from mairie.homecare.models import Alarm, BridgeCounter, BridgeDeadLetter, Gateway
from mairie.homecare.views.bridge_health import PAGE_SIZE
from tests.factories import make_user
from tests.homecare.homes_support import fixture, make_home
from tests.urlwalk import client_as, default_data, parse_forms, verify_second_factor

pytestmark = pytest.mark.django_db

BRIDGE = "mairie-bridge-1"
PAGE = "admin:homecare_bridgedeadletter_changelist"


def page_url() -> str:
    return reverse(PAGE)


def replay_url(letter: BridgeDeadLetter) -> str:
    return reverse("admin:homecare_bridgedeadletter_replay", args=[letter.pk])


def handled_url(letter: BridgeDeadLetter) -> str:
    return reverse("admin:homecare_bridgedeadletter_mark_handled", args=[letter.pk])


@pytest.fixture
def platform_operator(db) -> User:
    return User.objects.create_superuser("exploitant", password="une phrase de passe solide 2025")


@pytest.fixture
def operator_client(commune, platform_operator) -> Client:
    client = Client(HTTP_HOST=commune.hosts.first().host)
    client.force_login(platform_operator, backend="mairie.core.auth_backends.LoginBackend")
    verify_second_factor(client, platform_operator)  # the admin asks platform operators for it
    return client


@pytest.fixture
def home(commune):
    now = timezone.now()
    return make_home(commune, now=now)


def text(response) -> str:
    return html.unescape(response.content.decode())


def dead_letter(
    topic: str = "zigbee2mqtt/nulle-part/1/x", payload: bytes = b'{"a": 1}', **kw
) -> BridgeDeadLetter:
    keep_dead_letter(
        bridge=BRIDGE,
        topic=topic,
        payload=payload,
        error=kw.get("error", "RuntimeError('boom')"),
        received_at=kw.get("received_at", timezone.now() - timedelta(minutes=3)),
    )
    return BridgeDeadLetter.objects.order_by("-pk").first()  # type: ignore[return-value]


def audit_rows(action: str) -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(action=action).order_by("pk"))


# Seeing it --------------------------------------------------------------------------------------------------


def test_platform_operator_sees_each_bridge_with_its_counts_in_words(operator_client):
    add_counts(bridge=BRIDGE, counts={"ok": 120, "unknown_device": 3, "duplicate": 2})
    add_counts(bridge="mairie-bridge-2", counts={"ok": 7})

    response = operator_client.get(page_url())

    assert response.status_code == 200
    page = text(response)
    assert "État du pont MQTT" in page
    assert "Pont « mairie-bridge-1 »" in page and "Pont « mairie-bridge-2 »" in page
    assert "message d'un appareil inconnu" in page
    assert "message reçu en double" in page
    assert "message traité" in page
    assert "125" in page  # the first bridge's total
    assert "Rien à signaler" in page


def test_a_bridge_silent_while_gateways_are_online_is_a_warning(operator_client, home):
    add_counts(bridge=BRIDGE, counts={"ok": 5})
    BridgeCounter.objects.update(updated_at=timezone.now() - timedelta(minutes=12))

    quiet = text(operator_client.get(page_url()))
    assert "n’a rien reçu depuis plus de 5 minutes" not in quiet  # no gateway online: nobody should talk

    with scopes_disabled():
        Gateway.objects.filter(pk=home.gateway.pk).update(online=True)
    page = text(operator_client.get(page_url()))
    assert "Le pont « mairie-bridge-1 » n’a rien reçu depuis plus de 5 minutes" in page
    assert "silencieux" in page


def test_online_gateways_and_no_bridge_at_all_is_a_warning(operator_client, home):
    with scopes_disabled():
        Gateway.objects.filter(pk=home.gateway.pk).update(online=True)

    page = text(operator_client.get(page_url()))

    assert "aucun pont n’a encore rien compté" in page


def test_waiting_dead_letters_are_listed_with_an_escaped_truncated_preview(operator_client):
    hostile = b"<script>alert('x')</script>" + b"A" * 2000 + b"\xff\xfe"
    letter = dead_letter(topic="zigbee2mqtt/val/1/<b>salon</b>", payload=hostile, error="KeyError('<i>')")

    response = operator_client.get(page_url())
    raw = response.content.decode()

    assert "1 message mis de côté attend" in text(response)
    assert "<script>alert" not in raw
    assert "&lt;script&gt;alert(" in raw
    assert "<b>salon</b>" not in raw and "&lt;b&gt;salon&lt;/b&gt;" in raw
    assert "<i>" not in raw
    assert "A" * 400 not in raw  # cut to a preview
    assert f"Contenu ({len(hostile)} octets)" in text(response)
    assert replay_url(letter) in raw and handled_url(letter) in raw


def test_the_list_is_paginated_oldest_first(operator_client):
    start = timezone.now() - timedelta(hours=5)
    letters = [
        dead_letter(topic=f"zigbee2mqtt/x/1/d{i}", received_at=start + timedelta(minutes=i))
        for i in range(PAGE_SIZE + 3)
    ]

    first = text(operator_client.get(page_url()))
    second = text(operator_client.get(page_url() + "?page=2"))

    assert "zigbee2mqtt/x/1/d0" in first and f"zigbee2mqtt/x/1/d{PAGE_SIZE - 1}" in first
    assert f"zigbee2mqtt/x/1/d{PAGE_SIZE}" not in first
    assert f"zigbee2mqtt/x/1/d{PAGE_SIZE + 2}" in second and "zigbee2mqtt/x/1/d0 " not in second
    assert "Page 2 sur 2" in second
    assert len(letters) == PAGE_SIZE + 3


def test_the_pages_queries_do_not_grow_with_the_dead_letters(operator_client):
    add_counts(bridge=BRIDGE, counts={"ok": 1, "error": 1})

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = operator_client.get(page_url())
        assert response.status_code == 200
        return len(captured)

    for i in range(2):
        dead_letter(topic=f"zigbee2mqtt/x/1/a{i}")
    operator_client.get(page_url())
    with_few = queries()
    for i in range(PAGE_SIZE - 2):
        dead_letter(topic=f"zigbee2mqtt/x/1/b{i}")
    assert queries() == with_few


# Who may ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who", ["resident", "relative", "commune admin", "operator", "other commune's agent"]
)
def test_nobody_but_a_platform_operator_gets_the_page_or_its_actions(commune, other_commune, home, who):
    people = {
        "resident": lambda: make_user(commune),
        "relative": lambda: make_user(commune, Role.RELATIVE),
        "commune admin": lambda: make_user(commune, Role.ADMIN),
        "operator": lambda: make_user(commune, Role.OPERATOR),
        "other commune's agent": lambda: make_user(other_commune, Role.AGENT),
    }
    person = people[who]()
    with scopes_disabled():
        User.objects.filter(pk=person.pk).update(is_staff=True)  # even flagged staff by mistake
    client = client_as(commune.hosts.first().host, person)  # second factor passed when their role needs it
    letter = dead_letter(topic=home.topic("sos"), payload=fixture("tuya_sos_TS0215A.json"))
    admin_login = reverse("admin:login")

    for method, url, data in (
        ("get", page_url(), {}),
        ("post", replay_url(letter), {}),
        ("post", handled_url(letter), {"note": "Je range"}),
    ):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302, (who, url)
        assert response["Location"].startswith(admin_login), (who, url)
    letter.refresh_from_db()
    assert letter.handled_at is None
    with scope(commune=commune):
        assert not Alarm.objects.exists()
    assert not audit_rows("homecare.bridge.dead_letter_replayed")


def test_anonymous_visitors_are_sent_to_sign_in(commune):
    response = Client(HTTP_HOST=commune.hosts.first().host).get(page_url())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_services_check_the_person_too(commune):
    agent = make_user(commune, Role.AGENT)
    letter = dead_letter()
    with pytest.raises(PermissionDenied):
        bridge_stats.dead_letter_replay(actor=agent, dead_letter_id=letter.pk)
    with pytest.raises(PermissionDenied):
        bridge_stats.dead_letter_mark_handled(actor=agent, dead_letter_id=letter.pk, note="non")
    with pytest.raises(PermissionDenied):
        bridge_stats.bridge_health(agent)


# Replaying ------------------------------------------------------------------------------------------------------


def test_replaying_an_accepted_message_applies_it_and_closes_the_dead_letter(
    operator_client, platform_operator, home
):
    letter = dead_letter(topic=home.topic("sos"), payload=fixture("tuya_sos_TS0215A.json"))

    response = operator_client.post(replay_url(letter), {"page": "1"}, follow=True)

    assert response.status_code == 200
    assert "Message rejoué et accepté" in text(response)
    letter.refresh_from_db()
    assert letter.handled_at is not None
    with scope(commune=home.commune):
        alarm = Alarm.objects.get()
    assert alarm.kind == Alarm.Kind.SOS
    [row] = audit_rows("homecare.bridge.dead_letter_replayed")
    assert row.actor_id == platform_operator.pk and row.commune_id is None
    assert row.data["handled"] is True and row.data["reason"] == "ok"
    assert row.object_id == str(letter.pk)
    assert "Aucun message mis de côté à traiter." in text(response)


def test_a_message_failing_again_stays_with_a_clear_message(operator_client, home, monkeypatch):
    letter = dead_letter(topic=home.topic("sos"), payload=fixture("tuya_sos_TS0215A.json"))

    def still_broken(**kwargs):
        raise RuntimeError("toujours cassé")

    monkeypatch.setattr("mairie.homecare.services.ingest.ingest_message", still_broken)
    response = operator_client.post(replay_url(letter), follow=True)

    page = text(response)
    assert "Le message échoue encore : RuntimeError('toujours cassé')" in page
    assert "Il reste à traiter" in page
    letter.refresh_from_db()
    assert letter.handled_at is None
    [row] = audit_rows("homecare.bridge.dead_letter_replayed")
    assert row.data["handled"] is False and row.data["reason"] == "error"
    assert "1 message mis de côté attend" in page


def test_a_failure_half_way_leaves_nothing_half_written(operator_client, home, monkeypatch):
    from mairie.homecare.services import ingest

    real = ingest.ingest_message
    letter = dead_letter(topic=home.topic("sos"), payload=fixture("tuya_sos_TS0215A.json"))

    def applies_then_breaks(**kwargs):
        real(**kwargs)  # raises the alarm...
        raise RuntimeError("puis casse")

    monkeypatch.setattr(ingest, "ingest_message", applies_then_breaks)
    operator_client.post(replay_url(letter))

    with scope(commune=home.commune):
        assert not Alarm.objects.exists()
    letter.refresh_from_db()
    assert letter.handled_at is None


def test_a_message_refused_on_replay_stays_and_says_why(operator_client, home):
    letter = dead_letter(topic=f"{home.base}/cave/inconnu", payload=b'{"occupancy": true}')

    response = operator_client.post(replay_url(letter), follow=True)

    assert "Message rejoué mais refusé : message d'un appareil inconnu. Il reste à traiter." in text(response)
    letter.refresh_from_db()
    assert letter.handled_at is None


def test_a_message_already_recorded_since_says_so(operator_client, home):
    payload = fixture("tuya_sos_TS0215A.json")
    received_at = timezone.now() - timedelta(minutes=3)
    letter = dead_letter(topic=home.topic("sos"), payload=payload, received_at=received_at)
    home.send("sos", payload, received_at)  # the broker delivered it again, and this time it went through

    response = operator_client.post(replay_url(letter), follow=True)

    assert "Ce message est déjà enregistré" in text(response)
    letter.refresh_from_db()
    assert letter.handled_at is None
    with scope(commune=home.commune):
        assert Alarm.objects.count() == 1


# Closing with a note ---------------------------------------------------------------------------------------------


def test_marking_handled_needs_a_note_and_writes_it_to_the_audit_log(operator_client, platform_operator):
    letter = dead_letter()

    response = operator_client.post(
        handled_url(letter), {"note": "Passerelle de test, message sans suite.", "page": "1"}, follow=True
    )

    assert "Message marqué comme traité" in text(response)
    letter.refresh_from_db()
    assert letter.handled_at is not None
    [row] = audit_rows("homecare.bridge.dead_letter_handled")
    assert row.actor_id == platform_operator.pk
    assert row.data["note"] == "Passerelle de test, message sans suite."
    assert row.data["topic"] == letter.topic


@pytest.mark.parametrize("note", ["", "   ", "x" * 1001])
def test_a_missing_or_too_long_note_is_refused_clearly_and_keeps_what_was_typed(operator_client, note):
    letter = dead_letter()

    response = operator_client.post(handled_url(letter), {"note": note, "page": "1"})

    assert response.status_code == 400
    page = text(response)
    assert f'id="note-{letter.pk}-error"' in page
    assert f'aria-describedby="note-{letter.pk}-error"' in page
    if note.strip():
        assert note in page  # not lost
        assert "La note est trop longue (1000 caractères au plus)." in page
    else:
        assert "Écrivez en quelques mots pourquoi ce message n'a pas besoin d'être rejoué." in page
    letter.refresh_from_db()
    assert letter.handled_at is None
    assert not audit_rows("homecare.bridge.dead_letter_handled")


def test_an_unknown_or_already_handled_dead_letter_is_a_clear_error(operator_client):
    letter = dead_letter()
    other = dead_letter(topic="zigbee2mqtt/x/1/autre")
    operator_client.post(handled_url(letter), {"note": "fait"})

    for url, data in (
        (handled_url(letter), {"note": "encore"}),
        (replay_url(letter), {}),
        (reverse("admin:homecare_bridgedeadletter_replay", args=[999_999_999]), {}),
        (reverse("admin:homecare_bridgedeadletter_mark_handled", args=[999_999_999]), {"note": "x"}),
    ):
        response = operator_client.post(url, data, follow=True)
        assert response.status_code == 200, url
        assert "Ce message n'existe pas ou a déjà été traité" in text(response), url
    assert len(audit_rows("homecare.bridge.dead_letter_handled")) == 1
    assert not audit_rows("homecare.bridge.dead_letter_replayed")
    other.refresh_from_db()
    assert other.handled_at is None


def test_actions_are_post_only(operator_client):
    letter = dead_letter()
    assert operator_client.get(replay_url(letter)).status_code == 405
    assert operator_client.get(handled_url(letter)).status_code == 405
    assert operator_client.post(page_url()).status_code == 405
    letter.refresh_from_db()
    assert letter.handled_at is None


# Without JavaScript: plain forms, with the CSRF token -----------------------------------------------------------------


def test_both_actions_work_from_the_plain_html_forms_with_csrf(commune, platform_operator, home):
    client = Client(HTTP_HOST=commune.hosts.first().host, enforce_csrf_checks=True)
    client.force_login(platform_operator, backend="mairie.core.auth_backends.LoginBackend")
    verify_second_factor(client, platform_operator)
    closed = dead_letter(topic="zigbee2mqtt/x/1/a-ranger")
    replayed = dead_letter(topic=home.topic("sos"), payload=fixture("tuya_sos_TS0215A.json"))

    forms = parse_forms(client.get(page_url()).content.decode(), page_url())
    by_action = {form.action.split("://", 1)[-1].split("/", 1)[-1]: form for form in forms}
    replay_form = by_action[replay_url(replayed).lstrip("/")]
    close_form = by_action[handled_url(closed).lstrip("/")]
    assert replay_form.method == close_form.method == "post"
    assert "csrfmiddlewaretoken" in default_data(replay_form)

    response = client.post(replay_form.action, default_data(replay_form))
    assert response.status_code == 302
    data = default_data(close_form) | {"note": "Message d'essai."}
    assert client.post(close_form.action, data).status_code == 302
    without_token = {k: v for k, v in data.items() if k != "csrfmiddlewaretoken"}
    assert client.post(handled_url(replayed), without_token).status_code == 403

    closed.refresh_from_db()
    replayed.refresh_from_db()
    assert closed.handled_at is not None and replayed.handled_at is not None
    assert json.loads(bytes(replayed.payload))  # kept whole
