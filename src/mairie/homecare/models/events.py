"""What devices said: one row per accepted message (deduplicated), and the meter's readings."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django_scopes import ScopedManager


class DeviceEvent(models.Model):
    """An accepted message. ``dedup_key`` makes a redelivered message (MQTT is at-least-once) write nothing."""

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    home = models.ForeignKey("homecare.Home", on_delete=models.CASCADE, related_name="device_events")
    device = models.ForeignKey(
        "homecare.Device", null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(max_length=20)  # state, availability, bridge_state, bridge_devices, bridge_event
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    dedup_key = models.CharField(max_length=64, unique=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["home", "-received_at"]),
            models.Index(fields=["received_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.kind}"


class EnergyReading(models.Model):
    """A Linky meter reading (sampled: at most one a minute per meter)."""

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    home = models.ForeignKey("homecare.Home", on_delete=models.CASCADE, related_name="energy_readings")
    device = models.ForeignKey(
        "homecare.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    index_wh = models.BigIntegerField(null=True, blank=True)
    power_va = models.PositiveIntegerField(null=True, blank=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["home", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.index_wh} Wh"
