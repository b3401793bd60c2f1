"""``manage.py run_platform`` (what ``make run`` starts): every process up, the home page served, Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mairie.core.management.commands import run_platform

PROJECT_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
        return response.status, response.read().decode()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def wait_until(condition, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)  # polling a real subprocess, not waiting for time to pass in the code under test


@pytest.mark.skipif(
    bool(os.environ.get("MAIRIE_TEST_DATABASE_URL")),
    reason="uses its own SQLite file, not the test database: once, in the SQLite pass, is enough",
)
def test_the_platform_starts_serves_the_demo_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAIRIE_", "DJANGO_"))}
    env.update(MAIRIE_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="mairie.settings.dev")
    manage = [sys.executable, str(PROJECT_DIR / "manage.py")]
    subprocess.run(
        [*manage, "migrate", "--noinput"], env=env, cwd=PROJECT_DIR, check=True, capture_output=True
    )
    platform = subprocess.Popen(
        [*manage, "run_platform", "--demo", "--port", str(port)],
        env=env,
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def site_up() -> bool:
            if platform.poll() is not None:
                raise AssertionError(f"run_platform stopped:\n{platform.stdout.read()}")  # type: ignore[union-attr]
            return _answers(port)

        wait_until(
            site_up, seconds=300, what="the site"
        )  # loading the whole demo takes a while on 2 busy cores
        status, page = get(f"http://localhost:{port}/")
        assert status == 200
        assert "Val-de-Brume" in page
        started = children_of(platform.pid)
        assert len(started) >= 2  # web and worker at least
        if run_platform.apps.is_installed("mairie.homecare"):
            # The connected homes live: the simulator's Zigbee2MQTT traffic goes through the broker to the
            # bridge, which commits it (and counts it) in the platform's own database.
            wait_until(
                lambda: _rows(tmp_path, "SELECT count(*) FROM homecare_deviceevent") > 0,
                seconds=180,
                what="the simulated homes' messages in the database",
            )
            accepted = "SELECT coalesce(sum(count), 0) FROM homecare_bridgecounter WHERE reason = 'ok'"
            wait_until(lambda: _rows(tmp_path, accepted) > 0, seconds=60, what="the bridge's counters")
    finally:
        platform.send_signal(signal.SIGINT)
        output, _ = platform.communicate(timeout=60)

    assert platform.returncode == 0, output
    assert f"Mairie 4.0 is running: http://localhost:{port}" in output
    assert "demo-mairie-2026" in output  # the demo logins are printed
    assert "Mairie 4.0 stopped." in output
    assert all(not Path(f"/proc/{pid}").exists() or _is_zombie(pid) for pid in started)


def _rows(var_dir: Path, sql: str) -> int:
    """A number read straight from the platform's SQLite file (it runs in other processes)."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{var_dir / 'mairie.sqlite3'}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # locked for a moment, or the table not there yet
        return 0


def _answers(port: int) -> bool:
    try:
        return get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    except OSError:
        return False


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_web_and_worker_are_always_started():
    processes = run_platform.platform_processes(host="127.0.0.1", port=8000)
    commands = {process.name: " ".join(process.argv) for process in processes}

    assert "uvicorn mairie.asgi:application --host 127.0.0.1 --port 8000" in commands["web"]
    assert commands["worker"].endswith("manage.py run_huey")


@pytest.mark.skipif(
    not run_platform.apps.is_installed("mairie.homecare")
    or not (PROJECT_DIR / "deploy" / "mosquitto" / "demo.conf").exists(),
    reason="the connected-homes app or its demo broker configuration is not there",
)
def test_a_broker_is_started_only_when_none_answers(monkeypatch):
    monkeypatch.setattr(run_platform, "port_answers", lambda host, port: True)
    names = [process.name for process in run_platform.platform_processes(host="127.0.0.1", port=8000)]
    assert "broker" not in names
    assert "bridge" in names

    monkeypatch.setattr(run_platform, "port_answers", lambda host, port: False)
    monkeypatch.setattr(run_platform.os.path, "exists", lambda path: True)
    processes = run_platform.platform_processes(host="127.0.0.1", port=8000)
    assert processes[0].name == "broker"  # first, and the others wait for its port
    assert processes[0].argv[-1].endswith("deploy/mosquitto/demo.conf")
    assert processes[0].ready_port == 1883
