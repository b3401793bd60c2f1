"""Live events for the operator console and the home's tablet, sent through the channel layer after commit.

Groups: ``homecare.console.<commune_id>`` (operators of that commune) and ``homecare.home.<home_id>`` (the
tablet, the relatives' page). Each message is ``{"type": "homecare.event", "event": <name>, ...}`` so a
Channels consumer handles it in ``homecare_event(self, message)``. Events: ``alarm.raised``,
``alarm.escalated``, ``alarm.acknowledged``, ``alarm.help_on_way``, ``alarm.closed``,
``inactivity.warning``, ``inactivity.cleared``, ``home.updated``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

SEND_TIMEOUT_S = 5.0
_own_loop: asyncio.AbstractEventLoop | None = None
_own_loop_lock = threading.Lock()


def keep_a_loop() -> None:
    """For a long-running process that sends live events outside any event loop (the MQTT bridge): from now on
    they go through one event loop kept in a daemon thread. ``async_to_sync`` makes an event loop per call, and
    the Redis channel layer a connection per loop: 4–5 ms a send instead of about 1 ms, after the alarm's commit
    and before the bridge takes its next message. Not for the in-memory layer (tests), whose queues belong to
    their loop."""
    global _own_loop
    with _own_loop_lock:
        if _own_loop is not None:
            return
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="homecare-live-events", daemon=True).start()
        _own_loop = loop


def console_group(commune_id: int) -> str:
    return f"homecare.console.{commune_id}"


def home_group(home_id: int) -> str:
    return f"homecare.home.{home_id}"


Item = tuple[str, dict[str, Any]]


def send_now(items: list[Item]) -> None:
    """Sends every (group, message) in one trip to the event loop (a thread per call is what costs)."""
    layer = get_channel_layer()
    if layer is None or not items:
        return

    async def send_all() -> list[Any]:
        return await asyncio.gather(
            *(layer.group_send(group, message) for group, message in items), return_exceptions=True
        )

    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not None:  # called from code that runs inside an event loop: hand the sends to that loop
        running.create_task(send_all())
        return
    try:
        if _own_loop is not None and not isinstance(layer, InMemoryChannelLayer):
            sent = asyncio.run_coroutine_threadsafe(send_all(), _own_loop)
            try:
                results = sent.result(timeout=SEND_TIMEOUT_S)
            except TimeoutError:
                sent.cancel()
                raise
        else:
            results = async_to_sync(send_all)()
    except Exception:  # the rows are committed; the console's no-JS refresh shows them anyway
        logger.warning("Could not send %s live events", len(items), exc_info=True)
        return
    for (group, message), result in zip(items, results, strict=True):
        if isinstance(result, BaseException):
            logger.warning("Could not send %s to %s: %r", message.get("event"), group, result)


def _items(*, commune_id: int, home_id: int, event: str, console: bool, data: dict[str, Any]) -> list[Item]:
    message = {"type": "homecare.event", "event": event, "commune_id": commune_id, "home_id": home_id, **data}
    groups = [console_group(commune_id), home_group(home_id)] if console else [home_group(home_id)]
    return [(group, message) for group in groups]


def publish_on_commit(
    *, commune_id: int, home_id: int, event: str, console: bool = True, **data: Any
) -> None:
    """Sends ``event`` to the home's group (and the commune's console) once the transaction commits."""
    items = _items(commune_id=commune_id, home_id=home_id, event=event, console=console, data=data)
    transaction.on_commit(lambda: send_now(items), robust=True)


def publish_many_on_commit(events: list[dict[str, Any]]) -> None:
    """Several events (each the keyword arguments of ``publish_on_commit``) sent together after commit."""
    items: list[Item] = []
    for event in events:
        fields = dict(event)
        items += _items(
            commune_id=fields.pop("commune_id"),
            home_id=fields.pop("home_id"),
            event=fields.pop("event"),
            console=fields.pop("console", True),
            data=fields,
        )
    if items:
        from mairie.core.tasks import enqueue_on_commit
        from mairie.homecare.tasks import homecare_send_live_events

        # Many events at once (a ticker): the worker fans them out, so the ticker is not held up by them.
        enqueue_on_commit(homecare_send_live_events, [[group, message] for group, message in items])


def alarm_message(alarm: Any) -> dict[str, Any]:
    return {
        "alarm_id": alarm.pk,
        "kind": alarm.kind,
        "severity": alarm.severity,
        "state": alarm.state,
        "step": alarm.escalation_step,
        "raised_at": alarm.raised_at.isoformat(),
    }
