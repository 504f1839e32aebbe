//! A terminal's outbox: what is still to be delivered to the centre.
//!
//! Every evidence entry is queued (`outbox` table, migration 0100) in the transaction that
//! writes the record and the entry, so a record is never kept locally without its outbox
//! row. The delivery worker (`centre/worker.rs`) reads the oldest waiting rows as a
//! [`Batch`], delivers it, and marks the rows delivered only after the centre's
//! acknowledgement. Staff see what waits ([`Store::outbox_status`]).
//!
//! Receipt numbers of a terminal: with a centre code ([`Store::set_terminal_code`], two
//! digits, 01-99, unique in the centre) the numbers it gives are `yymmdd` + code + a
//! three-digit daily sequence (`26120503017`: eleven digits, read digit by digit, never
//! starting with 1 as a mobile number does); the centre's own desks keep ten-digit
//! numbers. So a receipt number names one record across the centre.

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::Serialize;

use crate::centre::{Batch, ChainAnchor, DeliveredNote, DeliveredRecord};
use crate::chain::{read_entry, row_json};
use crate::error::{Result, StoreError};
use crate::schema::chain_head;
use crate::{RecordKind, Store};

/// Queue evidence entry `seq` for delivery (inside the transaction that wrote it). A row
/// already there (the chain was cut back below it by hand) is queued afresh: the new
/// entry goes to the centre, which refuses it if it differs from what it holds.
pub(crate) fn enqueue(conn: &Connection, seq: i64, at: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO outbox (seq, queued_at) VALUES (?1, ?2)
         ON CONFLICT(seq) DO UPDATE SET queued_at = excluded.queued_at, attempts = 0,
             last_error = NULL, delivered_at = NULL",
        params![seq, at],
    )?;
    Ok(())
}

/// The terminal's code in record numbers, if it has one.
pub(crate) fn terminal_code(conn: &Connection) -> Result<Option<u8>> {
    let code: Option<i64> = conn
        .query_row(
            "SELECT terminal_code FROM numbering WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(code.and_then(|c| u8::try_from(c).ok()))
}

/// What waits in a terminal's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxStatus {
    /// Site of the terminal.
    pub site: String,
    /// The terminal.
    pub terminal: String,
    /// Its code in record numbers.
    pub code: Option<u8>,
    /// Entries not yet acknowledged by the centre.
    pub waiting: u64,
    /// Entries the centre has acknowledged.
    pub delivered: u64,
    /// When the oldest waiting entry was queued.
    pub oldest_waiting: Option<String>,
    /// Failed attempts on the oldest waiting entry.
    pub attempts: u64,
    /// Why the last attempt failed (no content), if it did.
    pub last_error: Option<String>,
    /// When the centre last acknowledged a delivery.
    pub last_delivered: Option<String>,
}

/// Column list of `evidence` in the order [`read_entry`] reads.
const ENTRY_COLUMNS: &str =
    "seq, at, action, record_kind, record_number, detail, payload_sha256, prev_hash, hash";

