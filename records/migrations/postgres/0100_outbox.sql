-- 0100 (PostgreSQL): delivery from terminals (records/src/centre/). The records and
-- evidence entries a terminal delivers land in the tables of 0001 (keyed by terminal);
-- this adds who delivers and the anchors of their chains. (SQLite's 0100 is the
-- terminal's outbox.)

-- The terminals that deliver here. Each delivery locks its terminal's row, so two
-- deliveries of one terminal are applied one after the other. `code` is the two digits
-- in its record numbers (unique: two terminals with one code would give the same
-- receipt numbers).
CREATE TABLE terminals (
    terminal      TEXT PRIMARY KEY,
    site          TEXT NOT NULL,
    code          INTEGER UNIQUE,
    first_seen    TEXT NOT NULL,           -- RFC 3339, UTC
    last_delivery TEXT NOT NULL
);

-- What each delivery said of the terminal's chain: its entry count and the hash of its
-- last entry when the batch was read. A chain later found shorter (entries deleted from
-- the end) or with another hash at an anchored count (rewritten) is caught by
-- `records verify --centre`, and the centre refuses deliveries from it.
CREATE TABLE anchors (
    terminal     TEXT NOT NULL,
    count        BIGINT NOT NULL,
    head         TEXT NOT NULL,
    site         TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (terminal, count)
);
