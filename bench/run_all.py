"""``make bench``: every benchmark in turn, each in its own process, then ``BENCHMARKS.md``.

Each benchmark compares this project with its baseline or peer in the same run (see
``bench/report.py`` for what a benchmark reports). This runs them one after the other — never two
at once, or their figures would disturb each other on a small machine — and writes the page: the
machine and versions, the command for each, its tables and findings, and a summary of headlines.
A benchmark that fails is reported as failed on the page and makes the command exit 1; the others
still run. Leftover scratch schemas of killed runs are dropped first.

    .venv/bin/python -m bench.run_all [--size full|tiny] [--only sync,webhooks] [--out BENCHMARKS.md]
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench.report import Result, parser
from bench.scratch_db import drop_leftover_schemas

# In the order of the page: what an agent feels first, then what each part costs.
BENCHMARKS = ("agent_reads", "sync", "outbox", "enrichment", "webhooks", "freshness", "scaling")
# Run only when asked (``--only under_load``): everything at once, for issue #13's goals.
EXTRA = ("under_load",)
PACKAGES = ("duckdb", "psycopg2-binary", "dagster", "httpx", "uvicorn", "dlt", "procrastinate", "psycopg")


@dataclass
class Outcome:
    """One benchmark's run: its result, or why it has none."""

    name: str
    seconds: float
    result: Result | None = None
    failure: str = ""


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated benchmark names (default: all)")
    p.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"))
    args = p.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS) - set(EXTRA))
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS + EXTRA)}")
    dropped = drop_leftover_schemas(args.pg)
    if dropped:
        print(f"dropped {len(dropped)} scratch schema(s) left by earlier runs")
    machine = describe_machine(args.pg)
    started = time.monotonic()
    outcomes = [run_one(name, args.size, args.pg) for name in names]
    total = time.monotonic() - started
    args.out.write_text(render(outcomes, machine, args.size, total))
    failed = [o.name for o in outcomes if o.result is None]
    print(f"wrote {args.out} ({total / 60:.1f} min){'; failed: ' + ', '.join(failed) if failed else ''}")
    sys.exit(1 if failed else 0)


def run_one(name: str, size: str, pg: str) -> Outcome:
    """Run ``bench.bench_<name>`` in a process of its own, its output passed through as it comes."""
    print(f"\n=== {name} ({size}) ===", flush=True)
    with tempfile.TemporaryDirectory(prefix="sync_pipeline_bench_") as tmp:
        out = Path(tmp) / f"{name}.json"
        command = [sys.executable, "-m", f"bench.bench_{name}", "--size", size, "--pg", pg, "--json", str(out)]
        started = time.monotonic()
        code = subprocess.call(command)
        seconds = time.monotonic() - started
        if code != 0 or not out.exists():
            return Outcome(name, seconds, failure=f"exited with status {code}" if code else "wrote no result")
        return Outcome(name, seconds, Result.from_json(json.loads(out.read_text())))


def describe_machine(pg: str) -> list[tuple[str, str]]:
    """What the figures were measured on: hardware, OS, Python, the database and package versions."""
    rows = [
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("memory", _memory()),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("PostgreSQL", _postgres_version(pg)),
        ("wrk", _wrk_version()),
        ("load before (1 min)", f"{os.getloadavg()[0]:.2f}"),
    ]
    for package in PACKAGES:
        try:
            rows.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            rows.append((package, "not installed"))
    return rows


def render(outcomes: list[Outcome], machine: list[tuple[str, str]], size: str, total_s: float) -> str:
    """The BENCHMARKS.md page."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m bench.run_all --size {size}`) on {when}, in {total_s / 60:.1f} min.",
        "Every figure below was measured in that one run: each benchmark runs this project and its",
        "baseline or peer one after the other on the same sandbox, database and machine, and reports ratios.",
        "Vendors are the local sandbox (`sync_pipeline/sandbox/`), never the real APIs.",
    ]
    if size != "full":
        lines += ["", f"**Size `{size}`: a smoke run; these figures mean nothing.**"]
    lines += ["", "## Headlines", "", "| benchmark | headline | time |", "|---|---|---|"]
    for o in outcomes:
        headline = o.result.headline if o.result else f"FAILED: {o.failure}"
        lines.append(f"| [{o.name}](#{o.name}) | {headline} | {o.seconds:.0f} s |")
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in machine]
    for o in outcomes:
        lines += ["", f'<a id="{o.name}"></a>', ""]
        if o.result is None:
            lines += [f"## {o.name}", "", f"Failed: {o.failure}. Its output is in the `make bench` log."]
            continue
        r = o.result
        lines += [f"## {r.title}", "", f"`{r.command}` — {o.seconds:.0f} s", ""]
        for table in r.tables:
            lines += [table.markdown(), ""]
        lines += [f"- {finding}" for finding in r.findings]
        lines += ["", f"Headline: {r.headline}"]
    return "\n".join(lines) + "\n"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return f"{pages * size / 2**30:.0f} GiB"
    except (ValueError, OSError):
        return "unknown"


def _postgres_version(pg: str) -> str:
    import psycopg2

    try:
        with psycopg2.connect(pg) as conn, conn.cursor() as cur:
            cur.execute("SHOW server_version")
            return str(cur.fetchone()[0])
    except psycopg2.Error as exc:
        return f"unreachable ({str(exc).strip().splitlines()[0]})"


def _wrk_version() -> str:
    try:
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed (bench_webhooks and bench_under_load need it: apt-get install -y wrk)"
    return (out.stdout or out.stderr).strip().splitlines()[0]


if __name__ == "__main__":
    main()
