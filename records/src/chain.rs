//! The evidence chain (服务存证): an append-only log in which every entry carries the
//! SHA-256 of the previous one.
//!
//! Entry hash = SHA-256(prev_hash as lowercase hex text ‖ canonical JSON of
//! `{action, at, detail, payload_sha256, record_kind, record_number, seq}`), where canonical
//! JSON has keys sorted and no white space. `payload_sha256` is the SHA-256 of the canonical
//! JSON snapshot of the record row right after the change, so altering a record row
//! afterwards is noticed as well as altering or deleting log entries.
//!
//! Staff notes are not chained in clear: the entry's detail holds `note sha256:<hex>`
//! (after the status move, if any: `open -> closed; note sha256:<hex>`) and the text sits in
//! the `notes` table by entry number. Views show the note in place of its hash, masked
//! unless revealed, with the chained text in `chained_detail`; verify checks each note
//! against its hash.

use std::collections::BTreeMap;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::seal::{personal_columns, Sealer};
use crate::RecordKind;

/// Columns a record row has that its evidence snapshot leaves out: provenance (where the
/// record was made), not content. A record hashes the same in a terminal's SQLite file
/// and in the centre's PostgreSQL, and chains written before these columns existed still
/// verify. A column added for delivery bookkeeping belongs here too.
pub const UNCHAINED_COLUMNS: &[&str] = &["site", "terminal"];

/// `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry of the chain, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceEntry {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When it was written (RFC 3339, UTC).
    pub at: String,
    /// `created`, `status`, `moved`, `access` (staff saw personal data) or `note`.
    pub action: String,
    /// The kind of record it is about.
    pub record_kind: String,
    /// The record's number.
    pub record_number: String,
    /// A short note (old → new status, form id…). In views, a staff note appears here in
    /// place of its hash (masked unless revealed).
    pub detail: String,
    /// The detail as chained, when the view shows something else (a note's hash): what
    /// [`entry_hash`] covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chained_detail: Option<String>,
    /// SHA-256 of the record's canonical snapshot after the change.
    pub payload_sha256: String,
    /// Hash of the previous entry ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

/// What is wrong at a point of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// An entry is missing (a gap in the sequence, or entries cut off the end).
    EntryMissing,
    /// An entry's content no longer matches its hash, or the next entry's link.
    EntryAltered,
    /// A record row no longer matches the snapshot its last entry recorded.
    RecordAltered,
    /// A record that the chain logs is gone from its table.
    RecordMissing,
    /// A record exists that no entry logs.
    RecordUnlogged,
    /// A staff note no longer matches the hash its entry chained, or is gone.
    NoteAltered,
    /// The anchor outside the database is missing or not signed by the device key, so
    /// deletions cannot be checked.
    AnchorBroken,
    /// Entries after the last signed anchor: written without the device key.
    Unanchored,
}

/// One problem found by [`crate::Store::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// The chain entry concerned (None for a record nothing logs).
    pub seq: Option<i64>,
    /// The record concerned, when known.
    pub record_number: Option<String>,
    /// A one-line explanation for staff.
    pub message: String,
}

