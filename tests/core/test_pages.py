"""Public pages: home, display settings, language, legal pages, error pages, the commune's colours."""

from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django_scopes import scopes_disabled
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from mairie.core import modules
from mairie.core.colors import WHITE, contrast_ratio
from mairie.core.context_processors import DISPLAY_COOKIE
from mairie.core.models import Commune
from mairie.core.modules import Module
from mairie.core.views.pages import commune_palette, server_error
from tests.factories import make_commune, make_user

pytestmark = pytest.mark.django_db

STATIC_DIR = Path(settings.PACKAGE_DIR) / "core" / "static"  # type: ignore[misc]


@pytest.fixture
def town(db):
    with scopes_disabled():
        return make_commune(
            "Saint-Aubin-des-Prés",
            hosts=("saint-aubin.test",),
            address="2 rue de l'Église\n35000 Saint-Aubin-des-Prés",
            phone="02 99 11 22 33",
            email="mairie@saint-aubin.test",
            opening_hours="Mardi et jeudi : 9 h – 12 h",
            welcome_text="Bonjour et bienvenue sur les services en ligne de votre mairie.",
            accent_colour="#6a1b4d",
        )


@pytest.fixture
def visitor(town):
    return Client(HTTP_HOST="saint-aubin.test")


def _text(response) -> str:
    return response.content.decode()


def test_home_shows_the_commune_its_contact_details_and_no_service_yet(visitor):
    body = _text(visitor.get("/"))
    assert "Bienvenue à Saint-Aubin-des-Prés" in body
    assert "Bonjour et bienvenue sur les services en ligne" in body
    assert "02 99 11 22 33" in body and 'href="tel:0299112233"' in body
    assert "mairie@saint-aubin.test" in body
    assert "Mardi et jeudi" in body
    assert "pas encore ouvert de service en ligne" in body


def test_home_lists_only_the_services_the_commune_switched_on(visitor, town, monkeypatch):
    monkeypatch.setitem(
        modules.MODULES, "ateliers", Module("ateliers", "Ateliers numériques", "Apprendre", "core:display")
    )
    monkeypatch.setitem(modules.MODULES, "fablab", Module("fablab", "Le Fablab", "Fabriquer", "core:privacy"))
    with scopes_disabled():
        Commune.objects.filter(pk=town.pk).update(enabled_modules=["ateliers", "not-installed"])
    from django.core.cache import cache

    cache.clear()
    body = _text(visitor.get("/"))
    assert "Ateliers numériques" in body and f'href="{reverse("core:display")}"' in body
    assert "Le Fablab" not in body
    assert "pas encore ouvert de service" not in body


def test_every_page_has_skip_link_landmarks_and_one_h1(visitor):
    for name in ("core:home", "core:legal_notice", "core:accessibility", "core:privacy", "core:display"):
        body = _text(visitor.get(reverse(name)))
        assert '<a class="skip-link" href="#contenu">' in body, name
        assert '<main id="contenu"' in body and "<header" in body and "<footer" in body and "<nav" in body
        assert len(re.findall(r"<h1[ >]", body)) == 1, name
        assert '<html lang="fr"' in body


def test_current_page_is_marked_in_the_navigation(visitor):
    body = _text(visitor.get(reverse("core:login")))
    assert f'<a href="{reverse("core:login")}" aria-current="page">' in body
    assert f'<a href="{reverse("core:signup")}">' in body


def test_legal_notice_names_publisher_host_and_licence(visitor):
    with override_settings(
        MAIRIE_HOSTING_NAME="Syndicat numérique d'Ille-et-Vilaine",
        MAIRIE_HOSTING_ADDRESS="1 avenue des Serveurs, 35000 Rennes",
        MAIRIE_SOURCE_URL="https://example.org/mairie40",
    ):
        body = _text(visitor.get(reverse("core:legal_notice")))
    assert "mairie de Saint-Aubin-des-Prés" in body
    assert "2 rue de l&#x27;Église" in body
    assert "Syndicat numérique d&#x27;Ille-et-Vilaine" in body and "1 avenue des Serveurs" in body
    assert "AGPL" in body and 'href="https://example.org/mairie40"' in body


def test_legal_notice_without_hosting_settings_says_whom_to_ask(visitor):
    with override_settings(MAIRIE_HOSTING_NAME="", MAIRIE_SOURCE_URL=""):
        body = _text(visitor.get(reverse("core:legal_notice")))
    assert "coordonnées sur simple demande" in body
    assert "Voir le code source" not in body


