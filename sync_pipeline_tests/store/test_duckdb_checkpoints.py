"""DuckDB's checkpoint threshold grows with the file, so a checkpoint (whose cost grows with the
table) is paid for by rows in proportion, and a large sync's time stays linear in its rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_pipeline.store import duckdb_backend
from sync_pipeline.store.duckdb_backend import DuckDBStore, checkpoint_threshold

MIB = 2**20


def test_the_threshold_is_a_power_of_two_near_a_quarter_of_the_file_within_bounds() -> None:
    assert checkpoint_threshold(0) == 16 * MIB  # DuckDB's own default, for small files
    assert checkpoint_threshold(64 * MIB) == 16 * MIB
    assert checkpoint_threshold(600 * MIB) == 128 * MIB  # a quarter is 150 MiB
    assert checkpoint_threshold(1024 * MIB) == 256 * MIB
    assert checkpoint_threshold(100 * 1024 * MIB) == 1024 * MIB  # at most 1 GiB of WAL


def _setting(store: DuckDBStore) -> str:
    with store.transaction() as tx:
        return tx.scalar("SELECT current_setting('checkpoint_threshold')")


def test_the_store_raises_the_threshold_as_its_file_grows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A floor of 64 KiB instead of 16 MiB, so a few MiB written show the threshold following the file.
    monkeypatch.setattr(duckdb_backend, "_CHECKPOINT_MIN_BYTES", 64 * 1024)
    store = DuckDBStore(tmp_path / "grow.duckdb")
    try:
        with store.transaction() as tx:
            tx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        _setting(store)  # the first commit sets it
        small = _setting(store)
        for start in range(0, 40_000, 10_000):
            with store.transaction() as tx:
                tx.execute(
                    "INSERT INTO t SELECT i, repeat(md5(i::VARCHAR), 8) FROM range(:a, :b) r(i)",
                    {"a": start, "b": start + 10_000},
                )
            with store.transaction() as tx:
                tx.execute("CHECKPOINT")
        size = (tmp_path / "grow.duckdb").stat().st_size
        _setting(store)
        grown = _setting(store)
    finally:
        store.close()
    assert small == "64.0 KiB"
    assert grown == _duckdb_size(checkpoint_threshold(size)) != small


def _duckdb_size(n: int) -> str:
    """How DuckDB prints a setting of ``n`` bytes (powers of two: KiB, MiB, GiB)."""
    for unit, scale in (("GiB", 2**30), ("MiB", MIB), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