/// Result of verifying the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// True when nothing is wrong.
    pub ok: bool,
    /// Entries read.
    pub entries: u64,
    /// Records checked against the chain.
    pub records: u64,
    /// The first problem: the lowest entry number (problems without one come last).
    pub first_problem: Option<Problem>,
    /// All problems found (at most 100).
    pub problems: Vec<Problem>,
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Canonical JSON: object keys sorted, no white space, serde_json's string escaping.
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            out.push('{');
            for (i, (k, val)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(val, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The hash of an entry given its fields.
pub(crate) fn entry_hash(e: &EvidenceEntry) -> String {
    let body = serde_json::json!({
        "seq": e.seq,
        "at": e.at,
        "action": e.action,
        "record_kind": e.record_kind,
        "record_number": e.record_number,
        "detail": e.detail,
        "payload_sha256": e.payload_sha256,
    });
    let mut bytes = e.prev_hash.as_bytes().to_vec();
    bytes.extend_from_slice(canonical(&body).as_bytes());
    sha256_hex(&bytes)
}

/// The record's evidence snapshot: its row ([`row_json`]) without the
/// [`UNCHAINED_COLUMNS`], or None.
pub(crate) fn snapshot(
    conn: &Connection,
    sealer: Option<&Sealer>,
    kind: RecordKind,
    number: &str,
) -> Result<Option<Value>> {
    Ok(row_json(conn, sealer, kind, number)?.map(chained))
}

/// A record row as its snapshot: without the [`UNCHAINED_COLUMNS`].
pub(crate) fn chained(mut row: Value) -> Value {
    if let Value::Object(map) = &mut row {
        for c in UNCHAINED_COLUMNS {
            map.remove(*c);
        }
    }
    row
}

/// The row of `kind` numbered `number` as a JSON object of all its columns (raw text for
/// JSON columns, personal columns opened with `sealer`), or None.
pub(crate) fn row_json(
    conn: &Connection,
    sealer: Option<&Sealer>,
    kind: RecordKind,
    number: &str,
) -> Result<Option<Value>> {
    let sql = format!("SELECT * FROM {} WHERE number = ?1", kind.table());
    let mut stmt = conn.prepare_cached(&sql)?;
    let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
    let row = stmt
        .query_row(params![number], |row| {
            let mut map = serde_json::Map::new();
            for (i, name) in names.iter().enumerate() {
                let v = match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::from(n),
                    ValueRef::Real(f) => Value::from(f),
                    ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::String(hex::encode(b)),
                };
                map.insert(name.clone(), v);
            }
            Ok(Value::Object(map))
        })
        .optional()?;
    let Some(mut row) = row else {
        return Ok(None);
    };
    // personal fields as the resident gave them: hashes and views see the plain content;
    // a field that does not open stays as stored (verify then reports the record altered)
    if let (Some(sealer), Value::Object(map)) = (sealer, &mut row) {
        for col in personal_columns(kind) {
            if let Some(Value::String(stored)) = map.get(*col) {
                if let Ok(plain) = sealer.open(stored) {
                    map.insert((*col).to_string(), Value::String(plain));
                }
            }
        }
    }
    Ok(Some(row))
}

pub(crate) fn snapshot_hash(v: &Value) -> String {
    sha256_hex(canonical(v).as_bytes())
}

/// The entry that follows a chain whose head is `(seq, hash)` (seq 0: an empty chain),
/// for a record whose current snapshot is `snap`, hashed. Both stores form entries here,
/// so a chain delivered to the centre hashes there as it did on the terminal.
pub(crate) fn next_entry(
    (head_seq, head_hash): (i64, String),
    at: &str,
    action: &str,
    kind: RecordKind,
    number: &str,
    detail: &str,
    snap: &Value,
) -> EvidenceEntry {
    let mut e = EvidenceEntry {
        seq: head_seq + 1,
        at: at.to_string(),
        action: action.to_string(),
        record_kind: kind.as_str().to_string(),
        record_number: number.to_string(),
        detail: detail.to_string(),
        chained_detail: None,
        payload_sha256: snapshot_hash(snap),
        prev_hash: if head_seq == 0 {
            GENESIS.to_string()
        } else {
            head_hash
        },
        hash: String::new(),
    };
    e.hash = entry_hash(&e);
    e
}

/// Append an entry for the record's current state, written `at` (RFC 3339). Call inside
/// the transaction that changed the record.
pub(crate) fn append(
    conn: &Connection,
    sealer: Option<&Sealer>,
    at: &str,
    action: &str,
    kind: RecordKind,
    number: &str,
    detail: &str,
) -> Result<EvidenceEntry> {
    let snap = snapshot(conn, sealer, kind, number)?
        .ok_or_else(|| crate::StoreError::NotFound(number.to_string()))?;
    let (head_seq, head_hash): (i64, String) =
        conn.query_row("SELECT seq, hash FROM chain_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let e = next_entry(
        (head_seq, head_hash),
        at,
        action,
        kind,
        number,
        detail,
        &snap,
    );
    conn.execute(
        "INSERT INTO evidence (seq, at, action, record_kind, record_number, detail, payload_sha256, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![e.seq, e.at, e.action, e.record_kind, e.record_number, e.detail, e.payload_sha256, e.prev_hash, e.hash],
    )?;
    conn.execute(
        "UPDATE chain_head SET seq = ?1, hash = ?2 WHERE id = 1",
        params![e.seq, e.hash],
    )?;
    // queued for the centre in the same transaction (outbox.rs)
    crate::outbox::enqueue(conn, e.seq, &e.at)?;
    Ok(e)
}

/// What a noted entry chains in place of the note.
const NOTE_MARK: &str = "note sha256:";

/// Append an entry whose detail is `prefix` plus, when `note` is not empty, the note's
/// SHA-256; the note text goes to the `notes` table under the entry's number.
#[allow(clippy::too_many_arguments)]
pub(crate) fn append_noted(
    conn: &Connection,
    sealer: Option<&Sealer>,
    at: &str,
    action: &str,
    kind: RecordKind,
    number: &str,
    prefix: &str,
    note: &str,
) -> Result<EvidenceEntry> {
    let note = note.trim();
    if note.is_empty() {
        return append(conn, sealer, at, action, kind, number, prefix);
    }
    let sep = if prefix.is_empty() { "" } else { "; " };
    let detail = format!("{prefix}{sep}{NOTE_MARK}{}", sha256_hex(note.as_bytes()));
    let e = append(conn, sealer, at, action, kind, number, &detail)?;
    conn.execute(
        "INSERT INTO notes (seq, record_number, note) VALUES (?1, ?2, ?3)",
        params![e.seq, number, note],
    )?;
    Ok(e)
}

/// The note hash a chained detail carries, with the text before it.
pub(crate) fn note_hash(detail: &str) -> Option<(&str, &str)> {
    let at = detail.rfind(NOTE_MARK)?;
    let hash = &detail[at + NOTE_MARK.len()..];
    let prefix = detail[..at].trim_end_matches("; ");
    Some((prefix, hash))
}

/// The detail as staff read it: the note in place of its hash (masked unless `reveal`);
/// notes written before notes were kept apart are masked too.
pub(crate) fn shown_detail(e: &EvidenceEntry, note: Option<&str>, reveal: bool) -> String {
    let show = |t: &str| {
        if reveal {
            t.to_string()
        } else {
            crate::mask::text(t)
        }
    };
    match (note_hash(&e.detail), note) {
        (Some(("", _)), Some(n)) => show(n),
        (Some((prefix, _)), Some(n)) => format!("{prefix}: {}", show(n)),
        (Some(("", _)), None) => "(note removed)".to_string(),
        (Some((prefix, _)), None) => format!("{prefix}: (note removed)"),
        (None, _) if e.action == "note" || e.action == "status" => show(&e.detail),
        (None, _) => e.detail.clone(),
    }
}

/// One `evidence` row, its columns in the order `SELECT seq, at, action, record_kind,
/// record_number, detail, payload_sha256, prev_hash, hash` gives them.
pub(crate) fn read_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<EvidenceEntry> {
    Ok(EvidenceEntry {
        seq: r.get(0)?,
        at: r.get(1)?,
        action: r.get(2)?,
        record_kind: r.get(3)?,
        record_number: r.get(4)?,
        detail: r.get(5)?,
        chained_detail: None,
        payload_sha256: r.get(6)?,
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
    })
}

pub(crate) const ENTRY_COLUMNS: &str =
    "seq, at, action, record_kind, record_number, detail, payload_sha256, prev_hash, hash";

/// The entries about one record, oldest first, staff notes shown in place of their hashes
/// (masked unless `reveal`).
pub(crate) fn history(conn: &Connection, number: &str, reveal: bool) -> Result<Vec<EvidenceEntry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS} FROM evidence WHERE record_number = ?1 ORDER BY seq"
    ))?;
    let rows = stmt.query_map(params![number], read_entry)?;
    let mut entries = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let mut notes = conn.prepare_cached("SELECT note FROM notes WHERE seq = ?1")?;
    for e in &mut entries {
        let note: Option<String> = notes.query_row(params![e.seq], |r| r.get(0)).optional()?;
        let shown = shown_detail(e, note.as_deref(), reveal);
        if shown != e.detail {
            e.chained_detail = Some(std::mem::replace(&mut e.detail, shown));
        }
    }
    Ok(entries)
}

