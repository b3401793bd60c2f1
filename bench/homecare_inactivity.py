"""Homecare — the inactivity check: time per check with 100 homes due, among 1,000 homes and among 100,000.

The check (``mairie.homecare.services.ticks.inactivity_tick``) must cost what the *due* homes cost, not what the
homes cost: it reads ``inactivity_deadline <= now`` through its index. This script measures it on PostgreSQL:

1. a fresh database ``bench_homecare`` gets the migrations and 1,000 homes (spread over 10 communes), 100 of
   them with a deadline in the past;
2. round after round: the 100 due homes are put back to "due" and the table vacuumed (outside the timing: the
   steady state autovacuum keeps; without it, the same 100 rows updated 30 times in a row leave dead index
   entries in the due range that no real population produces), then one check runs and moves them to the
   tablet-warning state (one indexed SELECT … FOR UPDATE SKIP LOCKED, grouped UPDATEs, one multi-row audit
   INSERT, one queued task for the tablets' live events); the worker's run of that task is timed apart;
3. 99,000 more homes (none due) are added, ``VACUUM ANALYZE``, and the same rounds run again; then the extra
   homes are deleted and the cycle starts over (3 cycles), so both sizes are measured under the same load.

Reported: median and 95th percentile per check, with the due-homes SELECT timed on its own, and the ratio of
the 100,000-home median to the 1,000-home median, measured in the same run. The channel layer is Redis
(channels-redis, as in production at scale) when ``127.0.0.1:6379`` answers, the in-memory layer otherwise.

    .venv/bin/python bench/homecare_inactivity.py [--rounds 30] [--homes 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT / "bench" / "results"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
DB_NAME = "bench_homecare"
DUE = 100
GOAL_MS = 50.0
GOAL_RATIO = 2.0


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def setup_django(use_redis: bool) -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DB_NAME}")
    sys.path[:0] = [str(PROJECT), str(PROJECT / "src")]
    os.environ["DJANGO_SETTINGS_MODULE"] = "mairie.settings.test"
    os.environ["MAIRIE_TEST_DATABASE_URL"] = f"{POSTGRES}/{DB_NAME}"
    import django
    from django.conf import settings

    django.setup()
    if use_redis:
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": ["redis://127.0.0.1:6379/0"]},
            }
        }
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def build(start: int, count: int, *, due: int, now: datetime, communes: list[Any], resident: Any) -> None:
    from django_scopes import scopes_disabled

    from mairie.homecare.models import Home

    rows = []
    with scopes_disabled():
        for n in range(start, start + count):
            is_due = n - start < due
            rows.append(
                Home(
                    commune=communes[n % len(communes)],
                    resident=resident,
                    label=f"Maison {n}",
                    last_activity_at=now - timedelta(hours=13 if is_due else 1),
                    # Not due: spread over the next 12 hours, as a real population's deadlines are.
                    inactivity_deadline=now - timedelta(minutes=1 + n % 30)
                    if is_due
                    else now + timedelta(seconds=60 + (n * 7919) % 43_200),
                )
            )
            if len(rows) == 5000:
                Home.objects.bulk_create(rows, batch_size=5000)
                rows = []
        if rows:
            Home.objects.bulk_create(rows, batch_size=5000)


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE homecare_home")
        cursor.execute("VACUUM ANALYZE core_auditentry")


def reset_due(ids: list[int], now: datetime) -> None:
    from django_scopes import scopes_disabled

    from mairie.homecare.models import Home

    with scopes_disabled():
        Home.objects.filter(pk__in=ids).update(
            inactivity_state=Home.InactivityState.OK,
            inactivity_reason="",
            inactivity_deadline=now - timedelta(minutes=1),
        )


def measure(rounds: int, now: datetime, due_ids: list[int]) -> dict[str, list[float]]:
    """``rounds`` checks (after one warm-up), each on a freshly vacuumed table with the 100 homes due again."""
    from django.db import connection, transaction
    from django_scopes import scopes_disabled
    from huey.contrib.djhuey import HUEY

    from mairie.homecare.services import ticks

    HUEY.immediate = False  # as in production: the ticker queues the tablets' live events for the worker
    checks, selects, fanouts = [], [], []
    for _ in range(rounds + 1):
        reset_due(due_ids, now)
        with connection.cursor() as cursor:  # steady state, as autovacuum keeps it (see the docstring)
            cursor.execute("VACUUM homecare_home")
        started = time.perf_counter()
        with scopes_disabled(), transaction.atomic():
            found = ticks.due_homes(now)
        selects.append((time.perf_counter() - started) * 1000)
        assert len(found) == DUE, len(found)
        started = time.perf_counter()
        result = ticks.inactivity_tick(now)
        checks.append((time.perf_counter() - started) * 1000)
        assert result == {"warnings": DUE, "alarms": 0}, result
        started = time.perf_counter()
        worked = 0
        while (task := HUEY.dequeue()) is not None:
            HUEY.execute(task)
            worked += 1
        assert worked == 1, worked
        fanouts.append((time.perf_counter() - started) * 1000)
    return {"check": checks[1:], "select": selects[1:], "fanout": fanouts[1:]}


def summary(samples: dict[str, list[float]], homes: int) -> dict[str, Any]:
    from django.db import connection

    checks = sorted(samples["check"])
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT * FROM homecare_home WHERE inactivity_deadline <= now() "
            "ORDER BY inactivity_deadline LIMIT 500 FOR UPDATE SKIP LOCKED"
        )
        plan = [row[0] for row in cursor.fetchall()]
    return {
        "homes": homes,
        "due": DUE,
        "checks": len(checks),
        "check_median_ms": round(statistics.median(checks), 2),
        "check_p95_ms": round(checks[int(0.95 * (len(checks) - 1))], 2),
        "select_median_ms": round(statistics.median(samples["select"]), 3),
        "fanout_median_ms": round(statistics.median(samples["fanout"]), 2),
        "plan": plan,
    }


def shrink(keep: int) -> None:
    from django_scopes import scopes_disabled

    from mairie.homecare.models import Home

    with scopes_disabled():
        Home.objects.filter(label__regex=r"^Maison [0-9]+$").exclude(
            label__in=[f"Maison {n}" for n in range(keep)]
        ).delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--homes", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--cycles", type=int, default=3)
    args = parser.parse_args()
    use_redis = redis_up()
    setup_django(use_redis)

    from django.utils import timezone
    from django_scopes import scopes_disabled
    from tests.factories import make_commune, make_user

    from mairie.homecare.models import Home

    now = timezone.now()
    with scopes_disabled():
        communes = [make_commune(f"Bench {i}") for i in range(10)]
    resident = make_user(communes[0])
    build(0, args.small, due=DUE, now=now, communes=communes, resident=resident)
    vacuum()
    with scopes_disabled():
        due_ids = list(Home.objects.filter(inactivity_deadline__lte=now).values_list("pk", flat=True))
    # Sizes alternate (small, large, back to small...) so that the machine's load weighs on both alike.
    per_cycle = max(1, args.rounds // args.cycles)
    small_samples: dict[str, list[float]] = {"check": [], "select": [], "fanout": []}
    large_samples: dict[str, list[float]] = {"check": [], "select": [], "fanout": []}
    for cycle in range(args.cycles):
        if cycle:
            shrink(args.small)
            vacuum()
        for key, values in measure(per_cycle, now, due_ids).items():
            small_samples[key] += values
        build(args.small, args.homes - args.small, due=0, now=now, communes=communes, resident=resident)
        vacuum()
        for key, values in measure(per_cycle, now, due_ids).items():
            large_samples[key] += values
    large = summary(large_samples, args.homes)
    shrink(args.small)
    vacuum()
    small = summary(small_samples, args.small)
    ratio = round(large["check_median_ms"] / small["check_median_ms"], 2)
    report = {
        "benchmark": "homecare inactivity check",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} — {platform.processor() or platform.machine()}, {os.cpu_count()} CPU, "
        f"Python {platform.python_version()}",
        "channel_layer": "redis" if use_redis else "in-memory",
        "rounds": args.rounds,
        "cycles": args.cycles,
        "small": small,
        "large": large,
        "ratio": ratio,
        "goal": {"check_ms": GOAL_MS, "ratio": GOAL_RATIO},
        "met": large["check_median_ms"] <= GOAL_MS and ratio <= GOAL_RATIO,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"homecare-inactivity-{stamp}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print()
    print(
        "| Homes | Due | Check, median | Check, 95th pct | Due-homes SELECT, median | Tablet events (worker), median |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for row in (small, large):
        print(
            f"| {row['homes']:,} | {row['due']} | {row['check_median_ms']} ms | {row['check_p95_ms']} ms | "
            f"{row['select_median_ms']} ms | {row['fanout_median_ms']} ms |"
        )
    print(
        f"\nRatio {args.homes:,} / {args.small:,} homes (medians): {ratio} (goal ≤ {GOAL_RATIO}); goal per check ≤ {GOAL_MS} ms."
    )
    from django.db import connections

    connections.close_all()
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
