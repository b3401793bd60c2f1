"""What the MQTT bridge counted, and the messages its handler could not process.

Platform-level rows, not commune-owned: a refused message may belong to no commune at all (an unknown gateway,
a forged topic), so these models are not scoped. Read them through ``mairie.homecare.bridge_stats``.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class BridgeCounter(models.Model):
    """How many messages one bridge process (``bridge`` = its MQTT client id) handled, per outcome.

    ``reason`` is ``accepted``, ``duplicate`` or a drop reason (``malformed``, ``too_large``, ``unknown_gateway``,
    ``unknown_device``, ``foreign_topic``...) or ``error`` (kept in ``BridgeDeadLetter``). Counts are added in
    the same transaction as the messages' effects, so they match what was acknowledged to the broker.
    """

    bridge = models.CharField(max_length=120)
    reason = models.CharField(max_length=40)
    count = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bridge", "reason"], name="homecare_bridgecounter_unique")
        ]
        ordering = ["bridge", "reason"]

    def __str__(self) -> str:
        return f"{self.bridge} {self.reason}: {self.count}"


class BridgeDeadLetter(models.Model):
    """A message the handler failed on (a bug, not a bad payload): kept whole so that nothing is lost."""

    bridge = models.CharField(max_length=120)
    topic = models.CharField(max_length=1000)
    payload = models.BinaryField()
    error = models.TextField()
    received_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    # Set once someone has looked at it and replayed or dismissed it.
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.topic} ({self.error[:40]})"


class StagedMessage(models.Model):
    """A message the bridge received during a backlog, committed as it came and acknowledged, not yet applied.

    When messages arrive faster than the rules can apply them, the bridge writes them here (one ``COPY`` for up
    to a thousand on PostgreSQL) so that the broker's queue drains at once, keeps calls for help on its
    synchronous path, and applies these rows in arrival order when it has caught up (see
    ``mairie.homecare.staging``). A row is deleted in the transaction that applies it: a crash loses nothing
    and applies nothing twice.
    """

    bridge = models.CharField(max_length=120)
    topic = models.CharField(max_length=1000)
    payload = models.BinaryField()
    # Indexed: the supervision ticker asks for the oldest every minute.
    received_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.topic} ({len(self.payload)} bytes)"
