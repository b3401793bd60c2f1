"""Where the home and login pages spend their time: in-process timing and a profile, with the bench settings.

``.venv/bin/python bench/profile_pages.py [--requests 500] [--profile] [--database bench_profile]``

Prepares a PostgreSQL database like ``bench/run.py`` (migrations, demo commune, collectstatic), then, in a
child process with the production-like ``bench.settings``, requests the minimal view, the home page and the
login page through Django's test client (full middleware stack, no server) and prints, for each, the time per
request (best of five batches), the time it adds to the minimal view, and the SQL queries it runs. ``--profile`` adds a
cProfile of each page, sorted by own time. Use it before and after a change to a shared template; the ratio
the goal speaks of comes from ``bench/run.py``, under a real server.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PAGES = {"minimal view": "/__bench__/ok", "home page": "/", "login page": "/connexion/"}


def child(requests: int, profile: bool) -> None:
    import cProfile
    import pstats

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="localhost")
    base = None
    for name, path in PAGES.items():
        for _ in range(20):  # warm up: compiled templates, caches, connection
            assert client.get(path).status_code == 200, path
        with CaptureQueriesContext(connection) as queries:
            client.get(path)
        batches = []
        for _ in range(5):  # the fastest batch: the least disturbed by other work on a shared machine
            started = time.perf_counter()
            for _ in range(requests // 5):
                client.get(path)
            batches.append((time.perf_counter() - started) * 1000 / (requests // 5))
        per_request_ms = min(batches)
        base = per_request_ms if base is None else base
        print(
            f"{name:14} {per_request_ms:6.2f} ms/request (+{per_request_ms - base:5.2f} ms), "
            f"{len(queries.captured_queries)} SQL queries"
        )
        for query in queries.captured_queries:
            print(f"    {query['sql'][:160]}")
        if profile and path != PAGES["minimal view"]:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(requests):
                client.get(path)
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(80)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--database", default="bench_profile")
    parser.add_argument("--reuse", action="store_true", help="keep the database of an earlier run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.requests, options.profile)
        return
    sys.path.insert(0, str(PROJECT))
    from bench.run import bench_env, manage, recreate_database

    var_dir = Path(tempfile.gettempdir()) / f"mairie-{options.database}"
    var_dir.mkdir(exist_ok=True)
    env = bench_env(var_dir, options.database)
    env["MAIRIE_SECRET_KEY"] = "profile-only-" + "x" * 50  # stable, so --reuse keeps sessions valid
    if not options.reuse:
        recreate_database(options.database)
        manage(env, "migrate", "--noinput")
        manage(env, "demo", "--quiet")
        manage(env, "collectstatic", "--noinput")
    args = ["--child", "--requests", str(options.requests)] + (["--profile"] if options.profile else [])
    subprocess.run([sys.executable, "-m", "bench.profile_pages", *args], env=env, cwd=PROJECT, check=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
