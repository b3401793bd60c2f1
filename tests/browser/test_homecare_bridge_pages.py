"""The bridge pages in a real browser: no axe-core violation (WCAG 2.1 A and AA, and the suite's structure
rules), the error after a refused note included; without JavaScript, a dead letter is closed from its form.

The crawler leaves ``/admin/`` alone and walks as a commune's people, never as a platform operator, so these
pages are checked here, with the session's browser.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from mairie.core.models import Role, User
from mairie.homecare.bridge_stats import add_counts, keep_dead_letter
from mairie.homecare.models import BridgeCounter, Device, Gateway
from tests.factories import make_user
from tests.homecare.homes_support import make_home


@pytest.fixture
def browser_tools(site: Any, town: Any) -> dict[str, Any]:
    from tests.browser import conftest as harness

    return {"site": site, "town": town, "harness": harness}


def _problems(harness: Any, page: Any, where: str) -> list[str]:
    violations = harness.axe_violations(page)
    return [harness.describe_violations(where, violations)] if violations else []


def test_the_bridge_pages_pass_axe(browser_tools):
    site, town, harness = browser_tools["site"], browser_tools["town"], browser_tools["harness"]
    now = timezone.now()
    home = make_home(town, now=now)
    with scopes_disabled():
        Gateway.objects.filter(pk=home.gateway.pk).update(online=True)
        Device.objects.filter(pk=home.devices["smoke"].pk).update(battery=8, online=False)
    add_counts(bridge="mairie-bridge-1", counts={"ok": 5, "unknown_device": 2, "error": 2})
    BridgeCounter.objects.update(updated_at=now - timedelta(minutes=20))
    for i in range(2):
        keep_dead_letter(
            bridge="mairie-bridge-1",
            topic=f"zigbee2mqtt/val-de-brume/1/salon{i}",
            payload=b"<b>pas du HTML</b>" * 40,
            error="RuntimeError('boom')",
            received_at=now,
        )
    platform_operator = User.objects.create_superuser(
        "exploitant", password="une phrase de passe solide 2025"
    )
    operator = make_user(town, Role.OPERATOR)
    problems: list[str] = []

    page = site.page(user=platform_operator)
    response = page.goto(site.url + "/admin/homecare/bridgedeadletter/")
    assert response is not None and response.status == 200
    assert page.locator("h1").inner_text() == "État du pont MQTT"
    problems += _problems(harness, page, "État du pont MQTT")

    gateways = site.page(user=operator)
    response = gateways.goto(site.url + "/teleassistance/console/passerelles/")
    assert response is not None and response.status == 200
    problems += _problems(harness, gateways, "Passerelles")

    # A note left empty (the browser's own check bypassed, as an old browser would): the error page is accessible.
    page.locator("textarea").first.evaluate("field => { field.value = ''; field.form.noValidate = true; }")
    page.get_by_role("button", name="Marquer comme traité").first.click()
    page.wait_for_load_state()
    assert "Écrivez en quelques mots" in page.content()
    problems += _problems(harness, page, "État du pont MQTT, note refusée")

    assert not problems, "\n\n".join(problems)


def test_without_javascript_a_dead_letter_is_closed_from_the_plain_form(browser_tools):
    site = browser_tools["site"]
    keep_dead_letter(
        bridge="mairie-bridge-1",
        topic="zigbee2mqtt/val-de-brume/1/salon",
        payload=b'{"occupancy": true}',
        error="RuntimeError('boom')",
        received_at=timezone.now(),
    )
    platform_operator = User.objects.create_superuser(
        "exploitant", password="une phrase de passe solide 2025"
    )
    page = site.page(user=platform_operator, javascript=False)
    page.goto(site.url + "/admin/homecare/bridgedeadletter/")

    page.get_by_label("Pourquoi ce message n’a pas besoin d’être rejoué").fill("Passerelle de démonstration.")
    page.get_by_role("button", name="Marquer comme traité").click()

    assert "Message marqué comme traité" in page.content()
    assert "Aucun message mis de côté à traiter." in page.content()
