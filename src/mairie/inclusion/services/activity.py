"""Attendance, drop-in check-ins and accompaniment records (La Coop's "comptes rendus d'activité").

Marking a session's attendance produces its collective record at once: one ``Accompaniment`` for the session,
one ``Participation`` per person present. The mediator completes it afterwards (autonomy, equipment used,
redirection…). Individual help is recorded by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Min, OuterRef, Subquery
from django.utils import timezone

from mairie.booking import services as booking
from mairie.booking.models import Booking
from mairie.core.acting import Actor, log_for
from mairie.core.models import User
from mairie.inclusion.errors import InclusionError
from mairie.inclusion.models import (
    Accompaniment,
    Beneficiary,
    Equipment,
    Participation,
    Theme,
    WorkshopSession,
)
from mairie.inclusion.services.beneficiaries import (
    anonymous_beneficiary_create,
    beneficiary_for,
    note_first_seen,
)
from mairie.inclusion.services.common import ensure_manager
from mairie.inclusion.services.rollup import activity_days_refresh
from mairie.inclusion.vocabularies import (
    EQUIPMENT_MATERIAL,
    AgeBand,
    Autonomy,
    Material,
    PlaceKind,
    Redirection,
)

MARKABLE = (
    Booking.Status.CONFIRMED,
    Booking.Status.REQUESTED,
    Booking.Status.ATTENDED,
    Booking.Status.NO_SHOW,
)
MAX_DURATION_MINUTES = 12 * 60


def _session_minutes(ws: WorkshopSession) -> int:
    return max(int((ws.session.ends_at - ws.session.starts_at).total_seconds() // 60), 1)


def _session_day(ws: WorkshopSession) -> date:
    return timezone.localtime(ws.session.starts_at).date()


def accompaniment_for_session(*, actor: Actor, workshop_session: WorkshopSession) -> Accompaniment:
    """The session's collective record, made on first need with what the catalogue already knows."""
    found = Accompaniment.objects.filter(workshop_session=workshop_session).first()
    if found is not None:
        return found
    workshop = workshop_session.workshop
    theme = workshop.theme
    return Accompaniment.objects.create(
        commune=actor.commune,
        kind=Accompaniment.Kind.COLLECTIVE,
        date=_session_day(workshop_session),
        duration_minutes=_session_minutes(workshop_session),
        place_kind=PlaceKind.ON_SITE,
        place_name=workshop_session.place,
        theme=theme,
        coop_themes=[theme.coop_theme],
        title=workshop.title,
        level=workshop.level,
        workshop_session=workshop_session,
        mediator=workshop_session.mediator or actor.user,
    )


def _participation(
    *, accompaniment: Accompaniment, beneficiary: Beneficiary, workshop_id: int | None, **extra: Any
) -> Participation:
    participation = Participation.objects.create(
        commune=accompaniment.commune,
        accompaniment=accompaniment,
        beneficiary=beneficiary,
        workshop_id=workshop_id,
        date=accompaniment.date,
        kind=accompaniment.kind,
        duration_minutes=accompaniment.duration_minutes,
        theme=accompaniment.theme,
        age_band=beneficiary.age_band,
        residence_name=beneficiary.residence_name,
        residence_insee=beneficiary.residence_insee,
        autonomy=extra.pop("autonomy", "") or accompaniment.autonomy,
        **extra,
    )
    note_first_seen(beneficiary, accompaniment.date)
    return participation


def _refresh_first_seen(beneficiary_ids: Iterable[int]) -> None:
    """After participations were removed: each person's first day is their earliest remaining one."""
    ids = list(beneficiary_ids)
    if ids:
        earliest = (
            (Participation.objects.filter(beneficiary_id=OuterRef("pk")).order_by().values("beneficiary_id"))
            .annotate(first=Min("date"))
            .values("first")
        )
        Beneficiary.objects.filter(pk__in=ids).update(first_seen_on=Subquery(earliest))


