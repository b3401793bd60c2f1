"""Writes on accounts and roles. Every function is one transaction with its audit row."""

from __future__ import annotations

import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from mairie.core.models import Commune, Membership, Role, User
from mairie.core.permissions import forget_roles, needs_second_factor
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
        # Made at the counter: done by staff for the person, so it shows in the person's own history.
        on_behalf_of=user if created_by is not None else None,
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


@transaction.atomic
def account_set_password(*, user: User, password: str, commune: Commune | None, reason: str) -> None:
    """A new password (validated by the caller's form). ``reason``: ``"reset"`` (forgotten) or ``"change"``.

    The session authentication hash changes with the password, so every other session of this person ends;
    the caller keeps the current one (``login`` or ``update_session_auth_hash``).
    """
    user.set_password(password)
    user.must_change_password = False  # their own now, not one printed at the counter
    user.save(update_fields=["password", "must_change_password"])
    log_action("core.auth.password_changed", commune=commune, actor=user, obj=user, data={"how": reason})


# --- two-factor authentication (TOTP app, with single-use backup codes) -----------------------------------

BACKUP_CODE_COUNT = 10


def two_factor_device(user: User) -> TOTPDevice | None:
    """The person's confirmed authenticator app, if they set one up."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()


@transaction.atomic
def two_factor_start(*, user: User) -> TOTPDevice:
    """An authenticator app waiting for its first code: reused if one is already waiting.

    A confirmed app, if any, keeps working until the new one is confirmed (changing phones).
    """
    pending = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    return pending or TOTPDevice.objects.create(user=user, name="Application", confirmed=False)


def _new_backup_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Codes de secours", confirmed=True)
    codes = [StaticToken.random_token() for _n in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def two_factor_confirm(
    *, user: User, commune: Commune | None, device: TOTPDevice, token: str
) -> list[str] | None:
    """Switches the app on when ``token`` is the code it shows; returns the new backup codes (to show once),
    or None when the code does not match."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
    if not device.verify_token(token):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_backup_codes(user)
    log_action("core.auth.two_factor_enabled", commune=commune, actor=user, obj=user)
    return codes


@transaction.atomic
def two_factor_backup_codes_renew(*, user: User, commune: Commune | None) -> list[str]:
    """Ten fresh backup codes; the old ones stop working."""
    codes = _new_backup_codes(user)
    log_action("core.auth.backup_codes_renewed", commune=commune, actor=user, obj=user)
    return codes


def _remove_second_factor(user: User) -> int:
    """Deletes the person's authenticator apps and backup codes; returns the rows deleted (0: there were none)."""
    return (
        TOTPDevice.objects.filter(user=user).delete()[0] + StaticDevice.objects.filter(user=user).delete()[0]
    )


@transaction.atomic
def two_factor_disable(*, user: User, commune: Commune) -> None:
    """Only for people whose roles do not require it."""
    if needs_second_factor(user, commune):
        raise PermissionDenied("two-factor authentication is required for this person's roles")
    _remove_second_factor(user)
    log_action("core.auth.two_factor_disabled", commune=commune, actor=user, obj=user)


class SecondFactorResetRefused(ValidationError):
    """The commune's administrator may not reset this person's second factor (see ``two_factor_reset``)."""


@transaction.atomic
def two_factor_reset(*, user: User, commune: Commune, by: User) -> bool:
    """A commune's administrator takes away a lost second factor (a nurse's phone gone): the person's
    authenticator app and backup codes stop working, and they set up new ones at their next sign-in. Every session
    of theirs already past the second factor is sent back to it. The person is told, on every channel.

    Only for a person whose roles are all in this commune (someone who also works for another commune, or a
    platform operator, goes to the platform operator), and never one's own (done from one's own account).
    Returns whether there was anything to take away.
    """
    from mairie.core.permissions import ensure_capability
    from mairie.core.services.notifications import notify

    ensure_capability(by, commune, "core.manage_roles")
    if user.pk == by.pk:
        raise SecondFactorResetRefused(
            _("Pour votre propre compte, passez par « Mon compte », « Double authentification »."),
            code="self",
        )
    if not Membership.objects.filter(commune=commune, user=user).exists():
        raise PermissionDenied("not a member of this commune")
    with scopes_disabled():  # the person's roles in every commune, not only this one's
        elsewhere = (
            Membership.objects.filter(user=user).exclude(commune=commune).exclude(role=Role.RESIDENT).exists()
        )
    if user.is_superuser or elsewhere:
        raise SecondFactorResetRefused(
            _(
                "Cette personne travaille aussi pour une autre commune ou pour la plateforme : demandez à "
                "l'exploitant de la plateforme de réinitialiser sa double authentification."
            ),
            code="elsewhere",
        )
    if not _remove_second_factor(user):
        return False
    log_action("core.auth.two_factor_reset", commune=commune, actor=by, obj=user)
    from django.urls import reverse

    notify(
        recipient=user,
        commune=commune,
        template="core/two_factor_reset",
        context={"admin_name": by.display_name, "commune_name": commune.name},
        urgent=True,
        respect_preferences=False,  # about their own account's safety
        url=reverse("core:login"),
    )
    return True
