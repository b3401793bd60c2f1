"""Starts every process of the embedded platform, and stops them all on Ctrl-C.

Web (uvicorn) and worker (Huey) always; with the connected-homes app installed, also the MQTT bridge, and a
Mosquitto broker from ``deploy/mosquitto/demo.conf`` when none answers on the configured local port.

``make run`` calls it after ``migrate``. Each process runs as a child in its own session, so the terminal's
Ctrl-C reaches only this command, which then asks each child to stop, waits, and forces the stragglers.
If one process dies on its own, the others are stopped too and the command fails: a half-running
platform is worse than a stopped one.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

STOP_GRACE_SECONDS = 10.0
START_TIMEOUT_SECONDS = 60.0
LOCAL_BINDINGS = {"127.0.0.1", "0.0.0.0", "localhost"}  # noqa: S104 (names, not a binding)


@dataclass(frozen=True)
class PlatformProcess:
    name: str
    argv: list[str]
    # Started before the processes after it, which wait until this local port answers.
    ready_port: int | None = None


def port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def mqtt_processes(manage: list[str], *, demo: bool = False) -> list[PlatformProcess]:
    """Broker (when none runs locally) and bridge, for the connected homes; with the demo, simulated homes."""
    if not apps.is_installed("mairie.homecare"):
        return []
    processes = []
    host = getattr(settings, "HOMECARE_MQTT_HOST", "127.0.0.1")
    port = int(getattr(settings, "HOMECARE_MQTT_PORT", 1883))
    demo_conf = settings.PROJECT_DIR / "deploy" / "mosquitto" / "demo.conf"
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if host in LOCAL_BINDINGS and not port_answers("127.0.0.1", port):
        if not (os.path.exists(mosquitto) and demo_conf.exists()):
            raise CommandError(
                f"No MQTT broker answers on 127.0.0.1:{port} and Mosquitto is not installed: "
                "install it (sudo apt-get install mosquitto) or point MAIRIE_MQTT_HOST at a broker."
            )
        if f"listener {port} " not in demo_conf.read_text():
            raise CommandError(
                f"No MQTT broker answers on 127.0.0.1:{port}, and {demo_conf.name} listens on another port."
            )
        broker_dir = settings.PROJECT_DIR / "var" / "mosquitto"
        broker_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # mosquitto started as root runs as the "mosquitto" user: it must write there
            with contextlib.suppress(LookupError, OSError):
                shutil.chown(broker_dir, user="mosquitto", group="mosquitto")
        processes.append(PlatformProcess("broker", [mosquitto, "-c", str(demo_conf)], ready_port=port))
    processes.append(PlatformProcess("bridge", [*manage, "homecare_bridge"]))
    if demo:  # a few homes' sensors, a fall and a fire (docs/homecare.md)
        processes.append(PlatformProcess("simulator", [*manage, "homecare_simulate", "--homes", "3"]))
    return processes


def platform_processes(*, host: str, port: int, demo: bool = False) -> list[PlatformProcess]:
    """The processes of DESIGN.md that exist so far, in starting order."""
    manage = [sys.executable, str(settings.PROJECT_DIR / "manage.py")]
    return [
        *mqtt_processes(manage, demo=demo),
        PlatformProcess(
            "web",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "mairie.asgi:application",
                "--host",
                host,
                "--port",
                str(port),
                "--no-access-log",
                "--lifespan",
                "off",
            ],
        ),
        PlatformProcess("worker", [*manage, "run_huey"]),
    ]


class Command(BaseCommand):
    help = "Start the web server (uvicorn, ASGI) and the background worker (Huey); Ctrl-C stops them all."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--demo", action="store_true", help="load the demo commune first and print its logins"
        )

    def handle(self, *args: Any, host: str, port: int, demo: bool, **options: Any) -> None:
        logins = ""
        if demo:
            output = io.StringIO()
            call_command("demo", stdout=output)
            logins = output.getvalue()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "mairie.settings.dev"),
        }
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(settings.PROJECT_DIR / "src"), env.get("PYTHONPATH")])
        )
        children: dict[str, subprocess.Popen[bytes]] = {}
        stopping = False

        def request_stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for process in platform_processes(host=host, port=port, demo=demo):
                children[process.name] = subprocess.Popen(
                    process.argv, env=env, cwd=settings.PROJECT_DIR, start_new_session=True
                )
                if process.ready_port is not None:
                    self._wait_for_port(process, children[process.name], lambda: stopping)
            address = f"http://{'localhost' if host in LOCAL_BINDINGS else host}:{port}"
            if self._wait_until_up(host, port, children, lambda: stopping):
                self.stdout.write(self.style.SUCCESS(f"\nMairie 4.0 is running: {address}"))
                self.stdout.write(
                    f"Processes: {', '.join(f'{n} (pid {c.pid})' for n, c in children.items())}"
                )
                if logins:
                    self.stdout.write(logins.rstrip())
                self.stdout.write("Press Ctrl-C to stop everything.\n")
            failed = self._watch(children, lambda: stopping)
        finally:
            self._stop_all(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failed:
            raise CommandError(f"The {failed} process stopped unexpectedly; everything was stopped.")
        self.stdout.write("Mairie 4.0 stopped.")

    def _wait_until_up(
        self, host: str, port: int, children: dict[str, subprocess.Popen[bytes]], stopping: Any
    ) -> bool:
        probe_host = "127.0.0.1" if host in LOCAL_BINDINGS else host
        url = f"http://{probe_host}:{port}/healthz"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not stopping():
            if any(child.poll() is not None for child in children.values()):
                return False
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def _wait_for_port(self, process: PlatformProcess, child: subprocess.Popen[bytes], stopping: Any) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not port_answers("127.0.0.1", process.ready_port or 0):
            if child.poll() is not None or stopping() or time.monotonic() > deadline:
                raise CommandError(f"The {process.name} process did not start (port {process.ready_port}).")
            time.sleep(0.1)

    def _watch(self, children: dict[str, subprocess.Popen[bytes]], stopping: Any) -> str | None:
        while not stopping():
            for name, child in children.items():
                if child.poll() is not None:
                    return name
            time.sleep(0.2)
        return None

    def _stop_all(self, children: dict[str, subprocess.Popen[bytes]]) -> None:
        """In reverse starting order (the broker last), each with SIGINT, its graceful stop (uvicorn finishes
        requests, Huey running tasks, the bridge its batch), then SIGKILL after the grace time."""
        for child in reversed(list(children.values())):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
