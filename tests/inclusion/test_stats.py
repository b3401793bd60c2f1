"""Statistics: unique people, new people, sessions, hours, breakdowns; any period; charts with tables;
CSV and XLSX; the figure on the commune's home page; queries that do not grow with the data."""

import io
from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mairie.core.acting import Actor
from mairie.core.models import Role
from mairie.inclusion.models import Theme
from mairie.inclusion.selectors.stats import statistics
from mairie.inclusion.services.activity import individual_accompaniment_create
from mairie.inclusion.services.beneficiaries import beneficiary_for, profile_update
from tests.factories import make_user
from tests.inclusion.factories import bulk_season
from tests.inclusion.helpers import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(numeripole):
    return make_user(numeripole, Role.ADMIN)


def _help(staff, theme, person, day, minutes=30, **extra):
    return individual_accompaniment_create(
        actor=staff,
        day=day,
        duration_minutes=minutes,
        place_kind="lieu_activite",
        theme=theme,
        person=person,
        **extra,
    )


def test_figures_count_each_person_once(numeripole, staff, theme, resident):
    email = Theme.objects.create(commune=numeripole, name="E-mail", coop_theme="email")
    neighbour = make_user(numeripole, first_name="Paul")
    profile_update(
        actor=Actor.himself(neighbour, numeripole),
        beneficiary=beneficiary_for(commune=numeripole, user=neighbour),
        age_band="soixante_dix_plus",
        gender="masculin",
        social_status="retraite",
        residence_name="Montfort-le-Vieux",
        residence_insee="99004",
    )
    today = timezone.localdate()
    _help(
        staff, theme, resident, today - timedelta(days=400), autonomy="autonome"
    )  # last year: before the period
    _help(staff, theme, resident, today - timedelta(days=10), minutes=60, autonomy="autonome")
    _help(staff, email, resident, today - timedelta(days=5), autonomy="partiellement_autonome")
    _help(staff, email, neighbour, today - timedelta(days=3), minutes=90)
    _help(staff, email, None, today - timedelta(days=2), age_band="douze_dix_huit")
    stats = statistics(numeripole, today - timedelta(days=30), today)
    assert stats.people == 3 and stats.participations == 4 and stats.individual == 4 and stats.sessions == 0
    assert stats.new_people == 2  # Odette came last year already
    assert stats.mediator_hours == 3.5
    by_theme = {r.label: (r.participations, r.hours) for r in stats.by_theme}
    assert by_theme == {"E-mail": (3, 2.5), "Smartphone": (1, 1.0)}
    by_residence = {r.label: r.people for r in stats.by_residence}
    assert by_residence[f"{numeripole.name} ({numeripole.insee_code})"] == 1
    assert by_residence["Montfort-le-Vieux (99004)"] == 1
    assert by_residence["Non renseignée"] == 1
    by_age = {r.key: r.people for r in stats.by_age}
    assert by_age == {"douze_dix_huit": 1, "soixante_dix_plus": 1, "non_communique": 1}
    assert {r.key: r.participations for r in stats.by_autonomy} == {
        "partiellement_autonome": 1,
        "autonome": 1,
        "": 2,
    }


def test_the_page_shows_charts_with_their_tables_and_the_period_can_change(
    client_for, numeripole, staff, theme, resident, admin
):
    today = timezone.localdate()
    _help(staff, theme, resident, today - timedelta(days=40))
    client = client_for(numeripole, admin)
    body = text(
        client.get(
            "/numeripole/statistiques/",
            {"start": (today - timedelta(days=60)).isoformat(), "end": today.isoformat()},
        )
    )
    assert 'role="img"' in body and "<title id=" in body and "<desc id=" in body
    assert "Participations par thème : les chiffres" in body
    assert '<th scope="row">Smartphone</th><td>—</td><td>1</td>' in body
    narrow = text(
        client.get(
            "/numeripole/statistiques/",
            {"start": (today - timedelta(days=10)).isoformat(), "end": today.isoformat()},
        )
    )
    assert '<th scope="row">Smartphone</th>' not in narrow and "Pas de données pour cette période" in narrow


def test_a_period_ending_before_it_starts_is_refused(client_for, numeripole, admin):
    client = client_for(numeripole, admin)
    response = client.get("/numeripole/statistiques/", {"start": "2026-05-01", "end": "2026-01-01"})
    body = text(response)
    assert response.status_code == 200 and "La fin de la période doit être après son début" in body
    assert 'aria-invalid="true"' in body


def test_csv_and_spreadsheet_exports(client_for, numeripole, staff, theme, resident, admin):
    from openpyxl import load_workbook

    today = timezone.localdate()
    _help(staff, theme, resident, today - timedelta(days=3), minutes=45)
    client = client_for(numeripole, admin)
    csv_text = client.get("/numeripole/statistiques/export.csv").content.decode("utf-8-sig")
    assert "Personnes accompagnées (uniques);1" in csv_text and "Par thème;Smartphone;;1;0.8" in csv_text
    book = load_workbook(io.BytesIO(client.get("/numeripole/statistiques/export.xlsx").content))
    assert book.sheetnames[:3] == ["Synthèse", "Par thème", "Par tranche d'âge"]
    assert ["Smartphone", None, 1, 0.8] in [
        list(row) for row in book["Par thème"].iter_rows(values_only=True)
    ]
    activities = b"".join(client.get("/numeripole/statistiques/activites.csv").streaming_content).decode()
    header, line = activities.strip().splitlines()
    assert header.startswith("date;type;duree_minutes;type_lieu;thematiques")
    assert ";individuel;45;lieu_activite;prendre_en_main_du_materiel;" in line
    assert "Vidal" not in activities  # no names in an export


