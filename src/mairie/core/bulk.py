"""Reading and writing many rows at once where Django's own way costs more in Python than the database does.

``copy_rows`` is PostgreSQL's ``COPY … FROM STDIN`` through psycopg: values go as they are (ids, text, JSON
already encoded, aware datetimes), with no model instance and no per-field preparation, which is most of what a
``bulk_create`` of thousands of small rows costs in Python. ``execute_bound`` and ``select_bound`` run a statement
whose parameters the server binds (a few large arrays, as ``unnest(%s::bigint[])`` or ``= ANY(%s::varchar[])``),
where Django's cursors would quote every value into the statement's text. Database errors come out as Django's (an
``IntegrityError`` for a unique key), inside the caller's transaction. The helpers' statements go into Django's
query log when it keeps one, as its own cursors' do (query counts in tests stay true).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection, models


def can_copy() -> bool:
    return connection.vendor == "postgresql"


def copy_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Inserts ``rows`` (values in the order of ``columns``, the fields' ``attname``) into ``model``'s table."""
    if not can_copy():
        raise NotImplementedError("COPY is PostgreSQL's: use bulk_create elsewhere")
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(column) for column in columns]
    assert all(isinstance(field, models.Field) for field in fields), columns
    names = ", ".join(quote(str(field.column)) for field in fields if isinstance(field, models.Field))
    statement = f"COPY {quote(meta.db_table)} ({names}) FROM STDIN"
    connection.ensure_connection()
    with _logged(statement), connection.wrap_database_errors, connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper: COPY is psycopg's own API
        with raw.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


def execute_bound(sql: str, params: Sequence[Any]) -> None:
    """Runs one statement with its parameters bound by the PostgreSQL server (Django's cursors quote them into
    the statement in Python): for a few large array parameters, as ``unnest(%s::bigint[], …)``."""
    with _bound_cursor(sql) as cursor:
        cursor.execute(sql, params)


def select_bound(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """``execute_bound`` for a query: its rows. For a large list given as one array, ``= ANY(%s::text[])``."""
    with _bound_cursor(sql) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@contextmanager
def _bound_cursor(sql: str) -> Iterator[Any]:
    """A psycopg cursor that binds parameters on the server, logged and with Django's errors."""
    if not can_copy():
        raise NotImplementedError("server-side binding here is PostgreSQL's")
    import psycopg

    connection.ensure_connection()
    with _logged(sql), connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


@contextmanager
def _logged(sql: str) -> Iterator[None]:
    """In Django's query log when it keeps one (DEBUG, tests' query counts), as its own cursors would be."""
    if not connection.queries_logged:
        yield
        return
    start = time.monotonic()
    try:
        yield
    finally:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - start:.3f}"})
