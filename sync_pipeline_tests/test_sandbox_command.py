"""`sync-pipeline sandbox -- COMMAND` (what `make dev-sandbox` runs): the command gets the sandbox's
environment, so a Dagster materialization in it syncs from the sandbox with no vendor setting, and
its exit code is the command's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from sync_pipeline.store import connect

REPO = Path(__file__).resolve().parents[1]
SANDBOX = [sys.executable, "-m", "sync_pipeline.cli", "sandbox", "--contacts", "300", "--"]


def test_a_dagster_materialization_under_the_sandbox_syncs_from_it(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GHL_")}
    dagster = [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "--select", "ghl_contacts"]
    result = subprocess.run(
        [*SANDBOX, *dagster, "-m", "sync_pipeline.definitions"],
        cwd=REPO,
        env={**env, "DAGSTER_HOME": str(home), "SYNC_PIPELINE_DB": db_url},
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    store = connect(db_url)
    try:
        with store.transaction() as tx:
            assert tx.scalar("SELECT count(*) FROM contacts WHERE deleted_at IS NULL") == 300
    finally:
        store.close()


def test_the_command_exit_code_is_passed_on() -> None:
    code = "import os, sys; sys.exit(3 if os.environ['GHL_BASE_URL'].startswith('http://127.0.0.1') else 1)"
    result = subprocess.run([*SANDBOX, sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr[-2000:]
