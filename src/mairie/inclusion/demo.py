"""Demo data of the Numéripôle (``manage.py demo``): a season of workshops with their roll calls.

Past sessions cannot be created through the booking engine (it refuses the past, as it should): the demo
writes their ``booking.Session`` and ``booking.Booking`` rows directly, as an import of last season's paper
registers would, then takes every roll call through ``attendance_record`` — the same service the mediator
uses — which marks the bookings and writes the La Coop records. Everything from today on goes through the
services. Idempotent: nothing is added once the catalogue exists.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from mairie.booking.holidays import holiday_name
from mairie.booking.models import Booking, Session
from mairie.core.acting import Actor
from mairie.core.models import Commune, Membership, Role, User
from mairie.core.services.accounts import account_register
from mairie.inclusion.models import Theme, Workshop, WorkshopSession
from mairie.inclusion.services.activity import (
    accompaniment_complete,
    attendance_record,
    individual_accompaniment_create,
)
from mairie.inclusion.services.beneficiaries import beneficiary_for, profile_update
from mairie.inclusion.services.catalogue import themes_seed_defaults, workshop_save
from mairie.inclusion.services.equipment import equipment_save, loan_create
from mairie.inclusion.services.sessions import course_create, register, workshop_session_create
from mairie.inclusion.vocabularies import AgeBand, Autonomy, SocialStatus

NEIGHBOURS = [
    ("Saint-Aubin-des-Landes", "99002"),
    ("Les Essarts-sur-Brume", "99003"),
    ("Montfort-le-Vieux", "99004"),
    ("La Chapelle-aux-Prés", "99005"),
]
FIRST_NAMES = [
    "Marie",
    "Jean",
    "Monique",
    "Bernard",
    "Josiane",
    "Michel",
    "Colette",
    "André",
    "Yvette",
    "Gérard",
    "Nicole",
    "Alain",
    "Françoise",
    "Daniel",
    "Chantal",
    "Patrick",
    "Sylvie",
    "Claude",
    "Martine",
    "Jacques",
    "Lucie",
    "Thomas",
    "Inès",
    "Mathis",
    "Léa",
    "Hugo",
    "Aïcha",
    "Karim",
    "Samia",
    "Yusuf",
]
LAST_NAMES = [
    "Le Goff",
    "Martin",
    "Bernard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Guérin",
    "Mercier",
    "Blanc",
    "Boyer",
    "Chevalier",
    "Lemoine",
    "Rolland",
    "Texier",
    "Hamon",
    "Riou",
]
AGE_WEIGHTS = [
    (AgeBand.FROM_12, 3),
    (AgeBand.FROM_18, 4),
    (AgeBand.FROM_25, 8),
    (AgeBand.FROM_40, 18),
    (AgeBand.FROM_60, 30),
    (AgeBand.FROM_70, 32),
    (AgeBand.UNKNOWN, 5),
]

# title, theme, level, minutes, sessions, capacity, summary, skills, prerequisite title, kind
WORKSHOPS: list[tuple[Any, ...]] = [
    (
        "Premiers pas avec son smartphone",
        "Smartphone et tablette",
        1,
        120,
        1,
        8,
        "Allumer, appeler, envoyer un SMS, prendre une photo.",
        ["2.1", "5.2"],
        None,
        "workshop",
    ),
    (
        "Smartphone : aller plus loin",
        "Smartphone et tablette",
        2,
        120,
        1,
        8,
        "Installer une application, régler son téléphone, faire une visio.",
        ["2.1", "5.1", "5.2"],
        "Premiers pas avec son smartphone",
        "workshop",
    ),
    (
        "Découvrir l'ordinateur",
        "Ordinateur",
        1,
        120,
        1,
        8,
        "La souris, le clavier, les fenêtres : on prend son temps.",
        ["5.2"],
        None,
        "workshop",
    ),
    (
        "Chercher sur internet sans se perdre",
        "Internet",
        2,
        90,
        1,
        8,
        "Trouver une information, reconnaître un site sûr.",
        ["1.1"],
        "Découvrir l'ordinateur",
        "workshop",
    ),
    (
        "Créer et utiliser son adresse e-mail",
        "E-mail",
        2,
        120,
        1,
        8,
        "Créer une adresse, écrire, répondre, joindre une photo.",
        ["2.1"],
        None,
        "workshop",
    ),
    (
        "Acheter en ligne en sécurité",
        "Achats en ligne",
        3,
        120,
        1,
        8,
        "Comparer, payer, suivre un colis et éviter les arnaques.",
        ["2.4", "4.2"],
        "Chercher sur internet sans se perdre",
        "workshop",
    ),
    (
        "Impôts et démarches en ligne",
        "Impôts et démarches en ligne",
        2,
        120,
        3,
        6,
        "Trois séances : FranceConnect, impots.gouv, Ameli et CAF.",
        ["2.4", "4.2", "1.2"],
        "Créer et utiliser son adresse e-mail",
        "workshop",
    ),
    (
        "Mots de passe et arnaques",
        "Sécurité",
        2,
        90,
        1,
        10,
        "Des mots de passe solides, reconnaître un faux message.",
        ["4.1", "4.2"],
        None,
        "workshop",
    ),
    (
        "Trier et partager ses photos",
        "Photo",
        2,
        120,
        1,
        8,
        "Ranger ses photos, les retoucher un peu, les envoyer à la famille.",
        ["1.2", "3.2", "2.2"],
        "Premiers pas avec son smartphone",
        "workshop",
    ),
    (
        "Montage vidéo : son premier film",
        "Montage vidéo",
        4,
        150,
        4,
        6,
        "Quatre séances pour monter un petit film avec ses vidéos.",
        ["3.2", "3.3"],
        "Trier et partager ses photos",
        "workshop",
    ),
    (
        "Écrire une lettre et faire un tableau",
        "Bureautique",
        3,
        120,
        1,
        8,
        "Traitement de texte et tableur : les bases utiles.",
        ["3.1", "1.3"],
        "Découvrir l'ordinateur",
        "workshop",
    ),
    (
        "Découvrir la réalité virtuelle",
        "Photo",
        1,
        90,
        1,
        6,
        "Essayer le casque de réalité virtuelle, en sécurité.",
        ["4.3", "5.2"],
        None,
        "workshop",
    ),
    (
        "Accès libre au Numéripôle",
        "Ordinateur",
        1,
        180,
        1,
        12,
        "Venez utiliser les ordinateurs ou poser vos questions, sans inscription.",
        [],
        None,
        "drop_in",
    ),
]


def _aware(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def _people(commune: Commune, rng: random.Random, count: int) -> list[User]:
    """Residents of the Numéripôle: some from Val-de-Brume, many from the neighbouring communes."""
    people = []
    for n in range(count):
        first, last = FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[(n * 7) % len(LAST_NAMES)]
        user = account_register(commune=commune, first_name=first, last_name=f"{last}", password=None)
        User.objects.filter(pk=user.pk).update(username=f"demo.numeripole.{n:03d}")
        people.append(user)
        actor = Actor.himself(user, commune)
        here = rng.random() < 0.55
        name, insee = (commune.name, commune.insee_code) if here else rng.choice(NEIGHBOURS)
        age = rng.choices([a for a, _ in AGE_WEIGHTS], weights=[w for _, w in AGE_WEIGHTS])[0]
        status = (
            SocialStatus.RETIRED
            if age in (AgeBand.FROM_60, AgeBand.FROM_70)
            else rng.choice(
                [SocialStatus.EMPLOYED, SocialStatus.JOBLESS, SocialStatus.SCHOOL, SocialStatus.UNKNOWN]
            )
        )
        profile_update(
            actor=actor,
            beneficiary=beneficiary_for(commune=commune, user=user),
            age_band=age,
            gender=rng.choice(["masculin", "feminin", "feminin", "non_communique"]),
            social_status=status,
            residence_name=name,
            residence_insee=insee,
        )
    return people


def _past_session(
    commune: Commune, workshop: Workshop, start: datetime, mediator: User, package: Any = None
) -> WorkshopSession:
    session = Session.objects.create(
        commune=commune,
        module="inclusion",
        title=workshop.title,
        description=workshop.summary,
        location="Salle du Numéripôle",
        starts_at=start,
        ends_at=start + timedelta(minutes=workshop.duration_minutes),
        capacity=workshop.default_capacity,
    )
    if package is not None:
        package.sessions.add(session)
    return WorkshopSession.objects.create(
        commune=commune,
        workshop=workshop,
        session=session,
        place="Salle du Numéripôle",
        mediator=mediator,
        package=package,
    )


def _fill_and_call(ws: WorkshopSession, people: list[User], staff: Actor, rng: random.Random) -> None:
    """Registrations of a past session (as written on paper), then the roll call through the service."""
    chosen = rng.sample(people, k=min(len(people), rng.randint(3, ws.session.capacity)))
    bookings = [
        Booking(
            commune=ws.commune,
            module="inclusion",
            person=person,
            session=ws.session,
            title=ws.session.title,
            starts_at=ws.session.starts_at,
            ends_at=ws.session.ends_at,
            status=Booking.Status.CONFIRMED,
            booked_by=person,
        )
        for person in chosen
    ]
    Booking.objects.bulk_create(bookings)
    Session.objects.filter(pk=ws.session_id).update(booked_count=len(bookings))
    ws.session.booked_count = len(bookings)
    present = [b.pk for b in Booking.objects.filter(session=ws.session) if rng.random() < 0.88]
    levels = [Autonomy.ACCOMPANIED, Autonomy.PARTLY, Autonomy.PARTLY, Autonomy.AUTONOMOUS]
    record = attendance_record(
        actor=staff,
        workshop_session=ws,
        present=present,
        autonomy={pk: rng.choice(levels) for pk in present},
    )
    if rng.random() < 0.8:
        accompaniment_complete(
            actor=staff,
            accompaniment=record,
            duration_minutes=record.duration_minutes,
            place_kind=record.place_kind,
            place_name=record.place_name,
            theme=record.theme,
            materials=["ordinateur"] if "ordinateur" in ws.workshop.title.lower() else ["telephone"],
        )


def _season(
    commune: Commune, workshops: dict[str, Workshop], people: list[User], staff: Actor, rng: random.Random
) -> int:
    """Ten months of past sessions: two workshops and one drop-in a week, the courses in a row."""
    from mairie.booking.models import Package

    today = timezone.localdate()
    start = today - timedelta(days=300)
    start -= timedelta(days=start.weekday())  # a Monday
    singles = [w for w in workshops.values() if not w.is_course and not w.is_drop_in]
    courses = [w for w in workshops.values() if w.is_course]
    drop_in = next(w for w in workshops.values() if w.is_drop_in)
    count = 0
    week = start
    course_turn = 0
    while week + timedelta(days=7) <= today:
        tuesday, thursday, saturday = (
            week + timedelta(days=1),
            week + timedelta(days=3),
            week + timedelta(days=5),
        )
        if not holiday_name(tuesday):
            ws = _past_session(commune, rng.choice(singles), _aware(tuesday, 14), staff.user)
            _fill_and_call(ws, people, staff, rng)
            count += 1
        if not holiday_name(thursday):
            ws = _past_session(commune, rng.choice(singles), _aware(thursday, 10), staff.user)
            _fill_and_call(ws, people, staff, rng)
            count += 1
        if not holiday_name(saturday):
            ws = _past_session(commune, drop_in, _aware(saturday, 9), staff.user)
            _drop_in_visits(ws, people, staff, rng)
            count += 1
        if week.isocalendar()[1] % 6 == 0 and (week + timedelta(days=7 * 4)) <= today:
            course = courses[course_turn % len(courses)]
            course_turn += 1
            package = Package.objects.create(commune=commune, module="inclusion", title=course.title)
            group = rng.sample(people, k=min(len(people), course.default_capacity - 1))
            for n in range(course.sessions_per_course):
                ws = _past_session(
                    commune, course, _aware(week + timedelta(days=2 + 7 * n), 14), staff.user, package
                )
                _fill_course(ws, group, package, staff, rng)
                count += 1
        week += timedelta(days=7)
    return count


def _fill_course(
    ws: WorkshopSession, group: list[User], package: Any, staff: Actor, rng: random.Random
) -> None:
    Booking.objects.bulk_create(
        [
            Booking(
                commune=ws.commune,
                module="inclusion",
                person=person,
                session=ws.session,
                title=ws.session.title,
                starts_at=ws.session.starts_at,
                ends_at=ws.session.ends_at,
                status=Booking.Status.CONFIRMED,
                booked_by=person,
                package=package,
            )
            for person in group
        ]
    )
    Session.objects.filter(pk=ws.session_id).update(booked_count=len(group))
    present = [b.pk for b in Booking.objects.filter(session=ws.session) if rng.random() < 0.9]
    attendance_record(actor=staff, workshop_session=ws, present=present)


def _drop_in_visits(ws: WorkshopSession, people: list[User], staff: Actor, rng: random.Random) -> None:
    """Saturday's drop-in: a few known residents and a few anonymous visitors (age band, commune)."""
    from mairie.inclusion.models import Participation
    from mairie.inclusion.services.activity import _participation, accompaniment_for_session
    from mairie.inclusion.services.beneficiaries import anonymous_beneficiary_create

    record = accompaniment_for_session(actor=staff, workshop_session=ws)
    known = rng.sample(people, k=rng.randint(1, 5))
    for n, person in enumerate(known):
        _participation(
            accompaniment=record,
            beneficiary=beneficiary_for(commune=ws.commune, user=person),
            workshop_id=ws.workshop_id,
            checked_in_at=ws.session.starts_at + timedelta(minutes=10 * n),
        )
    for n in range(rng.randint(0, 4)):
        name, insee = rng.choice([(ws.commune.name, ws.commune.insee_code), *NEIGHBOURS])
        visitor = anonymous_beneficiary_create(
            commune=ws.commune,
            age_band=rng.choices([a for a, _ in AGE_WEIGHTS], weights=[w for _, w in AGE_WEIGHTS])[0],
            residence_name=name,
            residence_insee=insee,
        )
        _participation(
            accompaniment=record,
            beneficiary=visitor,
            workshop_id=ws.workshop_id,
            checked_in_at=ws.session.starts_at + timedelta(minutes=15 + 12 * n),
        )
    assert Participation.objects.filter(accompaniment=record).exists()


