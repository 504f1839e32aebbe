-- 0003: personal fields are encrypted at rest (see store/seal.rs); to still find records
-- by a phone or ID number, each number in them is kept as a keyed hash (HMAC-SHA256 with
-- the field key), never in clear.
CREATE TABLE lookup (
    tag    TEXT NOT NULL,             -- hex HMAC-SHA256(field key, the number's digits)
    number TEXT NOT NULL              -- the record
);
CREATE INDEX lookup_tag ON lookup(tag);
