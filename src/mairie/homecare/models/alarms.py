"""Alarms, their timeline, and the escalation deadline that a ticker reads."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Alarm(models.Model):
    class Kind(models.TextChoices):
        SOS = "sos", _("appel à l'aide")
        FALL = "fall", _("chute")
        SMOKE = "smoke", _("fumée")
        WATER_LEAK = "water_leak", _("fuite d'eau")
        INACTIVITY = "inactivity", _("absence de mouvement")
        INTRUSION = "intrusion", _("intrusion")
        DOOR_OPEN_NIGHT = "door_open_night", _("porte ouverte la nuit")
        DEVICE_OFFLINE = "device_offline", _("appareil muet")
        BATTERY_LOW = "battery_low", _("pile faible")
        CHECKIN_MISSED = "checkin_missed", _("« Tout va bien » non pressé")

    class Severity(models.TextChoices):
        CRITICAL = "critical", _("critique")
        HIGH = "high", _("élevée")
        MEDIUM = "medium", _("moyenne")
        LOW = "low", _("faible")

    class State(models.TextChoices):
        RAISED = "raised", _("déclenchée")
        NOTIFIED = "notified", _("prévenu·e·s")
        ACKNOWLEDGED = "acknowledged", _("prise en charge")
        HELP_ON_WAY = "help_on_way", _("aide en route")
        RESOLVED = "resolved", _("terminée")
        FALSE_ALARM = "false_alarm", _("fausse alerte")

    OPEN_STATES = (State.RAISED, State.NOTIFIED, State.ACKNOWLEDGED, State.HELP_ON_WAY)
    UNACKNOWLEDGED_STATES = (State.RAISED, State.NOTIFIED)
    CLOSED_STATES = (State.RESOLVED, State.FALSE_ALARM)

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    home = models.ForeignKey("homecare.Home", on_delete=models.CASCADE, related_name="alarms")
    device = models.ForeignKey(
        "homecare.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="alarms"
    )
    kind = models.CharField(_("type"), max_length=20, choices=Kind.choices)
    severity = models.CharField(_("gravité"), max_length=10, choices=Severity.choices)
    state = models.CharField(_("état"), max_length=14, choices=State.choices, default=State.RAISED)
    raised_at = models.DateTimeField(_("déclenchée le"), default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_by_contact = models.ForeignKey(
        "homecare.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(_("issue"), blank=True)
    # Number of escalation steps done; the next step is taken only by the worker whose UPDATE matched it.
    escalation_step = models.PositiveSmallIntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Set for alarms that a retry must not raise twice (the event's key, a deadline's key).
    dedup_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["-raised_at", "-pk"]
        indexes = [
            models.Index(fields=["commune", "state", "-raised_at"]),
            models.Index(fields=["home", "-raised_at"]),
        ]
        verbose_name = _("alarme")
        verbose_name_plural = _("alarmes")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.home}"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

    @property
    def is_acknowledged(self) -> bool:
        return self.state not in self.UNACKNOWLEDGED_STATES


class AlarmEvent(models.Model):
    """One line of an alarm's timeline: raised, a person notified, acknowledged, help on the way, closed."""

    class Kind(models.TextChoices):
        RAISED = "raised", _("alarme déclenchée")
        REPEATED = "repeated", _("signal reçu à nouveau")
        NOTIFIED = "notified", _("personne prévenue")
        SKIPPED = "skipped", _("personne non joignable à cette heure")
        OPERATOR = "operator", _("téléassistance prévenue")
        EMERGENCY = "emergency", _("consigne : appeler le 15 ou le 112")
        ACKNOWLEDGED = "acknowledged", _("prise en charge")
        HELP_ON_WAY = "help_on_way", _("aide en route")
        NOTE = "note", _("note")
        DEVICE_BACK = "device_back", _("appareil de nouveau joignable")
        ACTIVITY = "activity", _("mouvement de nouveau détecté")
        CLEARED = "cleared", _("le capteur ne signale plus rien")
        RESOLVED = "resolved", _("terminée")
        FALSE_ALARM = "false_alarm", _("fausse alerte")
        VIEWED = "viewed", _("consultée")

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=14, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact = models.ForeignKey(
        "homecare.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["alarm", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_kind_display()}"