def _individual_help(
    commune: Commune, themes: dict[str, Theme], people: list[User], staff: Actor, rng: random.Random
) -> None:
    today = timezone.localdate()
    for _ in range(60):
        day = today - timedelta(days=rng.randint(1, 300))
        individual_accompaniment_create(
            actor=staff,
            day=day,
            duration_minutes=rng.choice([15, 30, 30, 45, 60]),
            place_kind="lieu_activite",
            theme=themes[
                rng.choice(["Impôts et démarches en ligne", "Smartphone et tablette", "E-mail", "Sécurité"])
            ],
            person=rng.choice(people) if rng.random() < 0.7 else None,
            age_band=AgeBand.FROM_70,
            residence_name=commune.name,
            residence_insee=commune.insee_code,
            materials=[rng.choice(["telephone", "ordinateur", "tablette"])],
            autonomy=rng.choice(Autonomy.values),
            redirection=rng.choice(["", "", "", "administration", "aide_sociale"]),
        )


def _next_weeks(commune: Commune, workshops: dict[str, Workshop], staff: Actor) -> list[WorkshopSession]:
    """The coming four weeks, through the services (as the mediator would)."""
    today = timezone.localdate()
    created = []
    plan = [
        (2, 14, "Premiers pas avec son smartphone"),
        (4, 10, "Créer et utiliser son adresse e-mail"),
        (6, 9, "Accès libre au Numéripôle"),
        (9, 14, "Mots de passe et arnaques"),
        (11, 10, "Découvrir la réalité virtuelle"),
        (13, 9, "Accès libre au Numéripôle"),
        (16, 14, "Smartphone : aller plus loin"),
        (18, 10, "Trier et partager ses photos"),
        (20, 9, "Accès libre au Numéripôle"),
    ]
    for days, hour, title in plan:
        day = today + timedelta(days=days)
        if holiday_name(day):
            continue
        created.append(
            workshop_session_create(
                actor=staff,
                workshop=workshops[title],
                starts_at=_aware(day, hour),
                place="Salle du Numéripôle",
                mediator=staff.user,
            )
        )
    course = workshops["Impôts et démarches en ligne"]
    starts: list[datetime] = []
    day = today + timedelta(days=3)
    while len(starts) < course.sessions_per_course:
        if not holiday_name(day):
            starts.append(_aware(day, 14))
        day += timedelta(days=7)
    created += course_create(
        actor=staff, workshop=course, starts=starts, place="Salle du Numéripôle", mediator=staff.user
    )
    return created


