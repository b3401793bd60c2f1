"""Live events from a process outside any event loop (the bridge): through one kept loop, on the real Redis layer."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import override_settings

from mairie.homecare import live

REDIS = "redis://127.0.0.1:6379/9"


def redis_layer(host: str = REDIS) -> dict[str, object]:
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [host], "prefix": f"test-{uuid.uuid4().hex[:8]}"},
        }
    }


@pytest.fixture
def kept_loop(monkeypatch):
    monkeypatch.setattr(live, "_own_loop", None)
    live.keep_a_loop()
    return live._own_loop


def test_the_bridge_s_events_reach_the_console_group_in_order_through_its_kept_loop(kept_loop):
    with override_settings(CHANNEL_LAYERS=redis_layer()):
        layer = get_channel_layer()
        threads: list[str] = []
        group_send = layer.group_send

        async def recording(group, message):
            threads.append(threading.current_thread().name)
            await group_send(group, message)

        layer.group_send = recording
        listener = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(live.console_group(7), listener)
        for event in ("alarm.raised", "alarm.escalated"):
            live.send_now([(live.console_group(7), {"type": "homecare.event", "event": event, "home_id": 3})])

        async def two() -> list[str]:  # one loop for both: channels_redis buffers per loop
            return [(await layer.receive(listener))["event"] for _ in range(2)]

        received = async_to_sync(two)()
    assert received == ["alarm.raised", "alarm.escalated"]
    assert threads == ["homecare-live-events"] * 2  # both sent from the one loop the bridge keeps


def test_an_unreachable_redis_is_logged_and_the_bridge_goes_on(kept_loop, caplog):
    with (
        override_settings(CHANNEL_LAYERS=redis_layer("redis://127.0.0.1:1/0")),
        caplog.at_level(logging.WARNING, logger="mairie.homecare.live"),
    ):
        live.send_now([(live.console_group(7), {"type": "homecare.event", "event": "alarm.raised"})])
    assert "Could not send" in caplog.text
