"""Keyboard only: the skip link, a visible focus on everything reached, signing in without a mouse."""

from __future__ import annotations

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from mairie.core.models import Role
from tests.browser.conftest import assert_accessible, focus_text_contrast, focused
from tests.factories import make_user

PASSWORD = "un chêne au bord du lac"


def _tab_to(page, element_id: str, limit: int = 25) -> list[dict]:
    """Presses Tab until ``element_id`` has focus; returns what had focus on the way."""
    path = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = focused(page)
        assert state is not None, "focus fell back to the page itself"
        path.append(state)
        if state["id"] == element_id:
            return path
    went = [(s["tag"], s["text"]) for s in path]
    raise AssertionError(f"#{element_id} never got focus; went through {went}")


def _assert_focus_visible(path: list[dict]) -> None:
    hidden = [s for s in path if not (s["outline"] or s["shadow"]) or not s["inView"]]
    assert not hidden, f"focus not visible on {[(s['tag'], s['id'], s['text']) for s in hidden]}"
    for state in path:
        ratio = focus_text_contrast(state)
        assert ratio is None or ratio >= 4.5, f"focused {state['tag']} {state['text']!r}: {ratio:.1f}:1"


def test_sign_in_with_the_keyboard_only(site, town):
    make_user(town, password=PASSWORD, email="clavier@example.org", first_name="Gisèle")
    page = site.page()
    page.goto("/connexion/")

    page.keyboard.press("Tab")
    skip = focused(page)
    assert skip["tag"] == "a" and skip["text"] == "Aller au contenu"
    _assert_focus_visible([skip])
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"

    path = _tab_to(page, "id_login")
    assert len(path) == 1, "after the skip link, the first field of the page comes first"
    page.keyboard.type("clavier@example.org")
    path += _tab_to(page, "id_password")
    page.keyboard.type(PASSWORD)
    _assert_focus_visible(path)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.rstrip("/") == site.url
    assert page.get_by_text("Bonjour Gisèle").is_visible()


def test_every_control_of_the_header_shows_its_focus(site, town):
    page = site.page()
    page.goto("/")
    path = []
    for _ in range(9):
        page.keyboard.press("Tab")
        path.append(focused(page))
    _assert_focus_visible(path)
    reached = {s["text"] for s in path}
    assert {"Aller au contenu", "Taille du texte et contrastes", "Accueil", "Se connecter"} <= reached


def test_wrong_password_error_is_announced_and_reachable(site, town):
    make_user(town, password=PASSWORD, email="clavier@example.org")
    page = site.page()
    page.goto("/connexion/")
    page.fill("#id_login", "clavier@example.org")
    page.fill("#id_password", "pas le bon")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    summary = page.locator(".error-summary")
    assert summary.get_attribute("role") == "alert"
    assert "ne correspond pas" in summary.inner_text()
    assert_accessible(page, "login error")


def test_second_factor_with_the_keyboard(site, town):
    """An operator (alarm data) signs in, is asked for the app's code, types it, and gets in."""
    operator = make_user(town, Role.OPERATOR, password=PASSWORD, email="centrale@example.org")
    device = TOTPDevice.objects.create(user=operator, name="téléphone", confirmed=True)
    page = site.page()
    page.goto("/mon-compte/")
    page.fill("#id_login", "centrale@example.org")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/double-authentification/" in page.url
    assert_accessible(page, "second factor")
    page.keyboard.press("Tab")
    path = _tab_to(page, "id_token")
    _assert_focus_visible(path)
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
    page.keyboard.type(f"{code:06d}")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/mon-compte/"), page.url
    assert page.locator("h1").inner_text() == "Mon compte"
