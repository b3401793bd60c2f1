"""Demo data for the connected homes (``manage.py demo`` calls ``load_demo``): Jeanne Moreau's home, equipped like
the village's homes, with her daughter Julie (login ``proche``) and her neighbour Marcel on the call list, a few
weeks of history (two past alarms with their timeline, electricity readings), schedules for the shutters, lights
and heating, and a request for a meal. The operator (``operateur``) and the relative see it all at once.

Past alarms are written as rows with their timeline (the services would notify people now, for events of last
week); what happens from now on goes through the services like everything else.
"""

from __future__ import annotations

import random
from datetime import time, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from mairie.core.acting import Actor
from mairie.core.models import Commune, Membership, Role, User
from mairie.homecare import automation
from mairie.homecare.models import Alarm, AlarmEvent, Device, EnergyReading, Home, ServiceRequest
from mairie.homecare.services.homes import contact_add, device_register, gateway_register, home_create
from mairie.homecare.simulator import HOME_DEVICES
from mairie.homecare.tablet import tablet_token

RESIDENT = "jeanne"
RELATIVE = "proche"
NEIGHBOUR = "marcel"
METER = "021728000003"
ENERGY_DAYS = 35


def _user(username: str) -> User | None:
    return User.objects.filter(username=username).first()


def load_demo(*, commune: Commune, stdout: Any = None, quiet: bool = False) -> None:
    """Adds the connected homes to the demo commune, once."""
    if "homecare" not in (commune.enabled_modules or []):
        commune.enabled_modules = [*(commune.enabled_modules or []), "homecare"]
        commune.save(update_fields=["enabled_modules"])
    resident, relative, neighbour = _user(RESIDENT), _user(RELATIVE), _user(NEIGHBOUR)
    agent = User.objects.filter(
        pk__in=Membership.objects.filter(commune=commune, role=Role.AGENT).values("user_id")
    ).first()
    if resident is None or agent is None:
        return
    with scope(commune=commune):
        if Home.objects.filter(resident=resident).exists():
            return
        home = _equip(commune, agent, resident, relative, neighbour)
        if stdout is not None and not quiet:
            stdout.write(
                "Connected home: Jeanne Moreau's (operator console: operateur; relative: proche). Tablet link: "
                + reverse("homecare:tablet", args=[tablet_token(home)])
            )


def _equip(
    commune: Commune, agent: User, resident: User, relative: User | None, neighbour: User | None
) -> Home:
    now = timezone.now()
    actor = Actor.himself(agent, commune)
    home = home_create(
        actor=actor,
        resident=resident,
        label="Les Tilleuls, maison 3",
        address="3 allée des Tilleuls\n99001 Val-de-Brume",
        morning_check_time=time(10, 0),
        morning_check_room="salon",
        checkin_enabled=True,
        last_activity_at=now - timedelta(minutes=25),
    )
    gateway, _password = gateway_register(actor=actor, home=home)
    devices: dict[str, Device] = {}
    for index, spec in enumerate(HOME_DEVICES):
        devices[spec.friendly_name] = device_register(
            actor=actor,
            gateway=gateway,
            friendly_name=spec.friendly_name,
            kind=spec.kind,
            room=spec.room,
            ieee_address=f"0x00158d00{home.pk:04x}{index:04x}",
            use_entry_delay=spec.friendly_name == "entree/porte",
        )
    devices[METER] = device_register(
        actor=actor, gateway=gateway, friendly_name=METER, kind=Device.Kind.METER
    )
    contacts = []
    if relative is not None:
        contacts.append(
            contact_add(
                actor=actor, home=home, name="Julie Moreau (sa fille)", user=relative, phone="+33611223344"
            )
        )
    if neighbour is not None:
        contacts.append(
            contact_add(
                actor=actor,
                home=home,
                name="Marcel Dubois (voisin)",
                kind="neighbour",
                user=neighbour,
                available_from=time(8, 0),
                available_until=time(21, 0),
            )
        )
    _device_states(devices, now)
    _past_alarms(home, devices, contacts, now)
    _energy(home, devices[METER], now)
    _automation(actor, home, devices, now)
    ServiceRequest.objects.create(
        commune=commune,
        home=home,
        person=resident,
        kind=ServiceRequest.Kind.MEAL,
        message="Un repas sans sel pour samedi midi, s'il vous plaît.",
        wanted_on=(now + timedelta(days=2)).date(),
        created_at=now - timedelta(hours=3),
    )
    return home


def _device_states(devices: dict[str, Device], now: Any) -> None:
    rng = random.Random(3)
    for name, device in devices.items():
        seen = now - timedelta(minutes=rng.randint(1, 40))
        state: dict[str, Any] = {}
        battery = (
            None
            if device.kind in (Device.Kind.SHUTTER, Device.Kind.LIGHT, Device.Kind.METER)
            else rng.randint(55, 100)
        )
        if device.kind == Device.Kind.MOTION:
            state = {"occupancy": False, "illuminance": rng.randint(20, 200)}
        elif device.kind == Device.Kind.CONTACT:
            state = {"contact": True}
        elif device.kind == Device.Kind.SHUTTER:
            state = {"state": "OPEN", "position": 100}
        elif device.kind == Device.Kind.LIGHT:
            state = {"state": "OFF", "brightness": 180}
        elif device.kind == Device.Kind.THERMOSTAT:
            state = {"current_heating_setpoint": 19, "local_temperature": 19.4, "system_mode": "heat"}
        elif device.kind == Device.Kind.WATER_LEAK:
            battery = 12  # the file shows it: a battery to change soon
            state = {"water_leak": False, "battery_low": True}
        Device.objects.filter(pk=device.pk).update(
            state=state,
            battery=battery,
            linkquality=rng.randint(40, 180) if name != "salle_de_bain/fuite" else 18,
            last_seen_at=seen,
            supervision_deadline=seen + timedelta(minutes=device.supervision_minutes),
            online=True,
        )


