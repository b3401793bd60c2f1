"""Sending SMS: a small provider interface, a local outbox backend and the Brevo HTTP adapter.

``settings.SMS_BACKEND`` names the class; ``get_sms_backend()`` builds it. A backend's ``send`` either returns
(the message was handed over) or raises ``SmsError``, so the queue task retries later.
"""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from mairie.core.models import Commune, OutboxMessage

# The GSM 03.38 alphabet (basic set and extension table). Text outside it must be sent as Unicode.
_GSM_CHARACTERS = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def needs_unicode(text: str) -> bool:
    return any(character not in _GSM_CHARACTERS for character in text)


class SmsError(Exception):
    """The SMS was not handed over. ``permanent`` means trying again cannot help (the number is refused)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class SmsBackend:
    """What every SMS provider adapter offers."""

    def send(self, *, to: str, body: str, commune: Commune | None = None) -> str:
        """Sends ``body`` to ``to`` (E.164, ``+33612345678``); returns the provider's message reference."""
        raise NotImplementedError


class OutboxSmsBackend(SmsBackend):
    """Keeps each SMS as an ``OutboxMessage(channel="sms")``: the demo and the tests read them there."""

    def send(self, *, to: str, body: str, commune: Commune | None = None) -> str:
        message = OutboxMessage.objects.create(
            channel=OutboxMessage.Channel.SMS, commune=commune, to=to, body=body
        )
        return f"outbox-{message.pk}"


class BrevoSmsBackend(SmsBackend):
    """Brevo transactional SMS over HTTPS (https://developers.brevo.com/docs/transactional-sms-endpoints).

    POST ``settings.BREVO_API_URL`` with the ``api-key`` header and a JSON body; Brevo answers 201 with a
    ``messageId``. Anything else raises ``SmsError``.
    """

    timeout = (5, 20)  # seconds to connect, seconds to read

    def __init__(
        self, *, api_url: str | None = None, api_key: str | None = None, sender: str | None = None
    ) -> None:
        self.api_url = api_url or settings.BREVO_API_URL
        self.api_key = api_key or settings.BREVO_API_KEY
        self.sender = sender or settings.SMS_SENDER
        if not self.api_key:
            raise ImproperlyConfigured("MAIRIE_BREVO_API_KEY must be set to send SMS through Brevo.")
        if not self.api_url:
            raise ImproperlyConfigured("MAIRIE_BREVO_API_URL must be set to send SMS through Brevo.")

    def payload(self, *, to: str, body: str) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "sender": self.sender,
            "recipient": to.lstrip("+"),  # Brevo wants the international number without "+": 33612345678
            "content": body,
            "type": "transactional",
        }
        if needs_unicode(body):
            payload["unicodeEnabled"] = True  # accents such as ê, ô, ç are not in the GSM alphabet
        return payload

    def send(self, *, to: str, body: str, commune: Commune | None = None) -> str:
        try:
            response = requests.post(
                self.api_url,
                json=self.payload(to=to, body=body),
                headers={"api-key": self.api_key, "accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise SmsError(f"Brevo could not be reached: {error.__class__.__name__}") from error
        if not 200 <= response.status_code < 300:
            detail = _error_detail(response)
            raise SmsError(
                f"Brevo refused the SMS (HTTP {response.status_code}): {detail}",
                permanent=response.status_code == 400,
            )
        try:
            reference = response.json().get("messageId", "")
        except (ValueError, AttributeError):
            reference = ""
        return str(reference)


def _error_detail(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict):
        return f"{data.get('code', '')} {data.get('message', '')}".strip()[:200]
    return str(data)[:200]


def get_sms_backend() -> SmsBackend:
    backend_class = import_string(settings.SMS_BACKEND)
    backend: SmsBackend = backend_class()
    return backend
