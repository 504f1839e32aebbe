//! Moving a terminal's SQLite store into the centre's PostgreSQL (`xiaoan records migrate
//! --to postgres://…`): its records, its whole evidence chain and its staff notes, as
//! that terminal's chain in the centre.
//!
//! - The chain is copied entry for entry (same seq, same hashes), so it verifies in the
//!   centre exactly as it did in the file; record rows are copied with their ids and
//!   numbers, personal fields opened with the terminal's field key and sealed again with
//!   the centre's (the chained hashes are over the opened content, so they still hold).
//! - Idempotent: the centre's copy of the chain must be a prefix of the file's (else
//!   nothing is written and the entry where they part is named); only the entries past
//!   it are added, and a record row is written only when its content differs from the
//!   centre's. Run it again after more filings and it brings the centre up to date.
//! - One transaction, holding the terminal's chain head: all or nothing.

use std::collections::{BTreeMap, HashMap};

use postgres::types::{ToSql, Type};
use postgres::Transaction;
use rusqlite::TransactionBehavior;
use serde::Serialize;
use serde_json::Value;

use super::pg_records::row_to_json;
use super::postgres::PgStore;
use crate::chain::{self, chained, read_entry, EvidenceEntry, ENTRY_COLUMNS};
use crate::error::{Result, StoreError};
use crate::seal::personal_columns;
use crate::{RecordKind, Store, VerifyReport};

/// What a migration copied, and the centre's check of the result.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    /// The terminal whose chain it is in the centre.
    pub terminal: String,
    /// Entries in the file's chain.
    pub entries: u64,
    /// Entries added to the centre this run (0 when it was already up to date).
    pub entries_copied: u64,
    /// Record rows written this run (new, or changed since the last run).
    pub rows_written: u64,
    /// Staff notes added this run.
    pub notes_copied: u64,
    /// Records of this terminal in the centre after the run, by kind.
    pub records: BTreeMap<String, u64>,
    /// The centre's check of this terminal's chain and records after the run.
    pub verify: VerifyReport,
}

/// Everything read from the file, in one read transaction.
struct Source {
    entries: Vec<EvidenceEntry>,
    notes: Vec<(i64, String, String)>,
    rows: Vec<(RecordKind, Value)>,
}

