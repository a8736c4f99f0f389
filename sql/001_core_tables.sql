-- Core tables of the local data layer (see DESIGN.md "Tables").
-- Portable SQL: runs unchanged on PostgreSQL and DuckDB. The one dialect word is JSONB, which the
-- DuckDB backend maps to its JSON type.

CREATE TABLE IF NOT EXISTS contacts (
    provider        TEXT NOT NULL,
    id              TEXT NOT NULL,
    location_id     TEXT,
    email           TEXT,            -- lower-cased on write
    phone           TEXT,
    first_name      TEXT,
    last_name       TEXT,
    company_name    TEXT,
    tags            JSONB,
    custom_fields   JSONB,
    date_added      TIMESTAMPTZ,
    date_updated    TIMESTAMPTZ,
    deleted_at      TIMESTAMPTZ,     -- soft delete: a row GHL no longer has
    pending_since   TIMESTAMPTZ,     -- a queued agent change is applied locally, not yet confirmed
    synced_at       TIMESTAMPTZ NOT NULL,
    content_hash    TEXT NOT NULL,
    raw             JSONB,
    PRIMARY KEY (provider, id)
);
CREATE INDEX IF NOT EXISTS contacts_email_idx ON contacts (email);
CREATE INDEX IF NOT EXISTS contacts_date_updated_idx ON contacts (date_updated);

CREATE TABLE IF NOT EXISTS visitor_events (
    event_id            TEXT PRIMARY KEY,
    source              TEXT NOT NULL,
    received_at         TIMESTAMPTZ NOT NULL,
    linkedin_url        TEXT,
    business_email      TEXT,
    first_name          TEXT,
    last_name           TEXT,
    title               TEXT,
    company_name        TEXT,
    website             TEXT,
    industry            TEXT,
    employee_count      TEXT,        -- as sent: "60" or "1-10"
    employee_count_min  INTEGER,
    employee_count_max  INTEGER,
    estimate_revenue    TEXT,
    city                TEXT,
    state               TEXT,
    zipcode             TEXT,
    seen_at             TIMESTAMPTZ,
    captured_url        TEXT,
    referrer            TEXT,
    tags                JSONB,
    is_repeat_visit     BOOLEAN,
    contact_id          TEXT,
    raw                 JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS visitor_events_email_idx ON visitor_events (business_email);
CREATE INDEX IF NOT EXISTS visitor_events_received_idx ON visitor_events (received_at);

CREATE TABLE IF NOT EXISTS enrichment_cache (
    provider    TEXT NOT NULL,
    key         TEXT NOT NULL,       -- normalized email or domain
    kind        TEXT NOT NULL,       -- person | company
    status      TEXT NOT NULL,       -- hit | not_found
    data        JSONB,
    cost_usd    DOUBLE PRECISION NOT NULL DEFAULT 0,
    fetched_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, key)
);
CREATE INDEX IF NOT EXISTS enrichment_cache_expiry_idx ON enrichment_cache (key, expires_at);

CREATE SEQUENCE IF NOT EXISTS outbox_seq;
CREATE TABLE IF NOT EXISTS outbox (
    id               TEXT PRIMARY KEY,   -- the job id agents get back
    seq              BIGINT NOT NULL DEFAULT nextval('outbox_seq'),  -- enqueue order per contact
    action           TEXT NOT NULL,
    provider         TEXT NOT NULL,
    payload          JSONB NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    contact_id       TEXT,
    to_email         TEXT,
    subject          TEXT,
    body_html        TEXT,
    callback_url     TEXT,
    status           TEXT NOT NULL,      -- queued | sending | sent | retry | dead | unknown
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    lease_until      TIMESTAMPTZ,
    lease_owner      TEXT,
    outcome_uncertain BOOLEAN NOT NULL DEFAULT FALSE,  -- vendor may have acted: look up before resending
    provider_ref     TEXT,
    last_error       TEXT,
    callback_status  TEXT,               -- pending | delivered | failed (when callback_url is set)
    callback_attempts INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    done_at          TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS outbox_due_idx ON outbox (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_contact_idx ON outbox (contact_id, seq);

CREATE SEQUENCE IF NOT EXISTS webhook_quarantine_id_seq;
CREATE TABLE IF NOT EXISTS webhook_quarantine (
    id           BIGINT PRIMARY KEY DEFAULT nextval('webhook_quarantine_id_seq'),
    source       TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    reason       TEXT NOT NULL,
    body         TEXT NOT NULL       -- kept verbatim so nothing is lost
);

CREATE TABLE IF NOT EXISTS sync_state (
    stream      TEXT PRIMARY KEY,
    cursor      TEXT,
    checkpoint  JSONB,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE SEQUENCE IF NOT EXISTS api_calls_id_seq;
CREATE TABLE IF NOT EXISTS api_calls (
    id            BIGINT PRIMARY KEY DEFAULT nextval('api_calls_id_seq'),
    provider      TEXT NOT NULL,
    account       TEXT,
    method        TEXT NOT NULL,
    endpoint      TEXT NOT NULL,     -- path template, never ids or query secrets
    status_code   INTEGER,           -- null when no response (timeout, connection error)
    latency_ms    DOUBLE PRECISION NOT NULL,
    cost_usd      DOUBLE PRECISION NOT NULL DEFAULT 0,
    rate_limited  BOOLEAN NOT NULL DEFAULT FALSE,
    error         TEXT,
    "at"          TIMESTAMPTZ NOT NULL   -- quoted: AT is a keyword in DuckDB
);
CREATE INDEX IF NOT EXISTS api_calls_provider_at_idx ON api_calls (provider, "at");
