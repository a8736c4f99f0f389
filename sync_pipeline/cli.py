"""The `sync-pipeline` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .settings import SettingsError, get_settings
from .status import collect_status, format_status
from .store import StoreError, migrate, open_store


def _migrate(args: argparse.Namespace) -> int:
    store = open_store()
    applied = migrate(store)
    print(
        f"{store.dialect}: applied {len(applied)} migration(s)"
        + (": " + ", ".join(f"{m.version:03d}_{m.name}" for m in applied) if applied else " (up to date)")
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    store = open_store()
    migrate(store)
    status = collect_status(store, get_settings())
    print(json.dumps(status, indent=2, default=str) if args.json else format_status(status))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sync-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the main job against the sandbox and report").set_defaults(
        run=_demo
    )
    commands.add_parser("migrate", help="apply pending SQL migrations to SYNC_PIPELINE_DB").set_defaults(
        run=_migrate
    )
    status = commands.add_parser("status", help="what the local store holds")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user errors print one clear line and exit 2 instead of a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (SettingsError, StoreError) as exc:
        print(f"sync-pipeline: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