fn read_source(src: &Store) -> Result<Source> {
    let tx = rusqlite::Transaction::new_unchecked(&src.conn, TransactionBehavior::Deferred)?;
    let entries = {
        let mut stmt = tx.prepare(&format!(
            "SELECT {ENTRY_COLUMNS} FROM evidence ORDER BY seq"
        ))?;
        let rows = stmt.query_map([], read_entry)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let notes = {
        let mut stmt = tx.prepare("SELECT seq, record_number, note FROM notes ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let mut rows = Vec::new();
    for kind in RecordKind::ALL {
        let numbers: Vec<String> = {
            let mut stmt =
                tx.prepare(&format!("SELECT number FROM {} ORDER BY id", kind.table()))?;
            let r = stmt.query_map([], |r| r.get::<_, String>(0))?;
            r.collect::<rusqlite::Result<Vec<_>>>()?
        };
        for n in numbers {
            if let Some(row) = chain::row_json(&tx, src.sealer.as_ref(), kind, &n)? {
                rows.push((kind, row));
            }
        }
    }
    tx.commit()?;
    Ok(Source {
        entries,
        notes,
        rows,
    })
}

/// A JSON value as a parameter of PostgreSQL type `ty`.
fn param(v: &Value, ty: &Type, col: &str) -> Result<Box<dyn ToSql + Sync>> {
    let bad = || StoreError::Invalid(format!("column {col}: cannot copy the value {v} as {ty}"));
    Ok(if *ty == Type::INT8 {
        match v {
            Value::Null => Box::new(None::<i64>),
            Value::Number(n) => Box::new(Some(n.as_i64().ok_or_else(bad)?)),
            _ => return Err(bad()),
        }
    } else if *ty == Type::INT4 {
        match v {
            Value::Null => Box::new(None::<i32>),
            Value::Number(n) => Box::new(Some(
                n.as_i64()
                    .and_then(|x| i32::try_from(x).ok())
                    .ok_or_else(bad)?,
            )),
            _ => return Err(bad()),
        }
    } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
        match v {
            Value::Null => Box::new(None::<String>),
            Value::String(s) => Box::new(Some(s.clone())),
            other => Box::new(Some(other.to_string())),
        }
    } else {
        return Err(bad());
    })
}

impl PgStore {
    /// Copy the SQLite store `src` into this centre store as terminal `terminal`'s chain
    /// and records (see the module doc), then verify that terminal here.
    pub fn import_sqlite(&self, src: &Store, terminal: &str) -> Result<MigrationReport> {
        let terminal = terminal.trim();
        if terminal.is_empty() {
            return Err(StoreError::Invalid(
                "migration needs a terminal name".into(),
            ));
        }
        let source = read_source(src)?;
        let default_site = src.origin().site.clone();
        let (entries_copied, rows_written, notes_copied) = {
            let mut c = self.conn()?;
            let mut tx = c.transaction()?;
            let counts = self.import_in(&mut tx, &source, terminal, &default_site)?;
            tx.commit()?;
            counts
        };
        let verify = self.verify_terminal(terminal)?;
        let mut records = BTreeMap::new();
        {
            let mut c = self.conn()?;
            for kind in RecordKind::ALL {
                let n: i64 = c
                    .query_one(
                        &format!("SELECT COUNT(*) FROM {} WHERE terminal = $1", kind.table()),
                        &[&terminal],
                    )?
                    .get(0);
                records.insert(kind.as_str().to_string(), u64::try_from(n).unwrap_or(0));
            }
        }
        Ok(MigrationReport {
            terminal: terminal.to_string(),
            entries: source.entries.len() as u64,
            entries_copied,
            rows_written,
            notes_copied,
            records,
            verify,
        })
    }

    fn import_in(
        &self,
        tx: &mut Transaction<'_>,
        source: &Source,
        terminal: &str,
        default_site: &str,
    ) -> Result<(u64, u64, u64)> {
        tx.execute(
            "INSERT INTO chain_head (terminal, site, seq, hash) VALUES ($1, $2, 0, '') ON CONFLICT (terminal) DO NOTHING",
            &[&terminal, &default_site],
        )?;
        tx.query_one(
            "SELECT seq FROM chain_head WHERE terminal = $1 FOR UPDATE",
            &[&terminal],
        )?;
        // the centre's copy must be a prefix of the file's chain
        let held: Vec<(i64, String)> = tx
            .query(
                "SELECT seq, hash FROM evidence WHERE terminal = $1 ORDER BY seq",
                &[&terminal],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let by_seq: HashMap<i64, &EvidenceEntry> =
            source.entries.iter().map(|e| (e.seq, e)).collect();
        for (seq, hash) in &held {
            match by_seq.get(seq) {
                Some(e) if &e.hash == hash => {}
                Some(_) => {
                    return Err(StoreError::Invalid(format!(
                        "terminal {terminal}'s chain in the centre differs from this file at entry {seq}: nothing was copied"
                    )))
                }
                None => {
                    return Err(StoreError::Invalid(format!(
                        "the centre holds entry {seq} of terminal {terminal}, which this file does not have (a shorter or another file?): nothing was copied"
                    )))
                }
            }
        }
        let held_to = held.last().map_or(0, |h| h.0);
        let site_of: HashMap<&str, String> = source
            .rows
            .iter()
            .map(|(_, r)| {
                let num = r.get("number").and_then(Value::as_str).unwrap_or("");
                let site = r
                    .get("site")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .unwrap_or(default_site);
                (num, site.to_string())
            })
            .collect();
        let mut entries_copied = 0u64;
        for e in source.entries.iter().filter(|e| e.seq > held_to) {
            let site = site_of
                .get(e.record_number.as_str())
                .map_or(default_site, String::as_str);
            tx.execute(
                "INSERT INTO evidence (site, terminal, seq, at, action, record_kind, record_number, detail, payload_sha256, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[&site, &terminal, &e.seq, &e.at, &e.action, &e.record_kind, &e.record_number, &e.detail, &e.payload_sha256, &e.prev_hash, &e.hash],
            )?;
            entries_copied += 1;
        }
        if let Some(last) = source.entries.last().filter(|l| l.seq > held_to) {
            tx.execute(
                "UPDATE chain_head SET seq = $2, hash = $3 WHERE terminal = $1",
                &[&terminal, &last.seq, &last.hash],
            )?;
        }
        let mut notes_copied = 0u64;
        for (seq, number, note) in &source.notes {
            notes_copied += tx.execute(
                "INSERT INTO notes (terminal, seq, record_number, note) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (terminal, seq) DO NOTHING",
                &[&terminal, seq, number, note],
            )?;
        }
        let mut rows_written = 0u64;
        for kind in RecordKind::ALL {
            let held: HashMap<String, Value> = tx
                .query(
                    &format!("SELECT * FROM {} WHERE terminal = $1", kind.table()),
                    &[&terminal],
                )?
                .iter()
                .map(|r| {
                    let v = chained(row_to_json(r, kind, self.sealer.as_ref()));
                    let n = v
                        .get("number")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    (n, v)
                })
                .collect();
            for (_, row) in source.rows.iter().filter(|(k, _)| *k == kind) {
                let number = row.get("number").and_then(Value::as_str).unwrap_or("");
                if held.get(number) == Some(&chained(row.clone())) {
                    continue;
                }
                self.upsert_row(tx, kind, row, terminal, default_site)?;
                rows_written += 1;
            }
        }
        // the centre's own numbers of those days continue past the file's
        tx.execute(
            "INSERT INTO counters (day, last)
             SELECT substr(number, 1, 6), MAX(CAST(substr(number, 7) AS BIGINT)) FROM (
                 SELECT number FROM filings WHERE terminal = $1 UNION ALL SELECT number FROM cases WHERE terminal = $1
                 UNION ALL SELECT number FROM events WHERE terminal = $1 UNION ALL SELECT number FROM appointments WHERE terminal = $1
                 UNION ALL SELECT number FROM queue WHERE terminal = $1 UNION ALL SELECT number FROM feedback WHERE terminal = $1
                 UNION ALL SELECT number FROM drafts WHERE terminal = $1) n
             WHERE length(number) = 10 AND number ~ '^[0-9]+$' GROUP BY 1
             ON CONFLICT (day) DO UPDATE SET last = GREATEST(counters.last, EXCLUDED.last)",
            &[&terminal],
        )?;
        Ok((entries_copied, rows_written, notes_copied))
    }

    /// Write one record row of the file as `terminal`'s, personal fields sealed with the
    /// centre's key and their lookup tags renewed.
    fn upsert_row(
        &self,
        tx: &mut Transaction<'_>,
        kind: RecordKind,
        row: &Value,
        terminal: &str,
        default_site: &str,
    ) -> Result<()> {
        let Value::Object(map) = row else {
            return Err(StoreError::Invalid("a record row is not an object".into()));
        };
        let number = map
            .get("number")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        tx.execute(
            "DELETE FROM lookup WHERE terminal = $1 AND number = $2",
            &[&terminal, &number],
        )?;
        let mut cols: Vec<(String, Value)> = Vec::new();
        for (name, v) in map {
            let v = match name.as_str() {
                "terminal" => Value::String(terminal.to_string()),
                "site" if v.as_str().is_none_or(str::is_empty) => {
                    Value::String(default_site.to_string())
                }
                n if personal_columns(kind).contains(&n) => match v {
                    Value::String(plain) => {
                        Value::String(self.sealed_pg(tx, terminal, &number, plain.clone())?)
                    }
                    other => other.clone(),
                },
                _ => v.clone(),
            };
            cols.push((name.clone(), v));
        }
        if !cols.iter().any(|(n, _)| n == "site") {
            cols.push(("site".into(), Value::String(default_site.to_string())));
        }
        if !cols.iter().any(|(n, _)| n == "terminal") {
            cols.push(("terminal".into(), Value::String(terminal.to_string())));
        }
        for (n, _) in &cols {
            if !n.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                return Err(StoreError::Invalid(format!("unexpected column name {n}")));
            }
        }
        let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        let updates: Vec<String> = names
            .iter()
            .filter(|n| !matches!(**n, "terminal" | "id"))
            .map(|n| format!("{n} = EXCLUDED.{n}"))
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (terminal, id) DO UPDATE SET {}",
            kind.table(),
            names.join(", "),
            marks.join(", "),
            updates.join(", ")
        );
        let stmt = tx.prepare(&sql)?;
        let params: Vec<Box<dyn ToSql + Sync>> = cols
            .iter()
            .zip(stmt.params())
            .map(|((n, v), ty)| param(v, ty, n))
            .collect::<Result<_>>()?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|b| b.as_ref()).collect();
        tx.execute(&stmt, &refs)?;
        Ok(())
    }
}
