"""SMS providers: the outbox backend, and the Brevo adapter against a local HTTP server."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured
from django_scopes import scope, scopes_disabled

from mairie.core.models import Notification, OutboxMessage
from mairie.core.notifications import delivery
from mairie.core.notifications.sms import (
    BrevoSmsBackend,
    OutboxSmsBackend,
    SmsError,
    get_sms_backend,
    needs_unicode,
)
from mairie.core.services.notifications import notify
from tests.core.notifications_support import add_test_templates
from tests.factories import make_user


class FakeBrevo:
    """A local stand-in for api.brevo.com: records each request, answers what the test sets."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 201
        self.answer: dict | str = {"messageId": 1511882900176220}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server calls
                length = int(self.headers.get("Content-Length", 0))
                fake.requests.append(
                    {
                        "method": "POST",
                        "path": self.path,
                        "headers": {name.lower(): value for name, value in self.headers.items()},
                        "body": self.rfile.read(length),
                    }
                )
                payload = fake.answer if isinstance(fake.answer, str) else json.dumps(fake.answer)
                data = payload.encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v3/transactionalSMS/send"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> FakeBrevo:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def brevo(settings):
    with FakeBrevo() as fake:
        settings.SMS_BACKEND = "mairie.core.notifications.sms.BrevoSmsBackend"
        settings.BREVO_API_URL = fake.url
        settings.BREVO_API_KEY = "xkeysib-test-key"
        settings.SMS_SENDER = "VALDEBRUME"
        yield fake


def test_brevo_posts_json_with_the_api_key(brevo):
    reference = get_sms_backend().send(to="+33612345678", body="Votre code : 482913")
    assert reference == "1511882900176220"
    (request,) = brevo.requests
    assert request["method"] == "POST" and request["path"] == "/v3/transactionalSMS/send"
    assert request["headers"]["api-key"] == "xkeysib-test-key"
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["accept"] == "application/json"
    assert json.loads(request["body"]) == {
        "sender": "VALDEBRUME",
        "recipient": "33612345678",
        "content": "Votre code : 482913",
        "type": "transactional",
    }


def test_brevo_asks_for_unicode_when_the_text_needs_it(brevo):
    get_sms_backend().send(to="+33612345678", body="Atelier « tablette » : fenêtre à côté")
    body = json.loads(brevo.requests[0]["body"])
    assert body["unicodeEnabled"] is True
    assert body["content"] == "Atelier « tablette » : fenêtre à côté"


def test_gsm_alphabet():
    assert not needs_unicode("Réunion à 18h, café offert. Code: 1234 €")
    assert needs_unicode("Fenêtre") and needs_unicode("l’atelier")


def test_brevo_refusal_raises_with_its_reason(brevo):
    brevo.status = 400
    brevo.answer = {"code": "invalid_parameter", "message": "Invalid phone number"}
    with pytest.raises(SmsError, match=r"HTTP 400.*invalid_parameter Invalid phone number") as caught:
        get_sms_backend().send(to="+33612345678", body="Bonjour")
    assert caught.value.permanent


@pytest.mark.parametrize("status", [401, 402, 429, 500, 503])
def test_brevo_errors_that_may_pass_are_retried(brevo, status):
    brevo.status = status
    brevo.answer = "<html>Service unavailable</html>"
    with pytest.raises(SmsError, match=f"HTTP {status}") as caught:
        get_sms_backend().send(to="+33612345678", body="Bonjour")
    assert not caught.value.permanent
    assert "xkeysib-test-key" not in str(caught.value)


def test_brevo_unreachable_raises(settings):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = BrevoSmsBackend(api_url=f"http://127.0.0.1:{port}/v3/transactionalSMS/send", api_key="k")
    with pytest.raises(SmsError, match="could not be reached") as caught:
        backend.send(to="+33612345678", body="Bonjour")
    assert not caught.value.permanent


def test_brevo_without_a_key_is_a_configuration_error(settings):
    settings.BREVO_API_KEY = ""
    settings.SMS_BACKEND = "mairie.core.notifications.sms.BrevoSmsBackend"
    with pytest.raises(ImproperlyConfigured, match="MAIRIE_BREVO_API_KEY"):
        get_sms_backend()


@pytest.mark.django_db
def test_outbox_backend_keeps_the_sms(commune):
    reference = OutboxSmsBackend().send(to="+33612345678", body="Bonjour", commune=commune)
    with scopes_disabled():
        stored = OutboxMessage.objects.get()
    assert (stored.channel, stored.to, stored.body, stored.commune) == (
        "sms",
        "+33612345678",
        "Bonjour",
        commune,
    )
    assert reference == f"outbox-{stored.pk}"


@pytest.mark.django_db
def test_a_notification_goes_out_through_brevo_and_a_failure_is_recorded(brevo, commune, settings):
    add_test_templates(settings)
    resident = make_user(commune, phone="+33698765432")
    with scope(commune=commune):
        first, second = (
            notify(
                recipient=resident,
                commune=commune,
                template="tests/visit",
                context={"day": "lundi", "note": "N'oubliez pas"},
                channels=["sms"],
            )[0]
            for _ in range(2)
        )
    with scopes_disabled():
        assert delivery.deliver(first.pk) is delivery.Outcome.SENT
        brevo.status = 503
        brevo.answer = {"code": "unavailable", "message": "Try later"}
        with pytest.raises(SmsError):
            delivery.deliver(second.pk)  # raised, so the queue task is retried
        sent, pending = Notification.objects.get(pk=first.pk), Notification.objects.get(pk=second.pk)
    assert json.loads(brevo.requests[0]["body"])["content"] == "Val-de-Brume : SMS lundi : N'oubliez pas"
    assert json.loads(brevo.requests[0]["body"])["recipient"] == "33698765432"
    assert sent.status == "sent"
    assert (pending.status, pending.attempts) == ("pending", 1)
    assert "HTTP 503" in pending.last_error and "Try later" in pending.last_error
    with scopes_disabled():
        assert not OutboxMessage.objects.exists()
