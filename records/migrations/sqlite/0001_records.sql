-- 0001: the records of Xiao'an (服务存证). Applied once, inside a transaction; the
-- schema version is kept in PRAGMA user_version.
--
-- Every record table shares: id, number (unique across ALL tables, from `counters`),
-- status, created_at / updated_at (RFC 3339, UTC), session_id. JSON columns hold lists and
-- personal data; staff views mask them. Every insert and status change appends one row to
-- `evidence` in the same transaction.

-- Record numbers: yymmdd + daily sequence, one space shared by all record kinds.
CREATE TABLE counters (
    day  TEXT PRIMARY KEY,          -- yymmdd, local date of the centre
    last INTEGER NOT NULL
);

-- Self-declarations (承诺制 / 容缺受理).
CREATE TABLE filings (
    id             INTEGER PRIMARY KEY,
    number         TEXT NOT NULL UNIQUE,   -- the receipt number read to the resident
    form_id        TEXT NOT NULL,
    form_title     TEXT NOT NULL,
    fields         TEXT NOT NULL,          -- JSON [{name,label,kind,value}]
    materials_owed TEXT NOT NULL,          -- JSON [{name,due}]
    commitment     TEXT NOT NULL,          -- the text the resident agreed to
    status         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    session_id     TEXT NOT NULL
);

-- Mediation cases (纠纷调解).
CREATE TABLE cases (
    id             INTEGER PRIMARY KEY,
    number         TEXT NOT NULL UNIQUE,   -- shown as TJ + number
    dispute_kind   TEXT NOT NULL,
    dispute_name   TEXT NOT NULL,
    resident       TEXT NOT NULL,          -- JSON {name?, phone?}
    other_party    TEXT NOT NULL,
    place          TEXT NOT NULL,
    what_happened  TEXT NOT NULL,
    wanted_outcome TEXT NOT NULL,
    danger         INTEGER NOT NULL,
    slot_start     TEXT,                   -- local time YYYY-MM-DDTHH:MM:SS
    mediator       TEXT,
    slot_place     TEXT,
    follow_up_due  TEXT NOT NULL,          -- created_at + 48 h
    status         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    session_id     TEXT NOT NULL
);
CREATE INDEX cases_slot ON cases(mediator, slot_start);

-- Emergencies and handoffs to staff.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    number      TEXT NOT NULL UNIQUE,
    event_kind  TEXT NOT NULL,             -- emergency | handoff
    summary     TEXT NOT NULL,
    transcript  TEXT NOT NULL,             -- JSON [{who,text}]
    wait_at     TEXT,
    needs       TEXT,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    session_id  TEXT NOT NULL
);

-- Appointments; capacity per (service, slot_start) is enforced in code from configuration.
CREATE TABLE appointments (
    id          INTEGER PRIMARY KEY,
    number      TEXT NOT NULL UNIQUE,
    service_id  TEXT NOT NULL,
    slot_start  TEXT NOT NULL,             -- local time YYYY-MM-DDTHH:MM:SS
    contact     TEXT NOT NULL,             -- JSON {name?, phone?}
    status      TEXT NOT NULL,             -- booked | cancelled | done
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    session_id  TEXT NOT NULL
);
CREATE INDEX appointments_slot ON appointments(service_id, slot_start, status);

-- Queue tickets (取号).
CREATE TABLE queue (
    id          INTEGER PRIMARY KEY,
    number      TEXT NOT NULL UNIQUE,
    service_id  TEXT NOT NULL,
    day         TEXT NOT NULL,             -- yymmdd
    ticket      INTEGER NOT NULL,          -- short number called out, per day
    status      TEXT NOT NULL,             -- waiting | serving | done | skipped
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    UNIQUE (day, ticket)
);

-- Complaints, praise, 随手拍 and service ratings.
CREATE TABLE feedback (
    id            INTEGER PRIMARY KEY,
    number        TEXT NOT NULL UNIQUE,
    feedback_kind TEXT NOT NULL,           -- complaint | praise | snapshot | rating
    text          TEXT NOT NULL,
    place         TEXT,
    service_id    TEXT,
    rating        INTEGER,
    contact       TEXT NOT NULL,           -- JSON {name?, phone?}
    status        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    session_id    TEXT NOT NULL
);

-- Forms left mid-way (time-out, hang-up), kept for staff.
CREATE TABLE drafts (
    id          INTEGER PRIMARY KEY,
    number      TEXT NOT NULL UNIQUE,
    form_id     TEXT NOT NULL,
    fields      TEXT NOT NULL,             -- JSON [{name,label,kind,value}]
    reason      TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    session_id  TEXT NOT NULL
);

-- The evidence chain: hash = SHA-256(prev_hash || canonical JSON of the entry).
CREATE TABLE evidence (
    seq            INTEGER PRIMARY KEY,
    at             TEXT NOT NULL,
    action         TEXT NOT NULL,          -- created | status | moved
    record_kind    TEXT NOT NULL,
    record_number  TEXT NOT NULL,
    detail         TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,          -- SHA-256 of the record's canonical snapshot
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX evidence_record ON evidence(record_number, seq);

-- The chain's head, so that cutting entries off the end is noticed.
CREATE TABLE chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '');
