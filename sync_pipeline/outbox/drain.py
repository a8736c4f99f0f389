"""Claiming due outbox jobs in chunks and working a chunk concurrently.

Chunks, not rows, are the unit Dagster fans out: each multiprocess step is a new Python process,
so one step per email would spend its time starting interpreters. Inside a chunk, a thread pool
sends concurrently; the shared rate limiter in the transport keeps every thread, and every other
process, under the vendor's limit.

Leases are short (:data:`LEASE`) and renewed by a heartbeat while the drain that holds them is
alive (as Procrastinate and Temporal do): a drain killed mid-way holds its jobs for at most one
lease, instead of a long lease sized for the slowest imaginable backlog.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..providers.lifecycle import transport_metadata
from ..store import Row, Store
from ..store import outbox as outbox_q
from ..store.outbox import JobStatus
from .callbacks import deliver_callbacks
from .worker import OutboxWorker, Outcome

log = logging.getLogger(__name__)

# How long a claim holds jobs without a heartbeat; renewed every third of it while the drain lives.
LEASE = timedelta(seconds=30)


@dataclass
class DrainReport:
    """What a drain did: outcomes by action, vendor calls, callbacks; logs and Dagster metadata."""

    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    duration_s: float = 0.0
    api_calls: int = 0
    api_429s: int = 0
    callbacks: Counter[str] = field(default_factory=Counter)  # delivered | retry | failed
    # Jobs that ended dead or unknown: (job id, action, status, reason) — each needs a person.
    failures: list[tuple[str, str, str, str]] = field(default_factory=list)

    def record(self, row: Row, outcome: Outcome) -> None:
        self.outcomes[(row["action"], outcome.status.value)] += 1
        if outcome.status in (JobStatus.DEAD, JobStatus.UNKNOWN):
            self.failures.append((row["id"], row["action"], outcome.status.value, outcome.reason or ""))

    def merge(self, other: DrainReport) -> None:
        """Add a part that ran after this one (a chunk, a round of claims)."""
        self.outcomes.update(other.outcomes)
        self.duration_s += other.duration_s
        self.api_calls += other.api_calls
        self.api_429s += other.api_429s
        self.callbacks.update(other.callbacks)
        self.failures.extend(other.failures)

    def count_transport(self, providers: Iterable[Any]) -> None:
        """Add the vendor calls and 429s the providers' transports counted."""
        for provider in providers:
            stats = transport_metadata(provider)
            self.api_calls += int(stats.get("api_calls", 0))
            self.api_429s += int(stats.get("api_rate_limited", 0))

    def total(self, outcome: str | None = None) -> int:
        return sum(n for (_, o), n in self.outcomes.items() if outcome is None or o == outcome)

    def as_metadata(self) -> dict[str, float | int]:
        outcomes = (JobStatus.SENT, JobStatus.RETRY, JobStatus.DEAD, JobStatus.UNKNOWN)
        meta: dict[str, float | int] = {o.value: self.total(o) for o in outcomes}
        meta["processed"] = self.total()
        meta.update({f"{action}.{outcome}": n for (action, outcome), n in sorted(self.outcomes.items())})
        if self.duration_s > 0:
            meta["jobs_per_s"] = round(self.total() / self.duration_s, 2)
        meta["api_calls"] = self.api_calls
        meta["api_429s"] = self.api_429s
        meta.update({f"callbacks_{k}": self.callbacks[k] for k in ("delivered", "retry", "failed")})
        return meta


