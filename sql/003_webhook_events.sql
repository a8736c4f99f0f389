-- Webhook bookkeeping: replay protection, contact change markers, delivery status of sends.

CREATE TABLE IF NOT EXISTS webhook_receipts (
    source       TEXT NOT NULL,        -- ghl | rb2b | instantly
    webhook_id   TEXT NOT NULL,        -- the vendor's delivery id (or a body digest when it has none)
    received_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, webhook_id)
);
CREATE INDEX IF NOT EXISTS webhook_receipts_received_idx ON webhook_receipts (received_at);

-- A CRM webhook said a contact changed: the contacts sensor wakes and an incremental sync runs.
CREATE SEQUENCE IF NOT EXISTS contact_events_id_seq;
CREATE TABLE IF NOT EXISTS contact_events (
    id            BIGINT PRIMARY KEY DEFAULT nextval('contact_events_id_seq'),
    provider      TEXT NOT NULL,
    contact_id    TEXT NOT NULL,
    event_type    TEXT NOT NULL,       -- ContactCreate | ContactUpdate | ContactDelete | …
    received_at   TIMESTAMPTZ NOT NULL,
    processed_at  TIMESTAMPTZ          -- set by the sync run that covered it
);
CREATE INDEX IF NOT EXISTS contact_events_pending_idx ON contact_events (processed_at, received_at);

ALTER TABLE outbox ADD COLUMN IF NOT EXISTS delivery_status TEXT;          -- delivered | bounced | opened | replied …
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS delivery_updated_at TIMESTAMPTZ;
CREATE INDEX IF NOT EXISTS outbox_provider_ref_idx ON outbox (provider, provider_ref);
