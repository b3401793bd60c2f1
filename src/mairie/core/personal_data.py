"""Everything the platform keeps about a person, gathered from every module, and erased on request.

Each module says what it keeps about a person with ``register_personal_data_provider`` and how to erase
it with ``register_erasure_handler`` (from its ``AppConfig.ready()``). The "Mes données" page, the JSON
download and the erasure service only go through this registry, so a new module's data shows up and goes
away with no change to core.

A provider is ``fn(user, commune)`` returning either one record (a dict) or rows (a list of dicts). Keys are
what a person reads (translated labels such as "Prénom"); values are text, numbers, booleans, dates or None.
It runs inside the commune's scope. An erasure handler is ``fn(user, commune)``; it runs inside the scope of
each commune the person belonged to, in the erasure's transaction, before the account itself is anonymised.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mairie.core.action_labels import describe_action
from mairie.core.models import AuditEntry, Commune, ErasureRequest, Mandate, Membership, Notification, User

PersonalData = list[dict[str, Any]] | dict[str, Any]
Provider = Callable[[User, Commune], PersonalData]
ErasureHandler = Callable[[User, Commune], None]


@dataclass(frozen=True)
class DataProvider:
    key: str
    label: str | Promise
    collect: Provider


@dataclass(frozen=True)
class DataSection:
    """What one provider gave: a single record (``record``) or rows (``rows``)."""

    key: str
    label: str
    data: PersonalData

    @property
    def record(self) -> dict[str, Any] | None:
        return self.data if isinstance(self.data, dict) else None

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.data if isinstance(self.data, list) else []


_PROVIDERS: dict[str, DataProvider] = {}
_ERASURE_HANDLERS: list[ErasureHandler] = []


def register_personal_data_provider(key: str, label: str | Promise, fn: Provider) -> None:
    """Registers (or replaces, under the same key) what a module keeps about a person."""
    _PROVIDERS[key] = DataProvider(key=key, label=label, collect=fn)


def register_erasure_handler(fn: ErasureHandler) -> None:
    if fn not in _ERASURE_HANDLERS:
        _ERASURE_HANDLERS.append(fn)


def collect_personal_data(user: User, commune: Commune) -> list[DataSection]:
    return [
        DataSection(key=provider.key, label=str(provider.label), data=provider.collect(user, commune))
        for provider in _PROVIDERS.values()
    ]


def export_document(user: User, commune: Commune) -> dict[str, Any]:
    """The JSON download: every section, keyed by provider, with its readable title."""
    return {
        "personne": user.pk,
        "commune": commune.name,
        "date_export": timezone.now(),
        "sections": {
            section.key: {"titre": section.label, "donnees": section.data}
            for section in collect_personal_data(user, commune)
        },
    }


def run_erasure_handlers(user: User, commune: Commune) -> None:
    for handler in _ERASURE_HANDLERS:
        handler(user, commune)


def readable(value: Any) -> str:
    """A value as the "Mes données" page shows it."""
    if value is None or value == "" or value == []:
        return gettext("—")
    if value is True:
        return gettext("oui")
    if value is False:
        return gettext("non")
    if isinstance(value, datetime.datetime):
        return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
    if isinstance(value, datetime.date):
        return formats.date_format(value, "DATE_FORMAT")
    if isinstance(value, list | tuple):
        return ", ".join(readable(item) for item in value)
    return str(value)


# What core itself keeps about a person.


def _profile(user: User, commune: Commune) -> dict[str, Any]:
    quiet = None
    if user.quiet_hours_start and user.quiet_hours_end:
        quiet = f"{user.quiet_hours_start:%H:%M} – {user.quiet_hours_end:%H:%M}"
    return {
        gettext("Identifiant"): user.username,
        gettext("Prénom"): user.first_name,
        gettext("Nom"): user.last_name,
        gettext("Adresse e-mail"): user.email,
        gettext("Téléphone mobile"): user.phone,
        gettext("Langue"): user.language,
        gettext("Compte créé le"): user.date_joined,
        gettext("Mot de passe"): gettext("choisi (nous ne gardons qu'une empreinte illisible)")
        if user.has_usable_password()
        else gettext("aucun : connexion avec un code reçu"),
        gettext("Messages par e-mail"): user.notify_by_email,
        gettext("Messages par SMS"): user.notify_by_sms,
        gettext("Heures calmes"): quiet,
        gettext("Compte effacé le"): user.erased_at,
    }


def _roles(user: User, commune: Commune) -> list[dict[str, Any]]:
    return [
        {gettext("Rôle"): membership.get_role_display(), gettext("Depuis le"): membership.created_at}
        for membership in Membership.objects.filter(commune=commune, user=user).order_by("created_at")
    ]


def _mandate_row(mandate: Mandate, other_label: str, other: User) -> dict[str, Any]:
    return {
        other_label: other.display_name,
        gettext("Pour quoi faire"): mandate.purpose,
        gettext("Forme de l'accord"): mandate.get_consent_method_display(),
        gettext("Depuis le"): mandate.starts_at,
        gettext("Jusqu'au"): mandate.expires_at,
        gettext("Retiré le"): mandate.revoked_at,
    }


def _mandates_given(user: User, commune: Commune) -> list[dict[str, Any]]:
    mandates = Mandate.objects.filter(commune=commune, resident=user).select_related("agent")
    return [_mandate_row(m, gettext("Personne autorisée"), m.agent) for m in mandates]


def _mandates_held(user: User, commune: Commune) -> list[dict[str, Any]]:
    mandates = Mandate.objects.filter(commune=commune, agent=user).select_related("resident")
    return [_mandate_row(m, gettext("Pour qui"), m.resident) for m in mandates]


def _notifications(user: User, commune: Commune) -> list[dict[str, Any]]:
    return [
        {
            gettext("Date"): n.created_at,
            gettext("Moyen"): n.get_channel_display(),
            gettext("Objet"): n.subject,
            gettext("Message"): n.body,
            gettext("État"): n.get_status_display(),
            gettext("Lu le"): n.read_at,
        }
        for n in Notification.objects.filter(commune=commune, recipient=user).order_by("-created_at")
    ]


def audit_about(user: User, commune: Commune) -> Any:
    """Audit rows where the person acted, was acted for, or is the object (an account change, a role)."""
    about_user = Q(object_type=User._meta.label_lower, object_id=str(user.pk))
    return (
        AuditEntry.objects.filter(commune=commune)
        .filter(Q(actor=user) | Q(on_behalf_of=user) | about_user)
        .select_related("actor", "on_behalf_of")
        .order_by("-created_at", "-id")
    )


def _audit(user: User, commune: Commune) -> list[dict[str, Any]]:
    return [
        {
            gettext("Date"): entry.created_at,
            gettext("Action"): describe_action(entry.action),
            gettext("Fait par"): entry.actor.display_name
            if entry.actor
            else gettext("le site, automatiquement"),
            gettext("Pour"): entry.on_behalf_of.display_name if entry.on_behalf_of else None,
            gettext("Concerne"): entry.object_repr or None,
        }
        for entry in audit_about(user, commune)
    ]


def _erasure_requests(user: User, commune: Commune) -> list[dict[str, Any]]:
    return [
        {
            gettext("Demandée le"): request.requested_at,
            gettext("État"): request.get_status_display(),
            gettext("Raison donnée"): request.reason,
            gettext("Réponse de la mairie"): request.answer,
            gettext("Traitée le"): request.handled_at,
        }
        for request in ErasureRequest.objects.filter(commune=commune, user=user)
    ]


def _erase_core_data(user: User, commune: Commune) -> None:
    """Core's part of an erasure, in one commune: messages go, accords still running end now."""
    Notification.objects.filter(commune=commune, recipient=user).delete()
    now = timezone.now()
    Mandate.objects.filter(commune=commune, revoked_at__isnull=True, expires_at__gt=now).filter(
        Q(resident=user) | Q(agent=user)
    ).update(revoked_at=now)


register_personal_data_provider("core.profile", _("Votre compte"), _profile)
register_personal_data_provider("core.roles", _("Vos rôles dans la commune"), _roles)
register_personal_data_provider(
    "core.mandates_given", _("Les personnes que vous avez autorisées à agir pour vous"), _mandates_given
)
register_personal_data_provider(
    "core.mandates_held", _("Les personnes pour qui vous avez agi"), _mandates_held
)
register_personal_data_provider(
    "core.notifications", _("Les messages qui vous ont été envoyés"), _notifications
)
register_personal_data_provider("core.audit", _("Ce qui a été fait avec votre compte"), _audit)
register_personal_data_provider("core.erasure_requests", _("Vos demandes d'effacement"), _erasure_requests)
register_erasure_handler(_erase_core_data)
