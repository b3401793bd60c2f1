"""The homecare module's objects in the security walks (role × URL matrix, isolation, bad input): one home of the
world's resident per commune, with a gateway, a shutter and a thermostat, an open alarm, a schedule, a heating
set-point and a service request, so that every homecare page with an id is visited. The gateway has never said
it is online and the thermostat's battery is low, so that the console's « Passerelles » page has rows to leak."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time

from django.db import models
from django.utils import timezone

from mairie.homecare.models import (
    Alarm,
    Contact,
    Device,
    Gateway,
    HeatingSetpoint,
    Home,
    Schedule,
    ServiceRequest,
)
from tests.urlwalk import PARAM_KINDS, CommuneWorld, register_world_builder

PARAM_KINDS.update(
    {
        "home_id": "homecare_home",
        "alarm_id": "homecare_alarm",
        "schedule_id": "homecare_schedule",
        "setpoint_id": "homecare_setpoint",
        "service_request_id": "homecare_service_request",
    }
)


@register_world_builder
def homecare_objects(world: CommuneWorld) -> Mapping[str, models.Model]:
    commune = world.commune
    now = timezone.now()
    home = Home.objects.create(
        commune=commune, resident=world.resident, label="Maison du parc", address="3 rue Haute"
    )
    gateway = Gateway.objects.create(
        commune=commune,
        home=home,
        mqtt_username=f"{commune.slug}-{home.pk}",
        base_topic=f"zigbee2mqtt/{commune.slug}/{home.pk}",
        teleinfo_topic=f"teleinfo/{commune.slug}/{home.pk}",
    )
    shutter = Device.objects.create(
        commune=commune,
        home=home,
        gateway=gateway,
        friendly_name="salon/volet",
        kind=Device.Kind.SHUTTER,
        room="salon",
    )
    thermostat = Device.objects.create(
        commune=commune,
        home=home,
        gateway=gateway,
        friendly_name="salon/thermostat",
        kind=Device.Kind.THERMOSTAT,
        room="salon",
        battery=12,  # low: the « Passerelles » page lists it (and the walks check it lists no other commune's)
    )
    alarm = Alarm.objects.create(
        commune=commune,
        home=home,
        kind=Alarm.Kind.SOS,
        severity=Alarm.Severity.CRITICAL,
        raised_at=now,
    )
    schedule = Schedule.objects.create(
        commune=commune, home=home, device=shutter, action={"state": "OPEN"}, at_time=time(8, 0)
    )
    setpoint = HeatingSetpoint.objects.create(
        commune=commune, home=home, room="salon", device=thermostat, temperature=19, from_time=time(7, 0)
    )
    request = ServiceRequest.objects.create(
        commune=commune, home=home, person=world.resident, kind=ServiceRequest.Kind.MEAL, message="Sans sel"
    )
    return {
        "homecare_home": home,
        "homecare_alarm": alarm,
        "homecare_schedule": schedule,
        "homecare_setpoint": setpoint,
        "homecare_service_request": request,
    }


# The setup pages (views/setup.py): a device and a contact of the world's home.
PARAM_KINDS.update({"device_id": "homecare_device", "contact_id": "homecare_contact"})


@register_world_builder
def homecare_setup_objects(world: CommuneWorld) -> Mapping[str, models.Model]:
    home = Home.objects.filter(commune=world.commune).order_by("pk").first()
    assert home is not None, "homecare_objects builds the home first"
    contact = Contact.objects.create(
        commune=world.commune, home=home, name="Proche du parc", email="proche.parc@example.org", order=1
    )
    device = Device.objects.filter(home=home).order_by("pk").first()
    assert device is not None
    return {"homecare_device": device, "homecare_contact": contact}
