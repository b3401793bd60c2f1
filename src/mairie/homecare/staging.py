"""The bridge's staging table: messages received during a backlog, committed at once, applied when caught up.

The rules cost far more per message than receiving one does. When the broker holds a backlog (gateways back
after a network cut, a broker restart, a bridge restarted after an upgrade), applying every message before
acknowledging the next would keep the backlog in the broker for as long as the rules take, and a call for help
arriving behind it would wait its turn. So, while it is behind, the bridge:

- writes the messages as they are (topic, payload, time received) into ``StagedMessage``, a thousand at a time
  (one ``COPY`` on PostgreSQL), and acknowledges them once that is committed: they are in the database, as
  durable as anything the rules would write, and the broker's queue empties;
- keeps on its synchronous path, in the same transaction, every message that may be a call for help (SOS,
  fall, smoke, water leak: ``ingest.may_call_for_help``), so their alarms leave at once;
- applies the staged rows in arrival order (``ingest_batch``, a chunk at a time) whenever its queue holds less
  than a batch, and at least every ``BridgeConfig.apply_interval_s`` meanwhile; the chunk's rows are deleted in the
  transaction that applies them, so a crash re-applies nothing and loses nothing.

The staged rows are applied in id order and nothing of the stream directly while rows are staged, but the order
is not guaranteed: calls for help go first, a chunk stopped early for one releases the rest of its rows (another
bridge may apply newer rows meanwhile), and bridges sharing a subscription apply different chunks. So the rules
go by each message's own time (docs/homecare.md): an older message applied late changes nothing newer. A
redelivered message that was staged twice is recognised by the rules' deduplication as any redelivery is. Rows left by a bridge that stopped are applied by whichever bridge
runs next, or by a bridge already running within ``BridgeConfig.staged_check_s`` (``FOR UPDATE SKIP LOCKED`` lets
bridges sharing a subscription apply different chunks).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import connection

from mairie.core.bulk import can_copy, copy_rows
from mairie.homecare.models import StagedMessage
from mairie.homecare.services.ingest import Message

log = logging.getLogger(__name__)

# How far behind the tickers may wait for staged rows. A backlog is applied in seconds to a few minutes; rows
# older than this are stuck (no bridge applying them): better an alarm that may be false than none at all.
MAX_WAIT_FOR_STAGED = timedelta(minutes=10)


def stage(*, bridge: str, messages: Sequence[Message]) -> None:
    """Writes ``messages`` (readable topics only) in this order; call it inside the transaction that counts them."""
    if not messages:
        return
    if can_copy():
        copy_rows(
            StagedMessage,
            ("bridge", "topic", "payload", "received_at"),
            ((bridge, message.topic, message.payload, message.received_at) for message in messages),
        )
        return
    StagedMessage.objects.bulk_create(
        [
            StagedMessage(
                bridge=bridge,
                topic=message.topic or "",
                payload=message.payload,
                received_at=message.received_at,
            )
            for message in messages
        ],
        batch_size=200,
    )


def claim(*, limit: int) -> list[StagedMessage]:
    """The oldest staged rows, at most ``limit``, locked for this transaction (rows another bridge is applying
    are skipped). Call it inside the transaction that applies and deletes them."""
    rows = StagedMessage.objects.order_by("pk")
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True)
    return [_as_bytes(row) for row in rows[:limit]]


def _as_bytes(row: StagedMessage) -> StagedMessage:
    if not isinstance(row.payload, bytes):  # memoryview on PostgreSQL
        row.payload = bytes(row.payload)
    return row


def delete(rows: Sequence[StagedMessage]) -> None:
    if rows:
        StagedMessage.objects.filter(pk__in=[row.pk for row in rows]).delete()


def any_waiting() -> bool:
    """Whether messages are received and committed but not yet applied (by any bridge)."""
    return StagedMessage.objects.exists()


def known_until(now: datetime) -> datetime:
    """Up to when what the gateways said is applied: while a staged backlog is being applied, a report (a
    movement, a device's sign of life) may be waiting in it, received after the oldest staged message. A deadline
    that passed before that message was received has certainly passed in silence; a later one may not have. The
    tickers act only on deadlines up to this time (one indexed query; the table is empty when caught up), but
    never more than ``MAX_WAIT_FOR_STAGED`` behind: rows that old are not being applied, and the tickers must not
    stay silent for every home meanwhile."""
    oldest = StagedMessage.objects.order_by("received_at").values_list("received_at", flat=True).first()
    if oldest is None or oldest >= now:
        return now
    if now - oldest > MAX_WAIT_FOR_STAGED:
        log.error(
            "staged messages received at %s are still not applied (is a bridge running with staging?); "
            "the tickers no longer wait for them",
            oldest.isoformat(),
        )
        return now - MAX_WAIT_FOR_STAGED
    return oldest
