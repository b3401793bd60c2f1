"""Numéripôle — catalogue throughput with 500 sessions, and statistics over 100,000 attendance records.

1. A fresh PostgreSQL database ``bench_numeripole`` gets the migrations, the demo commune (with its
   Numéripôle season) and collectstatic; then, in bulk, 500 upcoming sessions (booking sessions of module
   "inclusion", with their workshop sessions) and 100,000 attendance records (participations) spread over the
   last twelve months, 12,000 people, 8,000 collective sessions; ``VACUUM ANALYZE`` (as autovacuum would).
2. One uvicorn process serves the production settings (``bench.settings``, as ``bench/run.py`` does). wrk loads
   the minimal view (``/__bench__/ok``, behind the full middleware) and the catalogue (``/numeripole/``, whose
   first page lists the next 20 of the 500+ sessions with their seats left) in turn, round after round: the
   ratio of their medians, measured side by side. Goal ≥ 0.4.
3. The statistics page for one year (``/numeripole/statistiques/?start=…&end=…``), signed in as the commune's
   admin, requested one at a time: median and 90th percentile of the full response time (goal < 300 ms
   median). The SQL behind it is shown with ``EXPLAIN ANALYZE`` (plans and timings) in the JSON report.

    .venv/bin/python bench/numeripole.py [--rounds 5] [--seconds 5] [--stats-requests 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

from bench import run as harness  # noqa: E402  (the foundation's harness: server, wrk, machine facts)

DB_NAME = "bench_numeripole"
SESSIONS = 500
PARTICIPATIONS = 100_000
PEOPLE = 12_000
RECORDS = 8_000
CATALOGUE_GOAL = 0.4
STATS_GOAL_MS = 300


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{harness.POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DB_NAME}")


# ---------------------------------------------------------------------------------------------------------------
# Inside Django (``python bench/numeripole.py seed`` / ``explain``, run with the benchmark's environment)


def seed() -> dict[str, Any]:
    """Bulk data in the demo commune; prints the admin's session and the stats period as JSON."""
    import random
    from datetime import datetime, timedelta
    from datetime import time as dtime

    from django.db import connection
    from django.utils import timezone
    from django_scopes import scopes_disabled

    from mairie.booking.models import Session
    from mairie.core.models import Commune, User
    from mairie.inclusion.models import (
        Accompaniment,
        Beneficiary,
        Participation,
        Theme,
        Workshop,
        WorkshopSession,
    )
    from mairie.inclusion.services.rollup import activity_days_rebuild
    from mairie.inclusion.vocabularies import AgeBand, Autonomy

    rng = random.Random(7)
    today = timezone.localdate()
    with scopes_disabled():
        commune = Commune.objects.get(slug="val-de-brume")
        workshops = list(Workshop.objects.filter(commune=commune, kind="workshop"))
        themes = list(Theme.objects.filter(commune=commune))
        # 500 sessions to come, over six months, on weekdays at 10:00 or 14:00.
        starts = []
        day = today + timedelta(days=1)
        while len(starts) < SESSIONS:
            if day.weekday() < 5:
                for hour in (10, 14):
                    starts.append(
                        timezone.make_aware(datetime.combine(day, dtime(hour, rng.choice((0, 30)))))
                    )
            day += timedelta(days=1)
        chosen = [rng.choice(workshops) for _ in starts[:SESSIONS]]
        sessions = Session.objects.bulk_create(
            [
                Session(
                    commune=commune,
                    module="inclusion",
                    title=w.title,
                    description=w.summary,
                    location="Salle du Numéripôle",
                    starts_at=start,
                    ends_at=start + timedelta(minutes=w.duration_minutes),
                    capacity=w.default_capacity,
                    booked_count=rng.randint(0, w.default_capacity),
                )
                for w, start in zip(chosen, starts, strict=False)
            ]
        )
        WorkshopSession.objects.bulk_create(
            [
                WorkshopSession(commune=commune, workshop=w, session=s, place="Salle du Numéripôle")
                for w, s in zip(chosen, sessions, strict=True)
            ]
        )
        # 100,000 attendance records over the last year.
        bands = list(AgeBand.values)
        places = [
            ("Val-de-Brume", "99001"),
            ("Saint-Aubin-des-Landes", "99002"),
            ("Montfort-le-Vieux", "99004"),
            ("Les Essarts-sur-Brume", "99003"),
            ("La Chapelle-aux-Prés", "99005"),
        ]
        people = Beneficiary.objects.bulk_create(
            [
                Beneficiary(
                    commune=commune,
                    is_anonymous=True,
                    age_band=bands[i % len(bands)],
                    residence_name=places[i % len(places)][0],
                    residence_insee=places[i % len(places)][1],
                )
                for i in range(PEOPLE)
            ],
            batch_size=5000,
        )
        first_day = today - timedelta(days=364)
        records = Accompaniment.objects.bulk_create(
            [
                Accompaniment(
                    commune=commune,
                    kind=Accompaniment.Kind.COLLECTIVE,
                    date=first_day + timedelta(days=rng.randrange(365)),
                    duration_minutes=rng.choice((90, 120, 150)),
                    theme=themes[n % len(themes)],
                    coop_themes=[themes[n % len(themes)].coop_theme],
                    title=f"Séance {n}",
                )
                for n in range(RECORDS)
            ],
            batch_size=5000,
        )
        per_record, extra = divmod(PARTICIPATIONS, RECORDS)
        rows, first_seen = [], {}
        levels = [*Autonomy.values, ""]
        for n, record in enumerate(records):
            for person in rng.sample(people, per_record + (1 if n < extra else 0)):
                rows.append(
                    Participation(
                        commune=commune,
                        accompaniment=record,
                        beneficiary=person,
                        date=record.date,
                        kind=record.kind,
                        duration_minutes=record.duration_minutes,
                        theme_id=record.theme_id,
                        age_band=person.age_band,
                        residence_name=person.residence_name,
                        residence_insee=person.residence_insee,
                        autonomy=rng.choice(levels),
                    )
                )
                if person.pk not in first_seen or record.date < first_seen[person.pk]:
                    first_seen[person.pk] = record.date
        Participation.objects.bulk_create(rows, batch_size=10_000)
        for person in people:
            person.first_seen_on = first_seen.get(person.pk)
        Beneficiary.objects.bulk_update(people, ["first_seen_on"], batch_size=5000)
        activity_days_rebuild(commune=commune)  # bulk rows: the daily rollup is rebuilt as after an import
    # As autovacuum would by now: statistics for the planner, and the visibility map for index-only scans.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    with scopes_disabled():
        admin = User.objects.get(username="admin")
        total = Participation.objects.filter(commune=commune, date__gte=first_day, date__lte=today).count()
        upcoming = WorkshopSession.objects.filter(
            commune=commune, session__starts_at__gt=timezone.now()
        ).count()
    return {
        "session": _session_for(admin),
        "start": first_day.isoformat(),
        "end": today.isoformat(),
        "participations_in_period": total,
        "upcoming_sessions": upcoming,
    }


