"""The queue is durable, tasks are queued only after their transaction commits, tickers are safe with many
workers. Uses a real SQLite-backed Huey on a temporary file (not the tests' immediate in-memory one)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django_scopes import scope, scopes_disabled
from huey import SqliteHuey

from mairie.core import tasks
from mairie.core.models import Notification, OutboxMessage
from mairie.core.notifications import delivery
from mairie.core.services.notifications import notify
from tests.core.notifications_support import add_test_templates
from tests.factories import make_user


def _durable_huey(path: Path):  # type: ignore[no-untyped-def]
    """A Huey like production's (SQLite file, not immediate) that knows the real delivery task."""
    huey = SqliteHuey("mairie", filename=str(path), results=False)
    deliver = huey.task(retries=delivery.MAX_ATTEMPTS - 1, retry_delay=delivery.RETRY_DELAY_SECONDS)(
        tasks.deliver_notification.func
    )
    return huey, deliver


def _remember_task(huey: SqliteHuey):  # type: ignore[no-untyped-def]
    @huey.task()
    def remember(value: int) -> int:
        return value

    return remember


@pytest.fixture
def outbox_email(settings):
    add_test_templates(settings)
    settings.EMAIL_BACKEND = "mairie.core.notifications.backends.OutboxEmailBackend"


@pytest.mark.django_db
def test_a_task_queued_before_a_crash_runs_after_restart(tmp_path, commune, outbox_email):
    resident = make_user(commune, email="lucie@example.org")
    with scope(commune=commune):
        (row,) = notify(
            recipient=resident,
            commune=commune,
            template="tests/visit",
            context={"day": "lundi", "note": "Apportez vos lunettes"},
            channels=["email"],
        )
    queue_file = tmp_path / "queue.sqlite3"
    before_crash, deliver = _durable_huey(queue_file)
    deliver(row.pk)  # queued, not run
    assert before_crash.pending_count() == 1
    del before_crash, deliver  # the process dies with the task still waiting: nothing in memory survives

    after_restart, _ = _durable_huey(queue_file)
    assert after_restart.pending_count() == 1
    queued = after_restart.dequeue()  # what a consumer's worker does
    assert queued.args == (row.pk,)
    assert after_restart.execute(queued) == "sent"
    assert after_restart.pending_count() == 0
    with scopes_disabled():
        assert OutboxMessage.objects.get().to == "lucie@example.org"
    with scopes_disabled():
        assert Notification.objects.get(pk=row.pk).status == "sent"


@pytest.mark.django_db(transaction=True)
def test_tasks_are_queued_only_after_the_transaction_commits(tmp_path):
    huey = SqliteHuey("mairie-commit", filename=str(tmp_path / "queue.sqlite3"), results=False)
    remember = _remember_task(huey)

    with pytest.raises(RuntimeError), transaction.atomic():
        tasks.enqueue_on_commit(remember, 1)
        raise RuntimeError("the service failed")
    assert huey.pending_count() == 0  # rolled back: never queued

    with transaction.atomic():
        tasks.enqueue_on_commit(remember, 2)
        with pytest.raises(RuntimeError), transaction.atomic():  # a savepoint rolled back inside
            tasks.enqueue_on_commit(remember, 3)
            raise RuntimeError("part of the service failed")
        assert huey.pending_count() == 0  # not before the commit
    assert huey.pending_count() == 1
    assert huey.dequeue().args == (2,)


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_task_is_queued_at_once(tmp_path):
    huey = SqliteHuey("mairie-autocommit", filename=str(tmp_path / "queue.sqlite3"), results=False)
    tasks.enqueue_on_commit(_remember_task(huey), 7)
    assert [huey.dequeue().args] == [(7,)]


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_queue_does_not_break_the_committed_request(tmp_path, caplog):
    huey = SqliteHuey("mairie-broken", filename=str(tmp_path / "queue.sqlite3"), results=False)
    remember = _remember_task(huey)

    def broken_enqueue(task):  # type: ignore[no-untyped-def]
        raise ConnectionError("queue unreachable")

    huey.enqueue = broken_enqueue  # type: ignore[method-assign]
    with transaction.atomic():
        tasks.enqueue_on_commit(remember, 1)
    assert "queue unreachable" in caplog.text


@pytest.mark.skipif(
    django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="SKIP LOCKED is PostgreSQL's; SQLite serialises the ticker's transactions instead",
)
@pytest.mark.django_db(transaction=True)
def test_a_second_worker_skips_rows_another_worker_holds(commune):
    resident = make_user(commune, email="lucie@example.org")
    ids = [  # due rows whose task was lost (notify() here would deliver them at once: autocommit)
        Notification.objects.create(
            commune=commune,
            recipient=resident,
            channel="email",
            template="tests/visit",
            subject="s",
            body="b",
        ).pk
        for _ in range(6)
    ]
    held, locked, release = set(ids[:3]), threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with scopes_disabled(), transaction.atomic():
                list(Notification.objects.select_for_update().filter(pk__in=held))
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(timeout=10)
        taken = delivery.claim_due()  # does not wait for the other worker's rows: skips them
        assert not release.is_set()
        assert set(taken) == set(ids) - held
    finally:
        release.set()
        thread.join()
