//! Staff's side of the records in the centre's PostgreSQL: status moves, notes and
//! access entries, listings and one record, look-ups, follow-ups, the queue, and
//! verifying every chain. Writing records is `pg_records.rs`.
//!
//! A record a delivering terminal owns is acted on at the centre too, but its chain is
//! the terminal's alone (an entry the centre added would fork it): staff's entries about
//! it go to the centre's own chain (this store's origin), naming it `terminal:number`.
//! From the first status move there, the row's status is the centre's (a later delivery
//! keeps it, `centre/pg.rs`), and the verifier checks the row against the newest entry
//! the centre's chains hold about it, else against its own chain's latest.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use postgres::{GenericClient, Transaction};
use serde_json::Value;

use super::pg_records::{
    append_to, entry_of, lock_chain, pg_row_json, row_to_json, Located, CENTRE_CHAINS,
};
use super::postgres::PgStore;
use super::Filter;
use crate::chain::{
    self, chained, shown_detail, ChainParts, EvidenceEntry, Problem, VerifyReport, ENTRY_COLUMNS,
};
use crate::clock::rfc3339;
use crate::error::{Result, StoreError};
use crate::views::{shown_record, sort_newest_first, summarise};
use crate::{QueueStatus, RecordDetail, RecordKind, RecordSummary};

impl PgStore {
    // ---- staff actions ----

    /// Whether `terminal` delivers its chain here (and is not this store's own origin):
    /// then only it appends to that chain, and staff's entries go to the centre's.
    fn delivers_here(&self, terminal: &str) -> Result<bool> {
        if terminal == self.origin.terminal {
            return Ok(false);
        }
        Ok(self
            .conn()?
            .query_opt("SELECT 1 FROM terminals WHERE terminal = $1", &[&terminal])?
            .is_some())
    }

