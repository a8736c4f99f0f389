"""Both instance configurations load, and the Postgres one really stores runs in Postgres."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import psycopg2
import pytest

from sync_pipeline_tests.conftest import require_postgres

REPO = Path(__file__).resolve().parents[2]


@dg.asset
def probe() -> int:
    return 1


def _instance(home: Path, config: str, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    shutil.copy(REPO / config, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return dg.DagsterInstance.get()


def test_default_instance_keeps_storage_under_dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _instance(tmp_path, "dagster.yaml", monkeypatch) as instance:
        assert dg.materialize([probe], instance=instance).success
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 2
    assert (tmp_path / "history" / "runs.db").exists()


@pytest.fixture
def dagster_pg_db() -> Iterator[dict[str, str]]:
    """A throwaway Postgres database for Dagster's own tables."""
    url = urlsplit(require_postgres())
    name = f"dagster_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(require_postgres())
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        yield {
            "DAGSTER_PG_HOST": url.hostname or "127.0.0.1",
            "DAGSTER_PG_PORT": str(url.port or 5432),
            "DAGSTER_PG_USER": url.username or "postgres",
            "DAGSTER_PG_PASSWORD": url.password or "",
            "DAGSTER_PG_DB": name,
        }
    finally:
        admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


def test_postgres_instance_stores_runs_in_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dagster_pg_db: dict[str, str]
) -> None:
    for key, value in dagster_pg_db.items():
        monkeypatch.setenv(key, value)
    with _instance(tmp_path, "dagster.postgres.yaml", monkeypatch) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = dg.materialize([probe], instance=instance)
        assert result.success
    conn = psycopg2.connect(
        host=dagster_pg_db["DAGSTER_PG_HOST"],
        port=dagster_pg_db["DAGSTER_PG_PORT"],
        user=dagster_pg_db["DAGSTER_PG_USER"],
        dbname=dagster_pg_db["DAGSTER_PG_DB"],
    )
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM runs WHERE run_id = %s", (result.run_id,))
        assert cur.fetchone()[0] == 1
    conn.close()