@transaction.atomic
def attendance_record(
    *,
    actor: Actor,
    workshop_session: WorkshopSession,
    present: Iterable[int],
    autonomy: Mapping[int, str] | None = None,
) -> Accompaniment:
    """The mediator's roll call: ``present`` are booking ids, everyone else registered is absent.

    Each booking is marked through the booking engine (attended / no-show); the session's collective record
    gets exactly the people present. Calling it again corrects the roll call.
    """
    ensure_manager(actor)
    ws = workshop_session
    if ws.workshop.is_drop_in:
        raise InclusionError(
            "Pour l'accès libre, notez les personnes à leur arrivée (page d'accueil de la séance)."
        )
    present_ids = {int(pk) for pk in present}
    autonomy = {int(k): v for k, v in (autonomy or {}).items()}
    for value in autonomy.values():
        if value and value not in Autonomy.values:
            raise InclusionError("Niveau d'autonomie inconnu.", field="autonomy")
    bookings = list(
        Booking.objects.filter(session_id=ws.session_id, status__in=MARKABLE).select_related("person")
    )
    known = {b.pk for b in bookings}
    if present_ids - known:
        raise InclusionError("Une des personnes cochées n'est pas inscrite à cette séance.", field="present")
    if _session_day(ws) > timezone.localdate():
        raise InclusionError("L'appel se fait à partir du jour de la séance.", field="present")
    for item in bookings:
        booking.attendance_mark(actor=actor, booking=item, attended=item.pk in present_ids)
    accompaniment = accompaniment_for_session(actor=actor, workshop_session=ws)
    existing = {p.booking_id: p for p in accompaniment.participations.all()}
    removed: list[int] = []
    for item in bookings:
        participation = existing.get(item.pk)
        if item.pk in present_ids:
            if participation is None:
                _participation(
                    accompaniment=accompaniment,
                    beneficiary=beneficiary_for(commune=actor.commune, user=item.person),
                    workshop_id=ws.workshop_id,
                    booking=item,
                    autonomy=autonomy.get(item.pk, ""),
                )
            elif autonomy.get(item.pk):
                participation.autonomy = autonomy[item.pk]
                participation.save(update_fields=["autonomy"])
        elif participation is not None:
            removed.append(participation.beneficiary_id)
            participation.delete()
    _refresh_first_seen(removed)
    activity_days_refresh(commune=actor.commune, days=[accompaniment.date])
    log_for(
        actor,
        "inclusion.attendance.recorded",
        obj=ws,
        data={
            "present": len(present_ids),
            "absent": len(known - present_ids),
            "accompaniment": accompaniment.pk,
        },
    )
    return accompaniment


@transaction.atomic
def dropin_checkin(
    *,
    actor: Actor,
    workshop_session: WorkshopSession,
    person: User | None = None,
    age_band: str = "",
    residence_name: str = "",
    residence_insee: str = "",
) -> Participation:
    """Notes one arrival at a drop-in session: a known resident, or an anonymous visitor (age band, commune)."""
    ensure_manager(actor)
    ws = workshop_session
    if not ws.workshop.is_drop_in:
        raise InclusionError("Cette séance est sur inscription : faites l'appel des inscrits.")
    today = timezone.localdate()
    if _session_day(ws) != today:
        raise InclusionError("On note les arrivées le jour de la séance d'accès libre.")
    if ws.session.status != ws.session.Status.SCHEDULED:
        raise InclusionError("Cette séance a été annulée.")
    if age_band and age_band not in AgeBand.values:
        raise InclusionError("Tranche d'âge inconnue.", field="age_band")
    accompaniment = accompaniment_for_session(actor=actor, workshop_session=ws)
    if person is not None:
        beneficiary = beneficiary_for(commune=actor.commune, user=person)
        if accompaniment.participations.filter(beneficiary=beneficiary).exists():
            raise InclusionError(f"{person.display_name} est déjà noté·e aujourd'hui.", field="person")
    else:
        beneficiary = anonymous_beneficiary_create(
            commune=actor.commune,
            age_band=age_band,
            residence_name=residence_name,
            residence_insee=residence_insee,
        )
    try:
        with transaction.atomic():
            participation = _participation(
                accompaniment=accompaniment,
                beneficiary=beneficiary,
                workshop_id=ws.workshop_id,
                checked_in_at=timezone.now(),
            )
    except IntegrityError as exc:
        raise InclusionError("Cette personne est déjà notée aujourd'hui.", field="person") from exc
    activity_days_refresh(commune=actor.commune, days=[accompaniment.date])
    log_for(
        actor,
        "inclusion.dropin.checked_in",
        obj=ws,
        data={"participation": participation.pk, "anonymous": person is None},
    )
    return participation


