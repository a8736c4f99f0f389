"""Drain the outbox in a child process (tests SIGKILL it, or run two at once) until every job is
finished or ``run_for_s`` has passed."""

from __future__ import annotations

import sys
import time
from datetime import timedelta

from sync_pipeline.outbox.backoff import Backoff
from sync_pipeline.outbox.run import drain_configured
from sync_pipeline.settings import Settings
from sync_pipeline.store import connect

if __name__ == "__main__":
    lease_s, run_for_s = float(sys.argv[1]), float(sys.argv[2])
    settings = Settings.from_env()
    store = connect(settings.db_url)
    deadline = time.monotonic() + run_for_s
    while time.monotonic() < deadline:
        drain_configured(
            store,
            settings,
            chunk_size=10,
            concurrency=4,
            lease=timedelta(seconds=lease_s),
            worker_options={"backoff": Backoff(base_s=0.05, cap_s=0.5)},
        )
        time.sleep(0.05)
