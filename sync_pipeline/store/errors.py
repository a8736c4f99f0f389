"""Errors the local data layer raises, each with a message a user can act on."""


class StoreError(RuntimeError):
    """Base class for local data layer failures."""


class StoreConfigError(StoreError):
    """The store URL or its environment is wrong (bad URL, server unreachable)."""


class StoreBusy(StoreError):
    """Another process held the embedded DuckDB file for longer than the lock timeout."""


class MigrationError(StoreError):
    """A migration file is malformed, was edited after it was applied, or failed to apply."""
