"""A simulated home living normal days raises no alarm: every device the village's homes have, as the simulator
makes them talk (Zigbee2MQTT's real payloads and rhythms), through the same ingestion and deadline tickers as
production. A false alarm at 3 a.m. texts a relative for nothing and teaches everyone to ignore the next one."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_scopes import scope, scopes_disabled

from mairie.core.acting import Actor
from mairie.core.models import Role
from mairie.homecare.management.commands.homecare_simulate import create_home
from mairie.homecare.models import Alarm
from mairie.homecare.services import ticks
from mairie.homecare.services.ingest import ingest_message
from mairie.homecare.simulator import HomeSimulator
from tests.factories import make_user

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 11, 23, 7, 0, tzinfo=PARIS)  # a Monday morning
WINDOW = timedelta(minutes=5)


def live(
    commune, *, hours: int, seed: int, incidents: tuple[tuple[timedelta, str], ...] = ()
) -> tuple[Counter, Counter, int]:
    agent = make_user(commune, Role.AGENT)
    with time_machine.travel(START, tick=False), scope(commune=commune):
        home = create_home(actor=Actor.himself(agent, commune), number=seed, contacts=True)
    simulator = HomeSimulator(home, start=START, seed=seed)
    for offset, incident in incidents:
        simulator.inject(START + offset, incident)
    outcomes: Counter = Counter()
    now = START
    while now < START + timedelta(hours=hours):
        now += WINDOW
        with time_machine.travel(now, tick=False):
            for message in simulator.messages(until=now):
                outcome = ingest_message(topic=message.topic, payload=message.payload, received_at=message.at)
                outcomes[outcome.reason] += 1
            ticks.all_ticks(now)
    with scopes_disabled():
        kinds = Counter(Alarm.objects.filter(home_id=home.home_id).values_list("kind", flat=True))
    return kinds, outcomes, home.home_id


@pytest.mark.django_db
def test_thirty_hours_of_normal_life_raise_no_alarm(commune):
    alarms, outcomes, home_id = live(commune, hours=30, seed=1)
    # In one simulated home out of five (its key a multiple of 5) the leak detector's battery is nearly flat:
    # that one real alarm, once, and nothing else.
    assert alarms == (Counter({"battery_low": 1}) if home_id % 5 == 0 else Counter())
    # Everything the gateway said was understood: nothing dropped as unknown or malformed.
    assert set(outcomes) <= {"ok", "ignored", "sampled"}, outcomes


@pytest.mark.django_db
def test_the_same_day_with_a_fall_raises_the_fall_and_nothing_else(commune):
    alarms, _outcomes, home_id = live(commune, hours=6, seed=2, incidents=((timedelta(hours=3), "fall"),))
    assert alarms == Counter({"fall": 1, **({"battery_low": 1} if home_id % 5 == 0 else {})})