def _equipment(commune: Commune, workshops: dict[str, Workshop], staff: Actor) -> dict[str, Any]:
    afternoons = [(day, time(14), time(18)) for day in (1, 2, 3)] + [(5, time(9), time(12))]
    items = {}
    for n in range(1, 7):
        items[f"PC {n}"] = equipment_save(
            actor=staff, name=f"PC {n}", kind="pc", bookable_on_site=True, opening=afternoons
        )
    items["Tableau numérique"] = equipment_save(
        actor=staff, name="Tableau numérique", kind="board", bookable_on_site=True, opening=afternoons
    )
    items["PC de jeu"] = equipment_save(
        actor=staff,
        name="PC de jeu",
        kind="gaming_pc",
        description="Pour les jeunes et les tournois du samedi",
        bookable_on_site=True,
        opening=afternoons,
    )
    items["Casque VR"] = equipment_save(
        actor=staff,
        name="Casque de réalité virtuelle",
        kind="vr_headset",
        bookable_on_site=True,
        loanable=True,
        loan_days=7,
        required_workshop=workshops["Découvrir la réalité virtuelle"],
        opening=afternoons,
    )
    for n in (1, 2):
        items[f"Portable {n}"] = equipment_save(
            actor=staff,
            name=f"Ordinateur portable {n}",
            kind="laptop",
            bookable_on_site=False,
            loanable=True,
            loan_days=21,
        )
        items[f"Tablette {n}"] = equipment_save(
            actor=staff,
            name=f"Tablette {n}",
            kind="tablet",
            bookable_on_site=False,
            loanable=True,
            loan_days=14,
        )
    return items


