"""Scaling: how sync time, reconciliation, agent reads and peak memory grow from 10k to 1M contacts.

For each size, on a fresh store, in a child process of its own (so its peak RSS is its own) against a
GHL sandbox of that size in another process (sandbox rate limits lifted; page size 500):

1. a full contact sync (:func:`sync_pipeline.sync.contacts.sync_contacts`): seconds and rows/s;
2. ``--deletions`` contacts deleted at the CRM without a webhook, then the reconciliation pass that
   finds them (:func:`sync_pipeline.sync.reconcile.reconcile_deletions`: a full id listing, then
   soft deletes): seconds, and it must find exactly those;
3. agent reads of ``--reads`` random live contacts: :func:`sync_pipeline.agent.get_contact` by id
   and :func:`sync_pipeline.agent.find_contacts` by email, p50/p99 each;

and the child's peak RSS after the sync and at the end. The baseline is the same code at the
smaller sizes in the same run: issue #13 asks that rows/s at 1M stay within 20 % of rows/s at 100k
(a ratio >= 0.8) and that peak RSS stay under 500 MB. ``--profile DIR`` records the largest size of
each store with py-spy (raw folded stacks) to find what grows with the table.

``--size full`` runs 10k, 100k and 1M on DuckDB (the embedded default) and 10k and 100k on Postgres,
about 6 minutes on a 2-core machine, 1M on DuckDB most of it (sync ~3 min, reconciliation ~2 min):
``--reconcile-max 100000`` skips the reconciliation at 1M; ``--postgres-max 1000000`` adds 1M on
Postgres (about 6 more minutes). ``--size tiny``: 1k and 3k on both.

    .venv/bin/python -m bench.bench_scaling [--size tiny|full] [--pg URL] [--json PATH]
        [--sizes 10000,100000,1000000] [--backends duckdb,postgres] [--postgres-max 100000]
        [--reads 300] [--deletions 20] [--reconcile-max N] [--profile DIR]
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_sync import LIFTED_WINDOWS, full_sync, ghl_sandbox, mib, peak_rss_mib, reset, run_in_child, set_windows
from bench.report import Result, Table, command_line, emit, ms, parser, percentile
from bench.scratch_db import scratch_store_url

PAGE_SIZE = 500
SIZES = {"full": (10_000, 100_000, 1_000_000), "tiny": (1_000, 3_000)}
POSTGRES_MAX = {"full": 100_000, "tiny": 3_000}
READS = {"full": 300, "tiny": 30}
# Issue #13: rows/s at 1M within 20 % of rows/s at 100k, and peak RSS under 500 MB.
MIN_RATIO, MAX_RSS_MB = 0.8, 500


# -- the child process -----------------------------------------------------------------------------


def sync_reconcile_read(env: dict[str, str], store_url: str, reads: int, deletions: int | None) -> dict[str, Any]:
    """Sync every contact, reconcile after silent deletions (unless ``deletions`` is None), then time agent
    reads (in a child process)."""
    with full_sync(env, store_url, PAGE_SIZE) as run:
        rss_sync = peak_rss_mib()
        rows = run.rows()
        reconcile_s = _reconcile(env, run.store, run.crm, deletions) if deletions is not None else None
        get_s, find_s = _agent_reads(run.store, run.settings, _sample(run.store, reads))
        sync_s, writing_s, slowest_write_s = run.seconds, run.report.writing_s, run.report.slowest_write_s
        pages, writes = run.report.pages, run.report.writes
    close_s = run.close_s
    return {
        "rows": rows,
        "sync_s": sync_s,
        "writing_s": writing_s,
        "slowest_write_s": slowest_write_s,
        "pages": pages,
        "writes": writes,
        "close_s": close_s,
        "reconcile_s": reconcile_s,
        "get_s": get_s,
        "find_s": find_s,
        "rss_sync_mib": rss_sync,
    }


def _reconcile(env: dict[str, str], store: Any, crm: Any, deletions: int) -> float:
    """Delete ``deletions`` contacts at the CRM silently, reconcile, check it found them; its seconds."""
    from sync_pipeline.sync.reconcile import reconcile_deletions

    gone = _delete_silently(env, _sample(store, deletions))
    # The sandbox stamps successive writes a millisecond apart, and search sees a write from its stamp
    # on: let the last deletion become visible, as it long has when a scheduled reconciliation runs.
    time.sleep(0.05 + len(gone) / 1000)
    report = reconcile_deletions(store, crm, page_size=PAGE_SIZE)
    if report.deleted != len(gone):
        raise RuntimeError(f"reconciliation soft-deleted {report.deleted} contacts; {len(gone)} were deleted")
    return report.duration_s


def _sample(store: Any, n: int) -> list[tuple[str, str]]:
    """``n`` random live contacts (id, email), drawn by the database."""
    with store.transaction() as tx:
        rows = tx.fetchall(
            "SELECT id, email FROM contacts WHERE deleted_at IS NULL AND email IS NOT NULL ORDER BY random() LIMIT :n",
            {"n": n},
        )
    return [(r["id"], r["email"]) for r in rows]


def _delete_silently(env: dict[str, str], contacts: list[tuple[str, str]]) -> list[str]:
    """Delete contacts at the CRM without a webhook, as when GHL's ContactDelete is lost."""
    import httpx

    ids = [contact_id for contact_id, _ in contacts]
    body = {"deletes": ids, "emit_webhooks": False}
    httpx.post(f"{env['GHL_BASE_URL']}/_sandbox/contacts/mutate", json=body, timeout=60).raise_for_status()
    return ids


