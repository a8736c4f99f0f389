"""Freshness: seconds from a change in the CRM until an agent's local read returns it.

A contact is changed in the GHL sandbox the way a person in the GHL UI would (its admin endpoint;
the sandbox, in a process of its own, answers API calls in 300-800 ms like the real API), and the
bench reads ``agent.get_contact`` every 0.1 s until the new value is there:

* **webhook delivered** — the sandbox posts GHL's signed ``ContactUpdate`` webhook to the receiver
  (``sync-pipeline webhooks serve`` in its own process). The receiver does not apply the body (GHL's
  webhooks carry some fields only and may come out of order): it records the contact as changed,
  which wakes ``ghl_contacts_sensor``; its run is the incremental ``ghl_contacts`` sync. Here the
  real sensor is evaluated at its real cadence (``minimum_interval_seconds``) and its run requests
  are materialized in this process (the daemon's run launch is not included: see the findings).
* **webhook lost** — only polling brings the change: the sensor requests a sync once the last one is
  older than the freshness window minus a margin. At the default settings that is minutes, so the
  bound is computed from the settings, and a run with the poll compressed to a few seconds (the same
  ``ghl_contacts`` sync) is measured and labelled as such.

Baseline in the same run: reading the vendor directly (``GET /contacts/{id}``) sees each change at
once, but every read takes the vendor's latency.

    .venv/bin/python -m bench.bench_freshness [--size tiny|full] [--store duckdb|postgres] [--pg URL]
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import dagster as dg

from bench.bench_agent_reads import VENDOR_LATENCY_MS
from bench.report import Result, Table, command_line, emit, ms, parser, percentile
from bench.scratch_db import scratch_dir, scratch_store_url
from sync_pipeline import agent
from sync_pipeline.defs.contacts.assets import ghl_contacts
from sync_pipeline.defs.contacts.automation import ghl_contacts_sensor
from sync_pipeline.defs.contacts.freshness import SYNC_MARGIN
from sync_pipeline.defs.resources import ProvidersResource, StoreResource
from sync_pipeline.providers import registry
from sync_pipeline.providers.lifecycle import close_provider
from sync_pipeline.settings import Settings, get_settings
from sync_pipeline.store import Store
from sync_pipeline.store import contacts as contacts_q
from sync_pipeline_tests.sandbox_process import SandboxProcess, ghl_sandbox_process
from sync_pipeline_tests.webhooks.receiver_process import receiver_process

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
WATCH_EVERY_S = 0.1  # how often the agent re-reads a changed contact


@dataclass(frozen=True)
class Plan:
    """How big a run is; ``tick_s`` None means the sensor's real cadence."""

    contacts: int
    changes: int  # per path
    tick_s: float | None
    poll_s: float  # the compressed poll interval of the "webhook lost" run


PLANS = {
    "tiny": Plan(contacts=300, changes=3, tick_s=2.0, poll_s=2.0),
    "full": Plan(contacts=2_000, changes=24, tick_s=None, poll_s=10.0),
}


@dataclass
class PathRun:
    """One path's outcome: seconds from each change until the agent read it, and the syncs run."""

    label: str
    interval_s: float
    delays: list[float] = field(default_factory=list)
    syncs: list[float] = field(default_factory=list)  # seconds each sync (materialization) took
    ticks: int = 0


@dataclass
class Harness:
    """What both paths share: the sandbox, the store, the Dagster instance and the resources."""

    sandbox: SandboxProcess
    store: Store
    settings: Settings
    instance: dg.DagsterInstance
    resources: dict[str, Any]
    ids: list[str]
    vendor: list[float] = field(default_factory=list)  # seconds per direct vendor read
    vendor_fresh: int = 0  # direct reads that already returned the change

    def sync(self) -> float:
        """Materialize ``ghl_contacts`` (the incremental sync a sensor run executes); its seconds."""
        started = time.monotonic()
        result = dg.materialize([ghl_contacts], instance=self.instance, resources=self.resources, run_config=QUIET)
        if not result.success:
            raise RuntimeError("the ghl_contacts materialization failed")
        return time.monotonic() - started


def main() -> None:
    p = parser("Freshness: seconds from a CRM change until an agent read returns it (webhook vs poll only)")
    p.add_argument("--store", choices=("duckdb", "postgres"), default="duckdb", help="the local store")
    args = p.parse_args()
    started = time.monotonic()
    plan = PLANS[args.size]
    with (
        scratch_dir() as tmp,
        ghl_sandbox_process(plan.contacts, tmp) as sandbox,
        scratch_store_url(args.store, args.pg) as url,
    ):
        configure_process(sandbox, url)
        with receiver_process(dict(os.environ), tmp / "receiver.log") as receiver:
            sandbox.admin("webhooks", {"url": f"{receiver.url}/webhooks/ghl"})
            harness = prepare(sandbox, url)
            sensor_s = plan.tick_s or float(ghl_contacts_sensor.minimum_interval_seconds or 30)
            webhook = run_path(harness, plan, webhooks=True, interval_s=sensor_s)
            delivered = delivered_webhooks(sandbox)
            poll = run_path(harness, plan, webhooks=False, interval_s=plan.poll_s)
            harness.store.close()
        launch_s = run_worker_start_s()
    result = build_result(harness, webhook, poll, plan, delivered, launch_s, args, time.monotonic() - started)
    emit(result, args.json)


