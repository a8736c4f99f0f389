-- Enrichment cache (assets clay_enrichments, contact_profiles; sync_pipeline/enrichment/).

-- enrichment_cache is keyed by person or company now, whichever enricher answered: one entry per
-- key, so switching ENRICHMENT_PROVIDER (or a clay,pdl waterfall) never pays again for a key the
-- cache holds. DuckDB cannot change a primary key in place, so the table is rebuilt; a row of the
-- old shape is carried over (per key, the first provider's), though no earlier release wrote any.
CREATE TABLE IF NOT EXISTS enrichment_cache_001 AS SELECT * FROM enrichment_cache;
DROP TABLE enrichment_cache;
CREATE TABLE enrichment_cache (
    kind           TEXT NOT NULL,       -- person | company
    key            TEXT NOT NULL,       -- trimmed lower-cased email, or registrable domain
    provider       TEXT NOT NULL,       -- the enricher that found it; for not_found the last one asked
    status         TEXT NOT NULL,       -- hit | not_found
    data           JSONB,
    attempts       JSONB NOT NULL,      -- each enricher asked, in order: provider, outcome, credits, cost_usd
    credits        DOUBLE PRECISION NOT NULL DEFAULT 0,
    cost_usd       DOUBLE PRECISION NOT NULL DEFAULT 0,   -- every attempt's cost together
    fetch_seconds  DOUBLE PRECISION NOT NULL DEFAULT 0,   -- how long the lookup took (XFetch's delta)
    fetched_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,                  -- TTL plus jitter; never served past it
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS enrichment_cache_expiry_idx ON enrichment_cache (expires_at);
INSERT INTO enrichment_cache (kind, key, provider, status, data, attempts, cost_usd, fetched_at, expires_at)
SELECT o.kind, o.key, o.provider, o.status, o.data, '[]', o.cost_usd, o.fetched_at, o.expires_at
FROM enrichment_cache_001 o
WHERE o.provider = (SELECT min(p.provider) FROM enrichment_cache_001 p WHERE p.key = o.key AND p.kind = o.kind);
DROP TABLE enrichment_cache_001;

-- Single flight: the one caller (in any process) fetching a key holds its row until the answer is
-- stored. Others wait for the answer; a claim past lease_until is abandoned (its owner died) and
-- may be taken over. A failed fetch leaves its error here, lapsed, for the callers that waited.
CREATE TABLE IF NOT EXISTS enrichment_claims (
    kind          TEXT NOT NULL,
    key           TEXT NOT NULL,
    owner         TEXT NOT NULL,        -- host:pid:token of the claiming call
    claimed_at    TIMESTAMPTZ NOT NULL,
    lease_until   TIMESTAMPTZ NOT NULL,
    reserved_usd  DOUBLE PRECISION NOT NULL DEFAULT 0,    -- held against the daily budget meanwhile
    error         TEXT,
    PRIMARY KEY (kind, key)
);

-- Keys owed an answer that no entry holds yet: asked with wait=False, or skipped over the daily
-- budget. clay_enrichments enriches them with contacts and visitors; an entry's write removes them.
CREATE TABLE IF NOT EXISTS enrichment_requests (
    kind          TEXT NOT NULL,
    key           TEXT NOT NULL,
    requested_at  TIMESTAMPTZ NOT NULL,
    reason        TEXT NOT NULL,        -- scheduled | over_budget
    PRIMARY KEY (kind, key)
);

-- The cost ledger: a row per paid attempt (provider, credits, dollars) and per cache hit (the
-- dollars it avoided: what the entry it served had cost). budget_day is the UTC day the daily
-- budget counts against.
CREATE SEQUENCE IF NOT EXISTS enrichment_ledger_id_seq;
CREATE TABLE IF NOT EXISTS enrichment_ledger (
    id                BIGINT PRIMARY KEY DEFAULT nextval('enrichment_ledger_id_seq'),
    recorded_at       TIMESTAMPTZ NOT NULL,
    budget_day        TEXT NOT NULL,    -- YYYY-MM-DD, UTC
    kind              TEXT NOT NULL,
    key               TEXT NOT NULL,
    provider          TEXT NOT NULL,
    event             TEXT NOT NULL,    -- paid | hit
    outcome           TEXT NOT NULL,    -- found | not_found, or error for a paid attempt that failed
    credits           DOUBLE PRECISION NOT NULL DEFAULT 0,
    cost_usd          DOUBLE PRECISION NOT NULL DEFAULT 0,
    avoided_usd       DOUBLE PRECISION NOT NULL DEFAULT 0,
    entry_expires_at  TIMESTAMPTZ,      -- hit: the served entry's expiry (checked: never before recorded_at)
    caller            TEXT NOT NULL     -- agent | clay_enrichments | …
);
CREATE INDEX IF NOT EXISTS enrichment_ledger_day_idx ON enrichment_ledger (budget_day, event);
CREATE INDEX IF NOT EXISTS enrichment_ledger_recorded_idx ON enrichment_ledger (recorded_at);

-- What agents read about a contact: the contact, its latest person enrichment, recent visits and
-- outbox history, one row per live contact of the CRM account; rebuilt by contact_profiles.
CREATE TABLE IF NOT EXISTS contact_profiles (
    provider               TEXT NOT NULL,
    contact_id             TEXT NOT NULL,
    location_id            TEXT,
    email                  TEXT,
    first_name             TEXT,
    last_name              TEXT,
    company_name           TEXT,
    phone                  TEXT,
    tags                   JSONB,
    contact_synced_at      TIMESTAMPTZ NOT NULL,
    enrichment_status      TEXT,        -- hit | not_found | NULL (never enriched)
    enrichment_provider    TEXT,
    enrichment             JSONB,
    enrichment_fetched_at  TIMESTAMPTZ,
    enrichment_expires_at  TIMESTAMPTZ,
    visits_30d             INTEGER NOT NULL,
    visit_days_30d         INTEGER NOT NULL,
    last_visit_at          TIMESTAMPTZ,
    last_page              TEXT,
    emails_sent            INTEGER NOT NULL,
    emails_pending         INTEGER NOT NULL,
    jobs_failed            INTEGER NOT NULL,   -- dead or unknown
    last_job_action        TEXT,
    last_job_status        TEXT,
    last_job_at            TIMESTAMPTZ,
    last_email_subject     TEXT,
    last_email_at          TIMESTAMPTZ,
    built_at               TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, contact_id)
);
