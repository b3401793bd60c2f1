"""Queue tasks of the core app. Tasks take IDs, reload objects and re-enter the commune's scope.

Other modules enqueue their own tasks after their transaction commits with ``enqueue_on_commit(task, *args)``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from mairie.core.models import LoginCode, LoginFailure
from mairie.core.notifications import delivery

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    """Queues ``task(*args, **kwargs)`` once the current transaction commits; never if it rolls back.

    Outside a transaction the task is queued at once. If the queue cannot be reached the error is logged and
    the request goes on (the data is already committed): tickers exist to pick up such work.
    """

    def _enqueue() -> None:
        task(*args, **kwargs)

    transaction.on_commit(_enqueue, robust=True)


@db_task(retries=delivery.MAX_ATTEMPTS - 1, retry_delay=delivery.RETRY_DELAY_SECONDS, retry_backoff=2)
def deliver_notification(notification_id: int) -> str:
    """Sends one email or SMS notification. A failure raises, so Huey tries again later (1, 2, 4, 8 minutes);
    after the last attempt the row is marked failed with its error."""
    return delivery.deliver(notification_id).value


@db_periodic_task(crontab(minute="*"))
def deliver_due_notifications() -> None:
    """Every minute: rows whose quiet hours or retry wait are over, or whose task was lost (crash, queue)."""
    counts = delivery.deliver_due()
    if counts:
        logger.info("Due notifications: %s", {outcome.value: n for outcome, n in counts.items()})


@db_periodic_task(crontab(hour="3", minute="17"))
def purge_login_records() -> None:
    """Every night: one-time codes that expired more than a day ago, and sign-in failures older than a day."""
    purge_expired_login_records()


def purge_expired_login_records(*, now: Any = None) -> tuple[int, int]:
    cutoff = (now or timezone.now()) - timedelta(days=1)
    codes, _ = LoginCode.objects.filter(expires_at__lt=cutoff).delete()
    failures, _ = LoginFailure.objects.filter(created_at__lt=cutoff).delete()
    return codes, failures
