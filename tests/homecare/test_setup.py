"""Staff pages that set homes up: creating a home for a resident, its settings, its gateway (password shown once),
devices (then accepted by the ingest service), contacts in order, presence and intrusion modes; who may; bad input
kept and explained; another commune's ids are 404."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from mairie.core.acting import Actor
from mairie.core.models import AuditEntry, Role
from mairie.homecare.management.commands.homecare_broker_passwords import password_lines
from mairie.homecare.models import Alarm, Contact, Device, Gateway, Home
from mairie.homecare.services import homes as services
from mairie.homecare.services.ingest import ingest_message
from tests.factories import make_user
from tests.homecare.homes_support import make_home
from tests.homecare.people_support import client_as

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=PARIS)


def enable(commune):
    with scopes_disabled():
        commune.enabled_modules = [*commune.enabled_modules, "homecare"]
        commune.save(update_fields=["enabled_modules"])
    return commune


@pytest.fixture
def world(commune):
    with time_machine.travel(NOW, tick=False):
        return make_home(commune, now=NOW)


def page(response) -> str:
    return response.content.decode()


def actions(commune) -> list[str]:
    with scopes_disabled():
        return list(
            AuditEntry.objects.filter(commune=commune).order_by("pk").values_list("action", flat=True)
        )


def matches(password: str, stored: str) -> bool:
    _, algo, iterations, salt, digest = stored.split("$")
    again = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    return algo == "7" and base64.b64encode(again).decode() == digest


# Creating a home, then its settings.


@pytest.mark.django_db
def test_create_a_home_for_a_resident_found_by_name_then_set_it_up(commune):
    enable(commune)
    agent = make_user(commune, Role.AGENT)
    resident = make_user(commune, first_name="Odette", last_name="Lemoine", phone="+33611223344")
    stranger = make_user(commune, first_name="Odette", last_name="Ailleurs")
    client = client_as(commune, agent)
    url = reverse("homecare:setup_home_create")

    assert "Créer son compte au guichet" in page(client.get(url))
    found = page(client.get(url, {"q": "odette lem"}))
    assert f"?personne={resident.pk}" in found and f"?personne={stranger.pk}" not in found
    assert f"?personne={resident.pk}" in page(client.get(url, {"q": "06 11 22 33 44"}))

    step_two = page(client.get(url, {"personne": resident.pk}))
    assert "Odette Lemoine" in step_two and f'value="{resident.pk}"' in step_two
    empty = client.post(url, {"resident": resident.pk, "label": "", "address": "4 allée des Roses"})
    assert empty.status_code == 200
    assert "Indiquez un nom pour le logement." in page(empty) and "4 allée des Roses" in page(empty)
    with scopes_disabled():
        assert not Home.objects.exists()

    created = client.post(url, {"resident": resident.pk, "label": "Maison 4", "address": "4 allée des Roses"})
    with scopes_disabled():
        home = Home.objects.get()
    assert created.status_code == 302
    assert created["Location"] == reverse("homecare:setup_settings", args=[home.pk])
    assert home.resident == resident and home.commune == commune and home.label == "Maison 4"

    settings_url = reverse("homecare:setup_settings", args=[home.pk])
    form = page(client.get(settings_url))
    assert 'value="07:00"' in form and 'value="720"' in form
    saved = client.post(
        settings_url,
        {
            "label": "Maison 4",
            "address": "4 allée des Roses",
            "active_from": "08:00",
            "active_until": "21:30",
            "inactivity_threshold_minutes": "240",
            "inactivity_warning_minutes": "10",
            "morning_check_time": "10:00",
            "morning_check_room": "salon",
            "checkin_enabled": "on",
            "checkin_deadline": "11:30",
            "ack_minutes": "7",
            "door_open_night_minutes": "20",
            "exit_delay_s": "90",
            "entry_delay_s": "45",
        },
    )
    assert saved.status_code == 302
    with scopes_disabled():
        home.refresh_from_db()
    assert (home.active_from, home.active_until, home.inactivity_threshold_minutes) == (
        time(8),
        time(21, 30),
        240,
    )
    assert (home.morning_check_time, home.morning_check_room, home.checkin_enabled) == (
        time(10),
        "salon",
        True,
    )
    assert (home.ack_minutes, home.exit_delay_s, home.entry_delay_s) == (7, 90, 45)
    assert home.checkin_due_at is not None and home.inactivity_deadline is not None
    assert actions(commune)[-2:] == ["homecare.home.created", "homecare.home.updated"]


@pytest.mark.django_db
def test_a_person_of_another_commune_cannot_be_chosen(commune, other_commune):
    enable(commune)
    agent = make_user(commune, Role.AGENT)
    outsider = make_user(other_commune, first_name="Odette")
    client = client_as(commune, agent)
    url = reverse("homecare:setup_home_create")
    assert f"?personne={outsider.pk}" not in page(client.get(url, {"q": "Odette"}))
    refused = client.post(url, {"resident": outsider.pk, "label": "Maison 9"})
    assert refused.status_code == 200 and "a pas été trouvée dans la commune" in page(refused)
    with scopes_disabled():
        assert not Home.objects.exists()


@pytest.mark.django_db
def test_bad_settings_change_nothing_keep_what_was_typed_and_say_what_is_wrong(world):
    client = client_as(world.commune, world.agent)
    url = reverse("homecare:setup_settings", args=[world.home.pk])
    typed = {
        "label": "Maison 12 bis",
        "address": "12 rue des Tilleuls",
        "active_from": "07:00",
        "active_until": "07:00",
        "inactivity_threshold_minutes": "douze",
        "inactivity_warning_minutes": "10",
        "morning_check_time": "",
        "morning_check_room": "grenier",
        "checkin_deadline": "25:00",
        "ack_minutes": "0",
        "door_open_night_minutes": "15",
        "exit_delay_s": "60",
        "entry_delay_s": "30",
    }
    response = client.post(url, typed)
    body = page(response)
    assert response.status_code == 200
    assert "Le formulaire contient des erreurs" in body and 'aria-invalid="true"' in body
    assert "Écrivez un nombre entier" in body and "Écrivez une heure comme 07:30." in body
    assert "Indiquez au moins 1." in body
    assert 'value="Maison 12 bis"' in body and 'value="douze"' in body and 'value="grenier"' in body

    # The form's own checks pass: the service's checks of the values together land next to their fields.
    typed.update(inactivity_threshold_minutes="720", checkin_deadline="11:00", ack_minutes="5")
    body = page(client.post(url, typed))
    assert "La fin de journée doit être différente du début." in body
    assert "Indiquez l&#x27;heure avant laquelle un mouvement est attendu." in body
    typed.update(active_until="22:00", morning_check_time="10:00")
    body = page(client.post(url, typed))
    assert "Aucun détecteur de mouvement dans cette pièce. Pièces équipées : salon." in body
    with scopes_disabled():
        world.home.refresh_from_db()
    assert world.home.label == "Maison 12" and world.home.morning_check_room == ""
    assert "homecare.home.updated" not in actions(world.commune)[-3:]


# Gateway.


@pytest.mark.django_db
def test_register_a_gateway_password_shown_once_with_the_zigbee2mqtt_settings_then_reset_it(
    commune, settings
):
    settings.HOMECARE_MQTT_PUBLIC_URL = "mqtts://mqtt.example.org:8883"
    enable(commune)
    agent = make_user(commune, Role.AGENT)
    resident = make_user(commune)
    with scope(commune=commune):
        home = services.home_create(actor=Actor.himself(agent, commune), resident=resident, label="Maison 1")
    client = client_as(commune, agent)
    assert "Enregistrer la passerelle" in page(client.get(reverse("homecare:setup_home", args=[home.pk])))

    shown = client.post(reverse("homecare:setup_gateway_register", args=[home.pk]))
    with scopes_disabled():
        gateway = Gateway.objects.get()
    body = page(shown)
    assert shown.status_code == 200 and "no-store" in shown["Cache-Control"]
    password = body.split('<code id="mot-de-passe">')[1].split("</code>")[0]
    assert matches(password, gateway.password_hash)
    assert f"base_topic: {gateway.base_topic}" in body and f"user: {gateway.mqtt_username}" in body
    assert f"password: {password}" in body and "server: mqtts://mqtt.example.org:8883" in body
    assert "il ne sera plus jamais affiché" in body and "homecare_broker_passwords" in body
    assert password not in page(client.get(reverse("homecare:setup_home", args=[home.pk])))

    again = client.post(reverse("homecare:setup_gateway_register", args=[home.pk]))
    assert again.status_code == 302
    with scopes_disabled():
        assert Gateway.objects.count() == 1

    reset = client.post(reverse("homecare:setup_gateway_reset", args=[home.pk]))
    new_password = page(reset).split('<code id="mot-de-passe">')[1].split("</code>")[0]
    with scopes_disabled():
        gateway.refresh_from_db()
        lines = password_lines()
    assert new_password != password and matches(new_password, gateway.password_hash)
    assert not matches(password, gateway.password_hash)
    assert f"{gateway.mqtt_username}:{gateway.password_hash}" in lines
    assert actions(commune)[-1] == "homecare.gateway.password_reset"


# Devices.


@pytest.mark.django_db
def test_a_device_added_on_the_page_is_then_accepted_by_the_ingest_service(world):
    client = client_as(world.commune, world.agent)
    url = reverse("homecare:setup_device_add", args=[world.home.pk])
    prefilled = page(client.get(url, {"type": "sos"}))
    assert 'value="60"' in prefilled and "bouton d&#x27;appel (SOS) : 60 min" in prefilled

    topic = f"{world.gateway.base_topic}/chambre/mouvement"
    payload = json.dumps({"occupancy": True, "battery": 90}).encode()
    with time_machine.travel(NOW, tick=False):
        assert ingest_message(topic=topic, payload=payload, received_at=NOW).dropped
        bad = client.post(
            url, {"friendly_name": "chambre/+", "kind": "", "room": "chambre", "supervision_minutes": "2"}
        )
        assert bad.status_code == 200
        assert "Choisissez le type d&#x27;appareil." in page(bad) and 'value="chambre/+"' in page(bad)
        assert "Indiquez au moins 5 minutes." in page(bad)
        bad = client.post(url, {"friendly_name": "salon/pir", "kind": "motion", "room": "salon"})
        assert "Un appareil de cette passerelle porte déjà ce nom." in page(bad)
        added = client.post(url, {"friendly_name": "chambre/mouvement", "kind": "motion", "room": "chambre"})
        assert added.status_code == 302
    with scopes_disabled():
        device = Device.objects.get(friendly_name="chambre/mouvement")
    assert device.supervision_minutes == 1500 and device.room == "chambre"
    later = NOW + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        outcome = ingest_message(topic=topic, payload=payload, received_at=later)
    assert outcome.accepted and outcome.home_id == world.home.pk
    with scopes_disabled():
        device.refresh_from_db()
        world.home.refresh_from_db()
    assert device.battery == 90 and world.home.last_activity_at == later


@pytest.mark.django_db
def test_edit_a_device_and_remove_it_unless_one_of_its_alarms_is_open(world):
    client = client_as(world.commune, world.agent)
    pir = world.devices["pir"]
    edit = reverse("homecare:setup_device_edit", args=[world.home.pk, pir.pk])
    assert 'value="1500"' in page(client.get(edit))
    bad = client.post(edit, {"room": "séjour", "supervision_minutes": "beaucoup"})
    assert (
        bad.status_code == 200 and 'value="séjour"' in page(bad) and "Écrivez un nombre entier" in page(bad)
    )
    with time_machine.travel(NOW, tick=False):
        assert (
            client.post(edit, {"room": "séjour", "label": "", "supervision_minutes": "120"}).status_code
            == 302
        )
    with scopes_disabled():
        pir.refresh_from_db()
    assert pir.room == "séjour" and pir.supervision_minutes == 120

    sos = world.devices["sos"]
    with scopes_disabled():
        Alarm.objects.create(
            commune=world.commune,
            home=world.home,
            device=sos,
            kind=Alarm.Kind.SOS,
            severity=Alarm.Severity.CRITICAL,
            raised_at=NOW,
        )
    remove_sos = reverse("homecare:setup_device_remove", args=[world.home.pk, sos.pk])
    assert "Une alarme de cet appareil est en cours." in page(client.get(remove_sos))
    refused = client.post(remove_sos, follow=True)
    assert "Terminez-la d&#x27;abord depuis la console" in page(refused)
    remove_pir = reverse("homecare:setup_device_remove", args=[world.home.pk, pir.pk])
    assert "Oui, retirer l'appareil" in page(client.get(remove_pir))
    assert client.post(remove_pir).status_code == 302
    with scopes_disabled():
        assert Device.objects.filter(pk=sos.pk).exists() and not Device.objects.filter(pk=pir.pk).exists()
    assert actions(world.commune)[-1] == "homecare.device.removed"
    with time_machine.travel(NOW, tick=False):
        gone = ingest_message(topic=world.topic("pir"), payload=b'{"occupancy": true}', received_at=NOW)
    assert gone.dropped


# Contacts.


def chain(world) -> list[tuple[str, int]]:
    with scopes_disabled():
        return list(
            Contact.objects.filter(home=world.home).order_by("order", "pk").values_list("name", "order")
        )


@pytest.mark.django_db
def test_add_contacts_reorder_them_with_buttons_and_remove_one(world):
    client = client_as(world.commune, world.agent)
    add = reverse("homecare:setup_contact_add", args=[world.home.pk])
    bad = client.post(
        add, {"name": "Jeanne Voisine", "kind": "neighbour", "phone": "12", "available_from": "08:00"}
    )
    assert bad.status_code == 200
    assert "Ce numéro n&#x27;est pas reconnu" in page(bad) and 'value="Jeanne Voisine"' in page(bad)
    bad = client.post(
        add,
        {"name": "Jeanne Voisine", "kind": "neighbour", "phone": "06 98 76 54 32", "available_from": "08:00"},
    )
    assert "Indiquez les deux heures" in page(bad)
    bad = client.post(add, {"name": "Jeanne Voisine", "kind": "neighbour"})
    assert "Indiquez un téléphone ou une adresse e-mail" in page(bad)
    assert len(chain(world)) == 2
    good = client.post(
        add,
        {
            "name": "Jeanne Voisine",
            "kind": "neighbour",
            "phone": "06 98 76 54 32",
            "available_from": "08:00",
            "available_until": "20:00",
        },
    )
    assert good.status_code == 302
    assert chain(world) == [("Proche 1", 1), ("Proche 2", 2), ("Jeanne Voisine", 3)]
    with scopes_disabled():
        jeanne = Contact.objects.get(name="Jeanne Voisine")
    assert jeanne.user is not None and jeanne.available_until == time(20)

    home_page = page(client.get(reverse("homecare:setup_home", args=[world.home.pk])))
    assert home_page.count('value="up"') == 2 and home_page.count('value="down"') == 2
    move = reverse("homecare:setup_contact_move", args=[world.home.pk, jeanne.pk])
    assert client.post(move, {"direction": "up"}).status_code == 302
    client.post(move, {"direction": "up"})
    client.post(move, {"direction": "up"})  # already first: nothing changes
    assert chain(world) == [("Jeanne Voisine", 1), ("Proche 1", 2), ("Proche 2", 3)]
    client.post(move, {"direction": "down"})
    assert chain(world) == [("Proche 1", 1), ("Jeanne Voisine", 2), ("Proche 2", 3)]

    edit = reverse("homecare:setup_contact_edit", args=[world.home.pk, jeanne.pk])
    assert 'value="Jeanne Voisine"' in page(client.get(edit))
    client.post(edit, {"name": "Jeanne Martin", "kind": "neighbour", "phone": "06 98 76 54 32"})
    with scopes_disabled():
        jeanne.refresh_from_db()
    assert jeanne.name == "Jeanne Martin" and jeanne.available_from is None

    first = world.contacts[0]
    remove = reverse("homecare:setup_contact_remove", args=[world.home.pk, first.pk])
    assert "Oui, la retirer" in page(client.get(remove))
    assert client.post(remove).status_code == 302
    assert chain(world) == [("Jeanne Martin", 1), ("Proche 2", 2)]
    assert actions(world.commune)[-1] == "homecare.contact.removed"


# Presence and intrusion.


@pytest.mark.django_db
def test_away_hospital_and_back_then_arm_and_disarm_the_intrusion_alarm(world):
    client = client_as(world.commune, world.agent)
    mode = reverse("homecare:setup_mode", args=[world.home.pk])
    arm = reverse("homecare:setup_arm", args=[world.home.pk])
    with time_machine.travel(NOW, tick=False):
        client.post(mode, {"mode": "hospital"})
        with scopes_disabled():
            world.home.refresh_from_db()
        assert world.home.mode == "hospital" and world.home.inactivity_deadline is None
        client.post(mode, {"mode": "normal"})
        assert "Choisissez présent·e" in page(client.post(mode, {"mode": "vacances"}, follow=True))
        client.post(arm, {"armed_mode": "armed_night"})
        with scopes_disabled():
            world.home.refresh_from_db()
        assert world.home.mode == "normal" and world.home.inactivity_deadline is not None
        assert world.home.armed_mode == "armed_night" and world.home.armed_at == NOW
        client.post(arm, {"armed_mode": "disarmed"})
    with scopes_disabled():
        world.home.refresh_from_db()
    assert world.home.armed_mode == "disarmed"
    assert [a for a in actions(world.commune) if a != "homecare.home.viewed"][-4:] == [
        "homecare.home.mode_changed",
        "homecare.home.mode_changed",
        "homecare.home.armed",
        "homecare.home.disarmed",
    ]


# Who may.


def setup_urls(world) -> list[tuple[str, str]]:
    home, device, contact = world.home.pk, world.devices["pir"].pk, world.contacts[0].pk
    return [
        ("get", reverse("homecare:setup_homes")),
        ("get", reverse("homecare:setup_home_create")),
        ("get", reverse("homecare:setup_home", args=[home])),
        ("get", reverse("homecare:setup_settings", args=[home])),
        ("post", reverse("homecare:setup_gateway_reset", args=[home])),
        ("post", reverse("homecare:setup_mode", args=[home])),
        ("post", reverse("homecare:setup_arm", args=[home])),
        ("get", reverse("homecare:setup_device_add", args=[home])),
        ("get", reverse("homecare:setup_device_edit", args=[home, device])),
        ("post", reverse("homecare:setup_device_remove", args=[home, device])),
        ("get", reverse("homecare:setup_contact_add", args=[home])),
        ("post", reverse("homecare:setup_contact_move", args=[home, contact])),
        ("post", reverse("homecare:setup_contact_remove", args=[home, contact])),
    ]


@pytest.mark.django_db
def test_residents_relatives_operators_and_staff_without_the_capability_are_refused(world, other_commune):
    enable(other_commune)
    people = {
        "resident": world.resident,
        "relative": world.contacts[0].user,
        "mediator": make_user(world.commune, Role.MEDIATOR),
        "operator": make_user(world.commune, Role.OPERATOR),
        "operator elsewhere": make_user(other_commune, Role.OPERATOR, Role.AGENT),
    }
    before = actions(world.commune)
    for who, person in people.items():
        client = client_as(world.commune, person)
        for method, url in setup_urls(world):
            response = getattr(client, method)(url, {"mode": "away", "direction": "up"})
            assert response.status_code == 403, (who, url, response.status_code)
    assert actions(world.commune) == before
    with scopes_disabled():
        world.home.refresh_from_db()
        assert world.home.mode == "normal" and Device.objects.filter(pk=world.devices["pir"].pk).exists()


@pytest.mark.django_db
def test_an_agent_passes_the_second_factor_before_any_setup_page(world):
    """The setup pages show who is tele-assisted, their home's file and its open alarms (DESIGN.md: staff with
    access to health or alarm data use two-factor authentication)."""
    before = actions(world.commune)
    client = client_as(world.commune, world.agent, verified=False)
    for method, url in setup_urls(world):
        response = getattr(client, method)(url, {"mode": "away", "direction": "up"})
        assert response.status_code == 302, (url, response.status_code)
        assert response["Location"].startswith(reverse("core:two_factor")), url
    assert actions(world.commune) == before
    with scopes_disabled():
        world.home.refresh_from_db()
        assert world.home.mode == "normal"
    listing = page(client_as(world.commune, world.agent).get(reverse("homecare:setup_homes")))
    assert world.home.label in listing


@pytest.mark.django_db
def test_another_communes_homes_are_not_found(world, other_commune):
    enable(other_commune)
    agent_elsewhere = make_user(other_commune, Role.AGENT)
    client = client_as(other_commune, agent_elsewhere)
    for method, url in setup_urls(world)[2:]:
        response = getattr(client, method)(url, {"mode": "away", "direction": "up"})
        assert response.status_code == 404, (url, response.status_code)
    listing = page(client.get(reverse("homecare:setup_homes")))
    assert world.home.label not in listing and "0 logement" in listing
    with scopes_disabled():
        world.home.refresh_from_db()
    assert world.home.mode == "normal"


@pytest.mark.django_db
def test_the_list_searches_and_shows_the_gateway_and_open_alarms(world):
    with scopes_disabled():
        Gateway.objects.filter(pk=world.gateway.pk).update(online=True, last_seen_at=NOW)
        Alarm.objects.create(
            commune=world.commune,
            home=world.home,
            kind=Alarm.Kind.SOS,
            severity=Alarm.Severity.CRITICAL,
            raised_at=NOW,
        )
    client = client_as(world.commune, world.agent)
    listing = page(client.get(reverse("homecare:setup_homes"), {"q": "madeleine"}))
    assert reverse("homecare:setup_home", args=[world.home.pk]) in listing
    assert "en ligne" in listing and 'badge-critical">1<' in listing
    assert world.home.label not in page(
        client.get(reverse("homecare:setup_homes"), {"q": "personne-inconnue"})
    )
    assert reverse("homecare:setup_homes") in page(client.get(reverse("core:staff_home")))


# The services on their own.


@pytest.mark.django_db
def test_the_new_services_check_the_capability_and_keep_the_order_dense(world):
    resident = Actor.himself(world.resident, world.commune)
    staff = Actor.himself(world.agent, world.commune)
    with scope(commune=world.commune):
        for call in (
            lambda: services.gateway_reset_password(actor=resident, gateway=world.gateway),
            lambda: services.device_update(
                actor=resident, device=world.devices["pir"], room="x", supervision_minutes=60
            ),
            lambda: services.device_remove(actor=resident, device=world.devices["pir"]),
            lambda: services.contact_move(actor=resident, contact=world.contacts[1], direction="up"),
            lambda: services.contact_remove(actor=resident, contact=world.contacts[1]),
            lambda: services.home_configure(actor=resident, home=world.home, ack_minutes=3),
        ):
            with pytest.raises(PermissionDenied):
                call()
        with pytest.raises(ValidationError):
            services.contact_move(actor=staff, contact=world.contacts[1], direction="sideways")
        with pytest.raises(ValidationError):
            services.device_update(actor=staff, device=world.devices["pir"], room="x", supervision_minutes=0)
        Contact.objects.filter(pk=world.contacts[1].pk).update(order=9)  # a gap from older data
        moved = services.contact_move(actor=staff, contact=world.contacts[1], direction="up")
        assert moved.order == 1
        with time_machine.travel(NOW, tick=False):
            device = services.device_update(
                actor=staff, device=world.devices["sos"], room="chambre", supervision_minutes=30
            )
        assert device.supervision_deadline == NOW + timedelta(minutes=30)  # never heard: counted from now


@pytest.mark.django_db
def test_the_consoles_home_file_links_to_the_setup_page_for_those_who_may_set_it_up(world):
    setup_url = reverse("homecare:setup_home", args=[world.home.pk])
    file_url = reverse("homecare:console_home", args=[world.home.pk])
    admin = client_as(world.commune, make_user(world.commune, Role.ADMIN))
    operator = client_as(world.commune, make_user(world.commune, Role.OPERATOR))
    assert setup_url in page(admin.get(file_url))
    assert setup_url not in page(operator.get(file_url))


@pytest.mark.django_db
def test_the_list_costs_the_same_number_of_queries_for_one_home_or_several(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_as(world.commune, world.agent)
    url = reverse("homecare:setup_homes")
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    staff = Actor.himself(world.agent, world.commune)
    with scope(commune=world.commune):
        for n in range(3):
            home = services.home_create(actor=staff, resident=make_user(world.commune), label=f"Maison {n}")
            services.gateway_register(actor=staff, home=home)
    with CaptureQueriesContext(connection) as four:
        body = page(client.get(url))
    assert "4 logements" in body
    assert len(four) == len(one)


def test_a_person_without_an_account_is_made_one_at_the_desk_and_staff_come_back_with_her(commune):
    import re as regex

    from mairie.core.models import User

    enable(commune)
    agent = make_user(commune, Role.AGENT)
    client = client_as(commune, agent)
    start = reverse("homecare:setup_home_create")
    link = regex.search(
        r'href="([^"]*/gestion/habitants/nouveau/\?next=[^"]+)"', page(client.get(start))
    ).group(1)
    desk = client.get(link.replace("&amp;", "&"))
    token = regex.search(r'name="token" value="([^"]+)"', desk.content.decode()).group(1)
    assert 'name="next" value="/teleassistance/gestion/logements/nouveau/"' in desk.content.decode()
    form = {
        "token": token,
        "first_name": "Rose",
        "last_name": "Lemoine",
        "email": "",
        "phone": "",
        "password": "",
    }
    sheet = client.post(link.replace("&amp;", "&"), {**form, "next": start})
    with scopes_disabled():
        rose = User.objects.get(first_name="Rose", last_name="Lemoine")
    # A printed sheet first (no email nor phone: a temporary password), then on to her home.
    assert f'href="{start}?personne={rose.pk}"' in sheet.content.decode()
    step_two = page(client.get(f"{start}?personne={rose.pk}"))
    assert "Rose Lemoine" in step_two
    # Where to go next is this site only.
    desk = client.get(reverse("core:staff_resident_create"))
    token = regex.search(r'name="token" value="([^"]+)"', desk.content.decode()).group(1)
    chosen = {
        **form,
        "token": token,
        "first_name": "Paul",
        "phone": "06 11 22 33 99",
        "password": "un mot de passe solide",
    }
    away = client.post(reverse("core:staff_resident_create"), {**chosen, "next": "https://ailleurs.example/"})
    with scopes_disabled():
        paul = User.objects.get(first_name="Paul", last_name="Lemoine")
    assert away.status_code == 302 and away["Location"] == reverse("core:staff_resident", args=[paul.pk])
