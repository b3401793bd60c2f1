"""Relatives ("Mes proches"): a relative sees their senior's home (state, open alarms with their timeline) and
takes an alarm in hand; never another home's, never another commune's (404)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django_scopes import scopes_disabled

from mairie.core.models import AuditEntry
from mairie.homecare.models import Alarm, Home
from tests.homecare.homes_support import make_home
from tests.homecare.people_support import client_as, raise_sos

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
T = datetime(2026, 11, 26, 14, 0, tzinfo=PARIS)


@pytest.fixture
def home_a(commune):
    with time_machine.travel(T, tick=False):
        return make_home(commune, now=T)


@pytest.fixture
def home_b(commune):
    with time_machine.travel(T, tick=False):
        return make_home(commune, now=T)


def get(client, url, at=T + timedelta(minutes=2)):
    with time_machine.travel(at, tick=False):
        return client.get(url)


def post(client, url, at=T + timedelta(minutes=2)):
    with time_machine.travel(at, tick=False):
        return client.post(url)


def test_a_calm_home(home_a):
    relative = client_as(home_a.commune, home_a.contacts[0].user)
    listing = get(relative, reverse("homecare:family")).content.decode()
    assert home_a.resident.display_name in listing and "Tout est calme" in listing
    page = get(relative, reverse("homecare:family_home", args=[home_a.home.pk]))
    assert page.status_code == 200
    assert "Tout est calme." in page.content.decode()


def test_an_alarm_in_progress_with_its_timeline_and_the_button(home_a):
    alarm = raise_sos(home_a, T)
    relative = client_as(home_a.commune, home_a.contacts[0].user)
    assert "1 alarme en cours" in get(relative, reverse("homecare:family")).content.decode()
    text = get(relative, reverse("homecare:family_home", args=[home_a.home.pk])).content.decode()
    assert "1 alarme en cours." in text
    assert "alarme déclenchée" in text and "personne prévenue — Proche 1" in text
    assert reverse("homecare:family_acknowledge", args=[alarm.pk]) in text
    with scopes_disabled():
        assert AuditEntry.objects.filter(
            action="homecare.home.viewed", object_id=str(home_a.home.pk), actor=home_a.contacts[0].user
        ).exists()


def test_a_relative_takes_the_alarm_in_hand_and_the_chain_stops(home_a):
    alarm = raise_sos(home_a, T)
    relative = client_as(home_a.commune, home_a.contacts[1].user)  # the second on the list may answer first
    response = post(relative, reverse("homecare:family_acknowledge", args=[alarm.pk]))
    assert response.status_code == 302
    with scopes_disabled():
        alarm.refresh_from_db()
    assert alarm.state == Alarm.State.ACKNOWLEDGED
    assert alarm.acknowledged_by == home_a.contacts[1].user and alarm.next_escalation_at is None
    text = get(relative, response["Location"]).content.decode()
    assert "Merci. Vous avez pris l&#x27;alarme en charge" in text
    assert "prise en charge — Proche 2" in text


def test_a_relative_of_home_a_cannot_see_or_acknowledge_home_b(home_a, home_b):
    alarm_b = raise_sos(home_b, T)
    relative_a = client_as(home_a.commune, home_a.contacts[0].user)
    listing = get(relative_a, reverse("homecare:family")).content.decode()
    assert reverse("homecare:family_home", args=[home_a.home.pk]) in listing
    assert reverse("homecare:family_home", args=[home_b.home.pk]) not in listing
    assert get(relative_a, reverse("homecare:family_home", args=[home_b.home.pk])).status_code == 404
    assert get(relative_a, reverse("homecare:family_energy", args=[home_b.home.pk])).status_code == 404
    assert post(relative_a, reverse("homecare:family_acknowledge", args=[alarm_b.pk])).status_code == 404
    with scopes_disabled():
        alarm_b.refresh_from_db()
    assert alarm_b.acknowledged_at is None and alarm_b.state == Alarm.State.NOTIFIED


def test_nor_another_communes_home(home_a, other_commune):
    with time_machine.travel(T, tick=False):
        far = make_home(other_commune, now=T)
    far_alarm = raise_sos(far, T)
    relative_a = client_as(home_a.commune, home_a.contacts[0].user)
    assert get(relative_a, reverse("homecare:family_home", args=[far.home.pk])).status_code == 404
    assert post(relative_a, reverse("homecare:family_acknowledge", args=[far_alarm.pk])).status_code == 404
    # And on the other commune's site the relative of home A holds no role: refused outright.
    there = client_as(other_commune, home_a.contacts[0].user)
    assert get(there, reverse("homecare:family_home", args=[far.home.pk])).status_code == 403
    with scopes_disabled():
        assert Alarm.objects.get(pk=far_alarm.pk).acknowledged_at is None


def test_the_resident_sees_their_home_but_does_not_acknowledge_their_own_alarm(home_a):
    alarm = raise_sos(home_a, T)
    resident = client_as(home_a.commune, home_a.resident)
    text = get(resident, reverse("homecare:family_home", args=[home_a.home.pk])).content.decode()
    assert "1 alarme en cours." in text
    assert reverse("homecare:family_acknowledge", args=[alarm.pk]) not in text
    response = post(resident, reverse("homecare:family_acknowledge", args=[alarm.pk]))
    assert response.status_code == 302
    with scopes_disabled():
        assert Alarm.objects.get(pk=alarm.pk).acknowledged_at is None


def test_the_tablet_warning_shows_to_relatives(home_a):
    with scopes_disabled():
        Home.objects.filter(pk=home_a.home.pk).update(inactivity_state=Home.InactivityState.WARNING)
    relative = client_as(home_a.commune, home_a.contacts[0].user)
    text = get(relative, reverse("homecare:family_home", args=[home_a.home.pk])).content.decode()
    assert "un avertissement est affiché sur sa tablette" in text


def test_relatives_reach_their_page_from_my_account(home_a):
    relative = client_as(home_a.commune, home_a.contacts[0].user)
    assert reverse("homecare:family") in get(relative, reverse("core:account")).content.decode()


def test_a_relative_says_she_is_in_hospital_and_inactivity_pauses(home_a, home_b):
    relative = client_as(home_a.commune, home_a.contacts[0].user)
    url = reverse("homecare:family_mode", args=[home_a.home.pk])
    page = get(relative, reverse("homecare:family_home", args=[home_a.home.pk])).content.decode()
    assert f'action="{url}"' in page and 'value="hospital"' in page
    with time_machine.travel(T + timedelta(minutes=2), tick=False):
        response = relative.post(url, {"mode": "hospital"}, follow=True)
    assert "Les appels à l&#x27;aide, chutes, fumée et fuites restent surveillés" in response.content.decode()
    with scopes_disabled():
        home = Home.objects.get(pk=home_a.home.pk)
        assert home.mode == Home.Mode.HOSPITAL and home.inactivity_deadline is None
        entry = AuditEntry.objects.get(action="homecare.home.mode_changed", object_id=str(home.pk))
        assert entry.actor_id == home_a.contacts[0].user.pk and entry.data == {
            "from": "normal",
            "to": "hospital",
        }
    # Nonsense is refused and changes nothing; another home is not theirs to change.
    with time_machine.travel(T + timedelta(minutes=3), tick=False):
        bad = relative.post(url, {"mode": "vacances-au-soleil"}, follow=True)
        assert "Choisissez « à la maison »" in bad.content.decode()
        other = relative.post(reverse("homecare:family_mode", args=[home_b.home.pk]), {"mode": "away"})
    assert other.status_code == 404
    with scopes_disabled():
        assert Home.objects.get(pk=home_a.home.pk).mode == Home.Mode.HOSPITAL
        assert Home.objects.get(pk=home_b.home.pk).mode == Home.Mode.NORMAL
    # Back home: watched again, the silence counted from now.
    resident = client_as(home_a.commune, home_a.resident)
    with time_machine.travel(T + timedelta(days=3), tick=False):
        resident.post(url, {"mode": "normal"})
    with scopes_disabled():
        home = Home.objects.get(pk=home_a.home.pk)
        assert home.mode == Home.Mode.NORMAL and home.last_activity_at == T + timedelta(days=3)
