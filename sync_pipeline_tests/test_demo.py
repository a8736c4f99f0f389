"""`make demo` runs the main jobs end to end and says so; run here as a newcomer would, in an empty
directory (embedded DuckDB, sandbox vendors, its own Dagster home)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_demo_runs_end_to_end_and_reports(tmp_path: Path) -> None:
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNC_PIPELINE_DB", "GHL_"))}
    result = subprocess.run(
        [sys.executable, "-m", "sync_pipeline.cli", "demo", "--contacts", "400", "--emails", "20"],
        cwd=tmp_path,
        env={**env, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "== demo OK" in out
    assert "incremental sync used 1 API calls" in out
    assert "'duplicate_sends': 0" in out and "'rate_limited': 0" in out
    assert (tmp_path / ".sync_pipeline" / "sync_pipeline.duckdb").exists()
    assert (home / "history" / "runs.db").exists()  # the runs are in the Dagster instance for the UI
