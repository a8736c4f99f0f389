"""Numbered SQL migrations (``sql/NNN_name.sql``), applied in order and recorded.

Safe to run twice (applied versions are skipped) and from two processes at once (each backend's
``migration_lock`` excludes other migrating processes). A file edited after it was applied is an
error rather than a silent drift between databases.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .base import Store, Transaction
from .errors import MigrationError

_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_ONLY_ON = re.compile(r"^--\s*only on:\s*([a-z, ]+)$")

_LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def runs_on(self, dialect: str) -> bool:
        """Whether this migration's statements run on ``dialect``. A file whose first line is
        ``-- only on: duckdb`` (say) is for that backend alone, e.g. an index only its planner
        needs; elsewhere it is recorded without running, so versions stay one sequence."""
        first = self.sql.lstrip().splitlines()[0] if self.sql.strip() else ""
        match = _ONLY_ON.match(first)
        return match is None or dialect in {d.strip() for d in match.group(1).split(",")}


def sql_dir() -> Path:
    """Where the migration files live: inside an installed wheel, or at the repository root."""
    packaged = Path(__file__).resolve().parent.parent / "sql"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "sql"


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Every migration file in version order; malformed names and duplicate numbers are errors."""
    directory = directory or sql_dir()
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} must be named NNN_lowercase_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migration files share number {version:03d}: {found[version].name}, {path.name}")
        found[version] = Migration(version, match.group(2), path.read_text())
    return [found[v] for v in sorted(found)]


def migrate(store: Store, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply every pending migration, each in its own transaction; return those applied now."""
    migrations = load_migrations() if migrations is None else migrations
    recorded = _recorded_checksums(store)
    if all(recorded.get(m.version) == m.checksum for m in migrations):
        return []  # the usual case, at every process start: one read, no lock
    applied_now: list[Migration] = []
    for migration in migrations:
        with store.migration_lock() as tx:
            tx.execute(_LEDGER_DDL)
            recorded = tx.fetchone(
                "SELECT checksum FROM schema_migrations WHERE version = :version",
                {"version": migration.version},
            )
            if recorded is not None:
                if recorded["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:03d}_{migration.name} changed after it was applied; "
                        "add a new numbered migration instead of editing an applied one"
                    )
                continue
            statements = split_statements(store.map_types(migration.sql)) if migration.runs_on(store.dialect) else []
            for statement in statements:
                try:
                    tx.execute(statement)
                except Exception as exc:
                    raise MigrationError(
                        f"migration {migration.version:03d}_{migration.name} failed on {store.dialect}: "
                        f"{str(exc).strip().splitlines()[0]}\n  in: {statement[:200]}"
                    ) from exc
            tx.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                "VALUES (:version, :name, :checksum, :at)",
                {
                    "version": migration.version,
                    "name": migration.name,
                    "checksum": migration.checksum,
                    "at": datetime.now(UTC),
                },
            )
        applied_now.append(migration)
    return applied_now


def _recorded_checksums(store: Store) -> dict[int, str]:
    """The checksum recorded for each applied version, read without the migration lock: when they
    are exactly the files', nothing is pending and the per-version locked transactions (8 of them,
    40 ms on a DuckDB file) would change nothing."""
    with store.read_transaction() as tx:
        ledger = tx.fetchone(
            "SELECT count(*) AS n FROM information_schema.tables "
            "WHERE table_name = 'schema_migrations' AND table_schema = current_schema()"
        )
        if not ledger or not ledger["n"]:
            return {}
        return {r["version"]: r["checksum"] for r in tx.fetchall("SELECT version, checksum FROM schema_migrations")}


def applied_versions(tx: Transaction) -> list[int]:
    """Versions recorded in ``schema_migrations``, in order."""
    return [r["version"] for r in tx.fetchall("SELECT version FROM schema_migrations ORDER BY version")]


_migrated_urls: set[str] = set()
_migrated_lock = threading.Lock()


def ensure_migrated(store: Store) -> Store:
    """Migrate ``store`` the first time this process uses it; later calls cost nothing."""
    with _migrated_lock:
        if store.url not in _migrated_urls:
            migrate(store)
            _migrated_urls.add(store.url)
    return store


def split_statements(sql: str) -> list[str]:
    """Split a migration into statements on ``;`` at line ends, dropping ``--`` comments."""
    lines = [line.split("--", 1)[0].rstrip() for line in sql.splitlines()]
    statements, current = [], []
    for line in lines:
        if not line.strip():
            continue
        current.append(line)
        if line.endswith(";"):
            statements.append("\n".join(current).rstrip(";").strip())
            current = []
    if current:
        statements.append("\n".join(current).strip())
    return [s for s in statements if s]
