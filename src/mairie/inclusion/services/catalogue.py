"""The catalogue: themes and workshops. Sessions live in ``services.sessions`` (they go through booking)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from mairie.core.acting import Actor, log_for
from mairie.inclusion.errors import InclusionError
from mairie.inclusion.models import Theme, Workshop
from mairie.inclusion.services.common import ensure_manager
from mairie.inclusion.vocabularies import DEFAULT_THEMES, SKILLS_BY_CODE

WORKSHOP_FIELDS = (
    "title",
    "kind",
    "theme",
    "level",
    "summary",
    "description",
    "prerequisites",
    "duration_minutes",
    "sessions_per_course",
    "default_capacity",
    "skills",
    "is_published",
)


@transaction.atomic
def themes_seed_defaults(*, actor: Actor) -> list[Theme]:
    """Gives a commune the usual themes (smartphone, e-mail, achats en ligne, impôts…); keeps existing ones."""
    ensure_manager(actor)
    made = []
    existing = set(Theme.objects.filter(commune=actor.commune).values_list("name", flat=True))
    for order, (name, coop_theme, description) in enumerate(DEFAULT_THEMES, start=1):
        if name in existing:
            continue
        theme = Theme.objects.create(
            commune=actor.commune, name=name, coop_theme=coop_theme, description=description, order=order
        )
        made.append(theme)
    if made:
        log_for(actor, "inclusion.theme.created", data={"themes": [t.name for t in made]})
    return made


@transaction.atomic
def theme_save(*, actor: Actor, theme: Theme | None = None, **fields: Any) -> Theme:
    ensure_manager(actor)
    creating = theme is None
    theme = theme or Theme(commune=actor.commune)
    for name in ("name", "coop_theme", "description", "order"):
        if name in fields:
            setattr(theme, name, fields[name])
    if Theme.objects.filter(commune=actor.commune, name=theme.name).exclude(pk=theme.pk).exists():
        raise InclusionError("Un thème porte déjà ce nom.", field="name")
    theme.full_clean(exclude=["commune"])
    theme.save()
    log_for(actor, "inclusion.theme.created" if creating else "inclusion.theme.updated", obj=theme)
    return theme


def _check_workshop(workshop: Workshop, prerequisites: list[Workshop]) -> None:
    if workshop.duration_minutes is None or workshop.duration_minutes <= 0:
        raise InclusionError("La durée doit être d'au moins une minute.", field="duration_minutes")
    if workshop.sessions_per_course is None or workshop.sessions_per_course < 1:
        raise InclusionError("Un atelier compte au moins une séance.", field="sessions_per_course")
    if workshop.default_capacity is None or workshop.default_capacity < 1:
        raise InclusionError("Il faut au moins une place par séance.", field="default_capacity")
    unknown = [code for code in workshop.skills if code not in SKILLS_BY_CODE]
    if unknown:
        raise InclusionError("Compétence inconnue : " + ", ".join(unknown), field="skills")
    if workshop.theme.commune_id != workshop.commune_id:
        raise InclusionError("Choisissez un thème de la liste.", field="theme")
    for other in prerequisites:
        if other.commune_id != workshop.commune_id or (workshop.pk and other.pk == workshop.pk):
            raise InclusionError(
                "Un atelier ne peut pas se demander lui-même.", field="prerequisite_workshops"
            )


@transaction.atomic
def workshop_save(
    *,
    actor: Actor,
    workshop: Workshop | None = None,
    prerequisite_workshops: list[Workshop] | None = None,
    **fields: Any,
) -> Workshop:
    """Creates or changes a workshop of the catalogue. Bad values raise ``InclusionError`` and change nothing."""
    ensure_manager(actor)
    creating = workshop is None
    workshop = workshop or Workshop(commune=actor.commune)
    for name in WORKSHOP_FIELDS:
        if name in fields:
            setattr(workshop, name, fields[name])
    workshop.skills = sorted(set(workshop.skills or []))
    prerequisites = list(prerequisite_workshops or [])
    _check_workshop(workshop, prerequisites)
    workshop.save()
    if prerequisite_workshops is not None:
        workshop.prerequisite_workshops.set(prerequisites)
    log_for(
        actor,
        "inclusion.workshop.created" if creating else "inclusion.workshop.updated",
        obj=workshop,
        data={"title": workshop.title},
    )
    return workshop
