"""Queue tasks of the homecare module: the tickers. Thin wrappers around functions that take ``now``."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from mairie.homecare import escalation, live
from mairie.homecare.services import ticks

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
def homecare_escalation_ticker() -> None:
    """Every minute: alarms whose acknowledgement wait is over go to the next person of the chain."""
    taken = escalation.escalation_tick()
    if taken:
        logger.info("Escalation steps taken: %s", taken)


@db_periodic_task(crontab(minute="*"))
def homecare_deadlines_ticker() -> None:
    """Every minute: silence (inactivity), silent devices (supervision), check-ins, entry delays, doors at night."""
    counts = ticks.all_ticks()
    if any(counts.values()):
        logger.info("Homecare deadlines: %s", counts)


@db_periodic_task(crontab(hour="4", minute="11"))
def homecare_purge_device_events() -> None:
    """Every night: device messages older than the retention period (alarms and their timelines stay)."""
    ticks.purge_device_events()


@db_task()
def homecare_send_live_events(items: list[list]) -> None:
    """Live events (``[group, message]`` pairs) that a ticker produced in bulk, sent to the channel layer."""
    live.send_now([(group, message) for group, message in items])
