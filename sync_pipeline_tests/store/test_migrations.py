from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from sync_pipeline.store import MigrationError, Store, connect, migrate
from sync_pipeline.store.migrations import Migration, load_migrations, split_statements
from sync_pipeline.store.overview import TABLES
from sync_pipeline_tests.conftest import store_url

CONTRACT_TABLES = {*TABLES, "schema_migrations"}

# information_schema spells types differently per backend; these are the same types.
_SAME_TYPE = {
    "VARCHAR": "text",
    "TEXT": "text",
    "CHARACTER VARYING": "text",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double",
    "DOUBLE PRECISION": "double",
    "BOOLEAN": "boolean",
    "JSON": "json",
    "JSONB": "json",
}


def _schema(store: Store) -> dict[str, dict[str, tuple[str, str]]]:
    """table -> column -> (type, nullability) as information_schema reports them."""
    with store.transaction() as tx:
        rows = tx.fetchall(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        )
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for r in rows:
        out.setdefault(r["table_name"], {})[r["column_name"]] = (
            _SAME_TYPE[r["data_type"].upper()],
            r["is_nullable"],
        )
    return out


def test_migrations_create_the_same_tables_on_both_backends(tmp_path: Path) -> None:
    schemas = {}
    for backend in ("duckdb", "postgres"):
        urls = store_url(backend, tmp_path)
        url = next(urls)
        store = connect(url)
        migrate(store)
        schemas[backend] = _schema(store)
        store.close()
        urls.close()
    assert set(schemas["duckdb"]) >= CONTRACT_TABLES
    assert schemas["duckdb"] == schemas["postgres"]


def test_migrate_twice_applies_nothing_the_second_time(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = connect(db_url)
    first = migrate(store)
    assert [m.version for m in first] == [m.version for m in load_migrations()]
    # Up to date, it only reads: every process start migrates, and the lock is for changes.
    monkeypatch.setattr(store, "migration_lock", lambda: pytest.fail("took the migration lock"))
    assert migrate(store) == []
    with store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM schema_migrations") == len(first)


def _migrate_in_child(url: str, results: mp.Queue) -> None:
    try:
        results.put(len(migrate(connect(url))))
    except Exception as exc:
        results.put(f"{type(exc).__name__}: {exc}")


def test_two_processes_migrating_at_once_apply_each_migration_once(db_url: str) -> None:
    ctx = mp.get_context("spawn")
    results: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_migrate_in_child, args=(db_url, results)) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert all(isinstance(n, int) for n in outcomes), outcomes
    # the two processes may split the files between them, but each file is applied exactly once
    assert sum(outcomes) == len(load_migrations())
    with connect(db_url).transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM schema_migrations") == len(load_migrations())


def test_an_edited_applied_migration_is_refused(store: Store) -> None:
    applied = load_migrations()[0]
    edited = Migration(applied.version, applied.name, applied.sql + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(store, [edited])


def test_a_failing_migration_names_itself_and_leaves_nothing_half_done(store: Store) -> None:
    broken = Migration(900, "broken", "CREATE TABLE half_done (a INTEGER);\nCREATE TABLE oops (a NOSUCHTYPE);")
    with pytest.raises(MigrationError, match="900_broken failed"):
        migrate(store, [broken])
    with store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM schema_migrations WHERE version = 900") == 0
    assert "half_done" not in _tables(store)


def _tables(store: Store) -> set[str]:
    with store.transaction() as tx:
        rows = tx.fetchall("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
    return {r["table_name"] for r in rows}


def test_badly_named_migration_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "1_init.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNN_lowercase_name\.sql"):
        load_migrations(tmp_path)


def test_split_statements_drops_comments_and_keeps_multiline_statements() -> None:
    sql = "-- header\nCREATE TABLE a (\n  x TEXT -- note; with semicolon\n);\n\nCREATE INDEX i ON a (x);\n"
    assert split_statements(sql) == ["CREATE TABLE a (\n  x TEXT\n)", "CREATE INDEX i ON a (x)"]


def test_a_migration_only_on_one_backend_runs_there_and_is_recorded_everywhere(store: Store) -> None:
    only_duckdb = Migration(901, "only_duckdb", "-- only on: duckdb\nCREATE TABLE only_here (a INTEGER);")
    assert migrate(store, [only_duckdb]) == [only_duckdb]
    with store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM schema_migrations WHERE version = 901") == 1
    assert ("only_here" in _tables(store)) == (store.dialect == "duckdb")
