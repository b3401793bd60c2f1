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
