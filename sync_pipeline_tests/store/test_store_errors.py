from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from sync_pipeline.settings import Settings
from sync_pipeline.store import StoreBusy, StoreConfigError, StoreError, connect, migrate, open_store


def _hold_the_file(url: str, ready: mp.Event, release: mp.Event) -> None:
    store = connect(url)
    with store.transaction() as tx:
        tx.execute("SELECT 1")
        ready.set()
        release.wait(30)


def test_busy_duckdb_file_raises_store_busy_naming_the_holder(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'busy.duckdb'}"
    migrate(connect(url)).clear()
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_the_file, args=(url, ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        waiter = connect(url, lock_timeout_s=0.5)
        with pytest.raises(StoreBusy) as busy, waiter.transaction():
            pass
        message = str(busy.value)
        assert f"process {holder.pid}" in message
        assert "SYNC_PIPELINE_DB_LOCK_TIMEOUT" in message
    finally:
        release.set()
        holder.join(30)
    # once the holder is gone the file is usable again
    with connect(url, lock_timeout_s=5).transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM sync_state") == 0


def test_unreachable_postgres_gives_a_config_error_without_the_password() -> None:
    store = connect("postgresql://app:hunter2@127.0.0.1:1/nowhere")
    with pytest.raises(StoreConfigError) as err, store.transaction():
        pass
    assert "hunter2" not in str(err.value)
    assert "SYNC_PIPELINE_DB" in str(err.value)


def test_in_memory_duckdb_is_refused_with_a_reason() -> None:
    with pytest.raises(StoreConfigError, match="needs a file path"):
        connect("duckdb:///:memory:")


def test_missing_query_parameter_is_named(store) -> None:
    with pytest.raises(StoreError, match=":stream was not supplied"), store.transaction() as tx:
        tx.fetchall("SELECT * FROM sync_state WHERE stream = :stream", {})


def test_nested_duckdb_transactions_are_refused(tmp_path: Path) -> None:
    store = connect(f"duckdb:///{tmp_path / 'n.duckdb'}")
    with store.transaction(), pytest.raises(StoreError, match="nested"), store.transaction():
        pass


def test_open_store_returns_one_store_per_url(tmp_path: Path) -> None:
    settings = Settings.from_env({"SYNC_PIPELINE_DB": f"duckdb:///{tmp_path / 'one.duckdb'}"})
    assert open_store(settings) is open_store(settings)


def test_the_duckdb_cache_is_capped_by_the_memory_setting(tmp_path: Path) -> None:
    """DuckDB would cache up to 80 % of RAM in every process holding the file; the store caps it."""
    url = f"duckdb:///{tmp_path / 'capped.duckdb'}"
    default = open_store(Settings.from_env({"SYNC_PIPELINE_DB": url}))
    with default.transaction() as tx:
        assert tx.scalar("SELECT current_setting('memory_limit')") == "244.1 MiB"  # 256MB
    default.close()
    small = connect(url, duckdb_memory_limit="64MB")
    with small.transaction() as tx:
        assert tx.scalar("SELECT current_setting('memory_limit')") == "61.0 MiB"
    small.close()


def test_duckdb_out_of_its_memory_limit_says_which_setting_to_raise_and_commits_nothing(tmp_path: Path) -> None:
    """DuckDB keeps the indexes a write changes in memory: past the limit, one clear error, and the
    store goes on working (what earlier transactions committed is intact)."""
    store = connect(f"duckdb:///{tmp_path / 'tight.duckdb'}", duckdb_memory_limit="16MB")
    with store.transaction() as tx:
        tx.execute("CREATE TABLE t (id TEXT PRIMARY KEY, email TEXT)")
        tx.execute("CREATE INDEX t_email ON t (email)")
    committed = 0
    with pytest.raises(StoreError) as raised:
        for start in range(0, 2_000_000, 20_000):
            with store.transaction() as tx:
                rows = [{"id": f"id-{i:030d}", "email": f"e{i:040d}"} for i in range(start, start + 20_000)]
                tx.fetchall_over("INSERT INTO t SELECT id, email FROM {rows}", rows, table="t")
            committed = start + 20_000
    message = str(raised.value)
    assert "ran out of memory" in message and "SYNC_PIPELINE_DUCKDB_MEMORY_LIMIT (16MB)" in message
    assert "\n" not in message and committed > 0
    with store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM t") == committed
    store.close()
