"""The resident's tablet: its access key, and the services residents ask the town hall for."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class TabletKey(models.Model):
    """The version signed into the home's tablet link: bumping it makes every older link stop working."""

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    home = models.OneToOneField("homecare.Home", on_delete=models.CASCADE, related_name="tablet_key")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(commune="commune")

    def __str__(self) -> str:
        return f"{self.home} v{self.version}"


class ServiceRequest(models.Model):
    """A resident asks the town hall for a service (meal delivery, transport, groceries...)."""

    class Kind(models.TextChoices):
        MEAL = "meal", _("Repas livré")
        TRANSPORT = "transport", _("Transport")
        GROCERIES = "groceries", _("Courses")
        OTHER = "other", _("Autre chose")

    class State(models.TextChoices):
        NEW = "new", _("nouvelle")
        IN_PROGRESS = "in_progress", _("en cours")
        DONE = "done", _("faite")
        CANCELLED = "cancelled", _("annulée")

    OPEN_STATES = (State.NEW, State.IN_PROGRESS)

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    home = models.ForeignKey(
        "homecare.Home", null=True, blank=True, on_delete=models.SET_NULL, related_name="service_requests"
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="homecare_service_requests"
    )
    kind = models.CharField(_("service"), max_length=12, choices=Kind.choices)
    message = models.TextField(_("précisions"), blank=True)
    wanted_on = models.DateField(_("pour le"), null=True, blank=True)
    state = models.CharField(_("état"), max_length=12, choices=State.choices, default=State.NEW)
    created_at = models.DateTimeField(default=timezone.now)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    answer = models.TextField(_("réponse"), blank=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["commune", "state", "-created_at"])]
        verbose_name = _("demande de service")
        verbose_name_plural = _("demandes de service")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.person}"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES
