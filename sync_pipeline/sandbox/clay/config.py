"""Settings of the Clay sandbox, with the choice made for every point the reference leaves open."""

from __future__ import annotations

from dataclasses import dataclass

from sync_pipeline.sandbox.ratelimit import RateWindow


@dataclass(frozen=True)
class ClayConfig:
    """Clay sandbox settings; change them at run time with ``POST /_sandbox/config`` (not the key)."""

    api_key: str = "sandbox-clay-key"
    # Two routines stand in for a workspace's enrichment tables (ids take the form function:t_…).
    # Person routine inputs {"email"}, company routine inputs {"domain"}.
    person_routine_id: str = "function:t_sandbox_person_enrich"
    company_routine_id: str = "function:t_sandbox_company_enrich"
    # Seconds (sandbox clock) a run stays "in_progress" before its results are served.
    processing_delay_s: float = 0.5
    # UNCONFIRMED: Clay publishes no number. 10/s matches the only figure Clay staff quoted.
    rate_windows: tuple[RateWindow, ...] = (RateWindow("second", 10, 1.0, rolling=True),)
    # DOC: X-RateLimit-Limit/Remaining/Reset are sent "when available"; Reset as epoch seconds (UNCONFIRMED).
    advertise_rate_headers: bool = True
    miss_rate: float = 0.2
    miss_prefix: str = "nobody"
    # Items whose key starts with this fail (status "failed", as when a waterfall provider errors).
    fail_prefix: str = "fail"
    # DOC (credits overview): PDL via Clay costs 5 credits; a company lookup ~2. UNCONFIRMED: a miss
    # still costs the run's action (charged as 1 credit here).
    credits_per_person: float = 5.0
    credits_per_company: float = 2.0
    credits_per_miss: float = 1.0
    # None = unlimited; when a run would need more than is left → 402 (DOC: credits exhausted).
    credits_available: float | None = None
    results_limit_default: int = 20
