from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Notification(models.Model):
    """One message to one person on one channel, with its delivery state."""

    class Channel(models.TextChoices):
        IN_APP = "in_app", _("sur le site")
        EMAIL = "email", _("e-mail")
        SMS = "sms", _("SMS")
        PUSH = "push", _("notification sur un appareil")

    class Status(models.TextChoices):
        PENDING = "pending", _("en attente")
        SENT = "sent", _("envoyé")
        FAILED = "failed", _("échec")
        SKIPPED = "skipped", _("non envoyé")

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    template = models.CharField(max_length=100)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    url = models.CharField(max_length=500, blank=True)
    urgent = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    send_after = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # Push rows go to one device each, so that a device that fails does not hold back the others.
    push_subscription = models.ForeignKey(
        "core.PushSubscription", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["recipient", "channel", "read_at"]),
            models.Index(fields=["status", "send_after"]),
        ]


class OutboxMessage(models.Model):
    """An email or SMS kept in the database instead of being sent (demo, tests, and a staff page lists them)."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        SMS = "sms", _("SMS")

    channel = models.CharField(max_length=10, choices=Channel.choices)
    commune = models.ForeignKey(
        "core.Commune", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    to = models.CharField(max_length=300)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    # Sign-in codes and links pass through here in the demo: read within one commune's scope, like every
    # commune's data (platform mail, without a commune, only with scopes disabled).
    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["-created_at", "-id"]


class PushSubscription(models.Model):
    """A browser (phone, tablet, computer) where a person switched on notifications (Web Push, RFC 8030).

    ``endpoint`` is the push service's address for that browser; ``p256dh`` and ``auth`` are the browser's keys
    (base64url, RFC 8291) that messages are encrypted with. A browser subscribes on one commune's host name,
    so the row belongs to that commune.
    """

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=1000)
    p256dh = models.CharField(max_length=100)
    auth = models.CharField(max_length=40)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_success_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["commune", "endpoint"], name="core_push_subscription_endpoint_unique"
            )
        ]
        indexes = [models.Index(fields=["user", "commune"])]

    def __str__(self) -> str:
        return self.label or self.endpoint[:60]
