//! The records in the centre's PostgreSQL: writing them (one transaction per record, with
//! its evidence entry in the record's terminal chain); staff's side is `pg_staff.rs`. The
//! SQL mirrors the SQLite store's per-kind files; what is shared (entry hashing, snapshots,
//! summaries, masking, the chain check itself) is the same code.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use postgres::types::{ToSql, Type};
use postgres::{GenericClient, Row, Transaction};
use serde_json::Value;

use super::postgres::PgStore;
use super::Origin;
use crate::chain::{self, chained, EvidenceEntry};
use crate::clock::{normalise_number, parse_rfc3339, rfc3339, TS};
use crate::error::{Result, StoreError};
use crate::seal::{self, personal_columns, Sealer};
use crate::{
    AppointmentConfig, AppointmentReceipt, Booking, CaseReceipt, EventKind, EventReceipt,
    FilingReceipt, NewAppointment, NewCase, NewDraft, NewEvent, NewFeedback, NewFiling,
    QueueTicket, RecordKind, Refusal, RefusalReason, CASE_PREFIX, FOLLOW_UP_HOURS,
};

/// A query parameter.
type P<'a> = &'a (dyn ToSql + Sync);

/// A record row as JSON: every column (integers as numbers, text as strings, NULL as
/// null), personal columns opened with `sealer`, the row as SQLite's `row_json` gives it.
pub(crate) fn row_to_json(row: &Row, kind: RecordKind, sealer: Option<&Sealer>) -> Value {
    let mut map = serde_json::Map::new();
    for (i, col) in row.columns().iter().enumerate() {
        let t = col.type_();
        let v = if *t == Type::INT8 {
            row.get::<_, Option<i64>>(i)
                .map_or(Value::Null, Value::from)
        } else if *t == Type::INT4 {
            row.get::<_, Option<i32>>(i)
                .map_or(Value::Null, Value::from)
        } else if *t == Type::FLOAT8 {
            row.get::<_, Option<f64>>(i)
                .map_or(Value::Null, Value::from)
        } else if *t == Type::BYTEA {
            row.get::<_, Option<Vec<u8>>>(i)
                .map_or(Value::Null, |b| Value::String(hex::encode(b)))
        } else {
            row.get::<_, Option<String>>(i)
                .map_or(Value::Null, Value::String)
        };
        map.insert(col.name().to_string(), v);
    }
    if let Some(sealer) = sealer {
        for col in personal_columns(kind) {
            if let Some(Value::String(stored)) = map.get(*col) {
                if let Ok(plain) = sealer.open(stored) {
                    map.insert((*col).to_string(), Value::String(plain));
                }
            }
        }
    }
    Value::Object(map)
}

/// The row of record (terminal, number), as [`row_to_json`], or None.
pub(crate) fn pg_row_json(
    c: &mut impl GenericClient,
    sealer: Option<&Sealer>,
    kind: RecordKind,
    terminal: &str,
    number: &str,
) -> Result<Option<Value>> {
    let row = c.query_opt(
        &format!(
            "SELECT * FROM {} WHERE terminal = $1 AND number = $2",
            kind.table()
        ),
        &[&terminal, &number],
    )?;
    Ok(row.map(|r| row_to_json(&r, kind, sealer)))
}

/// Read one `evidence` row (columns as [`ENTRY_COLUMNS`]).
pub(super) fn entry_of(r: &Row) -> EvidenceEntry {
    EvidenceEntry {
        seq: r.get(0),
        at: r.get(1),
        action: r.get(2),
        record_kind: r.get(3),
        record_number: r.get(4),
        detail: r.get(5),
        chained_detail: None,
        payload_sha256: r.get(6),
        prev_hash: r.get(7),
        hash: r.get(8),
    }
}

/// A record located by its key: kind, terminal, number, site.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub(crate) kind: RecordKind,
    pub(crate) terminal: String,
    pub(crate) number: String,
    pub(crate) site: String,
}

/// Every table a record may be in, for "is this number taken anywhere".
pub(super) fn number_taken(c: &mut impl GenericClient, number: &str) -> Result<bool> {
    let sql = RecordKind::ALL
        .iter()
        .map(|k| format!("SELECT 1 FROM {} WHERE number = $1", k.table()))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    Ok(c.query_opt(&format!("{sql} LIMIT 1"), &[&number])?
        .is_some())
}

