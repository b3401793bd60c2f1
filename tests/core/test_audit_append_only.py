"""The audit log is append-only: through the ORM, through bulk operations, and in the database itself."""

from __future__ import annotations

import importlib

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django_scopes import scope, scopes_disabled

from mairie.core.models import AuditEntry, Role, User
from mairie.core.models.audit import AppendOnlyError
from mairie.core.services.audit import log_action
from tests.factories import make_user

pytestmark = pytest.mark.django_db

triggers = importlib.import_module("mairie.core.migrations.0002_audit_append_only")


@pytest.fixture
def entry(commune):
    admin = make_user(commune, Role.ADMIN)
    with scope(commune=commune):
        return log_action("core.test.recorded", commune=commune, actor=admin, obj=admin, data={"n": 1})


def _stored(entry: AuditEntry) -> tuple[str, dict]:
    with scopes_disabled():
        row = AuditEntry.objects.values_list("action", "data").get(pk=entry.pk)
    return row[0], row[1]


def test_an_entry_cannot_be_saved_again(entry):
    entry.action = "core.test.rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.save(update_fields=["action"])
    assert _stored(entry) == ("core.test.recorded", {"n": 1})


def test_an_entry_cannot_be_deleted(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    assert _stored(entry)[0] == "core.test.recorded"


def test_querysets_cannot_update_nor_delete(entry, commune):
    with scope(commune=commune):
        with pytest.raises(AppendOnlyError):
            AuditEntry.objects.filter(pk=entry.pk).update(action="core.test.rewritten")
        with pytest.raises(AppendOnlyError):
            AuditEntry.objects.all().delete()
        entry.action = "core.test.rewritten"
        with pytest.raises(AppendOnlyError), transaction.atomic():  # bulk_update breaks its transaction
            AuditEntry.objects.bulk_update([entry], ["action"])
    assert _stored(entry) == ("core.test.recorded", {"n": 1})


def test_people_and_communes_in_the_log_cannot_be_deleted_from_under_it(entry, commune):
    """Erasure anonymises a person; it never deletes the rows the log points at."""
    with scopes_disabled():
        actor = User.objects.get(pk=entry.actor_id)
        with pytest.raises(ProtectedError), transaction.atomic():
            actor.delete()
        with pytest.raises(ProtectedError), transaction.atomic():
            commune.delete()
    assert _stored(entry)[0] == "core.test.recorded"


def _raw_update_and_delete_fail(entry: AuditEntry) -> None:
    table = AuditEntry._meta.db_table
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET action = %s WHERE id = %s", ["core.test.rewritten", entry.pk])  # noqa: S608
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [entry.pk])  # noqa: S608
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
    assert _stored(entry) == ("core.test.recorded", {"n": 1})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL trigger")
def test_postgresql_refuses_raw_sql_update_and_delete(entry):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
            [AuditEntry._meta.db_table],
        )
        assert ("core_auditentry_no_change",) in cursor.fetchall()
    _raw_update_and_delete_fail(entry)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite triggers")
def test_sqlite_triggers_of_the_migration_refuse_raw_sql_update_and_delete(entry):
    # The test settings leave them out (flushes between transactional tests use DELETE); install them here,
    # inside this test's transaction, exactly as migration 0002 writes them.
    with connection.cursor() as cursor:
        for statement in triggers.SQLITE:
            cursor.execute(statement)
    _raw_update_and_delete_fail(entry)
    # Appending still works with the triggers on.
    with scopes_disabled():
        log_action("core.test.appended", commune=entry.commune, actor=None)
        assert AuditEntry.objects.filter(action="core.test.appended").count() == 1
