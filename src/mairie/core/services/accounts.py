"""Writes on accounts and roles. Every function is one transaction with its audit row."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from mairie.core.models import Commune, Membership, Role, User
from mairie.core.permissions import forget_roles
from mairie.core.services.audit import log_action


def generate_username(first_name: str, last_name: str) -> str:
    """A readable identifier for people who sign in without email or phone: ``marie.dupont.4821``."""
    base = ".".join(part for part in (slugify(first_name), slugify(last_name)) if part) or "habitant"
    base = base[:60]
    while True:
        candidate = f"{base}.{secrets.randbelow(9000) + 1000}"
        if not User.objects.filter(username=candidate).exists():
            return candidate


@transaction.atomic
def account_register(
    *,
    commune: Commune,
    first_name: str,
    last_name: str,
    email: str | None = None,
    phone: str | None = None,
    password: str | None = None,
    created_by: User | None = None,
    language: str = "fr",
) -> User:
    """A resident's account: made by the person on the site, or by a staff member at the counter."""
    user = User.objects.create_user(
        username=generate_username(first_name, last_name),
        password=password,
        email=email or None,
        phone=phone or None,
        first_name=first_name,
        last_name=last_name,
        home_commune=commune,
        language=language,
    )
    Membership.objects.create(commune=commune, user=user, role=Role.RESIDENT)
    log_action(
        "core.account.created",
        commune=commune,
        actor=created_by or user,
        obj=user,
        data={"by_staff": created_by is not None, "email": bool(email), "phone": bool(phone)},
    )
    return user


@transaction.atomic
def role_grant(*, commune: Commune, user: User, role: str, granted_by: User | None) -> Membership:
    membership, created = Membership.objects.get_or_create(commune=commune, user=user, role=role)
    if created:
        log_action("core.role.granted", commune=commune, actor=granted_by, obj=user, data={"role": role})
    forget_roles(user)
    return membership


class LastAdminError(ValidationError):
    """A commune always keeps at least one admin: the last one's role cannot be taken away."""


@transaction.atomic
def role_revoke(*, commune: Commune, user: User, role: str, revoked_by: User | None) -> None:
    if role == Role.ADMIN:
        admins = list(
            Membership.objects.select_for_update()
            .filter(commune=commune, role=Role.ADMIN)
            .values_list("user_id", flat=True)
        )
        if admins == [user.pk]:
            raise LastAdminError(
                _("C'est la seule personne qui administre la commune : nommez d'abord une autre personne."),
                code="last_admin",
            )
    deleted, _count = Membership.objects.filter(commune=commune, user=user, role=role).delete()
    if deleted:
        log_action("core.role.revoked", commune=commune, actor=revoked_by, obj=user, data={"role": role})
    forget_roles(user)


@transaction.atomic
def account_set_language(*, user: User, language: str) -> None:
    User.objects.filter(pk=user.pk).update(language=language)
    user.language = language
