"""In a real browser with JavaScript off: a resident finds a workshop from the commune's home page,
registers with one button, and sees it on their path; the mediator then takes the roll call."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from mairie.booking.models import Booking
from mairie.core.acting import Actor
from mairie.core.models import Role
from mairie.inclusion.models import Participation, Theme
from mairie.inclusion.services.sessions import workshop_session_create
from tests.factories import make_user
from tests.inclusion.helpers import make_workshop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def town(transactional_db):
    from tests.factories import make_commune

    with scopes_disabled():
        return make_commune("Val-de-Brume", hosts=("localhost",), modules=["inclusion"])


def _follow(page, target) -> None:
    """Clicks a link or a button and waits for the next page (without JavaScript there is no other way)."""
    with page.expect_navigation():
        target.click(no_wait_after=True)


def test_a_resident_registers_without_javascript(site, town):
    if timezone.localtime().hour >= 23:
        pytest.skip("the session is made later today: not enough of today is left")
    with scope(commune=town):
        mediator = make_user(town, Role.MEDIATOR, first_name="Karim", last_name="Benali")
        staff = Actor.himself(mediator, town)
        theme = Theme.objects.create(
            commune=town, name="Smartphone", coop_theme="prendre_en_main_du_materiel"
        )
        # Later today: the resident can still register, and the roll call is open on the day of the session.
        ws = workshop_session_create(
            actor=staff,
            workshop=make_workshop(staff, theme),
            starts_at=timezone.now() + timedelta(minutes=40),
        )
        resident = make_user(town, first_name="Odette", last_name="Vidal")
    page = site.page(user=resident, javascript=False)
    page.goto("/")
    _follow(page, page.get_by_role("link", name="Numéripôle"))
    assert page.get_by_role("heading", level=1).inner_text() == "Numéripôle : les ateliers numériques"
    _follow(page, page.get_by_role("link", name="Premiers pas avec son smartphone").first)
    _follow(page, page.get_by_role("button", name="Je m'inscris"))
    assert "C'est noté, vous êtes inscrit·e." in page.get_by_role("status").first.inner_text()
    with scopes_disabled():
        assert Booking.objects.get().person == resident
    _follow(page, page.get_by_role("link", name="Mon parcours"))
    assert page.get_by_text("Premiers pas avec son smartphone").first.is_visible()

    desk = site.page(user=mediator, javascript=False)
    desk.goto(f"/numeripole/gestion/seances/{ws.pk}/")
    assert desk.get_by_label("Odette Vidal présent·e").is_checked()
    _follow(desk, desk.get_by_role("button", name="Enregistrer l'appel"))
    assert "Appel enregistré : 1 présent·es" in desk.get_by_role("status").first.inner_text()
    with scopes_disabled():
        assert Participation.objects.get().beneficiary.user == resident
