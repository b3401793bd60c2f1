"""Accompaniment records, compatible with La Coop de la médiation numérique.

``Accompaniment`` is La Coop's "activité" (one workshop session, one individual help); ``Participation`` is its
"accompagnement" (one person in it). A participation copies the few facts the statistics group by (date,
duration, theme, age band, commune of residence, autonomy) so that every figure is one ``GROUP BY`` over one
table, read through the ``(commune, date)`` index, whatever the number of rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from mairie.inclusion.vocabularies import AgeBand, Autonomy, PlaceKind, Redirection


class Accompaniment(models.Model):
    class Kind(models.TextChoices):
        INDIVIDUAL = "individuel", _("Individuel")
        COLLECTIVE = "collectif", _("Collectif")

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices)
    date = models.DateField(_("date"))
    duration_minutes = models.PositiveIntegerField(_("durée (minutes)"))
    place_kind = models.CharField(
        _("lieu"), max_length=20, choices=PlaceKind.choices, default=PlaceKind.ON_SITE
    )
    place_name = models.CharField(_("précision sur le lieu"), max_length=120, blank=True)
    theme = models.ForeignKey(
        "inclusion.Theme",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("thème"),
    )
    coop_themes = models.JSONField(_("thématiques La Coop"), default=list, blank=True)
    materials = models.JSONField(_("matériel utilisé"), default=list, blank=True)
    equipment = models.ManyToManyField(
        "inclusion.Equipment", blank=True, related_name="+", verbose_name=_("équipement")
    )
    autonomy = models.CharField(_("autonomie"), max_length=30, choices=Autonomy.choices, blank=True)
    redirection = models.CharField(
        _("orientation vers"), max_length=40, choices=Redirection.choices, blank=True
    )
    title = models.CharField(_("titre de l'atelier"), max_length=120, blank=True)
    level = models.PositiveSmallIntegerField(_("niveau"), null=True, blank=True)
    workshop_session = models.OneToOneField(
        "inclusion.WorkshopSession",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accompaniment",
    )
    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notes = models.TextField(_("notes"), blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gt=0), name="inclusion_accompaniment_duration_positive"
            )
        ]
        indexes = [models.Index(fields=["commune", "date"])]
        verbose_name = _("accompagnement")

    def __str__(self) -> str:
        return self.title or str(self.get_kind_display())


class Participation(models.Model):
    """One person in one accompaniment (an attendance record, or one check-in at a drop-in session)."""

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    accompaniment = models.ForeignKey(Accompaniment, on_delete=models.CASCADE, related_name="participations")
    beneficiary = models.ForeignKey(
        "inclusion.Beneficiary", on_delete=models.CASCADE, related_name="participations"
    )
    workshop = models.ForeignKey(
        "inclusion.Workshop", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Copied from the accompaniment and the person when recorded: the statistics read this table only.
    date = models.DateField()
    kind = models.CharField(max_length=12, choices=Accompaniment.Kind.choices)
    duration_minutes = models.PositiveIntegerField()
    theme = models.ForeignKey(
        "inclusion.Theme", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    age_band = models.CharField(max_length=30, choices=AgeBand.choices, default=AgeBand.UNKNOWN)
    residence_name = models.CharField(max_length=120, blank=True)
    residence_insee = models.CharField(max_length=5, blank=True)
    autonomy = models.CharField(_("autonomie"), max_length=30, choices=Autonomy.choices, blank=True)
    booking = models.ForeignKey(
        "booking.Booking", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    checked_in_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["accompaniment", "beneficiary"], name="inclusion_participation_once_per_accompaniment"
            ),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gt=0), name="inclusion_participation_duration_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["commune", "date"], name="inclusion_part_commune_date"),
            models.Index(fields=["beneficiary", "date"], name="inclusion_part_person_date"),
        ]
        verbose_name = _("participation")

    def __str__(self) -> str:
        return f"{self.accompaniment} — {self.date}"


class ActivityDay(models.Model):
    """Participations and minutes of one day, per theme and autonomy level: the statistics' activity figures
    read these few rows instead of every participation.

    Rebuilt for a day by ``mairie.inclusion.services.rollup.activity_days_refresh`` each time a service writes
    that day's participations (roll call, drop-in, records), in the same transaction: it never drifts from
    ``Participation``, which stays the reference (``activity_days_rebuild`` recomputes a whole commune).
    """

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    theme = models.ForeignKey(
        "inclusion.Theme", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    autonomy = models.CharField(max_length=30, blank=True)
    participations = models.PositiveIntegerField()
    minutes = models.PositiveIntegerField()

    objects = ScopedManager(commune="commune")

    class Meta:
        indexes = [models.Index(fields=["commune", "date"], name="inclusion_actday_commune_date")]

    def __str__(self) -> str:
        return f"{self.date}: {self.participations}"
