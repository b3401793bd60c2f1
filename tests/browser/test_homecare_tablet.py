"""The resident's tablet in a real browser: everything works with JavaScript off (plain forms), the page passes
axe, and with JavaScript on it keeps its socket open: closed by the server (a network loss, a restart), it
reconnects by itself with a growing wait, and refreshes what it shows when told something happened.

The WebSocket server is played by Playwright (``page.route_web_socket``): the live server of these tests speaks
HTTP only, and what is tested here is the page's own behaviour (the server side has its tests in
tests/homecare/test_console_live.py)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from mairie.homecare.models import Alarm, Home, ServiceRequest
from mairie.homecare.tablet import tablet_token
from tests.browser.conftest import axe_violations, describe_violations
from tests.homecare.homes_support import make_home
from tests.homecare.people_support import add_controls

HOME_SOCKET = re.compile(r".*/ws/teleassistance/maison/\d+/.*")


def _tablet(town):
    now = timezone.now()
    world = add_controls(make_home(town, now=now), now)
    with scope(commune=town):
        world.url = reverse("homecare:tablet", args=[tablet_token(world.home)])
    return world


def _press(page, name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=name).click()


def test_the_tablet_works_without_javascript(site, town):
    world = _tablet(town)
    with scopes_disabled():
        Home.objects.filter(pk=world.home.pk).update(
            inactivity_state=Home.InactivityState.WARNING,
            inactivity_deadline=timezone.now() + timedelta(minutes=9),
        )
    # axe-core runs in the page, so it needs JavaScript: the page as a script-enabled kiosk shows it.
    checked = site.page(width=1024, height=768)
    checked.goto(world.url)
    problems = axe_violations(checked)
    assert not problems, describe_violations("tablet with a warning", problems)

    page = site.page(javascript=False, width=1024, height=768)
    page.goto(world.url)
    assert page.get_by_role("alert").filter(has_text="Tout va bien ?").is_visible()

    _press(page, "Tout va bien")
    assert page.get_by_text("Merci ! C'est noté : tout va bien.").is_visible()
    assert page.get_by_text("Tout va bien ?").count() == 0

    # A service: first without saying what "something else" is, then properly.
    page.get_by_label("Autre chose").check()
    _press(page, "Envoyer ma demande")
    assert page.locator(".error-summary").is_visible()
    assert page.locator("#demande-message").get_attribute("aria-invalid") == "true"
    page.get_by_label("Repas livré").check()
    page.get_by_label("Précisions").fill("Un repas sans sel")
    _press(page, "Envoyer ma demande")
    assert page.get_by_text("Votre demande est envoyée à la mairie.").is_visible()

    page.get_by_role("button", name="Fermer").click()
    page.wait_for_load_state()
    assert page.locator(".tablet-state").filter(has_text="En attente de confirmation").count() == 1

    _press(page, "Appeler à l'aide")
    assert page.get_by_text("Votre appel à l'aide est parti.").is_visible()
    with scopes_disabled():
        assert Alarm.objects.filter(home=world.home, kind=Alarm.Kind.SOS).count() == 1
        assert ServiceRequest.objects.filter(home=world.home, kind="meal").count() == 1
    assert page.locator(".tablet-alarm").count() == 1
    checked.goto(world.url)
    problems = axe_violations(checked)
    assert not problems, describe_violations("tablet after a call and a request", problems)


class FakeServer:
    """Plays the WebSocket server: counts connections, refuses the first ``refuse`` of them, can close them."""

    def __init__(self, refuse: int = 0) -> None:
        self.connections: list = []
        self.refuse = refuse

    def __call__(self, ws) -> None:
        self.connections.append(ws)
        if len(self.connections) <= self.refuse:
            ws.close()
            return
        ws.send('{"event": "hello"}')
        ws.on_message(lambda message: ws.send('{"event": "pong"}') if "ping" in str(message) else None)


def _wait(page, predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        page.wait_for_timeout(100)  # lets Playwright dispatch the socket callbacks meanwhile


def test_the_tablet_reconnects_by_itself_with_a_growing_wait(site, town):
    world = _tablet(town)
    server = FakeServer(refuse=3)
    page = site.page(width=1024, height=768)
    page.route_web_socket(HOME_SOCKET, server)
    page.goto(world.url)
    stats = "() => window.homecareHome.stats"
    # Three refused attempts, then the server accepts: each wait about twice the previous one.
    _wait(page, lambda: page.evaluate(stats)["opened"] == 1, timeout=20, what="the socket to open")
    delays = page.evaluate(stats)["delays"]
    assert len(delays) == 3
    assert 500 <= delays[0] <= 1000 and 1000 <= delays[1] <= 2000 and 2000 <= delays[2] <= 4000
    assert "jeton=" in server.connections[-1].url  # the tablet's link opens its socket

    # The server goes away (a network loss, a restart): the page reconnects by itself, quickly again.
    server.connections[-1].close()
    _wait(page, lambda: page.evaluate(stats)["opened"] == 2, timeout=10, what="the socket to reopen")
    assert page.evaluate(stats)["delays"][-1] <= 1000
    assert len(server.connections) == 5

    # Told that something happened, the page shows it without being reloaded by hand.
    with scope(commune=town):
        from mairie.core.acting import Actor
        from mairie.homecare.tablet import tablet_call_for_help

        tablet_call_for_help(actor=Actor.himself(world.resident, town), home=world.home)
    marker = page.evaluate("() => { window.notReloaded = true; return true; }")
    server.connections[-1].send('{"event": "alarm.acknowledged"}')
    _wait(
        page,
        lambda: page.locator(".tablet-alarm").count() == 1,
        timeout=10,
        what="the live part of the page to show the call",
    )
    assert marker and page.evaluate("() => window.notReloaded === true")  # refreshed in place


def test_a_pending_command_is_followed_until_the_device_confirms(site, town):
    world = _tablet(town)
    server = FakeServer()
    page = site.page(width=1024, height=768)
    page.route_web_socket(HOME_SOCKET, server)
    page.goto(world.url)
    shutter = page.locator(f'[data-device="{world.devices["shutter"].pk}"]')
    with page.expect_navigation():
        shutter.get_by_role("button", name="Ouvrir").click()
    assert shutter.locator(".tablet-state").inner_text() == "En attente de confirmation…"
    assert page.locator("#tablet-live").get_attribute("data-pending") == "1"
    # The gateway reports the shutter open: the page, polling while a command waits, shows it within seconds.
    now = timezone.now()
    world.send("shutter", {"state": "OPEN", "position": 100}, now + timedelta(seconds=1))
    _wait(
        page,
        lambda: shutter.locator(".tablet-state").inner_text() == "Ouvert",
        timeout=10,
        what="the confirmed state",
    )
    assert page.locator("#tablet-live").get_attribute("data-pending") == "0"


def test_the_tablet_and_the_relatives_page_never_scroll_sideways(site, town):
    from mairie.core.context_processors import DISPLAY_COOKIE
    from tests.browser.conftest import horizontal_overflow

    world = _tablet(town)
    with scopes_disabled():
        Home.objects.filter(pk=world.home.pk).update(
            inactivity_state=Home.InactivityState.WARNING,
            inactivity_deadline=timezone.now() + timedelta(minutes=9),
        )
    problems = []
    for cookies in ({}, {DISPLAY_COOKIE: "large"}):
        for user, url in (
            (None, world.url),
            (world.contacts[0].user, reverse("homecare:family_home", args=[world.home.pk])),
            (world.contacts[0].user, reverse("homecare:family_energy", args=[world.home.pk])),
            (world.contacts[0].user, reverse("homecare:family")),
        ):
            page = site.page(user=user, cookies=cookies, width=320, height=800)
            page.goto(url)
            for width in (320, 640):
                page.set_viewport_size({"width": width, "height": 800})
                extra, culprits = horizontal_overflow(page)
                if extra > 0:
                    problems.append(
                        f"{url} at {width} px {cookies}: {extra} px too wide, because of {culprits}"
                    )
    assert not problems, "\n".join(problems)
