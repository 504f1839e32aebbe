-- 0002 (PostgreSQL): staff notes kept beside the evidence chain, as sqlite/0002: the
-- entry chains the note's SHA-256, the text is here under its entry (terminal, seq).
CREATE TABLE notes (
    terminal      TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    record_number TEXT NOT NULL,
    note          TEXT NOT NULL,
    PRIMARY KEY (terminal, seq)
);
CREATE INDEX notes_record ON notes(terminal, record_number);
