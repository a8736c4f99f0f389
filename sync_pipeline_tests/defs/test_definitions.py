"""The Dagster entry point loads with no network and no side effects, and validates from the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[2]


def test_definitions_load_and_validate() -> None:
    from sync_pipeline.definitions import defs

    dg.Definitions.validate_loadable(defs)


def test_importing_definitions_touches_no_database(tmp_path: Path) -> None:
    """Import in a fresh interpreter pointed at a store path that must not be created."""
    target = tmp_path / "never.duckdb"
    env = {**os.environ, "SYNC_PIPELINE_DB": f"duckdb:///{target}", "GHL_BASE_URL": "http://127.0.0.1:9"}
    subprocess.run([sys.executable, "-c", "import sync_pipeline.definitions"], env=env, check=True, cwd=tmp_path)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_definitions_load_with_bad_settings(tmp_path: Path) -> None:
    """A malformed variable fails the runs that read it, never the whole code location."""
    env = {
        **os.environ,
        "SYNC_PIPELINE_DB": "nonsense://x",
        "CONTACTS_FRESHNESS_MINUTES": "soon",
        "CRM_PROVIDER": "nope",
        "GHL_BASE_URL": "not a url",
    }
    code = (
        "import dagster as dg\n"
        "from sync_pipeline.definitions import defs\n"
        "dg.Definitions.validate_loadable(defs)\n"
        "from sync_pipeline.settings import get_settings\n"
        "assert get_settings.cache_info().currsize == 0, 'settings were read at load'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_dagster_definitions_validate_from_repo_root(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "All code locations passed validation" in result.stderr + result.stdout
