"""Plain telemetry applied set-wise on PostgreSQL (services/telemetry_sql): the same rows as the rules would leave."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django_scopes import scope, scopes_disabled

from mairie.core.acting import Actor
from mairie.homecare.models import Alarm, AlarmEvent, DeviceEvent, Home
from mairie.homecare.services import telemetry_sql
from mairie.homecare.services.homes import home_arm
from mairie.homecare.services.ingest import IncomingMessage, ingest_batch
from tests.homecare.homes_support import HomeWorld, make_home

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-wise path is PostgreSQL's"),
]

PARIS = ZoneInfo("Europe/Paris")
MORNING = datetime(2026, 11, 26, 8, 0, tzinfo=PARIS)


@pytest.fixture
def handled(monkeypatch) -> Counter[str]:
    """What the set-wise path answered, per message it was given."""
    counts: Counter[str] = Counter()
    apply = telemetry_sql.apply

    def counting(rows):
        results = apply(rows)
        counts.update(str(result) for result in results)
        return results

    monkeypatch.setattr(telemetry_sql, "apply", counting)
    return counts


def snapshot(world: HomeWorld) -> dict[str, Any]:
    world.refresh()
    with scope(commune=world.commune):
        home = Home.objects.get(pk=world.home.pk)
        names = {device.pk: key for key, device in world.devices.items()}
        return {
            "devices": {
                key: (
                    d.state,
                    d.battery,
                    d.linkquality,
                    d.online,
                    d.last_seen_at,
                    d.supervision_deadline,
                    d.open_deadline,
                )
                for key, d in world.devices.items()
            },
            "home": (
                home.last_activity_at,
                home.last_morning_activity_at,
                home.inactivity_state,
                home.inactivity_deadline,
                home.intrusion_deadline,
            ),
            "events": sorted(
                (kind, names.get(device_id, ""), received_at, json.dumps(payload, sort_keys=True))
                for kind, device_id, received_at, payload in DeviceEvent.objects.filter(
                    home=home
                ).values_list("kind", "device_id", "received_at", "payload")
            ),
            "alarms": sorted(
                (kind, state, names.get(device_id, ""))
                for kind, state, device_id in Alarm.objects.filter(home=home).values_list(
                    "kind", "state", "device_id"
                )
            ),
            "timeline": sorted(
                AlarmEvent.objects.filter(alarm__home=home).values_list("alarm__kind", "kind")
            ),
        }


PLAIN = [
    (
        "pir",
        lambda r: {
            "occupancy": r.random() < 0.5,
            "battery": r.randint(40, 100),
            "illuminance": r.randint(0, 900),
        },
    ),
    ("door", lambda r: {"contact": True, "battery": r.randint(40, 100), "voltage": 3000}),
    ("smoke", lambda r: {"smoke": False, "battery": r.randint(40, 100), "linkquality": r.randint(0, 255)}),
    ("water", lambda r: {"water_leak": False, "linkquality": r.randint(0, 255), "battery": 77.6}),
    ("fall", lambda r: {"presence": r.random() < 0.7, "temperature": r.choice([19.5, 21, 22.25])}),
    (
        "pir",
        lambda r: {"occupancy": False, "linkquality": r.randint(0, 255), f"extra_{r.randint(0, 5)}": "x"},
    ),
]
OTHER = [
    ("door", "", lambda r: {"contact": False}),
    ("pir", "", lambda r: {"occupancy": True, "battery": 9}),
    (
        "smoke",
        "",
        lambda r: {"smoke": True},
    ),  # an open smoke alarm keeps the home's "smoke: false" on the rules
    ("sos", "", lambda r: {"action": "emergency"}),
    ("pir", "/availability", lambda r: {"state": r.choice(["online", "offline"])}),
    ("fall", "", lambda r: {"presence": True, "note": "caf\\u00e9"}),
]


def stream(world: HomeWorld, seed: int) -> list[list[IncomingMessage]]:
    """Batches of mostly plain telemetry with, now and then, what plain is not: alarms, doors opening, devices
    going offline and back, messages out of order, redeliveries (at once and a minute later)."""
    rng = random.Random(seed)
    at = MORNING
    sent: list[IncomingMessage] = []
    plain: list[IncomingMessage] = []
    batches = []
    for number in range(10):
        batch = []
        mixed = number % 2 == 1  # the other batches hold plain telemetry only (redeliveries included)
        for _n in range(rng.randint(5, 60)):
            at += timedelta(seconds=rng.randint(0, 40))
            roll = rng.random()
            if roll < 0.06 and (sent if mixed else plain):
                copy = rng.choice((sent if mixed else plain)[-10:])
                later = rng.choice([timedelta(0), timedelta(seconds=61)])
                batch.append(IncomingMessage(copy.topic, copy.payload, copy.received_at + later))
                continue
            if mixed and roll < 0.3:
                device, suffix, make = rng.choice(OTHER if seed % 3 == 0 else OTHER[:2] + OTHER[3:])
            else:
                device, make = rng.choice(PLAIN)
                suffix = ""
            payload = make(rng)
            when = at - timedelta(seconds=30) if mixed and rng.random() < 0.1 else at
            if suffix == "/availability":
                body = payload["state"].encode()
            else:
                if rng.random() < 0.7:
                    payload["last_seen"] = when.isoformat()
                body = json.dumps(payload).encode().replace(b"\\\\u", b"\\u")
            message = IncomingMessage(world.topic(device, suffix), body, when)
            sent.append(message)
            if not mixed:
                plain.append(message)
            batch.append(message)
        batches.append(batch)
    return batches


def as_in(world: HomeWorld, batch: list[IncomingMessage], other: HomeWorld) -> list[IncomingMessage]:
    return [
        IncomingMessage(m.topic.replace(other.base, world.base, 1), m.payload, m.received_at) for m in batch
    ]


@pytest.mark.parametrize("seed", range(6))
def test_random_streams_leave_the_same_rows_set_wise_as_through_the_rules(commune, handled, seed):
    with time_machine.travel(MORNING, tick=False):
        set_wise = make_home(commune, now=MORNING, morning_check_room=" Salon")
        rules_only = make_home(commune, now=MORNING, morning_check_room=" Salon")
    for number, batch in enumerate(stream(set_wise, seed)):
        if number == 4:  # the resident's tablet warns of a silence: the next movement cancels it
            with scopes_disabled():
                Home.objects.filter(pk__in=[set_wise.home.pk, rules_only.home.pk]).update(
                    inactivity_state=Home.InactivityState.WARNING
                )
        if number == 9 and seed % 2:  # armed for the night: movement is no longer plain
            for world in (set_wise, rules_only):
                with scope(commune=world.commune):
                    home_arm(
                        actor=Actor.himself(world.agent, world.commune),
                        home=world.home,
                        mode=Home.ArmedMode.ARMED_NIGHT,
                        now=MORNING,
                    )
        with time_machine.travel(MORNING + timedelta(hours=2), tick=False):
            first = ingest_batch(batch)
            second = ingest_batch(as_in(rules_only, batch, set_wise), set_wise=False)
        assert [(o.reason, len(o.alarm_ids)) for o in first] == [(o.reason, len(o.alarm_ids)) for o in second]
        assert snapshot(set_wise) == snapshot(rules_only), f"after batch {number}"
    assert handled["ok"] >= 10, handled  # the comparison means something: many messages went set-wise
    assert handled["None"] > 0, handled  # and some homes' batches through the rules


def test_movement_in_the_morning_room_and_the_device_state_as_the_rules_leave_them(commune, handled):
    with time_machine.travel(MORNING, tick=False):
        world = make_home(commune, now=MORNING, morning_check_room="SALON ")
    pir = world.topic("pir")
    messages = [
        IncomingMessage(
            pir, json.dumps({"occupancy": True, "battery": 88.5, "linkquality": 40}).encode(), MORNING
        ),
        IncomingMessage(
            pir, json.dumps({"occupancy": False, "illuminance": 12}).encode(), MORNING + timedelta(seconds=5)
        ),
        IncomingMessage(
            world.topic("door"), b'{"contact": true, "battery": 61}', MORNING + timedelta(seconds=9)
        ),
    ]
    with time_machine.travel(MORNING + timedelta(minutes=1), tick=False):
        outcomes = ingest_batch(messages)
    assert [o.reason for o in outcomes] == ["ok", "ok", "ok"]
    assert handled == Counter(ok=3)
    world.refresh()
    home = world.home
    assert home.last_activity_at == MORNING
    assert home.last_morning_activity_at == MORNING  # the motion sensor's room is the morning rule's
    device = world.devices["pir"]
    assert device.state["occupancy"] is False and device.state["illuminance"] == 12
    assert device.battery == 88 and device.linkquality == 40  # the last value each message gave
    assert device.last_seen_at == MORNING + timedelta(seconds=5)
    assert device.supervision_deadline == device.last_seen_at + timedelta(minutes=device.supervision_minutes)
    with scope(commune=world.commune):
        assert DeviceEvent.objects.filter(home=world.home).count() == 3


def test_a_redelivery_is_recorded_once_in_the_batch_in_a_later_batch_and_a_minute_later(commune, handled):
    with time_machine.travel(MORNING, tick=False):
        world = make_home(commune, now=MORNING)
    message = IncomingMessage(world.topic("pir"), b'{"occupancy": false, "battery": 90}', MORNING)
    minute_later = IncomingMessage(message.topic, message.payload, MORNING + timedelta(seconds=61))
    with time_machine.travel(MORNING + timedelta(minutes=5), tick=False):
        assert [o.reason for o in ingest_batch([message, message])] == ["ok", "duplicate"]
        assert [o.reason for o in ingest_batch([message, minute_later])] == ["duplicate", "duplicate"]
    with scope(commune=world.commune):
        assert DeviceEvent.objects.filter(home=world.home).count() == 1
    # (the copy a minute later, in the same batch as the first, is known a copy before any query)
    assert handled == Counter(ok=1, duplicate=1)


def test_a_home_whose_batch_holds_anything_else_goes_through_the_rules_in_order(commune, handled):
    with time_machine.travel(MORNING, tick=False):
        world = make_home(commune, now=MORNING)
        plain_only = make_home(commune, now=MORNING)
    messages = [
        IncomingMessage(world.topic("pir"), b'{"occupancy": true}', MORNING),
        IncomingMessage(world.topic("door"), b'{"contact": false}', MORNING + timedelta(seconds=1)),
        IncomingMessage(plain_only.topic("pir"), b'{"occupancy": true}', MORNING + timedelta(seconds=2)),
    ]
    with time_machine.travel(MORNING + timedelta(minutes=1), tick=False):
        assert [o.reason for o in ingest_batch(messages)] == ["ok", "ok", "ok"]
    assert handled == Counter(ok=1)  # only the other home's message went set-wise
    world.refresh()
    assert world.devices["door"].state["contact"] is False
    assert world.home.last_activity_at == MORNING + timedelta(seconds=1)


def test_a_device_found_offline_comes_back_through_the_rules(commune, handled):
    with time_machine.travel(MORNING, tick=False):
        world = make_home(commune, now=MORNING)
    with time_machine.travel(MORNING + timedelta(minutes=5), tick=False):
        ingest_batch([IncomingMessage(world.topic("pir", "/availability"), b"offline", MORNING)])
        outcomes = ingest_batch(
            [IncomingMessage(world.topic("pir"), b'{"occupancy": false}', MORNING + timedelta(minutes=1))]
        )
    assert [o.reason for o in outcomes] == ["ok"]
    assert handled == Counter({"None": 1})
    world.refresh()
    assert world.devices["pir"].online
    with scope(commune=world.commune):
        offline = Alarm.objects.get(home=world.home, kind=Alarm.Kind.DEVICE_OFFLINE)
    assert offline.state == Alarm.State.RESOLVED


def test_movement_in_a_home_armed_while_away_still_starts_the_entry_delay(commune, handled):
    with time_machine.travel(MORNING, tick=False):
        world = make_home(commune, now=MORNING, exit_delay_s=0)
        with scope(commune=world.commune):
            home_arm(
                actor=Actor.himself(world.agent, world.commune),
                home=world.home,
                mode=Home.ArmedMode.ARMED_AWAY,
                now=MORNING,
            )
    with time_machine.travel(MORNING + timedelta(minutes=5), tick=False):
        ingest_batch(
            [IncomingMessage(world.topic("pir"), b'{"occupancy": true}', MORNING + timedelta(minutes=1))]
        )
    assert handled == Counter({"None": 1})
    world.refresh()
    assert world.home.intrusion_deadline is not None


def test_smoke_gone_is_marked_on_the_open_alarm_whichever_path_brings_it(commune, handled):
    with time_machine.travel(MORNING, tick=False):
        world = make_home(commune, now=MORNING)
    with time_machine.travel(MORNING + timedelta(minutes=5), tick=False):
        ingest_batch([IncomingMessage(world.topic("smoke"), b'{"smoke": true}', MORNING)])
        ingest_batch(
            [IncomingMessage(world.topic("smoke"), b'{"smoke": false}', MORNING + timedelta(minutes=1))]
        )
    assert handled == Counter({"None": 1})
    with scope(commune=world.commune):
        alarm = Alarm.objects.get(home=world.home, kind=Alarm.Kind.SMOKE)
        assert alarm.events.filter(kind=AlarmEvent.Kind.CLEARED).count() == 1
