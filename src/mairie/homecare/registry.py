"""What the homecare module adds to the platform: capabilities, the module itself, audit labels, personal data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from mairie.core.action_labels import register_action_labels
from mairie.core.models import Role
from mairie.core.modules import Module, register_module
from mairie.core.permissions import register_capabilities
from mairie.core.personal_data import register_erasure_handler, register_personal_data_provider

CAPABILITIES: dict[str, Iterable[str]] = {
    # The live console of alarms: an operator sees only the communes where they hold the operator role.
    "homecare.console": {Role.OPERATOR, Role.ADMIN},
    # Homes, gateways, devices, contacts: set up by town-hall staff.
    "homecare.manage_homes": {Role.AGENT, Role.ADMIN},
}

ACTION_LABELS: dict[str, str | Promise] = {
    "homecare.alarm.raised": _("Alarme déclenchée"),
    "homecare.alarm.escalated": _("Alarme transmise à la personne suivante"),
    "homecare.alarm.acknowledged": _("Alarme prise en charge"),
    "homecare.alarm.help_on_way": _("Aide en route"),
    "homecare.alarm.resolved": _("Alarme terminée"),
    "homecare.alarm.false_alarm": _("Fausse alerte"),
    "homecare.alarm.viewed": _("Consultation d'une alarme"),
    "homecare.home.viewed": _("Consultation d'un logement connecté"),
    "homecare.home.created": _("Création d'un logement connecté"),
    "homecare.home.updated": _("Réglages d'un logement connecté"),
    "homecare.home.mode_changed": _("Présence, absence ou hospitalisation"),
    "homecare.home.armed": _("Alarme intrusion activée"),
    "homecare.home.disarmed": _("Alarme intrusion désactivée"),
    "homecare.home.checked_in": _("« Tout va bien »"),
    "homecare.inactivity.warning": _("Avertissement d'inactivité sur la tablette"),
    "homecare.inactivity.cancelled": _("Avertissement d'inactivité annulé"),
    "homecare.intrusion.entry_delay": _("Ouverture pendant que l'alarme est activée"),
    "homecare.gateway.registered": _("Passerelle enregistrée"),
    "homecare.device.registered": _("Appareil enregistré"),
    "homecare.contact.added": _("Personne à prévenir ajoutée"),
    # People-facing pages: console, tablet, automation, requests.
    "homecare.figures.viewed": _("Consultation des chiffres de la téléassistance"),
    "homecare.device.command": _("Commande envoyée à un appareil"),
    "homecare.schedule.created": _("Programmation d'un volet ou d'une lumière"),
    "homecare.schedule.deleted": _("Programmation supprimée"),
    "homecare.schedule.ran": _("Programmation exécutée"),
    "homecare.setpoint.created": _("Programme de chauffage"),
    "homecare.setpoint.deleted": _("Programme de chauffage supprimé"),
    "homecare.tablet.sos": _("Appel à l'aide depuis la tablette"),
    "homecare.tablet.renewed": _("Nouveau lien de tablette"),
    "homecare.service_request.created": _("Demande de service à la mairie"),
    "homecare.service_request.updated": _("Réponse à une demande de service"),
}


# Lazy, translated when shown (Module's fields are typed str).
MODULE_NAME: Any = _("Maisons connectées et téléassistance")
MODULE_DESCRIPTION: Any = _(
    "Appel à l'aide, détecteurs, alarmes transmises aux proches et à la téléassistance."
)


def register() -> None:
    from mairie.homecare import personal_data

    # The console shows alarms and homes' files; the setup pages show who is tele-assisted, their home's file
    # (contacts, devices, inactivity hours) and its open alarms: whoever opens either (an administrator, an agent)
    # passes the second factor (DESIGN.md: staff with access to health or alarm data).
    register_capabilities(CAPABILITIES, sensitive={"homecare.console", "homecare.manage_homes"})
    register_module(
        Module(
            "homecare",
            MODULE_NAME,
            MODULE_DESCRIPTION,
            "homecare:index",
        )
    )
    register_action_labels(ACTION_LABELS)
    register_personal_data_provider("homecare.home", _("Votre logement connecté"), personal_data.home_data)
    register_personal_data_provider(
        "homecare.alarms", _("Les alarmes de votre logement"), personal_data.alarms_data
    )
    register_personal_data_provider(
        "homecare.contact_of", _("Les logements où vous êtes à prévenir"), personal_data.contact_data
    )
    register_erasure_handler(personal_data.erase)
    register_people_facing()


def register_people_facing() -> None:
    """The console, the automation pages and residents' requests on the staff home; residents' requests as
    personal data."""
    from mairie.core.backoffice import StaffArea, register_staff_area
    from mairie.homecare import automation, home_setup, personal_data_people  # noqa: F401  (automation: its queue tasks)

    register_staff_area(
        StaffArea(
            "homecare.console",
            "homecare:console",
            _("Téléassistance : console"),
            _("Les alarmes en cours, les prendre en charge, le dossier de chaque logement, les chiffres."),
        )
    )
    register_staff_area(
        StaffArea(
            "homecare.manage_homes",
            "homecare:setup_homes",
            _("Logements connectés"),
            _(
                "Créer et régler un logement : passerelle, appareils, personnes à prévenir. Volets, lumières "
                "et chauffage, à la main ou programmés. Le lien de la tablette."
            ),
        )
    )
    register_staff_area(
        StaffArea(
            "homecare.manage_homes",
            "homecare:service_requests",
            _("Demandes des résidents"),
            _("Repas, transport, courses : les demandes envoyées depuis les tablettes."),
        )
    )
    home_setup.register()  # the setup pages' audit labels
    register_personal_data_provider(
        "homecare.service_requests",
        _("Vos demandes de service à la mairie"),
        personal_data_people.service_requests_data,
    )
    register_erasure_handler(personal_data_people.erase)
