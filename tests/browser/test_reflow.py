"""Pages reflow: no sideways scrolling at 320 px wide (400 % zoom of a 1280 px window, WCAG 1.4.10) nor at 640 px
(200 % zoom); residents' pages with normal and with large text, and every other role's (a table may scroll
inside its own frame, never the page).

Zooming a 1280 px window to 200 % lays the page out in 640 CSS pixels, so a 640 px wide window shows exactly
what the zoomed one does. The pages are those a visitor and a resident reach by following links.
"""

from __future__ import annotations

import pytest

from mairie.core.context_processors import DISPLAY_COOKIE
from mairie.core.models import Role
from tests.browser.conftest import REFLOW_WIDTHS, overflow_problems
from tests.browser.crawl import Visit, crawl
from tests.factories import make_user
from tests.urlwalk import build_world


def crawl_at_every_width(page, base_url: str, starts: tuple[str, ...]) -> None:
    """Follows every link from ``starts``; each page is checked at every width; fails listing what sticks out."""

    def check(page, visit: Visit) -> list[str]:
        return overflow_problems(page, visit.url)

    result = crawl(page, base_url, starts, check=check, send_empty_forms=False)
    assert len(result.visits) >= 5
    if result.problems:
        pytest.fail("\n".join(result.problems), pytrace=False)


@pytest.mark.parametrize("large_text", [False, True], ids=["normal text", "large text"])
@pytest.mark.parametrize("who", ["visitor", Role.RESIDENT])
def test_resident_pages_never_scroll_sideways(site, town, who, large_text):
    user = (
        make_user(town, first_name="Marie-Bernadette", last_name="de La Tour-Villeneuve")
        if who != "visitor"
        else None
    )
    cookies = {DISPLAY_COOKIE: "large"} if large_text else {}
    page = site.page(user=user, cookies=cookies, width=REFLOW_WIDTHS[0], height=800)

    crawl_at_every_width(page, site.url, ("/", "/mon-compte/"))


STAFF = (
    Role.RELATIVE,
    Role.MEDIATOR,
    Role.FABLAB_MANAGER,
    Role.MODERATOR,
    Role.AGENT,
    Role.OPERATOR,
    Role.ADMIN,
)


@pytest.mark.parametrize("role", STAFF)
def test_staff_and_relatives_pages_never_scroll_sideways(site, town, role):
    """Staff work on phones and zoom too: their tables scroll inside their own frame, the page never sideways."""
    world = build_world(town, surname="Reflow")
    page = site.page(user=world.users[role], width=REFLOW_WIDTHS[0], height=800)

    crawl_at_every_width(page, site.url, ("/", "/gestion/", "/mon-compte/"))