impl Store {
    /// Give this terminal its two-digit code in the centre (1-99): record numbers from now
    /// on carry it. Kept in the file, so numbers stay unique whatever the configuration
    /// says later; changing it is refused.
    pub fn set_terminal_code(&self, code: u8) -> Result<()> {
        if !(1..=99).contains(&code) {
            return Err(StoreError::Invalid(format!(
                "a terminal code is two digits, 01-99 (got {code})"
            )));
        }
        match terminal_code(&self.conn)? {
            Some(c) if c == code => return Ok(()),
            Some(c) => {
                return Err(StoreError::Invalid(format!(
                    "this store already numbers its records with terminal code {c:02}; it cannot become {code:02} (receipts already given carry {c:02})"
                )))
            }
            None => {}
        }
        let tx = self.write_tx()?;
        tx.execute(
            "INSERT INTO numbering (id, terminal_code) VALUES (1, ?1)",
            params![i64::from(code)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The terminal's code in record numbers, if set.
    pub fn terminal_code(&self) -> Result<Option<u8>> {
        terminal_code(&self.conn)
    }

    /// What waits in the outbox, for staff.
    pub fn outbox_status(&self) -> Result<OutboxStatus> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)?;
        let (waiting, delivered, last_delivered): (i64, i64, Option<String>) = tx.query_row(
            "SELECT COUNT(*) FILTER (WHERE delivered_at IS NULL),
                    COUNT(*) FILTER (WHERE delivered_at IS NOT NULL),
                    MAX(delivered_at)
             FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let oldest: Option<(String, i64, Option<String>)> = tx
            .query_row(
                "SELECT queued_at, attempts, last_error FROM outbox WHERE delivered_at IS NULL ORDER BY seq LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let code = terminal_code(&tx)?;
        tx.commit()?;
        let (oldest_waiting, attempts, last_error) = match oldest {
            Some((at, n, e)) => (Some(at), u64::try_from(n).unwrap_or(0), e),
            None => (None, 0, None),
        };
        Ok(OutboxStatus {
            site: self.origin.site.clone(),
            terminal: self.origin.terminal.clone(),
            code,
            waiting: u64::try_from(waiting).unwrap_or(0),
            delivered: u64::try_from(delivered).unwrap_or(0),
            oldest_waiting,
            attempts,
            last_error,
            last_delivered,
        })
    }

    /// The oldest waiting entries (at most `limit`) as a batch, with the records whose
    /// latest entry is among them and the chain's head, read in one snapshot. None when
    /// nothing waits.
    pub fn outbox_batch(&self, limit: usize) -> Result<Option<Batch>> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)?;
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let entries = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM evidence
                 WHERE seq IN (SELECT seq FROM outbox WHERE delivered_at IS NULL ORDER BY seq LIMIT ?1)
                 ORDER BY seq"
            ))?;
            let rows = stmt.query_map(params![limit], read_entry)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let Some(last) = entries.last().map(|e| e.seq) else {
            tx.commit()?;
            return Ok(None);
        };
        let mut notes = Vec::new();
        {
            let mut stmt =
                tx.prepare_cached("SELECT record_number, note FROM notes WHERE seq = ?1")?;
            for e in &entries {
                if let Some((record_number, note)) = stmt
                    .query_row(params![e.seq], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?
                {
                    notes.push(DeliveredNote {
                        seq: e.seq,
                        record_number,
                        note,
                    });
                }
            }
        }
        let mut records = Vec::new();
        {
            let mut latest =
                tx.prepare_cached("SELECT MAX(seq) FROM evidence WHERE record_number = ?1")?;
            let mut seen = std::collections::HashSet::new();
            for e in &entries {
                if !seen.insert(e.record_number.clone()) {
                    continue;
                }
                let Some(kind) = RecordKind::parse(&e.record_kind) else {
                    continue;
                };
                // a record changed again after this batch is delivered with the batch
                // that holds its latest entry, so its row always matches an entry the
                // centre has
                let newest: Option<i64> =
                    latest.query_row(params![e.record_number], |r| r.get(0))?;
                if newest.is_some_and(|n| n > last) {
                    continue;
                }
                if let Some(serde_json::Value::Object(row)) =
                    row_json(&tx, self.sealer.as_ref(), kind, &e.record_number)?
                {
                    records.push(DeliveredRecord {
                        kind,
                        number: e.record_number.clone(),
                        row,
                    });
                }
            }
        }
        let (count, head) = chain_head(&tx)?;
        let code = terminal_code(&tx)?;
        tx.commit()?;
        Ok(Some(Batch {
            site: self.origin.site.clone(),
            terminal: self.origin.terminal.clone(),
            code,
            entries,
            notes,
            records,
            anchor: ChainAnchor { count, head },
        }))
    }

    /// Mark entries delivered (after the centre acknowledged their commit).
    pub fn outbox_delivered(&self, seqs: &[i64]) -> Result<()> {
        let at = self.clock.rfc3339();
        let tx = self.write_tx()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET delivered_at = ?1, last_error = NULL WHERE seq = ?2 AND delivered_at IS NULL",
            )?;
            for s in seqs {
                stmt.execute(params![at, s])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Note a failed attempt on entries (the reason is kept for staff; it names no
    /// content).
    pub fn outbox_failed(&self, seqs: &[i64], reason: &str) -> Result<()> {
        let tx = self.write_tx()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?1 WHERE seq = ?2 AND delivered_at IS NULL",
            )?;
            for s in seqs {
                stmt.execute(params![reason, s])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Queue every entry again, delivered or not (the acknowledgements lost: the next
    /// delivery repeats them all). For tests of idempotent delivery.
    #[doc(hidden)]
    pub fn outbox_requeue_all(&self) -> Result<()> {
        self.conn
            .execute("UPDATE outbox SET delivered_at = NULL", [])?;
        Ok(())
    }

    /// The (seq, hash) of every local entry, in order (for the check against the centre).
    pub fn chain_hashes(&self) -> Result<Vec<(i64, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, hash FROM evidence ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
