-- only on: duckdb
-- DuckDB's planner looks contacts up through single-column indexes only: with the primary key
-- (provider, id) alone, a point read by id scanned the table (28 ms at 1,000,000 contacts against
-- 0.6 ms with this index) and each synced page's lookup of the ids it holds grew with the table.
-- PostgreSQL uses the primary key for both, so this index would only slow its writes there.
CREATE INDEX IF NOT EXISTS contacts_id_idx ON contacts (id);
