"""A relative's alarm flow without JavaScript: the link of the alarm SMS, the page, "Je m'en occupe"; then the
homes they follow from the commune's home page. The link's page (which the crawler cannot reach: it needs a
signed token) is checked with axe in a browser with JavaScript (axe runs as a script)."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone
from django_scopes import scope, scopes_disabled

from mairie.core.models import Notification
from mairie.homecare.models import Alarm
from tests.browser.conftest import assert_accessible
from tests.homecare.homes_support import fixture, make_home

LINK = re.compile(r"/teleassistance/acquitter/[^\s/]+/")


def _submit(page, name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=name).first.click()


def test_a_relative_acknowledges_an_alarm_from_the_sms_link_without_javascript(site, town):
    now = timezone.now()
    world = make_home(town, now=now - timedelta(minutes=5))
    outcome = world.send("sos", fixture("tuya_sos_TS0215A.json"), now)
    relative = world.contacts[0].user
    with scopes_disabled():
        sms = Notification.objects.get(recipient=relative, channel="sms", template="homecare/alarm")
    path = LINK.search(sms.body).group(0)

    checked = site.page()
    checked.goto(path)  # looking changes nothing
    assert_accessible(checked, "alarm acknowledgement link")

    page = site.page(javascript=False)
    page.goto(path)
    assert page.locator("h1").inner_text() == "Alarme : appel à l'aide"
    assert page.get_by_text(world.resident.display_name).is_visible()
    _submit(page, "Je m'en occupe")
    assert page.get_by_role("status").inner_text().startswith("Merci.")
    checked.goto(path)
    assert checked.get_by_role("status").inner_text().startswith("Cette alarme est déjà prise en charge")
    assert_accessible(checked, "alarm already acknowledged")
    with scope(commune=town):
        alarm = Alarm.objects.get(pk=outcome.alarm_ids[0])
    assert alarm.state == "acknowledged" and alarm.acknowledged_by_contact == world.contacts[0]

    # Signed in, the relative finds the home they follow from the commune's home page.
    page = site.page(javascript=False, user=relative)
    page.goto("/")
    page.get_by_role("link", name="Maisons connectées et téléassistance").click()
    assert page.url.endswith("/teleassistance/")
    assert page.get_by_role("heading", name=f"Maison 12 — {world.resident.display_name}").is_visible()
    assert page.get_by_role("cell", name="prise en charge").is_visible()
