"""The bridge's counters and dead letters: written by the bridge inside its batch transaction, read by staff pages.

Platform-level data (a refused message may belong to no commune), hence no scope here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from mairie.homecare.models import BridgeCounter, BridgeDeadLetter


def add_counts(*, bridge: str, counts: Mapping[str, int]) -> None:
    """Adds ``counts`` (reason → number) to ``bridge``'s rows; call it inside the transaction being counted."""
    now = timezone.now()
    with transaction.atomic():
        for reason, number in counts.items():
            if not number:
                continue
            updated = BridgeCounter.objects.filter(bridge=bridge, reason=reason).update(
                count=F("count") + number, updated_at=now
            )
            if not updated:
                # One process per bridge name writes its rows, so no concurrent insert of the same row.
                BridgeCounter.objects.create(bridge=bridge, reason=reason, count=number, updated_at=now)


def keep_dead_letter(*, bridge: str, topic: str, payload: bytes, error: str, received_at: datetime) -> None:
    BridgeDeadLetter.objects.create(
        bridge=bridge, topic=topic[:1000], payload=payload, error=error, received_at=received_at
    )


def totals(*, bridge: str | None = None) -> Counter[str]:
    """Counts per reason, for one bridge process or all of them together."""
    rows = BridgeCounter.objects.all()
    if bridge is not None:
        rows = rows.filter(bridge=bridge)
    return Counter(
        {row["reason"]: int(row["total"]) for row in rows.values("reason").annotate(total=Sum("count"))}
    )


def open_dead_letters() -> int:
    return BridgeDeadLetter.objects.filter(handled_at__isnull=True).count()