/// Key of the advisory lock that serialises bookings of one slot (or one mediator's
/// slot) across terminals.
pub(super) fn slot_lock(tx: &mut Transaction<'_>, what: &str) -> Result<()> {
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&what])?;
    Ok(())
}

/// Lock the `chain_head` row of `terminal`'s chain (made if new) until the transaction
/// ends: one writer per chain at a time, terminals side by side.
pub(crate) fn lock_chain(tx: &mut Transaction<'_>, terminal: &str, site: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO chain_head (terminal, site, seq, hash) VALUES ($1, $2, 0, '') ON CONFLICT (terminal) DO NOTHING",
        &[&terminal, &site],
    )?;
    tx.query_one(
        "SELECT seq FROM chain_head WHERE terminal = $1 FOR UPDATE",
        &[&terminal],
    )?;
    Ok(())
}

/// How an entry names its record: the number in the record's own chain, and
/// `terminal:number` in another chain (the centre's, for staff acting on a terminal's
/// record).
pub(crate) fn entry_key(chain: &str, row_terminal: &str, number: &str) -> String {
    if chain == row_terminal {
        number.to_string()
    } else {
        format!("{row_terminal}:{number}")
    }
}

/// The chains (terminal, site) that are not a delivering terminal's: the centre's own
/// (and migrated ones). Only these hold entries about other chains' records.
pub(crate) const CENTRE_CHAINS: &str = "SELECT terminal, site FROM chain_head
     WHERE NOT EXISTS (SELECT 1 FROM terminals t WHERE t.terminal = chain_head.terminal)";

/// The newest entry about a record in a chain other than its own (see [`centre_entry`]).
pub(crate) struct CentreEntry {
    pub(crate) chain: String,
    pub(crate) site: String,
    pub(crate) at: String,
    pub(crate) payload: String,
    pub(crate) status_set: bool,
}

/// The newest entry in a chain other than the record's own that is about record
/// (terminal, number): the centre's staff acted on it there. Newest by time, then by
/// entry number (the order the verifier reads them in, `pg_staff.rs`); `status_set`
/// says whether any such entry moved the record's status.
pub(crate) fn centre_entry(
    c: &mut impl GenericClient,
    terminal: &str,
    number: &str,
) -> Result<Option<CentreEntry>> {
    Ok(centre_entries(c, terminal, &[number.to_string()])?.remove(number))
}

/// [`centre_entry`] for several records of one terminal in one query (a delivered batch):
/// number -> entry, for those staff acted on.
pub(crate) fn centre_entries(
    c: &mut impl GenericClient,
    terminal: &str,
    numbers: &[String],
) -> Result<HashMap<String, CentreEntry>> {
    let keys: Vec<String> = numbers.iter().map(|n| format!("{terminal}:{n}")).collect();
    // only the chains of no delivering terminal can hold such entries: probe those by
    // the (terminal, record_number) index rather than scanning every chain
    let rows = c.query(
        &format!(
            "SELECT e.record_number, h.terminal, h.site, e.at, e.payload_sha256, e.action
             FROM ({CENTRE_CHAINS}) h
             CROSS JOIN LATERAL (SELECT record_number, at, payload_sha256, action, seq FROM evidence
                                 WHERE terminal = h.terminal AND record_number = ANY($1)) e
             ORDER BY e.at DESC, e.seq DESC"
        ),
        &[&keys],
    )?;
    let mut out: HashMap<String, CentreEntry> = HashMap::new();
    for r in rows {
        let key: String = r.get(0);
        let number = key[terminal.len() + 1..].to_string();
        let status = r.get::<_, String>(5) == "status";
        match out.get_mut(&number) {
            Some(e) => e.status_set |= status,
            None => {
                out.insert(
                    number,
                    CentreEntry {
                        chain: r.get(1),
                        site: r.get(2),
                        at: r.get(3),
                        payload: r.get(4),
                        status_set: status,
                    },
                );
            }
        }
    }
    Ok(out)
}

