"""Many processes, one store: the Dagster webserver, daemon, run workers, webhook receiver and
agents all write and read at once. Nothing may be lost and nobody may see a lock error."""

from __future__ import annotations

import multiprocessing as mp
import time
from datetime import UTC, datetime

from sync_pipeline.store import Store, connect

WORKERS = 4
SECONDS = 3.0


def _worker(url: str, worker: int, seconds: float, results: mp.Queue) -> None:
    """Insert rows one short transaction at a time, reading after each write, for ``seconds``."""
    try:
        store = connect(url, lock_timeout_s=20)
        written = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with store.transaction() as tx:
                tx.execute(
                    "INSERT INTO sync_state (stream, cursor, updated_at) VALUES (:stream, :cursor, :at)",
                    {"stream": f"w{worker}-{written}", "cursor": str(written), "at": datetime.now(UTC)},
                )
            with store.transaction() as tx:
                seen = tx.scalar(
                    "SELECT count(*) FROM sync_state WHERE stream LIKE :prefix", {"prefix": f"w{worker}-%"}
                )
            written += 1
            if seen != written:
                raise AssertionError(f"worker {worker} wrote {written} rows but reads {seen}")
        store.close()
        results.put((worker, written, None))
    except Exception as exc:  # reported to the parent, which fails the test with it
        results.put((worker, 0, f"{type(exc).__name__}: {exc}"))


def run_workers(url: str) -> int:
    """Run ``WORKERS`` worker processes on ``url`` at once; the rows they wrote, all told. Fails the
    test if any raised or starved."""
    ctx = mp.get_context("spawn")
    results: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, w, SECONDS, results)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)

    errors = [err for _, _, err in outcomes if err]
    assert not errors, errors
    written = {worker: n for worker, n, _ in outcomes}
    assert all(n > 0 for n in written.values()), f"a worker starved: {written}"
    return sum(written.values())


def test_four_processes_write_and_read_without_loss(store: Store, db_url: str) -> None:
    store.close()  # let the workers have the file
    written = run_workers(db_url)
    with connect(db_url).transaction() as tx:
        stored = tx.scalar("SELECT count(*) FROM sync_state")
    assert stored == written