def worker_id() -> str:
    """Who holds a lease: host, process and a random suffix, for operators reading the table."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def claim_chunks(
    store: Store,
    *,
    owner: str,
    chunk_size: int = 50,
    max_rows: int = 1000,
    lease: timedelta = LEASE,
    providers: Sequence[str] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[list[Row]]:
    """Lease up to ``max_rows`` due jobs, split into chunks of one provider each."""
    now = clock()
    rows = outbox_q.claim(store, owner=owner, now=now, lease_until=now + lease, limit=max_rows, providers=providers)
    by_provider: dict[str, list[Row]] = {}
    for row in rows:
        by_provider.setdefault(row["provider"], []).append(row)
    return [group[i : i + chunk_size] for group in by_provider.values() for i in range(0, len(group), chunk_size)]


def process_chunk(worker: OutboxWorker, rows: Sequence[Row], *, concurrency: int = 4) -> DrainReport:
    """Work every job of a chunk, ``concurrency`` at a time; return what happened."""
    started = time.monotonic()
    report = DrainReport()
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="outbox-send") as pool:
        for row, outcome in zip(rows, pool.map(worker.process, rows), strict=True):
            report.record(row, outcome)
    report.duration_s = time.monotonic() - started
    return report


class LeaseHeartbeat:
    """Renews every lease ``owner`` holds, every third of ``lease``, until the ``with`` block ends.

    A thread, not a process: it dies with the drain, which is the point — a SIGKILLed drain's
    leases lapse within one ``lease`` and its jobs go to the next drain.
    """

    def __init__(
        self, store: Store, owner: str, lease: timedelta, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._store, self._owner, self._lease, self._clock = store, owner, lease, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-lease-heartbeat", daemon=True)

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._lease.total_seconds() / 3):
            try:
                now = self._clock()
                with self._store.transaction() as tx:
                    outbox_q.renew_leases(tx, self._owner, lease_until=now + self._lease, now=now)
            except Exception as exc:  # the next beat tries again; a lapsed lease only means a lookup
                log.warning(f"outbox lease heartbeat for {self._owner} failed: {type(exc).__name__}: {exc}")


def drain(worker: OutboxWorker, **options: Any) -> DrainReport:
    """Claim and work due jobs until none is due (``options`` as for :func:`work_due_jobs`), then
    :func:`finish_drain`: the whole drain for the CLI, tests and single-process deployments."""
    return finish_drain(worker.store, work_due_jobs(worker, **options))


def work_due_jobs(
    worker: OutboxWorker,
    *,
    chunk_size: int = 50,
    concurrency: int = 4,
    max_rows: int = 1000,
    lease: timedelta = LEASE,
    providers: Sequence[str] | None = None,
    rounds: int | None = None,
) -> DrainReport:
    """Claim and work due jobs until none is due (or after ``rounds`` claims of up to ``max_rows``).

    One thread pool works every claimed row, so no thread idles at a chunk boundary while the
    vendor's budget goes unused; a :class:`LeaseHeartbeat` keeps the claims while this drain lives.
    Part of a drain: the caller ends it with :func:`finish_drain`.
    """
    owner = worker_id()
    report = DrainReport()
    with LeaseHeartbeat(worker.store, owner, lease, worker.clock):
        claimed = 0
        while (rounds is None or claimed < rounds) and (
            chunks := claim_chunks(
                worker.store,
                owner=owner,
                chunk_size=chunk_size,
                max_rows=max_rows,
                lease=lease,
                providers=providers,
                clock=worker.clock,
            )
        ):
            claimed += 1
            report.merge(process_chunk(worker, [row for chunk in chunks for row in chunk], concurrency=concurrency))
    report.count_transport(worker.providers())
    return report


def finish_drain(store: Store, report: DrainReport, logger: Any = log) -> DrainReport:
    """How every drain ends, whichever front end ran it (CLI, Dagster job, tests): each job that
    ended dead or unknown is logged at WARNING with its reason, and each finished job's result goes
    to its ``callback_url``; the report says how that went. ``logger`` is where the warnings go (the
    Dagster job passes its run log)."""
    for job_id, action, status, reason in report.failures:
        logger.warning(f"outbox job {job_id} ({action}) ended {status}: {reason}")
    report.callbacks.update(deliver_callbacks(store))
    return report
