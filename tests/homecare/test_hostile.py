"""Hostile payloads: no crash, nothing written, every one counted.

1. Property-based (hypothesis), in process: ``ingest_message`` drops each generated message with a known reason
   and writes nothing; hypothesis shrinks any counter-example to the smallest message.
2. 100,000 generated messages through a real Mosquitto (our shipped configuration) into the bridge as its own
   process: invalid JSON, wrong types, megabyte payloads, unknown devices and gateways, another commune's
   topics... The bridge stays up, the database holds no event nor alarm, and its counters add up to 100,000.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest
from django_scopes import scope
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mairie.homecare.models import Alarm, Device, DeviceEvent, EnergyReading
from mairie.homecare.services.ingest import DROP_REASONS, ingest_message
from tests.homecare.homes_support import make_home
from tests.homecare.hostile import FAMILIES, Target, hostile_messages, hostile_strategy
from tests.homecare.mqtt_support import (
    BRIDGE_PASSWORD,
    BRIDGE_USER,
    BridgeProcess,
    Broker,
    Publisher,
    create_database,
    mosquitto_available,
    seed_homes,
    stop_all,
    wait_until,
)

NOON = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
HOSTILE_COUNT = 100_000


@pytest.fixture
def home(commune):
    return make_home(commune, now=NOON, contacts=1)


def snapshot(world) -> dict[str, object]:
    with scope(commune=world.commune):
        return {
            "events": DeviceEvent.objects.count(),
            "alarms": Alarm.objects.count(),
            "readings": EnergyReading.objects.count(),
            "devices": sorted(
                Device.objects.values_list(
                    "pk", "state", "last_seen_at", "battery", "online", "supervision_deadline"
                )
            ),
        }


@pytest.mark.django_db
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_hostile_messages_are_dropped_and_write_nothing(home, data):
    target = Target(
        base_topic=home.gateway.base_topic,
        device=home.devices["sos"].friendly_name,
        teleinfo_topic=home.gateway.teleinfo_topic,
        adco=home.devices["meter"].friendly_name,
    )
    before = snapshot(home)
    topic, payload = data.draw(hostile_strategy(target))
    outcome = ingest_message(topic=topic, payload=payload, received_at=NOON)
    assert not outcome.accepted, (topic, payload, outcome)
    assert outcome.reason in DROP_REASONS
    assert snapshot(home) == before


@pytest.mark.django_db
def test_every_family_of_the_fast_generator_is_dropped_in_process(home):
    """The generator used for the 100,000 below, checked family by family without a broker."""
    target = Target(
        base_topic=home.gateway.base_topic,
        device=home.devices["sos"].friendly_name,
        teleinfo_topic=home.gateway.teleinfo_topic,
        adco=home.devices["meter"].friendly_name,
    )
    before = snapshot(home)
    seen = set()
    for topic, payload, family in hostile_messages([target], count=len(FAMILIES) * 20, megabytes=3, seed=7):
        outcome = ingest_message(topic=topic, payload=payload, received_at=NOON)
        assert not outcome.accepted, (family, topic, payload[:200], outcome)
        seen.add(family)
    assert seen == set(FAMILIES)
    assert snapshot(home) == before


def written(database) -> dict[str, object]:
    """What the bridge could have written: row counts, and every device's state as the bridge updates it."""
    tables = ("deviceevent", "alarm", "alarmevent", "energyreading", "bridgedeadletter", "gateway")
    counts: dict[str, object] = {
        table: database.scalar(f"SELECT count(*) FROM homecare_{table}")  # noqa: S608
        for table in tables
    }
    counts["devices"] = database.query(
        "SELECT id, state, last_seen_at, battery, linkquality, online, supervision_deadline"
        " FROM homecare_device ORDER BY id"
    )
    counts["gateways_seen"] = database.query(
        "SELECT id, last_seen_at, online FROM homecare_gateway ORDER BY id"
    )
    return counts