def test_accessibility_statement_gives_status_checks_contact_and_recourse(visitor):
    body = _text(visitor.get(reverse("core:accessibility")))
    assert "<strong>partiellement conforme</strong>" in body and "RGAA" in body and "4.1" in body
    assert "axe-core" in body and "320 pixels" in body and "clavier" in body
    assert "02 99 11 22 33" in body and "mailto:mairie@saint-aubin.test" in body
    assert "Défenseur des droits" in body and "Libre réponse 71120" in body
    assert "saint-aubin.test" in body  # the site the statement applies to
    assert "26 novembre 2026" in body


def test_privacy_page_says_what_why_how_long_who_and_rights(visitor):
    with override_settings(LOGIN_CODE_TTL_SECONDS=10 * 60, SESSION_COOKIE_AGE=7 * 24 * 3600):
        body = _text(visitor.get(reverse("core:privacy")))
    assert "mairie de Saint-Aubin-des-Prés" in body
    assert "valables 10 minutes" in body
    assert "ouverte 7 jours" in body
    assert "Personne effacée" in body
    assert f'href="{reverse("core:my_data")}"' in body
    assert f'href="{reverse("core:erasure")}"' in body
    assert "CNIL" in body


def test_display_settings_are_kept_in_a_cookie_without_an_account(visitor):
    response = visitor.post(reverse("core:display"), {"large": "on", "contrast": "on"})
    assert response.status_code == 302
    assert response.cookies[DISPLAY_COOKIE].value == "large-contrast"
    body = _text(visitor.get(response["Location"]))
    assert 'class="display-large display-contrast"' in body
    assert "enregistré sur cet appareil" in body
    assert 'id="large" name="large" checked' in body

    response = visitor.post(reverse("core:display"), {})
    assert response.cookies[DISPLAY_COOKIE].value == ""  # deleted
    visitor.cookies.pop(DISPLAY_COOKIE, None)
    assert 'class=""' in _text(visitor.get("/"))


def test_display_settings_bring_you_back_where_you_were(visitor):
    privacy = reverse("core:privacy")
    page = _text(visitor.get("/"))
    assert f'{reverse("core:display")}?next=/"' in page
    response = visitor.post(reverse("core:display"), {"large": "on", "next": privacy})
    body = _text(visitor.get(response["Location"]))
    assert f'<a href="{privacy}">Revenir à la page où vous étiez</a>' in body


def test_display_refuses_to_send_you_to_another_site(visitor):
    response = visitor.post(reverse("core:display"), {"large": "on", "next": "https://evil.example/"})
    assert "evil.example" not in response["Location"]
    assert "evil.example" not in _text(visitor.get(response["Location"]))


def test_unknown_display_values_in_the_cookie_are_ignored(visitor):
    visitor.cookies[DISPLAY_COOKIE] = 'large-"><script>'
    body = _text(visitor.get("/"))
    assert 'class="display-large"' in body and "<script>" not in body.split("<body>")[0]


def test_language_switch_posts_a_cookie_and_returns_to_the_page(visitor):
    response = visitor.post(reverse("core:set_language"), {"language": "en", "next": reverse("core:privacy")})
    assert response.status_code == 302 and response["Location"] == reverse("core:privacy")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"


def test_home_in_english_shows_english_text(visitor):
    visitor.post(reverse("core:set_language"), {"language": "en"})
    body = _text(visitor.get("/"))
    assert '<html lang="en"' in body
    assert "Welcome to Saint-Aubin-des-Prés" in body
    assert "Contact the town hall" in body
    assert "Bienvenue à" not in body
    # The commune's own words stay in French, and say so to screen readers.
    assert '<p class="lead" lang="fr">Bonjour et bienvenue' in body
    # The switch back is labelled in French, in French.
    assert '<button type="submit" name="language" value="fr" lang="fr" class="tool">Français</button>' in body


def test_unknown_language_is_refused(visitor):
    response = visitor.post(reverse("core:set_language"), {"language": "xx"})
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_signed_in_language_choice_is_kept_on_the_account(town):
    person = make_user(town)
    client = Client(HTTP_HOST="saint-aubin.test")
    client.force_login(person, backend="mairie.core.auth_backends.LoginBackend")
    client.post(reverse("core:set_language"), {"language": "en"})
    person.refresh_from_db()
    assert person.language == "en"