def _session_for(user: Any) -> dict[str, str]:
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return {"name": settings.SESSION_COOKIE_NAME, "value": str(store.session_key)}


def explain(start: str, end: str) -> list[dict[str, Any]]:
    """The statistics' queries, as the page runs them, with PostgreSQL's plan and timing for each."""
    from datetime import date

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_scopes import scope, scopes_disabled

    from mairie.core.models import Commune
    from mairie.inclusion.selectors.stats import statistics as inclusion_statistics

    with scopes_disabled():
        commune = Commune.objects.get(slug="val-de-brume")
    with scope(commune=commune), CaptureQueriesContext(connection) as queries:
        inclusion_statistics(commune, date.fromisoformat(start), date.fromisoformat(end))
    out = []
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + query["sql"])
            plan = [row[0] for row in cursor.fetchall()]
            timing = next((line for line in reversed(plan) if line.startswith("Execution Time")), "")
            out.append({"sql": query["sql"], "execution": timing, "plan": plan})
    return out


def django_command(what: str, *args: str) -> None:
    import django

    django.setup()
    if what == "seed":
        print(json.dumps(seed()))
    elif what == "explain":
        print(json.dumps(explain(*args)))


# ---------------------------------------------------------------------------------------------------------------
# The run


def timed_get(url: str, cookie: dict[str, str]) -> float:
    request = urllib.request.Request(  # noqa: S310 (loopback http)
        url, headers={"Host": harness.HOST, "Cookie": f"{cookie['name']}={cookie['value']}"}
    )
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        response.read()
        if response.status != 200:
            sys.exit(f"{url}: HTTP {response.status}")
    return (time.perf_counter() - began) * 1000


