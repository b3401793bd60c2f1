"""Handing email, SMS and push notifications to their backends, at most once per row.

A row is *claimed* before it is sent: one conditional UPDATE moves its ``send_after`` a lease ahead and
counts the attempt. Only the worker whose UPDATE matched sends; a second task for the same row, or a ticker
running on another machine, finds nothing to claim. If the worker dies while sending, the lease runs out and
the ticker tries again (so a crash between the provider's answer and our write may send twice;
nothing else can).

Push rows go to one device each (``push_subscription``): a device whose push service fails is tried again
on its own, and one that answers 404/410 (the browser dropped the subscription) is forgotten.

Failures keep the row ``pending`` with ``last_error`` and a later ``send_after``; after ``MAX_ATTEMPTS`` it
becomes ``failed``. Rows whose ``send_after`` is in the future (quiet hours, retry wait) are the ticker's.
"""

from __future__ import annotations

import enum
import logging
from datetime import timedelta
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from django_scopes import scope, scopes_disabled

from mairie.core.models import Commune, Notification, PushSubscription
from mairie.core.notifications import push, push_data  # noqa: F401 (push_data registers the personal data)
from mairie.core.notifications.backends import COMMUNE_HEADER
from mairie.core.notifications.sms import SmsError, get_sms_backend
from mairie.core.phones import is_mobile

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_DELAY_SECONDS = 60  # doubled after each failure: 1, 2, 4, 8 minutes
LEASE = timedelta(minutes=10)  # a claimed row is left alone this long before someone else may try it
TICKER_BATCH = 200

OUTBOUND_CHANNELS = (Notification.Channel.EMAIL, Notification.Channel.SMS, Notification.Channel.PUSH)

# Messages that carry a secret (a sign-in code or link): once handed to the provider, or given up on, the
# stored copy is blanked so that nobody reading the table (or a database dump) can sign in with it.
SECRET_TEMPLATES = frozenset({"core/login_code", "core/password_reset"})
SECRET_REMOVED = "[code retiré après l'envoi]"  # noqa: S105 (a placeholder text, not a secret)


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"  # failed, will be tried again
    FAILED = "failed"  # failed for the last time
    SKIPPED = "skipped"  # nothing to send to (address removed, account erased)
    NOT_CLAIMED = "not_claimed"  # already sent, being sent, or not due yet


class NoAddress(Exception):
    pass


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=RETRY_DELAY_SECONDS * 2 ** max(attempts - 1, 0))


def _claim(notification_id: int) -> bool:
    now = timezone.now()
    claimed = Notification.objects.filter(
        pk=notification_id,
        status=Notification.Status.PENDING,
        send_after__lte=now,
        channel__in=OUTBOUND_CHANNELS,
    ).update(send_after=now + LEASE, attempts=F("attempts") + 1)
    return claimed == 1


def deliver(notification_id: int) -> Outcome:
    """Claims the row and sends it. Runs in any scope: it enters the row's commune itself."""
    with scopes_disabled():  # finding which commune the row belongs to, by its id only
        commune_id = (
            Notification.objects.filter(pk=notification_id).values_list("commune_id", flat=True).first()
        )
        commune = Commune.objects.filter(pk=commune_id).first() if commune_id else None
    if commune is None:
        return Outcome.NOT_CLAIMED
    with scope(commune=commune):
        if not _claim(notification_id):
            return Outcome.NOT_CLAIMED
        return _send_claimed(notification_id)


def claim_due(*, limit: int = TICKER_BATCH) -> list[int]:
    """Takes up to ``limit`` rows whose time has come. Several workers may run this at once: on PostgreSQL
    rows locked by another worker are skipped; SQLite runs the transactions one after the other."""
    now = timezone.now()
    with scopes_disabled(), transaction.atomic():  # the ticker works for every commune
        due = (
            Notification.objects.filter(
                status=Notification.Status.PENDING, send_after__lte=now, channel__in=OUTBOUND_CHANNELS
            )
            .order_by("send_after", "pk")
            .select_for_update(skip_locked=True)
        )
        ids = list(due.values_list("pk", flat=True)[:limit])
        if ids:
            Notification.objects.filter(pk__in=ids).update(send_after=now + LEASE, attempts=F("attempts") + 1)
    return ids


