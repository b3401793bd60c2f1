from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Role(models.TextChoices):
    RESIDENT = "resident", _("habitant·e")
    RELATIVE = "relative", _("proche aidant·e")
    MEDIATOR = "mediator", _("médiateur·rice numérique")
    FABLAB_MANAGER = "fablab_manager", _("responsable du Fablab")
    MODERATOR = "moderator", _("modérateur·rice")
    AGENT = "agent", _("agent de mairie")
    PRACTITIONER = "practitioner", _("médecin")
    NURSE = "nurse", _("infirmier·e")
    OPERATOR = "operator", _("opérateur·rice de téléassistance")
    ADMIN = "admin", _("administrateur·rice de la commune")


class Membership(models.Model):
    """A person's role in one commune. A person may hold several roles, in several communes."""

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("rôle"), max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["commune", "user", "role"], name="membership_unique_role"),
        ]
        indexes = [models.Index(fields=["commune", "role"])]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} ({self.commune})"
