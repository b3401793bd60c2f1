"""Statistics data in bulk: rows written directly, as many as a test or a benchmark needs."""

from __future__ import annotations

import random
from datetime import date, timedelta

from mairie.core.models import Commune, User
from mairie.inclusion.models import Accompaniment, Beneficiary, Participation, Theme
from mairie.inclusion.services.rollup import activity_days_rebuild
from mairie.inclusion.vocabularies import AgeBand, Autonomy

RESIDENCES = [("Val-de-Brume", "99001"), ("Saint-Aubin", "99002"), ("Montfort", "99004")]


def bulk_season(
    commune: Commune,
    themes: list[Theme],
    *,
    people: int,
    sessions: int,
    per_session: int,
    first_day: date,
    days: int,
    seed: int = 1,
    users: list[User] | None = None,
) -> list[Beneficiary]:
    """``sessions`` collective records spread over ``days``, each with ``per_session`` people drawn from
    ``people`` beneficiaries (their first day computed as the service would)."""
    rng = random.Random(seed)
    bands = list(AgeBand.values)
    beneficiaries = Beneficiary.objects.bulk_create(
        [
            Beneficiary(
                commune=commune,
                user=users[i] if users and i < len(users) else None,
                is_anonymous=not (users and i < len(users)),
                age_band=bands[i % len(bands)],
                residence_name=RESIDENCES[i % len(RESIDENCES)][0],
                residence_insee=RESIDENCES[i % len(RESIDENCES)][1],
            )
            for i in range(people)
        ],
        batch_size=2000,
    )
    records = Accompaniment.objects.bulk_create(
        [
            Accompaniment(
                commune=commune,
                kind=Accompaniment.Kind.COLLECTIVE,
                date=first_day + timedelta(days=rng.randrange(days)),
                duration_minutes=120,
                theme=themes[n % len(themes)],
                coop_themes=[themes[n % len(themes)].coop_theme],
                title=f"Atelier {n}",
            )
            for n in range(sessions)
        ],
        batch_size=2000,
    )
    first_seen: dict[int, date] = {}
    rows = []
    levels = Autonomy.values
    for record in records:
        for person in rng.sample(beneficiaries, k=min(per_session, len(beneficiaries))):
            rows.append(
                Participation(
                    commune=commune,
                    accompaniment=record,
                    beneficiary=person,
                    date=record.date,
                    kind=record.kind,
                    duration_minutes=record.duration_minutes,
                    theme=record.theme,
                    age_band=person.age_band,
                    residence_name=person.residence_name,
                    residence_insee=person.residence_insee,
                    autonomy=rng.choice(levels),
                )
            )
            if person.pk not in first_seen or record.date < first_seen[person.pk]:
                first_seen[person.pk] = record.date
    Participation.objects.bulk_create(rows, batch_size=5000)
    for person in beneficiaries:
        person.first_seen_on = first_seen.get(person.pk)
    Beneficiary.objects.bulk_update(beneficiaries, ["first_seen_on"], batch_size=2000)
    activity_days_rebuild(commune=commune)
    return beneficiaries