def configure_process(sandbox: SandboxProcess, url: str) -> None:
    """Point this process's settings (read by the Dagster resources) at the sandbox and the store."""
    os.environ.update({**sandbox.env, "SYNC_PIPELINE_DB": url, "CRM_PROVIDER": "ghl"})
    get_settings.cache_clear()


def prepare(sandbox: SandboxProcess, url: str) -> Harness:
    """A full sync first (at no injected latency), then the vendor's real latency for everything after."""
    resources = {"store": StoreResource(db_url=url), "providers": ProvidersResource()}
    store = resources["store"].get_store()
    harness = Harness(sandbox, store, get_settings(), dg.DagsterInstance.ephemeral(), resources, [])
    harness.sync()
    with store.transaction() as tx:
        live = sorted(contacts_q.live_ids(tx, contacts_q.Account.configured(harness.settings)))
    harness.ids = random.Random(3).sample(live, len(live))
    sandbox.admin("latency", {"min_ms": VENDOR_LATENCY_MS[0], "max_ms": VENDOR_LATENCY_MS[1]})
    return harness


class Watcher:
    """An agent re-reading every changed contact each 0.1 s until it has the new value."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store, self._settings = store, settings
        self._pending: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.delays: list[float] = []

    def expect(self, contact_id: str, last_name: str, changed_at: float) -> None:
        with self._lock:
            self._pending[contact_id] = (last_name, changed_at)

    def outstanding(self) -> int:
        with self._lock:
            return len(self._pending)

    def look(self) -> None:
        """One round of reads over the pending changes."""
        with self._lock:
            pending = list(self._pending.items())
        for contact_id, (last_name, changed_at) in pending:
            contact = agent.get_contact(contact_id, store=self._store, settings=self._settings)
            if contact is not None and contact["last_name"] == last_name:
                seen = time.monotonic()
                with self._lock:
                    del self._pending[contact_id]
                    self.delays.append(seen - changed_at)


def run_path(harness: Harness, plan: Plan, *, webhooks: bool, interval_s: float) -> PathRun:
    """Make ``plan.changes`` changes at random moments over one interval while the sensor (webhooks)
    or the poll ticks every ``interval_s``, until the agent has read every change."""
    label = "webhook delivered" if webhooks else "webhook lost: poll only"
    run = PathRun(label, interval_s)
    ids = [harness.ids.pop() for _ in range(plan.changes)]
    watcher = Watcher(harness.store, harness.settings)
    stop = threading.Event()
    started = time.monotonic()
    rng = random.Random(len(ids) + webhooks)
    offsets = sorted(rng.uniform(0.1, interval_s - 0.1) for _ in ids)
    tag = "Hook" if webhooks else "Poll"
    changer = threading.Thread(
        target=make_changes, args=(harness, watcher, ids, offsets, started, tag, webhooks), daemon=True
    )
    watching = threading.Thread(target=watch, args=(watcher, stop), daemon=True)
    changer.start()
    watching.start()
    tick = ticker(harness, run, webhooks)
    deadline = started + 4 * interval_s + 60
    next_tick = started
    try:
        while changer.is_alive() or watcher.outstanding():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label}: {watcher.outstanding()} change(s) never became readable")
            if time.monotonic() >= next_tick:
                tick()
                next_tick += interval_s
            time.sleep(0.02)
    finally:
        stop.set()
        changer.join()
        watching.join()
    run.delays = watcher.delays
    print(f"{label} (every {interval_s:g} s): {describe(run.delays)}; {len(run.syncs)} sync(s)", flush=True)
    return run


def ticker(harness: Harness, run: PathRun, webhooks: bool) -> Callable[[], None]:
    """One tick: the real sensor deciding (webhook path), or an unconditional poll sync."""
    cursor: list[str | None] = [None]

    def sensor_tick() -> None:
        context = dg.build_sensor_context(instance=harness.instance, resources=harness.resources, cursor=cursor[0])
        evaluation = ghl_contacts_sensor.evaluate_tick(context)
        cursor[0] = evaluation.cursor or cursor[0]
        run.ticks += 1
        if evaluation.run_requests:
            run.syncs.append(harness.sync())

    def poll_tick() -> None:
        run.ticks += 1
        run.syncs.append(harness.sync())

    return sensor_tick if webhooks else poll_tick


def make_changes(
    harness: Harness,
    watcher: Watcher,
    ids: list[str],
    offsets: list[float],
    started: float,
    tag: str,
    webhooks: bool,
) -> None:
    """Change each contact's last name at its moment; on the webhook path, also read it at the vendor."""
    with ThreadPoolExecutor(max_workers=1) as direct:
        reads = []
        for n, (contact_id, offset) in enumerate(zip(ids, offsets, strict=True)):
            time.sleep(max(0.0, started + offset - time.monotonic()))
            last_name = f"{tag}{n}x{random.randrange(10**6)}"
            changed_at = time.monotonic()
            watcher.expect(contact_id, last_name, changed_at)
            body = {"updates": [{"id": contact_id, "lastName": last_name}], "emit_webhooks": webhooks}
            harness.sandbox.admin("contacts/mutate", body)
            if webhooks:
                reads.append(direct.submit(read_at_vendor, harness, contact_id, last_name))
        for read in reads:
            read.result()  # a failed vendor read fails the benchmark rather than shrinking the baseline


