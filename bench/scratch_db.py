"""Throwaway stores for benchmarks, removed afterwards, so a run never touches or leaves other data.

A PostgreSQL scratch store is a schema of its own (``bench_<hex>``) in the given database, dropped
on exit; a DuckDB one is a file in a temporary directory, deleted on exit. A benchmark killed
before it could clean up leaves a schema behind: :func:`drop_leftover_schemas` (run by
``make bench`` before it starts) removes them.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_PREFIX = "bench_"


@contextmanager
def scratch_store_url(backend: str, pg: str) -> Iterator[str]:
    """A store URL for ``backend`` (``duckdb`` or ``postgres``) that exists only inside the block."""
    if backend == "duckdb":
        with scratch_dir() as directory:
            yield f"duckdb:///{directory / 'bench.duckdb'}"
    elif backend == "postgres":
        with scratch_schema(pg) as url:
            yield url
    else:
        raise ValueError(f"unknown backend {backend!r}: duckdb or postgres")


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A temporary directory, deleted with everything in it on exit."""
    directory = Path(tempfile.mkdtemp(prefix="sync_pipeline_bench_"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def scratch_schema(base: str) -> Iterator[str]:
    """``base`` pointed at a fresh schema of its own, dropped (with its tables) on exit."""
    import psycopg2

    schema = f"{SCHEMA_PREFIX}{uuid.uuid4().hex[:8]}"
    with psycopg2.connect(base) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        _drop_schemas(base, [schema])


def drop_leftover_schemas(base: str) -> list[str]:
    """Drop every ``bench_*`` schema in ``base`` (left by killed runs); the names dropped."""
    import psycopg2

    with psycopg2.connect(base) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY nspname",
            (SCHEMA_PREFIX.replace("_", r"\_") + "%",),
        )
        names = [row[0] for row in cur.fetchall()]
    _drop_schemas(base, names)
    return names


def _drop_schemas(base: str, names: list[str]) -> None:
    import psycopg2

    if not names:
        return
    conn = psycopg2.connect(base)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for name in names:
                # Sessions still open in the schema (a killed child's) would block the drop.
                cur.execute("SET lock_timeout = '10s'")
                cur.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        conn.close()
