"""``manage.py homecare_simulate --homes N --speed X --duration S``: simulated homes publishing over MQTT.

Creates the homes it needs when the commune has fewer (through the homecare services: home, gateway, devices,
a relative to call), then publishes each home's Zigbee2MQTT and Linky traffic (``mairie.homecare.simulator``)
to the broker in simulated time: ``--speed 60`` plays a simulated minute per second. Incidents: a fall in the
first home and a fire in the second after ``--fall-after`` and ``--fire-after`` simulated minutes.

``--setup-only --json`` only creates the homes and prints them (topics, MQTT logins of the gateways created by
this run) for the tests and benchmarks.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from datetime import time as clock_time
from datetime import timedelta
from typing import Any

import paho.mqtt.client as mqtt
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled
from paho.mqtt.enums import CallbackAPIVersion

from mairie.core.acting import Actor
from mairie.core.models import Commune, Membership, Role
from mairie.core.services.accounts import account_register
from mairie.homecare.models import Device, EnergyReading, Gateway, Home
from mairie.homecare.services.homes import contact_add, device_register, gateway_register, home_create
from mairie.homecare.simulator import HOME_DEVICES, DeviceSpec, HomeSimulator, SimulatedHome

LABEL_PREFIX = "Maison simulée n°"
FIRST_NAMES = (
    "Jeanne",
    "Marcel",
    "Odette",
    "Lucien",
    "Simone",
    "René",
    "Paulette",
    "Fernand",
    "Yvette",
    "André",
)
LAST_NAMES = ("Moreau", "Dubois", "Vidal", "Lefèvre", "Garnier", "Chevalier", "Rousseau", "Mercier", "Blanc")
NON_BATTERY_KINDS = {Device.Kind.SHUTTER, Device.Kind.LIGHT, Device.Kind.FALL, Device.Kind.METER}


def staff_actor(commune: Commune) -> Actor:
    membership = (
        Membership.objects.filter(commune=commune, role__in=[Role.AGENT, Role.ADMIN])
        .select_related("user")
        .order_by("role", "pk")
        .first()
    )
    if membership is None:
        raise CommandError(f"{commune.name} has no town-hall agent or admin to set up homes as.")
    return Actor.himself(membership.user, commune)


def simulated_home(home: Home, gateway: Gateway, password: str = "") -> SimulatedHome:
    devices = list(Device.objects.filter(gateway=gateway).order_by("pk"))
    meter = next((device for device in devices if device.kind == Device.Kind.METER), None)
    return SimulatedHome(
        home_id=home.pk,
        base_topic=gateway.base_topic,
        teleinfo_topic=gateway.teleinfo_topic or "",
        adco=meter.friendly_name if meter else "",
        devices=tuple(
            DeviceSpec(
                device.friendly_name,
                device.kind,
                device.room,
                vendor=device.model.split(" ", 1)[0] if device.model else "",
                model=device.model,
                battery=device.kind not in NON_BATTERY_KINDS,
            )
            for device in devices
            if device.kind != Device.Kind.METER
        ),
        username=gateway.mqtt_username,
        password=password,
    )


@transaction.atomic
def create_home(*, actor: Actor, number: int, contacts: bool) -> SimulatedHome:
    commune = actor.commune
    first, last = FIRST_NAMES[number % len(FIRST_NAMES)], LAST_NAMES[number % len(LAST_NAMES)]
    resident = account_register(commune=commune, first_name=first, last_name=f"{last} ({number})")
    home = home_create(
        actor=actor,
        resident=resident,
        label=f"{LABEL_PREFIX}{number}",
        address=f"{number} allée des Tilleuls",
        morning_check_time=clock_time(10, 0),
        morning_check_room="salon",
    )
    gateway, password = gateway_register(actor=actor, home=home)
    for index, spec in enumerate(HOME_DEVICES):
        device_register(
            actor=actor,
            gateway=gateway,
            friendly_name=spec.friendly_name,
            kind=spec.kind,
            room=spec.room,
            ieee_address=f"0x00158d{home.pk:06x}{index:04x}"[:18],
            use_entry_delay=spec.friendly_name == "entree/porte",
        )
    device_register(
        actor=actor, gateway=gateway, friendly_name=f"{21_861_000_000 + home.pk:012d}", kind=Device.Kind.METER
    )
    if contacts:
        contact_add(
            actor=actor,
            home=home,
            name=f"Claire {last}",
            phone=f"+33 6 {number % 100:02d} {(number // 100) % 100:02d} 00 {number % 97:02d}",
            email=f"proche.{home.pk}@example.org",
        )
    return simulated_home(home, gateway, password)


def ensure_homes(
    *, commune: Commune, count: int, contacts: bool = True, simulated_only: bool = False
) -> list[SimulatedHome]:
    """The commune's homes with a gateway, first ``count`` of them; missing ones are created.

    ``simulated_only``: only the homes this command created (``Maison simulée n°…``), not the demo's own.
    """
    with scope(commune=commune):
        homes: list[SimulatedHome] = []
        gateways = Gateway.objects.filter(home__commune=commune).select_related("home").order_by("home_id")
        if simulated_only:
            gateways = gateways.filter(home__label__startswith=LABEL_PREFIX)
        for gateway in gateways[:count]:
            homes.append(simulated_home(gateway.home, gateway))
        if len(homes) < count:
            actor = staff_actor(commune)
            existing = Home.objects.filter(label__startswith=LABEL_PREFIX).count()
            for number in range(existing + 1, existing + 1 + count - len(homes)):
                homes.append(create_home(actor=actor, number=number, contacts=contacts))
        return homes


class Command(BaseCommand):
    help = "Simulate connected homes publishing Zigbee2MQTT and Linky traffic to the MQTT broker."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--homes", type=int, default=3, help="number of homes (default 3)")
        parser.add_argument(
            "--speed", type=float, default=60.0, help="simulated seconds per second (default 60)"
        )
        parser.add_argument(
            "--duration", type=float, default=0.0, help="seconds to run (default: until stopped)"
        )
        parser.add_argument("--commune", default="val-de-brume", help="commune slug (default val-de-brume)")
        parser.add_argument("--fall-after", type=float, default=10.0, help="simulated minutes before a fall")
        parser.add_argument("--fire-after", type=float, default=30.0, help="simulated minutes before a fire")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-contacts", action="store_true", help="create homes without a relative")
        parser.add_argument("--setup-only", action="store_true", help="create the homes, publish nothing")
        parser.add_argument(
            "--simulated-only",
            action="store_true",
            help="leave the commune's other homes (the demo's) alone: only homes this command creates",
        )
        parser.add_argument("--json", action="store_true", help="print the homes as JSON")
        parser.add_argument(
            "--gateway-logins",
            action="store_true",
            help="connect as each gateway (its own MQTT user, as the broker's ACL expects); needs the "
            "passwords, known only for homes created by this run",
        )
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        commune = self._commune(options["commune"])
        homes = ensure_homes(
            commune=commune,
            count=options["homes"],
            contacts=not options["no_contacts"],
            simulated_only=options["simulated_only"],
        )
        if options["json"]:
            self.stdout.write(json.dumps({"homes": [home.as_json() for home in homes]}))
        elif not options["setup_only"]:
            self.stdout.write(f"{len(homes)} simulated home(s) in {commune.name}.")
        if options["setup_only"]:
            return
        self._publish(homes, options)

    def _commune(self, slug: str) -> Commune:
        with scopes_disabled():
            commune = Commune.objects.filter(slug=slug).first()
            if commune is None and slug == "val-de-brume":
                call_command("demo", quiet=True)
                commune = Commune.objects.filter(slug=slug).first()
        if commune is None:
            raise CommandError(f"No commune {slug!r}.")
        return commune

    def _publish(self, homes: list[SimulatedHome], options: dict[str, Any]) -> None:
        host = options["host"] or settings.HOMECARE_MQTT_HOST
        port = options["port"] or settings.HOMECARE_MQTT_PORT
        speed = max(options["speed"], 0.001)
        start = timezone.now()
        simulators = []
        for index, home in enumerate(homes):
            simulator = HomeSimulator(
                home, start=start, seed=options["seed"], meter_index_wh=_last_meter_index(home.home_id)
            )
            if index == 0 and options["fall_after"] > 0:
                simulator.inject(start + timedelta(minutes=options["fall_after"]), "fall")
            if index == min(1, len(homes) - 1) and options["fire_after"] > 0:
                simulator.inject(start + timedelta(minutes=options["fire_after"]), "fire")
            simulators.append(simulator)
        clients = self._connect(homes, host, port, gateway_logins=options["gateway_logins"])
        stopping = {"now": False}

        def stop(signum: int, frame: object) -> None:
            stopping["now"] = True

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stop)
        wall_start = time.monotonic()
        published = 0
        try:
            while not stopping["now"]:
                elapsed = time.monotonic() - wall_start
                if options["duration"] and elapsed >= options["duration"]:
                    break
                simulated_now = start + timedelta(seconds=elapsed * speed)
                for home, simulator in zip(homes, simulators, strict=True):
                    client = clients.get(home.username) or clients[""]
                    for message in simulator.messages(simulated_now):
                        client.publish(message.topic, message.payload, qos=1, retain=message.retain)
                        published += 1
                time.sleep(0.1)
        finally:
            for client in clients.values():
                client.disconnect()
                client.loop_stop()
        self.stdout.write(f"Published {published} message(s).")

    def _connect(
        self, homes: list[SimulatedHome], host: str, port: int, *, gateway_logins: bool
    ) -> dict[str, mqtt.Client]:
        logins: dict[str, tuple[str, str]] = {}
        if gateway_logins:
            missing = [home.username for home in homes if not home.password]
            if missing:
                raise CommandError(f"No password known for gateway(s) {', '.join(missing[:5])}.")
            logins = {home.username: (home.username, home.password) for home in homes}
        else:
            logins = {"": (settings.HOMECARE_MQTT_USERNAME, settings.HOMECARE_MQTT_PASSWORD)}
        clients = {}
        for key, (username, password) in logins.items():
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"mairie-sim-{uuid.uuid4().hex[:8]}")
            if username:
                client.username_pw_set(username, password or None)
            client.reconnect_delay_set(min_delay=1, max_delay=10)
            client.max_queued_messages_set(0)
            client.connect_async(host, port, keepalive=60)
            client.loop_start()
            clients[key] = client
        return clients


def _last_meter_index(home_id: int) -> int | None:
    """The home's last meter index, for the simulated meter to go on from it (the demo's home has a history)."""
    with scopes_disabled():
        return (
            EnergyReading.objects.filter(home_id=home_id, index_wh__isnull=False)
            .order_by("-at")
            .values_list("index_wh", flat=True)
            .first()
        )
