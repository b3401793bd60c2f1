"""Browser tests: Playwright's sync API driving Debian's Chromium against pytest-django's live server.

One browser for the whole session (started here, not by pytest-playwright, whose fixtures clash with
pytest-asyncio); a fresh context per person so cookies never leak between roles. axe-core 4.14.1 is injected
with ``page.evaluate`` because the Content-Security-Policy (``script-src 'self'``) blocks ``add_script_tag``.

Run: ``.venv/bin/python -m pytest -p no:playwright -m browser tests/browser`` (``-p no:playwright`` only
matters if pytest-playwright happens to be installed).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django_scopes import scopes_disabled

# Playwright's sync API runs an event loop in this thread; Django would refuse database access from it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from mairie.core.colors import contrast_ratio
from mairie.core.models import Commune, User
from tests.factories import make_commune
from tests.urlwalk import asks_second_factor, verify_second_factor

CHROMIUM = os.environ.get("MAIRIE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe-4.14.1.min.js").read_text(encoding="utf-8")
# The WCAG 2.1 A and AA rules, plus axe's structural best practices that RGAA asks for too (one h1, heading
# levels in order, landmarks, a working skip link, no positive tabindex).
STRUCTURE_RULES = (
    "heading-order",
    "page-has-heading-one",
    "empty-heading",
    "landmark-one-main",
    "landmark-unique",
    "landmark-no-duplicate-banner",
    "landmark-no-duplicate-contentinfo",
    "region",
    "skip-link",
    "tabindex",
)
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "rules": {rule: {"enabled": True} for rule in STRUCTURE_RULES},
    "resultTypes": ["violations"],
}
BACKEND = "mairie.core.auth_backends.LoginBackend"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser drives a browser: mark it so ``-m "not browser"`` leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it (apt-get install chromium) or set MAIRIE_CHROMIUM."
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def town(transactional_db: None) -> Commune:
    """The commune the live server answers for: its host is ``localhost``, the live server's host."""
    with scopes_disabled():
        return make_commune(
            "Val-de-Brume",
            hosts=("localhost",),
            address="1 place de la Mairie\n99001 Val-de-Brume",
            phone="02 99 00 00 00",
            email="mairie@val-de-brume.test",
            opening_hours="Lundi, mardi, jeudi : 9 h – 12 h\nSamedi : 9 h – 11 h",
            welcome_text="Réservez un atelier, demandez un coup de main, faites vos démarches.",
        )


class Site:
    """The live server as seen by a browser: new contexts, signed in or not, with or without JavaScript."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.browser = browser
        self.url = url.rstrip("/")
        self._contexts: list[BrowserContext] = []

    def context(
        self,
        *,
        user: User | None = None,
        javascript: bool = True,
        width: int = 1280,
        height: int = 900,
        cookies: dict[str, str] | None = None,
        session_data: dict[str, Any] | None = None,
        **options: Any,
    ) -> BrowserContext:
        context = self.browser.new_context(
            base_url=self.url,
            locale="fr-FR",
            java_script_enabled=javascript,
            viewport={"width": width, "height": height},
            **options,
        )
        context.set_default_timeout(10_000)
        jar = dict(cookies or {})
        if user is not None:
            jar[settings.SESSION_COOKIE_NAME] = signed_in_session(user, session_data or {})
        if jar:
            context.add_cookies(
                [{"name": name, "value": value, "url": self.url} for name, value in jar.items()]
            )
        self._contexts.append(context)
        return context

    def page(self, **options: Any) -> Page:
        return self.context(**options).new_page()

    def close(self) -> None:
        for context in self._contexts:
            context.close()


@pytest.fixture
def site(browser: Browser, live_server: Any, town: Commune) -> Iterator[Site]:
    here = Site(browser, live_server.url)
    yield here
    here.close()


def signed_in_session(user: User, data: dict[str, Any] | None = None) -> str:
    """A session cookie for ``user``, second factor passed when their roles need one (as django_otp marks it).

    ``data`` goes into the session too (for example the mandate of a staff member acting for a resident).
    """
    client = Client()
    client.force_login(user, backend=BACKEND)
    if data:
        session = client.session
        session.update(data)
        session.save()
    if asks_second_factor(user):
        verify_second_factor(client, user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


# ------------------------------------------------------------------------------------------------
# axe-core
# ------------------------------------------------------------------------------------------------


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Runs axe-core's WCAG 2.1 A and AA rules on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE)
    result = page.evaluate("async (options) => await window.axe.run(document, options)", AXE_OPTIONS)
    return list(result["violations"])


def describe_violations(where: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{where}: {len(violations)} axe violation(s)"]
    for violation in violations:
        lines.append(
            f"  [{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})"
        )
        for node in violation["nodes"][:5]:
            target = " ".join(str(part) for part in node["target"])
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"      at {target}: {summary[:300]}")
        if len(violation["nodes"]) > 5:
            lines.append(f"      … and {len(violation['nodes']) - 5} more")
    return "\n".join(lines)


def assert_accessible(page: Page, where: str | None = None) -> None:
    violations = axe_violations(page)
    assert not violations, describe_violations(where or page.url, violations)


_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const extra = document.documentElement.scrollWidth - width;
  const culprits = [];
  if (extra > 0) {
    for (const element of document.body.querySelectorAll('*')) {
      const box = element.getBoundingClientRect();
      // What sticks out of a table's own scrolling frame does not widen the page, unless it escapes it.
      const framed = element.closest('.table-scroll') && getComputedStyle(element).position !== 'absolute';
      if (box.right > width + 1 && !framed) {
        const classes = typeof element.className === 'string' ? element.className.trim() : '';
        const name = element.tagName.toLowerCase() + (element.id ? '#' + element.id : '')
          + (classes ? '.' + classes.split(/\\s+/).join('.') : '');
        culprits.push(`${name} (right edge at ${Math.round(box.right)} px)`);
        if (culprits.length >= 5) break;
      }
    }
  }
  return {extra, culprits};
}"""