def in_django(env: dict[str, str], *args: str) -> Any:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        env=env,
        cwd=harness.PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"bench/numeripole.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    t = report["throughput"]
    s = report["stats"]
    lines = [
        f"Measured {m['date']} on {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM; Python {m['python']}, "
        f"Django {m['django']}, uvicorn {m['uvicorn']}, {m['wrk']}. Load average (1 min) before the run: "
        f"{m['load_average_at_start']}.",
        "",
        f"Throughput: one uvicorn process, PostgreSQL, {report['setup']['rounds']} rounds of "
        f"{report['setup']['seconds']} s per page, wrk with 1 thread and {report['setup']['connections']} "
        f"connections; {report['data']['upcoming_sessions']} upcoming sessions in the catalogue.",
        "",
        "| Page | Path | Median req/s | Ratio to minimal view (median; rounds min–max) | p50 ms | p99 ms |",
        "|---|---|---:|---|---:|---:|",
    ]
    for name, row in t.items():
        verdict = ""
        if name != "minimal view":
            verdict = " ✔" if row["ratio"] >= CATALOGUE_GOAL else " ✘"
        lines.append(
            f"| {name} | `{row['path']}` | {row['median_rps']:.0f} | **{row['ratio']:.2f}**{verdict} "
            f"({row['ratio_min_round']:.2f}–{row['ratio_max_round']:.2f}) | {row['median_p50_ms']:.1f} "
            f"| {row['median_p99_ms']:.1f} |"
        )
    lines += [
        "",
        f"Statistics over {report['data']['participations_in_period']:,} attendance records for one year "
        f"({report['data']['start']} → {report['data']['end']}), {s['requests']} requests one at a time, "
        f"signed in as the commune's admin: median **{s['median_ms']:.0f} ms**"
        f"{' ✔' if s['median_ms'] < STATS_GOAL_MS else ' ✘'} (goal < {STATS_GOAL_MS} ms), "
        f"90th percentile {s['p90_ms']:.0f} ms, fastest {s['min_ms']:.0f} ms.",
        "",
        "| SQL of the statistics (as the page runs it) | PostgreSQL execution time |",
        "|---|---:|",
    ]
    for query in report["explain"]:
        sql = query["sql"]
        short = sql if len(sql) < 150 else sql[:147] + "…"
        lines.append(f"| `{short}` | {query['execution'].replace('Execution Time: ', '')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--stats-requests", type=int, default=40)
    options = parser.parse_args()
    report: dict[str, Any] = {"machine": harness.machine()}
    with tempfile.TemporaryDirectory(prefix="mairie-bench-") as var_dir:
        env = harness.bench_env(Path(var_dir))
        env["MAIRIE_DATABASE_URL"] = f"{harness.POSTGRES}/{DB_NAME}"
        print(
            f"Preparing database {DB_NAME}: migrate, demo, collectstatic, {SESSIONS} sessions, "
            f"{PARTICIPATIONS:,} attendance records"
        )
        recreate_database()
        harness.manage(env, "migrate", "--noinput")
        harness.manage(env, "demo", "--quiet")
        harness.manage(env, "collectstatic", "--noinput")
        data = in_django(env, "seed")
        report["data"] = {k: v for k, v in data.items() if k != "session"}
        port = harness.free_port()
        server = harness.start_server(env, port)
        try:
            pages = {"minimal view": "/__bench__/ok", "catalogue (500+ sessions)": "/numeripole/"}
            print(f"Throughput ({options.rounds} rounds × {len(pages)} pages × {options.seconds} s)")
            report["setup"] = {
                "rounds": options.rounds,
                "seconds": options.seconds,
                "connections": options.connections,
            }
            report["throughput"] = harness.throughput(
                port, pages, rounds=options.rounds, seconds=options.seconds, connections=options.connections
            )
            url = f"http://127.0.0.1:{port}/numeripole/statistiques/?start={data['start']}&end={data['end']}"
            for _ in range(3):
                timed_get(url, data["session"])
            times = [timed_get(url, data["session"]) for _ in range(options.stats_requests)]
            report["stats"] = {
                "requests": len(times),
                "median_ms": round(statistics.median(times), 1),
                "p90_ms": round(sorted(times)[int(len(times) * 0.9) - 1], 1),
                "min_ms": round(min(times), 1),
                "all_ms": [round(t, 1) for t in times],
            }
            print(f"  statistics page: median {report['stats']['median_ms']} ms")
        finally:
            harness.stop_server(server)
        report["explain"] = in_django(env, "explain", data["start"], data["end"])
    harness.RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (harness.RESULTS / f"numeripole-{stamp}.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False)
    )
    text = markdown(report)
    (harness.RESULTS / "numeripole-latest.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("seed", "explain"):
        django_command(sys.argv[1], *sys.argv[2:])
    else:
        main()
