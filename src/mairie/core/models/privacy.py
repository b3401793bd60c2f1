from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class ErasureRequest(models.Model):
    """A person's request to erase their account; a commune admin completes it (statistics kept anonymised)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("en attente")
        DONE = "done", _("effectuée")
        REFUSED = "refused", _("refusée")

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="erasure_requests"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(_("raison (facultatif)"), blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answer = models.TextField(_("réponse"), blank=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["-requested_at"]
