"""The operator console in a real browser: a new alarm told over the socket appears without reloading, flashes,
is announced to screen readers, counts in the tab's title and beeps once the operator switched the sound on;
one click takes it in hand. Without JavaScript the page refreshes itself. The socket server is played by
Playwright (the live server of these tests speaks HTTP only)."""

from __future__ import annotations

import re
import time

from django.utils import timezone
from django_scopes import scopes_disabled

from mairie.core.models import Role
from mairie.homecare.models import Alarm
from tests.browser.conftest import axe_violations, describe_violations
from tests.factories import make_user
from tests.homecare.homes_support import fixture, make_home

CONSOLE_SOCKET = re.compile(r".*/ws/teleassistance/console/")
# Counts the sounds played (a test cannot hear them): replaces play() before the page's scripts run.
COUNT_PLAYS = """
window.__plays = 0;
HTMLMediaElement.prototype.play = function () { window.__plays += 1; return Promise.resolve(); };
"""


class FakeServer:
    def __init__(self) -> None:
        self.connections: list = []

    def __call__(self, ws) -> None:
        self.connections.append(ws)
        ws.send('{"event": "hello"}')


def _wait(page, predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        page.wait_for_timeout(100)


def test_a_new_alarm_appears_flashes_and_beeps_then_one_click_takes_it(site, town):
    now = timezone.now()
    world = make_home(town, now=now)
    operator = make_user(town, Role.OPERATOR, first_name="Octave")
    server = FakeServer()
    page = site.page(user=operator)
    page.add_init_script(COUNT_PLAYS)
    page.route_web_socket(CONSOLE_SOCKET, server)
    page.goto("/teleassistance/console/")
    assert page.locator("#console-count").inner_text() == "Aucune alarme en cours."
    _wait(page, lambda: bool(server.connections), timeout=10, what="the console's socket")
    sound = page.locator("#console-sound-toggle")
    assert sound.inner_text() == "Activer le son"
    sound.click()
    assert sound.get_attribute("aria-pressed") == "true"
    plays = page.evaluate("() => window.__plays")

    outcome = world.send("sos", fixture("tuya_sos_TS0215A.json"), timezone.now())
    alarm_id = outcome.alarm_ids[0]
    server.connections[-1].send(f'{{"event": "alarm.raised", "alarm_id": {alarm_id}}}')
    row = page.locator(f'tr[data-alarm="{alarm_id}"]')
    _wait(page, lambda: row.count() == 1, timeout=10, what="the new alarm in the list")
    assert "is-new" in (row.get_attribute("class") or "")
    assert page.title().startswith("(1) ")
    assert "Nouvelle alarme : appel à l'aide" in page.locator("#console-announce").inner_text()
    assert page.evaluate("() => window.__plays") == plays + 1
    problems = axe_violations(page)
    assert not problems, describe_violations("console with a waiting alarm", problems)

    with page.expect_navigation():
        row.get_by_role("button", name=re.compile("Prendre en charge")).click()
    assert page.get_by_text("Vous avez pris l'alarme en charge").is_visible()
    assert not page.title().startswith("(")
    with scopes_disabled():
        alarm = Alarm.objects.get(pk=alarm_id)
    assert alarm.state == Alarm.State.ACKNOWLEDGED and alarm.acknowledged_by == operator


def test_without_javascript_the_console_refreshes_itself(site, town):
    with scopes_disabled():
        town.enabled_modules = ["homecare"]
        town.save(update_fields=["enabled_modules"])
    operator = make_user(town, Role.OPERATOR)
    page = site.page(user=operator, javascript=False)
    page.goto("/teleassistance/console/")
    # A browser without JavaScript reads the <noscript> element's content: the page reloads every 30 seconds.
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in page.content()
    assert page.get_by_role("link", name="Actualiser").is_visible()
    assert page.locator("#console-sound-toggle").is_hidden()  # needs JavaScript: not offered without it
