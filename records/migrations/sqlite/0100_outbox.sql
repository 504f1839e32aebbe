-- 0100: the outbox of a terminal (delivery to the centre, records/src/outbox.rs).
--
-- Every evidence entry is queued here in the transaction that writes it (the record, its
-- entry and its outbox row commit together or not at all), so nothing written locally
-- can miss the centre. The row is the entry's number: what is delivered is that entry,
-- the record row as it then is, and the chain's head. `delivered_at` is set only after
-- the centre has acknowledged its commit; a row delivered twice is stored once there
-- (its key is the terminal and the entry's number).
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY,      -- evidence.seq
    queued_at    TEXT NOT NULL,            -- RFC 3339, UTC
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,                     -- the last failed delivery, for staff (no content)
    delivered_at TEXT                      -- when the centre acknowledged it
);
CREATE INDEX outbox_waiting ON outbox(seq) WHERE delivered_at IS NULL;

-- The terminal's two-digit code in the centre (01-99), part of every record number it
-- gives from then on (yymmdd + code + daily sequence), so receipts are unique across the
-- centre. No row: a stand-alone device, ten-digit numbers as before.
CREATE TABLE numbering (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    terminal_code INTEGER NOT NULL CHECK (terminal_code BETWEEN 1 AND 99)
);

-- A store upgraded to delivery sends its whole chain.
INSERT INTO outbox (seq, queued_at) SELECT seq, at FROM evidence;
