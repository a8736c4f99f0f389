"""The production backend: PostgreSQL (Supabase-compatible), through psycopg2.

psycopg2 is the driver dagster-postgres already needs, so the project carries one Postgres driver.
Concurrent writers use ordinary transactions; the outbox claims rows with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import psycopg2
import psycopg2.extras

from ..settings import scrub_url
from .base import Params, Row, Store, Transaction, placeholders, rewrite_placeholders, split_insert_values
from .errors import StoreConfigError, StoreError

# Any constant works; it only has to be the same in every process that migrates.
_MIGRATION_LOCK_ID = 7_318_642_001


class PostgresStore(Store):
    """Store on PostgreSQL with a small per-process connection pool."""

    dialect = "postgres"

    def __init__(self, url: str, *, max_connections: int = 8) -> None:
        self.url = url
        self._dsn = _libpq_dsn(url)
        self._slots = threading.BoundedSemaphore(max_connections)
        self._idle: list[psycopg2.extensions.connection] = []
        self._idle_lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        conn = self._checkout()
        broken = False
        try:
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                try:
                    yield _PostgresTransaction(cur)
                    conn.commit()
                except BaseException:
                    conn.rollback()
                    raise
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            broken = True
            raise
        finally:
            self._checkin(conn, broken=broken or conn.closed != 0)

    @contextmanager
    def migration_lock(self) -> Iterator[Transaction]:
        with self.transaction() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(:lock_id)", {"lock_id": _MIGRATION_LOCK_ID})
            yield tx

    def _release_connections(self) -> None:
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # A small pool: at most ``max_connections`` in use (callers wait for a slot rather than fail),
    # idle connections kept for reuse — opening a Postgres connection costs milliseconds.

    def _checkout(self) -> psycopg2.extensions.connection:
        self._slots.acquire()
        try:
            with self._idle_lock:
                if self._idle:
                    return self._idle.pop()
            return self._connect()
        except BaseException:
            self._slots.release()
            raise

    def _checkin(self, conn: psycopg2.extensions.connection, *, broken: bool) -> None:
        try:
            if broken:
                conn.close()
            else:
                with self._idle_lock:
                    self._idle.append(conn)
        finally:
            self._slots.release()

    def _connect(self) -> psycopg2.extensions.connection:
        try:
            return psycopg2.connect(self._dsn, options=_session_options(self._dsn), connect_timeout=10)
        except psycopg2.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreachable"
            raise StoreConfigError(
                f"cannot connect to PostgreSQL at {scrub_url(self.url)}: {reason}. "
                "Check SYNC_PIPELINE_DB (or SYNC_PIPELINE_TEST_PG for tests)."
            ) from None


class _PostgresTransaction(Transaction):
    def __init__(self, cur: psycopg2.extras.RealDictCursor) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Params | None = None) -> int:
        text, names = _pg_sql(sql)
        self._cur.execute(text, _values(params, names))
        return self._cur.rowcount

    def asynchronous_commit(self) -> None:
        self._cur.execute("SET LOCAL synchronous_commit = off")

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if not rows:
            return
        text, names = _pg_sql(sql)
        values = [_values(r, names) for r in rows]
        if insert := split_insert_values(text):
            # one multi-row INSERT per 1,000 rows instead of a statement per row
            psycopg2.extras.execute_values(
                self._cur, f"{insert[0]} VALUES %s", values, template=insert[1], page_size=1000
            )
        else:
            psycopg2.extras.execute_batch(self._cur, text, values, page_size=500)

    def fetchall(self, sql: str, params: Params | None = None) -> list[Row]:
        text, names = _pg_sql(sql)
        self._cur.execute(text, _values(params, names))
        return [dict(r) for r in self._cur.fetchall()]

    def fetchall_over(self, sql: str, rows: Sequence[Params], *, table: str) -> list[Row]:
        if not rows:
            return []
        # One JSON text typed by the table's row type: psycopg2 then quotes one string instead of
        # adapting every value in Python (execute_values spent more on that than Postgres on the insert).
        text, _ = _pg_sql(sql)
        self._cur.execute(
            text.replace("{rows}", f"jsonb_populate_recordset(NULL::{table}, %(rows)s)"),
            {"rows": _json_text(rows)},
        )
        return [dict(r) for r in self._cur.fetchall()] if self._cur.description else []


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> tuple[str, tuple[str, ...]]:
    return rewrite_placeholders(sql.replace("%", "%%"), "%({name})s"), tuple(placeholders(sql))


def _values(params: Params | None, names: tuple[str, ...]) -> dict[str, Any]:
    params = params or {}
    missing = [n for n in names if n not in params]
    if missing:
        raise StoreError(f"query parameter :{missing[0]} was not supplied")
    return {
        n: psycopg2.extras.Json(params[n], dumps=_json_text) if isinstance(params[n], dict | list) else params[n]
        for n in names
    }


def _json_text(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _session_options(dsn: str) -> str:
    """Keep any ``options`` the URL carries (e.g. ``-csearch_path=…``) and add UTC time zone."""
    query = parse_qs(urlsplit(dsn).query)
    return " ".join([*query.get("options", []), "-c timezone=UTC"])


def _libpq_dsn(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise StoreConfigError(f"not a PostgreSQL URL: {scrub_url(url)!r} (expected postgresql://user@host:port/db)")
    return f"postgresql://{rest}"
