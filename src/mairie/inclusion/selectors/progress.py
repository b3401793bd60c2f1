"""A resident's path at the Numéripôle: workshops done, skills reached, what to try next."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Max, Prefetch
from django.utils import timezone

from mairie.booking.models import Booking, Session
from mairie.core.models import Commune, User
from mairie.inclusion.models import Loan, Participation, Workshop, WorkshopSession
from mairie.inclusion.vocabularies import SKILLS, PixArea, Skill

SUGGESTIONS = 3


@dataclass(frozen=True)
class DoneWorkshop:
    workshop: Workshop
    last_date: date
    times: int


@dataclass
class AreaProgress:
    code: str
    label: str
    skills: list[tuple[Skill, bool]] = field(default_factory=list)

    @property
    def reached(self) -> int:
        return sum(1 for _, ok in self.skills if ok)


@dataclass
class Suggestion:
    workshop: Workshop
    reason: str
    next_session: WorkshopSession | None


@dataclass
class Progress:
    done: list[DoneWorkshop]
    individual_count: int
    areas: list[AreaProgress]
    suggestions: list[Suggestion]
    upcoming: list[Booking]
    loans: list[Loan]

    @property
    def skills_reached(self) -> int:
        return sum(area.reached for area in self.areas)


def _suggest(
    done_ids: set[int], done: list[DoneWorkshop], workshops: list[Workshop]
) -> list[tuple[Workshop, str]]:
    done_themes = {d.workshop.theme_id: d.workshop.level for d in done}
    ranked: list[tuple[int, int, str, Workshop]] = []
    for candidate in workshops:
        if candidate.pk in done_ids or candidate.is_drop_in:
            continue
        needs = {w.pk for w in candidate.prerequisite_workshops.all()}
        if not needs <= done_ids:
            continue
        if needs:
            rank, reason = 0, "La suite de ce que vous avez déjà fait."
        elif candidate.theme_id in done_themes and candidate.level >= done_themes[candidate.theme_id]:
            rank, reason = 1, "Pour aller plus loin sur un thème que vous connaissez."
        elif candidate.level == 1:
            rank, reason = 2, "Un atelier pour débuter, sans rien savoir avant."
        else:
            rank, reason = 3, "Un nouveau thème à découvrir."
        ranked.append((rank, candidate.level, reason, candidate))
    ranked.sort(key=lambda item: (item[0], item[1], item[3].title))
    return [(w, reason) for _, _, reason, w in ranked[:SUGGESTIONS]]


def progress_of(person: User, commune: Commune) -> Progress:
    """Six queries whatever the history: participations, workshops, next sessions, bookings, loans."""
    rows = (
        Participation.objects.filter(commune=commune, beneficiary__user=person, workshop__isnull=False)
        .values("workshop_id")
        .annotate(last=Max("date"), times=Count("id"))
        .order_by()
    )
    stats = {row["workshop_id"]: row for row in rows}
    individual_count = Participation.objects.filter(
        commune=commune, beneficiary__user=person, workshop__isnull=True
    ).count()
    workshops = list(
        Workshop.objects.filter(commune=commune)
        .select_related("theme")
        .prefetch_related(Prefetch("prerequisite_workshops", queryset=Workshop.objects.only("pk")))
        .order_by("level", "title")
    )
    by_id = {w.pk: w for w in workshops}
    done = sorted(
        (
            DoneWorkshop(workshop=by_id[pk], last_date=row["last"], times=row["times"])
            for pk, row in stats.items()
            if pk in by_id
        ),
        key=lambda d: d.last_date,
        reverse=True,
    )
    done_ids = {d.workshop.pk for d in done}
    reached_codes = {code for d in done for code in d.workshop.skills}
    areas = []
    for value, label in PixArea.choices:
        area = AreaProgress(code=value, label=str(label))
        area.skills = [(skill, skill.code in reached_codes) for skill in SKILLS if skill.area == value]
        areas.append(area)
    picked = _suggest(done_ids, done, [w for w in workshops if w.is_published])
    now = timezone.now()
    next_sessions: dict[int, WorkshopSession] = {}
    if picked:
        for ws in (
            WorkshopSession.objects.filter(
                workshop_id__in=[w.pk for w, _ in picked],
                session__status=Session.Status.SCHEDULED,
                session__starts_at__gt=now,
            )
            .select_related("session")
            .order_by("session__starts_at")
        ):
            next_sessions.setdefault(ws.workshop_id, ws)
    suggestions = [
        Suggestion(workshop=w, reason=reason, next_session=next_sessions.get(w.pk)) for w, reason in picked
    ]
    upcoming = list(
        Booking.objects.filter(person=person, module="inclusion", status__in=Booking.LIVE, ends_at__gt=now)
        .select_related("session")
        .order_by("starts_at")
    )
    loans = list(
        Loan.objects.filter(commune=commune, borrower=person, returned_at__isnull=True).select_related(
            "equipment"
        )
    )
    return Progress(
        done=done,
        individual_count=individual_count,
        areas=areas,
        suggestions=suggestions,
        upcoming=upcoming,
        loans=loans,
    )
