-- 0002: staff notes kept beside the evidence chain. The chain entry holds only the
-- note's SHA-256 (`note sha256:<hex>`), so a note with a phone or ID number does not
-- live in the chain forever; the text is here, masked in staff views unless revealed,
-- and checked against its hash by `records verify`.
CREATE TABLE notes (
    seq           INTEGER PRIMARY KEY,    -- the evidence entry that chains this note
    record_number TEXT NOT NULL,
    note          TEXT NOT NULL
);
CREATE INDEX notes_record ON notes(record_number);
