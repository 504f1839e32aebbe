-- 0003 (PostgreSQL): keyed hashes of the phone and ID numbers in sealed personal fields,
-- as sqlite/0003 (HMAC-SHA256 with the centre's field key).
CREATE TABLE lookup (
    tag      TEXT NOT NULL,
    terminal TEXT NOT NULL,
    number   TEXT NOT NULL
);
CREATE INDEX lookup_tag ON lookup(tag);
