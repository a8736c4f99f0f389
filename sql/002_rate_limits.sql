-- Shared rate-limit state for the vendor transport (sync_pipeline/transport/limiter.py).
-- One row per (bucket, window): a GCRA "theoretical arrival time" that every process reserves
-- from in one atomic upsert, so Dagster run workers, agents and the CLI share each vendor limit.
-- Times are epoch seconds on the database clock, so processes on different hosts agree.

CREATE TABLE IF NOT EXISTS rate_limits (
    bucket       TEXT NOT NULL,              -- provider:account, e.g. ghl:<location id>
    window_name  TEXT NOT NULL,              -- a profile window (burst, daily, …) or ~hold
    tat          DOUBLE PRECISION NOT NULL,  -- next free slot (paced) / theoretical arrival time
    interval_s   DOUBLE PRECISION NOT NULL,  -- spacing last used for this window, for inspection
    PRIMARY KEY (bucket, window_name)
);
