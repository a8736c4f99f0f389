"""The embedded default backend: one DuckDB file shared by many processes.

DuckDB lets exactly one process open a file for writing. The Dagster webserver, daemon, run
workers, the webhook receiver and agents all need the store, so processes take turns:

* an exclusive ``flock`` on ``<file>.lock`` says who may open the file;
* the holder keeps its connection open while it is busy (opening DuckDB costs ~12 ms, closing it
  checkpoints the WAL, a transaction on an open connection is well under 1 ms) and lets go when it
  has been idle for ``idle_release_s``, or once it has held the file for a short quantum while another process waits
  (waiters hold a shared ``flock`` on ``<file>.wait``, which the holder probes after every
  transaction);
* a waiter retries with backoff until ``lock_timeout_s`` and then raises :class:`StoreBusy`,
  naming the process that holds the file and for how long, never a raw DuckDB lock traceback;
* within the holding process, :meth:`DuckDBStore.side_transaction` runs on a second connection
  beside the main one, so the rate limiter's reservations never wait for a page write to commit.

Taking turns costs every hand-over a close (with its checkpoint) and an open, which readers feel
under load. A long-running server therefore *hosts* the file (:meth:`DuckDBStore.host`, see
:mod:`.duckdb_host`): it keeps the file for its lifetime, and every other process's transactions go
to it over a Unix socket, where reads run beside writers instead of after them. Without a host
(nothing started but a job or a CLI command) processes take turns as above; when a host stops,
its clients go back to taking turns.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import json
import os
import queue
import random
import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson

from ..settings import DUCKDB_MEMORY_LIMIT
from .base import Params, Row, Store, Transaction, placeholders, rewrite_placeholders, split_insert_values
from .duckdb_host import StoreHost
from .duckdb_remote import HostClient
from .errors import StoreBusy, StoreConfigError, StoreError

# After letting a waiter in, stay away this long so the waiter can take the file.
_COURTESY_S = 0.01
# Waiters retry the lock this often at most: well inside the courtesy, so a waiter never sleeps
# through its turn (with 20 ms, reads behind a sync got the file a few times in 8 s, p99 1.4 s).
# A retry is one non-blocking flock call.
_FIRST_BACKOFF_S = 0.0005
_MAX_BACKOFF_S = 0.002
# A holder keeps the file at least this long when others wait: opening costs ~12 ms, so handing
# the file over after every transaction would spend most of the time opening it.
_QUANTUM_S = 0.025
# DuckDB checkpoints once its WAL passes a threshold (16 MB by default), and a checkpoint's cost
# grows with the table: it rewrites the index pages the writes touched, all of them for random ids.
# At a fixed threshold a sync's checkpoint time per row therefore grows with the table (at
# 1,000,000 contacts page writes ran at half the rows/s of 100,000). The threshold grows with the
# file instead, so each checkpoint is paid for by rows in proportion to what it rewrites (as an
# LSM tree sizes its compactions): a quarter of the file, in powers of two, between DuckDB's default
# and 1 GiB. A larger WAL costs disk and, after a crash, a longer replay on the next open.
_CHECKPOINT_MIN_BYTES = 16 * 2**20
_CHECKPOINT_MAX_BYTES = 2**30
_CHECKPOINT_FILE_FRACTION = 4


class DuckDBStore(Store):
    """Store on a DuckDB file; see the module docstring for how processes share it."""

    dialect = "duckdb"

    def __init__(
        self,
        path: str | Path,
        *,
        lock_timeout_s: float = 30.0,
        idle_release_s: float = 2.0,
        memory_limit: str = DUCKDB_MEMORY_LIMIT,
    ) -> None:
        self.path = Path(path).expanduser().resolve()
        self.url = f"duckdb:///{self.path.as_posix()}"
        self._lock_fd, self._wait_fd = _open_side_files(self.path)
        self._lock_timeout_s = lock_timeout_s
        self._idle_release_s = idle_release_s
        self._memory_limit = memory_limit
        self._mutex = threading.Lock()  # the main lane: its transactions one at a time
        self._side_mutex = threading.Lock()  # the side lane (see side_transaction)
        self._state = threading.Condition()  # guards the connections, _active and the hand-over
        self._active = 0  # transactions open in either lane
        self._local = threading.local()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._side_conn: duckdb.DuckDBPyConnection | None = None
        self._last_used = 0.0
        self._held_since = 0.0
        self._not_before = 0.0
        self._watcher: threading.Thread | None = None
        self._closed = False
        self._hosting = False
        self._host: StoreHost | None = None
        self._host_client = HostClient(self.path)
        self._free_readers: list[duckdb.DuckDBPyConnection] = []  # the host's read cursors not in use
        self._open_readers: list[duckdb.DuckDBPyConnection] = []
        self._checkpoint_bytes = 0  # the open connection's checkpoint threshold (0: not set yet)
        # Hosted reads waiting for their COMMIT, and the thread that runs them (see _hosted_read).
        self._read_commits: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
        self._read_committer: threading.Thread | None = None
        atexit.register(self.close)

    def map_types(self, ddl: str) -> str:
        return ddl.replace("JSONB", "JSON")

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._lane("main") as tx:
            yield tx

    @contextmanager
    def side_transaction(self) -> Iterator[Transaction]:
        """A transaction on a second connection to the same file, beside the main lane's: DuckDB runs
        both at once (MVCC), so a rate-limit reservation does not wait behind a page write. Safe
        because side transactions write only tables the main lane never writes (else DuckDB would
        raise a write conflict instead of waiting, as Postgres does)."""
        with self._lane("side") as tx:
            yield tx

    @contextmanager
    def read_transaction(self) -> Iterator[Transaction]:
        """On a hosted file, a read on a cursor of its own, beside the main and side lanes (MVCC: it
        sees what was committed when it began). Without a host, reads take the main lane."""
        with self._lane("read") as tx:
            yield tx

    def host(self) -> bool:
        """Keep the file while this process runs, and run other processes' transactions (see the
        module docstring). Waits for the file like any transaction. False when another process
        hosts it already: this one's transactions then go there too."""
        if self._host_client.listening():
            return False
        if self._read_committer is None:
            self._read_committer = threading.Thread(
                target=self._commit_reads, args=(self._read_commits,), name="duckdb-read-commits", daemon=True
            )
            self._read_committer.start()
        self._hosting = True
        try:
            with self._state:
                self._connection()
        except _HostAppeared:
            self._hosting = False
            return False
        except BaseException:
            self._hosting = False
            raise
        host = StoreHost(self._host_client.address, self._lane)
        try:
            host.start()
        except BaseException:
            self._hosting = False  # back to taking turns, so nobody waits for a host that never came
            raise
        self._host = host
        return True

    # One process at a time holds the file, so a migration transaction is already exclusive.
    migration_lock = transaction

    @contextmanager
    def _lane(self, lane: str) -> Iterator[Transaction]:
        """One transaction of a lane (``main``, ``side`` or ``read``), here or on the file's host."""
        if getattr(self._local, "active", False):
            raise StoreError("nested store transaction: finish the open transaction before starting another")
        self._local.active = True
        try:
            while True:
                remote = None
                if not self._hosting and self._conn is None:
                    remote = self._host_client.begin(lane, local=lambda: self._moved_lane(lane))
                if remote is not None:
                    with remote.finish() as tx:
                        yield tx
                    return
                try:
                    with self._local_lane(lane) as tx:
                        yield tx
                    return
                except _HostAppeared:  # raised before the block ran: a host took the file meanwhile
                    continue
        finally:
            self._local.active = False

    @contextmanager
    def _moved_lane(self, lane: str) -> Iterator[Transaction]:
        """The local lane a transaction moves to when the host stops before it began (see
        :class:`RemoteTransaction`)."""
        try:
            with self._local_lane(lane) as tx:
                yield tx
        except _HostAppeared:
            raise StoreError(
                f"the process hosting DuckDB store {self.path} stopped and another began hosting it; "
                "nothing of this transaction ran (retry: the next transaction goes to the new host)"
            ) from None

    @contextmanager
    def _local_lane(self, lane: str) -> Iterator[Transaction]:
        """A transaction on this process's own connection: lanes run side by side, each lane's
        transactions one at a time (the host's reads all at once, see :meth:`_hosted_read`)."""
        if lane == "read" and self._hosting:
            with self._hosted_read() as tx:
                yield tx
            return
        with {"main": self._mutex, "side": self._side_mutex, "read": self._mutex}[lane]:
            conn = self._enter(lane)
            try:
                conn.execute(_BEGIN[lane])
                try:
                    yield _DuckDBTransaction(conn)
                    conn.execute("COMMIT")
                except BaseException as exc:
                    _rollback_quietly(conn)
                    if _out_of_memory(exc):
                        raise StoreError(self._out_of_memory_message(exc)) from None
                    raise
                if lane == "main":
                    self._scale_checkpoints(conn)
            finally:
                self._leave(conn)

    @contextmanager
    def _hosted_read(self) -> Iterator[Transaction]:
        """A read on a cursor of its own, whose COMMIT runs on the commit thread (started by
        :meth:`host`) once the block ends.

        A read's COMMIT waits for DuckDB's transaction lock, which a writer's commit holds, and
        then cleans up the versions of writers that committed while the read ran: under a sync it
        took 16-19 ms at p99. Nothing waits for a read-only transaction's commit, so the answer goes
        back first and the client's next read takes another cursor.
        """
        cursor = self._enter("read")
        try:
            cursor.execute(_BEGIN["read"])
            yield _DuckDBTransaction(cursor)
        except BaseException:
            _rollback_quietly(cursor)
            self._leave(cursor)
            raise
        self._read_commits.put(cursor)

    def _commit_reads(self, cursors: queue.SimpleQueue[duckdb.DuckDBPyConnection]) -> None:
        while True:
            cursor = cursors.get()
            try:
                cursor.execute("COMMIT")
            except duckdb.Error:
                _rollback_quietly(cursor)  # a read-only transaction loses nothing either way
            finally:
                self._leave(cursor)

    def _out_of_memory_message(self, exc: BaseException) -> str:
        """One line for DuckDB running out of its memory limit: DuckDB keeps a table's indexes in
        memory while it writes them, so a limit that served a smaller table can fail a larger one
        (at 256MB, somewhere past a million contacts)."""
        return (
            f"DuckDB store {self.path} ran out of memory ({_first_line(exc)}): the indexes a write changes must "
            f"fit in SYNC_PIPELINE_DUCKDB_MEMORY_LIMIT ({self._memory_limit}); raise it "
            "(e.g. 1GB) or point SYNC_PIPELINE_DB at PostgreSQL. Nothing of this transaction was committed."
        )

    def _scale_checkpoints(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Keep DuckDB's checkpoint threshold in step with the file's size (see
        ``_CHECKPOINT_FILE_FRACTION``); a stat after each main-lane commit, a SET when it changes."""
        threshold = checkpoint_threshold(os.stat(self.path).st_size)
        if threshold != self._checkpoint_bytes:
            conn.execute(f"SET checkpoint_threshold = '{threshold}B'")
            self._checkpoint_bytes = threshold

    def _release_connections(self) -> None:
        """Close the connections (once open transactions end) and let other processes have the file."""
        with self._state:
            self._closed = True
        if self._host is not None:
            self._host.stop()
        with self._state:
            self._state.wait_for(lambda: self._active == 0)
            self._release(courtesy=False)

    # -- holding and releasing the file -------------------------------------------------------

    def _enter(self, lane: str) -> duckdb.DuckDBPyConnection:
        """The connection for a transaction about to start (opening the file if needed)."""
        with self._state:
            if self._conn is not None and self._should_yield():
                # Another process waits and this one had its quantum: let go once both lanes are idle.
                self._state.wait_for(lambda: self._active == 0)
                if self._conn is not None and self._should_yield():
                    self._release(courtesy=True)
            conn = self._connection()
            self._active += 1
            if lane == "side":
                if self._side_conn is None:
                    self._side_conn = _utc(conn.cursor())
                return self._side_conn
            if lane == "read" and self._hosting:
                if not self._free_readers:
                    self._open_readers.append(_utc(conn.cursor()))
                    self._free_readers.append(self._open_readers[-1])
                return self._free_readers.pop()
            return conn

    def _leave(self, conn: duckdb.DuckDBPyConnection) -> None:
        with self._state:
            if any(conn is reader for reader in self._open_readers):
                self._free_readers.append(conn)
            self._active -= 1
            self._last_used = time.monotonic()
            if self._active == 0:
                self._state.notify_all()
                if self._conn is not None and self._should_yield():
                    self._release(courtesy=True)

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._closed:
            raise StoreError(f"store {self.url} was closed")
        if self._conn is None:
            wait = self._not_before - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._conn = self._open()
            self._held_since = time.monotonic()
            if self._watcher is None or not self._watcher.is_alive():
                self._watcher = threading.Thread(target=self._watch, name="duckdb-store-release", daemon=True)
                self._watcher.start()
        return self._conn

    def _open(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self._lock_timeout_s
        self._take_file_lock(deadline)
        backoff = _FIRST_BACKOFF_S
        while True:
            try:
                return _utc(duckdb.connect(str(self.path), config={"memory_limit": self._memory_limit}))
            except duckdb.IOException as exc:
                # A process outside sync_pipeline (e.g. the duckdb CLI) holds DuckDB's own lock.
                if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                    if "lock" in str(exc).lower():
                        raise StoreBusy(
                            f"DuckDB store {self.path} is locked by a process outside sync_pipeline "
                            f"({_first_line(exc)}); close that program or use PostgreSQL for shared access"
                        ) from None
                    raise StoreConfigError(f"cannot open DuckDB store {self.path}: {_first_line(exc)}") from None
                time.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)

    def _take_file_lock(self, deadline: float) -> None:
        backoff = _FIRST_BACKOFF_S
        announced = False
        try:
            while True:
                try:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if self._host_client.listening():
                        raise _HostAppeared from None
                    if not announced:
                        fcntl.flock(self._wait_fd, fcntl.LOCK_SH)  # tell the holder someone waits
                        announced = True
                    if time.monotonic() >= deadline:
                        raise StoreBusy(self._busy_message()) from None
                    time.sleep(backoff * (0.5 + random.random()))
                    backoff = min(backoff * 2, _MAX_BACKOFF_S)
        finally:
            if announced:
                fcntl.flock(self._wait_fd, fcntl.LOCK_UN)
        holder = json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv)[:200], "since": time.time()})
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, holder.encode(), 0)

    def _busy_message(self) -> str:
        try:
            holder = json.loads(os.pread(self._lock_fd, 4096, 0) or b"{}")
            held_for = time.time() - float(holder["since"])
            who = f"process {holder['pid']} ({holder['command']}) has held it for {held_for:.1f} s"
        except (ValueError, KeyError, OSError):
            who = "another process holds it"
        return (
            f"DuckDB store {self.path} stayed busy for {self._lock_timeout_s:.0f} s: {who}. "
            "A long transaction there should be split; raise SYNC_PIPELINE_DB_LOCK_TIMEOUT to wait longer, "
            "or point SYNC_PIPELINE_DB at PostgreSQL for many concurrent writers."
        )

    def _should_yield(self) -> bool:
        return not self._hosting and time.monotonic() - self._held_since >= _QUANTUM_S and self._others_waiting()

    def _others_waiting(self) -> bool:
        try:
            fcntl.flock(self._wait_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self._wait_fd, fcntl.LOCK_UN)
        return False

    def _release(self, *, courtesy: bool) -> None:
        """Close both lanes' connections (the file stays open while either is) and unlock the file."""
        if self._conn is None:
            return
        try:
            for cursor in [*self._open_readers, self._side_conn]:
                if cursor is not None:
                    cursor.close()
            self._conn.close()
        finally:
            self._conn = self._side_conn = None
            self._checkpoint_bytes = 0
            self._open_readers, self._free_readers = [], []
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            if courtesy:
                self._not_before = time.monotonic() + _COURTESY_S

    def _watch(self) -> None:
        """Let the file go once this process is idle, or as soon as someone else waits for it."""
        interval = min(self._idle_release_s / 2, 0.01)
        while True:
            time.sleep(interval)
            if not self._state.acquire(blocking=False):
                continue
            try:
                if self._conn is None or self._hosting:
                    return  # a host keeps the file until it closes
                if self._active:
                    continue  # transactions are running; the last to end checks for waiters itself
                idle = time.monotonic() - self._last_used >= self._idle_release_s
                if idle or self._should_yield():
                    self._release(courtesy=not idle)
                    return
            finally:
                self._state.release()


def checkpoint_threshold(file_bytes: int) -> int:
    """The WAL size at which DuckDB should checkpoint a file of ``file_bytes``: a power of two near a
    quarter of the file, between DuckDB's default (16 MiB) and 1 GiB."""
    target = max(file_bytes // _CHECKPOINT_FILE_FRACTION, 1)
    power = 1 << (target.bit_length() - 1)
    return min(max(power, _CHECKPOINT_MIN_BYTES), _CHECKPOINT_MAX_BYTES)


# A read runs READ ONLY: DuckDB refuses a write in it (so its commit may come late, see
# _hosted_read) and starts it without the lock that writers' starts take.
_BEGIN = {"main": "BEGIN TRANSACTION", "side": "BEGIN TRANSACTION", "read": "BEGIN TRANSACTION READ ONLY"}


class _HostAppeared(Exception):
    """While this process waited for the file, another began hosting it: go through that host."""


def _utc(conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    conn.execute("SET TimeZone = 'UTC'")  # timestamps come back in UTC, as on Postgres
    return conn


def _open_side_files(path: Path) -> tuple[int, int]:
    """Create the database's directory and open its ``.lock`` and ``.wait`` files.

    A path that cannot hold the database (a file where a directory should be, a directory that
    cannot be created, no write permission) is a :class:`StoreConfigError` naming the setting.
    """
    opened: list[int] = []
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in (".lock", ".wait"):
            opened.append(os.open(f"{path}{suffix}", os.O_RDWR | os.O_CREAT, 0o644))
    except OSError as exc:
        for fd in opened:
            os.close(fd)
        if isinstance(exc, FileExistsError | NotADirectoryError):
            reason = f"cannot create the directory {path.parent}: a file is in the way"
        elif isinstance(exc, IsADirectoryError):
            reason = "that path is a directory"
        else:
            reason = f"cannot create {exc.filename} ({exc.strerror})"
        raise StoreConfigError(
            f"SYNC_PIPELINE_DB cannot keep a DuckDB file at {path}: {reason}; "
            "point it at a file in a writable directory"
        ) from None
    return opened[0], opened[1]


class _DuckDBTransaction(Transaction):
    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params | None = None) -> int:
        result = self._run(sql, params)
        if result.description and result.description[0][0] == "Count":
            row = result.fetchone()
            return int(row[0]) if row else -1
        return -1

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if not rows:
            return
        names = tuple(placeholders(sql))
        batch_sql = _batch_sql(sql)
        if batch_sql is None:
            text, _ = _duckdb_sql(sql)
            self._conn.executemany(text, [{n: _adapt(_param(r, n)) for n in names} for r in rows])
            return
        # DuckDB runs executemany row by row (~1 ms a row); the same statement over registered
        # columns is one vectorized statement (500 rows: ~500 ms -> ~7 ms).
        with _registered(self._conn, "_batch", {f"p_{n}": [_param(r, n) for r in rows] for n in names}):
            self._conn.execute(batch_sql)

    def fetchall_over(self, sql: str, rows: Sequence[Params], *, table: str) -> list[Row]:
        if not rows:
            return []
        with _registered(self._conn, "_rows", {name: [r[name] for r in rows] for name in rows[0]}):
            return self.fetchall(sql.replace("{rows}", "_rows"))

    def fetchall(self, sql: str, params: Params | None = None) -> list[Row]:
        result = self._run(sql, params)
        description = result.description or []
        json_cols = {i for i, d in enumerate(description) if str(d[1]) == "JSON"}
        names = [d[0] for d in description]
        return [
            {
                name: (json.loads(v) if i in json_cols and v is not None else v)
                for i, (name, v) in enumerate(zip(names, row, strict=True))
            }
            for row in result.fetchall()
        ]

    def _run(self, sql: str, params: Params | None) -> duckdb.DuckDBPyConnection:
        text, names = _duckdb_sql(sql)
        values = {n: _adapt(_param(params or {}, n)) for n in names}
        return self._conn.execute(text, values) if values else self._conn.execute(text)


_UPDATE_WHERE = re.compile(r"(?is)^\s*(UPDATE\s+\w+\s+SET\s+.+?)\s+(WHERE\s+.+)$")


@lru_cache(maxsize=128)
def _batch_sql(sql: str) -> str | None:
    """``sql`` rewritten to read its parameters from the frame ``_batch`` (column ``p_<name>``), for
    the two shapes bulk writes take: ``INSERT … VALUES (…)`` and ``UPDATE … SET … WHERE …``."""
    as_columns = rewrite_placeholders(sql, '_batch."p_{name}"')
    if insert := split_insert_values(as_columns):
        return f"{insert[0]} SELECT {insert[1][1:-1]} FROM _batch"
    if match := _UPDATE_WHERE.match(as_columns):
        return f"{match.group(1)} FROM _batch {match.group(2)}"
    return None


@lru_cache(maxsize=512)
def _duckdb_sql(sql: str) -> tuple[str, tuple[str, ...]]:
    return rewrite_placeholders(sql, "${name}"), tuple(placeholders(sql))


@contextmanager
def _registered(conn: duckdb.DuckDBPyConnection, name: str, columns: dict[str, list[Any]]) -> Iterator[None]:
    """``columns`` as the relation ``name`` for the statements run inside the block.

    Plain numpy columns, not a pandas frame: building the frame cost more than the insert for a
    webhook batch of 16. DuckDB types each column from its values; JSON values go in as text.
    """
    conn.register(name, {column: _column(_adapted(values)) for column, values in columns.items()})
    try:
        yield
    except BaseException:
        # A failed statement aborts the transaction, and unregistering then fails too: the
        # statement's error is the one to raise.
        with contextlib.suppress(duckdb.Error):
            conn.unregister(name)
        raise
    conn.unregister(name)


def _column(values: list[Any]) -> np.ndarray:
    """``values`` as a 1-D object array, whatever they hold (``np.array`` would nest tuples)."""
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def _adapted(values: list[Any]) -> list[Any]:
    """One column's values as DuckDB takes them: only a column holding JSON values needs adapting
    (calling :func:`_adapt` on every value cost a page of 500 contacts 7 ms). Asked of the column's
    types, not of each value: 7 µs for 500 strings against 47 µs."""
    json_values = any(issubclass(kind, dict | list) for kind in set(map(type, values)))
    return [_adapt(v) for v in values] if json_values else values


def _param(params: Params, name: str) -> Any:
    try:
        return params[name]
    except KeyError:
        raise StoreError(f"query parameter :{name} was not supplied") from None


def _adapt(value: Any) -> Any:
    if isinstance(value, dict | list):
        return orjson.dumps(value, default=str).decode()
    return value


def _rollback_quietly(conn: duckdb.DuckDBPyConnection) -> None:
    # The failing statement may already have aborted the transaction.
    with contextlib.suppress(duckdb.Error):
        conn.execute("ROLLBACK")


def _out_of_memory(exc: BaseException) -> bool:
    """DuckDB out of its memory limit: an OutOfMemoryException from a statement, or a commit that
    failed to pin a block (a TransactionException)."""
    return isinstance(exc, duckdb.OutOfMemoryException) or (
        isinstance(exc, duckdb.TransactionException) and "failed to pin block" in str(exc)
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
