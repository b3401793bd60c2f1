"""Live events for the operator console and the home's tablet, sent through the channel layer after commit.

Groups: ``homecare.console.<commune_id>`` (operators of that commune) and ``homecare.home.<home_id>`` (the
tablet, the relatives' page). Each message is ``{"type": "homecare.event", "event": <name>, ...}`` so a
Channels consumer handles it in ``homecare_event(self, message)``. Events: ``alarm.raised``,
``alarm.escalated``, ``alarm.acknowledged``, ``alarm.help_on_way``, ``alarm.closed``,
``inactivity.warning``, ``inactivity.cleared``, ``home.updated``.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def console_group(commune_id: int) -> str:
    return f"homecare.console.{commune_id}"


def home_group(home_id: int) -> str:
    return f"homecare.home.{home_id}"


def _send(groups: list[str], message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # the rows are committed; the console's no-JS refresh shows them anyway
            logger.warning("Could not send %s to %s", message.get("event"), group, exc_info=True)


def publish_on_commit(
    *, commune_id: int, home_id: int, event: str, console: bool = True, **data: Any
) -> None:
    """Sends ``event`` to the home's group (and the commune's console) once the transaction commits."""
    message = {"type": "homecare.event", "event": event, "commune_id": commune_id, "home_id": home_id, **data}
    groups = [home_group(home_id)]
    if console:
        groups.insert(0, console_group(commune_id))
    transaction.on_commit(lambda: _send(groups, message), robust=True)


def alarm_message(alarm: Any) -> dict[str, Any]:
    return {
        "alarm_id": alarm.pk,
        "kind": alarm.kind,
        "severity": alarm.severity,
        "state": alarm.state,
        "step": alarm.escalation_step,
        "raised_at": alarm.raised_at.isoformat(),
    }
