"""``make bench``: page throughput against a minimal Django view, and the weight of every resident page.

1. Throughput. A fresh PostgreSQL database ``bench_mairie`` gets the migrations, the demo commune and
   collectstatic; one uvicorn process serves the production settings (``bench.settings``: DEBUG off,
   WhiteNoise, manifest static files) plus ``/__bench__/ok``, a view returning ``HttpResponse("ok")``.
   wrk loads the minimal view, the home page and the login page in turn, round after round, on loopback,
   each for a bounded time; the report gives each page's median requests per second and its ratio to the
   minimal view measured in the same rounds. It also gives the server's CPU time per request (read from
   /proc around each wrk run) and the ratio of those: on a shared machine, other processes lengthen every
   request's wall-clock time, but not the CPU time the server spends on it, so that ratio is what the
   pages would reach on a core of their own.
2. Page weight. Headless Chromium (Playwright, Debian's /usr/bin/chromium) opens every resident page with an
   empty cache and adds up the bytes of every response as transferred (headers and encoded bodies).

Results go to ``bench/results/`` (JSON) and are printed as Markdown for ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT / "bench" / "results"
DB_NAME = "bench_mairie"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
HOST = "localhost"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WEIGHT_GOAL_BYTES = 100 * 1024
RATIO_GOAL = 0.5
GOAL_PAGES = ("home page", "login page")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env(var_dir: Path, database: str = DB_NAME) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAIRIE_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        MAIRIE_SECRET_KEY=secrets.token_urlsafe(50),
        MAIRIE_ALLOWED_HOSTS=f"{HOST},127.0.0.1",
        MAIRIE_DATABASE_URL=f"{POSTGRES}/{database}",
        MAIRIE_VAR_DIR=str(var_dir),
        MAIRIE_ALLOW_OUTBOX="true",  # nothing is sent during the benchmark
        PYTHONPATH=os.pathsep.join([str(PROJECT), str(PROJECT / "src")]),
    )
    return env


def recreate_database(database: str = DB_NAME) -> None:
    import psycopg

    if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
        sys.exit(f"not a plain database name: {database!r}")
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {database}")


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(PROJECT / "manage.py"), *args],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=PROJECT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("the benchmark server stopped at start-up")
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": HOST})
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 (loopback http)
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    sys.exit("the benchmark server did not answer within 60 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) the server process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port: int, path: str, *, seconds: int, connections: int, server_pid: int = 0) -> dict[str, float]:
    cpu_before = server_cpu_seconds(server_pid) if server_pid else 0.0
    output = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "--latency",
            "-H",
            f"Host: {HOST}",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    if "Non-2xx or 3xx responses" in output or "Socket errors" in output:
        sys.exit(f"wrk saw errors on {path}:\n{output}")
    cpu_used = server_cpu_seconds(server_pid) - cpu_before if server_pid else 0.0
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    done = re.search(r"(\d+) requests in", output)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    if not (rate and p50 and p99 and done):
        sys.exit(f"could not read wrk's output for {path}:\n{output}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "rps": float(rate.group(1)),
        "p50_ms": float(p50.group(1)) * scale[p50.group(2)],
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)],
        "cpu_ms": cpu_used * 1000 / max(1, int(done.group(1))),
    }


def throughput(
    port: int, pages: dict[str, str], *, rounds: int, seconds: int, connections: int, server_pid: int = 0
) -> dict[str, Any]:
    for path in pages.values():  # warm up: caches, connections, compiled templates
        wrk(port, path, seconds=2, connections=connections)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in pages}
    for round_number in range(1, rounds + 1):
        for name, path in pages.items():
            runs[name].append(
                wrk(port, path, seconds=seconds, connections=connections, server_pid=server_pid)
            )
        print(
            f"  round {round_number}/{rounds}: " + ", ".join(f"{n} {runs[n][-1]['rps']:.0f}/s" for n in pages)
        )
    summary: dict[str, Any] = {}
    baseline = statistics.median(run["rps"] for run in runs["minimal view"])
    baseline_cpu = statistics.median(run["cpu_ms"] for run in runs["minimal view"])
    for name, path in pages.items():
        median_rps = statistics.median(run["rps"] for run in runs[name])
        per_round_ratio = [
            run["rps"] / base["rps"] for run, base in zip(runs[name], runs["minimal view"], strict=True)
        ]
        summary[name] = {
            "path": path,
            "median_rps": round(median_rps, 1),
            "median_p50_ms": round(statistics.median(run["p50_ms"] for run in runs[name]), 2),
            "median_p99_ms": round(statistics.median(run["p99_ms"] for run in runs[name]), 2),
            "ratio": round(median_rps / baseline, 3),
            "ratio_min_round": round(min(per_round_ratio), 3),
            "ratio_max_round": round(max(per_round_ratio), 3),
            "median_cpu_ms": round(statistics.median(run["cpu_ms"] for run in runs[name]), 3),
            "cpu_ratio": round(baseline_cpu / statistics.median(run["cpu_ms"] for run in runs[name]), 3),
            "rounds_rps": [run["rps"] for run in runs[name]],
        }
    return summary


def probe(url: str, session: dict[str, str] | None) -> str:
    """Status and type of a URL for a plain GET, to leave actions (POST only), downloads and the like out."""
    headers = {"Cookie": f"{session['name']}={session['value']}"} if session else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (loopback http)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            status, content_type = response.status, response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        status, content_type = error.code, error.headers.get("Content-Type", "")
    disposition = "download" if content_type.startswith("application/json") else content_type.split(";")[0]
    return f"{status} {disposition}".strip()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def page_weights(port: int, site: dict[str, Any]) -> list[dict[str, Any]]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    base = f"http://{HOST}:{port}"
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for page_info in site["resident_pages"]:
            kind = probe(base + page_info["path"], site["session"] if page_info["signed_in"] else None)
            if kind != "200 text/html":
                results.append({**page_info, "skipped": kind})
                continue
            context = browser.new_context()
            if page_info["signed_in"]:
                context.add_cookies([{**site["session"], "url": base}])
            page = context.new_page()
            responses = []
            page.on("requestfinished", lambda request, seen=responses: seen.append(request))
            try:
                main = page.goto(base + page_info["path"], wait_until="load")
                page.wait_for_load_state("networkidle")
            except PlaywrightError as error:
                reason = str(error).splitlines()[0].split(" at http")[0]
                results.append({**page_info, "status": 0, "skipped": reason})
                context.close()
                continue
            status = main.status if main else 0
            content_type = (main.headers.get("content-type", "") if main else "").split(";")[0]
            entry: dict[str, Any] = {**page_info, "status": status}
            if status != 200 or content_type != "text/html":
                entry["skipped"] = f"HTTP {status} {content_type}".strip()
            else:
                by_kind: dict[str, int] = {}
                total = 0
                for request in responses:
                    sizes = request.sizes()
                    transferred = max(0, sizes["responseBodySize"]) + max(0, sizes["responseHeadersSize"])
                    by_kind[request.resource_type] = by_kind.get(request.resource_type, 0) + transferred
                    total += transferred
                entry.update(requests=len(responses), bytes=total, by_kind=by_kind)
            results.append(entry)
            context.close()
        browser.close()
    return results


def machine() -> dict[str, Any]:
    cpu = "unknown"
    memory_kb = 0
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, StopIteration, ValueError):
        pass
    import django
    import uvicorn

    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(memory_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "uvicorn": uvicorn.__version__,
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "wrk": (wrk_version.stdout or wrk_version.stderr).split("[")[0].strip() or "wrk",
    }


def _kb(value: int) -> str:
    return f"{value / 1024:.1f} KB"


def markdown(report: dict[str, Any]) -> str:
    lines = []
    m = report["machine"]
    lines.append(
        f"Measured {m['date']} on {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM; {m['os']}; "
        f"Python {m['python']}, Django {m['django']}, uvicorn {m['uvicorn']}, {m['wrk']}. "
        f"Load average (1 min) before the run: {m['load_average_at_start']}."
    )
    if "throughput" in report:
        t = report["throughput_setup"]
        lines += [
            "",
            f"Throughput: one uvicorn process, PostgreSQL, {t['rounds']} rounds of {t['seconds']} s "
            "per page, "
            f"wrk with 1 thread and {t['connections']} connections on loopback.",
            "",
            "| Page | Path | Median req/s | Ratio to minimal view (median; rounds min–max) "
            "| p50 ms | p99 ms | Server CPU ms/request | Ratio from CPU time |",
            "|---|---|---:|---|---:|---:|---:|---:|",
        ]
        for name, row in report["throughput"].items():
            verdict = "" if name not in GOAL_PAGES else (" ✔" if row["ratio"] >= RATIO_GOAL else " ✘")
            lines.append(
                f"| {name} | `{row['path']}` | {row['median_rps']:.0f} | **{row['ratio']:.2f}**{verdict} "
                f"({row['ratio_min_round']:.2f}–{row['ratio_max_round']:.2f}) | {row['median_p50_ms']:.1f} "
                f"| {row['median_p99_ms']:.1f} | {row['median_cpu_ms']:.2f} | {row['cpu_ratio']:.2f} |"
            )
    if "page_weight" in report:
        lines += [
            "",
            "| Resident page | Signed in | Requests | Transferred | HTML | CSS | JS | Images | Fonts "
            "| Goal ≤ 100 KB |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        weighed = [row for row in report["page_weight"] if "skipped" not in row]
        for row in weighed:
            kinds = row["by_kind"]
            cells = [
                f"`{row['path']}`",
                "yes" if row["signed_in"] else "no",
                str(row["requests"]),
                f"**{_kb(row['bytes'])}**",
                *(_kb(kinds.get(kind, 0)) for kind in ("document", "stylesheet", "script", "image", "font")),
                "✔" if row["bytes"] <= WEIGHT_GOAL_BYTES else "✘",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        skipped = [row for row in report["page_weight"] if "skipped" in row]
        if skipped:
            lines += [
                "",
                "Not pages (a plain GET does not give 200 text/html: actions, downloads, stylesheets), "
                "not weighed:",
            ]
            lines += [f"- `{row['path']}`: {row['skipped']}" for row in skipped]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="length of one wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--only", choices=["throughput", "weight"])
    parser.add_argument(
        "--database",
        default=DB_NAME,
        help="PostgreSQL database to recreate (another name lets two runs share the server)",
    )
    options = parser.parse_args()
    if options.only != "weight" and shutil.which("wrk") is None:
        sys.exit("wrk is missing: run `make bench` (it installs Debian's wrk) or apt-get install wrk")

    report: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="mairie-bench-") as var_dir:
        env = bench_env(Path(var_dir), options.database)
        print(f"Preparing database {options.database}: migrate, demo data, collectstatic")
        recreate_database(options.database)
        manage(env, "migrate", "--noinput")
        manage(env, "demo", "--quiet")
        manage(env, "collectstatic", "--noinput")
        site = json.loads(
            subprocess.run(
                [sys.executable, "-m", "bench.site_map"],
                env=env,
                cwd=PROJECT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        port = free_port()
        server = start_server(env, port)
        try:
            if options.only != "weight":
                pages = {
                    "minimal view": "/__bench__/ok",
                    "home page": site["home"],
                    "login page": site["login"],
                    "bare Django view (no middleware)": "/__bench__/bare",
                }
                print(f"Throughput ({options.rounds} rounds × {len(pages)} pages × {options.seconds} s)")
                report["throughput_setup"] = {
                    "rounds": options.rounds,
                    "seconds": options.seconds,
                    "connections": options.connections,
                }
                report["throughput"] = throughput(
                    port,
                    pages,
                    rounds=options.rounds,
                    seconds=options.seconds,
                    connections=options.connections,
                    server_pid=server.pid,
                )
            if options.only != "throughput":
                print(f"Page weight of {len(site['resident_pages'])} resident pages")
                report["page_weight"] = page_weights(port, site)
        finally:
            stop_server(server)

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"bench-{stamp}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    text = markdown(report)
    (RESULTS / "latest.md").write_text(text + "\n")
    print()
    print(text)
    failures = [
        name
        for name, row in report.get("throughput", {}).items()
        if name in GOAL_PAGES and row["ratio"] < RATIO_GOAL
    ]
    failures += [
        row["path"] for row in report.get("page_weight", []) if row.get("bytes", 0) > WEIGHT_GOAL_BYTES
    ]
    if failures:
        print(f"\nBelow the goals: {', '.join(failures)}")


if __name__ == "__main__":
    main()
