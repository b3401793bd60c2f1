"""WebSockets of the homecare module: the operator console and a home's live page (tablet, relatives).

Both only push "something changed" events (``mairie.homecare.live``): the page then fetches itself again
over HTTP, where every permission check and audit row lives. A socket that cannot be opened changes nothing
but the speed: the pages refresh on their own without it.

- ``ws/teleassistance/console/``: signed-in people holding ``homecare.console`` in the commune of the host
  name, second factor passed (their roles are sensitive), session not idle; joins
  ``homecare.console.<commune_id>`` for each commune where they hold it (the console lists them all).
- ``ws/teleassistance/maison/<home_id>/``: the home's tablet (its signed link in ``?jeton=``), its resident,
  its contacts, and the commune's console holders; joins ``homecare.home.<home_id>``.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django_scopes import scope

from mairie.core.middleware import LAST_SEEN_SESSION_KEY
from mairie.core.models import Commune
from mairie.core.permissions import SENSITIVE_CAPABILITIES, has_capability, needs_second_factor
from mairie.core.tenancy import commune_for_host
from mairie.homecare import live, selectors
from mairie.homecare.tablet import home_for_tablet_token

REFUSED = 4403


def _host(scope_: dict[str, Any]) -> str:
    for name, value in scope_.get("headers", []):
        if name == b"host":
            return value.decode("latin-1")
    return ""


def _second_factor_passed(scope_: dict[str, Any], user: Any) -> bool:
    """As django_otp's middleware decides ``user.is_verified()``: the session names a device of this user."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.models import Device

    session = scope_.get("session")
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    if not persistent_id:
        return False
    device = Device.from_persistent_id(persistent_id)
    return device is not None and device.user_id == user.pk


def _not_idle(scope_: dict[str, Any]) -> bool:
    session = scope_.get("session")
    last_seen = session.get(LAST_SEEN_SESSION_KEY) if session is not None else None
    return last_seen is None or time.time() - last_seen <= settings.SENSITIVE_IDLE_SECONDS


def _staff_session_ok(scope_: dict[str, Any], user: Any, commune: Commune, *, console: bool = False) -> bool:
    """As the pages: second factor passed for sensitive roles (not idle either) and, with ``console``, for
    anyone using the console (a sensitive capability)."""
    if needs_second_factor(user, commune):
        return _second_factor_passed(scope_, user) and _not_idle(scope_)
    if console and selectors.CONSOLE in SENSITIVE_CAPABILITIES:
        return _second_factor_passed(scope_, user)
    return True


class _Events(AsyncJsonWebsocketConsumer):
    """Forwards ``homecare.event`` group messages to the browser; answers pings."""

    joined: list[str]

    async def join(self, groups: list[str]) -> None:
        self.joined = groups
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"event": "hello"})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"event": "pong"})

    async def homecare_event(self, message: dict[str, Any]) -> None:
        await self.send_json({key: value for key, value in message.items() if key != "type"})


class ConsoleConsumer(_Events):
    async def connect(self) -> None:
        communes = await database_sync_to_async(self._communes)()
        if not communes:
            await self.close(code=REFUSED)
            return
        await self.join([live.console_group(commune_id) for commune_id in communes])

    def _communes(self) -> list[int]:
        user = self.scope.get("user")
        commune = commune_for_host(_host(self.scope))
        if commune is None or user is None or not user.is_authenticated:
            return []
        if not has_capability(user, commune, selectors.CONSOLE) or not _staff_session_ok(
            self.scope, user, commune, console=True
        ):
            return []
        return selectors.console_commune_ids(user)


class HomeConsumer(_Events):
    async def connect(self) -> None:
        home_id = self.scope["url_route"]["kwargs"]["home_id"]
        if not await database_sync_to_async(self._allowed)(home_id):
            await self.close(code=REFUSED)
            return
        await self.join([live.home_group(home_id)])

    def _allowed(self, home_id: int) -> bool:
        commune = commune_for_host(_host(self.scope))
        if commune is None or not commune.has_module("homecare"):
            return False
        token = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("jeton", [""])[0]
        user = self.scope.get("user")
        with scope(commune=commune):
            if token:
                home = home_for_tablet_token(token)
                return home is not None and home.pk == home_id
            if user is None or not user.is_authenticated:
                return False
            if selectors.homes_for_person(user, commune).filter(pk=home_id).exists():
                return _staff_session_ok(self.scope, user, commune)
            return (
                has_capability(user, commune, selectors.CONSOLE)
                and _staff_session_ok(self.scope, user, commune, console=True)
                and selectors.staff_homes(user, commune).filter(pk=home_id).exists()
            )


def _websocket_urlpatterns() -> list[Any]:
    from django.urls import path

    return [
        path("ws/teleassistance/console/", ConsoleConsumer.as_asgi(), name="homecare_console_ws"),
        path("ws/teleassistance/maison/<int:home_id>/", HomeConsumer.as_asgi(), name="homecare_home_ws"),
    ]


websocket_urlpatterns = _websocket_urlpatterns()
