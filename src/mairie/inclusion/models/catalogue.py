"""The workshop catalogue: themes, workshops (what is taught) and their sessions (when, where)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from mairie.inclusion.vocabularies import COOP_LEVEL, CoopTheme, Level


class Theme(models.Model):
    """A theme of the commune's catalogue ("Smartphone", "Impôts et démarches en ligne"), mapped to La Coop's."""

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("nom"), max_length=80)
    coop_theme = models.CharField(_("thématique La Coop"), max_length=40, choices=CoopTheme.choices)
    description = models.CharField(_("description courte"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("ordre d'affichage"), default=0)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["commune", "name"], name="inclusion_theme_unique_name")
        ]
        verbose_name = _("thème")

    def __str__(self) -> str:
        return self.name


class Workshop(models.Model):
    """What is taught: a workshop of the catalogue, given in one or several sessions.

    ``sessions_per_course`` > 1 makes it a course: its sessions are booked together, as one package.
    A drop-in ("accès libre") workshop has no registration: the mediator checks people in.
    """

    class Kind(models.TextChoices):
        WORKSHOP = "workshop", _("Atelier sur inscription")
        DROP_IN = "drop_in", _("Accès libre")

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("titre"), max_length=120)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices, default=Kind.WORKSHOP)
    theme = models.ForeignKey(
        Theme, on_delete=models.PROTECT, related_name="workshops", verbose_name=_("thème")
    )
    level = models.PositiveSmallIntegerField(_("niveau"), choices=Level.choices, default=Level.FIRST_STEPS)
    summary = models.CharField(_("en une phrase"), max_length=200)
    description = models.TextField(_("programme"), blank=True)
    prerequisites = models.CharField(_("ce qu'il faut savoir avant"), max_length=300, blank=True)
    prerequisite_workshops = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="next_workshops",
        verbose_name=_("ateliers à suivre avant"),
    )
    duration_minutes = models.PositiveIntegerField(_("durée d'une séance (minutes)"), default=120)
    sessions_per_course = models.PositiveSmallIntegerField(_("nombre de séances du parcours"), default=1)
    default_capacity = models.PositiveSmallIntegerField(_("places par séance"), default=8)
    skills = models.JSONField(_("compétences travaillées"), default=list, blank=True)
    is_published = models.BooleanField(_("visible dans le catalogue"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["theme__order", "level", "title"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gt=0), name="inclusion_workshop_duration_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(sessions_per_course__gt=0), name="inclusion_workshop_sessions_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(default_capacity__gt=0), name="inclusion_workshop_capacity_positive"
            ),
        ]
        indexes = [models.Index(fields=["commune", "is_published"])]
        verbose_name = _("atelier")

    def __str__(self) -> str:
        return self.title

    @property
    def is_course(self) -> bool:
        return self.sessions_per_course > 1

    @property
    def is_drop_in(self) -> bool:
        return self.kind == self.Kind.DROP_IN

    @property
    def coop_level(self) -> str:
        return COOP_LEVEL[self.level]


class WorkshopSession(models.Model):
    """One session of a workshop. Its date, capacity and seats are the booking engine's ``Session``; its
    registrations are ``booking.Booking`` rows. ``package`` groups the sessions of a course."""

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    workshop = models.ForeignKey(Workshop, on_delete=models.PROTECT, related_name="sessions")
    session = models.OneToOneField(
        "booking.Session", on_delete=models.PROTECT, related_name="workshop_session"
    )
    package = models.ForeignKey(
        "booking.Package", null=True, blank=True, on_delete=models.SET_NULL, related_name="workshop_sessions"
    )
    place = models.CharField(_("lieu"), max_length=120, blank=True)
    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("médiateur·rice"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        verbose_name = _("séance")

    def __str__(self) -> str:
        return str(self.workshop)
