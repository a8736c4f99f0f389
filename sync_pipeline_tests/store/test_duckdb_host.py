"""A hosted DuckDB file: one process keeps it and runs every other process's transactions, so reads
run beside writers instead of waiting for the file to change hands (issue #13)."""

from __future__ import annotations

import os
import queue
import signal
import socket
import stat
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from sync_pipeline.store import StoreError, migrate
from sync_pipeline.store import duckdb_wire as wire
from sync_pipeline.store.duckdb_backend import DuckDBStore
from sync_pipeline.store.duckdb_remote import HostClient
from sync_pipeline_tests.store.test_concurrent_processes import run_workers
from sync_pipeline_tests.webhooks.receiver_process import receiver_process

STATE = "INSERT INTO sync_state (stream, cursor, updated_at) VALUES (:stream, :cursor, :at)"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "deep" / "enough" / "that" / "a" / "socket" / "beside" / "it" / "would" / "not" / "fit.duckdb"


@pytest.fixture
def host(path: Path) -> Iterator[DuckDBStore]:
    store = DuckDBStore(path)
    migrate(store)
    assert store.host()
    try:
        yield store
    finally:
        store.close()


def _client(path: Path, **kwargs: float) -> DuckDBStore:
    return DuckDBStore(path, **kwargs)


def _count(store: DuckDBStore, stream: str = "%") -> int:
    with store.read_transaction() as tx:
        return tx.scalar("SELECT count(*) FROM sync_state WHERE stream LIKE :s", {"s": stream})


def test_a_client_runs_its_transactions_on_the_host_with_values_and_errors_kept(host: DuckDBStore, path: Path) -> None:
    client = _client(path, lock_timeout_s=2)  # the host never lets go of the file: only the host can serve it
    at = datetime(2026, 11, 30, 12, 0, 1, 123456, tzinfo=UTC)
    with client.transaction() as tx:
        tx.execute(STATE, {"stream": "a", "cursor": None, "at": at})
        tx.executemany(STATE, [{"stream": f"b{i}", "cursor": str(i), "at": at} for i in range(3)])
        over = tx.fetchall_over(
            "SELECT r.stream, s.cursor FROM {rows} AS r JOIN sync_state AS s USING (stream) ORDER BY 1",
            [{"stream": "b1"}, {"stream": "b2"}],
            table="sync_state",
        )
    assert over == [{"stream": "b1", "cursor": "1"}, {"stream": "b2", "cursor": "2"}]
    with client.read_transaction() as tx:
        row = tx.fetchone("SELECT cursor, updated_at FROM sync_state WHERE stream = 'a'")
    assert row == {"cursor": None, "updated_at": at}

    # A failing statement raises DuckDB's own error, as on a local connection, and nothing commits.
    with pytest.raises(duckdb.ConstraintException), client.transaction() as tx:
        tx.execute(STATE, {"stream": "c", "cursor": "1", "at": at})
        tx.execute(STATE, {"stream": "a", "cursor": "1", "at": at})
    # So does an error of the caller's own.
    with pytest.raises(KeyError), client.transaction() as tx:
        tx.execute(STATE, {"stream": "d", "cursor": "1", "at": at})
        raise KeyError("the caller's own")
    assert _count(client) == 4
    assert client._conn is None  # it never opened the file
    client.close()


def test_a_read_runs_beside_an_open_write_and_sees_only_what_was_committed(host: DuckDBStore, path: Path) -> None:
    writer, reader = _client(path), _client(path)
    inside, finish = threading.Event(), threading.Event()

    def write() -> None:
        with writer.transaction() as tx:
            tx.execute(STATE, {"stream": "pending", "cursor": "1", "at": datetime.now(UTC)})
            inside.set()
            finish.wait(10)

    thread = threading.Thread(target=write)
    thread.start()
    assert inside.wait(10)
    try:
        started = time.monotonic()
        assert _count(reader, "pending") == 0
        assert time.monotonic() - started < 1.0  # it did not wait for the writer's commit
    finally:
        finish.set()
        thread.join(10)
    assert _count(reader, "pending") == 1
    writer.close()
    reader.close()


