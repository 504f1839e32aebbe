-- 0004: every record carries the site and terminal it came from (the centre's store
-- gathers records of many terminals), and the applied migrations are listed in
-- `schema_version` (PRAGMA user_version stays the one the program checks).
--
-- Rows from before this version get '' and are stamped with the store's own site and
-- terminal when it is next opened for writing. `site` and `terminal` are provenance,
-- not content: the record's evidence snapshot leaves them out (chain.rs), so chains
-- written before this version still verify, and a record hashes the same in SQLite and
-- in PostgreSQL.
ALTER TABLE filings      ADD COLUMN site     TEXT NOT NULL DEFAULT '';
ALTER TABLE filings      ADD COLUMN terminal TEXT NOT NULL DEFAULT '';
ALTER TABLE cases        ADD COLUMN site     TEXT NOT NULL DEFAULT '';
ALTER TABLE cases        ADD COLUMN terminal TEXT NOT NULL DEFAULT '';
ALTER TABLE events       ADD COLUMN site     TEXT NOT NULL DEFAULT '';
ALTER TABLE events       ADD COLUMN terminal TEXT NOT NULL DEFAULT '';
ALTER TABLE appointments ADD COLUMN site     TEXT NOT NULL DEFAULT '';
ALTER TABLE appointments ADD COLUMN terminal TEXT NOT NULL DEFAULT '';
ALTER TABLE queue        ADD COLUMN site     TEXT NOT NULL DEFAULT '';
ALTER TABLE queue        ADD COLUMN terminal TEXT NOT NULL DEFAULT '';
ALTER TABLE feedback     ADD COLUMN site     TEXT NOT NULL DEFAULT '';
ALTER TABLE feedback     ADD COLUMN terminal TEXT NOT NULL DEFAULT '';
ALTER TABLE drafts       ADD COLUMN site     TEXT NOT NULL DEFAULT '';
ALTER TABLE drafts       ADD COLUMN terminal TEXT NOT NULL DEFAULT '';

CREATE TABLE schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL            -- RFC 3339, UTC ('' for versions applied before this table)
);
INSERT INTO schema_version (version, name, applied_at) VALUES
    (1, '0001_records.sql', ''),
    (2, '0002_notes.sql', ''),
    (3, '0003_lookup.sql', '');
