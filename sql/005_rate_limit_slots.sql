-- The shared limiter's log of reserved request times per paced window (sync_pipeline/transport/limiter.py).
-- A request may go once the window's (limit - 1)-th most recent slot is a full period plus an
-- allowance old, so the vendor's window, rolling or fixed, never holds more than limit - 1 of our
-- requests while bursts up to that are allowed. Rows older than one period are deleted now and then
-- as requests reserve, so a window keeps about `limit` rows. Budget windows and holds stay in `rate_limits`.

CREATE TABLE IF NOT EXISTS rate_limit_slots (
    bucket       TEXT NOT NULL,              -- provider:account, as in rate_limits
    window_name  TEXT NOT NULL,              -- a paced profile window (burst, secondly, …)
    slot         DOUBLE PRECISION NOT NULL   -- epoch seconds on the database clock
);

CREATE INDEX IF NOT EXISTS rate_limit_slots_recent ON rate_limit_slots (bucket, window_name, slot);