@transaction.atomic
def load_demo(*, commune: Commune, stdout: Any = None, quiet: bool = False) -> None:
    """Adds the Numéripôle to the demo commune, once."""
    if "inclusion" not in (commune.enabled_modules or []):
        commune.enabled_modules = [*(commune.enabled_modules or []), "inclusion"]
        commune.save(update_fields=["enabled_modules"])
    with scope(commune=commune):
        if Workshop.objects.filter(commune=commune).exists():
            return
        mediator = (
            User.objects.filter(
                pk__in=Membership.objects.filter(commune=commune, role=Role.MEDIATOR).values("user_id")
            )
            .order_by("pk")
            .first()
        )
        if mediator is None:
            return
        staff = Actor.himself(mediator, commune)
        rng = random.Random(2026)
        themes_seed_defaults(actor=staff)
        themes = {t.name: t for t in Theme.objects.filter(commune=commune)}
        workshops: dict[str, Workshop] = {}
        for title, theme, level, minutes, sessions, capacity, summary, skills, before, kind in WORKSHOPS:
            workshops[title] = workshop_save(
                actor=staff,
                title=title,
                kind=kind,
                theme=themes[theme],
                level=level,
                summary=summary,
                duration_minutes=minutes,
                sessions_per_course=sessions,
                default_capacity=capacity,
                skills=skills,
                prerequisites="" if before is None else f"Avoir suivi « {before} » ou savoir le faire.",
                prerequisite_workshops=[workshops[before]] if before else [],
            )
        items = _equipment(commune, workshops, staff)
        people = _people(commune, rng, 140)
        count = _season(commune, workshops, people, staff, rng)
        _individual_help(commune, themes, people, staff, rng)
        coming = _next_weeks(commune, workshops, staff)
        named = {u.username: u for u in User.objects.filter(username__in=["jeanne", "marcel", "odette"])}
        for username, ws in (("jeanne", coming[0]), ("marcel", coming[0]), ("odette", coming[1])):
            if username in named and not ws.workshop.is_drop_in:
                register(actor=Actor.himself(named[username], commune), workshop_session=ws)
        if "marcel" in named:
            loan_create(actor=staff, equipment=items["Portable 1"], borrower=named["marcel"])
        # A loan three days overdue, as if lent a fortnight ago (the reminder ticker will pick it up).
        from mairie.inclusion.models import Loan

        if people:
            loan = loan_create(actor=staff, equipment=items["Tablette 1"], borrower=people[0])
            Loan.objects.filter(pk=loan.pk).update(
                starts_on=timezone.localdate() - timedelta(days=17),
                due_on=timezone.localdate() - timedelta(days=3),
            )
        from mairie.inclusion.services.rollup import activity_days_rebuild

        activity_days_rebuild(commune=commune)  # the drop-in visits above were written directly
        if not quiet and stdout is not None:
            from mairie.inclusion.models import Participation

            stdout.write(
                f"Numéripôle: {len(workshops)} workshops, {count} past sessions, "
                f"{Participation.objects.filter(commune=commune).count()} attendance records, "
                f"{len(coming)} sessions to come, {len(items)} items of equipment."
            )