def test_a_second_server_does_not_host_and_goes_through_the_first(host: DuckDBStore, path: Path) -> None:
    second = _client(path, lock_timeout_s=2)
    assert not second.host()
    with second.transaction() as tx:
        tx.execute(STATE, {"stream": "via-first", "cursor": "1", "at": datetime.now(UTC)})
    assert _count(host, "via-first") == 1
    second.close()


def test_a_client_that_vanishes_mid_transaction_is_rolled_back_and_frees_the_lane(host: DuckDBStore) -> None:
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(wire.socket_path(host.path)))
        wire.send(raw, ("begin", "main"))
        wire.send(raw, ("execute", STATE, {"stream": "orphan", "cursor": "1", "at": datetime.now(UTC)}))
        assert wire.receive(raw) == ("ok", 1)  # the insert ran, uncommitted
    # The host rolled it back when the connection closed, and the main lane is free again.
    with host.transaction() as tx:
        tx.execute(STATE, {"stream": "after", "cursor": "1", "at": datetime.now(UTC)})
    assert _count(host, "orphan") == 0
    assert _count(host, "after") == 1


def test_a_hosted_read_answers_before_its_commit_runs(
    host: DuckDBStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read's COMMIT waits for DuckDB's transaction lock (a writer's commit holds it): the host
    answers first and commits on its commit thread, and the client's next read takes another cursor."""
    held: queue.SimpleQueue[object] = queue.SimpleQueue()  # commits nobody runs yet
    monkeypatch.setattr(host, "_read_commits", held)
    client = _client(path, lock_timeout_s=2)
    for _ in range(3):
        assert _count(client) == 0  # answered, though no read has committed
    with client.transaction() as tx:  # the host serves a client in order: all three commits are queued
        tx.execute(STATE, {"stream": "after", "cursor": "1", "at": datetime.now(UTC)})
    assert held.qsize() == 3
    assert _count(client) == 1
    threading.Thread(target=host._commit_reads, args=(held,), daemon=True).start()
    client.close()  # closing the host (the fixture) waits for the held reads to commit


def test_a_read_transaction_refuses_a_write_hosted_or_not(host: DuckDBStore, path: Path) -> None:
    """A read may commit after its answer (above), so it must not write: DuckDB runs it READ ONLY."""
    client = _client(path, lock_timeout_s=2)
    for store in (host, client):
        with pytest.raises(duckdb.TransactionException, match="read-only"), store.read_transaction() as tx:
            tx.execute(STATE, {"stream": "read", "cursor": "1", "at": datetime.now(UTC)})
    client.close()
    host.close()
    alone = _client(path)  # no host: reads take the main lane, READ ONLY all the same
    with pytest.raises(duckdb.TransactionException, match="read-only"), alone.read_transaction() as tx:
        tx.execute(STATE, {"stream": "read", "cursor": "1", "at": datetime.now(UTC)})
    assert _count(alone) == 0
    alone.close()


def test_when_the_host_stops_its_clients_open_the_file_themselves(host: DuckDBStore, path: Path) -> None:
    client = _client(path)
    with client.transaction() as tx:
        tx.execute(STATE, {"stream": "hosted", "cursor": "1", "at": datetime.now(UTC)})
    host.close()
    assert not wire.socket_path(path).exists()
    with client.transaction() as tx:
        tx.execute(STATE, {"stream": "alone", "cursor": "1", "at": datetime.now(UTC)})
    assert client._conn is not None
    assert _count(client) == 2
    client.close()


def test_a_client_inside_a_transaction_when_the_host_stops_runs_its_next_one_on_the_file(
    host: DuckDBStore, path: Path
) -> None:
    """The host lets a busy client finish, then refuses its next transaction's first statement
    (whose begin travels with it): nothing ran there, so that transaction moves to the client's own
    connection instead of failing."""
    client = _client(path, lock_timeout_s=20)
    closing = threading.Thread(target=host.close)
    with client.transaction() as tx:
        tx.execute(STATE, {"stream": "hosted", "cursor": "1", "at": datetime.now(UTC)})
        closing.start()
        deadline = time.monotonic() + 10
        while wire.socket_path(path).exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert not wire.socket_path(path).exists()  # stopped, with this transaction under way
    with client.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM sync_state") == 1  # the hosted one committed
        tx.execute(STATE, {"stream": "alone", "cursor": "1", "at": datetime.now(UTC)})
    closing.join(20)
    assert client._conn is not None  # the second ran on the client's own connection
    with client.read_transaction() as tx:  # an empty transaction after a host is gone needs nothing of it
        pass
    assert _count(client) == 2
    client.close()


def test_a_process_waiting_for_the_file_moves_to_a_host_that_starts_meanwhile(path: Path) -> None:
    holder = DuckDBStore(path)
    migrate(holder)
    waiter = _client(path, lock_timeout_s=20)
    holding, finish, done = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:  # keeps the file busy: the waiter cannot open it
        with holder.transaction() as tx:
            tx.execute(STATE, {"stream": "holder", "cursor": "1", "at": datetime.now(UTC)})
            holding.set()
            finish.wait(20)

    def wait_for_the_file() -> None:
        with waiter.transaction() as tx:
            tx.execute(STATE, {"stream": "waiter", "cursor": "1", "at": datetime.now(UTC)})
        done.set()

    threads = [threading.Thread(target=hold), threading.Thread(target=wait_for_the_file)]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    try:
        time.sleep(0.2)
        assert not done.is_set()  # it waits for the file
        assert holder.host()  # the holder becomes the host without letting go of the file
        finish.set()
        assert done.wait(10)
    finally:
        finish.set()
        for thread in threads:
            thread.join(20)
    assert waiter._conn is None  # it went through the host, never opening the file
    assert _count(holder) == 2
    waiter.close()
    holder.close()


def test_processes_write_and_read_through_the_host_without_loss(host: DuckDBStore, path: Path) -> None:
    written = run_workers(f"duckdb://{path}")
    assert _count(host) == written


def test_webhooks_serve_hosts_the_file_and_a_killed_host_loses_only_the_open_transaction(
    path: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "SYNC_PIPELINE_DB": f"duckdb://{path}"}
    client = _client(path, lock_timeout_s=20)
    with receiver_process(env, tmp_path / "receiver.log") as receiver:
        assert "hosting the store" in (tmp_path / "receiver.log").read_text()
        with client.transaction() as tx:
            tx.execute(STATE, {"stream": "before", "cursor": "1", "at": datetime.now(UTC)})
        with pytest.raises(StoreError, match="went away during a transaction"), client.transaction() as tx:
            tx.execute(STATE, {"stream": "lost", "cursor": "1", "at": datetime.now(UTC)})
            receiver.process.send_signal(signal.SIGKILL)
            receiver.process.wait(10)
            tx.execute(STATE, {"stream": "lost-too", "cursor": "1", "at": datetime.now(UTC)})
    # The kernel let go of the dead host's lock: the client opens the file itself.
    assert _count(client) == 1
    assert client._conn is not None
    client.close()


def test_the_socket_is_reachable_by_its_owner_alone(host: DuckDBStore) -> None:
    address = wire.socket_path(host.path)
    assert len(str(address)) < 104 < len(str(host.path)) + 5
    assert stat.S_IMODE(address.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(address.stat().st_mode) == 0o600


def test_a_socket_directory_others_can_enter_is_refused_and_the_file_stays_shared(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    monkeypatch.setattr(wire, "socket_path", lambda database: shared / "host.sock")
    would_host = DuckDBStore(path)
    migrate(would_host)
    with pytest.raises(StoreError, match="closed to others"):
        would_host.host()
    other = _client(path, lock_timeout_s=10)
    with other.transaction() as tx:  # the would-be host lets go of the file as before: taking turns
        tx.execute(STATE, {"stream": "turns", "cursor": "1", "at": datetime.now(UTC)})
    assert _count(would_host, "turns") == 1
    other.close()
    would_host.close()


def test_a_transaction_the_host_cannot_begin_fails_whole_and_the_connection_serves_on(host: DuckDBStore) -> None:
    client = HostClient(host.path)
    refused = client.begin("no such lane", local=host.transaction)
    assert refused is not None
    with pytest.raises(ValueError, match="expected"), refused.finish():
        refused.fetchall("SELECT 1 AS one")  # the begin's error answers the first statement
    served = client.begin("read", local=host.read_transaction)
    assert served is not None
    with served.finish():
        assert served.fetchall("SELECT 1 AS one") == [{"one": 1}]
    client.drop()
