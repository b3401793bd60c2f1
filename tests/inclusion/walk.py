"""The Numéripôle's objects in the security walks (role × URL matrix, isolation, bad input): one of each kind
per commune, so that every page with an id is visited and every form is tried."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from mairie.booking.models import Booking, Session
from mairie.core.models import Role
from mairie.inclusion.models import (
    Accompaniment,
    Beneficiary,
    Equipment,
    Loan,
    Participation,
    Theme,
    Workshop,
    WorkshopSession,
)
from tests.urlwalk import KIND_HINTS, CommuneWorld, register_world_builder

for hint, kind in (
    ("themes", "inclusion_theme"),
    ("nouvelle-seance", "inclusion_workshop"),
    ("ateliers", "inclusion_workshop"),
    ("acces-libre", "inclusion_dropin"),
    ("seances", "inclusion_session"),
    ("accompagnements", "inclusion_record"),
    ("materiel", "inclusion_equipment"),
    ("prets", "inclusion_loan"),
):
    if (hint, kind) not in KIND_HINTS:
        KIND_HINTS.insert(0, (hint, kind))


def _session(world: CommuneWorld, workshop: Workshop, start, *, booked: int = 0) -> WorkshopSession:
    session = Session.objects.create(
        commune=world.commune,
        module="inclusion",
        title=workshop.title,
        starts_at=start,
        ends_at=start + timedelta(minutes=workshop.duration_minutes),
        capacity=8,
        booked_count=booked,
    )
    return WorkshopSession.objects.create(
        commune=world.commune, workshop=workshop, session=session, place="Salle du Numéripôle"
    )


@register_world_builder
def inclusion_objects(world: CommuneWorld) -> dict:
    commune = world.commune
    resident = world.resident
    mediator = world.users[Role.MEDIATOR]
    now = timezone.now()
    theme = Theme.objects.create(commune=commune, name="Smartphone", coop_theme="prendre_en_main_du_materiel")
    workshop = Workshop.objects.create(
        commune=commune,
        title="Premiers pas avec son smartphone",
        theme=theme,
        summary="Allumer, appeler, envoyer un message.",
        skills=["2.1"],
    )
    drop_in = Workshop.objects.create(
        commune=commune,
        title="Accès libre",
        kind=Workshop.Kind.DROP_IN,
        theme=theme,
        summary="Venez librement.",
    )
    # A session under way today: its roll call and its records can be walked.
    ws = _session(world, workshop, now - timedelta(minutes=30), booked=1)
    Booking.objects.create(
        commune=commune,
        module="inclusion",
        person=resident,
        session=ws.session,
        title=workshop.title,
        starts_at=ws.session.starts_at,
        ends_at=ws.session.ends_at,
        booked_by=resident,
    )
    dropin_ws = _session(world, drop_in, now - timedelta(minutes=10))
    beneficiary = Beneficiary.objects.create(
        commune=commune, user=resident, residence_name=commune.name, residence_insee=commune.insee_code
    )
    record = Accompaniment.objects.create(
        commune=commune,
        kind=Accompaniment.Kind.INDIVIDUAL,
        date=timezone.localdate(),
        duration_minutes=30,
        theme=theme,
        coop_themes=[theme.coop_theme],
        mediator=mediator,
    )
    Participation.objects.create(
        commune=commune,
        accompaniment=record,
        beneficiary=beneficiary,
        date=record.date,
        kind=record.kind,
        duration_minutes=30,
        theme=theme,
    )
    laptop = Equipment.objects.create(commune=commune, name="Portable 1", kind="laptop", loanable=True)
    headset = Equipment.objects.create(commune=commune, name="Casque VR", kind="vr_headset", loanable=True)
    loan = Loan.objects.create(
        commune=commune,
        equipment=headset,
        borrower=resident,
        lent_by=mediator,
        starts_on=timezone.localdate(),
        due_on=timezone.localdate() + timedelta(days=7),
    )
    return {
        "inclusion_theme": theme,
        "inclusion_workshop": workshop,
        "inclusion_session": ws,
        "inclusion_dropin": dropin_ws,
        "inclusion_record": record,
        "inclusion_equipment": laptop,
        "inclusion_loan": loan,
    }