def _clean_record(
    *,
    duration_minutes: int,
    place_kind: str,
    coop_themes: Sequence[str],
    materials: Sequence[str],
    autonomy: str,
    redirection: str,
    day: date,
) -> None:
    if duration_minutes is None or duration_minutes <= 0:
        raise InclusionError("La durée doit être d'au moins une minute.", field="duration_minutes")
    if duration_minutes > MAX_DURATION_MINUTES:
        raise InclusionError("Une durée de plus de 12 heures n'est pas plausible.", field="duration_minutes")
    if place_kind not in PlaceKind.values:
        raise InclusionError("Lieu inconnu.", field="place_kind")
    if autonomy and autonomy not in Autonomy.values:
        raise InclusionError("Niveau d'autonomie inconnu.", field="autonomy")
    if redirection and redirection not in Redirection.values:
        raise InclusionError("Orientation inconnue.", field="redirection")
    if set(materials) - set(Material.values):
        raise InclusionError("Matériel inconnu.", field="materials")
    from mairie.inclusion.vocabularies import CoopTheme

    if set(coop_themes) - set(CoopTheme.values):
        raise InclusionError("Thématique inconnue.", field="coop_themes")
    if day > timezone.localdate():
        raise InclusionError(
            "La date est dans le futur : notez l'accompagnement une fois fait.", field="date"
        )


def _materials_with(materials: Sequence[str], equipment: Sequence[Equipment]) -> list[str]:
    found = list(dict.fromkeys(materials))
    for item in equipment:
        material = EQUIPMENT_MATERIAL.get(item.kind, Material.OTHER)
        if material not in found:
            found.append(material)
    if len(found) > 1 and Material.NONE in found:
        found.remove(Material.NONE)
    return found


