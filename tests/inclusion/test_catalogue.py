"""The catalogue: upcoming sessions with seats left, themes and levels, workshop pages; managing it."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mairie.core.acting import Actor
from mairie.inclusion.models import Theme, Workshop
from mairie.inclusion.services.catalogue import workshop_save
from mairie.inclusion.services.sessions import register
from tests.factories import make_user
from tests.inclusion.helpers import make_session, make_workshop, text

pytestmark = pytest.mark.django_db


def test_upcoming_sessions_with_seats_left(client_for, numeripole, staff, theme):
    photo = Theme.objects.create(commune=numeripole, name="Photo", coop_theme="creer_avec_le_numerique")
    smartphone = make_workshop(staff, theme, default_capacity=3)
    pictures = make_workshop(staff, photo, title="Trier ses photos", level=3)
    hidden = make_workshop(staff, theme, title="Atelier en préparation", is_published=False)
    ws = make_session(staff, smartphone, days=2)
    make_session(staff, pictures, days=4)
    make_session(staff, hidden, days=5)
    past = make_session(staff, smartphone, days=1)
    register(actor=Actor.himself(make_user(numeripole), numeripole), workshop_session=ws)
    client = client_for(numeripole)
    with time_machine.travel(past.session.ends_at + timedelta(minutes=1)):
        body = text(client.get("/numeripole/"))
        assert "2 séances à venir" in body
        assert "Premiers pas avec son smartphone" in body and "2 places libres" in body
        assert "Trier ses photos" in body and "Atelier en préparation" not in body
        only_photo = text(client.get("/numeripole/", {"theme": photo.pk}))
        assert "1 séance à venir" in only_photo and "Trier ses photos" in only_photo
        first_steps = text(client.get("/numeripole/", {"level": 1}))
        assert "Premiers pas avec son smartphone" in first_steps and "Trier ses photos" not in first_steps


def test_workshop_page_says_what_to_know_before(client_for, numeripole, staff, theme):
    first = make_workshop(staff, theme)
    further = make_workshop(
        staff,
        theme,
        title="Smartphone : aller plus loin",
        level=2,
        prerequisites="Savoir passer un appel.",
        prerequisite_workshops=[first],
    )
    body = text(client_for(numeripole).get(f"/numeripole/ateliers/{further.pk}/"))
    assert "Savoir passer un appel." in body and "Premiers pas avec son smartphone" in body
    listing = text(client_for(numeripole).get("/numeripole/ateliers/"))
    assert "Smartphone : aller plus loin" in listing and "Débutant" in listing


def test_catalogue_queries_do_not_grow_with_sessions(client_for, numeripole, staff, theme):
    workshop = make_workshop(staff, theme)
    course = make_workshop(staff, theme, title="Parcours", sessions_per_course=2)
    make_session(staff, workshop, days=2)
    client = client_for(numeripole)

    def count(url: str) -> int:
        cache.clear()  # the catalogue keeps its rendered list: count the queries of a fresh render
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    urls = ["/numeripole/", "/numeripole/ateliers/", f"/numeripole/ateliers/{workshop.pk}/"]
    for url in urls:
        count(url)
    before = {url: count(url) for url in urls}
    from tests.inclusion.helpers import make_course

    for days in range(3, 30):
        make_session(staff, workshop, days=days)
    make_course(staff, course)
    make_workshop(
        staff, Theme.objects.create(commune=numeripole, name="Photo", coop_theme="creer_avec_le_numerique")
    )
    assert {url: count(url) for url in urls} == before


def test_the_mediator_builds_the_catalogue(client_for, numeripole, mediator):
    client = client_for(numeripole, mediator)
    assert client.get("/numeripole/gestion/ateliers/nouveau/").status_code == 302  # themes first
    client.post("/numeripole/gestion/themes/", {"step": "defaults"})
    names = set(Theme.objects.values_list("name", flat=True))
    assert {
        "Smartphone et tablette",
        "E-mail",
        "Achats en ligne",
        "Impôts et démarches en ligne",
        "Photo",
        "Montage vidéo",
    } <= names
    theme = Theme.objects.get(name="Montage vidéo")
    response = client.post(
        "/numeripole/gestion/ateliers/nouveau/",
        {
            "title": "Monter son premier film",
            "kind": "workshop",
            "theme": theme.pk,
            "level": "4",
            "summary": "Quatre séances.",
            "duration_minutes": "150",
            "sessions_per_course": "4",
            "default_capacity": "6",
            "skills": ["3.2", "3.3"],
            "is_published": "on",
        },
    )
    workshop = Workshop.objects.get()
    assert response.status_code == 302 and workshop.is_course and workshop.skills == ["3.2", "3.3"]
    page = text(client.get(f"/numeripole/gestion/ateliers/{workshop.pk}/nouvelle-seance/"))
    assert "Date de la séance 4" in page


def test_a_negative_duration_changes_nothing(client_for, numeripole, mediator, staff, theme):
    workshop = make_workshop(staff, theme)
    client = client_for(numeripole, mediator)
    response = client.post(
        f"/numeripole/gestion/ateliers/{workshop.pk}/",
        {
            "title": "X",
            "kind": "workshop",
            "theme": theme.pk,
            "level": "1",
            "summary": "Y",
            "duration_minutes": "-5",
            "sessions_per_course": "1",
            "default_capacity": "8",
        },
    )
    assert response.status_code == 200 and 'id="id_duration_minutes-error"' in text(response)
    workshop.refresh_from_db()
    assert workshop.title == "Premiers pas avec son smartphone" and workshop.duration_minutes == 120
    with pytest.raises(Exception, match="au moins une minute"):
        workshop_save(actor=staff, workshop=workshop, duration_minutes=-5)


def test_sessions_in_the_past_or_on_a_holiday_are_refused(client_for, numeripole, mediator, staff, theme):
    workshop = make_workshop(staff, theme)
    client = client_for(numeripole, mediator)
    url = f"/numeripole/gestion/ateliers/{workshop.pk}/nouvelle-seance/"
    response = client.post(url, {"date_1": "2020-01-06", "start_time": "14:00", "capacity": "8"})
    assert "Cette date est déjà passée" in text(response)
    response = client.post(url, {"date_1": "2027-05-01", "start_time": "14:00", "capacity": "8"})
    assert response.status_code == 200 and "error-summary" in text(response)
    from mairie.inclusion.models import WorkshopSession

    assert not WorkshopSession.objects.exists()
    ok = client.post(url, {"date_1": "2027-05-04", "start_time": "14:00", "capacity": "5", "place": "Salle"})
    ws = WorkshopSession.objects.get()
    assert ok.status_code == 302 and ws.session.capacity == 5 and ws.session.module == "inclusion"


def test_a_course_needs_all_its_dates(client_for, numeripole, mediator, staff, theme):
    course = make_workshop(staff, theme, title="Parcours impôts", sessions_per_course=2)
    client = client_for(numeripole, mediator)
    url = f"/numeripole/gestion/ateliers/{course.pk}/nouvelle-seance/"
    response = client.post(url, {"date_1": "2027-05-04", "start_time": "14:00", "capacity": "5"})
    assert response.status_code == 200 and 'id="id_date_2-error"' in text(response)
    client.post(url, {"date_1": "2027-05-04", "date_2": "2027-05-11", "start_time": "14:00", "capacity": "5"})
    from mairie.booking.models import Package

    package = Package.objects.get()
    assert package.sessions.count() == 2 and package.module == "inclusion"


def test_the_list_is_rendered_once_until_something_changes(client_for, numeripole, staff, theme, resident):
    ws = make_session(staff, make_workshop(staff, theme, default_capacity=3), days=2)
    client = client_for(numeripole)

    def visit() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            body = text(client.get("/numeripole/"))
        return len([q for q in queries if "inclusion_" in q["sql"] or "booking_" in q["sql"]]), body

    visit()
    reads, body = visit()
    assert reads == 0 and "3 places libres" in body
    register(actor=Actor.himself(resident, numeripole), workshop_session=ws)  # the booking engine's audit row
    reads, body = visit()
    assert reads > 0 and "2 places libres" in body
