"""The per-call record that travels with a request through the transport layers.

httpx carries it in ``request.extensions`` so each layer (retries, rate limit, ledger) reads what
the caller asked for and adds what it did, and the caller finds the result on the response.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

EXTENSION = "sync_pipeline.call"

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass
class CallContext:
    """One logical vendor call (all of its attempts).

    ``endpoint`` is the path template (``/contacts/{contactId}``), the only form of the path that
    reaches the ledger and logs. ``deadline`` is a ``time.monotonic()`` value bounding the whole
    call, limiter waits and retries included.
    """

    method: str
    endpoint: str
    idempotent: bool
    cost_usd: float
    deadline: float
    attempts: int = 0
    retries: int = 0
    rate_limited: int = 0
    limiter_wait_s: float = 0.0
    # Why the retry layer stopped retrying a failure, for the error message.
    not_retried_because: str | None = None


def call_context(request: httpx.Request) -> CallContext:
    """The context :class:`~sync_pipeline.transport.client.VendorClient` attached to ``request``."""
    try:
        return request.extensions[EXTENSION]
    except KeyError:
        raise RuntimeError("request did not come through VendorClient.request()") from None
