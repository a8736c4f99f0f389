"""The wire between a DuckDB file's host process and the processes whose transactions it runs.

Frames are an 8-byte length and a pickle. Pickle because both ends are this package on one machine
and rows hold datetimes, decimals and JSON values that must arrive as they left. Only the user who
owns the database can reach the socket: it lives in a directory only that user may enter, and anyone
who can connect could already write the database file itself.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .base import Transaction
from .errors import StoreError

_LENGTH = struct.Struct("!Q")

# Lanes a client may ask for (see DuckDBStore): the main lane's transactions run one at a time,
# side transactions beside them, reads beside both.
LANES = ("main", "side", "read")
# What a client may ask of an open transaction: the Transaction methods, nothing else.
OPERATIONS = ("execute", "executemany", "fetchall", "fetchall_over")


class HostGone(ConnectionError):
    """The host closed the connection or is shutting down: the caller opens the file itself."""


def socket_path(database: Path) -> Path:
    """Where the host of ``database`` listens.

    Not beside the database: a Unix socket's path must stay under ~104 bytes, which a database in a
    deep directory (a test's ``tmp_path``) would pass. One directory per user, named by a digest of
    the database's resolved path.
    """
    digest = hashlib.sha256(str(database).encode()).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / f"sync_pipeline-{os.getuid()}" / f"{digest}.sock"


def private_dir(path: Path) -> None:
    """Create the socket's directory for this user alone, and refuse one anybody else could enter."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    info = path.parent.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise StoreError(f"{path.parent} must belong to this user and be closed to others (chmod 700)")


def send(sock: socket.socket, message: Any) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_LENGTH.pack(len(payload)) + payload)


def receive(sock: socket.socket) -> Any:
    """The next message; :class:`HostGone` when the other end has closed."""
    (length,) = _LENGTH.unpack(_exactly(sock, _LENGTH.size))
    return pickle.loads(_exactly(sock, length))


def apply(tx: Transaction, op: str, args: Sequence[Any]) -> Any:
    """Run one of the client's :data:`OPERATIONS` on ``tx`` (the host's lane, or the client's own
    after the host went away before the transaction began)."""
    if op == "fetchall_over":
        sql, rows, table = args
        return tx.fetchall_over(sql, rows, table=table)
    if op not in OPERATIONS:
        raise ValueError(f"unknown store operation {op!r}")
    return getattr(tx, op)(*args)


def error_reply(exc: BaseException) -> tuple[str, Any]:
    """An exception as it travels: itself where it pickles (DuckDB's do), else a StoreError saying it."""
    try:
        pickle.loads(pickle.dumps(exc))
        return ("error", exc)
    except Exception:
        return ("error", StoreError(f"{type(exc).__name__}: {exc}"))


def _exactly(sock: socket.socket, n: int) -> bytearray:
    buffer = bytearray(n)
    view = memoryview(buffer)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if not k:
            raise HostGone("the other end closed the connection")
        got += k
    return buffer
