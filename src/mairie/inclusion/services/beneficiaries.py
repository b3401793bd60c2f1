"""The people accompanied: a profile per person and commune, anonymous visitors, commune of residence."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from mairie.core.acting import Actor, log_for
from mairie.core.models import Commune, User
from mairie.inclusion.errors import InclusionError
from mairie.inclusion.models import Beneficiary
from mairie.inclusion.vocabularies import AgeBand


def beneficiary_draft(*, commune: Commune, user: User) -> Beneficiary:
    """This person's profile here, or an unsaved one with the defaults (for a form: reading writes nothing)."""
    found = Beneficiary.objects.filter(commune=commune, user=user).first()
    if found is not None:
        return found
    home = user.home_commune or commune
    return Beneficiary(commune=commune, user=user, residence_name=home.name, residence_insee=home.insee_code)


def beneficiary_for(*, commune: Commune, user: User) -> Beneficiary:
    """This person's profile here, made on first use; their commune of residence defaults to the one on their
    account, else to the commune running the Numéripôle."""
    found = Beneficiary.objects.filter(commune=commune, user=user).first()
    if found is not None:
        return found
    home = user.home_commune or commune
    try:
        with transaction.atomic():
            return Beneficiary.objects.create(
                commune=commune, user=user, residence_name=home.name, residence_insee=home.insee_code
            )
    except IntegrityError:  # made at the same moment by another request
        return Beneficiary.objects.get(commune=commune, user=user)


def anonymous_beneficiary_create(
    *, commune: Commune, age_band: str = AgeBand.UNKNOWN, residence_name: str = "", residence_insee: str = ""
) -> Beneficiary:
    """Someone who did not give their name: only their age band and commune of residence are kept."""
    beneficiary = Beneficiary(
        commune=commune,
        is_anonymous=True,
        age_band=age_band or AgeBand.UNKNOWN,
        residence_name=residence_name.strip(),
        residence_insee=residence_insee.strip().upper(),
    )
    _validate(beneficiary)
    beneficiary.save()
    return beneficiary


def _validate(beneficiary: Beneficiary) -> None:
    try:
        beneficiary.full_clean(exclude=["commune", "user"])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InclusionError(" ".join(messages), field=field) from exc


@transaction.atomic
def profile_update(
    *,
    actor: Actor,
    beneficiary: Beneficiary,
    age_band: str,
    gender: str,
    social_status: str,
    residence_name: str,
    residence_insee: str,
) -> Beneficiary:
    """The person (or a mediator for them) says their age band, situation and where they live.

    Past participations keep the facts of their day: the statistics of last year do not move.
    """
    beneficiary.age_band = age_band
    beneficiary.gender = gender
    beneficiary.social_status = social_status
    beneficiary.residence_name = residence_name.strip()
    beneficiary.residence_insee = residence_insee.strip().upper()
    _validate(beneficiary)
    if beneficiary.pk is None:
        beneficiary.save()
    else:
        beneficiary.save(
            update_fields=["age_band", "gender", "social_status", "residence_name", "residence_insee"]
        )
    log_for(
        actor, "inclusion.profile.updated", obj=beneficiary, data={"residence": beneficiary.residence_insee}
    )
    return beneficiary


def note_first_seen(beneficiary: Beneficiary, day: date) -> None:
    """Keeps ``first_seen_on`` the earliest day the person was accompanied (records may come late)."""
    Beneficiary.objects.filter(pk=beneficiary.pk).filter(
        Q(first_seen_on__isnull=True) | Q(first_seen_on__gt=day)
    ).update(first_seen_on=day)
    if beneficiary.first_seen_on is None or day < beneficiary.first_seen_on:
        beneficiary.first_seen_on = day
