"""« Passerelles et appareils » for a commune's console: what is offline, silent or running out of battery, in this
commune only, for the console's people only, in a constant number of queries."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from mairie.core.models import Role
from mairie.homecare.models import Device, Gateway, Home
from tests.factories import make_user
from tests.homecare.homes_support import make_home
from tests.urlwalk import client_as

pytestmark = pytest.mark.django_db

URL = "/teleassistance/console/passerelles/"


def text(response) -> str:
    return html.unescape(response.content.decode())


def healthy_home(commune, resident, *, label: str, now) -> Home:
    """A home whose gateway is online and whose one device spoke a minute ago with a full battery."""
    with scope(commune=commune):
        home = Home.objects.create(commune=commune, resident=resident, label=label, address="1 place")
        gateway = Gateway.objects.create(
            commune=commune,
            home=home,
            mqtt_username=f"{commune.slug}-{home.pk}",
            base_topic=f"zigbee2mqtt/{commune.slug}/{home.pk}",
            online=True,
            last_seen_at=now - timedelta(hours=6),
        )
        Device.objects.create(
            commune=commune,
            home=home,
            gateway=gateway,
            friendly_name="salon/pir",
            kind=Device.Kind.MOTION,
            battery=90,
            last_seen_at=now - timedelta(minutes=1),
            supervision_deadline=now + timedelta(hours=1),
        )
    return home


@pytest.fixture
def operator(commune):
    return make_user(commune, Role.OPERATOR)


def test_the_url_is_the_console_gateways_page():
    assert reverse("homecare:console_gateways") == URL


def test_all_well_says_so(commune, operator):
    now = timezone.now()
    healthy_home(commune, make_user(commune), label="Maison des Lilas", now=now)
    commune.enabled_modules = ["homecare"]
    commune.save(update_fields=["enabled_modules"])

    response = client_as(commune.hosts.first().host, operator).get(URL)

    assert response.status_code == 200
    page = text(response)
    assert "Rien à signaler" in page
    assert "1 passerelle dans la commune" in page


def test_offline_or_silent_gateways_and_devices_offline_or_low_are_listed(commune, other_commune, operator):
    now = timezone.now()
    here = make_home(commune, now=now)
    far = make_home(other_commune, now=now)
    with scope(commune=commune):
        Gateway.objects.filter(pk=here.gateway.pk).update(online=False, last_seen_at=now - timedelta(hours=3))
        Device.objects.filter(pk=here.devices["smoke"].pk).update(battery=9, last_seen_at=now)
        Device.objects.filter(pk=here.devices["door"].pk).update(online=False)
    with scope(commune=other_commune):
        Device.objects.filter(pk=far.devices["smoke"].pk).update(battery=3)

    response = client_as(commune.hosts.first().host, operator).get(URL)

    assert response.status_code == 200
    page = text(response)
    assert "Rien à signaler" not in page
    assert here.resident.display_name in page
    assert "hors ligne" in page and "muette" in page
    assert "9 %" in page and "faible" in page
    assert reverse("homecare:console_home", args=[here.home.pk]) in page
    assert far.resident.display_name not in page  # another commune's homes are not shown here
    assert reverse("homecare:console_home", args=[far.home.pk]) not in page


@pytest.mark.parametrize("role", [None, Role.RELATIVE, Role.AGENT, Role.MEDIATOR])
def test_people_outside_the_console_are_refused(commune, role):
    make_home(commune, now=timezone.now())
    person = make_user(commune, *([role] if role else []))
    response = client_as(commune.hosts.first().host, person).get(URL)
    assert response.status_code == 403


def test_an_operator_of_another_commune_is_refused_here(commune, other_commune):
    make_home(commune, now=timezone.now())
    far_operator = make_user(other_commune, Role.OPERATOR)
    response = client_as(commune.hosts.first().host, far_operator).get(URL)
    assert response.status_code == 403


def test_the_queries_do_not_grow_with_the_homes(commune, operator):
    now = timezone.now()
    make_home(commune, now=now)
    client = client_as(commune.hosts.first().host, operator)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(URL)
        assert response.status_code == 200
        return len(captured)

    client.get(URL)
    with_one = queries()
    for i in range(4):
        home = make_home(commune, now=now)
        with scope(commune=commune):
            Gateway.objects.filter(pk=home.gateway.pk).update(online=False)
            Device.objects.filter(home=home.home).update(battery=5 + i)
    assert queries() == with_one
