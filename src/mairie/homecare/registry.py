"""What the homecare module adds to the platform: capabilities, the module itself, audit labels, personal data."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from mairie.core.action_labels import register_action_labels
from mairie.core.models import Role
from mairie.core.modules import Module, register_module
from mairie.core.permissions import register_capabilities
from mairie.core.personal_data import register_erasure_handler, register_personal_data_provider

CAPABILITIES = {
    # The live console of alarms: an operator sees only the communes where they hold the operator role.
    "homecare.console": {Role.OPERATOR, Role.ADMIN},
    # Homes, gateways, devices, contacts: set up by town-hall staff.
    "homecare.manage_homes": {Role.AGENT, Role.ADMIN},
}

ACTION_LABELS = {
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
}


def register() -> None:
    from mairie.homecare import personal_data

    register_capabilities(CAPABILITIES)
    register_module(
        Module(
            "homecare",
            _("Maisons connectées et téléassistance"),
            _("Appel à l'aide, détecteurs, alarmes transmises aux proches et à la téléassistance."),
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
