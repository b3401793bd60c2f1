"""The people the Numéripôle accompanies (La Coop's "bénéficiaire")."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from mairie.core.models.communes import insee_validator
from mairie.inclusion.vocabularies import AgeBand, Gender, SocialStatus


class Beneficiary(models.Model):
    """A person accompanied here: a resident with an account, or an anonymous visitor of a drop-in session.

    Residents of other communes are welcome: ``residence_name``/``residence_insee`` say where they live (the
    commune running the Numéripôle is ``commune``), which lets communes share the costs.
    ``first_seen_on`` is the date of their first accompaniment here ("new people" in the statistics).
    """

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_anonymous = models.BooleanField(_("anonyme"), default=False)
    age_band = models.CharField(
        _("tranche d'âge"), max_length=30, choices=AgeBand.choices, default=AgeBand.UNKNOWN
    )
    gender = models.CharField(_("genre"), max_length=20, choices=Gender.choices, default=Gender.UNKNOWN)
    social_status = models.CharField(
        _("situation"), max_length=20, choices=SocialStatus.choices, default=SocialStatus.UNKNOWN
    )
    residence_name = models.CharField(_("commune de résidence"), max_length=120, blank=True)
    residence_insee = models.CharField(
        _("code INSEE de la commune de résidence"), max_length=5, blank=True, validators=[insee_validator]
    )
    first_seen_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["commune", "user"],
                condition=models.Q(user__isnull=False),
                name="inclusion_beneficiary_one_per_person",
            )
        ]
        indexes = [models.Index(fields=["commune", "first_seen_on"])]
        verbose_name = _("personne accompagnée")
        verbose_name_plural = _("personnes accompagnées")

    def __str__(self) -> str:
        if self.user_id and self.user:
            return self.user.display_name
        return str(_("Personne anonyme n° %(id)s") % {"id": self.pk})