/// Append an entry to `chain` (terminal, site) for the current state of the record row
/// (terminal, number), inside the transaction that changed it, which holds the chain's
/// head row. An entry about another chain's record names it `terminal:number`, and is
/// never dated before the newest entry another chain holds about it (clocks differ; the
/// verifier takes the newest by time).
#[allow(clippy::too_many_arguments)]
pub(crate) fn append_to(
    tx: &mut Transaction<'_>,
    sealer: Option<&Sealer>,
    at: &str,
    (chain, site): (&str, &str),
    action: &str,
    kind: RecordKind,
    (row_terminal, number): (&str, &str),
    detail: &str,
) -> Result<EvidenceEntry> {
    let snap = pg_row_json(tx, sealer, kind, row_terminal, number)?
        .map(chained)
        .ok_or_else(|| StoreError::NotFound(number.to_string()))?;
    let key = entry_key(chain, row_terminal, number);
    let mut at = at.to_string();
    if chain != row_terminal {
        if let Some(newest) = centre_entry(tx, row_terminal, number)? {
            if newest.at > at {
                at = newest.at.clone();
            }
            if newest.at == at && newest.chain != chain {
                let t = parse_rfc3339(&at, chrono::Utc::now()) + Duration::seconds(1);
                at = rfc3339(t);
            }
        }
    }
    let head = tx.query_one(
        "SELECT seq, hash FROM chain_head WHERE terminal = $1",
        &[&chain],
    )?;
    let e = chain::next_entry(
        (head.get(0), head.get(1)),
        &at,
        action,
        kind,
        &key,
        detail,
        &snap,
    );
    tx.execute(
        "INSERT INTO evidence (site, terminal, seq, at, action, record_kind, record_number, detail, payload_sha256, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[&site, &chain, &e.seq, &e.at, &e.action, &e.record_kind, &e.record_number, &e.detail, &e.payload_sha256, &e.prev_hash, &e.hash],
    )?;
    tx.execute(
        "UPDATE chain_head SET seq = $2, hash = $3 WHERE terminal = $1",
        &[&chain, &e.seq, &e.hash],
    )?;
    Ok(e)
}

