"""What the Numéripôle keeps about a person ("Mes données") and how it is erased.

On erasure the person's profile becomes anonymous: the statistics keep their age band and commune of
residence (anonymised figures), nothing links them to the person any more. Loans are kept as long as the
item is out (the commune must get it back), with the borrower erased by the core.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from mairie.core.models import Commune, User
from mairie.inclusion.models import Beneficiary, Loan, Participation


def profile(user: User, commune: Commune) -> dict[str, Any]:
    found = Beneficiary.objects.filter(commune=commune, user=user).first()
    if found is None:
        return {}
    return {
        _("Tranche d'âge"): found.get_age_band_display(),
        _("Genre"): found.get_gender_display(),
        _("Situation"): found.get_social_status_display(),
        _("Commune de résidence"): found.residence_name,
        _("Code INSEE de la commune de résidence"): found.residence_insee,
        _("Premier accompagnement"): found.first_seen_on,
    }


def participations(user: User, commune: Commune) -> list[dict[str, Any]]:
    rows = (
        Participation.objects.filter(commune=commune, beneficiary__user=user)
        .select_related("accompaniment", "theme")
        .order_by("date", "pk")
    )
    return [
        {
            _("Date"): row.date,
            _("Atelier ou accompagnement"): row.accompaniment.title or row.accompaniment.get_kind_display(),
            _("Thème"): row.theme.name if row.theme else "",
            _("Durée (minutes)"): row.duration_minutes,
            _("Autonomie"): row.get_autonomy_display(),
        }
        for row in rows
    ]


def loans(user: User, commune: Commune) -> list[dict[str, Any]]:
    rows = (
        Loan.objects.filter(commune=commune, borrower=user).select_related("equipment").order_by("starts_on")
    )
    return [
        {
            _("Équipement"): row.equipment.name,
            _("Prêté le"): row.starts_on,
            _("À rendre le"): row.due_on,
            _("Rendu le"): row.returned_at.date() if row.returned_at else None,
        }
        for row in rows
    ]


def erase(user: User, commune: Commune) -> None:
    Beneficiary.objects.filter(commune=commune, user=user).update(user=None, is_anonymous=True)
