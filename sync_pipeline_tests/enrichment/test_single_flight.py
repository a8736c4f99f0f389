"""Single flight across threads and processes, on both stores: 16 workers enriching overlapping
shares of 100 emails cause exactly 100 paid lookups by the Clay sandbox's own count, and a second
pass causes none."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from sync_pipeline.store import Store, connect
from sync_pipeline.store import enrichment_cache as cache_q
from sync_pipeline.store import enrichment_ledger as ledger_q
from sync_pipeline_tests.enrichment import flight_worker
from sync_pipeline_tests.enrichment.conftest import rows_processed
from sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures import OutreachSandbox

WORKERS = 16  # 8 threads of this process, 8 processes; in each half, agents (one by one) and batch runs
EMAILS = [f"person{n}@company{n % 9}.example" for n in range(100)]


def shares() -> list[list[str]]:
    """Each email in exactly half of the workers' shares, every share in its own order."""
    result = []
    for worker in range(WORKERS):
        share = [e for n, e in enumerate(EMAILS) if (n * 7 + worker) % WORKERS < WORKERS // 2]
        random.Random(worker).shuffle(share)
        result.append(share)
    return result


def one_pass(store: Store, clay: OutreachSandbox) -> list[dict[str, Any]]:
    spec = {
        "db_url": store.url,
        "clay_url": clay.url,
        "api_key": clay.credentials["api_key"],
        "person_routine_id": clay.credentials["person_routine_id"],
        "company_routine_id": clay.credentials["company_routine_id"],
        "start_at": time.time() + 4.0,  # when every process has started
    }
    mode = ["single", "batch"]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sync_pipeline_tests.enrichment.flight_worker",
                json.dumps({**spec, "emails": share, "mode": mode[n % 2]}),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n, share in enumerate(shares()[WORKERS // 2 :])
    ]
    results: list[dict[str, Any]] = []
    threads_store = connect(store.url)  # the threads' own connection, as another agent's would be
    enrichers = [flight_worker.build(threads_store, spec) for _ in range(WORKERS // 2)]

    def thread_worker(n: int, share: list[str]) -> None:
        results.append(flight_worker.run(enrichers[n], share, mode[n % 2], spec["start_at"]))

    threads = [threading.Thread(target=thread_worker, args=(n, s)) for n, s in enumerate(shares()[: WORKERS // 2])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        results.append(json.loads(out.strip().splitlines()[-1]))
    for enricher in enrichers:
        enricher.close()
    threads_store.close()
    return results


@pytest.mark.slow
def test_sixteen_workers_pay_for_each_email_once(store: Store, clay: OutreachSandbox) -> None:
    first = one_pass(store, clay)

    assert [r["errors"] for r in first] == [[]] * WORKERS
    assert rows_processed(clay) == len(EMAILS)  # the sandbox's own count of paid lookups
    assert sum(r["misses"] for r in first) == len(EMAILS)
    assert sum(r["hits"] for r in first) == WORKERS * len(EMAILS) // 2 - len(EMAILS)
    with store.transaction() as tx:
        assert set(ledger_q.paid_keys(tx, "person").values()) == {1}
        assert len(cache_q.get_entries(tx, "person", EMAILS)) == len(EMAILS)

    second = one_pass(store, clay)

    assert rows_processed(clay) == len(EMAILS)
    assert sum(r["misses"] for r in second) == 0
    assert sum(r["hits"] for r in second) == WORKERS * len(EMAILS) // 2
