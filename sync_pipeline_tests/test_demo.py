"""`make demo` as a newcomer runs it, at reduced size, in an empty directory (embedded DuckDB,
sandbox vendors, its own Dagster home): the report's figures are checked here again against the
store it leaves behind and the Dagster runs, and the HTML page must hold its charts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from sync_pipeline.store import connect
from sync_pipeline.store import outbox as outbox_q
from sync_pipeline.store.overview import table_counts

REPO = Path(__file__).resolve().parents[1]
JOBS = {"ghl_contacts_sync", "ghl_reconcile", "rb2b_visitors_refresh", "enrichment_refresh", "send_outbox"}


def _figure(report: str, pattern: str) -> int:
    match = re.search(pattern, report)
    assert match, f"{pattern!r} not in the report"
    return int(match.group(1).replace(",", ""))


@pytest.mark.slow
def test_demo_tells_the_whole_story_and_every_figure_holds(tmp_path: Path) -> None:
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNC_PIPELINE_DB", "GHL_", "CLAY_", "RB2B_"))}
    command = [sys.executable, "-m", "sync_pipeline.cli", "demo", "--contacts", "300", "--emails", "40"]
    command += ["--visitors", "20", "--latency-min-ms", "5", "--latency-max-ms", "20"]
    result = subprocess.run(
        command, cwd=tmp_path, env={**env, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=400
    )
    report = result.stdout
    assert result.returncode == 0, report[-4000:] + result.stderr[-3000:]
    assert "Demo OK" in report and "MISMATCH" not in report and "Traceback" not in result.stderr

    store = connect(f"duckdb:///{tmp_path / '.sync_pipeline' / 'sync_pipeline.duckdb'}")
    try:
        with store.transaction() as tx:
            outbox = outbox_q.count_by_status(tx)
            rows = table_counts(tx)
    finally:
        store.close()
    assert _figure(report, r"send_outbox then sent ([\d,]+) in") == outbox["sent"] == 40
    assert _figure(report, r"RB2B posted (\d+) visitors") == rows["visitor_events"] == 20
    assert _figure(report, r"(\d+) malformed deliveries were kept") == 2 <= rows["webhook_quarantine"]
    assert _figure(report, r"incremental sync needed (\d+) call") == 1
    assert _figure(report, r"leaves ([\d,]+) live contacts") == 299  # 300 seeded, 1 created, 2 deleted
    assert re.search(r"second\s+0\s+\d+\s+\$0\.00", report), "the second enrichment pass paid nothing"

    page = (tmp_path / ".sync_pipeline" / "demo.html").read_text()
    assert page.count('src="data:image/png;base64,') == 5
    for title in ("Agent read latency", "Enqueue vs a synchronous send", "Vendor calls made vs avoided",
                  "Enrichment dollars", "Emails: sent, retried, dead"):  # fmt: skip
        assert title in page

    with dg.DagsterInstance.from_config(str(home)) as instance:
        jobs = {run.job_name for run in instance.get_runs()}
    assert jobs >= JOBS and not any(job.startswith("__") for job in jobs), jobs
