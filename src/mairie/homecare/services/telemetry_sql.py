"""Plain telemetry applied set-wise in PostgreSQL: most of what gateways send, in one statement per batch.

Most messages change nothing but the device's row and the home's activity clock: a temperature, a battery level,
``occupancy: false``, a door that stays closed. ``ingest_batch`` (``mairie.homecare.services.ingest``) routes and
parses every message in Python as always, and hands the *plain* ones here (``ingest.plain_reading``: a device's state
saying no call for help, no smoke, no leak, no low battery, no button, no door opening). This module applies them in
one statement, with exactly the effect the rules would have, or leaves them to the rules:

- a home's messages are applied here only if all of them are plain and each meets, on the rows as they are in the
  database (under the homes' locks): device known and online, message not older than the device's last one (nor
  than the device's previous message in the batch), home disarmed, no door deadline to clear, no open smoke or leak alarm that a ``false`` would mark cleared, device state staying within
  ``payloads.MAX_STATE_KEYS``. Otherwise the whole home goes through the rules, in the batch's order, so the order of
  a home's messages never changes;
- the effect, for the messages that are not redeliveries (their dedup key, or the previous minute's, already
  recorded; ``ON CONFLICT`` for a concurrent writer): their events inserted; each device's state merged in the
  messages' order (``jsonb_object_agg`` keeps the last value of a key), last seen time, supervision deadline,
  battery and link quality from its latest message. The caller then records the resident's activity for the
  movements among them with ``homes.record_activity``, as the rules do (its deadlines are Python's).

Why: the rules in Python cost about 300 µs a message on this path (model objects, comparisons, writes) against a
few tens of microseconds for PostgreSQL; docs/performance.md « Homecare — bridge ». A test applies random streams
both ways and compares every row (tests/homecare/test_telemetry_sql.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from mairie.core.bulk import select_bound
from mairie.homecare import payloads
from mairie.homecare.models import Alarm, Device, DeviceEvent, Home

OK = "ok"
DUPLICATE = "duplicate"


@dataclass(frozen=True)
class PlainRow:
    """A plain state message, routed and parsed (``payload`` is its JSON text, without ``\\u`` escapes)."""

    home_id: int
    gateway_id: int
    name: str
    payload: str
    at: datetime
    keys: tuple[str, str]  # dedup key, and the previous minute's
    clears: bool  # says smoke: false or water_leak: false
    contact: bool  # says contact (true: plain messages never say a door opened)
    battery: int | None
    linkquality: int | None


def apply(rows: list[PlainRow]) -> list[str | None]:
    """Applies what it can of ``rows`` (in their order; their homes locked in this transaction): per row, ``OK``
    (its event recorded, its device updated: the caller records the resident's activity), ``DUPLICATE`` (a
    redelivery: nothing written), or ``None`` (its home goes through the rules)."""
    if not rows:
        return []
    quote = connection.ops.quote_name
    device = quote(Device._meta.db_table)
    home = quote(Home._meta.db_table)
    event = quote(DeviceEvent._meta.db_table)
    alarm = quote(Alarm._meta.db_table)
    open_states = ", ".join(f"'{state}'" for state in Alarm.OPEN_STATES)
    sql = f"""
