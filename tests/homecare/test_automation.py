"""Home automation: NOAA sunrise and sunset, when schedules run (fixed times, sun events with offsets, weekdays,
daylight saving), the ticker sending due commands once, heating set-points, staff pages, who may command."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from mairie.core.acting import Actor
from mairie.core.models import AuditEntry, Commune
from mairie.homecare import automation
from mairie.homecare.models import DeviceCommand, HeatingSetpoint, Schedule
from tests.homecare.homes_support import make_home
from tests.homecare.people_support import add_controls, client_as, fake_broker

PARIS = ZoneInfo("Europe/Paris")
RENNES = (48.1173, -1.6778)


def close_to(moment: datetime | None, expected: datetime, minutes: float = 3) -> bool:
    return moment is not None and abs(moment - expected) <= timedelta(minutes=minutes)


# Sunrise and sunset.


def test_rennes_at_the_summer_solstice():
    sun = automation.sun_times(date(2026, 6, 21), *RENNES)
    assert close_to(sun.sunrise, datetime(2026, 6, 21, 6, 7, tzinfo=PARIS))
    assert close_to(sun.sunset, datetime(2026, 6, 21, 22, 11, tzinfo=PARIS))


def test_rennes_at_the_winter_solstice_and_the_equinox():
    winter = automation.sun_times(date(2026, 12, 21), *RENNES)
    assert close_to(winter.sunrise, datetime(2026, 12, 21, 8, 55, tzinfo=PARIS))
    assert close_to(winter.sunset, datetime(2026, 12, 21, 17, 16, tzinfo=PARIS))
    spring = automation.sun_times(date(2026, 3, 20), *RENNES)
    assert close_to(spring.sunrise, datetime(2026, 3, 20, 7, 10, tzinfo=PARIS))
    assert close_to(spring.sunset, datetime(2026, 3, 20, 19, 19, tzinfo=PARIS))


def test_new_york_from_noaas_calculator():
    new_york = ZoneInfo("America/New_York")
    sun = automation.sun_times(date(2026, 6, 21), 40.7128, -74.0060)
    assert close_to(sun.sunrise, datetime(2026, 6, 21, 5, 25, tzinfo=new_york), minutes=2)
    assert close_to(sun.sunset, datetime(2026, 6, 21, 20, 31, tzinfo=new_york), minutes=2)


def test_no_sunrise_during_midnight_sun_or_polar_night():
    tromso = (69.6492, 18.9553)
    assert automation.sun_times(date(2026, 6, 21), *tromso).sunrise is None
    assert automation.sun_times(date(2026, 12, 21), *tromso).sunset is None


# When a schedule runs.


def occurrence(after: datetime, **kwargs) -> datetime | None:
    options = {
        "weekdays": [],
        "at_time": None,
        "sun_event": "",
        "offset_minutes": 0,
        "zone": PARIS,
        "coordinates": RENNES,
    }
    options.update(kwargs)
    return automation.next_occurrence(after=after, **options)


def test_a_fixed_time_today_or_tomorrow():
    morning = datetime(2026, 11, 26, 7, 0, tzinfo=PARIS)
    assert occurrence(morning, at_time=time(8, 30)) == datetime(2026, 11, 26, 8, 30, tzinfo=PARIS)
    assert occurrence(morning + timedelta(hours=2), at_time=time(8, 30)) == datetime(
        2026, 11, 27, 8, 30, tzinfo=PARIS
    )


def test_only_the_chosen_weekdays():
    thursday = datetime(2026, 11, 26, 9, 0, tzinfo=PARIS)
    assert occurrence(thursday, at_time=time(8, 0), weekdays=[0]) == datetime(
        2026, 11, 30, 8, 0, tzinfo=PARIS
    )


def test_a_fixed_time_keeps_to_the_clock_across_daylight_saving():
    before = datetime(2026, 3, 28, 9, 0, tzinfo=PARIS)  # the clocks go forward in the night of the 28th
    after = occurrence(before, at_time=time(8, 0))
    assert after == datetime(2026, 3, 29, 8, 0, tzinfo=PARIS)
    assert after.utcoffset() == timedelta(hours=2)


def test_sunset_with_an_offset():
    noon = datetime(2026, 6, 21, 12, 0, tzinfo=PARIS)
    sunset = automation.sun_times(date(2026, 6, 21), *RENNES).sunset
    assert occurrence(noon, sun_event="sunset", offset_minutes=-30) == sunset - timedelta(minutes=30)


def test_no_sun_schedule_without_the_communes_position():
    assert (
        occurrence(datetime(2026, 6, 21, 12, 0, tzinfo=PARIS), sun_event="sunrise", coordinates=None) is None
    )


# The ticker.


@pytest.fixture
def world(commune):
    with scopes_disabled():
        Commune.objects.filter(pk=commune.pk).update(latitude=RENNES[0], longitude=RENNES[1])
        commune.refresh_from_db()
    start = datetime(2026, 6, 20, 12, 0, tzinfo=PARIS)
    with time_machine.travel(start, tick=False):
        world = make_home(commune, now=start)
    return add_controls(world, start)


@pytest.fixture
def broker(monkeypatch):
    return fake_broker(monkeypatch)


def staff(world) -> Actor:
    return Actor.himself(world.agent, world.commune)


def tick(at: datetime) -> dict[str, int]:
    with time_machine.travel(at, tick=False):
        return automation.automation_tick(at)


@pytest.mark.django_db
def test_shutters_open_at_sunrise_plus_offset_once_and_again_the_next_day(
    world, broker, django_capture_on_commit_callbacks
):
    created = datetime(2026, 6, 20, 12, 0, tzinfo=PARIS)
    with time_machine.travel(created, tick=False), scope(commune=world.commune):
        schedule = automation.schedule_create(
            actor=staff(world),
            device=world.devices["shutter"],
            command="open",
            sun_event="sunrise",
            offset_minutes=15,
        )
    sunrise = automation.sun_times(date(2026, 6, 21), *RENNES).sunrise
    due = sunrise + timedelta(minutes=15)
    assert schedule.next_run_at == due
    with django_capture_on_commit_callbacks(execute=True):
        assert tick(due - timedelta(minutes=1)) == {"schedules": 0, "setpoints": 0}
        assert tick(due + timedelta(seconds=30)) == {"schedules": 1, "setpoints": 0}
        assert tick(due + timedelta(seconds=60)) == {"schedules": 0, "setpoints": 0}  # not twice
    assert broker.published == [(f"{world.gateway.base_topic}/salon/volet/set", {"state": "OPEN"})]
    with scopes_disabled():
        schedule.refresh_from_db()
        command = DeviceCommand.objects.get()
        assert command.source == "schedule" and command.requested_by is None
        assert AuditEntry.objects.filter(action="homecare.schedule.ran", object_id=str(schedule.pk)).exists()
    next_sunrise = automation.sun_times(date(2026, 6, 22), *RENNES).sunrise
    assert schedule.next_run_at == next_sunrise + timedelta(minutes=15)


@pytest.mark.django_db
def test_a_run_missed_by_more_than_an_hour_is_skipped_not_sent_late(world, broker):
    with (
        time_machine.travel(datetime(2026, 6, 20, 12, 0, tzinfo=PARIS), tick=False),
        scope(commune=world.commune),
    ):
        schedule = automation.schedule_create(
            actor=staff(world), device=world.devices["light"], command="on", at_time=time(19, 0)
        )
    assert tick(datetime(2026, 6, 20, 21, 30, tzinfo=PARIS)) == {"schedules": 0, "setpoints": 0}
    with scopes_disabled():
        schedule.refresh_from_db()
        assert not DeviceCommand.objects.exists()
    assert schedule.next_run_at == datetime(2026, 6, 21, 19, 0, tzinfo=PARIS)


@pytest.mark.django_db
def test_heating_set_points_by_room_and_time(world, broker):
    with (
        time_machine.travel(datetime(2026, 6, 20, 12, 0, tzinfo=PARIS), tick=False),
        scope(commune=world.commune),
    ):
        automation.setpoint_create(
            actor=staff(world), home=world.home, room="salon", temperature="17,5", from_time=time(22, 0)
        )
        automation.setpoint_create(
            actor=staff(world),
            home=world.home,
            room="salon",
            temperature="19",
            from_time=time(7, 0),
            weekdays=[0, 1, 2, 3, 4],
        )
    assert tick(datetime(2026, 6, 20, 22, 0, 30, tzinfo=PARIS))["setpoints"] == 1
    # The 21st is a Sunday: the weekday morning set-point waits for Monday.
    assert tick(datetime(2026, 6, 21, 7, 0, 30, tzinfo=PARIS))["setpoints"] == 0
    assert tick(datetime(2026, 6, 22, 7, 0, 30, tzinfo=PARIS))["setpoints"] == 1
    with scopes_disabled():
        payloads = [c.payload for c in DeviceCommand.objects.order_by("created_at")]
        assert payloads == [{"current_heating_setpoint": 17.5}, {"current_heating_setpoint": 19.0}]
        assert {c.device_id for c in DeviceCommand.objects.all()} == {world.devices["thermostat"].pk}


@pytest.mark.django_db
def test_bad_settings_are_refused_with_a_reason(world):
    with scope(commune=world.commune):
        with pytest.raises(ValidationError) as error:
            automation.setpoint_create(
                actor=staff(world), home=world.home, room="salon", temperature="45", from_time=time(7, 0)
            )
        assert "temperature" in error.value.message_dict
        with pytest.raises(ValidationError) as error:
            automation.schedule_create(
                actor=staff(world), device=world.devices["light"], command="open", at_time=time(7, 0)
            )
        assert "command" in error.value.message_dict
        with pytest.raises(ValidationError) as error:
            automation.schedule_create(actor=staff(world), device=world.devices["light"], command="on")
        assert "at_time" in error.value.message_dict
        assert not Schedule.objects.exists() and not HeatingSetpoint.objects.exists()


@pytest.mark.django_db
def test_only_staff_schedule_and_only_the_resident_or_staff_command(world, broker):
    resident = Actor.himself(world.resident, world.commune)
    relative = Actor.himself(world.contacts[0].user, world.commune)
    with scope(commune=world.commune):
        with pytest.raises(PermissionDenied):
            automation.schedule_create(
                actor=resident, device=world.devices["light"], command="on", at_time=time(7, 0)
            )
        with pytest.raises(PermissionDenied):
            automation.device_command(actor=relative, device=world.devices["light"], payload={"state": "ON"})
        automation.device_command(actor=resident, device=world.devices["light"], payload={"state": "ON"})
        with pytest.raises(ValidationError):
            automation.device_command(actor=resident, device=world.devices["pir"], payload={"state": "ON"})
        with pytest.raises(ValidationError):
            automation.device_command(
                actor=resident, device=world.devices["light"], payload={"state": "ON", "x": 1}
            )
        assert DeviceCommand.objects.count() == 1


# Staff pages.


@pytest.mark.django_db
def test_staff_command_by_hand_and_see_it_pending(world, broker):
    agent = client_as(world.commune, world.agent)
    at = datetime(2026, 6, 20, 15, 0, tzinfo=PARIS)
    with time_machine.travel(at, tick=False):
        response = agent.post(
            reverse("homecare:staff_command", args=[world.home.pk]),
            {"device": world.devices["shutter"].pk, "command": "close"},
        )
        assert response.status_code == 302
        page = agent.get(response["Location"]).content.decode()
    assert (
        "En attente de confirmation de l&#x27;appareil." in page
        or "En attente de confirmation de l'appareil." in page
    )
    assert "lève à 06:06" in page  # today's sun times for the commune
    with scopes_disabled():
        command = DeviceCommand.objects.get()
        assert (
            command.source == "staff"
            and command.requested_by == world.agent
            and command.payload == {"state": "CLOSE"}
        )


@pytest.mark.django_db
def test_staff_add_a_schedule_through_the_form_and_see_bad_input_next_to_the_field(world):
    agent = client_as(world.commune, world.agent)
    url = reverse("homecare:staff_schedule_add", args=[world.home.pk])
    with time_machine.travel(datetime(2026, 6, 20, 12, 0, tzinfo=PARIS), tick=False):
        bad = agent.post(url, {"device": world.devices["shutter"].pk, "command": "close", "sun_event": ""})
        assert bad.status_code == 200
        assert (
            "Indiquez l&#x27;heure" in bad.content.decode() and 'aria-invalid="true"' in bad.content.decode()
        )
        good = agent.post(
            url,
            {
                "device": world.devices["shutter"].pk,
                "command": "close",
                "sun_event": "sunset",
                "offset_minutes": "10",
                "weekdays": ["5", "6"],
            },
        )
        assert good.status_code == 302
    with scopes_disabled():
        schedule = Schedule.objects.get()
    assert (
        schedule.weekdays == [5, 6]
        and schedule.sun_event == "sunset"
        and schedule.action == {"state": "CLOSE"}
    )
    sunset = automation.sun_times(date(2026, 6, 20), *RENNES).sunset
    assert schedule.next_run_at == sunset + timedelta(minutes=10)  # the 20th is a Saturday


@pytest.mark.django_db
def test_one_list_of_homes_from_the_staff_home_leads_to_setup_and_controls(world):
    agent = client_as(world.commune, world.agent)
    staff_home = agent.get(reverse("core:staff_home")).content.decode()
    assert reverse("homecare:setup_homes") in staff_home
    assert staff_home.count("Logements connectés") == 1
    listing = agent.get(reverse("homecare:setup_homes")).content.decode()
    assert reverse("homecare:setup_home", args=[world.home.pk]) in listing
    assert reverse("homecare:staff_home", args=[world.home.pk]) in listing
    # The former list's address (bookmarks, old links) lands on the same list.
    old = agent.get(reverse("homecare:staff_homes"))
    assert old.status_code == 302 and old["Location"] == reverse("homecare:setup_homes")


# A real broker: the command reaches the gateway's own topic, with the shipped ACL.


@pytest.mark.mqtt
@pytest.mark.django_db
def test_a_command_reaches_the_gateway_through_mosquitto(world, settings, django_capture_on_commit_callbacks):
    import json
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from tests.homecare.mqtt_support import BRIDGE_PASSWORD, BRIDGE_USER, Broker, mosquitto_available

    if not mosquitto_available():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    gateway_password = "gateway-secret"
    broker = Broker({world.gateway.mqtt_username: gateway_password}).start()
    received: list[tuple[str, bytes]] = []
    subscribed = threading.Event()
    arrived = threading.Event()
    gateway = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-gateway")
    gateway.username_pw_set(world.gateway.mqtt_username, gateway_password)
    gateway.on_subscribe = lambda *args: subscribed.set()

    def on_message(client, userdata, message):
        received.append((message.topic, message.payload))
        arrived.set()

    gateway.on_message = on_message
    try:
        gateway.connect("127.0.0.1", broker.port)
        gateway.loop_start()
        gateway.subscribe(f"{world.gateway.base_topic}/#", qos=1)
        assert subscribed.wait(10)
        settings.HOMECARE_MQTT_HOST, settings.HOMECARE_MQTT_PORT = "127.0.0.1", broker.port
        settings.HOMECARE_MQTT_USERNAME, settings.HOMECARE_MQTT_PASSWORD = BRIDGE_USER, BRIDGE_PASSWORD
        with django_capture_on_commit_callbacks(execute=True), scope(commune=world.commune):
            command = automation.device_command(
                actor=Actor.himself(world.resident, world.commune),
                device=world.devices["light"],
                payload={"state": "ON"},
                source="tablet",
            )
        assert arrived.wait(10)
    finally:
        gateway.loop_stop()
        gateway.disconnect()
        broker.close()
    assert received == [(f"{world.gateway.base_topic}/salon/lumiere/set", b'{"state":"ON"}')]
    assert json.loads(received[0][1]) == {"state": "ON"}
    with scopes_disabled():
        command.refresh_from_db()
    assert command.published_at is not None and command.error == ""


@pytest.mark.django_db
def test_staff_set_a_thermostat_by_hand_and_a_bad_temperature_is_shown_next_to_its_field(world, broker):
    agent = client_as(world.commune, world.agent)
    thermostat = world.devices["thermostat"]
    url = reverse("homecare:staff_command", args=[world.home.pk])
    with time_machine.travel(datetime(2026, 6, 20, 15, 0, tzinfo=PARIS), tick=False):
        bad = agent.post(url, {"device": thermostat.pk, "temperature": "35"})
        assert bad.status_code == 200
        text = bad.content.decode()
        assert "Choisissez une température entre 7 et 28 °C." in text
        assert f'id="thermostat-{thermostat.pk}-temperature"' in text and 'aria-invalid="true"' in text
        with scopes_disabled():
            assert not DeviceCommand.objects.exists()
        good = agent.post(url, {"device": thermostat.pk, "temperature": "20,5"})
    assert good.status_code == 302
    with scopes_disabled():
        assert DeviceCommand.objects.get().payload == {"current_heating_setpoint": 20.5}