def deliver_due(*, limit: int = TICKER_BATCH) -> dict[Outcome, int]:
    """The ticker's work: send every row whose ``send_after`` has passed.

    That is: quiet hours over, retry due, or a task lost (crash, queue unreachable)."""
    counts: dict[Outcome, int] = {}
    ids = claim_due(limit=limit)
    with scopes_disabled():
        communes = dict(Notification.objects.filter(pk__in=ids).values_list("pk", "commune_id"))
        by_id = {c.pk: c for c in Commune.objects.filter(pk__in=set(communes.values()))}
    for notification_id in ids:
        with scope(commune=by_id[communes[notification_id]]):
            try:
                outcome = _send_claimed(notification_id)
            except Exception:  # already recorded on the row; the next tick or the retry takes it again
                outcome = Outcome.RETRY
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _send_claimed(notification_id: int) -> Outcome:
    """Sends a row this worker has claimed; records the result. Re-raises a failure that will be retried."""
    notification = Notification.objects.select_related("recipient", "commune", "push_subscription").get(
        pk=notification_id
    )
    try:
        if notification.channel == Notification.Channel.EMAIL:
            _send_email(notification)
        elif notification.channel == Notification.Channel.PUSH:
            _send_push(notification)
        else:
            _send_sms(notification)
    except NoAddress as reason:
        _finish(notification, Notification.Status.SKIPPED, error=str(reason))
        return Outcome.SKIPPED
    except push.PushGone as gone:
        if notification.push_subscription_id is not None:
            PushSubscription.objects.filter(pk=notification.push_subscription_id).delete()
        _finish(notification, Notification.Status.SKIPPED, error=f"device unsubscribed: {gone}"[:500])
        return Outcome.SKIPPED
    except Exception as error:
        message = f"{error.__class__.__name__}: {error}"[:500]
        permanent = isinstance(error, SmsError | push.PushError) and error.permanent
        if permanent or notification.attempts >= MAX_ATTEMPTS:
            _finish(notification, Notification.Status.FAILED, error=message)
            logger.warning("Notification %s failed for good: %s", notification.pk, message)
            return Outcome.FAILED
        Notification.objects.filter(pk=notification.pk, status=Notification.Status.PENDING).update(
            send_after=timezone.now() + retry_delay(notification.attempts), last_error=message
        )
        raise
    _finish(notification, Notification.Status.SENT)
    return Outcome.SENT


def _finish(notification: Notification, status: str, *, error: str = "") -> None:
    fields: dict[str, object] = {"status": status, "last_error": error}
    if notification.template in SECRET_TEMPLATES:
        fields["body"] = SECRET_REMOVED
    if status == Notification.Status.SENT:
        fields["sent_at"] = timezone.now()
    Notification.objects.filter(pk=notification.pk, status=Notification.Status.PENDING).update(**fields)


def _reachable(notification: Notification) -> None:
    recipient = notification.recipient
    if not recipient.is_active or recipient.erased_at is not None:
        raise NoAddress("account closed or erased")


def _sender_for(commune: Commune, language: str) -> str:
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    with override(language):
        display = _("Mairie de %(name)s") % {"name": commune.name}
    return formataddr((display, address)) if address else settings.DEFAULT_FROM_EMAIL


def _send_email(notification: Notification) -> None:
    _reachable(notification)
    address = notification.recipient.email
    if not address:
        raise NoAddress("no email address")
    send_email_to(
        commune=notification.commune,
        to=address,
        subject=notification.subject,
        body=notification.body,
        language=notification.recipient.language,
    )


def send_email_to(*, commune: Commune, to: str, subject: str, body: str, language: str) -> None:
    """One email from the commune to an address that is not (yet) a person's: a new address to confirm, or
    the former one told of the change. Everything else goes through ``notify()`` and its queue."""
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=_sender_for(commune, language),
        to=[to],
        reply_to=[commune.email] if commune.email else None,
        headers={COMMUNE_HEADER: str(commune.pk)},
    )
    message.send(fail_silently=False)


def _send_sms(notification: Notification) -> None:
    _reachable(notification)
    phone = notification.recipient.phone
    if not phone or not is_mobile(phone):
        raise NoAddress("no mobile phone number")
    get_sms_backend().send(to=phone, body=notification.body, commune=notification.commune)


def _send_push(notification: Notification) -> None:
    _reachable(notification)
    device = notification.push_subscription
    if (
        device is None or device.user_id != notification.recipient_id
    ):  # removed, or taken over by someone else
        raise NoAddress("device removed")
    keys = push.vapid_keys()
    if keys is None:
        raise NoAddress("no push channel on this installation (MAIRIE_VAPID_PRIVATE_KEY)")
    commune = notification.commune
    message = push.PushMessage(
        title=notification.subject,
        body=notification.body,
        url=notification.url,
        icon=commune.logo.url if commune.logo else "",
        urgent=notification.urgent,
        tag=f"mairie-{notification.pk}",
    )
    push.send_push(
        endpoint=device.endpoint, p256dh=device.p256dh, auth=device.auth, message=message, keys=keys
    )
    PushSubscription.objects.filter(pk=device.pk).update(last_success_at=timezone.now())