def test_statistics_are_for_the_mediator_and_the_commune_admin_only(client_for, numeripole, resident):
    assert client_for(numeripole, resident).get("/numeripole/statistiques/").status_code == 403
    agent = make_user(numeripole, Role.AGENT)
    assert client_for(numeripole, agent).get("/numeripole/statistiques/export.csv").status_code == 403


def test_the_home_page_shows_people_trained_in_the_last_twelve_months(
    client_for, numeripole, staff, theme, resident
):
    today = timezone.localdate()
    _help(staff, theme, resident, today - timedelta(days=400))
    other = make_user(numeripole)
    _help(staff, theme, other, today - timedelta(days=100))
    _help(staff, theme, None, today - timedelta(days=10))
    body = text(client_for(numeripole).get("/"))
    assert "2 personnes accompagnées ces 12 derniers mois" in body


def test_queries_do_not_grow_with_the_data(client_for, numeripole, admin, theme):
    client = client_for(numeripole, admin)
    first = date(2026, 1, 5)
    params = {"start": "2026-01-01", "end": "2026-12-31"}

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/numeripole/statistiques/", params).status_code == 200
        return len(queries)

    bulk_season(numeripole, [theme], people=5, sessions=3, per_session=2, first_day=first, days=30, seed=1)
    count()  # warm-up: the session and the person's roles are read once
    small = count()
    other = Theme.objects.create(commune=numeripole, name="Photo", coop_theme="creer_avec_le_numerique")
    bulk_season(
        numeripole, [theme, other], people=200, sessions=80, per_session=6, first_day=first, days=300, seed=2
    )
    assert count() == small


def test_statistics_do_not_move_when_a_person_is_erased(numeripole, staff, theme, resident):
    from mairie.inclusion.personal_data import erase

    today = timezone.localdate()
    _help(staff, theme, resident, today - timedelta(days=3))
    before = statistics(numeripole, today - timedelta(days=30), today)
    erase(resident, numeripole)
    after = statistics(numeripole, today - timedelta(days=30), today)
    assert (after.people, after.new_people, [r.people for r in after.by_residence]) == (
        before.people,
        before.new_people,
        [r.people for r in before.by_residence],
    )
    from mairie.inclusion.models import Beneficiary

    assert not Beneficiary.objects.filter(user=resident).exists()


def test_my_data_lists_what_the_numeripole_keeps(client_for, numeripole, staff, theme, resident):
    _help(staff, theme, resident, timezone.localdate() - timedelta(days=3))
    body = text(client_for(numeripole, resident).get("/mon-compte/donnees/"))
    assert "Numéripôle : les ateliers et accompagnements suivis" in body and "Smartphone" in body


@time_machine.travel("2026-03-10 12:00 +0100")
def test_default_period_is_this_year(client_for, numeripole, admin):
    body = text(client_for(numeripole, admin).get("/numeripole/statistiques/"))
    assert "Du 1 janvier 2026 au 10 mars 2026" in body


def test_the_daily_rollup_follows_every_change(client_for, numeripole, staff, theme, mediator):
    """Roll calls, corrections, completed records and individual help keep ``ActivityDay`` equal to a fresh
    count of the participations."""
    from django.db.models import Count, Sum

    from mairie.booking.models import Booking
    from mairie.inclusion.models import ActivityDay, Participation
    from mairie.inclusion.services.activity import accompaniment_complete, attendance_record
    from mairie.inclusion.services.sessions import register
    from tests.inclusion.helpers import make_session, make_workshop

    ws = make_session(staff, make_workshop(staff, theme), days=2)
    people = [make_user(numeripole) for _ in range(3)]
    bookings = [register(actor=Actor.himself(p, numeripole), workshop_session=ws)[0] for p in people]
    _help(staff, theme, people[0], timezone.localdate() - timedelta(days=1), autonomy="autonome")

    def fresh() -> dict:
        rows = Participation.objects.values("date", "theme_id", "autonomy").annotate(
            n=Count("id"), m=Sum("duration_minutes")
        )
        return {(r["date"], r["theme_id"], r["autonomy"]): (r["n"], r["m"]) for r in rows}

    def rolled() -> dict:
        return {
            (d.date, d.theme_id, d.autonomy): (d.participations, d.minutes) for d in ActivityDay.objects.all()
        }

    with time_machine.travel(ws.session.ends_at):
        record = attendance_record(actor=staff, workshop_session=ws, present=[b.pk for b in bookings])
        assert rolled() == fresh()
        attendance_record(
            actor=staff, workshop_session=ws, present=[bookings[0].pk], autonomy={bookings[0].pk: "autonome"}
        )
        assert rolled() == fresh()
        accompaniment_complete(
            actor=staff,
            accompaniment=record,
            duration_minutes=45,
            place_kind="lieu_activite",
            autonomy="partiellement_autonome",
        )
        assert rolled() == fresh()
    assert (
        sum(n for n, _ in rolled().values()) == 2 and Booking.objects.filter(status="attended").count() == 1
    )