const MAX_PROBLEMS: usize = 100;

/// What [`verify_parts`] checks: one chain's entries in `seq` order, its head row, the
/// entries that chain a note (seq, record, detail, the kept note), and every record of
/// the chain's store (kind, number, snapshot; by kind, then id).
pub(crate) struct ChainParts {
    pub(crate) entries: Vec<EvidenceEntry>,
    pub(crate) head: (i64, String),
    pub(crate) notes: Vec<(i64, String, String, Option<String>)>,
    pub(crate) records: Vec<(RecordKind, String, Option<Value>)>,
    /// For records of this chain that staff acted on at the centre: the newest entry
    /// the centre's chains hold about each (number -> chain, seq, payload hash). Such a
    /// row must match that entry rather than this chain's latest (empty for a SQLite
    /// file).
    pub(crate) overrides: BTreeMap<String, (String, i64, String)>,
}

/// Whether an entry is about a record of another chain (`terminal:number`: the centre's
/// staff acting on a terminal's record). Such an entry is checked with the chain it
/// links into, and the record against it by the verify of the record's own chain.
pub(crate) fn names_other_chain(record_number: &str) -> bool {
    record_number.contains(':')
}

/// Check the whole chain and every record against it. Reads in one transaction-free pass;
/// the caller wraps it in a read transaction for a consistent view.
pub(crate) fn verify(conn: &Connection, sealer: Option<&Sealer>) -> Result<VerifyReport> {
    let entries = {
        let mut stmt = conn.prepare(&format!(
            "SELECT {ENTRY_COLUMNS} FROM evidence ORDER BY seq"
        ))?;
        let rows = stmt.query_map([], read_entry)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let head: (i64, String) =
        conn.query_row("SELECT seq, hash FROM chain_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let notes = {
        let mut stmt = conn.prepare(
            "SELECT e.seq, e.record_number, e.detail, n.note FROM evidence e LEFT JOIN notes n ON n.seq = e.seq
             WHERE e.detail LIKE '%note sha256:%' ORDER BY e.seq",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let mut records = Vec::new();
    for kind in RecordKind::ALL {
        let numbers: Vec<String> = {
            let mut stmt =
                conn.prepare(&format!("SELECT number FROM {} ORDER BY id", kind.table()))?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        for number in numbers {
            let snap = snapshot(conn, sealer, kind, &number)?;
            records.push((kind, number, snap));
        }
    }
    Ok(verify_parts(ChainParts {
        entries,
        head,
        notes,
        records,
        overrides: BTreeMap::new(),
    }))
}

/// Check one chain and its records ([`ChainParts`]).
pub(crate) fn verify_parts(parts: ChainParts) -> VerifyReport {
    let ChainParts {
        entries: stored,
        head: (head_seq, head_hash),
        notes,
        records: rows,
        overrides,
    } = parts;
    let mut problems: Vec<Problem> = Vec::new();
    let push = |p: Problem, problems: &mut Vec<Problem>| {
        if problems.len() < MAX_PROBLEMS {
            problems.push(p);
        }
    };
    // Latest entry per record: number -> (seq, kind, payload).
    let mut latest: BTreeMap<String, (i64, String, String)> = BTreeMap::new();
    let mut entries = 0u64;
    let mut prev_hash = GENESIS.to_string();
    let mut expected = 1i64;
    let mut chain_broken = false;
    let mut last: Option<EvidenceEntry> = None;
    {
        for e in stored {
            entries += 1;
            if !names_other_chain(&e.record_number) {
                latest.insert(
                    e.record_number.clone(),
                    (e.seq, e.record_kind.clone(), e.payload_sha256.clone()),
                );
            }
            if !chain_broken {
                if e.seq != expected {
                    push(
                        Problem {
                            kind: ProblemKind::EntryMissing,
                            seq: Some(expected),
                            record_number: None,
                            message: format!(
                                "entry {expected} is missing (the next one stored is {})",
                                e.seq
                            ),
                        },
                        &mut problems,
                    );
                    chain_broken = true;
                } else if e.prev_hash != prev_hash {
                    // The previous entry was rewritten with a fresh hash.
                    let bad = expected - 1;
                    push(
                        Problem {
                            kind: ProblemKind::EntryAltered,
                            seq: Some(bad),
                            record_number: last.as_ref().map(|l| l.record_number.clone()),
                            message: format!(
                                "entry {bad} was altered: entry {} no longer links to it",
                                e.seq
                            ),
                        },
                        &mut problems,
                    );
                    chain_broken = true;
                } else if entry_hash(&e) != e.hash {
                    push(
                        Problem {
                            kind: ProblemKind::EntryAltered,
                            seq: Some(e.seq),
                            record_number: Some(e.record_number.clone()),
                            message: format!(
                                "entry {} was altered: its content does not match its hash",
                                e.seq
                            ),
                        },
                        &mut problems,
                    );
                    chain_broken = true;
                }
            }
            prev_hash = e.hash.clone();
            expected = e.seq + 1;
            last = Some(e);
        }
    }
    let last_seq = last.as_ref().map_or(0, |l| l.seq);
    let last_hash = last.as_ref().map_or(String::new(), |l| l.hash.clone());
    if !chain_broken && (head_seq != last_seq || (head_seq > 0 && head_hash != last_hash)) {
        let kind = if head_seq > last_seq {
            ProblemKind::EntryMissing
        } else {
            ProblemKind::EntryAltered
        };
        push(
            Problem {
                kind,
                seq: Some(last_seq + 1),
                record_number: None,
                message: format!("the chain ends at entry {last_seq} but its head says {head_seq}: entries after {last_seq} are missing or altered"),
            },
            &mut problems,
        );
    }

    // Each kept note against the hash its entry chained; a chained note with no text kept.
    {
        for (seq, number, detail, note) in notes {
            let Some((_, hash)) = note_hash(&detail) else {
                continue;
            };
            let message = match note {
                Some(n) if sha256_hex(n.as_bytes()) == hash => continue,
                Some(_) => format!("the note of entry {seq} ({number}) was altered"),
                None => format!("the note of entry {seq} ({number}) is gone"),
            };
            push(
                Problem {
                    kind: ProblemKind::NoteAltered,
                    seq: Some(seq),
                    record_number: Some(number),
                    message,
                },
                &mut problems,
            );
        }
    }

    let mut records = 0u64;
    {
        for (kind, number, snap) in rows {
            records += 1;
            let Some(snap) = snap else {
                continue;
            };
            let own = latest.remove(&number);
            if let Some((chain, seq, payload)) = overrides.get(&number) {
                if *payload != snapshot_hash(&snap) {
                    push(
                        Problem {
                            kind: ProblemKind::RecordAltered,
                            seq: own.as_ref().map(|o| o.0),
                            record_number: Some(number.clone()),
                            message: format!(
                                "{} {number} was altered after entry {seq} of chain {chain} recorded it",
                                kind.as_str()
                            ),
                        },
                        &mut problems,
                    );
                }
                continue;
            }
            match own {
                None => push(
                    Problem {
                        kind: ProblemKind::RecordUnlogged,
                        seq: None,
                        record_number: Some(number.clone()),
                        message: format!("{} {number} has no evidence entry", kind.as_str()),
                    },
                    &mut problems,
                ),
                Some((seq, _, payload)) if payload != snapshot_hash(&snap) => push(
                    Problem {
                        kind: ProblemKind::RecordAltered,
                        seq: Some(seq),
                        record_number: Some(number.clone()),
                        message: format!(
                            "{} {number} was altered after entry {seq} recorded it",
                            kind.as_str()
                        ),
                    },
                    &mut problems,
                ),
                Some(_) => {}
            }
        }
    }
    for (number, (seq, kind, _)) in latest {
        push(
            Problem {
                kind: ProblemKind::RecordMissing,
                seq: Some(seq),
                record_number: Some(number.clone()),
                message: format!("{kind} {number} logged by entry {seq} is gone from the records"),
            },
            &mut problems,
        );
    }
    let first_problem = problems
        .iter()
        .min_by_key(|p| p.seq.unwrap_or(i64::MAX))
        .cloned();
    VerifyReport {
        ok: problems.is_empty(),
        entries,
        records,
        first_problem,
        problems,
    }
}
