"""Agent read latency: ``agent.get_contact`` / ``find_contacts(email=)`` from the local store vs the vendor.

On each store (a DuckDB file, a PostgreSQL scratch schema) holding N synced contacts (20,000 at
``--size full``), one process times the two agent reads (random contacts, alternating):

* idle — nothing else touches the store;
* during a sync — a full contact sync of the same store runs in another process, looping for the
  whole window with the rate limits lifted (sandbox and client). Each pass sees every contact
  changed (:class:`ChangedEachPass` marks the pages it fetches), so every page rewrites its rows: a
  re-read of unchanged contacts writes nothing, and the sandbox cannot take 20,000 edits quickly.

Baseline in the same run: the same two reads at GoHighLevel itself — ``GET /contacts/{id}`` and
``POST /contacts/search`` on the email — through the sandbox with the real APIs' latency (300-800 ms,
as in bench_enqueue and the demo). The sandbox runs in a process of its own (its CPU is not ours).
The goals of issue #13 are checked and reported: idle p99 <= 2 ms, under a sync p99 <= 25 ms on
DuckDB and <= 5 ms on PostgreSQL.

    .venv/bin/python -m bench.bench_agent_reads [--size tiny|full] [--pg URL] [--stores duckdb,postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import Result, Size, Table, command_line, emit, goal_findings, ms, parser, percentile
from bench.scratch_db import scratch_dir, scratch_store_url
from sync_pipeline import agent
from sync_pipeline.providers.ghl_api import API_VERSION, ghl_client
from sync_pipeline.providers.ghl_crm import GhlCRM
from sync_pipeline.providers.lifecycle import close_provider
from sync_pipeline.records import ContactPage
from sync_pipeline.settings import Settings
from sync_pipeline.store import Store, connect, ensure_migrated
from sync_pipeline.store import contacts as contacts_q
from sync_pipeline.sync.contacts import sync_contacts
from sync_pipeline.transport import GHL_PROFILE, VendorClient
from sync_pipeline.transport.profiles import Window
from sync_pipeline_tests.sandbox_process import SandboxProcess, ghl_sandbox_process

VENDOR_LATENCY_MS = (300, 800)  # the real APIs' latency, as bench_enqueue and the demo use
GOALS_MS = {"idle": 2.0, "duckdb": 25.0, "postgres": 5.0}  # issue #13: p99 idle, and during a sync
LIFTED = 1_000_000  # requests per 10 s: no rate limit slows the looping sync
PAGE_SIZE = 500
STORE_NAMES = {"duckdb": "DuckDB", "postgres": "Postgres"}
READS = {"get": "get_contact", "find": "find_contacts(email=)"}


@dataclass(frozen=True)
class Plan:
    """How big a run is."""

    contacts: int
    idle_s: float
    sync_s: float
    vendor_calls: int  # per read kind


PLANS = {
    "tiny": Plan(contacts=500, idle_s=0.5, sync_s=1.5, vendor_calls=2),
    "full": Plan(contacts=20_000, idle_s=3.0, sync_s=8.0, vendor_calls=12),
}


@dataclass
class Reads:
    """Latency samples (seconds) of each read kind in one situation."""

    get: list[float] = field(default_factory=list)
    find: list[float] = field(default_factory=list)

    def p(self, kind: str, q: float) -> float:
        return percentile(getattr(self, kind), q)


@dataclass
class StoreRun:
    """One store's figures: idle, during a sync, and what the sync did meanwhile."""

    store: str
    idle: Reads
    busy: Reads
    sync: dict[str, Any]