def _timeline(alarm: Alarm, events: list[tuple[int, str, dict[str, Any]]]) -> None:
    for seconds, kind, extra in events:
        AlarmEvent.objects.create(
            commune_id=alarm.commune_id,
            alarm=alarm,
            at=alarm.raised_at + timedelta(seconds=seconds),
            kind=kind,
            actor=extra.pop("actor", None),
            contact=extra.pop("contact", None),
            data=extra,
        )


def _past_alarms(home: Home, devices: dict[str, Device], contacts: list[Any], now: Any) -> None:
    julie = contacts[0] if contacts else None
    operator = User.objects.filter(username="operateur").first()
    fall_at = (now - timedelta(days=3)).replace(hour=7, minute=42, second=10, microsecond=0)
    fall = Alarm.objects.create(
        commune_id=home.commune_id,
        home=home,
        device=devices["chambre/chute"],
        kind=Alarm.Kind.FALL,
        severity=Alarm.Severity.CRITICAL,
        state=Alarm.State.RESOLVED,
        raised_at=fall_at,
        acknowledged_at=fall_at + timedelta(seconds=95),
        acknowledged_by=julie.user if julie else None,
        acknowledged_by_contact=julie,
        resolved_at=fall_at + timedelta(minutes=40),
        outcome="Jeanne avait glissé en se levant. Julie est venue, pas de blessure ; le médecin est passé dans la matinée.",
        escalation_step=1,
    )
    _timeline(
        fall,
        [
            (0, AlarmEvent.Kind.RAISED, {}),
            (1, AlarmEvent.Kind.NOTIFIED, {"contact": julie}),
            (
                95,
                AlarmEvent.Kind.ACKNOWLEDGED,
                {"contact": julie, "actor": julie.user if julie else None, "via": "link"},
            ),
            (
                180,
                AlarmEvent.Kind.HELP_ON_WAY,
                {"actor": julie.user if julie else None, "note": "Julie y va"},
            ),
            (
                2400,
                AlarmEvent.Kind.RESOLVED,
                {"actor": julie.user if julie else None, "outcome": fall.outcome},
            ),
        ],
    )
    sos_at = (now - timedelta(days=9)).replace(hour=16, minute=5, second=0, microsecond=0)
    sos = Alarm.objects.create(
        commune_id=home.commune_id,
        home=home,
        device=devices["pendentif"],
        kind=Alarm.Kind.SOS,
        severity=Alarm.Severity.CRITICAL,
        state=Alarm.State.FALSE_ALARM,
        raised_at=sos_at,
        acknowledged_at=sos_at + timedelta(seconds=48),
        acknowledged_by=operator,
        resolved_at=sos_at + timedelta(minutes=4),
        outcome="Pendentif pressé en étendant le linge. Jeanne va bien (appelée par la centrale).",
        escalation_step=2,
    )
    _timeline(
        sos,
        [
            (0, AlarmEvent.Kind.RAISED, {}),
            (1, AlarmEvent.Kind.NOTIFIED, {"contact": julie}),
            (30, AlarmEvent.Kind.OPERATOR, {"operators": 1}),
            (48, AlarmEvent.Kind.ACKNOWLEDGED, {"actor": operator, "via": "console"}),
            (240, AlarmEvent.Kind.FALSE_ALARM, {"actor": operator, "outcome": sos.outcome}),
        ],
    )


def _energy(home: Home, meter: Device, now: Any) -> None:
    """A reading every half hour for five weeks: about 7 kWh a day, more in the evening; yesterday much more."""
    rng = random.Random(7)
    start = (now - timedelta(days=ENERGY_DAYS)).replace(minute=0, second=0, microsecond=0)
    yesterday = (now - timedelta(days=1)).date()
    index = 12_345_000
    rows = []
    at = start
    while at <= now:
        local = timezone.localtime(at)
        power: float = (
            180
            + (900 if 18 <= local.hour < 22 else 0)
            + (600 if 7 <= local.hour < 9 else 0)
            + rng.randint(0, 150)
        )
        if local.date() == yesterday:
            power *= 2.4  # the electric heater left on: the "unusual consumption" notice shows it
        index += int(power / 2)
        rows.append(
            EnergyReading(
                commune_id=home.commune_id,
                home=home,
                device=meter,
                at=at,
                index_wh=index,
                power_va=int(power),
            )
        )
        at += timedelta(minutes=30)
    EnergyReading.objects.bulk_create(rows)


def _automation(actor: Actor, home: Home, devices: dict[str, Device], now: Any) -> None:
    shutter, light, thermostat = devices["salon/volet"], devices["salon/lumiere"], devices["salon/thermostat"]
    if home.commune.latitude is not None and home.commune.longitude is not None:
        automation.schedule_create(
            actor=actor, device=shutter, command="open", sun_event="sunrise", offset_minutes=15
        )
        automation.schedule_create(actor=actor, device=shutter, command="close", sun_event="sunset")
        automation.schedule_create(
            actor=actor, device=light, command="on", sun_event="sunset", offset_minutes=-10
        )
    else:
        automation.schedule_create(actor=actor, device=shutter, command="open", at_time=time(8, 0))
        automation.schedule_create(actor=actor, device=shutter, command="close", at_time=time(19, 0))
    automation.schedule_create(actor=actor, device=light, command="off", at_time=time(23, 0))
    automation.setpoint_create(
        actor=actor, home=home, room="salon", device=thermostat, temperature="19", from_time=time(7, 0)
    )
    automation.setpoint_create(
        actor=actor, home=home, room="salon", device=thermostat, temperature="17", from_time=time(22, 0)
    )
