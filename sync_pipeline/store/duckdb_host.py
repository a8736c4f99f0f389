"""A DuckDB file's host: the one process that keeps the file open and runs other processes' transactions.

Without a host, processes take turns holding the file, and each hand-over costs a close (with its
checkpoint) and an open: an agent's read behind a running sync waited up to 1.4 s. With a host
(``sync-pipeline serve`` or ``webhooks serve`` becomes one), the file never changes hands: every
other process sends its transactions here over a Unix socket, and reads run on cursors of their own
beside the writers (DuckDB's MVCC), so they never queue behind a page write, and are answered
before they commit (see ``DuckDBStore._hosted_read``).

One thread per connected client runs that client's transactions, one at a time, in the lane it asks
for (see :class:`~sync_pipeline.store.duckdb_backend.DuckDBStore`). A client that disconnects
mid-transaction has it rolled back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from . import duckdb_wire as wire
from .base import Transaction

log = logging.getLogger(__name__)

Lanes = Callable[[str], AbstractContextManager[Transaction]]


class _RolledBack(Exception):
    """The client asked to roll back: leaves the transaction's ``with`` block without committing."""


class StoreHost:
    """Serves the transactions of other processes on ``address`` through ``lanes``."""

    def __init__(self, address: Path, lanes: Lanes) -> None:
        self.address = address
        self._lanes = lanes
        self._listener: socket.socket | None = None
        self._clients: set[socket.socket] = set()
        self._busy: set[socket.socket] = set()  # clients inside a transaction
        self._guard = threading.Lock()
        self._closing = False

    def start(self) -> None:
        """Listen. The caller holds the database file, so a socket left at ``address`` is a dead host's."""
        wire.private_dir(self.address)
        with contextlib.suppress(FileNotFoundError):
            self.address.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.address))
        os.chmod(self.address, 0o600)
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, name="duckdb-host-accept", daemon=True).start()

    def stop(self) -> None:
        """Stop taking clients and end idle ones (they fall back to opening the file); transactions
        under way finish, and their clients are let go after."""
        with self._guard:
            self._closing = True
            listener, self._listener = self._listener, None
            idle = self._clients - self._busy
        if listener is None:
            return
        with contextlib.suppress(OSError):
            self.address.unlink()
        listener.close()
        for client in idle:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while (listener := self._listener) is not None:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by stop()
            with self._guard:
                if self._closing:
                    client.close()
                    return
                self._clients.add(client)
            threading.Thread(target=self._serve, args=(client,), name="duckdb-host-client", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            while self._next_transaction(client):
                pass
        except (wire.HostGone, OSError):
            pass  # the client went away; a transaction it left open was rolled back on the way out
        finally:
            with self._guard:
                self._clients.discard(client)
                self._busy.discard(client)
            client.close()

    def _next_transaction(self, client: socket.socket) -> bool:
        """Run the client's next transaction; False once this host is closing.

        ``begin`` has no answer of its own (a read is one round trip): a begin that fails answers
        every message of its transaction with its error instead.
        """
        request = wire.receive(client)
        with self._guard:
            closing = self._closing
            if not closing:
                self._busy.add(client)
        if closing:
            _refuse(client, ("gone", None))
            return False
        began = False
        try:
            op, lane = request
            if op != "begin" or lane not in wire.LANES:
                raise ValueError(f"expected ('begin', lane), got {request!r:.80}")
            with self._lanes(lane) as tx:
                began = True
                self._run_statements(client, tx)
            wire.send(client, ("ok", None))  # committed
        except _RolledBack:
            wire.send(client, ("ok", None))
        except (wire.HostGone, OSError):
            raise
        except Exception as exc:
            if began:
                wire.send(client, wire.error_reply(exc))  # the commit failed
            else:
                _refuse(client, wire.error_reply(exc))
        finally:
            with self._guard:
                self._busy.discard(client)
        return True

    def _run_statements(self, client: socket.socket, tx: Transaction) -> None:
        """Answer the client's statements until it commits (return) or rolls back (raise)."""
        while True:
            op, *args = wire.receive(client)
            if op == "commit":
                return
            if op == "rollback":
                raise _RolledBack
            try:
                result = wire.apply(tx, op, args)
            except Exception as exc:  # the statement failed; the client decides, as it would locally
                wire.send(client, wire.error_reply(exc))
            else:
                wire.send(client, ("ok", result))


def _refuse(client: socket.socket, reply: tuple[str, Any]) -> None:
    """Answer ``reply`` to each message of a transaction that never began, up to its end."""
    while True:
        op, *_ = wire.receive(client)
        wire.send(client, reply)
        if op in ("commit", "rollback"):
            return