def main() -> None:
    p = parser("Agent read latency: local store (idle and during a sync in another process) vs the vendor API")
    p.add_argument("--stores", default="duckdb,postgres", help="comma-separated: duckdb, postgres")
    p.add_argument("--sync-loop", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.sync_loop:
        sync_loop(args.db)
        return
    started, load_before = time.monotonic(), os.getloadavg()[0]
    plan = PLANS[args.size]
    with scratch_dir() as tmp, ghl_sandbox_process(plan.contacts, tmp) as sandbox:
        runs = [measure_store(store, sandbox, plan, args.pg, tmp) for store in args.stores.split(",")]
        vendor = vendor_reads(sandbox, plan)
    load = (load_before, os.getloadavg()[0])
    result = build_result(runs, vendor, plan, args.size, load, time.monotonic() - started)
    emit(result, args.json)


def lifted_client(settings: Settings, store: Store) -> VendorClient:
    """The GHL transport client with its rate limit lifted (the sandbox's is lifted too)."""
    return VendorClient.for_profile(
        GHL_PROFILE,
        settings,
        store,
        windows=(Window("burst", LIFTED, 10.0),),
        default_headers={"Version": API_VERSION},
    )


def sync_lifted(store: Store, settings: Settings, sandbox: SandboxProcess) -> None:
    """The setup sync of every contact, limits lifted (sandbox and client); the sandbox's limits stay
    lifted afterwards, for a looping sync."""
    sandbox.admin("rate-limits", {"windows": [{"name": "burst", "limit": LIFTED, "seconds": 10.0}]})
    crm = GhlCRM(lifted_client(settings, store), settings.ghl_location_id)
    try:
        sync_contacts(store, crm, full=True, page_size=PAGE_SIZE)
    finally:
        close_provider(crm)


def measure_store(store_kind: str, sandbox: SandboxProcess, plan: Plan, pg: str, tmp: Path) -> StoreRun:
    """Sync the contacts into a fresh store, then time reads idle and while another process syncs."""
    with scratch_store_url(store_kind, pg) as url:
        settings = Settings.from_env({**sandbox.env, "SYNC_PIPELINE_DB": url})
        store = ensure_migrated(connect(url))
        try:
            limits = sandbox.admin("rate-limits")
            sync_lifted(store, settings, sandbox)
            ids, emails = sample_contacts(store, settings, plan.contacts)
            idle = time_reads(store, settings, ids, emails, plan.idle_s)
            with sync_in_another_process(sandbox, url, tmp / f"sync-{store_kind}.log") as sync:
                window_start, started = datetime.now(UTC), time.monotonic()
                busy = time_reads(store, settings, ids, emails, plan.sync_s)
                sync["seconds"] = time.monotonic() - started
            with store.transaction() as tx:
                sync["rows"] = len(contacts_q.ids_synced_since(tx, account_of(settings), window_start))
            sandbox.admin("rate-limits", limits)
        finally:
            store.close()
    run = StoreRun(store_kind, idle, busy, sync)
    print(f"{store_kind}: idle {summary(idle)}; during a sync {summary(busy)}. {competing_sync(run)}", flush=True)
    return run


def account_of(settings: Settings) -> contacts_q.Account:
    return contacts_q.Account.configured(settings)


def sample_contacts(store: Store, settings: Settings, contacts: int) -> tuple[list[str], list[str]]:
    """Every synced contact's id and email, so the reads pick from the whole table."""
    found = agent.find_contacts(query="@", limit=contacts, store=store, settings=settings)
    ids, emails = [c["id"] for c in found], [c["email"] for c in found if c["email"]]
    if len(ids) < contacts * 0.9 or not emails:
        raise RuntimeError(f"the sync stored {len(ids)} contacts with an email of {contacts}")
    return ids, emails


def time_reads(store: Store, settings: Settings, ids: list[str], emails: list[str], seconds: float) -> Reads:
    """Alternate the two agent reads on random contacts for ``seconds``; every answer must be found."""
    rng, reads = random.Random(11), Reads()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        contact_id, email = rng.choice(ids), rng.choice(emails)
        reads.get.append(timed(lambda i=contact_id: agent.get_contact(i, store=store, settings=settings)))
        reads.find.append(timed(lambda e=email: agent.find_contacts(email=e, limit=5, store=store, settings=settings)))
    return reads


def timed(read: Callable[[], Any]) -> float:
    """Seconds one read took; a read that finds nothing is a failed benchmark, not a fast one."""
    started = time.perf_counter()
    answer = read()
    elapsed = time.perf_counter() - started
    if not answer:
        raise RuntimeError("a local read found no contact: the store lost synced rows")
    return elapsed


@contextmanager
def sync_in_another_process(sandbox: SandboxProcess, url: str, log: Path) -> Iterator[dict[str, Any]]:
    """Run :func:`sync_loop` in a child process until the block ends; yields what it wrote (filled
    in when it has stopped)."""
    env = {**os.environ, **sandbox.env, "SYNC_PIPELINE_DB": url}
    command = [sys.executable, "-m", "bench.bench_agent_reads", "--sync-loop", "--db", url]
    with log.open("w") as err:
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    assert child.stdout is not None
    outcome: dict[str, Any] = {}
    try:
        if child.stdout.readline().strip() != "writing":
            raise RuntimeError(f"the sync process did not start:\n{log.read_text()}")
        time.sleep(0.3)  # into its first pages
        yield outcome
    finally:
        child.send_signal(signal.SIGINT)
        try:
            out, _ = child.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            out, _ = child.communicate()
    lines = [x for x in out.splitlines() if x.startswith("{")]
    if child.returncode != 0 or not lines:
        raise RuntimeError(f"the sync process failed (status {child.returncode}):\n{log.read_text()}")
    outcome.update(json.loads(lines[-1]))


class ChangedEachPass(GhlCRM):
    """GHL contacts as if every one had changed at the CRM since the previous pass: each page comes
    back with the pass number in a custom field, so a full sync rewrites every row it reads. (The
    sandbox stamps each edit 1 ms after the previous one and shows it to search only from then, so
    editing 20,000 contacts there would take 20 s to become visible.)"""

    pass_number = 0

    def changed_since(self, since: datetime | None, cursor: str | None = None, *, page_size: int = 100) -> ContactPage:
        page = super().changed_since(since, cursor, page_size=page_size)
        marked = {"bench_sync_pass": str(self.pass_number)}
        contacts = [replace(c, custom_fields={**c.custom_fields, **marked}) for c in page.contacts]
        return replace(page, contacts=contacts)


def sync_loop(url: str) -> None:
    """The child: full syncs of the store back to back until SIGINT, every row rewritten on each pass;
    prints the rows and seconds of each completed pass as one JSON line."""
    settings = Settings.from_env({**os.environ, "SYNC_PIPELINE_DB": url})
    store = ensure_migrated(connect(url))
    crm = ChangedEachPass(lifted_client(settings, store), settings.ghl_location_id)
    passes: list[dict[str, float]] = []
    # The parent stops this loop with SIGINT, which a shell without job control has this process
    # ignore when it started `make bench` in the background (Python then installs no handler).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print("writing", flush=True)
    try:
        while True:
            crm.pass_number = len(passes) + 1
            report = sync_contacts(store, crm, full=True, page_size=PAGE_SIZE)
            passes.append({"rows": report.counts.inserted + report.counts.updated, "seconds": report.duration_s})
    except KeyboardInterrupt:
        pass
    finally:
        close_provider(crm)
        store.close()
    print(json.dumps({"passes": passes}), flush=True)


def vendor_reads(sandbox: SandboxProcess, plan: Plan) -> Reads:
    """The baseline: the same two reads at GHL (sandbox at 300-800 ms), real rate limits."""
    sandbox.admin("latency", {"min_ms": VENDOR_LATENCY_MS[0], "max_ms": VENDOR_LATENCY_MS[1]})
    with scratch_store_url("duckdb", "") as url:  # the client's limiter and ledger live in a store
        settings = Settings.from_env({**sandbox.env, "SYNC_PIPELINE_DB": url})
        store = ensure_migrated(connect(url))
        crm, client = GhlCRM.from_settings(settings, store), ghl_client(settings, store)
        try:
            page = crm.changed_since(None, page_size=100).contacts
            picks = random.Random(5).sample(page, min(plan.vendor_calls, len(page)))
            reads = Reads()
            for contact in picks:
                reads.get.append(timed(lambda c=contact: crm.get_contact(c.id)))
                reads.find.append(timed(lambda c=contact: search_email(client, settings, c.email)))
        finally:
            close_provider(crm)
            client.close()
            store.close()
    sandbox.admin("latency", {"min_ms": 0, "max_ms": 0})
    print(f"vendor: {summary(reads)}", flush=True)
    return reads


def search_email(client: VendorClient, settings: Settings, email: str | None) -> list[dict[str, Any]]:
    """What an agent without a local store does to find a contact by email: a GHL search."""
    body = {
        "locationId": settings.ghl_location_id,
        "pageLimit": 5,
        "filters": [{"field": "email", "operator": "eq", "value": email}],
    }
    return client.request("POST", "/contacts/search", json=body, idempotent=True).json()["contacts"]


def summary(reads: Reads) -> str:
    return (
        f"get_contact n={len(reads.get)} p50 {ms(reads.p('get', 0.5))} p99 {ms(reads.p('get', 0.99))}, "
        f"find_contacts n={len(reads.find)} p50 {ms(reads.p('find', 0.5))} p99 {ms(reads.p('find', 0.99))}"
    )


def build_result(
    runs: list[StoreRun], vendor: Reads, plan: Plan, size: Size, load: tuple[float, float], seconds: float
) -> Result:
    """The table (store x situation x read), the goals' verdicts and the headline."""
    rows = []
    for run in runs:
        for situation, reads in (("idle", run.idle), ("during a sync", run.busy)):
            for kind, label in READS.items():
                rows.append(latency_row(STORE_NAMES[run.store], situation, label, reads, kind, vendor))
    for kind, label, call in (("get", "get_contact", "GET /contacts/{id}"), ("find", "find by email", "search")):
        rows.append(latency_row("GHL API (baseline)", call, label, vendor, kind, vendor))
    table = Table(
        title=f"Agent reads over {plan.contacts:,} synced contacts, from one process",
        columns=["store", "situation", "read", "n", "p50", "p99", "vendor p50 / this p50"],
        rows=rows,
        note=(
            "During a sync: another process runs full syncs of the same store back to back (limits lifted, "
            "every row rewritten on each pass). GHL API: the sandbox with 300-800 ms latency, real rate limits."
        ),
    )
    return Result(
        name="agent_reads",
        title="Agent read latency: local store vs the vendor API",
        command=command_line(),
        size=size,
        tables=[table],
        headline=headline(runs, vendor),
        findings=findings(runs, vendor, load),
        seconds=seconds,
    )


def latency_row(store: str, situation: str, label: str, reads: Reads, kind: str, vendor: Reads) -> list[str]:
    p50 = reads.p(kind, 0.5)
    ratio = vendor.p(kind, 0.5) / p50
    return [
        store,
        situation,
        label,
        f"{len(getattr(reads, kind)):,}",
        ms(p50),
        ms(reads.p(kind, 0.99)),
        "1x" if reads is vendor else f"{ratio:,.0f}x",
    ]


def goal_verdicts(run: StoreRun) -> list[tuple[str, str, bool]]:
    """Each issue #13 goal for this store: the worse read's p99 against it, and whether it was met."""
    out = []
    for situation, reads, goal in (
        ("idle", run.idle, GOALS_MS["idle"]),
        ("during a sync", run.busy, GOALS_MS[run.store]),
    ):
        kind = max(("get", "find"), key=lambda k: reads.p(k, 0.99))
        worst = reads.p(kind, 0.99) * 1000
        text = f"{STORE_NAMES[run.store]} {situation} p99 {worst:,.1f} ms ({READS[kind]}; goal <= {goal:g} ms)"
        out.append((situation, text, worst <= goal))
    return out


WHY = {
    ("duckdb", "idle"): (
        "a DuckDB point read costs ~0.6 ms in DuckDB's executor through the index (a columnar engine plans and "
        "runs every query in full), ~0.2 ms for its transaction's begin and commit and ~0.15 ms fetching "
        "(profiled: cProfile over 1,000 get_contact), so a scheduler slice lost to another process is the tail"
    ),
    ("duckdb", "during a sync"): (
        "one process at a time holds the DuckDB file: a read waits for the sync's page transaction (500 rows "
        "rewritten, ~30-80 ms), then for the hand-over itself: closing checkpoints the WAL (15-25 ms) and "
        "opening plus the first read takes ~17 ms, so a read that has to take the file over can never be under "
        "~35 ms. Skipping the checkpoint on hand-over was tried: every open then replays the growing WAL "
        "(68 ms, rising to 190 ms after five hand-overs). This run has no host: with `sync-pipeline serve` or "
        "`webhooks serve` running, the host keeps the file and reads run beside writes (bench_under_load)"
    ),
    ("postgres", "idle"): (
        "a get_contact is a round trip to the server plus Python's share of the 2 cores; a "
        "find_contacts(email=) right after a bulk sync runs on stale planner statistics: in a probe with 20,000 "
        "fresh rows Postgres intersected the email index with a scan of the whole primary key (1.1 ms); after "
        "ANALYZE it used the email index alone (0.03 ms; the read's p50 fell from 1.7 to 0.3 ms), which is why "
        "a sync that wrote 1,000 rows or more now analyzes the table"
    ),
    ("postgres", "during a sync"): (
        "readers never wait for the writer's locks (MVCC): the tail is CPU, as the sandbox serving pages, the "
        "syncing process and Postgres's own writes share this machine's 2 cores with the reader"
    ),
}


def findings(runs: list[StoreRun], vendor: Reads, load: tuple[float, float]) -> list[str]:
    verdicts = [(run.store, *verdict) for run in runs for verdict in goal_verdicts(run)]
    out = goal_findings(verdicts, lambda store, situation: WHY[(store, situation)])
    for run in runs:
        out.append(competing_sync(run))
    out.append(
        f"Vendor baseline: {len(vendor.get)} GET /contacts/{{id}} and {len(vendor.find)} email searches through "
        "the product's GHL client (its rate limiter adds a few ms per call) against the sandbox at 300-800 ms. "
        "The vendor is always current; a local read is as fresh as the last sync (see bench_freshness)."
    )
    out.append(
        "Sandbox, sync, reader and PostgreSQL share this machine's 2 cores, so CPU contention is part of every "
        f"figure; machine load (1 min) was {load[0]:.2f} before and {load[1]:.2f} after."
    )
    return out


def competing_sync(run: StoreRun) -> str:
    """What the other process's sync did while the reads were timed, in one sentence."""
    sync, passes = run.sync, run.sync["passes"]
    text = (
        f"The competing sync on {STORE_NAMES[run.store]} rewrote {sync['rows']:,} distinct contacts during the "
        f"{sync['seconds']:.1f} s of reads"
    )
    if passes:
        rows, seconds = sum(x["rows"] for x in passes), sum(x["seconds"] for x in passes)
        text += f"; it completed {len(passes)} full pass(es) rewriting every row, {rows / seconds:,.0f} rows/s"
    return text + "."


def headline(runs: list[StoreRun], vendor: Reads) -> str:
    parts = [
        f"{ms(r.idle.p('get', 0.99))} idle / {ms(r.busy.p('get', 0.99))} during a sync on {STORE_NAMES[r.store]}"
        for r in runs
    ]
    base = runs[0]
    ratio = vendor.p("get", 0.5) / base.idle.p("get", 0.5)
    return (
        f"agent reads: get_contact p99 {', '.join(parts)}; vendor API p50 {ms(vendor.p('get', 0.5))} "
        f"({ratio:,.0f}x {STORE_NAMES[base.store]}'s idle p50)"
    )


if __name__ == "__main__":
    main()