impl PgStore {
    /// Run `f` in a transaction that holds the `chain_head` row of `terminal` (made if
    /// new): one writer per chain at a time, terminals side by side.
    pub(super) fn write<T>(
        &self,
        terminal: &str,
        site: &str,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        lock_chain(&mut tx, terminal, site)?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Write a new record of this store's origin.
    pub(super) fn write_own<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>, &Origin) -> Result<T>,
    ) -> Result<T> {
        let origin = self.origin.clone();
        self.write(&origin.terminal, &origin.site, |tx| f(tx, &origin))
    }

    /// The next number the centre gives: `yymmdd` + the day's sequence from the one
    /// `counters` row (locked until commit), skipping any number a record already holds
    /// (one copied from a terminal).
    pub(crate) fn next_number(&self, tx: &mut Transaction<'_>) -> Result<String> {
        let day = self.clock.day();
        loop {
            let last: i64 = tx
                .query_one(
                    "INSERT INTO counters (day, last) VALUES ($1, 1)
                     ON CONFLICT (day) DO UPDATE SET last = counters.last + 1 RETURNING last",
                    &[&day],
                )?
                .get(0);
            let number = format!("{day}{last:04}");
            if !number_taken(tx, &number)? {
                return Ok(number);
            }
        }
    }

    /// The next row id of `kind` for `terminal` (inside its chain's transaction).
    pub(super) fn next_id(
        tx: &mut Transaction<'_>,
        kind: RecordKind,
        terminal: &str,
    ) -> Result<i64> {
        Ok(tx
            .query_one(
                &format!(
                    "SELECT COALESCE(MAX(id), 0) + 1 FROM {} WHERE terminal = $1",
                    kind.table()
                ),
                &[&terminal],
            )?
            .get(0))
    }

    /// Seal a personal field of record (terminal, number), keeping a lookup tag for
    /// each phone or ID number in it.
    pub(crate) fn sealed_pg(
        &self,
        tx: &mut Transaction<'_>,
        terminal: &str,
        number: &str,
        plain: String,
    ) -> Result<String> {
        let Some(sealer) = &self.sealer else {
            return Ok(plain);
        };
        for n in seal::numbers_in(&plain) {
            tx.execute(
                "INSERT INTO lookup (tag, terminal, number) VALUES ($1, $2, $3)",
                &[&sealer.tag(&n), &terminal, &number],
            )?;
        }
        sealer.seal(&plain)
    }

    /// Insert a record row: site, terminal, id and number first, then `cols`.
    pub(super) fn insert(
        tx: &mut Transaction<'_>,
        kind: RecordKind,
        origin: &Origin,
        number: &str,
        cols: &[&str],
        vals: &[P<'_>],
    ) -> Result<()> {
        let id = Self::next_id(tx, kind, &origin.terminal)?;
        let mut all: Vec<P<'_>> = vec![&origin.site, &origin.terminal, &id, &number];
        all.extend_from_slice(vals);
        let names = cols.join(", ");
        let marks = (1..=all.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        tx.execute(
            &format!(
                "INSERT INTO {} (site, terminal, id, number, {names}) VALUES ({marks})",
                kind.table()
            ),
            &all,
        )?;
        Ok(())
    }

    /// Append an entry to `terminal`'s own chain for the record's current state (inside
    /// the transaction that changed it, which holds the chain's head row).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn append(
        &self,
        tx: &mut Transaction<'_>,
        terminal: &str,
        site: &str,
        action: &str,
        kind: RecordKind,
        number: &str,
        detail: &str,
    ) -> Result<EvidenceEntry> {
        append_to(
            tx,
            self.sealer.as_ref(),
            &self.clock.rfc3339(),
            (terminal, site),
            action,
            kind,
            (terminal, number),
            detail,
        )
    }

    /// A staff entry about record `at`, appended to `chain` (terminal, site): the
    /// record's own chain, or the centre's for a record a delivering terminal owns. A
    /// staff note is chained as its hash (as `chain::append_noted`), its text kept in
    /// `notes` under the entry.
    pub(super) fn append_noted(
        &self,
        tx: &mut Transaction<'_>,
        at: &Located,
        (chain, site): (&str, &str),
        action: &str,
        prefix: &str,
        note: &str,
    ) -> Result<EvidenceEntry> {
        let note = note.trim();
        let detail = if note.is_empty() {
            prefix.to_string()
        } else {
            let sep = if prefix.is_empty() { "" } else { "; " };
            format!(
                "{prefix}{sep}note sha256:{}",
                chain::sha256_hex(note.as_bytes())
            )
        };
        let e = append_to(
            tx,
            self.sealer.as_ref(),
            &self.clock.rfc3339(),
            (chain, site),
            action,
            at.kind,
            (&at.terminal, &at.number),
            &detail,
        )?;
        if !note.is_empty() {
            tx.execute(
                "INSERT INTO notes (terminal, seq, record_number, note) VALUES ($1, $2, $3, $4)",
                &[&chain, &e.seq, &e.record_number, &note],
            )?;
        }
        Ok(e)
    }

    /// Find a record by its key: a number (`2611290017`, `TJ…`), or `terminal:number` for
    /// a number more than one terminal holds. None when no record has it; an error naming
    /// the terminals when the number alone is ambiguous.
    pub(crate) fn locate(&self, c: &mut impl GenericClient, key: &str) -> Result<Option<Located>> {
        let (terminal, number) = match key.trim().rsplit_once(':') {
            Some((t, n)) if !t.trim().is_empty() => (Some(t.trim().to_string()), n),
            _ => (None, key),
        };
        let number = normalise_number(number);
        let mut found = Vec::new();
        for kind in RecordKind::ALL {
            for r in c.query(
                &format!(
                    "SELECT terminal, site FROM {} WHERE number = $1 AND ($2::text IS NULL OR terminal = $2)",
                    kind.table()
                ),
                &[&number, &terminal],
            )? {
                found.push(Located {
                    kind,
                    terminal: r.get(0),
                    number: number.clone(),
                    site: r.get(1),
                });
            }
        }
        if found.len() > 1 {
            let names: Vec<String> = found.iter().map(|l| l.terminal.clone()).collect();
            return Err(StoreError::Invalid(format!(
                "record number {number} is held by terminals {}: name it as <terminal>:{number}",
                names.join(", ")
            )));
        }
        Ok(found.pop())
    }

    /// Locate `key` for a write, or [`StoreError::NotFound`].
    pub(super) fn located(&self, key: &str) -> Result<Located> {
        let mut c = self.conn()?;
        self.locate(&mut *c, key)?
            .ok_or_else(|| StoreError::NotFound(normalise_number(key)))
    }

    // ---- writing ----

    pub(crate) fn pg_file_declaration(&self, f: &NewFiling) -> Result<FilingReceipt> {
        if f.form_id.trim().is_empty() || f.fields.is_empty() {
            return Err(StoreError::Invalid(
                "a filing needs a form id and at least one field".into(),
            ));
        }
        let now = self.clock.rfc3339();
        let number = self.write_own(|tx, o| {
            let number = self.next_number(tx)?;
            let status = if f.materials_owed.is_empty() {
                "filed"
            } else {
                "materials_owed"
            };
            let fields =
                self.sealed_pg(tx, &o.terminal, &number, serde_json::to_string(&f.fields)?)?;
            let owed = serde_json::to_string(&f.materials_owed)?;
            Self::insert(
                tx,
                RecordKind::Filing,
                o,
                &number,
                &[
                    "form_id",
                    "form_title",
                    "fields",
                    "materials_owed",
                    "commitment",
                    "status",
                    "created_at",
                    "updated_at",
                    "session_id",
                ],
                &[
                    &f.form_id,
                    &f.form_title,
                    &fields,
                    &owed,
                    &f.commitment,
                    &status,
                    &now,
                    &now,
                    &f.session_id,
                ],
            )?;
            self.append(
                tx,
                &o.terminal,
                &o.site,
                "created",
                RecordKind::Filing,
                &number,
                &f.form_id,
            )?;
            Ok(number)
        })?;
        Ok(FilingReceipt {
            number,
            materials_owed: f.materials_owed.clone(),
            created_at: parse_rfc3339(&now, self.clock.now()),
            check_code: None,
        })
    }

    pub(crate) fn pg_record_event(&self, e: &NewEvent) -> Result<EventReceipt> {
        let now = self.clock.rfc3339();
        let kind = match e.kind {
            EventKind::Emergency => "emergency",
            EventKind::Handoff => "handoff",
        };
        let number = self.write_own(|tx, o| {
            let number = self.next_number(tx)?;
            let transcript = self.sealed_pg(
                tx,
                &o.terminal,
                &number,
                serde_json::to_string(&e.transcript)?,
            )?;
            Self::insert(
                tx,
                RecordKind::Event,
                o,
                &number,
                &[
                    "event_kind",
                    "summary",
                    "transcript",
                    "wait_at",
                    "needs",
                    "status",
                    "created_at",
                    "updated_at",
                    "session_id",
                ],
                &[
                    &kind,
                    &e.summary,
                    &transcript,
                    &e.wait_at,
                    &e.needs,
                    &"open",
                    &now,
                    &now,
                    &e.session_id,
                ],
            )?;
            self.append(
                tx,
                &o.terminal,
                &o.site,
                "created",
                RecordKind::Event,
                &number,
                kind,
            )?;
            Ok(number)
        })?;
        Ok(EventReceipt {
            number,
            created_at: parse_rfc3339(&now, self.clock.now()),
            check_code: None,
        })
    }

    pub(crate) fn pg_record_feedback(&self, f: &NewFeedback) -> Result<String> {
        if f.rating.is_some_and(|r| !(1..=5).contains(&r)) {
            return Err(StoreError::Invalid("a rating is 1 to 5".into()));
        }
        let now = self.clock.rfc3339();
        let rating = f.rating.map(i64::from);
        self.write_own(|tx, o| {
            let number = self.next_number(tx)?;
            let contact =
                self.sealed_pg(tx, &o.terminal, &number, serde_json::to_string(&f.contact)?)?;
            Self::insert(
                tx,
                RecordKind::Feedback,
                o,
                &number,
                &[
                    "feedback_kind",
                    "text",
                    "place",
                    "service_id",
                    "rating",
                    "contact",
                    "status",
                    "created_at",
                    "updated_at",
                    "session_id",
                ],
                &[
                    &f.kind.as_str(),
                    &f.text,
                    &f.place,
                    &f.service_id,
                    &rating,
                    &contact,
                    &"open",
                    &now,
                    &now,
                    &f.session_id,
                ],
            )?;
            self.append(
                tx,
                &o.terminal,
                &o.site,
                "created",
                RecordKind::Feedback,
                &number,
                f.kind.as_str(),
            )?;
            Ok(number)
        })
    }

    pub(crate) fn pg_save_draft(&self, d: &NewDraft) -> Result<String> {
        let now = self.clock.rfc3339();
        self.write_own(|tx, o| {
            let number = self.next_number(tx)?;
            let fields =
                self.sealed_pg(tx, &o.terminal, &number, serde_json::to_string(&d.fields)?)?;
            Self::insert(
                tx,
                RecordKind::Draft,
                o,
                &number,
                &[
                    "form_id",
                    "fields",
                    "reason",
                    "status",
                    "created_at",
                    "updated_at",
                    "session_id",
                ],
                &[
                    &d.form_id,
                    &fields,
                    &d.reason,
                    &"open",
                    &now,
                    &now,
                    &d.session_id,
                ],
            )?;
            self.append(
                tx,
                &o.terminal,
                &o.site,
                "created",
                RecordKind::Draft,
                &number,
                &d.reason,
            )?;
            Ok(number)
        })
    }

    pub(crate) fn pg_open_case(&self, c: &NewCase) -> Result<CaseReceipt> {
        let created = self.clock.now();
        let now = rfc3339(created);
        let due = parse_rfc3339(&now, created) + Duration::hours(FOLLOW_UP_HOURS);
        let status = if c.danger {
            "escalated"
        } else if c.slot.is_some() {
            "scheduled"
        } else {
            "open"
        };
        let slot_start = c.slot.as_ref().map(|s| s.start.format(TS).to_string());
        let mediator = c.slot.as_ref().map(|s| s.mediator.clone());
        let slot_place = c.slot.as_ref().map(|s| s.place.clone());
        let danger = i64::from(c.danger);
        let due_s = rfc3339(due);
        let number = self.write_own(|tx, o| {
            if let (Some(m), Some(start)) = (&mediator, &slot_start) {
                // a mediator's slot is the centre's: held against every terminal's cases
                slot_lock(tx, &format!("mediator:{m}:{start}"))?;
                let taken: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM cases WHERE mediator = $1 AND slot_start = $2 AND status != 'closed'",
                        &[m, start],
                    )?
                    .get(0);
                if taken > 0 {
                    let shown = c
                        .slot
                        .as_ref()
                        .map(|s| s.start.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default();
                    return Err(StoreError::SlotTaken(shown));
                }
            }
            let number = self.next_number(tx)?;
            let resident =
                self.sealed_pg(tx, &o.terminal, &number, serde_json::to_string(&c.resident)?)?;
            Self::insert(
                tx,
                RecordKind::Case,
                o,
                &number,
                &["dispute_kind", "dispute_name", "resident", "other_party", "place", "what_happened", "wanted_outcome",
                  "danger", "slot_start", "mediator", "slot_place", "follow_up_due", "status", "created_at", "updated_at", "session_id"],
                &[&c.dispute_kind, &c.dispute_name, &resident, &c.other_party, &c.place, &c.what_happened, &c.wanted_outcome,
                  &danger, &slot_start, &mediator, &slot_place, &due_s, &status, &now, &now, &c.session_id],
            )?;
            self.append(tx, &o.terminal, &o.site, "created", RecordKind::Case, &number, &c.dispute_kind)?;
            Ok(number)
        })?;
        Ok(CaseReceipt {
            display_number: format!("{CASE_PREFIX}{number}"),
            number,
            follow_up_due: due,
            slot: c.slot.clone(),
            check_code: None,
        })
    }

    pub(crate) fn pg_take_ticket(&self, service_id: &str, session_id: &str) -> Result<QueueTicket> {
        let day = self.clock.day();
        let now = self.clock.rfc3339();
        let (number, ticket, ahead) = self.write_own(|tx, o| {
            let ticket: i64 = tx
                .query_one(
                    "SELECT COALESCE(MAX(ticket), 0) + 1 FROM queue WHERE terminal = $1 AND day = $2",
                    &[&o.terminal, &day],
                )?
                .get(0);
            let ahead: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM queue WHERE terminal = $1 AND day = $2 AND service_id = $3 AND status = 'waiting'",
                    &[&o.terminal, &day, &service_id],
                )?
                .get(0);
            let number = self.next_number(tx)?;
            Self::insert(
                tx,
                RecordKind::Queue,
                o,
                &number,
                &["service_id", "day", "ticket", "status", "created_at", "updated_at", "session_id"],
                &[&service_id, &day, &ticket, &"waiting", &now, &now, &session_id],
            )?;
            self.append(tx, &o.terminal, &o.site, "created", RecordKind::Queue, &number, service_id)?;
            Ok((number, ticket, ahead))
        })?;
        Ok(QueueTicket {
            number,
            service_id: service_id.to_string(),
            ticket: u32::try_from(ticket).unwrap_or(u32::MAX),
            ahead: u32::try_from(ahead).unwrap_or(u32::MAX),
        })
    }

    fn booked_count(
        c: &mut impl GenericClient,
        service: &str,
        start: NaiveDateTime,
    ) -> Result<u32> {
        let n: i64 = c
            .query_one(
                "SELECT COUNT(*) FROM appointments WHERE service_id = $1 AND slot_start = $2 AND status = 'booked'",
                &[&service, &start.format(TS).to_string()],
            )?
            .get(0);
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn free_slots_in(
        c: &mut impl GenericClient,
        cfg: &AppointmentConfig,
        service: &str,
        after: NaiveDateTime,
        n: usize,
    ) -> Result<Vec<NaiveDateTime>> {
        let mut out = Vec::new();
        for start in cfg.starts_after(service, after) {
            if out.len() >= n {
                break;
            }
            if Self::booked_count(c, service, start)? < cfg.capacity(service, start).unwrap_or(0) {
                out.push(start);
            }
        }
        Ok(out)
    }

    pub(crate) fn pg_book_appointment(
        &self,
        cfg: &AppointmentConfig,
        a: &NewAppointment,
    ) -> Result<Booking> {
        if a.service_id.trim().is_empty() {
            return Err(StoreError::Invalid(
                "appointment without a service id".into(),
            ));
        }
        let now_local = cfg.now.unwrap_or_else(|| self.clock.local_now());
        let now = self.clock.rfc3339();
        let start = a.start.format(TS).to_string();
        self.write_own(|tx, o| {
            // a slot's capacity is the centre's: bookings from every terminal count
            slot_lock(tx, &format!("slot:{}:{start}", a.service_id))?;
            let horizon = now_local + Duration::days(i64::from(cfg.horizon_days.max(1)));
            let refusal = if a.start <= now_local || a.start > horizon {
                Some((RefusalReason::OutOfRange, now_local))
            } else {
                match cfg.capacity(&a.service_id, a.start) {
                    None => Some((RefusalReason::NotOffered, a.start.max(now_local))),
                    Some(cap) if Self::booked_count(tx, &a.service_id, a.start)? >= cap => {
                        Some((RefusalReason::Full, a.start.max(now_local)))
                    }
                    Some(_) => None,
                }
            };
            if let Some((reason, from)) = refusal {
                let alternatives = Self::free_slots_in(tx, cfg, &a.service_id, from, 3)?;
                return Ok(Booking::Refused(Refusal {
                    reason,
                    alternatives,
                }));
            }
            let number = self.next_number(tx)?;
            let contact =
                self.sealed_pg(tx, &o.terminal, &number, serde_json::to_string(&a.contact)?)?;
            Self::insert(
                tx,
                RecordKind::Appointment,
                o,
                &number,
                &[
                    "service_id",
                    "slot_start",
                    "contact",
                    "status",
                    "created_at",
                    "updated_at",
                    "session_id",
                ],
                &[
                    &a.service_id,
                    &start,
                    &contact,
                    &"booked",
                    &now,
                    &now,
                    &a.session_id,
                ],
            )?;
            self.append(
                tx,
                &o.terminal,
                &o.site,
                "created",
                RecordKind::Appointment,
                &number,
                &a.service_id,
            )?;
            Ok(Booking::Booked(AppointmentReceipt {
                number,
                service_id: a.service_id.clone(),
                start: a.start,
                check_code: None,
            }))
        })
    }
}