@transaction.atomic
def accompaniment_complete(
    *,
    actor: Actor,
    accompaniment: Accompaniment,
    duration_minutes: int,
    place_kind: str,
    place_name: str = "",
    theme: Theme | None = None,
    coop_themes: Sequence[str] = (),
    materials: Sequence[str] = (),
    equipment: Sequence[Equipment] = (),
    autonomy: str = "",
    redirection: str = "",
    notes: str = "",
    participant_autonomy: Mapping[int, str] | None = None,
) -> Accompaniment:
    """The mediator completes a record (the automatic one of a session, or an individual one).

    The participations follow: their duration and theme change with the record; the autonomy given for a
    person (``participant_autonomy``: participation id → level) wins over the record's.
    """
    ensure_manager(actor)
    _clean_record(
        duration_minutes=duration_minutes,
        place_kind=place_kind,
        coop_themes=coop_themes,
        materials=materials,
        autonomy=autonomy,
        redirection=redirection,
        day=accompaniment.date,
    )
    if theme is not None and theme.commune_id != actor.commune.pk:
        raise InclusionError("Choisissez un thème de la liste.", field="theme")
    per_person = {int(k): v for k, v in (participant_autonomy or {}).items()}
    for value in per_person.values():
        if value and value not in Autonomy.values:
            raise InclusionError("Niveau d'autonomie inconnu.", field="autonomy")
    accompaniment.duration_minutes = duration_minutes
    accompaniment.place_kind = place_kind
    accompaniment.place_name = place_name.strip()
    accompaniment.theme = theme or accompaniment.theme
    themes = list(dict.fromkeys(coop_themes))
    if accompaniment.theme and accompaniment.theme.coop_theme not in themes:
        themes.insert(0, accompaniment.theme.coop_theme)
    accompaniment.coop_themes = themes
    accompaniment.materials = _materials_with(materials, equipment)
    accompaniment.autonomy = autonomy
    accompaniment.redirection = redirection
    accompaniment.notes = notes.strip()
    accompaniment.completed_at = timezone.now()
    accompaniment.save()
    accompaniment.equipment.set(equipment)
    participations = list(accompaniment.participations.all())
    unknown = set(per_person) - {p.pk for p in participations}
    if unknown:
        raise InclusionError("Une des personnes n'est pas dans ce compte rendu.", field="autonomy")
    for participation in participations:
        participation.duration_minutes = duration_minutes
        participation.theme = accompaniment.theme
        participation.autonomy = per_person.get(participation.pk) or autonomy or participation.autonomy
        participation.save(update_fields=["duration_minutes", "theme", "autonomy"])
    activity_days_refresh(commune=actor.commune, days=[accompaniment.date])
    log_for(actor, "inclusion.accompaniment.completed", obj=accompaniment, data={"kind": accompaniment.kind})
    return accompaniment


@transaction.atomic
def individual_accompaniment_create(
    *,
    actor: Actor,
    day: date,
    duration_minutes: int,
    place_kind: str,
    theme: Theme,
    person: User | None = None,
    age_band: str = "",
    residence_name: str = "",
    residence_insee: str = "",
    place_name: str = "",
    coop_themes: Sequence[str] = (),
    materials: Sequence[str] = (),
    equipment: Sequence[Equipment] = (),
    autonomy: str = "",
    redirection: str = "",
    notes: str = "",
) -> Accompaniment:
    """Help given to one person (a known resident, or someone anonymous), recorded by the mediator."""
    ensure_manager(actor)
    _clean_record(
        duration_minutes=duration_minutes,
        place_kind=place_kind,
        coop_themes=coop_themes,
        materials=materials,
        autonomy=autonomy,
        redirection=redirection,
        day=day,
    )
    if theme.commune_id != actor.commune.pk:
        raise InclusionError("Choisissez un thème de la liste.", field="theme")
    if age_band and age_band not in AgeBand.values:
        raise InclusionError("Tranche d'âge inconnue.", field="age_band")
    if person is not None:
        beneficiary = beneficiary_for(commune=actor.commune, user=person)
    else:
        beneficiary = anonymous_beneficiary_create(
            commune=actor.commune,
            age_band=age_band,
            residence_name=residence_name,
            residence_insee=residence_insee,
        )
    themes = list(dict.fromkeys([theme.coop_theme, *coop_themes]))
    accompaniment = Accompaniment.objects.create(
        commune=actor.commune,
        kind=Accompaniment.Kind.INDIVIDUAL,
        date=day,
        duration_minutes=duration_minutes,
        place_kind=place_kind,
        place_name=place_name.strip(),
        theme=theme,
        coop_themes=themes,
        materials=_materials_with(materials, equipment),
        autonomy=autonomy,
        redirection=redirection,
        mediator=actor.user,
        notes=notes.strip(),
        completed_at=timezone.now(),
    )
    accompaniment.equipment.set(equipment)
    _participation(accompaniment=accompaniment, beneficiary=beneficiary, workshop_id=None)
    activity_days_refresh(commune=actor.commune, days=[day])
    log_for(actor, "inclusion.accompaniment.created", obj=accompaniment, data={"anonymous": person is None})
    return accompaniment
