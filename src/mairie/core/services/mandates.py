"""Mandates: a resident's consent for a staff member to act for them, for one purpose and a limited time."""

from __future__ import annotations

import calendar
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mairie.core.models import Commune, Mandate, Membership, User
from mairie.core.permissions import ensure_capability
from mairie.core.services.audit import log_action


class Duration(models.TextChoices):
    ONE_HOUR = "1h", _("1 heure")
    TODAY = "today", _("aujourd'hui, jusqu'à minuit")
    ONE_MONTH = "1m", _("1 mois")
    SIX_MONTHS = "6m", _("6 mois")
    ONE_YEAR = "1y", _("1 an")


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def mandate_expiry(duration: str, *, now: datetime | None = None) -> datetime:
    """When a mandate given now for ``duration`` ends (calendar months, in the installation's time zone)."""
    now = timezone.localtime(now or timezone.now())
    if duration == Duration.ONE_HOUR:
        return now + timedelta(hours=1)
    if duration == Duration.TODAY:
        midnight = datetime.combine(now.date() + timedelta(days=1), time.min)
        return timezone.make_aware(midnight, now.tzinfo)
    months = {Duration.ONE_MONTH.value: 1, Duration.SIX_MONTHS.value: 6, Duration.ONE_YEAR.value: 12}.get(
        duration
    )
    if months is None:
        raise ValueError(f"unknown mandate duration {duration!r}")
    return _add_months(now, months)


def active_mandates(
    *, commune: Commune, agent: User | None = None, resident: User | None = None
) -> models.QuerySet[Mandate]:
    """Mandates in force now in this commune, for an agent and/or a resident."""
    now = timezone.now()
    mandates = Mandate.objects.filter(
        commune=commune, revoked_at__isnull=True, starts_at__lte=now, expires_at__gt=now
    ).select_related("agent", "resident")
    if agent is not None:
        mandates = mandates.filter(agent=agent)
    if resident is not None:
        mandates = mandates.filter(resident=resident)
    return mandates.order_by("expires_at")


@transaction.atomic
def mandate_start(
    *,
    agent: User,
    resident: User,
    commune: Commune,
    purpose: str,
    consent_method: str,
    expires_at: datetime,
) -> Mandate:
    """Records the resident's consent and tells them; the caller then acts under it (``begin_acting``)."""
    ensure_capability(agent, commune, "core.act_on_behalf")
    now = timezone.now()
    purpose = (purpose or "").strip()
    if resident.pk == agent.pk:
        raise ValidationError(_("Vous ne pouvez pas agir pour vous-même."), code="self")
    if resident.erased_at is not None or not resident.is_active:
        raise ValidationError(_("Ce compte n'est plus actif."), code="inactive")
    if not Membership.objects.filter(commune=commune, user=resident).exists():
        raise ValidationError(
            _("Cette personne n'est pas inscrite dans cette commune."), code="other_commune"
        )
    if not purpose:
        raise ValidationError({"purpose": _("Dites en quelques mots pour quoi faire.")}, code="purpose")
    if consent_method not in Mandate.ConsentMethod.values:
        raise ValidationError({"consent_method": _("Choisissez comment la personne a donné son accord.")})
    if expires_at <= now:
        raise ValidationError({"expires_at": _("La fin de l'accord doit être dans le futur.")})
    mandate = Mandate.objects.create(
        commune=commune,
        agent=agent,
        resident=resident,
        purpose=purpose[:300],
        consent_method=consent_method,
        starts_at=now,
        expires_at=expires_at,
    )
    log_action(
        "core.mandate.started",
        commune=commune,
        actor=agent,
        obj=resident,  # not the mandate: its text names people, and the log outlives an erasure
        on_behalf_of=resident,
        mandate=mandate,
        data={"consent_method": consent_method, "expires_at": expires_at.isoformat()},
    )
    from mairie.core.services.notifications import notify

    notify(
        recipient=resident,
        commune=commune,
        template="core/mandate_started",
        context={
            "agent_name": agent.display_name,
            "commune_name": commune.name,
            "purpose": mandate.purpose,
            "expires_at": expires_at,  # formatted by the template, in the resident's language
            "consent_method": Mandate.ConsentMethod(consent_method).label,
        },
        url=reverse("core:account_mandates"),  # where the resident sees and withdraws it
    )
    return mandate


@transaction.atomic
def mandate_resume(*, agent: User, mandate: Mandate) -> None:
    """The agent acts again under a mandate already in force (no new consent needed)."""
    ensure_capability(agent, mandate.commune, "core.act_on_behalf")
    if mandate.agent_id != agent.pk:
        raise ValidationError(_("Cet accord a été donné à une autre personne."), code="not_yours")
    if not mandate.is_active():
        raise ValidationError(_("Cet accord n'est plus valable. Demandez à nouveau l'accord de la personne."))
    log_action(
        "core.mandate.resumed", commune=mandate.commune, actor=agent, obj=mandate.resident, mandate=mandate
    )


@transaction.atomic
def mandate_stop(*, agent: User, mandate: Mandate) -> None:
    """The agent stops acting for now; the mandate stays valid until it expires or is revoked."""
    log_action(
        "core.mandate.stopped", commune=mandate.commune, actor=agent, obj=mandate.resident, mandate=mandate
    )


@transaction.atomic
def mandate_revoke(*, mandate: Mandate, by: User) -> Mandate:
    """Ends a mandate now: the resident takes back their accord (or the agent, or staff for residents)."""
    commune = mandate.commune
    if by.pk not in (mandate.resident_id, mandate.agent_id):
        ensure_capability(by, commune, "core.manage_residents")
    locked = Mandate.objects.select_for_update().get(pk=mandate.pk)
    if not locked.is_active():
        raise ValidationError(
            _("Cet accord n'est plus en cours : il n'y a rien à retirer."), code="not_active"
        )
    locked.revoked_at = timezone.now()
    locked.revoked_by = by
    locked.save(update_fields=["revoked_at", "revoked_by"])
    mandate.revoked_at, mandate.revoked_by = locked.revoked_at, by
    log_action(
        "core.mandate.revoked",
        commune=commune,
        actor=by,
        obj=mandate.resident,  # not the mandate: its text names people, and the log outlives an erasure
        on_behalf_of=mandate.resident if by.pk != mandate.resident_id else None,
        data={"mandate": mandate.pk, "by_resident": by.pk == mandate.resident_id},
    )
    return mandate