def test_language_switch_needs_post(visitor):
    assert visitor.get(reverse("core:set_language") + "?language=en").status_code == 405


def test_404_in_the_site_style_with_the_communes_phone(visitor):
    response = visitor.get("/cette-page-nexiste-pas/")
    assert response.status_code == 404
    body = _text(response)
    assert "Cette page n'existe pas" in body
    assert 'class="skip-link"' in body and "Saint-Aubin-des-Prés" in body
    assert 'href="tel:0299112233"' in body


def test_403_in_the_site_style(town):
    person = make_user(town)
    client = Client(HTTP_HOST="saint-aubin.test")
    client.force_login(person, backend="mairie.core.auth_backends.LoginBackend")
    response = client.get(reverse("core:staff_home"))
    assert response.status_code == 403
    assert "Vous n'avez pas accès à cette page" in _text(response)


def test_500_page_renders_without_touching_the_database(django_assert_num_queries):
    request = RequestFactory().get("/")
    with django_assert_num_queries(0):
        response = server_error(request)
    assert response.status_code == 500
    body = _text(response)
    assert "Le service a un problème" in body and "site.css" in body and '<html lang="fr">' in body


def test_500_page_when_a_view_crashes(town):
    client = Client(HTTP_HOST="saint-aubin.test", raise_request_exception=False)
    with mock.patch("mairie.core.views.pages.render", side_effect=RuntimeError("boom")):
        response = client.get(reverse("core:legal_notice"))
    assert response.status_code == 500
    assert "Le service a un problème" in _text(response)


def test_expired_form_gets_a_plain_explanation(town):
    client = Client(HTTP_HOST="saint-aubin.test", enforce_csrf_checks=True)
    response = client.post(reverse("core:display"), {"large": "on"})
    assert response.status_code == 403
    body = _text(response)
    assert "Ce formulaire a expiré" in body and "Rien n'a été enregistré" in body
    assert DISPLAY_COOKIE not in response.cookies


def test_unknown_host_page_is_styled_but_names_no_commune(town):
    # A single commune answers on any host; with two, an unknown host is refused.
    with scopes_disabled():
        make_commune("Autre-Ville", hosts=("autre-ville.test",))
    from django.core.cache import cache

    cache.clear()
    response = Client(HTTP_HOST="ailleurs.test").get("/")
    assert response.status_code == 404
    body = _text(response)
    assert "site.css" in body
    assert "Saint-Aubin" not in body and "Autre-Ville" not in body


def test_commune_stylesheet_carries_its_colours(visitor):
    response = visitor.get(reverse("core:commune_css"))
    assert response["Content-Type"].startswith("text/css")
    css = _text(response)
    assert "--accent: #6a1b4d;" in css and "--tint: #" in css and "--accent-ink: #" in css


_DARK_ENOUGH = (
    st.tuples(*(st.integers(0, 255) for _ in range(3)))
    .map(lambda c: "#{:02x}{:02x}{:02x}".format(*c))
    .filter(lambda colour: contrast_ratio(colour, WHITE) >= 4.5)
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(_DARK_ENOUGH)
def test_any_accepted_accent_keeps_text_readable_on_its_tint(accent):
    palette = commune_palette(accent)
    assert palette["accent"] == accent
    assert contrast_ratio(palette["accent-ink"], palette["tint"]) >= 4.5
    for text in ("#1b1b1b", "#4a4a4a"):  # --text and --muted in site.css
        assert contrast_ratio(text, palette["tint"]) >= 4.5
    assert contrast_ratio("#6b6b6b", palette["tint"]) >= 3  # --border of form controls


def test_a_resident_page_weighs_under_100_kb(visitor):
    """HTML + CSS of the home page on first load (no script, no web font, no image by default)."""
    html = visitor.get("/").content
    css = (STATIC_DIR / "mairie" / "site.css").read_bytes()
    commune_css = visitor.get(reverse("core:commune_css")).content
    assert b"<script" not in html
    assert b"@font-face" not in css
    assert len(html) + len(css) + len(commune_css) < 100 * 1024


def test_health_check_answers_get_and_head_only_and_says_when_the_database_is_out(visitor):
    response = visitor.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert visitor.head("/healthz").status_code == 200
    assert visitor.post("/healthz").status_code == 405
    from django.db import OperationalError

    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError("down")):
        response = visitor.get("/healthz")
    assert response.status_code == 503 and response.json() == {"status": "database unavailable"}
