"""Syncing vendor data into the local store: incremental contacts and deletion reconciliation."""
