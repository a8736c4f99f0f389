"""`make dev` as a data engineer meets it: the UI up on live sandbox vendors, every definition
loaded, and the RUNNING sensors launching runs that succeed — read back through Dagster's GraphQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

LOCATION = "sync_pipeline"
SENSORS = {"ghl_contacts_sensor", "rb2b_visitors_sensor", "outbox_sensor"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _query(ui: str, query: str) -> dict[str, Any]:
    answer = httpx.post(f"{ui}/graphql", json={"query": query}, timeout=30).raise_for_status().json()
    assert "errors" not in answer, answer
    return answer["data"]


def _wait(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout_s:.0f} s (last: {last})")


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_make_dev_serves_every_definition_and_its_sensors_launch_successful_runs(tmp_path: Path) -> None:
    ui_port, serve_port = _free_port(), _free_port()
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SYNC_PIPELINE_DB": f"duckdb:///{tmp_path / 'store.duckdb'}",
        "VIRTUAL_ENV": str(Path(sys.executable).parents[1]),
    }
    command = [str(Path(sys.executable).with_name("sync-pipeline")), "dev", "--contacts", "300"]
    command += ["--ui-port", str(ui_port), "--serve-port", str(serve_port), "--visitors-every", "5"]
    dev = subprocess.Popen(
        command,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    ui = f"http://127.0.0.1:{ui_port}"
    try:
        _wait(lambda: _query(ui, "{ version }")["version"], 120, "the UI answering")
        repo = f'{{repositoryName: "__repository__", repositoryLocationName: "{LOCATION}"}}'
        loaded = _wait(
            lambda: _query(
                ui,
                f"""{{ repositoryOrError(repositorySelector: {repo}) {{ ... on Repository {{
                    assetNodes {{ assetKey {{ path }} }} jobs {{ name }} schedules {{ name }}
                    sensors {{ name sensorState {{ status }} }} }} }} }}""",
            )["repositoryOrError"],
            60,
            "the code location loaded",
        )
        assets = {"/".join(a["assetKey"]["path"]) for a in loaded["assetNodes"]}
        assert {"ghl_contacts", "rb2b_visitors", "clay_enrichments", "contact_profiles"} <= assets
        assert {"send_outbox", "ghl_contacts_sync", "ghl_reconcile"} <= {j["name"] for j in loaded["jobs"]}
        assert "ghl_reconcile_schedule" in {s["name"] for s in loaded["schedules"]}
        sensors = {s["name"]: s["sensorState"]["status"] for s in loaded["sensors"]}
        assert set(sensors) >= SENSORS and all(sensors[name] == "RUNNING" for name in SENSORS), sensors

        def succeeded_by_sensors() -> set[str]:
            runs = _query(
                ui,
                "{ runsOrError(limit: 50) { ... on Runs { results { jobName status tags { key value } } } } }",
            )["runsOrError"]["results"]
            failed = [r for r in runs if r["status"] == "FAILURE"]
            assert not failed, failed
            return {
                tag["value"]
                for r in runs
                if r["status"] == "SUCCESS"
                for tag in r["tags"]
                if tag["key"] == "dagster/sensor_name"
            }

        # the contacts sensor syncs at once (never synced); visitors arrive every 5 s
        launched = _wait(
            lambda: (s := succeeded_by_sensors()) >= {"ghl_contacts_sensor", "rb2b_visitors_sensor"} and s,
            240,
            "successful runs launched by the contacts and visitors sensors",
        )
        assert {"ghl_contacts_sensor", "rb2b_visitors_sensor"} <= launched
    finally:
        os.killpg(dev.pid, signal.SIGINT)
        try:
            dev.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait(10)
    assert dev.returncode == 0
