"""Resident pages work with JavaScript off: sign up, sign out, sign in, display settings, language."""

from __future__ import annotations

from django.conf import settings
from django_scopes import scopes_disabled

from mairie.core.context_processors import DISPLAY_COOKIE
from mairie.core.models import User

PASSWORD = "trois pommes sur la table"


def _submit(page, label: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=label).click()


def test_a_resident_does_everything_without_javascript(site, town):
    page = site.page(javascript=False)
    page.goto("/")
    page.get_by_role("link", name="Créer un compte").first.click()

    # Sign up: an empty form first, then a good one.
    _submit(page, "Créer mon compte")
    assert page.locator(".error-summary").is_visible()
    assert page.locator("#id_first_name").get_attribute("aria-invalid") == "true"
    page.fill("#id_first_name", "Lucienne")
    page.fill("#id_last_name", "Hamon")
    page.fill("#id_email", "lucienne.hamon@example.org")
    page.fill("#id_password", PASSWORD)
    _submit(page, "Créer mon compte")
    assert page.url.endswith("/mon-compte/")
    assert page.get_by_text("Bonjour Lucienne").is_visible()
    with scopes_disabled():
        assert User.objects.filter(email="lucienne.hamon@example.org").exists()

    # Sign out, then in again with the password.
    _submit(page, "Se déconnecter")
    assert page.get_by_role("link", name="Se connecter").first.is_visible()
    page.get_by_role("link", name="Se connecter").first.click()
    page.fill("#id_login", "lucienne.hamon@example.org")
    page.fill("#id_password", PASSWORD)
    page.locator("main").get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    assert page.get_by_text("Bonjour Lucienne").is_visible()

    # Larger text and stronger contrast, then back to the page she came from.
    page.goto("/confidentialite/")
    page.get_by_role("link", name="Taille du texte et contrastes").click()
    page.get_by_label("Texte plus grand").check()
    page.get_by_label("Contrastes renforcés (noir sur blanc)").check()
    _submit(page, "Enregistrer")
    assert page.get_by_role("status").inner_text().startswith("C'est enregistré sur cet appareil.")
    assert page.evaluate("document.documentElement.className") == "display-large display-contrast"
    page.get_by_role("link", name="Revenir à la page où vous étiez").click()
    assert page.url.endswith("/confidentialite/")
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "20px"
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    assert cookies[DISPLAY_COOKIE] == "large-contrast"

    # English, and back to French.
    _submit(page, "English")
    assert page.url.endswith("/confidentialite/")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("h1").inner_text() == "Your personal data"
    _submit(page, "Français")
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert page.locator("h1").inner_text() == "Vos données personnelles"
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    assert cookies[settings.LANGUAGE_COOKIE_NAME] == "fr"


def test_display_settings_work_for_a_visitor_without_an_account(site, town):
    page = site.page(javascript=False)
    page.goto("/affichage/")
    page.get_by_label("Texte plus grand").check()
    _submit(page, "Enregistrer")
    page.goto("/")
    assert page.evaluate("document.documentElement.className") == "display-large"
    assert page.get_by_role("link", name="Se connecter").first.is_visible()
