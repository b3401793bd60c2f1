"""Booking tickers: expired offers go to the next person on the waiting list; reminders the day before."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import services

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*/5"))
def expire_booking_offers() -> None:
    """Every 5 minutes: a freed seat not accepted in time is offered to the next person waiting."""
    count = services.expire_offers()
    if count:
        logger.info("Booking offers expired: %d", count)


@db_periodic_task(crontab(minute="*/15"))
def send_booking_reminders() -> None:
    """Every 15 minutes: bookings starting in 20 to 28 hours, not reminded yet, get a reminder."""
    count = services.send_reminders()
    if count:
        logger.info("Booking reminders sent: %d", count)
