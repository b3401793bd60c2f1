"""Hostile and broken MQTT messages: what a buggy, compromised or misconfigured gateway (or anyone holding a
login) could send. Every message here must be dropped by ``ingest_message`` with a counted reason, never crash
the bridge, never write anything.

Two generators of the same families: ``hostile_strategy`` (hypothesis, shrinking to the smallest failing
message) and ``hostile_messages`` (``random``, fast enough for 100,000 messages through a real broker).
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from mairie.homecare.payloads import FIELDS, MAX_BRIDGE_DEVICES_BYTES, MAX_STATE_KEYS

MEGABYTE = 1024 * 1024
# Fields Zigbee2MQTT gives a meaning to, and a value of the wrong kind for each.
BOOLEAN_FIELDS = sorted(name for name, spec in FIELDS.items() if spec.types == (bool,))
NUMBER_FIELDS = sorted(name for name, spec in FIELDS.items() if int in spec.types and str not in spec.types)
STRING_FIELDS = sorted(name for name, spec in FIELDS.items() if spec.types == (str,))


@dataclass(frozen=True)
class Target:
    """A real home on the broker: its gateway's namespace, one device name, its meter, another commune's slug."""

    base_topic: str  # zigbee2mqtt/<slug>/<home>
    device: str
    teleinfo_topic: str
    adco: str
    other_slug: str = "mont-clair"

    @property
    def home_id(self) -> str:
        return self.base_topic.rsplit("/", 1)[1]


def wrong_value(rng: random.Random, name: str) -> Any:
    spec = FIELDS[name]
    if spec.types == (bool,):
        return rng.choice(["true", 1, 0, "yes", [], {"v": True}, 1.5])
    if spec.types == (str,):
        return rng.choice([1, True, ["emergency"], {"action": "sos"}, "x" * 500])
    choices: list[Any] = ["91", True, [1], {"value": 1}, float("nan")]
    if spec.maximum is not None:
        choices.append(spec.maximum * 10 + 1)
    if spec.minimum is not None:
        choices.append(spec.minimum - 1000)
    return rng.choice(choices)


def _json(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def _word(rng: random.Random, size: int = 8) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits + "_-", k=size))


def hostile_messages(
    targets: list[Target], *, count: int, megabytes: int = 20, seed: int = 0, exclude: tuple[str, ...] = ()
) -> Iterator[tuple[str, bytes, str]]:
    """``count`` hostile ``(topic, payload, family)``, round-robin over the families, reproducible from ``seed``;
    ``megabytes`` of them (spread evenly) are payloads of about a megabyte."""
    rng = random.Random(seed)
    families = [family for family in _FAMILIES if family != "megabyte" and family not in exclude]
    big = {round((n + 0.5) * count / megabytes) for n in range(megabytes)} if megabytes else set()
    for index in range(count):
        family = "megabyte" if index in big else families[index % len(families)]
        target = targets[rng.randrange(len(targets))]
        topic, payload = _FAMILIES[family](rng, target)
        yield topic, payload, family


def _invalid_json(rng: random.Random, t: Target) -> tuple[str, bytes]:
    payload = rng.choice(
        [
            b'{"occupancy": tru',
            b"{'action': 'emergency'}",
            b'{"action":"emergency"',
            b"\xff\xfe\x00{}",
            b"",
            b"NaN",
            b"[" * 5000 + b"]" * 5000,
            b"\x00" + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
            b'{"battery": NaN}',
            b'{"battery": Infinity}',
        ]
    )
    return f"{t.base_topic}/{t.device}", payload


def _not_an_object(rng: random.Random, t: Target) -> tuple[str, bytes]:
    value = rng.choice([[], [{"action": "emergency"}], "emergency", 42, True, None, 1.5])
    return f"{t.base_topic}/{t.device}", _json(value)


def _wrong_types(rng: random.Random, t: Target) -> tuple[str, bytes]:
    names = BOOLEAN_FIELDS + NUMBER_FIELDS + STRING_FIELDS
    bad = rng.choice(names)
    payload: dict[str, Any] = {"linkquality": rng.randint(0, 255), bad: wrong_value(rng, bad)}
    return f"{t.base_topic}/{t.device}", _json(payload)


def _too_many_keys(rng: random.Random, t: Target) -> tuple[str, bytes]:
    payload = {f"k{n}": n for n in range(MAX_STATE_KEYS + 1 + rng.randrange(50))}
    return f"{t.base_topic}/{t.device}", _json(payload)


def _megabyte(rng: random.Random, t: Target) -> tuple[str, bytes]:
    # Valid JSON, but far above any message a gateway sends (bridge/devices included).
    size = MAX_BRIDGE_DEVICES_BYTES + 1 + rng.randrange(MEGABYTE)
    body = b'{"action":"emergency","pad":"' + b"x" * size + b'"}'
    return f"{t.base_topic}/{rng.choice([t.device, 'bridge/devices'])}", body


def _unknown_device(rng: random.Random, t: Target) -> tuple[str, bytes]:
    return f"{t.base_topic}/{_word(rng)}/{_word(rng, 4)}", b'{"action":"emergency","battery":100}'


def _unknown_gateway(rng: random.Random, t: Target) -> tuple[str, bytes]:
    return f"zigbee2mqtt/{_word(rng)}/{rng.randrange(10**6)}/pendentif", b'{"action":"emergency"}'


def _other_commune(rng: random.Random, t: Target) -> tuple[str, bytes]:
    # This home's id and device under another commune's namespace.
    topic = rng.choice(
        [
            f"zigbee2mqtt/{t.other_slug}/{t.home_id}/{t.device}",
            f"zigbee2mqtt/{t.other_slug}/{t.home_id}/bridge/state",
            f"zigbee2mqtt/{t.other_slug}/{t.base_topic}/{t.device}",
        ]
    )
    return topic, b'{"action":"emergency","battery":100}'


def _foreign_root(rng: random.Random, t: Target) -> tuple[str, bytes]:
    return rng.choice(["homeassistant", "zigbee2mqtt2", "tele", _word(rng)]) + f"/{_word(rng)}", b"{}"


def _bad_topic(rng: random.Random, t: Target) -> tuple[str, bytes]:
    topic = rng.choice(
        [
            f"{t.base_topic}//{t.device}",
            f"{t.base_topic}/{t.device}/",
            f"{t.base_topic}/" + "x" * 600,
            "zigbee2mqtt",
        ]
    )
    return topic, b'{"action":"emergency"}'


def _bad_availability(rng: random.Random, t: Target) -> tuple[str, bytes]:
    payload = rng.choice([b"maybe", b'{"state": 1}', b"[]", b'{"online": true}', b"ONLINE "])
    return f"{t.base_topic}/{t.device}/availability", payload


def _bad_bridge(rng: random.Random, t: Target) -> tuple[str, bytes]:
    topic, payload = rng.choice(
        [
            ("bridge/state", b"sleepy"),
            ("bridge/devices", b'{"not": "a list"}'),
            ("bridge/devices", b"[1, 2, 3]"),
            ("bridge/devices", b'[{"friendly_name": 5, "ieee_address": []}]'),
            ("bridge/event", b"[]"),
            ("bridge/event", b'{"type": 5}'),
            ("bridge/event", b'{"type": "device_leave", "data": "x"}'),
        ]
    )
    return f"{t.base_topic}/{topic}", payload


def _bad_teleinfo(rng: random.Random, t: Target) -> tuple[str, bytes]:
    payload = rng.choice(
        [
            b'{"PAPP": {"raw": "abc", "value": "abc"}}',
            b'{"BASE": {"value": -5}}',
            b'{"BASE": {"value": true}}',
            b"[]",
            b"{}",
            b'{"PAPP": 10000000000000}',
        ]
    )
    return f"{t.teleinfo_topic}/{t.adco}", payload


_FAMILIES = {
    "invalid_json": _invalid_json,
    "not_an_object": _not_an_object,
    "wrong_types": _wrong_types,
    "too_many_keys": _too_many_keys,
    "megabyte": _megabyte,
    "unknown_device": _unknown_device,
    "unknown_gateway": _unknown_gateway,
    "other_commune": _other_commune,
    "foreign_root": _foreign_root,
    "bad_topic": _bad_topic,
    "bad_availability": _bad_availability,
    "bad_bridge": _bad_bridge,
    "bad_teleinfo": _bad_teleinfo,
}
FAMILIES = tuple(_FAMILIES)


# --- hypothesis -------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def wrong_typed_object(draw: Any) -> bytes:
    """A JSON object with extra fields of any kind and at least one mapped field of the wrong kind."""
    name = draw(st.sampled_from(BOOLEAN_FIELDS + NUMBER_FIELDS + STRING_FIELDS))
    spec = FIELDS[name]
    if spec.types == (bool,):
        bad = draw(st.integers() | st.text(max_size=10) | st.lists(st.booleans(), max_size=2) | st.floats())
    elif spec.types == (str,):
        bad = draw(st.integers() | st.booleans() | st.lists(st.text(max_size=5), max_size=2) | st.floats())
    else:
        low = spec.minimum if spec.minimum is not None else -1e18
        high = spec.maximum if spec.maximum is not None else 1e18
        bad = draw(
            st.text(max_size=10)
            | st.booleans()
            | st.lists(st.integers(), max_size=2)
            | st.integers(max_value=int(low) - 1)
            | st.integers(min_value=int(high) + 1)
            | st.just(float("nan"))
        )
    extra = draw(
        st.dictionaries(st.text(max_size=10).filter(lambda key: key not in FIELDS), json_values, max_size=5)
    )
    return _json({**extra, name: bad})


def not_json(payload: bytes) -> bool:
    try:
        json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return True
    return False


def hostile_strategy(target: Target) -> st.SearchStrategy[tuple[str, bytes]]:
    device_topic = st.just(f"{target.base_topic}/{target.device}")
    name = st.text(alphabet=string.ascii_letters + string.digits + "_-éà", min_size=1, max_size=20)
    return st.one_of(
        st.tuples(device_topic, st.binary(max_size=300).filter(not_json)),
        st.tuples(device_topic, json_values.filter(lambda value: not isinstance(value, dict)).map(_json)),
        st.tuples(device_topic, wrong_typed_object()),
        st.tuples(name.map(lambda n: f"{target.base_topic}/unknown-{n}"), json_values.map(_json)),
        st.tuples(
            name.map(lambda n: f"zigbee2mqtt/{n}/{target.home_id}/{target.device}"), json_values.map(_json)
        ).filter(lambda pair: not pair[0].startswith(target.base_topic + "/")),
        st.tuples(
            name.map(lambda n: f"{n}/{target.device}").filter(
                lambda t: not t.startswith(("zigbee2mqtt/", "teleinfo/"))
            ),
            st.binary(max_size=50),
        ),
        st.tuples(
            st.just(f"{target.base_topic}/{target.device}/availability"),
            st.binary(max_size=30).filter(
                lambda b: b.strip() not in (b"online", b"offline") and not b.strip().startswith(b"{")
            ),
        ),
        st.tuples(
            st.just(f"{target.teleinfo_topic}/{target.adco}"),
            json_values.filter(lambda v: not isinstance(v, dict)).map(_json),
        ),
        st.tuples(
            name.map(lambda n: f"teleinfo/{n}/{target.home_id}/{target.adco}"), json_values.map(_json)
        ).filter(lambda pair: not pair[0].startswith(target.teleinfo_topic + "/")),
    )