WITH input AS (
    SELECT i.*, i.payload::jsonb AS data
    FROM unnest(%s::int[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::text[],
                %s::text[], %s::bool[], %s::bool[], %s::int[], %s::int[])
        AS i (idx, home_id, gateway_id, name, payload, at, dedup_key, previous_key, clears, contact, battery,
              linkquality)
),
checked AS (
    SELECT i.*, d.id AS device_id, h.commune_id,
        CASE WHEN jsonb_typeof(d.state) = 'object' THEN d.state ELSE '{{}}'::jsonb END AS old_state,
        coalesce(
            d.home_id = h.id AND d.online
            AND (d.last_seen_at IS NULL OR i.at >= d.last_seen_at)
            AND i.at >= coalesce(max(i.at) OVER (PARTITION BY d.id ORDER BY i.idx
                                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), i.at)
            AND h.armed_mode = %s
            AND NOT (i.contact AND d.kind = %s AND d.open_deadline IS NOT NULL)
            AND NOT (i.clears AND EXISTS (
                SELECT 1 FROM {alarm} a
                WHERE a.device_id = d.id AND a.kind IN (%s, %s) AND a.state IN ({open_states}))),
            false) AS ok
    FROM input i
    LEFT JOIN {device} d ON d.gateway_id = i.gateway_id AND d.friendly_name = i.name
    LEFT JOIN {home} h ON h.id = i.home_id
),
state_keys AS (
    SELECT c.device_id, count(DISTINCT k.key) AS keys
    FROM checked c,
        LATERAL (SELECT jsonb_object_keys(c.old_state) UNION ALL SELECT jsonb_object_keys(c.data)) AS k (key)
    WHERE c.ok
    GROUP BY c.device_id
),
handled_homes AS (
    SELECT c.home_id
    FROM checked c LEFT JOIN state_keys s ON s.device_id = c.device_id
    GROUP BY c.home_id
    HAVING bool_and(c.ok AND coalesce(s.keys, 0) <= %s)
),
todo AS (
    SELECT c.* FROM checked c
    WHERE c.home_id IN (SELECT home_id FROM handled_homes)
    AND NOT EXISTS (SELECT 1 FROM {event} e WHERE e.dedup_key IN (c.dedup_key, c.previous_key))
),
inserted AS (
    INSERT INTO {event} (commune_id, home_id, device_id, kind, payload, received_at, dedup_key)
    SELECT commune_id, home_id, device_id, 'state', data, at, dedup_key FROM todo ORDER BY idx
    ON CONFLICT (dedup_key) DO NOTHING
    RETURNING dedup_key
),
applied AS (
    SELECT t.* FROM todo t WHERE t.dedup_key IN (SELECT dedup_key FROM inserted)
),
device_changes AS (
    SELECT a.device_id,
        max(a.at) AS last_at,
        (array_agg(a.battery ORDER BY a.idx DESC) FILTER (WHERE a.battery IS NOT NULL))[1] AS battery,
        (array_agg(a.linkquality ORDER BY a.idx DESC) FILTER (WHERE a.linkquality IS NOT NULL))[1] AS linkquality,
        coalesce(jsonb_object_agg(k.key, k.value ORDER BY a.idx) FILTER (WHERE k.key IS NOT NULL), '{{}}'::jsonb)
            AS merged
    FROM applied a LEFT JOIN LATERAL jsonb_each(a.data) AS k (key, value) ON true
    GROUP BY a.device_id
),
devices_done AS (
    UPDATE {device} d SET
        last_seen_at = dc.last_at,
        supervision_deadline = dc.last_at + make_interval(mins => d.supervision_minutes),
        state = (CASE WHEN jsonb_typeof(d.state) = 'object' THEN d.state ELSE '{{}}'::jsonb END) || dc.merged,
        battery = coalesce(dc.battery, d.battery),
        linkquality = coalesce(dc.linkquality, d.linkquality)
    FROM device_changes dc WHERE d.id = dc.device_id
    RETURNING d.id
)
SELECT c.idx,
    c.home_id IN (SELECT home_id FROM handled_homes),
    c.dedup_key IN (SELECT dedup_key FROM inserted)
FROM checked c
"""  # noqa: S608 (names from the models' metadata, quoted; every value is a bound parameter)
    params: list[Any] = [
        list(range(len(rows))),
        [row.home_id for row in rows],
        [row.gateway_id for row in rows],
        [row.name for row in rows],
        [row.payload for row in rows],
        [row.at for row in rows],
        [row.keys[0] for row in rows],
        [row.keys[1] for row in rows],
        [row.clears for row in rows],
        [row.contact for row in rows],
        [row.battery for row in rows],
        [row.linkquality for row in rows],
        Home.ArmedMode.DISARMED.value,
        Device.Kind.CONTACT.value,
        Alarm.Kind.SMOKE.value,
        Alarm.Kind.WATER_LEAK.value,
        payloads.MAX_STATE_KEYS,
    ]
    results: list[str | None] = [None] * len(rows)
    for index, handled, inserted in select_bound(sql, params):
        if handled:
            results[index] = OK if inserted else DUPLICATE
    return results


def device_rooms(gateway_ids: list[int]) -> dict[tuple[int, str], str]:
    """The rooms of these gateways' devices, by (gateway, friendly name), in one query."""
    table = connection.ops.quote_name(Device._meta.db_table)
    return {
        (gateway_id, name): room
        for gateway_id, name, room in select_bound(
            f"SELECT gateway_id, friendly_name, room FROM {table} WHERE gateway_id = ANY(%s::bigint[])",  # noqa: S608
            [sorted(gateway_ids)],
        )
    }
