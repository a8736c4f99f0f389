"""`make demo`: the main job on the embedded default, then a report of what happened."""

from __future__ import annotations

from .settings import get_settings
from .status import collect_status, format_status
from .store import migrate, open_store


def run_demo() -> int:
    """Migrate the embedded store and print what it holds."""
    settings = get_settings()
    store = open_store(settings)
    applied = migrate(store)
    print(f"== store ready ({len(applied)} migration(s) applied now)")
    print(format_status(collect_status(store, settings)))
    return 0