def _agent_reads(store: Any, settings: Any, sample: list[tuple[str, str]]) -> tuple[list[float], list[float]]:
    """Seconds per ``get_contact`` by id and per ``find_contacts`` by email, for each sampled contact."""
    from sync_pipeline import agent

    get_s, find_s = [], []
    for contact_id, email in sample:
        started = time.perf_counter()
        found = agent.get_contact(contact_id, store=store, settings=settings)
        get_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        matches = agent.find_contacts(email=email, store=store, settings=settings)
        find_s.append(time.perf_counter() - started)
        if found is None or not matches:
            raise RuntimeError(f"agent read of live contact {contact_id} ({email}) found nothing")
    return get_s, find_s


# -- the measurements ------------------------------------------------------------------------------


@dataclass
class Point:
    """One store at one size."""

    backend: str
    size: int
    out: dict[str, Any]

    @property
    def rows_per_s(self) -> float:
        return self.out["rows"] / self.out["sync_s"]

    @property
    def own_rows_per_s(self) -> float:
        """Rows per second of the sync's own work: writing pages, not waiting for the sandbox."""
        return self.out["rows"] / self.out["writing_s"]

    @property
    def peak_rss_mib(self) -> float:
        return self.out["peak_rss_mib"]


def measure(backend: str, size: int, env: dict[str, str], args: Any, profile: Path | None) -> Point:
    """One child process: sync, reconcile and reads on a fresh ``backend`` store of ``size`` contacts."""
    spy: list[subprocess.Popen[bytes]] = []

    def attach(pid: int) -> None:
        py_spy = Path(sys.executable).parent / "py-spy"
        output = profile / f"scaling-{backend}-{size}.txt"  # type: ignore[operator]
        command = [str(py_spy), "record", "-f", "raw", "-r", "50", "-o", str(output), "--pid", str(pid)]
        spy.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    if args.duckdb_memory_limit:
        env = {**env, "SYNC_PIPELINE_DUCKDB_MEMORY_LIMIT": args.duckdb_memory_limit}
    with scratch_store_url(backend, args.pg) as url:
        out = run_in_child(
            sync_reconcile_read,
            env,
            url,
            args.reads,
            args.deletions if size <= args.reconcile_max else None,
            on_start=attach if profile else None,
        )
    for proc in spy:
        proc.wait(60)
    if out["rows"] != size:
        raise SystemExit(f"{backend}: synced {out['rows']:,} contacts of {size:,}")
    return Point(backend, size, out)


def run_all(args: Any) -> list[Point]:
    """Every size on every store; one sandbox per size, shared by the stores."""
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(SIZES[args.size])
    backends = args.backends.split(",")
    postgres_max = args.postgres_max if args.postgres_max is not None else POSTGRES_MAX[args.size]
    points = []
    for size in sorted(sizes):
        stores = [b for b in backends if b != "postgres" or size <= postgres_max]
        if not stores:
            continue
        with ghl_sandbox(size) as sandbox:
            for backend in stores:
                reset(sandbox)  # the contacts the previous store's run deleted come back
                set_windows(sandbox, LIFTED_WINDOWS)
                largest = size == max(s for s in sizes if backend != "postgres" or s <= postgres_max)
                point = measure(backend, size, sandbox.env, args, args.profile if largest else None)
                print(f"  {backend} {size:,}: {describe(point)}", flush=True)
                points.append(point)
    return points


