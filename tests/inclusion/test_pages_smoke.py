import pytest

from mairie.core.models import Role
from tests.factories import make_user
from tests.inclusion.helpers import make_session, make_workshop

pytestmark = pytest.mark.django_db


def test_every_page_renders(client_for, numeripole, staff, theme, resident):
    workshop = make_workshop(staff, theme)
    ws = make_session(staff, workshop)
    admin = make_user(numeripole, Role.ADMIN, Role.MEDIATOR)
    client = client_for(numeripole, admin)
    for url in [
        "/numeripole/",
        "/numeripole/ateliers/",
        f"/numeripole/ateliers/{workshop.pk}/",
        f"/numeripole/seances/{ws.pk}/",
        "/numeripole/mon-parcours/",
        "/numeripole/mon-profil/",
        "/numeripole/materiel/",
        "/numeripole/gestion/",
        "/numeripole/gestion/themes/",
        f"/numeripole/gestion/themes/{theme.pk}/",
        "/numeripole/gestion/ateliers/",
        "/numeripole/gestion/ateliers/nouveau/",
        f"/numeripole/gestion/ateliers/{workshop.pk}/",
        f"/numeripole/gestion/ateliers/{workshop.pk}/nouvelle-seance/",
        f"/numeripole/gestion/seances/{ws.pk}/",
        "/numeripole/gestion/accompagnements/",
        "/numeripole/gestion/accompagnements/nouveau/",
        "/numeripole/gestion/materiel/",
        "/numeripole/gestion/materiel/nouveau/",
        "/numeripole/statistiques/",
        "/numeripole/statistiques/export.csv",
        "/numeripole/statistiques/export.xlsx",
        "/numeripole/statistiques/activites.csv",
        "/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)


def test_the_desk_writes_french_dates_as_people_do(client_for, numeripole, staff, theme):
    """« sam. 28 nov., 14:00 »: month abbreviations in lower case (Django's « M » would give « Nov »)."""
    from django.utils import dateformat, timezone

    ws = make_session(staff, make_workshop(staff, theme))
    client = client_for(numeripole, make_user(numeripole, Role.MEDIATOR))
    page = client.get("/numeripole/gestion/").content.decode()
    local = timezone.localtime(ws.session.starts_at)
    assert dateformat.format(local, "j N") in page  # e.g. « 28 nov. »
    assert dateformat.format(local, "j M") not in page  # e.g. « 28 Nov »
