"""PostgreSQL's fast paths for many rows: COPY and server-bound array parameters, with Django's errors and log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from mairie.core.bulk import can_copy, copy_rows, execute_bound, select_bound
from mairie.core.models import Commune

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def postgresql_only():
    if not can_copy():
        pytest.skip("COPY and server-side binding are PostgreSQL's (SQLite takes bulk_create)")


def test_copy_rows_inserts_what_it_is_given_and_logs_one_statement(commune):
    from mairie.homecare.models import StagedMessage

    with CaptureQueriesContext(connection) as captured:
        copy_rows(
            StagedMessage,
            ("bridge", "topic", "payload", "received_at"),
            [("b", f"zigbee2mqtt/x/{n}", b"{\t\n\\}\x00", AT) for n in range(3)],
        )
    assert [query["sql"] for query in captured.captured_queries] == [
        'COPY "homecare_stagedmessage" ("bridge", "topic", "payload", "received_at") FROM STDIN'
    ]
    rows = list(StagedMessage.objects.order_by("pk"))
    assert [row.topic for row in rows] == ["zigbee2mqtt/x/0", "zigbee2mqtt/x/1", "zigbee2mqtt/x/2"]
    assert bytes(rows[0].payload) == b"{\t\n\\}\x00"  # tabs, newlines, backslashes and NUL survive
    assert rows[0].received_at == AT


def test_a_duplicate_key_in_a_copy_is_djangos_integrity_error_and_rolls_back_alone(commune):
    from mairie.homecare.models import BridgeCounter

    BridgeCounter.objects.create(bridge="b", reason="ok", count=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        copy_rows(BridgeCounter, ("bridge", "reason", "count", "updated_at"), [("b", "ok", 2, AT)])
    assert BridgeCounter.objects.get().count == 1  # the transaction goes on after its savepoint


def test_execute_bound_updates_many_rows_from_arrays(commune):
    with scopes_disabled():
        other = Commune.objects.create(name="Autreville", slug="autreville")
        ids = [commune.pk, other.pk]
    execute_bound(
        'UPDATE "core_commune" SET "name" = v.name FROM unnest(%s::bigint[], %s::varchar[]) AS v (id, name) '
        'WHERE "core_commune"."id" = v.id',
        [ids, ["Première", "Seconde"]],
    )
    with scopes_disabled():
        assert list(Commune.objects.filter(pk__in=ids).order_by("pk").values_list("name", flat=True)) == [
            "Première",
            "Seconde",
        ]


def test_select_bound_answers_from_one_array_parameter(commune):
    with scopes_disabled():
        other = Commune.objects.create(name="Autreville", slug="autreville")
    rows = select_bound(
        'SELECT "slug" FROM "core_commune" WHERE "slug" = ANY(%s::varchar[]) ORDER BY "slug"',
        [[other.slug, commune.slug, "nulle-part"]],
    )
    assert rows == sorted([(other.slug,), (commune.slug,)])
