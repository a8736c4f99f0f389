-- RB2B visitors (asset rb2b_visitors): landed visitor_events rolled up per person (or company-only
-- profile) and day, matched to contacts (sync_pipeline/store/visitor_days.py).

-- Arrival order of visitor_events (event_id is a body digest, not monotonic). Rows landed before
-- this migration get a value each when the column is added (both backends fill a volatile default
-- row by row), later rows at insert.
CREATE SEQUENCE IF NOT EXISTS visitor_events_seq;
ALTER TABLE visitor_events ADD COLUMN IF NOT EXISTS seq BIGINT DEFAULT nextval('visitor_events_seq');
-- Set by the asset when it has counted the event: which visitor_days row it belongs to.
ALTER TABLE visitor_events ADD COLUMN IF NOT EXISTS profile_key TEXT;
ALTER TABLE visitor_events ADD COLUMN IF NOT EXISTS visit_day TEXT;
CREATE INDEX IF NOT EXISTS visitor_events_seq_idx ON visitor_events (seq);
CREATE INDEX IF NOT EXISTS visitor_events_profile_idx ON visitor_events (profile_key, visit_day);

CREATE TABLE IF NOT EXISTS visitor_days (
    profile_key     TEXT NOT NULL,       -- person:<linkedin.com/in/slug | email | name> or company:<domain | name>
    visit_day       TEXT NOT NULL,       -- UTC day of the visits, YYYY-MM-DD
    kind            TEXT NOT NULL,       -- person | company (RB2B company-only profile)
    linkedin_url    TEXT,
    linkedin_key    TEXT,                -- normalized for matching: linkedin.com/in/<slug>
    business_email  TEXT,                -- lower-cased
    first_name      TEXT,
    last_name       TEXT,
    title           TEXT,
    company_name    TEXT,
    website         TEXT,
    industry        TEXT,
    employee_count  TEXT,
    employee_count_min INTEGER,
    employee_count_max INTEGER,
    estimate_revenue TEXT,
    city            TEXT,
    state           TEXT,
    zipcode         TEXT,
    visits          INTEGER NOT NULL,    -- distinct deliveries landed for this profile that day
    pages           JSONB NOT NULL,      -- distinct captured URLs, in the order first seen
    last_page       TEXT,
    referrer        TEXT,                -- of the first visit that day
    first_seen_at   TIMESTAMPTZ NOT NULL,
    last_seen_at    TIMESTAMPTZ NOT NULL,
    last_event_seq  BIGINT NOT NULL,
    contact_id      TEXT,                -- live contact of the configured CRM account, or NULL
    matched_by      TEXT,                -- email | linkedin
    matched_at      TIMESTAMPTZ,
    crm_job_id      TEXT,                -- outbox job that creates the contact (RB2B_CREATE_CONTACTS)
    tag_job_id      TEXT,                -- outbox job that tags that contact rb2b once it has synced
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (profile_key, visit_day)
);
CREATE INDEX IF NOT EXISTS visitor_days_email_idx ON visitor_days (business_email);
CREATE INDEX IF NOT EXISTS visitor_days_linkedin_idx ON visitor_days (linkedin_key);
CREATE INDEX IF NOT EXISTS visitor_days_contact_idx ON visitor_days (contact_id);
CREATE INDEX IF NOT EXISTS visitor_days_seen_idx ON visitor_days (last_seen_at);

-- What agents look at for outreach: visitors with no contact in the CRM (people and companies).
CREATE OR REPLACE VIEW visitors_unmatched AS
SELECT profile_key, visit_day, kind, linkedin_url, business_email, first_name, last_name, title,
       company_name, website, industry, employee_count, employee_count_min, employee_count_max,
       estimate_revenue, city, state, zipcode, visits, pages, last_page,
       referrer, first_seen_at, last_seen_at, crm_job_id, updated_at
FROM visitor_days
WHERE contact_id IS NULL;
