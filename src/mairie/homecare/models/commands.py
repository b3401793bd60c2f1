"""Commands sent to devices (shutters, lights, heating): recorded first, then published to the gateway.

A command is "confirmed" when the device itself reports the state asked for (Zigbee2MQTT publishes the new
state after applying it): the tablet and the staff pages show "en attente de confirmation" until then.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class DeviceCommand(models.Model):
    class Source(models.TextChoices):
        TABLET = "tablet", _("tablette")
        STAFF = "staff", _("mairie")
        SCHEDULE = "schedule", _("programmation")
        HEATING = "heating", _("programme de chauffage")

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    home = models.ForeignKey("homecare.Home", on_delete=models.CASCADE, related_name="commands")
    device = models.ForeignKey("homecare.Device", on_delete=models.CASCADE, related_name="commands")
    payload = models.JSONField(default=dict)  # what goes to ``<base>/<friendly_name>/set``
    source = models.CharField(max_length=10, choices=Source.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["device", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.device} {self.payload}"