def describe(point: Point) -> str:
    o = point.out
    return (
        f"sync {o['sync_s']:.1f} s ({point.rows_per_s:,.0f} rows/s), reconcile {_seconds(o['reconcile_s'])} s, "
        f"get_contact p50 {ms(percentile(o['get_s'], 0.5))}, find_contacts p50 {ms(percentile(o['find_s'], 0.5))}, "
        f"peak RSS {mib(point.peak_rss_mib)}"
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


# -- the report ------------------------------------------------------------------------------------


def table(points: list[Point], args: Any) -> Table:
    rows = []
    for p in points:
        o = p.out
        rows.append([
            p.backend, f"{p.size:,}", f"{o['sync_s']:.1f}", f"{p.rows_per_s:,.0f}", f"{p.own_rows_per_s:,.0f}",
            f"{o['slowest_write_s'] * 1000:,.0f} ms", _seconds(o["reconcile_s"]),
            f"{ms(percentile(o['get_s'], 0.5))} / {ms(percentile(o['get_s'], 0.99))}",
            f"{ms(percentile(o['find_s'], 0.5))} / {ms(percentile(o['find_s'], 0.99))}",
            mib(o["rss_sync_mib"]), mib(p.peak_rss_mib),
        ])  # fmt: skip
    return Table(
        f"Full sync, reconciliation and agent reads by table size (sandbox limits lifted, page size {PAGE_SIZE})",
        [
            "store",
            "contacts",
            "sync s",
            "rows/s",
            "own rows/s",
            "slowest page write",
            "reconcile s",
            "get_contact p50 / p99",
            "find_contacts(email) p50 / p99",
            "peak RSS after sync",
            "peak RSS",
        ],
        rows,
        note="Own rows/s: rows over the time spent writing pages (the next page is fetched meanwhile). "
        f"Reads: {args.reads} random live contacts each. Reconcile: {args.deletions} contacts deleted at the "
        "CRM without a webhook, then a full id listing and the soft deletes (each found). Peak RSS: the child "
        "process's ru_maxrss, interpreter and imports included.",
    )


def ratios(points: list[Point]) -> dict[str, tuple[Point, Point]]:
    """Per store: the largest size and the size before it (100k when 1M ran), to compare rows/s."""
    out = {}
    for backend in dict.fromkeys(p.backend for p in points):
        mine = sorted((p for p in points if p.backend == backend), key=lambda p: p.size)
        if len(mine) >= 2:
            out[backend] = (mine[-2], mine[-1])
    return out


def findings(points: list[Point], args: Any) -> list[str]:
    """What a reader needs: what ran, how rows/s and memory grew against issue #13's bounds, and why."""
    covered = {b: ", ".join(_short(p.size) for p in points if p.backend == b)
               for b in dict.fromkeys(p.backend for p in points)}  # fmt: skip
    out = [
        "One run per size (no repeats, to fit the time budget); every size starts from an empty store, and the "
        "sandbox serving it runs in its own process. There is no peer here: the baseline is the same code at the "
        "smaller sizes, measured in the same run.",
        "Sizes run: " + "; ".join(f"{b} {sizes}" for b, sizes in covered.items()) + ".",
    ]
    out += _rate_findings(points) + _memory_findings(points) + _read_findings(points)
    out.append(
        "Reconciliation pages through every contact (GHL has no id-only listing): its time is a second full "
        "read of the CRM without the writes."
    )
    if args.profile:
        out.append(f"py-spy profiles of the largest size per store: {args.profile}/scaling-<store>-<size>.txt.")
    return out


def _rate_findings(points: list[Point]) -> list[str]:
    out = []
    for backend, (base, top) in ratios(points).items():
        ratio, own_ratio = top.rows_per_s / base.rows_per_s, top.own_rows_per_s / base.own_rows_per_s
        verdict = "meets" if ratio >= MIN_RATIO else "misses"
        bound = (
            f"issue #13 asks >= {MIN_RATIO}: this {verdict} it (one run each: a 100k sync lasts 10-20 s, so load "
            "on the machine moves this ratio by 0.1 or more)"
            if (base.size, top.size) == (100_000, 1_000_000)
            else f"issue #13's bound (>= {MIN_RATIO}) is for 100k to 1M"
        )
        out.append(
            f"{backend}: rows/s at {top.size:,} is {ratio:.2f}x that at {base.size:,} ({top.rows_per_s:,.0f} vs "
            f"{base.rows_per_s:,.0f}); {bound}. {top.out['pages']:,} pages at {top.size:,} were stored by "
            f"{top.out['writes']:,} writes. Its own work alone (page writes): {own_ratio:.2f}x "
            f"({top.own_rows_per_s:,.0f} vs {base.own_rows_per_s:,.0f} rows/s); the slowest page write "
            f"{top.out['slowest_write_s'] * 1000:,.0f} ms vs {base.out['slowest_write_s'] * 1000:,.0f} ms; closing "
            f"the store after it took {top.out['close_s']:.1f} s vs {base.out['close_s']:.1f} s (on DuckDB the "
            "checkpoint of what the WAL still held: what a process waiting for the file would wait)."
        )
    if any(p.backend == "duckdb" for p in points):
        out.append(
            "On DuckDB two costs of a write grow with the table, and the sync spreads both over more rows as the "
            "table grows. Each upsert statement is a join against a scan of the table (DuckDB 2.0 plans ON "
            "CONFLICT as MERGE INTO): pages that arrive while a write runs are stored by the next write together, "
            "up to 5,000 contacts in one statement. Each checkpoint rewrites the index pages that writes touched "
            "(with random ids, most of them): the store raises DuckDB's checkpoint_threshold with the file, a "
            "quarter of its size in powers of two from DuckDB's 16 MiB, so checkpoints come as much rarer as they "
            "grow longer. The slowest page write is the longest checkpoint."
        )
    return out


def _memory_findings(points: list[Point]) -> list[str]:
    out = []
    for p in points:
        if p.size != max(q.size for q in points if q.backend == p.backend):
            continue
        rss_mb = p.peak_rss_mib * 1.048576
        why = (
            " Reconciliation keeps the CRM's ids as one sorted array of bytes and compares local ids 10,000 at a "
            "time, so what it adds is the listing's bytes, not a Python set per side."
            if p.out["reconcile_s"] is not None
            else " (No reconciliation at this size.)"
        )
        out.append(
            f"{p.backend} at {p.size:,}: peak RSS {rss_mb:,.0f} MB ({mib(p.peak_rss_mib)}; after the sync "
            f"{mib(p.out['rss_sync_mib'])}), {'under' if rss_mb < MAX_RSS_MB else 'over'} issue #13's "
            f"{MAX_RSS_MB} MB.{why}"
        )
    return out


def _read_findings(points: list[Point]) -> list[str]:
    """How agent reads grow with the table, and the plan the database chose for them."""
    out = []
    for backend in dict.fromkeys(p.backend for p in points):
        mine = sorted((p for p in points if p.backend == backend), key=lambda p: p.size)
        low, high = mine[0], mine[-1]
        growth = {name: percentile(high.out[key], 0.5) / percentile(low.out[key], 0.5)
                  for name, key in (("get_contact", "get_s"), ("find_contacts", "find_s"))}  # fmt: skip
        out.append(
            f"{backend}: read p50 grows {growth['get_contact']:.1f}x (get_contact) and {growth['find_contacts']:.1f}x "
            f"(find_contacts by email) from {low.size:,} to {high.size:,} contacts."
        )
    return out


def headline(points: list[Point]) -> str:
    parts = []
    for backend, (base, top) in ratios(points).items():
        name = "DuckDB" if backend == "duckdb" else "Postgres"
        parts.append(
            f"rows/s at {_short(top.size)} is {top.rows_per_s / base.rows_per_s:.2f}x that at {_short(base.size)} "
            f"on {name}; peak RSS {mib(top.peak_rss_mib)} at {_short(top.size)}"
        )
    return "scaling: " + ("; ".join(parts) if parts else "one size only, nothing to compare")


def _short(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else f"{n:,}"


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", help="comma-separated contact counts (default: by --size)")
    p.add_argument("--backends", default="duckdb,postgres")
    p.add_argument("--postgres-max", type=int, help="largest size run on Postgres (full: 100000; 1000000 adds 1M)")
    p.add_argument("--reads", type=int, help="agent reads of each kind per size (default: by --size)")
    p.add_argument("--deletions", type=int, default=20, help="contacts deleted silently before reconciliation")
    p.add_argument("--reconcile-max", type=int, default=10**12, help="largest size that gets a reconciliation pass")
    p.add_argument("--duckdb-memory-limit", help="SYNC_PIPELINE_DUCKDB_MEMORY_LIMIT for the runs (default: 256MB)")
    p.add_argument("--profile", type=Path, help="write py-spy profiles of the largest size per store here")
    args = p.parse_args()
    args.reads = args.reads or READS[args.size]
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    points = run_all(args)
    result = Result(
        name="scaling",
        title="Scaling: sync, reconciliation, reads and memory from 10k to 1M contacts",
        command=command_line(),
        size=args.size,
        tables=[table(points, args)],
        headline=headline(points),
        findings=findings(points, args),
        seconds=time.monotonic() - started,
    )
    emit(result, args.json)


if __name__ == "__main__":
    main()