def read_at_vendor(harness: Harness, contact_id: str, last_name: str) -> None:
    """The baseline: one ``GET /contacts/{id}`` at GHL right after the change."""
    crm = registry.crm_provider(harness.settings, harness.store)
    try:
        started = time.perf_counter()
        contact = crm.get_contact(contact_id)
        harness.vendor.append(time.perf_counter() - started)
        harness.vendor_fresh += contact is not None and contact.last_name == last_name
    finally:
        close_provider(crm)


def watch(watcher: Watcher, stop: threading.Event) -> None:
    while not stop.is_set():
        watcher.look()
        stop.wait(WATCH_EVERY_S)


def delivered_webhooks(sandbox: SandboxProcess) -> dict[str, int]:
    """The sandbox's own account of the webhooks it sent: delivered (2xx) and failed."""
    deliveries = sandbox.admin("webhooks")["deliveries"]
    return {
        "delivered": sum(d["delivered"] for d in deliveries),
        "failed": sum(not d["delivered"] for d in deliveries),
    }


def run_worker_start_s() -> float:
    """Seconds a fresh Python process takes to load the Dagster definitions: the least a run launched
    by the daemon (a new process per run) adds before its sync starts."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import sync_pipeline.definitions"], check=True)
    return time.monotonic() - started


@dataclass(frozen=True)
class PollBound:
    """The poll path at the configured settings, computed (seconds)."""

    due_s: float  # age of the last sync at which the sensor asks for the next
    period_s: float  # time between two polling syncs
    p50_s: float
    p99_s: float
    worst_s: float


def poll_bound(settings: Settings, sensor_s: float, sync_s: float) -> PollBound:
    """At these settings, the poll path's period and the delays it gives a change, computed.

    The sensor asks for a sync once the last one is ``max(window - margin, window / 2)`` old, checked
    every ``sensor_s``; the last sync's time is when it ended, so the period is the first tick at or
    after that age plus the sync's duration. A change at a random moment waits on average half of it.
    """
    window = timedelta(minutes=settings.contacts_freshness_minutes)
    due_s = max(window - SYNC_MARGIN, window / 2).total_seconds()
    period = math.ceil((due_s + sync_s) / sensor_s) * sensor_s
    return PollBound(due_s, period, period / 2 + sync_s, 0.99 * period + sync_s, period + sync_s)


def describe(delays: list[float]) -> str:
    return f"n={len(delays)} p50 {seconds(percentile(delays, 0.5))} p99 {seconds(percentile(delays, 0.99))}"


def seconds(value: float) -> str:
    """A delay in seconds, or minutes when it is minutes."""
    return f"{value / 60:.1f} min" if value >= 120 else f"{value:.1f} s" if value >= 10 else f"{value:.2f} s"


def build_result(
    harness: Harness,
    webhook: PathRun,
    poll: PathRun,
    plan: Plan,
    delivered: dict[str, int],
    launch_s: float,
    args: Any,
    elapsed: float,
) -> Result:
    """The table (each path and the vendor baseline), the findings and the headline."""
    sensor_s = float(ghl_contacts_sensor.minimum_interval_seconds or 30)
    syncs = webhook.syncs + poll.syncs
    mean_sync = sum(syncs) / len(syncs)
    bound = poll_bound(harness.settings, sensor_s, mean_sync)
    cadence = (
        f"the sensor's real cadence, every {sensor_s:g} s"
        if plan.tick_s is None
        else f"sensor compressed to every {webhook.interval_s:g} s (real: {sensor_s:g} s)"
    )
    rows = [
        delay_row(f"webhook delivered: {cadence}, then the incremental sync", webhook),
        [
            f"webhook lost: poll at the default settings (a sync every {bound.period_s / 60:.1f} min), computed",
            "—",
            seconds(bound.p50_s),
            seconds(bound.p99_s),
            seconds(bound.worst_s),
        ],
        delay_row(f"webhook lost: poll compressed to every {poll.interval_s:g} s (measured, not the default)", poll),
        [
            "baseline: read GHL directly (GET /contacts/{id}, 300-800 ms): sees the change at once, each read costs",
            f"{len(harness.vendor)}",
            ms(percentile(harness.vendor, 0.5)),
            ms(percentile(harness.vendor, 0.99)),
            ms(max(harness.vendor)),
        ],
    ]
    table = Table(
        title=f"From a change in GHL until agent.get_contact returns it ({args.store}, {plan.contacts:,} contacts)",
        columns=["path", "changes", "p50", "p99", "max"],
        rows=rows,
        note=(
            "Changes at random moments over one sensor or poll interval; the agent re-reads every 0.1 s. "
            "Syncs run in this process (no Dagster run launch; see the findings)."
        ),
    )
    findings = [
        (
            "What the receiver does with a GHL ContactUpdate webhook: it stores the delivery and marks the contact "
            "changed (contact_events); it does not write the row, because GHL's webhooks carry some fields only and "
            "may arrive out of order. ghl_contacts_sensor (minimum_interval_seconds="
            f"{sensor_s:g}) sees the mark on its next tick and requests the incremental ghl_contacts sync, which "
            "reads the contact from the search API. So a change waits for the next sensor tick (up to "
            f"{sensor_s:g} s) plus the sync: the webhook saves the poll's minutes, not the tick. Only ContactDelete "
            "is applied at once (a soft delete)."
        ),
        (
            f"The sandbox delivered {delivered['delivered']} webhook(s) to the receiver "
            f"({delivered['failed']} failed); "
            f"the sensor ticked {webhook.ticks} time(s) and ran {len(webhook.syncs)} sync(s). Syncs took "
            f"{min(syncs):.1f}-{max(syncs):.1f} s (mean {mean_sync:.1f} s) with the vendor at 300-800 ms a request."
        ),
        (
            "Without the webhook only polling brings a change: the sensor requests a sync once the last one is "
            f"max(CONTACTS_FRESHNESS_MINUTES - 5 min, half of it) old = {bound.due_s / 60:g} min at the "
            f"default {harness.settings.contacts_freshness_minutes} min, checked every {sensor_s:g} s, so a sync "
            f"every {bound.period_s / 60:.1f} min: a change waits {seconds(bound.p50_s)} on average and up to "
            f"{seconds(bound.worst_s)} (computed from the settings and this run's sync time). The measured poll run "
            f"compresses that interval to {poll.interval_s:g} s to check the path end to end; its figures are the "
            "shape, not the default. The 15-min freshness policy bounds this; the nightly reconciliation catches "
            "lost deletes."
        ),
        (
            f"Not included: in a deployment the daemon launches each sensor run in a new process; loading the "
            f"definitions in a fresh Python process took {launch_s:.1f} s here, which every sync adds (plus the "
            "run queue's dequeue interval). The sandbox indexes writes at once (search_index_lag_s=0); GHL's search "
            "can lag a few seconds, which a sync right after a change would miss until the next one."
        ),
        (
            f"Baseline: {harness.vendor_fresh} of {len(harness.vendor)} direct reads at GHL right after the change "
            "already returned it: the vendor is never stale, but an agent pays "
            f"{ms(percentile(harness.vendor, 0.5))} (p50) on every read, against milliseconds locally "
            "(bench_agent_reads). Here the local store loses: it is seconds behind with the webhook and minutes "
            "behind without it; an agent that needs the CRM's latest word can ask for it "
            "(get_contact(max_age=...) reads through when the local row is older)."
        ),
    ]
    headline = (
        f"freshness: a change is readable {seconds(percentile(webhook.delays, 0.99))} p99 after its webhook "
        f"(sensor every {webhook.interval_s:g} s); without it {seconds(bound.worst_s)} worst by polling at the default "
        f"settings (computed; {seconds(percentile(poll.delays, 0.99))} p99 measured with polls every "
        f"{poll.interval_s:g} s); GHL direct read p50 {ms(percentile(harness.vendor, 0.5))}"
    )
    return Result(
        name="freshness",
        title="Freshness: from a change in the CRM to an agent's local read",
        command=command_line(),
        size=args.size,
        tables=[table],
        headline=headline,
        findings=findings,
        seconds=elapsed,
    )


def delay_row(label: str, run: PathRun) -> list[str]:
    d = run.delays
    return [label, f"{len(d)}", seconds(percentile(d, 0.5)), seconds(percentile(d, 0.99)), seconds(max(d))]


if __name__ == "__main__":
    main()
