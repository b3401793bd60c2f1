from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class AppendOnlyError(Exception):
    """The audit log is append-only: rows are never changed nor deleted."""


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit entries cannot be changed")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("audit entries cannot be deleted")


class AuditEntry(models.Model):
    """One thing that happened: who did it, for whom, in which commune, to what, with which data.

    Append-only here (save refuses updates, delete raises) and in the database (triggers, see migration 0002).
    Action codes are namespaced: ``core.account.created``, ``core.mandate.started``, ``inclusion.session.booked``.
    """

    commune = models.ForeignKey(
        "core.Commune", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    mandate = models.ForeignKey(
        "core.Mandate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = ScopedManager(commune="commune", _manager_class=models.Manager.from_queryset(AuditQuerySet))

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["commune", "-created_at"]),
            models.Index(fields=["on_behalf_of", "-created_at"]),
            models.Index(fields=["actor", "-created_at"]),
        ]
        verbose_name = _("entrée du journal")
        verbose_name_plural = _("journal")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit entries cannot be deleted")
