"""The Numéripôle's equipment: PCs, the digital board, the gaming PC, the VR headset…

An item may be booked in the room (its ``resource`` in the booking engine, slot by slot) and, when
``loanable``, lent to take home. An item may ask for a workshop attended first (the VR headset after the
"découverte de la réalité virtuelle" session).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from mairie.inclusion.vocabularies import EquipmentKind


class Equipment(models.Model):
    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("nom"), max_length=120)
    kind = models.CharField(_("type"), max_length=20, choices=EquipmentKind.choices)
    description = models.CharField(_("description"), max_length=300, blank=True)
    inventory_code = models.CharField(_("n° d'inventaire"), max_length=40, blank=True)
    bookable_on_site = models.BooleanField(_("réservable sur place"), default=True)
    resource = models.OneToOneField(
        "booking.Resource",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inclusion_equipment",
    )
    loanable = models.BooleanField(_("prêté à domicile"), default=False)
    loan_days = models.PositiveSmallIntegerField(_("durée du prêt (jours)"), default=14)
    required_workshop = models.ForeignKey(
        "inclusion.Workshop",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("atelier à suivre avant"),
    )
    is_active = models.BooleanField(_("en service"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(loan_days__gt=0), name="inclusion_equipment_loan_days_positive"
            )
        ]
        verbose_name = _("équipement")

    def __str__(self) -> str:
        return self.name


class Loan(models.Model):
    """An item lent to take home, from ``starts_on`` until ``due_on``; open until returned.

    The database keeps one open loan per item (a partial unique constraint): lending an item that is out is
    refused even when two mediators click at the same moment.
    """

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="loans")
    borrower = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    lent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    starts_on = models.DateField(_("prêté le"))
    due_on = models.DateField(_("à rendre le"))
    returned_at = models.DateTimeField(null=True, blank=True)
    returned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reminded_on = models.DateField(null=True, blank=True)
    notes = models.CharField(_("remarques"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["equipment"],
                condition=models.Q(returned_at__isnull=True),
                name="inclusion_loan_one_open_per_item",
            ),
            models.CheckConstraint(
                condition=models.Q(due_on__gte=models.F("starts_on")), name="inclusion_loan_due_after_start"
            ),
        ]
        indexes = [
            models.Index(
                fields=["commune", "due_on"],
                condition=models.Q(returned_at__isnull=True),
                name="inclusion_loan_open_due",
            )
        ]
        verbose_name = _("prêt")

    def __str__(self) -> str:
        return f"{self.equipment} → {self.borrower}"

    @property
    def is_open(self) -> bool:
        return self.returned_at is None