    /// Run a staff action on record `at` in one transaction; `f` gets the chain its entry
    /// goes to (terminal, site). For a delivering terminal's record that is this store's
    /// own chain, and the terminal's row in `terminals` is locked first: its deliveries
    /// lock it too, so a delivery and a staff action on its records apply one after the
    /// other (and always in the order: terminal, centre's chain head, record row).
    fn staff_write<T>(
        &self,
        at: &Located,
        f: impl FnOnce(&mut Transaction<'_>, (&str, &str)) -> Result<T>,
    ) -> Result<T> {
        let chain = if self.delivers_here(&at.terminal)? {
            (self.origin.terminal.clone(), self.origin.site.clone())
        } else {
            (at.terminal.clone(), at.site.clone())
        };
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        if chain.0 != at.terminal {
            tx.query_opt(
                "SELECT 1 FROM terminals WHERE terminal = $1 FOR UPDATE",
                &[&at.terminal],
            )?;
        }
        lock_chain(&mut tx, &chain.0, &chain.1)?;
        let out = f(&mut tx, (&chain.0, &chain.1))?;
        tx.commit()?;
        Ok(out)
    }

    pub(crate) fn pg_set_status(&self, key: &str, status: &str, note: &str) -> Result<()> {
        let at = self.located(key)?;
        let kind = at.kind;
        if !kind.statuses().contains(&status) {
            return Err(StoreError::BadStatus {
                kind: kind.as_str(),
                status: status.to_string(),
                allowed: kind.statuses().join(", "),
            });
        }
        let now = self.clock.rfc3339();
        self.staff_write(&at, |tx, chain| {
            let old: String = tx
                .query_one(
                    &format!(
                        "SELECT status FROM {} WHERE terminal = $1 AND number = $2 FOR UPDATE",
                        kind.table()
                    ),
                    &[&at.terminal, &at.number],
                )?
                .get(0);
            if old == status {
                return Ok(());
            }
            let next = kind.next_statuses(&old);
            if !next.contains(&status) {
                return Err(StoreError::Transition {
                    kind: kind.as_str(),
                    number: at.number.clone(),
                    from: old,
                    to: status.to_string(),
                    allowed: if next.is_empty() {
                        "none: it is final".to_string()
                    } else {
                        next.join(", ")
                    },
                });
            }
            tx.execute(
                &format!(
                    "UPDATE {} SET status = $1, updated_at = $2 WHERE terminal = $3 AND number = $4",
                    kind.table()
                ),
                &[&status, &now, &at.terminal, &at.number],
            )?;
            self.append_noted(tx, &at, chain, "status", &format!("{old} -> {status}"), note)?;
            Ok(())
        })
    }

    pub(crate) fn pg_add_note(&self, key: &str, note: &str) -> Result<()> {
        let at = self.located(key)?;
        self.staff_write(&at, |tx, chain| {
            self.append_noted(tx, &at, chain, "note", "", note)
                .map(|_| ())
        })
    }

    pub(crate) fn pg_note_access(&self, key: &str, detail: &str) -> Result<()> {
        let at = self.located(key)?;
        self.staff_write(&at, |tx, chain| {
            append_to(
                tx,
                self.sealer.as_ref(),
                &self.clock.rfc3339(),
                chain,
                "access",
                at.kind,
                (&at.terminal, &at.number),
                detail,
            )
            .map(|_| ())
        })
    }

    // ---- reading ----

    pub(crate) fn pg_records(&self, filter: &Filter, reveal: bool) -> Result<Vec<RecordSummary>> {
        if filter.status.is_some() && filter.kind.is_none() {
            return Err(StoreError::Invalid("a status filter needs a kind".into()));
        }
        let kinds: Vec<RecordKind> = match filter.kind {
            Some(k) => vec![k],
            None => RecordKind::ALL.to_vec(),
        };
        let limit = filter.limit();
        let lim = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut c = self.conn()?;
        let mut out = Vec::new();
        for k in kinds {
            let rows = c.query(
                &format!(
                    "SELECT * FROM {} WHERE ($1::text IS NULL OR site = $1) AND ($2::text IS NULL OR status = $2)
                     ORDER BY created_at DESC, id DESC LIMIT $3",
                    k.table()
                ),
                &[&filter.site, &filter.status, &lim],
            )?;
            for r in rows {
                out.push(summarise(
                    k,
                    &row_to_json(&r, k, self.sealer.as_ref()),
                    reveal,
                ));
            }
        }
        sort_newest_first(&mut out);
        out.truncate(limit);
        Ok(out)
    }

    pub(crate) fn pg_show(&self, key: &str, reveal: bool) -> Result<Option<RecordDetail>> {
        let mut c = self.conn()?;
        let Some(at) = self.locate(&mut *c, key)? else {
            return Ok(None);
        };
        let Some(row) = pg_row_json(
            &mut *c,
            self.sealer.as_ref(),
            at.kind,
            &at.terminal,
            &at.number,
        )?
        else {
            return Ok(None);
        };
        let history = Self::history(&mut *c, &at.terminal, &at.number, reveal)?;
        Ok(Some(RecordDetail {
            summary: summarise(at.kind, &row, reveal),
            record: shown_record(row, reveal),
            history,
        }))
    }

    fn history(
        c: &mut impl GenericClient,
        terminal: &str,
        number: &str,
        reveal: bool,
    ) -> Result<Vec<EvidenceEntry>> {
        let rows = c.query(
            "SELECT e.seq, e.at, e.action, e.record_kind, e.record_number, e.detail, e.payload_sha256, e.prev_hash, e.hash, n.note
             FROM evidence e LEFT JOIN notes n ON n.terminal = e.terminal AND n.seq = e.seq
             WHERE (e.terminal = $1 AND e.record_number = $2) OR e.record_number = $3
             ORDER BY e.at, e.terminal = $1 DESC, e.seq",
            &[&terminal, &number, &format!("{terminal}:{number}")],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut e = entry_of(&r);
            let note: Option<String> = r.get(9);
            let shown = shown_detail(&e, note.as_deref(), reveal);
            if shown != e.detail {
                e.chained_detail = Some(std::mem::replace(&mut e.detail, shown));
            }
            out.push(e);
        }
        Ok(out)
    }

    pub(crate) fn pg_find_by_personal_number(
        &self,
        personal: &str,
        reveal: bool,
    ) -> Result<Vec<RecordSummary>> {
        let Some(sealer) = &self.sealer else {
            return Ok(Vec::new());
        };
        let mut c = self.conn()?;
        let pairs = c.query(
            "SELECT DISTINCT terminal, number FROM lookup WHERE tag = $1 ORDER BY number DESC",
            &[&sealer.tag(personal)],
        )?;
        let mut out = Vec::new();
        for p in pairs {
            let (terminal, number): (String, String) = (p.get(0), p.get(1));
            for kind in RecordKind::ALL {
                if let Some(row) = pg_row_json(&mut *c, Some(sealer), kind, &terminal, &number)? {
                    out.push(summarise(kind, &row, reveal));
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn pg_follow_ups_due(&self, by: DateTime<Utc>) -> Result<Vec<RecordSummary>> {
        let mut c = self.conn()?;
        let rows = c.query(
            "SELECT * FROM cases WHERE follow_up_due <= $1 AND status NOT IN ('followed_up', 'closed') ORDER BY follow_up_due",
            &[&rfc3339(by)],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                summarise(
                    RecordKind::Case,
                    &row_to_json(r, RecordKind::Case, self.sealer.as_ref()),
                    false,
                )
            })
            .collect())
    }

    pub(crate) fn pg_queue_status(&self, service_id: Option<&str>) -> Result<QueueStatus> {
        let day = self.clock.day();
        let mut c = self.conn()?;
        let rows = c.query(
            "SELECT ticket, status FROM queue WHERE terminal = $1 AND day = $2 AND ($3::text IS NULL OR service_id = $3) ORDER BY ticket",
            &[&self.origin.terminal, &day, &service_id],
        )?;
        let rows: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(QueueStatus::from_rows(&rows))
    }

    /// Every terminal with a chain or a record here.
    pub fn terminals(&self) -> Result<Vec<String>> {
        let mut c = self.conn()?;
        Self::terminals_in(&mut *c)
    }

    fn terminals_of_site(c: &mut impl GenericClient, site: &str) -> Result<Vec<String>> {
        let mut sql = String::from("SELECT terminal FROM chain_head WHERE site = $1");
        for k in RecordKind::ALL {
            sql.push_str(&format!(
                " UNION SELECT terminal FROM {} WHERE site = $1",
                k.table()
            ));
        }
        let set: BTreeSet<String> = c.query(&sql, &[&site])?.iter().map(|r| r.get(0)).collect();
        Ok(set.into_iter().collect())
    }

    fn terminals_in(c: &mut impl GenericClient) -> Result<Vec<String>> {
        let mut sql = String::from("SELECT terminal FROM chain_head");
        for k in RecordKind::ALL {
            sql.push_str(&format!(" UNION SELECT terminal FROM {}", k.table()));
        }
        let set: BTreeSet<String> = c.query(&sql, &[])?.iter().map(|r| r.get(0)).collect();
        Ok(set.into_iter().collect())
    }

    /// Check one terminal's chain and records, as a SQLite file is checked.
    pub fn verify_terminal(&self, terminal: &str) -> Result<VerifyReport> {
        let mut c = self.conn()?;
        let mut tx = c
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let r = self.verify_in(&mut tx, terminal)?;
        tx.commit()?;
        Ok(r)
    }

    fn verify_in(&self, tx: &mut Transaction<'_>, terminal: &str) -> Result<VerifyReport> {
        let entries: Vec<EvidenceEntry> = tx
            .query(
                &format!("SELECT {ENTRY_COLUMNS} FROM evidence WHERE terminal = $1 ORDER BY seq"),
                &[&terminal],
            )?
            .iter()
            .map(entry_of)
            .collect();
        let head = tx
            .query_opt(
                "SELECT seq, hash FROM chain_head WHERE terminal = $1",
                &[&terminal],
            )?
            .map_or((0, String::new()), |r| (r.get(0), r.get(1)));
        let notes = tx
            .query(
                "SELECT e.seq, e.record_number, e.detail, n.note FROM evidence e
                 LEFT JOIN notes n ON n.terminal = e.terminal AND n.seq = e.seq
                 WHERE e.terminal = $1 AND e.detail LIKE '%note sha256:%' ORDER BY e.seq",
                &[&terminal],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        let mut records = Vec::new();
        for kind in RecordKind::ALL {
            for r in tx.query(
                &format!(
                    "SELECT * FROM {} WHERE terminal = $1 ORDER BY id",
                    kind.table()
                ),
                &[&terminal],
            )? {
                let row = row_to_json(&r, kind, self.sealer.as_ref());
                let number = row
                    .get("number")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                records.push((kind, number, Some(chained(row))));
            }
        }
        // entries other chains (the centre's) hold about this chain's records: the newest
        // of them, by time then entry number, is what such a row must match
        let mut overrides = BTreeMap::new();
        for r in tx.query(
            &format!(
                "SELECT record_number, terminal, seq, payload_sha256 FROM evidence
                 WHERE terminal IN (SELECT terminal FROM ({CENTRE_CHAINS}) c) AND terminal <> $1
                   AND left(record_number, length($1) + 1) = $1 || ':'
                 ORDER BY at, seq"
            ),
            &[&terminal],
        )? {
            let key: String = r.get(0);
            let number = key[terminal.len() + 1..].to_string();
            overrides.insert(number, (r.get(1), r.get(2), r.get(3)));
        }
        Ok(chain::verify_parts(ChainParts {
            entries,
            head,
            notes,
            records,
            overrides,
        }))
    }

    /// Check every terminal's chain and its records (one consistent snapshot); each
    /// problem's message names its terminal.
    pub(crate) fn pg_verify(&self, site: Option<&str>) -> Result<VerifyReport> {
        let mut c = self.conn()?;
        let mut tx = c
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let mut total = VerifyReport {
            ok: true,
            entries: 0,
            records: 0,
            first_problem: None,
            problems: Vec::new(),
        };
        let terminals = match site {
            None => Self::terminals_in(&mut tx)?,
            Some(site) => Self::terminals_of_site(&mut tx, site)?,
        };
        for terminal in terminals {
            let r = self.verify_in(&mut tx, &terminal)?;
            total.entries += r.entries;
            total.records += r.records;
            total
                .problems
                .extend(r.problems.into_iter().map(|p| Problem {
                    message: format!("terminal {terminal}: {}", p.message),
                    ..p
                }));
        }
        tx.commit()?;
        total.problems.truncate(100);
        total.ok = total.problems.is_empty();
        total.first_problem = total.problems.first().cloned();
        Ok(total)
    }
}
