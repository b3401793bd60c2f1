"""Booking engine — the last seats under 50 concurrent clients on PostgreSQL: zero overbooking, bookings/s.

50 client threads, each with its own PostgreSQL connection and its own resident, call the booking service
(``mairie.booking.services.session_book``: the conditional ``UPDATE … SET booked_count = booked_count + 1 WHERE
booked_count < capacity``, the booking row, the audit row and the notification rows, in one transaction).
Each round has two phases, released by a barrier and timed from the barrier to the last client done:

- **last seats**: 10 sessions of 10 seats; every client books all 10 in the same order, so 50 clients fight
  for the same row each time: 10 get a seat, 40 go on the waiting list, per session;
- **no contention** (the yardstick, same run): every client books 10 sessions of its own.

After the run, every session is checked: confirmed bookings = seats held = ``booked_count`` ≤ capacity.
Reported: median attempts per second (confirmed or waitlisted) and seats confirmed per second in each phase,
the ratio last seats / no contention per round (median, min–max), and the overbooking count (must be 0).

Notifications are queued (Huey in memory, not executed), as a web request would leave them to the worker.

    .venv/bin/python bench/booking_last_seats.py [--rounds 15] [--clients 50]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT / "bench" / "results"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
DB_NAME = "bench_booking"
SESSIONS_PER_PHASE = 10
SEATS = 10


def setup_django() -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DB_NAME}")
    sys.path[:0] = [str(PROJECT), str(PROJECT / "src")]
    os.environ["DJANGO_SETTINGS_MODULE"] = "mairie.settings.test"
    os.environ["MAIRIE_TEST_DATABASE_URL"] = f"{POSTGRES}/{DB_NAME}"
    import django

    django.setup()
    from django.core.management import call_command
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False  # queue the deliveries, as production does; do not send them here
    call_command("migrate", verbosity=0, interactive=False)


def make_sessions(commune: Any, count: int, start: datetime) -> list[int]:
    from mairie.booking.models import Session

    rows = [
        Session(
            commune=commune,
            module="inclusion",
            title=f"Atelier {n}",
            starts_at=start + timedelta(hours=n),
            ends_at=start + timedelta(hours=n, minutes=90),
            capacity=SEATS,
        )
        for n in range(count)
    ]
    return [s.pk for s in Session.objects.bulk_create(rows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    setup_django()

    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone
    from django_scopes import scope, scopes_disabled

    from mairie.booking import services
    from mairie.booking.exceptions import BookingError
    from mairie.booking.models import Booking, Session
    from mairie.core.acting import Actor
    from mairie.core.models import Commune, CommuneHost
    from mairie.core.services.accounts import account_register

    clients = args.clients
    with scopes_disabled():
        commune = Commune.objects.create(name="Bench", slug="bench", insee_code="99999")
        CommuneHost.objects.create(commune=commune, host="bench.localhost")
        people = [
            account_register(
                commune=commune,
                first_name=f"Client{i}",
                last_name="Bench",
                email=f"client{i}@example.org",
                phone=None,
                password=None,
            )
            for i in range(clients)
        ]
    start = timezone.now() + timedelta(days=7)
    plans: list[tuple[str, list[list[int]]]] = []  # per phase: each client's sessions, in order
    with scope(commune=commune):
        for r in range(args.rounds):
            base = start + timedelta(days=30 * r)
            hot = make_sessions(commune, SESSIONS_PER_PHASE, base)
            plans.append(("last seats", [hot] * clients))
            own = make_sessions(commune, SESSIONS_PER_PHASE * clients, base + timedelta(days=10))
            plans.append(
                (
                    "no contention",
                    [own[i * SESSIONS_PER_PHASE : (i + 1) * SESSIONS_PER_PHASE] for i in range(clients)],
                )
            )
    connection.close()

    begin = threading.Barrier(clients + 1)
    end = threading.Barrier(clients + 1)
    failures: list[BaseException] = []
    counts = [[0, 0, 0] for _ in plans]  # per phase run: attempts, confirmed, refusals
    lock = threading.Lock()

    def client(index: int) -> None:
        actor = Actor.himself(people[index], commune)
        try:
            with scope(commune=commune):
                for run, (_name, plan) in enumerate(plans):
                    begin.wait()
                    refused = seated = 0
                    for session_id in plan[index]:
                        try:
                            booking = services.session_book(actor=actor, session=session_id)
                        except BookingError:
                            refused += 1
                        else:
                            seated += booking.status == Booking.Status.CONFIRMED
                    with lock:
                        counts[run][0] += len(plan[index])
                        counts[run][1] += seated
                        counts[run][2] += refused
                    end.wait()
        except BaseException as error:
            failures.append(error)
            begin.abort()
            end.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    timings: list[float] = []
    for _ in plans:
        begin.wait()
        t0 = time.perf_counter()
        end.wait()
        timings.append(time.perf_counter() - t0)
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]

    with scope(commune=commune):
        confirmed = dict(
            Booking.objects.filter(status=Booking.Status.CONFIRMED)
            .values("session_id")
            .annotate(n=Count("pk"))
            .values_list("session_id", "n")
        )
        overbooked = 0
        inconsistent = 0
        for pk, capacity, booked in Session.objects.values_list("pk", "capacity", "booked_count"):
            held = confirmed.get(pk, 0)
            overbooked += held > capacity or booked > capacity
            inconsistent += held != booked
        waitlisted = Booking.objects.filter(status=Booking.Status.WAITLISTED).count()
        total_confirmed = sum(confirmed.values())

    phases: dict[str, dict[str, list[float]]] = {}
    for (name, _plan), seconds, (attempts, seats, refused) in zip(plans, timings, counts, strict=True):
        phase = phases.setdefault(name, {"attempts_per_s": [], "seats_per_s": [], "seconds": []})
        phase["attempts_per_s"].append(attempts / seconds)
        phase["seats_per_s"].append(seats / seconds)
        phase["seconds"].append(seconds)
        if refused:
            raise SystemExit(f"{refused} attempts refused with an error in phase {name!r}")
    hot, calm = phases["last seats"], phases["no contention"]
    ratios = [h / c for h, c in zip(hot["attempts_per_s"], calm["attempts_per_s"], strict=True)]

    def med(values: list[float]) -> float:
        return round(statistics.median(values), 1)

    report = {
        "benchmark": "booking: last seats under concurrent clients",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} — {platform.processor() or platform.machine()}, {os.cpu_count()} CPU, "
        f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f} at the end",
        "clients": clients,
        "rounds": args.rounds,
        "sessions_per_phase": SESSIONS_PER_PHASE,
        "seats_per_session": SEATS,
        "phases": {
            name: {
                "attempts_per_s_median": med(p["attempts_per_s"]),
                "seats_per_s_median": med(p["seats_per_s"]),
                "seconds_median": round(statistics.median(p["seconds"]), 3),
            }
            for name, p in phases.items()
        },
        "ratio_last_seats_to_no_contention": {
            "median": round(statistics.median(ratios), 2),
            "min": round(min(ratios), 2),
            "max": round(max(ratios), 2),
        },
        "confirmed": total_confirmed,
        "waitlisted": waitlisted,
        "overbooked_sessions": overbooked,
        "inconsistent_sessions": inconsistent,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"booking-last-seats-{stamp}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print()
    print(
        "| Phase | Attempts per second (median) | Seats confirmed per second (median) | Time per phase (median) |"
    )
    print("|---|---:|---:|---:|")
    for name, p in report["phases"].items():
        print(
            f"| {name} | {p['attempts_per_s_median']} | {p['seats_per_s_median']} | {p['seconds_median']} s |"
        )
    r = report["ratio_last_seats_to_no_contention"]
    print(
        f"\nRatio last seats / no contention: {r['median']} (rounds {r['min']}–{r['max']}). "
        f"Confirmed {total_confirmed}, waitlisted {waitlisted}; overbooked sessions: {overbooked}, "
        f"sessions whose count disagrees with their bookings: {inconsistent}."
    )
    from django.db import connections

    connections.close_all()
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    if overbooked or inconsistent:
        raise SystemExit("overbooking detected")


if __name__ == "__main__":
    main()
