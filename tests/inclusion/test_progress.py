"""A resident's path: workshops done, PIX skills reached, the next workshop suggested."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mairie.core.acting import Actor
from mairie.inclusion.selectors.progress import progress_of
from mairie.inclusion.services.activity import attendance_record
from mairie.inclusion.services.sessions import register
from tests.inclusion.helpers import make_session, make_workshop, text

pytestmark = pytest.mark.django_db


def _attend(staff, resident, numeripole, workshop, days):
    ws = make_session(staff, workshop, days=days)
    [booking] = register(actor=Actor.himself(resident, numeripole), workshop_session=ws)
    with time_machine.travel(ws.session.ends_at):
        attendance_record(actor=staff, workshop_session=ws, present=[booking.pk])
    return ws


def test_progress_after_a_first_workshop(client_for, numeripole, staff, theme, resident):
    first = make_workshop(staff, theme, skills=["2.1", "5.2"])
    further = make_workshop(
        staff,
        theme,
        title="Smartphone : aller plus loin",
        level=2,
        prerequisite_workshops=[first],
        skills=["5.1"],
    )
    other = make_workshop(staff, theme, title="Découvrir l'ordinateur", level=1)
    make_workshop(staff, theme, title="Montage vidéo", level=4, prerequisite_workshops=[further])
    future = make_session(staff, further, days=10)
    client = client_for(numeripole, resident)
    empty = text(client.get("/numeripole/mon-parcours/"))
    assert "Pas encore d'atelier" in empty and "Un atelier pour débuter" in empty
    _attend(staff, resident, numeripole, first, days=2)
    progress = progress_of(resident, numeripole)
    assert [d.workshop for d in progress.done] == [first]
    assert progress.skills_reached == 2
    reached = {skill.code for area in progress.areas for skill, ok in area.skills if ok}
    assert reached == {"2.1", "5.2"}
    assert [s.workshop for s in progress.suggestions][:2] == [further, other]
    assert progress.suggestions[0].next_session == future
    body = text(client.get("/numeripole/mon-parcours/"))
    assert "La suite de ce que vous avez déjà fait" in body and "Montage vidéo" not in body
    assert "Échanger par e-mail, message ou visio" in body and "(1 sur 4)" in body and "(1 sur 2)" in body


def test_progress_page_queries_do_not_grow(client_for, numeripole, staff, theme, resident):
    client = client_for(numeripole, resident)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/numeripole/mon-parcours/").status_code == 200
        return len(queries)

    first = make_workshop(staff, theme)
    _attend(staff, resident, numeripole, first, days=2)
    count()
    before = count()
    for n in range(4):
        workshop = make_workshop(staff, theme, title=f"Atelier {n}", prerequisite_workshops=[first])
        _attend(staff, resident, numeripole, workshop, days=3 + n)
        make_session(staff, workshop, days=20 + n)
    assert count() == before


def test_a_mediator_acting_for_a_resident_sees_their_path(
    client_for, numeripole, mediator, staff, theme, resident
):
    from django.utils import timezone

    from mairie.core.acting import SESSION_KEY
    from mairie.core.models import Mandate
    from mairie.core.services.mandates import mandate_start

    _attend(staff, resident, numeripole, make_workshop(staff, theme), days=2)
    mandate = mandate_start(
        agent=mediator,
        resident=resident,
        commune=numeripole,
        purpose="Ateliers",
        consent_method=Mandate.ConsentMethod.IN_PERSON,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    client = client_for(numeripole, mediator)
    session = client.session
    session[SESSION_KEY] = mandate.pk
    session.save()
    body = text(client.get("/numeripole/mon-parcours/"))
    assert "Le parcours de Odette Vidal au Numéripôle" in body and "Premiers pas avec son smartphone" in body
