from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Mandate(models.Model):
    """A resident's consent for a staff member to act on their behalf: who, when, for what, for how long."""

    class ConsentMethod(models.TextChoices):
        IN_PERSON = "in_person", _("accord donné en personne, au guichet")
        PHONE = "phone", _("accord donné par téléphone")
        PAPER = "paper", _("accord signé sur papier")

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="mandates")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="mandates_held"
    )
    resident = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="mandates_given"
    )
    purpose = models.CharField(_("pour quoi faire"), max_length=300)
    consent_method = models.CharField(_("forme de l'accord"), max_length=20, choices=ConsentMethod.choices)
    starts_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("valable jusqu'au"))
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["commune", "agent", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.agent} → {self.resident}: {self.purpose}"

    def is_active(self, now=None) -> bool:  # type: ignore[no-untyped-def]
        now = now or timezone.now()
        return self.revoked_at is None and self.starts_at <= now < self.expires_at
