"""Rate-limit headers several vendors render alike, so each vendor names its headers instead of
re-deriving them from the limiter's decision."""

from __future__ import annotations

from sync_pipeline.sandbox.ratelimit import RateDecision, retry_after_value


def retry_after_headers(retry_after_s: float | None, decision: RateDecision | None = None) -> dict[str, str]:
    """``Retry-After`` for a 429: an injected burst's ``retry_after_s`` first, else the limiter's wait
    in ``decision`` (pass None where the vendor sends none on its own 429s), else no header."""
    if retry_after_s is not None:
        return {"Retry-After": retry_after_value(retry_after_s)}
    if decision is not None:
        return {"Retry-After": decision.retry_after_header}
    return {}


def burst_daily_headers(decision: RateDecision, prefix: str, daily_limit: str) -> dict[str, str]:
    """The five headers GHL and HubSpot put on every response, from the windows named ``burst`` and
    ``daily``: ``<prefix><daily_limit>``, ``<prefix>Daily-Remaining``, ``<prefix>Interval-Milliseconds``,
    ``<prefix>Max`` and ``<prefix>Remaining`` (a window the decision lacks adds none)."""
    headers = {}
    burst, daily = decision.windows.get("burst"), decision.windows.get("daily")
    if daily is not None:
        headers[prefix + daily_limit] = str(daily.window.limit)
        headers[prefix + "Daily-Remaining"] = str(max(0, daily.remaining))
    if burst is not None:
        headers[prefix + "Interval-Milliseconds"] = str(round(burst.window.seconds * 1000))
        headers[prefix + "Max"] = str(burst.window.limit)
        headers[prefix + "Remaining"] = str(max(0, burst.remaining))
    return headers
