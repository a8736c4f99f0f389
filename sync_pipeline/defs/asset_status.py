"""Each asset's last materialization against its freshness policy, read from the Dagster instance,
for `sync-pipeline status` (the UI shows the same through the FreshnessDaemon)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg


def local_instance() -> dg.DagsterInstance | None:
    """The instance runs land in: ``DAGSTER_HOME``, else the Makefile's ``.sync_pipeline/dagster``
    under the working directory when it exists (``make demo`` / ``make dev`` write there)."""
    home = os.environ.get("DAGSTER_HOME") or str(Path.cwd() / ".sync_pipeline" / "dagster")
    if not (Path(home) / "dagster.yaml").exists() and "DAGSTER_HOME" not in os.environ:
        return None
    os.environ.setdefault("DAGSTER_HOME", home)
    return dg.DagsterInstance.get()


def asset_status(instance: dg.DagsterInstance, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per asset: when it was last materialized, its policy's fail window, and whether it is stale."""
    from ..definitions import defs  # the definitions load only when a status asks for them

    now = now or datetime.now(UTC)
    graph = defs.resolve_asset_graph()
    found = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        policy = graph.get(key).freshness_policy
        window = getattr(policy, "fail_window", None)
        fail_after = window.to_timedelta() if window is not None else None
        event = instance.get_latest_materialization_event(key)
        last = datetime.fromtimestamp(event.timestamp, UTC) if event else None
        found.append(
            {
                "asset": key.to_user_string(),
                "last_materialized": last.isoformat() if last else None,
                "age_s": round((now - last).total_seconds()) if last else None,
                "fail_window_s": round(fail_after.total_seconds()) if fail_after else None,
                "stale": fail_after is not None and (last is None or now - last > fail_after),
            }
        )
    return found