def horizontal_overflow(page: Page) -> tuple[int, list[str]]:
    """How many CSS pixels the page is wider than the window, and the first elements sticking out."""
    facts = page.evaluate(_OVERFLOW)
    return int(facts["extra"]), list(facts["culprits"])


REFLOW_WIDTHS = (320, 640)  # 400 % and 200 % zoom of a 1280 px window (WCAG 1.4.10)


def overflow_problems(page: Page, where: str, widths: tuple[int, ...] = REFLOW_WIDTHS) -> list[str]:
    """What makes the page wider than the window at each width, said for a failure; the window is left at the
    first width."""
    problems = []
    for width in widths:
        page.set_viewport_size({"width": width, "height": 800})
        extra, culprits = horizontal_overflow(page)
        if extra > 0:
            problems.append(f"{where} at {width} px: {extra} px too wide, because of {culprits}")
    page.set_viewport_size({"width": widths[0], "height": 800})
    return problems


FOCUS_STYLE = """() => {
  const element = document.activeElement;
  if (!element || element === document.body) return null;
  const style = getComputedStyle(element);
  const box = element.getBoundingClientRect();
  return {
    tag: element.tagName.toLowerCase(), id: element.id, name: element.getAttribute('name'),
    text: (element.innerText || element.value || '').trim().slice(0, 60),
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2
      && style.outlineColor !== 'rgba(0, 0, 0, 0)',
    shadow: style.boxShadow !== 'none',
    inView: box.bottom > 0 && box.top < window.innerHeight && box.right > 0 && box.left < window.innerWidth,
    color: style.color, background: style.backgroundColor,
  };
}"""


def focused(page: Page) -> dict[str, Any] | None:
    """What has keyboard focus, whether it shows it (an outline or a ring) inside the window, its colours."""
    return page.evaluate(FOCUS_STYLE)  # type: ignore[no-any-return]


def _hex(css_colour: str) -> str | None:
    """``rgb(255, 191, 71)`` → ``#ffbf47``; None for a transparent colour."""
    numbers = [float(n) for n in re.findall(r"[\d.]+", css_colour)]
    if len(numbers) < 3 or (len(numbers) == 4 and numbers[3] == 0):
        return None
    return "#" + "".join(f"{round(n):02x}" for n in numbers[:3])


def focus_text_contrast(state: dict[str, Any]) -> float | None:
    """Contrast of the focused element's text on its own background, when it paints one (a focused link)."""
    background, colour = _hex(state["background"]), _hex(state["color"])
    if background is None or colour is None:
        return None
    return contrast_ratio(colour, background)
