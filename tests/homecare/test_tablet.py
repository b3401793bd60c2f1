"""The resident's tablet: its signed link, "Appeler à l'aide", "Tout va bien", shutters, lights and heating with the
device's confirmed state, the day's appointments, and services asked of the town hall. Plain POST forms."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from mairie.booking.models import Booking
from mairie.core.acting import Actor
from mairie.core.models import AuditEntry, Notification
from mairie.homecare import automation
from mairie.homecare.models import Alarm, AlarmEvent, DeviceCommand, Home, ServiceRequest
from mairie.homecare.tablet import tablet_key_renew, tablet_token
from tests.factories import make_user
from tests.homecare.homes_support import make_home
from tests.homecare.people_support import add_controls, client_as, fake_broker

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
T = datetime(2026, 11, 26, 9, 30, tzinfo=PARIS)


@pytest.fixture
def world(commune):
    with time_machine.travel(T, tick=False):
        world = make_home(commune, now=T)
    add_controls(world, T)
    with scopes_disabled():
        world.url = reverse("homecare:tablet", args=[tablet_token(world.home)])
    return world


@pytest.fixture
def broker(monkeypatch):
    return fake_broker(monkeypatch)


def kiosk(world):
    return client_as(world.commune)  # nobody signed in: the tablet's browser


def get(client, url, at=T):
    with time_machine.travel(at, tick=False):
        return client.get(url)


def post(client, url, data, at=T):
    with time_machine.travel(at, tick=False):
        return client.post(url, data)


# The link.


def test_the_signed_link_opens_the_page_with_very_large_buttons(world):
    response = get(kiosk(world), world.url)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Bonjour Madeleine" in text
    assert 'value="sos" class="tablet-button tablet-sos">Appeler à l\'aide</button>' in text
    assert 'value="checkin" class="tablet-button tablet-ok">Tout va bien' in text
    assert text.count('<form method="post"') >= 6  # every action is a plain form
    assert "<script>" not in text and "style=" not in text  # the CSP forbids inline scripts and styles


def test_a_forged_or_renewed_link_opens_nothing(world):
    assert get(kiosk(world), world.url[:-3] + "xyz/").status_code == 404
    with scope(commune=world.commune):
        tablet_key_renew(actor=Actor.himself(world.agent, world.commune), home=world.home)
        new_url = reverse("homecare:tablet", args=[tablet_token(world.home)])
    assert get(kiosk(world), world.url).status_code == 404
    assert get(kiosk(world), new_url).status_code == 200


def test_a_link_of_another_communes_home_opens_nothing_here(world, other_commune):
    with time_machine.travel(T, tick=False):
        far = make_home(other_commune, now=T)
    with scopes_disabled():
        far_url = reverse("homecare:tablet", args=[tablet_token(far.home)])
    assert get(kiosk(world), far_url).status_code == 404
    assert get(client_as(other_commune), far_url).status_code == 200


def test_the_resident_signed_in_on_their_own_device_gets_the_same_page(world):
    response = get(client_as(world.commune, world.resident), reverse("homecare:tablet_mine"))
    assert response.status_code == 200 and "Appeler à l'aide" in response.content.decode()
    someone = make_user(world.commune)
    text = get(client_as(world.commune, someone), reverse("homecare:tablet_mine")).content.decode()
    assert "Votre logement n'est pas équipé" in text


# Calling for help, saying all is well.


def test_calling_for_help_raises_an_sos_alarm_and_the_first_relative_is_called(world):
    tablet = kiosk(world)
    response = post(tablet, world.url, {"do": "sos"})
    assert response.status_code == 302
    with scopes_disabled():
        alarm = Alarm.objects.get(home=world.home)
        assert alarm.kind == Alarm.Kind.SOS and alarm.severity == Alarm.Severity.CRITICAL
        assert alarm.state == Alarm.State.NOTIFIED and alarm.data == {"source": "tablet"}
        assert AlarmEvent.objects.filter(
            alarm=alarm, kind=AlarmEvent.Kind.NOTIFIED, contact=world.contacts[0]
        ).exists()
        assert Notification.objects.filter(
            recipient=world.contacts[0].user, template="homecare/alarm"
        ).exists()
        assert AuditEntry.objects.filter(action="homecare.tablet.sos", object_id=str(alarm.pk)).exists()
    text = get(tablet, world.url).content.decode()
    assert "Votre appel à l&#x27;aide est parti" in text
    assert "vos proches sont prévenus" in text


def test_pressing_again_does_not_raise_a_second_alarm(world):
    post(kiosk(world), world.url, {"do": "sos"})
    post(kiosk(world), world.url, {"do": "sos"}, at=T + timedelta(seconds=20))
    with scopes_disabled():
        alarm = Alarm.objects.get(home=world.home)
        assert AlarmEvent.objects.filter(alarm=alarm, kind=AlarmEvent.Kind.REPEATED).count() == 1


def test_all_is_well_records_the_check_in_and_cancels_the_inactivity_warning(world):
    with scopes_disabled():
        Home.objects.filter(pk=world.home.pk).update(
            inactivity_state=Home.InactivityState.WARNING,
            inactivity_deadline=T + timedelta(minutes=8),
            inactivity_reason="threshold",
        )
    tablet = kiosk(world)
    text = get(tablet, world.url).content.decode()
    assert "Tout va bien ?" in text and "avant 09:38" in text
    post(tablet, world.url, {"do": "checkin"}, at=T + timedelta(minutes=2))
    with scopes_disabled():
        home = Home.objects.get(pk=world.home.pk)
    assert home.last_checkin_at == T + timedelta(minutes=2)
    assert home.inactivity_state == Home.InactivityState.OK
    assert home.inactivity_deadline is None or home.inactivity_deadline > T + timedelta(hours=1)
    text = get(tablet, world.url, at=T + timedelta(minutes=3)).content.decode()
    assert "Merci ! C&#x27;est noté : tout va bien." in text
    assert "Tout va bien ?" not in text and "déjà dit aujourd'hui" in text


# Shutters, lights, heating.


def test_a_shutter_command_is_published_and_shown_pending_until_the_device_confirms(
    world, broker, django_capture_on_commit_callbacks
):
    shutter = world.devices["shutter"]
    with django_capture_on_commit_callbacks(execute=True):
        post(kiosk(world), world.url, {"do": "command", "device": shutter.pk, "command": "open"})
    assert broker.published == [(f"{world.gateway.base_topic}/salon/volet/set", {"state": "OPEN"})]
    with scopes_disabled():
        command = DeviceCommand.objects.get(device=shutter)
    assert command.published_at is not None and command.source == "tablet"
    page = get(kiosk(world), world.url, at=T + timedelta(seconds=5)).content.decode()
    assert "En attente de confirmation…" in page
    # Zigbee2MQTT reports the shutter's new state.
    with time_machine.travel(T + timedelta(seconds=8), tick=False):
        world.send("shutter", {"state": "OPEN", "position": 100, "linkquality": 90}, T + timedelta(seconds=8))
    page = get(kiosk(world), world.url, at=T + timedelta(seconds=10)).content.decode()
    assert "En attente de confirmation" not in page
    assert "Ouvert" in page


def test_a_command_the_device_never_confirms_is_shown_as_unanswered(world, broker):
    light = world.devices["light"]
    post(kiosk(world), world.url, {"do": "command", "device": light.pk, "command": "on"})
    page = get(kiosk(world), world.url, at=T + timedelta(minutes=11)).content.decode()
    assert "L'appareil n'a pas répondu." in page


def test_heating_plus_and_minus_move_the_set_point_by_half_a_degree(world, broker):
    thermostat = world.devices["thermostat"]
    with time_machine.travel(T, tick=False):
        world.send("thermostat", {"current_heating_setpoint": 19, "local_temperature": 18.6}, T)
    post(kiosk(world), world.url, {"do": "warmer", "device": thermostat.pk}, at=T + timedelta(seconds=1))
    post(kiosk(world), world.url, {"do": "warmer", "device": thermostat.pk}, at=T + timedelta(seconds=2))
    post(kiosk(world), world.url, {"do": "cooler", "device": thermostat.pk}, at=T + timedelta(seconds=3))
    with scopes_disabled():
        asked = [
            c.payload for c in DeviceCommand.objects.filter(device=thermostat).order_by("created_at", "pk")
        ]
    assert asked == [
        {"current_heating_setpoint": 19.5},
        {"current_heating_setpoint": 20.0},
        {"current_heating_setpoint": 19.5},
    ]


def test_a_device_of_another_home_cannot_be_commanded_from_this_tablet(world, broker):
    with time_machine.travel(T, tick=False):
        other = add_controls(make_home(world.commune, now=T), T)
    tablet = kiosk(world)
    response = post(
        tablet, world.url, {"do": "command", "device": other.devices["light"].pk, "command": "on"}
    )
    assert response.status_code == 302
    with scopes_disabled():
        assert not DeviceCommand.objects.exists()
    assert "n&#x27;est pas dans votre logement" in get(tablet, world.url).content.decode()


def test_a_command_waits_for_the_broker_and_goes_once_it_is_back(
    world, broker, django_capture_on_commit_callbacks
):
    broker.down = True
    with django_capture_on_commit_callbacks(execute=True):
        post(
            kiosk(world),
            world.url,
            {"do": "command", "device": world.devices["light"].pk, "command": "off"},
        )
    with scopes_disabled():
        command = DeviceCommand.objects.get()
    assert command.published_at is None and command.attempts == 1 and "broker down" in command.error
    broker.down = False
    assert automation.publish_now(command.pk) is True  # what the queue's retry runs
    assert automation.publish_now(command.pk) is False  # and never twice
    assert len(broker.published) == 1


# The day's appointments, services asked of the town hall.


def test_the_days_appointments_from_the_booking_app(world):
    with scopes_disabled():
        for title, start in (("Atelier tablette", T + timedelta(hours=5)), ("Demain", T + timedelta(days=1))):
            Booking.objects.create(
                commune=world.commune,
                module="inclusion",
                person=world.resident,
                title=title,
                starts_at=start,
                ends_at=start + timedelta(hours=1),
                booked_by=world.resident,
            )
    text = get(kiosk(world), world.url).content.decode()
    assert "14:30 – 15:30</strong> Atelier tablette" in text
    assert "Demain" not in text


def test_asking_for_a_service_reaches_the_agents(world):
    response = post(
        kiosk(world),
        world.url,
        {"do": "service", "kind": "meal", "message": "Un repas sans sel", "wanted_on": "2026-11-27"},
    )
    assert response.status_code == 302
    with scopes_disabled():
        request = ServiceRequest.objects.get()
        assert request.person == world.resident and request.home == world.home and request.kind == "meal"
        assert Notification.objects.filter(
            recipient=world.agent, template="homecare/service_request"
        ).exists()
    agent = client_as(world.commune, world.agent)
    listing = get(agent, reverse("homecare:service_requests")).content.decode()
    assert "Repas livré" in listing and "Un repas sans sel" in listing


def test_a_service_request_with_a_missing_detail_is_refused_next_to_the_field(world):
    response = post(kiosk(world), world.url, {"do": "service", "kind": "other", "message": ""})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Dites en quelques mots ce dont vous avez besoin." in text and 'aria-invalid="true"' in text
    with scopes_disabled():
        assert not ServiceRequest.objects.exists()


def test_the_agent_answers_and_the_resident_is_told(world):
    post(kiosk(world), world.url, {"do": "service", "kind": "transport", "message": "Médecin jeudi"})
    with scopes_disabled():
        request = ServiceRequest.objects.get()
    agent = client_as(world.commune, world.agent)
    refused = post(
        agent, reverse("homecare:service_request", args=[request.pk]), {"state": "cancelled", "answer": ""}
    )
    assert refused.status_code == 200 and "Dites à la personne pourquoi" in refused.content.decode()
    done = post(
        agent,
        reverse("homecare:service_request", args=[request.pk]),
        {"state": "in_progress", "answer": "Le taxi passe à 9 h"},
    )
    assert done.status_code == 302
    with scopes_disabled():
        request.refresh_from_db()
        assert request.state == "in_progress" and request.handled_by == world.agent
        assert Notification.objects.filter(
            recipient=world.resident, template="homecare/service_request_updated"
        ).exists()


def test_personal_data_and_erasure(world, broker):
    from mairie.core.personal_data import collect_personal_data, run_erasure_handlers

    tablet = kiosk(world)
    post(tablet, world.url, {"do": "service", "kind": "groceries", "message": "Du pain et du lait"})
    post(tablet, world.url, {"do": "command", "device": world.devices["light"].pk, "command": "on"})
    with scope(commune=world.commune):
        data = collect_personal_data(world.resident, world.commune)
    assert "Du pain et du lait" in str(data)
    with scope(commune=world.commune):
        run_erasure_handlers(world.resident, world.commune)
    with scopes_disabled():
        assert not ServiceRequest.objects.exists()
        assert not DeviceCommand.objects.filter(requested_by=world.resident).exists()
    assert get(kiosk(world), world.url).status_code == 404  # the tablet's link no longer opens the home
