"""Real Mosquitto brokers, bridge subprocesses and databases for the homecare MQTT tests.

- ``Broker`` starts ``mosquitto`` on a free loopback port with the configuration we ship
  (``deploy/mosquitto/mosquitto.conf`` and ``acl``), replacing only the listener, the file paths (persistence in a
  temporary directory, password and ACL files) and the log destination.
- ``Database`` is a database the bridge subprocess can see (a subprocess cannot see pytest-django's test
  transaction): a SQLite file, or a PostgreSQL database when ``MAIRIE_TEST_DATABASE_URL`` is set. It is migrated
  and seeded once (``homecare_simulate --setup-only``), then cloned per test (file copy / ``CREATE DATABASE ...
  TEMPLATE``).
- ``BridgeProcess`` runs ``manage.py homecare_bridge`` against them; ``Publisher`` publishes as the gateways do.

Every wait is bounded: helpers raise ``TimeoutError`` with what they were waiting for.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from mairie.homecare.simulator import SimulatedHome

PROJECT = Path(__file__).resolve().parents[2]
SHIPPED_CONF = PROJECT / "deploy" / "mosquitto" / "mosquitto.conf"
SHIPPED_ACL = PROJECT / "deploy" / "mosquitto" / "acl"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
BRIDGE_USER = "mairie-bridge"
BRIDGE_PASSWORD = "bridge-test-secret"
SETTINGS = "tests.homecare.bridge_settings"
# Settings keys the tests replace; everything else in the shipped file is used as is.
REPLACED_KEYS = {"listener", "persistence_location", "password_file", "acl_file", "log_dest", "pid_file"}


def mosquitto_available() -> bool:
    return Path(MOSQUITTO).exists() and Path(MOSQUITTO_PASSWD).exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(interval)


def render_config(shipped: str, *, port: int, directory: Path, password_file: Path, acl_file: Path) -> str:
    kept = []
    for line in shipped.splitlines():
        words = line.split()
        if words and not words[0].startswith("#") and words[0] in REPLACED_KEYS:
            kept.append(f"# (replaced by the test) {line}")
        else:
            kept.append(line)
    kept += [
        "",
        "# --- Test overrides ---",
        f"listener {port} 127.0.0.1",
        f"persistence_location {directory}/",
        f"password_file {password_file}",
        f"acl_file {acl_file}",
        f"log_dest file {directory / 'mosquitto.log'}",
    ]
    return "\n".join(kept) + "\n"


def write_password_file(path: Path, users: dict[str, str]) -> None:
    missing = [name for name, password in users.items() if not password]
    if missing:
        raise ValueError(f"no password for {missing[:5]}: the broker could not let them in")
    path.write_text("".join(f"{name}:{password}\n" for name, password in users.items()))
    subprocess.run([MOSQUITTO_PASSWD, "-U", str(path)], check=True, capture_output=True, timeout=60)


class Broker:
    """A mosquitto started with the shipped configuration on a free loopback port.

    Its files live in their own directory under the system's temporary directory: started as root, mosquitto
    drops to the ``mosquitto`` user, which must be able to write its persistence file there (as in production,
    where /var/lib/mosquitto belongs to that user). ``close()`` stops it and removes the directory.
    """

    def __init__(self, users: dict[str, str], *, port: int | None = None) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="mairie-mosquitto-"))
        self.port = port or free_port()
        self.users = {BRIDGE_USER: BRIDGE_PASSWORD, **users}
        self.password_file = self.directory / "passwd"
        self.acl_file = self.directory / "acl"
        try:
            write_password_file(self.password_file, self.users)
        except Exception:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        shutil.copyfile(SHIPPED_ACL, self.acl_file)
        self.config_file = self.directory / "mosquitto.conf"
        self.config_file.write_text(
            render_config(
                SHIPPED_CONF.read_text(),
                port=self.port,
                directory=self.directory,
                password_file=self.password_file,
                acl_file=self.acl_file,
            )
        )
        _give_to_mosquitto_user(self.directory)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(
            lambda: port_open(self.port) or self._died(), timeout=10, what=f"mosquitto on port {self.port}"
        )
        if self._died():
            raise RuntimeError(f"mosquitto stopped at start-up:\n{self.log()}")
        return self

    def _died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: mosquitto saves its persistence file and exits; SIGKILL: it just dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _give_to_mosquitto_user(directory: Path) -> None:
    if os.geteuid() != 0:
        return
    try:
        account = pwd.getpwnam("mosquitto")
    except KeyError:  # without that user, mosquitto runs as "nobody"
        account = pwd.getpwnam("nobody")
    for path in (directory, *directory.iterdir()):
        os.chown(path, account.pw_uid, account.pw_gid)


@dataclass
class Database:
    """A database visible to subprocesses: ``url`` is what the bridge gets as MAIRIE_DATABASE_URL."""

    url: str
    kind: str  # "sqlite" or "postgresql"
    name: str

    @property
    def path(self) -> str:
        return self.name

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            with sqlite3.connect(self.name, timeout=30) as connection:
                return list(connection.execute(sql.replace("%s", "?"), params))
        import psycopg

        with psycopg.connect(_admin_url(self.url, self.name), autocommit=True) as connection:
            return list(connection.execute(sql, params))  # type: ignore[call-overload]

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.query(sql, params)[0][0]

    def clone(self, directory: Path, name: str) -> Database:
        if self.kind == "sqlite":
            target = directory / f"{name}.sqlite3"
            with sqlite3.connect(self.name) as source, sqlite3.connect(target) as copy:
                source.backup(copy)
            return Database(url=f"sqlite:///{target}", kind="sqlite", name=str(target))
        import psycopg

        with psycopg.connect(_admin_url(self.url, "postgres"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        return Database(url=_with_name(self.url, name), kind="postgresql", name=name)

    def drop(self) -> None:
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(self.name + suffix).unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(_admin_url(self.url, "postgres"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _with_name(url: str, name: str) -> str:
    parsed = urlparse(url)
    return parsed._replace(path=f"/{name}").geturl()


def _admin_url(url: str, name: str) -> str:
    parsed = urlparse(_with_name(url, name))
    return parsed._replace(scheme="postgresql").geturl()


def create_database(directory: Path, name: str) -> Database:
    """A fresh, migrated database: PostgreSQL when MAIRIE_TEST_DATABASE_URL says so, else a SQLite file."""
    base_url = os.environ.get("MAIRIE_TEST_DATABASE_URL", "")
    if base_url.startswith(("postgres://", "postgresql://")):
        database = Database(url=_with_name(base_url, name), kind="postgresql", name=name)
        import psycopg

        with psycopg.connect(_admin_url(base_url, "postgres"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
    else:
        path = directory / f"{name}.sqlite3"
        database = Database(url=f"sqlite:///{path}", kind="sqlite", name=str(path))
    manage(database, "migrate", "--noinput", timeout=300)
    return database


def subprocess_env(database: Database, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAIRIE_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS,
        MAIRIE_DATABASE_URL=database.url,
        MAIRIE_VAR_DIR=str(Path(database.name).parent if database.kind == "sqlite" else PROJECT / "var"),
        PYTHONPATH=os.pathsep.join([str(PROJECT / "src"), str(PROJECT)]),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def manage(database: Database, *args: str, timeout: float = 120, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, str(PROJECT / "manage.py"), *args],
        env=subprocess_env(database, **env),
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def seed_homes(database: Database, *, homes: int, commune: str = "val-de-brume") -> list[SimulatedHome]:
    output = manage(
        database,
        "homecare_simulate",
        "--setup-only",
        "--json",
        "--simulated-only",
        "--homes",
        str(homes),
        "--commune",
        commune,
    )
    return [SimulatedHome.from_json(item) for item in json.loads(output.strip().splitlines()[-1])["homes"]]


class BridgeProcess:
    """``manage.py homecare_bridge`` as its own process, with its log in a file."""

    def __init__(
        self,
        *,
        broker: Broker,
        database: Database,
        log_path: Path,
        client_id: str = "mairie-bridge-test",
        args: Iterable[str] = (),
    ) -> None:
        self.broker = broker
        self.database = database
        self.log_path = log_path
        self.client_id = client_id
        self.args = list(args)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BridgeProcess:
        env = subprocess_env(
            self.database,
            MAIRIE_MQTT_HOST="127.0.0.1",
            MAIRIE_MQTT_PORT=str(self.broker.port),
            MAIRIE_MQTT_USERNAME=BRIDGE_USER,
            MAIRIE_MQTT_PASSWORD=BRIDGE_PASSWORD,
            MAIRIE_MQTT_CLIENT_ID=self.client_id,
        )
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(PROJECT / "manage.py"), "homecare_bridge", *self.args],
                env=env,
                cwd=PROJECT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as in a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=15)

    def terminate(self, timeout: float = 20) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""


class Publisher:
    """Publishes as gateways do (QoS 1, one MQTT connection per gateway user, as the ACL requires)."""

    MAX_PENDING = 5000

    def __init__(self, broker: Broker, credentials: dict[str, str]) -> None:
        self.broker = broker
        self.clients: dict[str, mqtt.Client] = {}
        self.pending: list[mqtt.MQTTMessageInfo] = []
        for username, password in credentials.items():
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:10]}", clean_session=True
            )
            client.username_pw_set(username, password)
            client.max_inflight_messages_set(500)
            client.max_queued_messages_set(0)
            client.reconnect_delay_set(min_delay=1, max_delay=1)
            client.connect("127.0.0.1", broker.port, keepalive=30)
            client.loop_start()
            self.clients[username] = client
        wait_until(
            lambda: all(client.is_connected() for client in self.clients.values()),
            timeout=10,
            what="publishers connected",
        )

    def publish(self, username: str, topic: str, payload: bytes | str, *, qos: int = 1) -> None:
        info = self.clients[username].publish(topic, payload, qos=qos)
        if qos:
            self.pending.append(info)
        if len(self.pending) > self.MAX_PENDING:  # keep the clients' own queues bounded
            self._prune()
            wait_until(
                lambda: self._prune() <= self.MAX_PENDING // 2, timeout=60, what="the broker to catch up"
            )

    def _prune(self) -> int:
        # Not is_published(): it raises for a message published while the connection was down, which paho
        # keeps and sends after reconnecting (its rc stays MQTT_ERR_NO_CONN even once acknowledged).
        self.pending = [info for info in self.pending if not info._published]
        return len(self.pending)

    def wait_all_acknowledged(self, timeout: float = 60) -> None:
        wait_until(
            lambda: self._prune() == 0, timeout=timeout, what="the broker to acknowledge every publish"
        )

    def close(self) -> None:
        for client in self.clients.values():
            client.disconnect()
            client.loop_stop()


def stop_all(*things: Any) -> None:
    """Best-effort teardown: every process started by a test is stopped, whatever failed."""
    for thing in things:
        if thing is None:
            continue
        try:
            if isinstance(thing, BridgeProcess):
                if thing.running:
                    thing.kill()
            elif isinstance(thing, Broker | Publisher):
                thing.close()
        except Exception as error:  # teardown must go on
            print(f"teardown of {thing!r} failed: {error}", file=sys.stderr)


def discard_session(broker: Broker, client_id: str) -> None:
    """Connects once with ``clean_session=True`` under ``client_id``: the broker forgets that session."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.username_pw_set(BRIDGE_USER, BRIDGE_PASSWORD)
    client.connect("127.0.0.1", broker.port, keepalive=10)
    client.loop_start()
    try:
        wait_until(client.is_connected, timeout=10, what=f"{client_id} to connect")
    finally:
        client.disconnect()
        client.loop_stop()


class TcpProxy:
    """A TCP forwarder (asyncio, in its own thread) that a test can cut: the database "goes away".

    ``cut()`` closes every open connection and refuses new ones (the listening socket is closed, as when a
    server is down); ``restore()`` listens again on the same port.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        import asyncio

        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._server: Any = None
        self._writers: set[Any] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.restore()

    def _call(self, coroutine: Any) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _pipe(self, reader: Any, writer: Any) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_reader: Any, client_writer: Any) -> None:
        import asyncio

        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self._writers.update({client_writer, server_writer})
        await asyncio.gather(
            self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer)
        )
        self._writers.difference_update({client_writer, server_writer})

    async def _start(self) -> None:
        import asyncio

        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            transport = writer.transport
            transport.abort()  # RST, as when the server's process dies
        self._writers.clear()

    def restore(self) -> None:
        self._call(self._start())

    def cut(self) -> None:
        self._call(self._stop())

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