@pytest.mark.mqtt
@pytest.mark.skipif(
    not mosquitto_available(), reason="mosquitto is not installed (apt-get install mosquitto)"
)
def test_100000_hostile_messages_through_the_broker_no_crash_nothing_written_all_counted(tmp_path):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    base = os.environ.get("MAIRIE_TEST_DATABASE_NAME", "test_mairie")
    database = create_database(tmp_path, f"{base}_hostile_{worker}_{uuid.uuid4().hex[:6]}")
    started: list[object] = []
    try:
        homes = seed_homes(database, homes=3)
        before = written(database)  # the demo commune's own history is there too
        broker = Broker({home.username: home.password for home in homes}).start()
        started.append(broker)
        bridge = BridgeProcess(broker=broker, database=database, log_path=tmp_path / "bridge.log").start()
        started.append(bridge)
        wait_until(lambda: "subscribed to" in bridge.log(), timeout=60, what="the bridge to subscribe")
        # Anything under zigbee2mqtt/ needs a login allowed to write there (the bridge's, as a leaked password
        # would be); the meters' topics are written by their gateway.
        publisher = Publisher(
            broker, {BRIDGE_USER: BRIDGE_PASSWORD, **{h.username: h.password for h in homes}}
        )
        started.append(publisher)
        owners = {home.teleinfo_topic: home.username for home in homes}
        targets = [
            Target(h.base_topic, h.device("sos").friendly_name, h.teleinfo_topic, h.adco) for h in homes
        ]
        families: dict[str, int] = {}
        # Not "foreign_root": the bridge subscribes to zigbee2mqtt/# and teleinfo/# only, so messages under other
        # roots never reach it (checked in process above).
        generated = hostile_messages(
            targets, count=HOSTILE_COUNT, megabytes=20, seed=1, exclude=("foreign_root",)
        )
        for topic, payload, family in generated:
            login = owners.get(topic.rsplit("/", 1)[0], BRIDGE_USER)
            publisher.publish(login, topic, payload)
            families[family] = families.get(family, 0) + 1
        publisher.wait_all_acknowledged(timeout=300)
        # Then one ordinary message: the broker holds everything above for the bridge, which takes its queue in
        # order, so once the marker's event is written, everything before it has been handled.
        marker = homes[0].topic(homes[0].device("motion").friendly_name)
        publisher.publish(
            homes[0].username, marker, b'{"occupancy":true,"last_seen":"2026-11-26T09:00:00.000Z"}'
        )
        publisher.wait_all_acknowledged(timeout=60)
        wait_until(
            lambda: database.scalar("SELECT count(*) FROM homecare_deviceevent") or not bridge.running,
            timeout=1200,
            what="the bridge to reach the last message",
        )
        assert bridge.running, bridge.log()
        assert bridge.terminate() == 0
        reasons = {  # "staged" is back to 0 once everything staged is applied
            reason: count
            for reason, count in database.query(
                "SELECT reason, sum(count) FROM homecare_bridgecounter GROUP BY reason"
            )
            if count
        }
        assert reasons.pop("ok") == 1  # the marker
        assert set(reasons) <= DROP_REASONS, reasons
        assert reasons["too_large"] == families["megabyte"]
        # Each message counted once; a dropped message whose acknowledgement was cut by a reconnection comes back
        # and is counted again (nothing marks a dropped message as seen), at most a batch per reconnection.
        reconnections = bridge.log().count("session resumed")
        assert HOSTILE_COUNT <= sum(reasons.values()) <= HOSTILE_COUNT + 100 * reconnections
        after = written(database)
        marker_device = database.scalar("SELECT device_id FROM homecare_deviceevent ORDER BY id DESC LIMIT 1")
        assert after.pop("deviceevent") == before.pop("deviceevent") + 1  # the marker, nothing else
        # Every device as it was, except the marker's (its state and last-seen time moved, as they should).
        assert [row for row in after.pop("devices") if row[0] != marker_device] == [
            row for row in before.pop("devices") if row[0] != marker_device
        ]
        assert after == before
    finally:
        stop_all(*reversed(started))
        database.drop()
