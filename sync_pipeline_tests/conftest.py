"""Fixtures shared by the whole suite: a fresh store on each backend.

Every store test runs twice, on a DuckDB file and on PostgreSQL (``SYNC_PIPELINE_TEST_PG``, each
test in a schema of its own). When Postgres is unreachable the Postgres half skips with the reason,
unless ``SYNC_PIPELINE_REQUIRE_POSTGRES=1`` (CI), where it fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest

from sync_pipeline.store import Store, connect, migrate

pytest_plugins = [
    "sync_pipeline_tests.sandbox_fixtures",
    "sync_pipeline_tests.ghl_deployment",
    "sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures",
]

BACKENDS = ("duckdb", "postgres")
DUCKDB_PREFIX = "duckdb:///"


def test_pg_url() -> str:
    return os.environ.get("SYNC_PIPELINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


test_pg_url.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def require_postgres() -> str:
    """The test Postgres URL, or skip (fail under SYNC_PIPELINE_REQUIRE_POSTGRES=1) when it is down."""
    url = test_pg_url()
    try:
        psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"), connect_timeout=5).close()
    except psycopg2.OperationalError as exc:
        reason = f"PostgreSQL at {url} is unreachable ({str(exc).strip().splitlines()[0]})"
        if os.environ.get("SYNC_PIPELINE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}; SYNC_PIPELINE_REQUIRE_POSTGRES=1 forbids skipping", pytrace=False)
        pytest.skip(f"{reason}; set SYNC_PIPELINE_TEST_PG or start Postgres")
    return url


def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty database of ``backend``; the Postgres schema is dropped afterwards."""
    if backend == "duckdb":
        yield f"{DUCKDB_PREFIX}{tmp_path / 'store.duckdb'}"
        return
    base = require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg2.connect(base) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    conn.close()
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg2.connect(base) as conn, conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty database on each backend (unmigrated)."""
    yield from store_url(backend, tmp_path)


@pytest.fixture(scope="session")
def migrated_duckdb_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty DuckDB store with every migration applied, made once for the session."""
    path = tmp_path_factory.mktemp("migrated") / "store.duckdb"
    template = connect(f"{DUCKDB_PREFIX}{path}")
    migrate(template)
    template.close()
    return path


@pytest.fixture
def store(db_url: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A migrated, empty store on each backend. A DuckDB one starts as a copy of
    :func:`migrated_duckdb_file`: migrating a new file takes 80 ms, a few hundred tests in turn
    (the migrations themselves are tested from empty databases in ``store/test_migrations.py``)."""
    if db_url.startswith(DUCKDB_PREFIX):
        shutil.copyfile(request.getfixturevalue("migrated_duckdb_file"), db_url.removeprefix(DUCKDB_PREFIX))
    s = connect(db_url)
    migrate(s)
    try:
        yield s
    finally:
        s.close()
