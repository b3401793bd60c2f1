"""Helpers shared by the notification tests: test templates, SMS backends that fail, the queue's state."""

from __future__ import annotations

from pathlib import Path

from huey.contrib.djhuey import HUEY

from mairie.core.models import Commune
from mairie.core.notifications.sms import SmsBackend, SmsError

TEMPLATES_DIR = Path(__file__).parent / "notification_templates"


def add_test_templates(settings) -> None:  # type: ignore[no-untyped-def]
    """Makes ``notifications/tests/*`` templates loadable (pytest-django's ``settings`` resets it after)."""
    engine = dict(settings.TEMPLATES[0])
    engine["DIRS"] = [*engine["DIRS"], TEMPLATES_DIR]
    settings.TEMPLATES = [engine, *settings.TEMPLATES[1:]]


class BrokenSmsBackend(SmsBackend):
    """A provider that is down."""

    calls = 0

    def send(self, *, to: str, body: str, commune: Commune | None = None) -> str:
        BrokenSmsBackend.calls += 1
        raise SmsError("provider unreachable")


class RefusingSmsBackend(SmsBackend):
    """A provider that refuses the number for good."""

    def send(self, *, to: str, body: str, commune: Commune | None = None) -> str:
        raise SmsError("invalid number", permanent=True)


def run_scheduled_tasks() -> int:
    """What a consumer's scheduler and worker would do now: run the tasks whose time has come."""
    due = HUEY.read_schedule()
    for task in due:
        HUEY.execute(task)
    return len(due)
