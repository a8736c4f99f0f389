"""What callers do with any provider besides calling it: read its transport counters, close it."""

from __future__ import annotations

from typing import Any


def transport_metadata(provider: Any) -> dict[str, Any]:
    """The provider's transport counters (calls, 429s, limiter wait) as flat metadata, if it has any."""
    stats = getattr(provider, "stats", None)
    return stats().as_metadata() if callable(stats) else {}


def close_provider(provider: Any) -> None:
    """Flush the call ledger and close connections, for providers that hold them."""
    close = getattr(provider, "close", None)
    if callable(close):
        close()
