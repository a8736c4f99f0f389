"""Run one contact sync in a child process (so a test can SIGKILL it mid-way)."""

from __future__ import annotations

import sys

from sync_pipeline.providers import registry
from sync_pipeline.settings import Settings
from sync_pipeline.store import connect
from sync_pipeline.sync.contacts import sync_contacts

if __name__ == "__main__":
    settings = Settings.from_env()
    store = connect(settings.db_url)
    sync_contacts(store, registry.crm_provider(settings, store), page_size=int(sys.argv[1]))
