"""A person's own data: their profile, the download of everything kept about them, and erasure.

Erasure keeps the person's row (its id) so that statistics and the append-only audit log still add up, but
empties everything that names or reaches the person: the log never held their name (see ``log_action``), and
pages show an erased person as "Personne effacée".
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import scope, scopes_disabled

from mairie.core.models import (
    Commune,
    ErasureRequest,
    LoginCode,
    LoginFailure,
    Membership,
    OutboxMessage,
    Role,
    User,
)
from mairie.core.notifications.delivery import send_email_to
from mairie.core.notifications.rendering import render_message
from mairie.core.permissions import ensure_capability, forget_roles
from mairie.core.personal_data import export_document, run_erasure_handlers
from mairie.core.phones import is_mobile, normalise_phone
from mairie.core.services.audit import log_action

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = 100


def check_profile(
    *, user: User, first_name: str | None, last_name: str | None, email: str | None, phone: str | None
) -> dict[str, Any]:
    """The new values, cleaned; a ValidationError names each faulty field."""
    errors: dict[str, Any] = {}
    first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
    if not first_name:
        errors["first_name"] = _("Écrivez votre prénom.")
    elif len(first_name) > NAME_MAX_LENGTH:
        errors["first_name"] = _("Le prénom est trop long (100 caractères au plus).")
    if not last_name:
        errors["last_name"] = _("Écrivez votre nom.")
    elif len(last_name) > NAME_MAX_LENGTH:
        errors["last_name"] = _("Le nom est trop long (100 caractères au plus).")
    email = (email or "").strip().lower() or None
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = _("Cette adresse n'est pas valide. Elle ressemble à prenom.nom@exemple.fr.")
        else:
            if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
                errors["email"] = _("Une autre personne utilise déjà cette adresse. Choisissez-en une autre.")
    raw_phone = (phone or "").strip()
    phone = None
    if raw_phone:
        phone = normalise_phone(raw_phone)
        if phone is None:
            errors["phone"] = _("Ce numéro n'est pas reconnu. Écrivez-le comme 06 12 34 56 78.")
        elif User.objects.filter(phone=phone).exclude(pk=user.pk).exists():
            errors["phone"] = _("Une autre personne utilise déjà ce numéro. Vérifiez-le.")
    if not errors and not email and not phone and not user.has_usable_password():
        errors["email"] = _(
            "Vous n'avez pas de mot de passe : gardez une adresse e-mail ou un numéro de téléphone, "
            "sinon vous ne pourrez plus recevoir de code pour vous connecter."
        )
    if errors:
        raise ValidationError(errors)
    return {"first_name": first_name, "last_name": last_name, "email": email, "phone": phone}


@transaction.atomic
def account_update_profile(
    *,
    user: User,
    commune: Commune,
    by: User,
    first_name: str,
    last_name: str,
    email: str | None,
    phone: str | None,
) -> list[str]:
    """Changes a person's name and contact details; returns the names of the fields that changed.

    The person themself, or staff who manage residents (at the counter). The audit row lists which fields
    changed, never their values.
    """
    if by.pk != user.pk:
        ensure_capability(by, commune, "core.manage_residents")
    if user.erased_at is not None:
        raise ValidationError(_("Ce compte a été effacé."), code="erased")
    values = check_profile(user=user, first_name=first_name, last_name=last_name, email=email, phone=phone)
    changed = [field for field, value in values.items() if getattr(user, field) != value]
    if not changed:
        return []
    for field in changed:
        setattr(user, field, values[field])
    user.save(update_fields=changed)
    log_action(
        "core.account.updated",
        commune=commune,
        actor=by,
        obj=user,
        on_behalf_of=user if by.pk != user.pk else None,
        data={"changed": changed},
    )
    return changed


EMAIL_CHANGE_HOURS = 24
_EMAIL_CHANGE_SALT = "mairie.core.email-change"


def email_change_token(*, user: User, new_email: str) -> str:
    """Signed: who, the new address, and the address it replaces (a link stops working once that changes)."""
    return signing.dumps({"u": user.pk, "e": new_email, "o": user.email or ""}, salt=_EMAIL_CHANGE_SALT)


def email_change_request(*, user: User, commune: Commune, new_email: str) -> None:
    """A person changes their own email address: a link goes to the new address, which replaces the old one
    only once opened (a typo would otherwise cut them off from their sign-in codes). Nothing changes now."""
    values = check_profile(
        user=user, first_name=user.first_name, last_name=user.last_name, email=new_email, phone=user.phone
    )
    email = values["email"]
    if not email or email == user.email:
        return
    path = reverse("core:account_email_confirm", args=[email_change_token(user=user, new_email=email)])
    rendered = render_message(
        "core/email_change",
        recipient=user,
        commune=commune,
        context={"commune_name": commune.name, "hours": EMAIL_CHANGE_HOURS},
        url=path,
    )
    log_action("core.account.email_change_requested", commune=commune, actor=user, obj=user)
    transaction.on_commit(
        lambda: send_email_to(
            commune=commune, to=email, subject=rendered.subject, body=rendered.email, language=user.language
        )
    )


class EmailChangeRefused(ValidationError):
    pass


@transaction.atomic
def email_change_confirm(*, token: str, commune: Commune) -> User:
    """The link from the new address was opened: the account takes that address; the former one is told."""
    try:
        data = signing.loads(token, salt=_EMAIL_CHANGE_SALT, max_age=EMAIL_CHANGE_HOURS * 3600)
    except signing.SignatureExpired:
        raise EmailChangeRefused(
            _(
                "Ce lien a expiré. Changez à nouveau votre adresse depuis « Mon compte » : un nouveau lien partira."
            ),
            code="expired",
        ) from None
    except signing.BadSignature:
        raise EmailChangeRefused(
            _("Ce lien n'est pas valide. Vérifiez qu'il est complet."), code="bad"
        ) from None
    with scopes_disabled():
        user = (
            User.objects.select_for_update()
            .filter(pk=data["u"], is_active=True, erased_at__isnull=True)
            .first()
        )
    if user is None or (user.email or "") != data["o"]:
        raise EmailChangeRefused(
            _("Ce lien a déjà servi, ou l'adresse du compte a changé depuis. Rien n'a été modifié."),
            code="used",
        )
    former = user.email
    account_update_profile(
        user=user,
        commune=commune,
        by=user,
        first_name=user.first_name,
        last_name=user.last_name,
        email=data["e"],
        phone=user.phone,
    )
    if former:
        rendered = render_message(
            "core/email_changed", recipient=user, commune=commune, context={"commune_name": commune.name}
        )
        transaction.on_commit(
            lambda: send_email_to(
                commune=commune,
                to=former,
                subject=rendered.subject,
                body=rendered.email,
                language=user.language,
            )
        )
    return user


@transaction.atomic
def personal_data_export(*, user: User, commune: Commune) -> dict[str, Any]:
    """Everything kept about the person in this commune, as one document; the download is audited."""
    document = export_document(user, commune)
    log_action("core.privacy.exported", commune=commune, actor=user, obj=user)
    return document


def _commune_admins(commune: Commune, *, except_user: User) -> list[User]:
    return list(
        User.objects.filter(
            memberships__commune=commune, memberships__role=Role.ADMIN, is_active=True, erased_at__isnull=True
        )
        .exclude(pk=except_user.pk)
        .distinct()
    )


@transaction.atomic
def erasure_request_create(*, user: User, commune: Commune, reason: str = "") -> ErasureRequest:
    """The person asks for their account to be erased; the commune's admins are told.

    Asking twice gives back the request already waiting. The notification names no one (it would stay in the
    admins' messages after the erasure): the admin opens the list of requests to see who asked.
    """
    if user.erased_at is not None:
        raise ValidationError(_("Ce compte a déjà été effacé."), code="erased")
    if not Membership.objects.filter(commune=commune, user=user).exists():
        raise ValidationError(_("Vous n'êtes pas inscrit·e dans cette commune."), code="not_member")
    existing = (
        ErasureRequest.objects.select_for_update()
        .filter(commune=commune, user=user, status=ErasureRequest.Status.PENDING)
        .first()
    )
    if existing is not None:
        return existing
    request = ErasureRequest.objects.create(commune=commune, user=user, reason=(reason or "").strip()[:2000])
    log_action(
        "core.privacy.erasure_requested", commune=commune, actor=user, obj=user, data={"request": request.pk}
    )
    from mairie.core.services.notifications import notify

    url = reverse("core:staff_erasures")
    for admin in _commune_admins(commune, except_user=user):
        notify(
            recipient=admin,
            commune=commune,
            template="core/erasure_requested",
            context={"commune_name": commune.name, "request_id": request.pk},
            url=url,
        )
    return request


def _lock_pending(erasure_request: ErasureRequest, by: User) -> ErasureRequest:
    ensure_capability(by, erasure_request.commune, "core.handle_erasure")
    locked = ErasureRequest.objects.select_for_update().select_related("user").get(pk=erasure_request.pk)
    if locked.status != ErasureRequest.Status.PENDING:
        raise ValidationError(_("Cette demande a déjà été traitée."), code="handled")
    if locked.user_id == by.pk:
        raise ValidationError(
            _(
                "Vous ne pouvez pas traiter votre propre demande : une autre personne de la mairie doit "
                "le faire."
            ),
            code="own_request",
        )
    return locked


@transaction.atomic
def erasure_refuse(*, erasure_request: ErasureRequest, by: User, answer: str) -> ErasureRequest:
    """The commune keeps the account (say, while a procedure is still open) and tells the person why."""
    answer = (answer or "").strip()
    if not answer:
        raise ValidationError(
            {"answer": _("Expliquez à la personne pourquoi son compte ne peut pas être effacé maintenant.")}
        )
    locked = _lock_pending(erasure_request, by)
    locked.status = ErasureRequest.Status.REFUSED
    locked.handled_at = timezone.now()
    locked.handled_by = by
    locked.answer = answer[:2000]
    locked.save(update_fields=["status", "handled_at", "handled_by", "answer"])
    commune = locked.commune
    log_action(
        "core.privacy.erasure_refused",
        commune=commune,
        actor=by,
        obj=locked.user,
        data={"request": locked.pk},
    )
    from mairie.core.services.notifications import notify

    notify(
        recipient=locked.user,
        commune=commune,
        template="core/erasure_refused",
        context={"commune_name": commune.name, "answer": locked.answer},
        url=reverse("core:erasure"),
    )
    return locked


def _erase_sign_in_traces(person: User) -> None:
    """Platform-wide traces that reach the person: codes, second factors, sent messages, failed sign-ins."""
    from django_otp import devices_for_user

    LoginCode.objects.filter(user=person).delete()
    for device in devices_for_user(person, confirmed=None):
        device.delete()
    addresses = [value for value in (person.email, person.phone) if value]
    if addresses:
        with scopes_disabled():  # what was kept for the person in every commune, and platform mail
            OutboxMessage.objects.filter(to__in=addresses).delete()
    # Counters of failed sign-ins are keyed by account, or by the login typed (see services.login).
    keys = [f"user:{person.pk}"] + [f"login:{value.lower()}" for value in [*addresses, person.username]]
    LoginFailure.objects.filter(key__in=keys).delete()


def _confirm_erasure_on_commit(person: User, commune: Commune) -> None:
    """Tells the person it is done, once it is: by email, else by SMS.

    Sent straight to the address read before it is emptied, with no Notification row (the person's messages
    are erased with them) and without the queue's retries: if it fails, the erasure itself still stands.
    """
    from django.conf import settings
    from django.core.mail import EmailMessage

    from mairie.core.notifications.backends import COMMUNE_HEADER
    from mairie.core.notifications.rendering import render_message
    from mairie.core.notifications.sms import get_sms_backend

    email = person.email
    phone = person.phone if person.phone and is_mobile(person.phone) else None
    if not (email or phone):
        return
    # Greeted without a name: this last message may be kept by an outbox (demo), the name must not be.
    nameless = copy.copy(person)
    nameless.first_name = nameless.last_name = ""
    rendered = render_message(
        "core/erasure_done", recipient=nameless, commune=commune, context={"commune_name": commune.name}
    )

    def send() -> None:
        try:
            if email:
                EmailMessage(
                    subject=rendered.subject,
                    body=rendered.email,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    to=[email],
                    reply_to=[commune.email] if commune.email else None,
                    headers={COMMUNE_HEADER: str(commune.pk)},
                ).send(fail_silently=False)
            else:
                get_sms_backend().send(to=phone, body=rendered.sms, commune=commune)  # type: ignore[arg-type]
        except Exception:
            logger.exception("Could not confirm erasure %s in commune %s", person.pk, commune.pk)

    transaction.on_commit(send)


@transaction.atomic
def erasure_complete(*, erasure_request: ErasureRequest, by: User) -> User:
    """Erases the person: every module's data, their roles everywhere, their name and contact details.

    The account row stays with its id, emptied and unusable, so statistics and the audit log still add up;
    the audit rows remain and show "Personne effacée".
    """
    locked = _lock_pending(erasure_request, by)
    person = locked.user
    if person.is_superuser:
        raise ValidationError(
            _("Ce compte est celui d'un opérateur de la plateforme : il ne peut pas être effacé d'ici."),
            code="operator",
        )
    commune = locked.commune
    now = timezone.now()
    _confirm_erasure_on_commit(person, commune)
    # Platform-level: the account is shared by every commune the person used, so each one's data goes.
    with scopes_disabled():
        commune_ids = set(Membership.objects.filter(user=person).values_list("commune_id", flat=True))
        communes = list(Commune.objects.filter(pk__in=commune_ids | {commune.pk}))
        administered = Membership.objects.filter(user=person, role=Role.ADMIN).values_list(
            "commune_id", flat=True
        )
        other_admins = Membership.objects.filter(commune_id__in=list(administered), role=Role.ADMIN).exclude(
            user=person
        )
        alone = set(administered) - set(other_admins.values_list("commune_id", flat=True))
        if alone:  # as with role_revoke: a commune always keeps an admin
            names = ", ".join(sorted(c.name for c in communes if c.pk in alone))
            raise ValidationError(
                _(
                    "Cette personne est la seule à administrer %(communes)s : nommez d'abord une autre "
                    "personne, puis effacez le compte."
                ),
                params={"communes": names},
                code="last_admin",
            )
    for each in communes:
        with scope(commune=each):
            run_erasure_handlers(person, each)
    _erase_sign_in_traces(person)
    with scopes_disabled():
        Membership.objects.filter(user=person).delete()
        ErasureRequest.objects.filter(user=person).update(reason="")
        ErasureRequest.objects.filter(user=person, status=ErasureRequest.Status.PENDING).exclude(
            pk=locked.pk
        ).update(status=ErasureRequest.Status.DONE, handled_at=now, handled_by=by)
    forget_roles(person)

    person.first_name = ""
    person.last_name = ""
    person.email = None
    person.phone = None
    person.username = f"efface-{person.pk}"
    person.set_unusable_password()
    person.is_active = False
    person.is_staff = False
    person.quiet_hours_start = None
    person.quiet_hours_end = None
    person.erased_at = now
    person.save()

    locked.status = ErasureRequest.Status.DONE
    locked.handled_at = now
    locked.handled_by = by
    locked.reason = ""
    locked.save(update_fields=["status", "handled_at", "handled_by", "reason"])
    log_action(
        "core.privacy.erased",
        commune=commune,
        actor=by,
        obj=person,
        data={"request": locked.pk, "communes": len(communes)},
    )
    return person
