"""Equipment: in-room booking (through the booking engine) and take-home loans with reminders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import formats, timezone

from mairie.core.acting import Actor, log_for
from mairie.core.models import Commune, User
from mairie.core.services.audit import log_action
from mairie.core.services.notifications import notify
from mairie.inclusion.errors import InclusionError
from mairie.inclusion.models import Equipment, Loan, Participation
from mairie.inclusion.services.common import ensure_manager

MAX_LOAN_DAYS = 92
REMIND_EVERY_DAYS = 3
EQUIPMENT_FIELDS = (
    "name",
    "kind",
    "description",
    "inventory_code",
    "bookable_on_site",
    "loanable",
    "loan_days",
    "required_workshop",
    "is_active",
)


def _day(value: date) -> str:
    return formats.date_format(value, "DATE_FORMAT")


@transaction.atomic
def equipment_save(
    *,
    actor: Actor,
    equipment: Equipment | None = None,
    opening: Sequence[tuple[int, time, time]] | None = None,
    **fields: Any,
) -> Equipment:
    """Creates or changes an item. An item bookable on site gets its resource in the booking engine, open
    at the hours of ``opening`` (``[(weekday, start, end)]``; ``None`` keeps the current hours)."""
    from mairie.booking import services as booking
    from mairie.booking.models import Resource

    ensure_manager(actor)
    creating = equipment is None
    equipment = equipment or Equipment(commune=actor.commune)
    for name in EQUIPMENT_FIELDS:
        if name in fields:
            setattr(equipment, name, fields[name])
    if not equipment.name or not equipment.name.strip():
        raise InclusionError("Donnez un nom à l'équipement.", field="name")
    if not equipment.loan_days or equipment.loan_days < 1:
        raise InclusionError("Un prêt dure au moins un jour.", field="loan_days")
    if equipment.loan_days > MAX_LOAN_DAYS:
        raise InclusionError(f"Un prêt dure au plus {MAX_LOAN_DAYS} jours.", field="loan_days")
    workshop = equipment.required_workshop
    if workshop is not None and workshop.commune_id != actor.commune.pk:
        raise InclusionError("Choisissez un atelier de la liste.", field="required_workshop")
    for _weekday, start, end in opening or ():
        if start >= end:
            raise InclusionError("L'heure de fin doit être après l'heure de début.", field="open_until")
    equipment.save()
    active = equipment.is_active and equipment.bookable_on_site
    if equipment.resource_id is None and equipment.bookable_on_site:
        resource = booking.resource_create(
            actor=actor,
            module="inclusion",
            name=equipment.name,
            kind=Resource.Kind.EQUIPMENT,
            opening=opening or (),
            description=equipment.description,
            slot_minutes=60,
            is_active=active,
        )
        equipment.resource = resource
        equipment.save(update_fields=["resource"])
    elif equipment.resource_id is not None:
        booking.resource_update(
            actor=actor,
            resource=equipment.resource_id,
            name=equipment.name,
            description=equipment.description,
            is_active=active,
            out_of_service_reason="" if active else "Hors service ou non réservable sur place",
        )
        if opening is not None:
            booking.opening_rules_replace(actor=actor, resource=equipment.resource_id, opening=opening)
    log_for(
        actor, "inclusion.equipment.created" if creating else "inclusion.equipment.updated", obj=equipment
    )
    return equipment


def has_attended(*, commune: Commune, user: User, workshop_id: int) -> bool:
    return Participation.objects.filter(
        commune=commune, beneficiary__user=user, workshop_id=workshop_id
    ).exists()


def open_loan(equipment: Equipment) -> Loan | None:
    return (
        Loan.objects.filter(equipment=equipment, returned_at__isnull=True).select_related("borrower").first()
    )


@transaction.atomic
def loan_create(
    *,
    actor: Actor,
    equipment: Equipment,
    borrower: User,
    due_on: date | None = None,
    notes: str = "",
    today: date | None = None,
) -> Loan:
    """Lends an item from today until ``due_on``. Refused, with the reason, when the item is out, not lent,
    out of service, booked on site during the loan, or asks for a workshop the person has not attended."""
    from mairie.booking.models import Booking

    ensure_manager(actor)
    today = today or timezone.localdate()
    # One mediator at a time per item: the row lock orders concurrent loans (the unique index is the backstop).
    equipment = Equipment.objects.select_for_update().get(pk=equipment.pk, commune=actor.commune)
    if not equipment.is_active:
        raise InclusionError("Cet équipement est hors service.", field="equipment")
    if not equipment.loanable:
        raise InclusionError("Cet équipement ne se prête pas à domicile.", field="equipment")
    due_on = due_on or today + timedelta(days=equipment.loan_days)
    if due_on < today:
        raise InclusionError(
            "La date de retour est déjà passée. Choisissez une date à venir.", field="due_on"
        )
    if (due_on - today).days > MAX_LOAN_DAYS:
        raise InclusionError(f"Un prêt dure au plus {MAX_LOAN_DAYS} jours.", field="due_on")
    current = open_loan(equipment)
    if current is not None:
        raise InclusionError(
            f"Cet équipement est déjà prêté (retour prévu le {_day(current.due_on)}). "
            "Enregistrez d'abord son retour.",
            field="equipment",
        )
    if equipment.required_workshop_id and not has_attended(
        commune=actor.commune, user=borrower, workshop_id=equipment.required_workshop_id
    ):
        raise InclusionError(
            f"Pour emprunter cet équipement, il faut d'abord avoir suivi l'atelier "
            f"« {equipment.required_workshop} ».",
            field="borrower",
        )
    if equipment.resource_id:
        until = timezone.make_aware(datetime.combine(due_on + timedelta(days=1), datetime.min.time()))
        clash = (
            Booking.objects.filter(
                resources=equipment.resource_id,
                status__in=Booking.LIVE,
                ends_at__gt=timezone.now(),
                starts_at__lt=until,
            )
            .order_by("starts_at")
            .first()
        )
        if clash is not None:
            when = formats.date_format(timezone.localtime(clash.starts_at), "DATETIME_FORMAT")
            raise InclusionError(
                f"Cet équipement est réservé sur place le {when} : choisissez un retour avant cette date.",
                field="due_on",
            )
    try:
        with transaction.atomic():
            loan = Loan.objects.create(
                commune=actor.commune,
                equipment=equipment,
                borrower=borrower,
                lent_by=actor.user,
                starts_on=today,
                due_on=due_on,
                notes=notes,
            )
    except IntegrityError as exc:
        raise InclusionError(
            "Cet équipement vient d'être prêté à quelqu'un d'autre.", field="equipment"
        ) from exc
    log_action(
        "inclusion.loan.created",
        commune=actor.commune,
        actor=actor.user,
        obj=loan,
        on_behalf_of=borrower,
        data={"equipment": equipment.pk, "due_on": due_on.isoformat()},
    )
    notify(
        recipient=borrower,
        commune=actor.commune,
        template="inclusion/loan_started",
        context={"equipment": equipment.name, "due_on": due_on},
        url=reverse("inclusion:my_activity"),
    )
    return loan


@transaction.atomic
def loan_return(*, actor: Actor, loan: Loan) -> Loan:
    ensure_manager(actor)
    updated = Loan.objects.filter(pk=loan.pk, commune=actor.commune, returned_at__isnull=True).update(
        returned_at=timezone.now(), returned_to=actor.user
    )
    if not updated:
        raise InclusionError("Ce prêt a déjà été rendu.")
    loan.refresh_from_db()
    log_action(
        "inclusion.loan.returned",
        commune=actor.commune,
        actor=actor.user,
        obj=loan,
        on_behalf_of=loan.borrower,
        data={"equipment": loan.equipment_id, "late_days": max((timezone.localdate() - loan.due_on).days, 0)},
    )
    return loan


def overdue_loans(*, commune: Commune, today: date) -> Any:
    return Loan.objects.filter(commune=commune, returned_at__isnull=True, due_on__lt=today)


def loans_remind_overdue(*, commune: Commune, today: date | None = None) -> int:
    """Reminds each borrower of an overdue item, then again every few days until it is back.

    Safe with several workers: each loan is taken with ``SKIP LOCKED`` and marked in the same transaction.
    """
    today = today or timezone.localdate()
    reminded = 0
    due = overdue_loans(commune=commune, today=today).filter(
        Q(reminded_on__isnull=True) | Q(reminded_on__lte=today - timedelta(days=REMIND_EVERY_DAYS))
    )
    for loan_id in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            loan = (
                Loan.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=loan_id, returned_at__isnull=True)
                .filter(
                    Q(reminded_on__isnull=True)
                    | Q(reminded_on__lte=today - timedelta(days=REMIND_EVERY_DAYS))
                )
                .select_related("equipment", "borrower")
                .first()
            )
            if loan is None:
                continue
            notify(
                recipient=loan.borrower,
                commune=commune,
                template="inclusion/loan_overdue",
                context={
                    "equipment": loan.equipment.name,
                    "starts_on": loan.starts_on,
                    "due_on": loan.due_on,
                },
                url=reverse("inclusion:my_activity"),
            )
            Loan.objects.filter(pk=loan.pk).update(reminded_on=today)
            log_action(
                "inclusion.loan.reminded",
                commune=commune,
                actor=None,
                obj=loan,
                on_behalf_of=loan.borrower,
                data={"due_on": loan.due_on.isoformat()},
            )
            reminded += 1
    return reminded
