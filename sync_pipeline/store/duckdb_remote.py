"""A process's transactions run by the DuckDB file's host (see :mod:`.duckdb_host`).

Each thread keeps one connection to the host and reuses it for its transactions: a statement is one
round trip over a Unix socket (well under a millisecond), where opening the file is ~12 ms.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from . import duckdb_wire as wire
from .base import Params, Row, Transaction
from .errors import StoreError


class HostClient:
    """This process's way to the host of one DuckDB file, if one is running."""

    def __init__(self, database: Path) -> None:
        self.address = wire.socket_path(database)
        self._database = database
        self._local = threading.local()

    def listening(self) -> bool:
        """Whether a host answers now (a socket file alone may be a dead host's)."""
        try:
            self._connection()
        except OSError:
            return False
        return True

    def begin(self, lane: str, local: Callable[[], AbstractContextManager[Transaction]]) -> RemoteTransaction | None:
        """A transaction in ``lane`` on the host, or None when no host runs (the caller opens the file).

        The begin travels with the transaction's first statement, so a read is one round trip. A
        host that stops before that statement runs leaves the transaction to ``local``, this
        process's own lane.
        """
        for _ in range(2):  # a kept connection may be a previous host's: one fresh try
            try:
                sock = self._connection()
                self._settle(sock)
                wire.send(sock, ("begin", lane))
                return RemoteTransaction(self, sock, lane, local)
            except (wire.HostGone, OSError):
                self.drop()
        return None

    def call(self, sock: socket.socket, message: tuple[Any, ...], *, first: bool = False) -> Any:
        """One request of a transaction. Losing the host mid-transaction loses the transaction: a
        StoreError. Losing it on the transaction's ``first`` message (a host that stopped between
        this thread's transactions) lost nothing, as nothing ran there: :class:`wire.HostGone`, and
        the caller runs the transaction on its own connection."""
        try:
            wire.send(sock, message)
            answer = wire.receive(sock)
        except (wire.HostGone, OSError):
            answer = ("gone", None)
        except BaseException:
            self.drop()  # interrupted mid-frame: this connection is done
            raise
        if answer[0] == "gone":
            self.drop()
            if first:
                raise wire.HostGone("the host stopped before this transaction began")
            raise StoreError(
                f"the process hosting DuckDB store {self._database} went away during a transaction; "
                "it was not committed (retry: the next transaction opens the file or finds a new host)"
            )
        return _value(answer)

    def commit_later(self, sock: socket.socket) -> None:
        """Commit a read without waiting: its answer is read before this thread's next transaction."""
        try:
            wire.send(sock, ("commit",))
            self._local.owed = True
        except OSError:
            self.drop()  # nothing to lose: a read commits nothing

    def drop(self) -> None:
        """Forget this thread's connection."""
        sock = getattr(self._local, "sock", None)
        self._local.sock, self._local.owed = None, False
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _connection(self) -> socket.socket:
        sock = getattr(self._local, "sock", None)
        if sock is not None and self._local.pid == os.getpid():
            return sock
        # None yet, or inherited across a fork: the parent's connection is not this process's.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.address))
        except OSError:
            sock.close()
            raise
        self._local.sock, self._local.pid = sock, os.getpid()
        return sock

    def _settle(self, sock: socket.socket) -> None:
        """Read the answer a read's commit left owing on this connection (a read commits nothing,
        so only a lost connection matters: the caller reconnects)."""
        if getattr(self._local, "owed", False):
            self._local.owed = False
            if wire.receive(sock)[0] == "gone":
                raise wire.HostGone("the host is shutting down")


def _value(answer: tuple[str, Any]) -> Any:
    status, value = answer
    if status == "error":
        raise value
    return value


class RemoteTransaction(Transaction):
    """A transaction the host runs; :meth:`finish` commits or rolls it back.

    A host that stopped between this thread's transactions refuses the next one's first message
    (its begin travels with it). Nothing ran there, so the transaction moves to this process's own
    lane, which opens the file once the host has let go of it.
    """

    def __init__(
        self,
        client: HostClient,
        sock: socket.socket,
        lane: str,
        local: Callable[[], AbstractContextManager[Transaction]],
    ) -> None:
        self._client = client
        self._sock = sock
        self._lane = lane
        self._local = local
        self._answered = False  # the host has answered a message of this transaction
        self._moved: Transaction | None = None  # the local lane's transaction, once moved there
        self._leave_moved = contextlib.ExitStack()  # ends the local lane's transaction, if it moved

    @contextmanager
    def finish(self) -> Iterator[RemoteTransaction]:
        """Commit when the block ends cleanly, else roll back and re-raise."""
        with self._leave_moved:  # a transaction that moved ends there in the same way
            try:
                yield self
            except BaseException:
                if self._moved is None:
                    with contextlib.suppress(Exception):  # the error that ended the block is the one to raise
                        self._ask("rollback")
                raise
            if self._moved is not None:
                return
            if self._lane == "read" and self._answered:
                self._client.commit_later(self._sock)
            else:
                self._ask("commit")

    def execute(self, sql: str, params: Params | None = None) -> int:
        return self._ask("execute", sql, _plain(params))

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        self._ask("executemany", sql, [_plain(r) for r in rows])

    def fetchall(self, sql: str, params: Params | None = None) -> list[Row]:
        return self._ask("fetchall", sql, _plain(params))

    def fetchall_over(self, sql: str, rows: Sequence[Params], *, table: str) -> list[Row]:
        return self._ask("fetchall_over", sql, [_plain(r) for r in rows], table)

    def _ask(self, op: str, *args: Any) -> Any:
        if self._moved is None:
            first, self._answered = not self._answered, True
            try:
                return self._client.call(self._sock, (op, *args), first=first)
            except wire.HostGone:  # only on the first message: nothing ran on the host
                if op in ("commit", "rollback"):
                    return None  # an empty transaction: nothing to move
                self._moved = self._leave_moved.enter_context(self._local())
        return wire.apply(self._moved, op, args)


def _plain(params: Params | None) -> dict[str, Any] | None:
    """Parameters as a plain dict (a Mapping of another kind may not pickle)."""
    return None if params is None else dict(params)
