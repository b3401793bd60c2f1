"""What the Numéripôle adds to the platform: capabilities, the module, staff cards, log labels, personal data."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from mairie.core.action_labels import register_action_labels
from mairie.core.backoffice import StaffArea, register_staff_area
from mairie.core.models import Role
from mairie.core.modules import Module, register_module
from mairie.core.permissions import register_capabilities
from mairie.core.personal_data import register_erasure_handler, register_personal_data_provider

MODULE_KEY = "inclusion"

ACTION_LABELS: dict[str, str | Promise] = {
    "inclusion.theme.created": _("Ajout d'un thème au catalogue du Numéripôle"),
    "inclusion.theme.updated": _("Modification d'un thème du Numéripôle"),
    "inclusion.workshop.created": _("Ajout d'un atelier au catalogue du Numéripôle"),
    "inclusion.workshop.updated": _("Modification d'un atelier du Numéripôle"),
    "inclusion.session.created": _("Nouvelle séance d'atelier"),
    "inclusion.course.created": _("Nouveau parcours de plusieurs séances"),
    "inclusion.registration.created": _("Inscription à un atelier du Numéripôle"),
    "inclusion.registration.cancelled": _("Annulation d'une inscription à un atelier"),
    "inclusion.attendance.recorded": _("Appel d'une séance d'atelier"),
    "inclusion.dropin.checked_in": _("Passage à l'accès libre du Numéripôle"),
    "inclusion.accompaniment.created": _("Accompagnement individuel au Numéripôle"),
    "inclusion.accompaniment.completed": _("Compte rendu d'accompagnement complété"),
    "inclusion.profile.updated": _("Modification du profil au Numéripôle"),
    "inclusion.equipment.created": _("Ajout d'un équipement au Numéripôle"),
    "inclusion.equipment.updated": _("Modification d'un équipement du Numéripôle"),
    "inclusion.equipment.booked": _("Réservation d'un équipement du Numéripôle"),
    "inclusion.loan.created": _("Prêt d'un équipement du Numéripôle"),
    "inclusion.loan.returned": _("Retour d'un équipement prêté"),
    "inclusion.loan.reminded": _("Rappel pour un équipement à rendre"),
    "inclusion.stats.exported": _("Export des statistiques du Numéripôle"),
}


def register() -> None:
    from mairie.inclusion import personal_data
    from mairie.inclusion.selectors.stats import home_figure

    register_capabilities(
        {
            "inclusion.manage": {Role.MEDIATOR, Role.ADMIN},
            "inclusion.stats": {Role.MEDIATOR, Role.ADMIN},
        }
    )
    register_module(
        Module(
            MODULE_KEY,
            _("Numéripôle"),  # type: ignore[arg-type]
            _(  # type: ignore[arg-type]
                "Ateliers numériques pour tous les niveaux, accès libre, prêt de matériel : "
                "smartphone, e-mail, démarches en ligne, photo, vidéo…"
            ),
            "inclusion:catalogue",
            figure=home_figure,
        )
    )
    register_staff_area(
        StaffArea(
            "inclusion.manage",
            "inclusion:desk",
            _("Numéripôle"),
            _("Séances, inscriptions au guichet, appel, accès libre, matériel et prêts, comptes rendus."),
        )
    )
    register_staff_area(
        StaffArea(
            "inclusion.stats",
            "inclusion:stats",
            _("Statistiques du Numéripôle"),
            _("Personnes formées, séances, heures, par thème, âge, commune ; export tableur."),
        )
    )
    register_action_labels(ACTION_LABELS)
    register_personal_data_provider(
        "inclusion.profile", _("Numéripôle : votre profil"), personal_data.profile
    )
    register_personal_data_provider(
        "inclusion.participations",
        _("Numéripôle : les ateliers et accompagnements suivis"),
        personal_data.participations,
    )
    register_personal_data_provider(
        "inclusion.loans", _("Numéripôle : le matériel emprunté"), personal_data.loans
    )
    register_erasure_handler(personal_data.erase)
