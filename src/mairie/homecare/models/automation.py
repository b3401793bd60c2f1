"""Shutters, lights and heating on schedules (used by the automation part of the module)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Schedule(models.Model):
    """``action`` sent to ``device`` at a fixed time or at sunrise/sunset plus an offset, on some weekdays."""

    class SunEvent(models.TextChoices):
        NONE = "", _("heure fixe")
        SUNRISE = "sunrise", _("lever du soleil")
        SUNSET = "sunset", _("coucher du soleil")

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    home = models.ForeignKey("homecare.Home", on_delete=models.CASCADE, related_name="schedules")
    device = models.ForeignKey("homecare.Device", on_delete=models.CASCADE, related_name="schedules")
    action = models.JSONField(_("commande"), default=dict)  # e.g. {"state": "CLOSE"} or {"position": 50}
    at_time = models.TimeField(_("heure"), null=True, blank=True)
    sun_event = models.CharField(_("ou bien"), max_length=8, choices=SunEvent.choices, default="", blank=True)
    offset_minutes = models.SmallIntegerField(_("décalage (minutes)"), default=0)
    weekdays = models.JSONField(
        _("jours"), default=list, blank=True
    )  # 0 = Monday … 6 = Sunday; empty = every day
    enabled = models.BooleanField(_("active"), default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    # The next moment the automation ticker sends ``action`` (indexed: the ticker reads only due rows).
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["home", "at_time", "pk"]

    def __str__(self) -> str:
        return f"{self.device} {self.action}"


class HeatingSetpoint(models.Model):
    """The temperature wanted in a room from ``from_time`` on some weekdays."""

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    home = models.ForeignKey("homecare.Home", on_delete=models.CASCADE, related_name="setpoints")
    room = models.CharField(_("pièce"), max_length=60)
    device = models.ForeignKey(
        "homecare.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    temperature = models.DecimalField(_("température (°C)"), max_digits=4, decimal_places=1)
    from_time = models.TimeField(_("à partir de"))
    weekdays = models.JSONField(_("jours"), default=list, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["home", "room", "from_time"]

    def __str__(self) -> str:
        return f"{self.room} {self.temperature} °C"
