"""Throwaway databases for benchmarks, so a run never touches other data."""

from __future__ import annotations

import uuid


def pg_schema_url(base: str) -> str:
    """``base`` pointed at a fresh schema of its own."""
    import psycopg2

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg2.connect(base) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    return f"{base}?options=-csearch_path%3D{schema}"
