-- 0001 (PostgreSQL): the records of Xiao'an (服务存证) in the centre's store.
--
-- The same records and columns as sqlite/0001, with the centre's keys: the store holds
-- the records of many terminals, and each terminal's records are what one terminal's
-- SQLite file holds. So every table carries `site` and `terminal` (SQLite gains them in
-- 0004), a record is keyed by (terminal, id) and named by (terminal, number), and each
-- terminal has its own evidence chain (seq from 1, its own head), hashed exactly as in
-- SQLite. Times stay RFC 3339 text, as in SQLite, so a record's snapshot and its hash are
-- the same bytes in both stores. Numbers allocated by the centre itself come from the
-- one `counters` table and are unique across the centre.

CREATE TABLE counters (
    day  TEXT PRIMARY KEY,          -- yymmdd, local date of the centre
    last BIGINT NOT NULL
);

CREATE TABLE filings (
    site           TEXT NOT NULL,
    terminal       TEXT NOT NULL,
    id             BIGINT NOT NULL,
    number         TEXT NOT NULL,
    form_id        TEXT NOT NULL,
    form_title     TEXT NOT NULL,
    fields         TEXT NOT NULL,
    materials_owed TEXT NOT NULL,
    commitment     TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    session_id     TEXT NOT NULL,
    PRIMARY KEY (terminal, id),
    UNIQUE (terminal, number)
);
CREATE INDEX filings_number ON filings(number);
CREATE INDEX filings_site ON filings(site, created_at);

CREATE TABLE cases (
    site           TEXT NOT NULL,
    terminal       TEXT NOT NULL,
    id             BIGINT NOT NULL,
    number         TEXT NOT NULL,
    dispute_kind   TEXT NOT NULL,
    dispute_name   TEXT NOT NULL,
    resident       TEXT NOT NULL,
    other_party    TEXT NOT NULL,
    place          TEXT NOT NULL,
    what_happened  TEXT NOT NULL,
    wanted_outcome TEXT NOT NULL,
    danger         BIGINT NOT NULL,
    slot_start     TEXT,
    mediator       TEXT,
    slot_place     TEXT,
    follow_up_due  TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    session_id     TEXT NOT NULL,
    PRIMARY KEY (terminal, id),
    UNIQUE (terminal, number)
);
CREATE INDEX cases_number ON cases(number);
CREATE INDEX cases_site ON cases(site, created_at);
CREATE INDEX cases_slot ON cases(mediator, slot_start);

CREATE TABLE events (
    site        TEXT NOT NULL,
    terminal    TEXT NOT NULL,
    id          BIGINT NOT NULL,
    number      TEXT NOT NULL,
    event_kind  TEXT NOT NULL,
    summary     TEXT NOT NULL,
    transcript  TEXT NOT NULL,
    wait_at     TEXT,
    needs       TEXT,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    PRIMARY KEY (terminal, id),
    UNIQUE (terminal, number)
);
CREATE INDEX events_number ON events(number);
CREATE INDEX events_site ON events(site, created_at);

CREATE TABLE appointments (
    site        TEXT NOT NULL,
    terminal    TEXT NOT NULL,
    id          BIGINT NOT NULL,
    number      TEXT NOT NULL,
    service_id  TEXT NOT NULL,
    slot_start  TEXT NOT NULL,
    contact     TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    PRIMARY KEY (terminal, id),
    UNIQUE (terminal, number)
);
CREATE INDEX appointments_number ON appointments(number);
CREATE INDEX appointments_site ON appointments(site, created_at);
CREATE INDEX appointments_slot ON appointments(service_id, slot_start, status);

CREATE TABLE queue (
    site        TEXT NOT NULL,
    terminal    TEXT NOT NULL,
    id          BIGINT NOT NULL,
    number      TEXT NOT NULL,
    service_id  TEXT NOT NULL,
    day         TEXT NOT NULL,
    ticket      BIGINT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    PRIMARY KEY (terminal, id),
    UNIQUE (terminal, number),
    UNIQUE (terminal, day, ticket)
);
CREATE INDEX queue_number ON queue(number);
CREATE INDEX queue_site ON queue(site, created_at);

CREATE TABLE feedback (
    site          TEXT NOT NULL,
    terminal      TEXT NOT NULL,
    id            BIGINT NOT NULL,
    number        TEXT NOT NULL,
    feedback_kind TEXT NOT NULL,
    text          TEXT NOT NULL,
    place         TEXT,
    service_id    TEXT,
    rating        BIGINT,
    contact       TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    PRIMARY KEY (terminal, id),
    UNIQUE (terminal, number)
);
CREATE INDEX feedback_number ON feedback(number);
CREATE INDEX feedback_site ON feedback(site, created_at);

CREATE TABLE drafts (
    site        TEXT NOT NULL,
    terminal    TEXT NOT NULL,
    id          BIGINT NOT NULL,
    number      TEXT NOT NULL,
    form_id     TEXT NOT NULL,
    fields      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    PRIMARY KEY (terminal, id),
    UNIQUE (terminal, number)
);
CREATE INDEX drafts_number ON drafts(number);
CREATE INDEX drafts_site ON drafts(site, created_at);

-- One evidence chain per terminal: hash = SHA-256(prev_hash || canonical JSON of the entry).
CREATE TABLE evidence (
    site           TEXT NOT NULL,
    terminal       TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    at             TEXT NOT NULL,
    action         TEXT NOT NULL,
    record_kind    TEXT NOT NULL,
    record_number  TEXT NOT NULL,
    detail         TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL,
    PRIMARY KEY (terminal, seq)
);
CREATE INDEX evidence_record ON evidence(terminal, record_number, seq);

-- Each chain's head (the row is locked by every write to that chain).
CREATE TABLE chain_head (
    terminal TEXT PRIMARY KEY,
    site     TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    hash     TEXT NOT NULL
);
