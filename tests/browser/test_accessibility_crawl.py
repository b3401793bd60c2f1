"""Every page, for every role (and for a visitor), has no axe-core violation of the WCAG 2.1 A and AA rules.

The crawler starts at the home page, "Mon compte" and "Gestion", follows the links each person sees, and also
checks each page's forms sent empty, so error messages are checked too. Besides one person per role, it walks
as a town-hall agent acting for a resident (the "acting for" banner), as a visitor with large text and high
contrast, and as a resident reading the site in English. A page with the same HTML as one already checked
(another role seeing the same page) is not checked twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings

from mairie.core.acting import SESSION_KEY as ACTING_SESSION_KEY
from mairie.core.context_processors import DISPLAY_COOKIE
from mairie.core.models import Role
from tests.browser.conftest import axe_violations, describe_violations
from tests.browser.crawl import Visit, crawl, dom_fingerprint
from tests.urlwalk import build_world

STARTS = ("/", "/mon-compte/", "/gestion/", "/cette-page-n-existe-pas/")


@dataclass(frozen=True)
class Persona:
    label: str
    role: str | None  # None: a visitor who is not signed in
    cookies: dict[str, str] = field(default_factory=dict)
    acting: bool = False  # a town-hall agent acting for a resident, with the resident's accord


PERSONAS = (
    Persona("visitor", None),
    *(Persona(role, role) for role in Role.values),
    Persona("agent acting for a resident", Role.AGENT, acting=True),
    Persona("visitor, large text and high contrast", None, cookies={DISPLAY_COOKIE: "large-contrast"}),
    Persona("resident, in English", Role.RESIDENT, cookies={settings.LANGUAGE_COOKIE_NAME: "en"}),
)


# Page fingerprint → where it was checked, for this test process: a page another persona already checked (same
# HTML but for names, tokens and ids) is not checked again.
_CHECKED: dict[str, str] = {}
_SEEN_FORMS: set[str] = set()


@pytest.mark.parametrize("persona", PERSONAS, ids=[p.label for p in PERSONAS])
def test_every_page_passes_axe(site, town, persona):
    world = build_world(town, surname="Axe")
    user = world.users[persona.role] if persona.role else None
    private = [user.display_name, user.get_short_name(), user.username, user.email or ""] if user else []
    session: dict[str, Any] = {ACTING_SESSION_KEY: world.objects["mandate"].pk} if persona.acting else {}
    page = site.page(user=user, cookies=persona.cookies, session_data=session)

    def check(page, visit: Visit) -> list[str]:
        where = f"{persona.label} — {visit.url}" + (
            f" (form {visit.via_form} sent empty)" if visit.via_form else ""
        )
        fingerprint = dom_fingerprint(page, private)
        if fingerprint in _CHECKED:
            return []
        _CHECKED[fingerprint] = where
        violations = axe_violations(page)
        return [describe_violations(where, violations)] if violations else []

    result = crawl(page, site.url, STARTS, check=check, seen_forms=_SEEN_FORMS)
    paths = " ".join(
        v.url.replace(site.url, "") + (" (sent empty)" if v.via_form else "") for v in result.visits
    )
    print(f"{persona.label}: {len(result.visits)} pages: {paths}")
    assert len(result.visits) >= 3, f"{persona.label} reached almost nothing: {paths}"
    if persona.acting:
        assert page.locator(".on-behalf").count() == 1, "an agent acting for a resident sees the banner"
    if result.problems:
        pytest.fail("\n\n".join(result.problems), pytrace=False)
