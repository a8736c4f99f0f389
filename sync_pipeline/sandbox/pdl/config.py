"""Settings of the People Data Labs sandbox, with the choice made for every point the reference leaves open."""

from __future__ import annotations

from dataclasses import dataclass

from sync_pipeline.sandbox.ratelimit import RateWindow


@dataclass(frozen=True)
class PdlConfig:
    """PDL sandbox settings; change them at run time with ``POST /_sandbox/config`` (not the key)."""

    api_key: str = "sandbox-pdl-key"
    # DOC: paying plans 1,000/min (free 100/min), fixed 60 s window per key per endpoint.
    rate_windows: tuple[RateWindow, ...] = (RateWindow("minute", 1_000, 60.0, rolling=False),)
    # Share of emails/domains the seeded dataset does not know (404), plus a prefix that never matches.
    miss_rate: float = 0.2
    miss_prefix: str = "nobody"
    # DOC: charged per match only. None = unlimited; at 0 every enrich answers 402 (UNCONFIRMED body).
    credits_available: int | None = None
    # UNCONFIRMED: x-ratelimit-reset as epoch seconds (the reference names the header, not its format).
    # "epoch" or "seconds" (seconds until the window resets).
    reset_header_style: str = "epoch"
