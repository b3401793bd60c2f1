"""The demo (``manage.py demo``) gives the operator and the relative ``proche`` a connected home to look at."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_scopes import scopes_disabled

from mairie.core.models import Commune, CommuneHost, User
from mairie.homecare.models import Alarm, Device, EnergyReading, Home, Schedule
from tests.homecare.people_support import client_as

pytestmark = pytest.mark.django_db


def test_the_demo_home_for_the_operator_and_the_relative():
    call_command("demo", quiet=True)
    call_command("demo", quiet=True)  # idempotent
    with scopes_disabled():
        commune = Commune.objects.get(slug="val-de-brume")
        CommuneHost.objects.get_or_create(host="val-de-brume.test", commune=commune)
        home = Home.objects.get(resident__username="jeanne")
        assert commune.has_module("homecare")
        assert Device.objects.filter(home=home).count() >= 14
        assert Alarm.objects.filter(home=home).count() == 2
        assert EnergyReading.objects.filter(home=home).count() > 1000
        assert Schedule.objects.filter(home=home).count() >= 3
        operator, relative = User.objects.get(username="operateur"), User.objects.get(username="proche")
    file = client_as(commune, operator).get(reverse("homecare:console_home", args=[home.pk])).content.decode()
    assert "chute" in file and "fausse alerte" in file
    assert "Consommation inhabituelle" in file
    page = client_as(commune, relative).get(reverse("homecare:family_home", args=[home.pk])).content.decode()
    assert "Tout est calme." in page and "Jeanne avait glissé" in page
