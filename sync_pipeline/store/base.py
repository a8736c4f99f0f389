"""The one seam between the data layer's logic and each database backend.

Queries are written once, in portable SQL with ``:name`` placeholders; each backend converts the
placeholders to its driver's style and returns rows as plain dicts with JSON columns decoded, so
code above this layer never knows which database it talks to.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

Row = dict[str, Any]
Params = Mapping[str, Any]

# ``:name`` but not a ``::type`` cast; names start with a letter so times like '12:30' never match.
_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def placeholders(sql: str) -> list[str]:
    """The parameter names a query uses, in order of first use."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(sql)))


def rewrite_placeholders(sql: str, template: str) -> str:
    """Replace ``:name`` with ``template.format(name=name)`` (e.g. ``$name`` or ``%(name)s``)."""
    return _PLACEHOLDER.sub(lambda m: template.format(name=m.group(1)), sql)


_INSERT_VALUES = re.compile(r"(?is)^\s*(INSERT\s+INTO\s+[^()]+\([^()]*\))\s*VALUES\s*(\(.*\))\s*$")


def split_insert_values(sql: str) -> tuple[str, str] | None:
    """``INSERT INTO t (cols) VALUES (exprs)`` as ``("INSERT INTO t (cols)", "(exprs)")``, else None.

    Backends turn such a statement, run for many rows, into one multi-row statement.
    """
    match = _INSERT_VALUES.match(sql)
    return (match.group(1), match.group(2)) if match else None


def in_list(name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """An ``IN (...)`` list as SQL text plus parameters, portable to both backends.

    >>> in_list("id", ["a", "b"])
    ('(:id_0, :id_1)', {'id_0': 'a', 'id_1': 'b'})
    """
    if not values:
        return "(NULL)", {}
    params = {f"{name}_{i}": v for i, v in enumerate(values)}
    return "(" + ", ".join(f":{key}" for key in params) + ")", params


class Transaction(ABC):
    """One short database transaction. Commit happens when the ``with`` block exits cleanly."""

    @abstractmethod
    def execute(self, sql: str, params: Params | None = None) -> int:
        """Run one statement; return the number of rows it changed where the driver knows (else -1)."""

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        """Run one statement for each parameter mapping, in one round trip where the driver allows."""

    @abstractmethod
    def fetchall(self, sql: str, params: Params | None = None) -> list[Row]:
        """Run a query and return every row as a dict."""

    @abstractmethod
    def fetchall_over(self, sql: str, rows: Sequence[Params], *, table: str) -> list[Row]:
        """Run ``sql`` once, with ``{rows}`` in its text standing for ``rows`` as a relation, and
        return every row it yields (a write's ``RETURNING``).

        Every row holds the same keys, each a column of ``table``, and takes that column's type (JSON
        columns take dicts and lists). One statement over a page of rows, instead of a statement or a
        parameter per value: a synced page of 500 contacts is one upsert, its lookup one join.
        """

    def asynchronous_commit(self) -> None:  # noqa: B027 - optional, most backends commit one way
        """Let this transaction's commit return before it is flushed to disk (PostgreSQL's
        asynchronous commit): a crash of the database server within a fraction of a second after it
        loses the transaction whole, never half of it. Only for work that is redone when lost, such
        as a synced page with its checkpoint (the sync fetches it again). Waiting for the flush cost
        a Postgres sync a twentieth of its writing time. DuckDB always flushes."""

    def fetchone(self, sql: str, params: Params | None = None) -> Row | None:
        """Run a query and return its first row, or None."""
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Params | None = None) -> Any:
        """Run a query and return the first column of its first row, or None."""
        row = self.fetchone(sql, params)
        return next(iter(row.values())) if row else None


class Store(ABC):
    """A connection factory for one database; safe to share between threads of one process."""

    dialect: str
    url: str

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Open a short transaction; keep the body small, other processes may be waiting."""

    @abstractmethod
    @contextmanager
    def migration_lock(self) -> Iterator[Transaction]:
        """A transaction that also excludes every other migrating process."""

    @contextmanager
    def side_transaction(self) -> Iterator[Transaction]:
        """A short transaction on tables that :meth:`transaction` bodies never write (the rate
        limiter's), which must not wait behind them: a vendor request should not queue behind a page
        being written. Side transactions are serialized among themselves within a process. Backends
        whose transactions already run side by side (Postgres) need nothing more than this default.
        """
        with self.transaction() as tx:
            yield tx

    @contextmanager
    def read_transaction(self) -> Iterator[Transaction]:
        """A transaction that only reads, such as an agent's lookup: backends that can run it beside
        writers do (a hosted DuckDB file, which also commits it after answering and so refuses a
        write in it); elsewhere it is :meth:`transaction` (Postgres readers never wait for writers
        anyway)."""
        with self.transaction() as tx:
            yield tx

    def host(self) -> bool:
        """Become the one process that serves this database to the others, where the backend needs
        one (a DuckDB file, which one process at a time can open); True if this process now does.
        A database server (Postgres) serves everyone already: False."""
        return False

    def map_types(self, ddl: str) -> str:
        """Adapt the few dialect words in portable DDL (see ``sql/``) to this backend."""
        return ddl

    def before_close(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Run ``hook`` when this store closes, before its connections go — buffered writers (the call
        ledger) flush there instead of losing rows. Returns a function that cancels the hook."""
        hooks: list[Callable[[], None]] = self.__dict__.setdefault("_before_close", [])
        hooks.append(hook)
        return lambda: hooks.remove(hook) if hook in hooks else None

    def close(self) -> None:
        """Run the :meth:`before_close` hooks, then release the backend's connections."""
        for hook in list(self.__dict__.get("_before_close", [])):
            hook()
        self._release_connections()

    def _release_connections(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release pooled connections (each backend's part of :meth:`close`)."""
