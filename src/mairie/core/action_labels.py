"""Audit action codes in plain words, for the pages that show the log to people (my history, my data).

One mapping for the whole platform. Modules add their own codes from ``AppConfig.ready()`` with
``register_action_labels({"inclusion.session.booked": _("Inscription à un atelier")})``. A code nobody
described still reads as something sensible (see ``describe_action``).
"""

from __future__ import annotations

from django.apps import apps
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

ACTION_LABELS: dict[str, str | Promise] = {
    # Accounts and signing in
    "core.account.created": _("Création du compte"),
    "core.account.updated": _("Modification du nom ou des coordonnées"),
    "core.account.email_change_requested": _(
        "Demande de changement d'adresse e-mail (lien envoyé à la nouvelle adresse)"
    ),
    "core.account.language_changed": _("Changement de langue"),
    "core.account.preferences_changed": _("Changement de vos préférences de contact"),
    "core.account.password_reset_at_counter": _("Nouveau mot de passe donné au guichet de la mairie"),
    "core.auth.logged_in": _("Connexion au site"),
    "core.auth.logged_out": _("Déconnexion"),
    "core.auth.login_failed": _("Essai de connexion refusé"),
    "core.auth.code_sent": _("Envoi d'un code de connexion"),
    "core.auth.code_used": _("Connexion avec un code reçu"),
    "core.auth.password_reset": _("Choix d'un nouveau mot de passe"),
    "core.auth.password_changed": _("Changement du mot de passe"),
    "core.auth.two_factor_enabled": _("Mise en place de la double vérification"),
    "core.auth.two_factor_disabled": _("Retrait de la double vérification"),
    "core.auth.two_factor_reset": _("Double vérification réinitialisée par la mairie (téléphone perdu)"),
    "core.auth.backup_codes_renewed": _("Nouveaux codes de secours pour la double vérification"),
    "core.auth.throttled": _("Connexion bloquée un moment après plusieurs essais"),
    # Roles
    "core.role.granted": _("Attribution d'un rôle"),
    "core.role.revoked": _("Retrait d'un rôle"),
    # Acting on behalf (read by the resident and by the staff member: words that fit both)
    "core.mandate.created": _("Accord donné pour faire des démarches à la place de la personne"),
    "core.mandate.started": _("Accord donné pour faire des démarches à la place de la personne"),
    "core.mandate.revoked": _("Retrait de l'accord pour faire des démarches à la place de la personne"),
    "core.mandate.ended": _("Fin de l'accord pour faire des démarches à la place de la personne"),
    "core.mandate.resumed": _("Reprise des démarches faites à la place de la personne"),
    "core.mandate.stopped": _("Pause dans les démarches faites à la place de la personne"),
    "core.acting.started": _("Début des démarches faites à la place de la personne"),
    "core.acting.stopped": _("Fin des démarches faites à la place de la personne"),
    # Notifications
    "core.notification.preferences_changed": _("Changement de vos préférences de contact"),
    # Personal data
    "core.privacy.exported": _("Téléchargement de vos données"),
    "core.privacy.erasure_requested": _("Demande d'effacement du compte"),
    "core.privacy.erasure_refused": _("Réponse négative à une demande d'effacement"),
    "core.privacy.erased": _("Effacement d'un compte"),
    # Commune
    "core.commune.updated": _("Modification des informations de la commune"),
    "core.audit.exported": _("Téléchargement du journal de la commune"),
}


def register_action_labels(labels: dict[str, str | Promise]) -> None:
    """Modules call this from their AppConfig.ready() to describe their own action codes."""
    ACTION_LABELS.update(labels)


def describe_action(code: str) -> str:
    """The action in plain words; an unknown code reads as 'Action « session booked » (Ateliers)'."""
    label = ACTION_LABELS.get(code)
    if label is not None:
        return str(label)
    app_label, _sep, rest = code.partition(".")
    words = rest.replace(".", " ").replace("_", " ").strip() or app_label
    try:
        module = str(apps.get_app_config(app_label).verbose_name)
    except LookupError:
        module = app_label
    return gettext("Action « %(words)s » (%(module)s)") % {"words": words, "module": module}
