"""The WebSockets: the console's (operators of the commune, second factor passed) and a home's (its tablet link,
its resident and relatives). Each receives its own events and nobody else's."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
import time_machine
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django_scopes import scope, scopes_disabled

from mairie.core.acting import Actor
from mairie.core.models import Role
from mairie.homecare.services.homes import home_checkin
from mairie.homecare.tablet import tablet_token
from mairie.routing import websocket_application
from tests.factories import make_user
from tests.homecare.homes_support import make_home
from tests.homecare.people_support import client_as, raise_sos

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

PARIS = ZoneInfo("Europe/Paris")
T = datetime(2026, 11, 26, 14, 0, tzinfo=PARIS)


@pytest_asyncio.fixture(autouse=True)
async def _close_thread_connections():
    """The sync parts (tests and consumers) run in one worker thread: its database connection is closed at the
    end, or PostgreSQL refuses to drop the test database."""
    yield
    await sync_to_async(connections.close_all)()


def socket(commune, path: str, user=None, *, verified: bool = True) -> WebsocketCommunicator:
    with scopes_disabled():
        host = commune.hosts.first().host
    headers = [(b"host", host.encode()), (b"origin", f"http://{host}".encode())]
    if user is not None:
        session = client_as(commune, user, verified=verified).cookies[settings.SESSION_COOKIE_NAME].value
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()))
    return WebsocketCommunicator(websocket_application, path, headers=headers)


@sync_to_async
def setup(commune, other_commune):
    with time_machine.travel(T, tick=False):
        world = make_home(commune, now=T)
        far = make_home(other_commune, now=T)
    world.operator = make_user(commune, Role.OPERATOR)
    far.operator = make_user(other_commune, Role.OPERATOR)
    return world, far


async def connected(communicator: WebsocketCommunicator) -> bool:
    ok, _code = await communicator.connect()
    if ok:
        assert (await communicator.receive_json_from())["event"] == "hello"
    return ok


CONSOLE = "/ws/teleassistance/console/"


async def test_an_operator_receives_the_alarms_of_their_commune_only(commune, other_commune):
    world, far = await setup(commune, other_commune)
    console = await sync_to_async(socket)(commune, CONSOLE, world.operator)
    assert await connected(console)
    await sync_to_async(raise_sos)(far, T)  # another commune's alarm: not for this console
    assert await console.receive_nothing(timeout=0.3)
    alarm = await sync_to_async(raise_sos)(world, T)
    event = await console.receive_json_from(timeout=3)
    assert event["event"] == "alarm.raised" and event["alarm_id"] == alarm.pk and event["kind"] == "sos"
    await console.disconnect()


async def test_the_console_socket_refuses_everyone_else(commune, other_commune):
    world, far = await setup(commune, other_commune)
    admin = await sync_to_async(make_user)(commune, Role.ADMIN)
    for user, verified in (
        (None, True),
        (world.agent, True),
        (world.contacts[0].user, True),
        (world.operator, False),  # second factor not passed
        (admin, False),  # an administrator holds the console, with the second factor too
        (far.operator, True),  # an operator of another commune, on this commune's site
    ):
        communicator = await sync_to_async(socket)(commune, CONSOLE, user, verified=verified)
        ok, _code = await communicator.connect()
        assert not ok, (user, verified)
        await communicator.disconnect()
    console = await sync_to_async(socket)(commune, CONSOLE, admin, verified=True)
    assert await connected(console)
    await console.disconnect()


async def test_the_tablet_link_opens_its_homes_socket_and_receives_its_events(commune, other_commune):
    world, _far = await setup(commune, other_commune)
    token = await sync_to_async(lambda: _token(world))()
    home = await sync_to_async(socket)(commune, f"/ws/teleassistance/maison/{world.home.pk}/?jeton={token}")
    assert await connected(home)

    def check_in():
        with scope(commune=world.commune):
            home_checkin(actor=Actor.himself(world.resident, world.commune), home=world.home)

    await sync_to_async(check_in)()
    assert (await home.receive_json_from(timeout=3))["event"] == "home.updated"
    await home.disconnect()


def _token(world) -> str:
    with scope(commune=world.commune):
        return tablet_token(world.home)


async def test_a_home_socket_refuses_a_wrong_link_another_home_and_strangers(commune, other_commune):
    world, far = await setup(commune, other_commune)
    with_time = await sync_to_async(lambda: make_home(commune, now=T))()
    token = await sync_to_async(lambda: _token(world))()
    attempts = [
        (f"/ws/teleassistance/maison/{world.home.pk}/?jeton=pas-un-jeton", None),
        (f"/ws/teleassistance/maison/{with_time.home.pk}/?jeton={token}", None),  # the link of another home
        (f"/ws/teleassistance/maison/{world.home.pk}/", None),
        (
            f"/ws/teleassistance/maison/{world.home.pk}/",
            with_time.contacts[0].user,
        ),  # a relative of another home
        (f"/ws/teleassistance/maison/{far.home.pk}/", far.contacts[0].user),  # another commune's home, here
    ]
    for path, user in attempts:
        communicator = await sync_to_async(socket)(commune, path, user)
        ok, _code = await communicator.connect()
        assert not ok, (path, user)
        await communicator.disconnect()
    relative = await sync_to_async(socket)(
        commune, f"/ws/teleassistance/maison/{world.home.pk}/", world.contacts[0].user
    )
    assert await connected(relative)
    await relative.disconnect()


async def test_a_ping_gets_a_pong(commune, other_commune):
    world, _far = await setup(commune, other_commune)
    console = await sync_to_async(socket)(commune, CONSOLE, world.operator)
    assert await connected(console)
    await console.send_json_to({"type": "ping"})
    assert (await console.receive_json_from())["event"] == "pong"
    await console.disconnect()
