"""Queue tasks of the Numéripôle: the overdue-loan ticker. Tasks re-enter each commune's scope."""

from __future__ import annotations

import logging

from django_scopes import scope, scopes_disabled
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from mairie.core.models import Commune

logger = logging.getLogger(__name__)


def remind_overdue_loans_everywhere() -> int:
    from mairie.inclusion.services.equipment import loans_remind_overdue

    with scopes_disabled():  # platform-level ticker: lists the communes running a Numéripôle
        communes = [c for c in Commune.objects.filter(is_active=True) if c.has_module("inclusion")]
    total = 0
    for commune in communes:
        with scope(commune=commune):
            total += loans_remind_overdue(commune=commune)
    return total


@db_periodic_task(crontab(hour="9,17", minute="5"))
def remind_overdue_loans() -> None:
    """Twice a day: borrowers of overdue items get a reminder (again every few days until it is back)."""
    count = remind_overdue_loans_everywhere()
    if count:
        logger.info("Overdue loan reminders sent: %s", count)
