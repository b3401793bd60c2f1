"""Django email backend that keeps each message in the database (demo, tests, and small installations)."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django_scopes import scopes_disabled

from mairie.core.models import Commune, OutboxMessage

# Set by the delivery code so the outbox knows which commune a message belongs to; never stored.
COMMUNE_HEADER = "X-Mairie-Commune"


def pop_commune_header(message: EmailMessage) -> Commune | None:
    """Removes the commune header from ``message`` and returns that commune, if it exists."""
    headers = message.extra_headers or {}
    key = next((name for name in headers if name.lower() == COMMUNE_HEADER.lower()), None)
    if key is None:
        return None
    raw = str(headers.pop(key)).strip()
    if not raw.isdigit():
        return None
    with scopes_disabled():  # Commune is not scoped; this only reads the tenant row itself
        return Commune.objects.filter(pk=int(raw)).first()


class OutboxEmailBackend(BaseEmailBackend):
    """Stores every email as an ``OutboxMessage(channel="email")`` instead of sending it.

    Staff see them on the outbox page (``core:outbox``) of their commune; emails sent without a commune
    (platform mail) are kept with ``commune=None`` and listed nowhere but the Django admin.
    """

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        stored = 0
        for message in email_messages:
            recipients = message.recipients()
            if not recipients:
                continue
            commune = pop_commune_header(message)
            OutboxMessage.objects.create(
                channel=OutboxMessage.Channel.EMAIL,
                commune=commune,
                to=", ".join(recipients)[:300],
                subject=str(message.subject)[:300],
                body=str(message.body),
            )
            stored += 1
        return stored
