"""Dagster definitions, one folder per domain (contacts, visitors, enrichment, outbox)."""
