//! Delivery to the centre: what a terminal sends, what the centre answers, and the
//! [`Centre`] it sends to.
//!
//! A terminal files locally first (its SQLite store; the outbox row is written in the
//! record's own transaction, `outbox.rs`) and gives the receipt at once. A [`Worker`]
//! then delivers the outbox in [`Batch`]es to the centre's PostgreSQL ([`PgCentre`]):
//!
//! - each batch carries the waiting evidence entries in chain order, the record rows
//!   they are about (personal fields opened, to be sealed again with the centre's key),
//!   and the chain's head and count when the batch was read (the anchor);
//! - the centre stores entries under the key (terminal, seq) with `ON CONFLICT DO
//!   NOTHING`, so a batch delivered twice is stored once, and answers with an [`Ack`];
//! - the terminal marks rows delivered only after that answer, which comes after the
//!   centre's commit. At-least-once delivery plus idempotent keys: exactly-once storage.
//!
//! Anchors: every delivery leaves the terminal's (count, head) in the centre's `anchors`
//! table. A terminal whose chain later has fewer entries than anchored (the newest ones
//! deleted: a bare hash chain stays valid then) or another hash at an anchored count
//! (rewritten) is caught by [`verify_against_centre`] (`xiaoan records verify
//! --centre`), and the centre refuses its deliveries ([`crate::StoreError::Diverged`]).
//!
//! Why a trait: the delivery loop, its retries and the anchor check do not care where
//! the centre is; [`MemCentre`] (in memory, always compiled) lets them be tested without a
//! server, [`PgCentre`] is the real one.

mod mem;
mod pg;
mod verify;
mod worker;

use serde::Serialize;
use serde_json::Value;

use crate::chain::EvidenceEntry;
use crate::error::Result;
use crate::RecordKind;

pub use mem::MemCentre;
pub use pg::PgCentre;
pub use pg::TerminalStatus;
pub use verify::{verify_against_centre, CentreCheck};
pub use worker::{deliver_once, Backoff, Connect, DeliveryOptions, Worker, WorkerStats};

/// A chain's length and the hash of its last entry, as delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainAnchor {
    /// Entries in the chain.
    pub count: i64,
    /// Hash of entry `count` ([`crate::GENESIS`] for an empty chain).
    pub head: String,
}

/// A record row as delivered: its columns (personal ones opened), after the change its
/// latest entry in the batch logs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveredRecord {
    /// The kind (decides the table).
    pub kind: RecordKind,
    /// The record's number.
    pub number: String,
    /// Column name → value.
    pub row: serde_json::Map<String, Value>,
}

/// One staff note kept beside the chain (its entry chains the note's hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveredNote {
    /// The entry the note belongs to.
    pub seq: i64,
    /// The record it is about.
    pub record_number: String,
    /// The note.
    pub note: String,
}

/// What one delivery carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Batch {
    /// Site of the terminal.
    pub site: String,
    /// The terminal (the first half of every idempotent key).
    pub terminal: String,
    /// The terminal's two-digit code in record numbers, if it has one.
    pub code: Option<u8>,
    /// Waiting entries, in chain order (their `seq` is the second half of the key).
    pub entries: Vec<EvidenceEntry>,
    /// Staff notes of those entries.
    pub notes: Vec<DeliveredNote>,
    /// The record rows, for records whose latest entry is in this batch.
    pub records: Vec<DeliveredRecord>,
    /// The terminal's chain when the batch was read.
    pub anchor: ChainAnchor,
}

impl Batch {
    /// The entry numbers the batch carries.
    pub fn seqs(&self) -> Vec<i64> {
        self.entries.iter().map(|e| e.seq).collect()
    }
}

/// The centre's answer to a batch, sent after its commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ack {
    /// Entries stored for the first time.
    pub stored: u64,
    /// Entries the centre already had (the same hash): a repeated delivery.
    pub duplicates: u64,
    /// Record rows written.
    pub records: u64,
    /// The newest anchor the centre now holds for the terminal.
    pub anchor: Option<ChainAnchor>,
}

/// Where a terminal delivers: the centre's store.
///
/// `deliver` must be atomic (all of the batch or nothing) and idempotent (entries keyed
/// by terminal and seq); it returns only after the centre has committed. Not `Sync`: a
/// worker owns its connection.
pub trait Centre: Send {
    /// Store a batch; Err leaves the centre as it was.
    fn deliver(&mut self, batch: &Batch) -> Result<Ack>;
    /// Every anchor the centre holds for `terminal`, oldest first.
    fn anchors(&mut self, terminal: &str) -> Result<Vec<ChainAnchor>>;
    /// The (seq, hash) of every entry of `terminal`'s chain the centre holds, in order.
    fn entry_hashes(&mut self, terminal: &str) -> Result<Vec<(i64, String)>>;
}

impl<C: Centre + ?Sized> Centre for Box<C> {
    fn deliver(&mut self, batch: &Batch) -> Result<Ack> {
        (**self).deliver(batch)
    }
    fn anchors(&mut self, terminal: &str) -> Result<Vec<ChainAnchor>> {
        (**self).anchors(terminal)
    }
    fn entry_hashes(&mut self, terminal: &str) -> Result<Vec<(i64, String)>> {
        (**self).entry_hashes(terminal)
    }
}

/// The checks every centre makes before storing a batch, given the entries it already
/// holds for the terminal (`stored(seq)`) and its anchors: an entry it holds with another
/// hash, a chain shorter than a count it anchored, or another head at an anchored count
/// means the terminal's chain was rewritten or cut after delivery. Returns whether the
/// batch is current (its anchor at least as long as any held): a stale batch (read before
/// a newer one was delivered) stores its entries but neither rows nor anchor.
pub(crate) fn check_batch(
    batch: &Batch,
    stored: &mut dyn FnMut(i64) -> Result<Option<String>>,
    anchors: &[ChainAnchor],
) -> Result<bool> {
    let diverged = |seq: i64, message: String| crate::StoreError::Diverged {
        terminal: batch.terminal.clone(),
        seq,
        message,
    };
    for e in &batch.entries {
        if let Some(h) = stored(e.seq)? {
            if h != e.hash {
                return Err(diverged(
                    e.seq,
                    format!("entry {} differs from the one delivered before", e.seq),
                ));
            }
        }
        if let Some(a) = anchors.iter().find(|a| a.count == e.seq) {
            if a.head != e.hash {
                return Err(diverged(
                    e.seq,
                    format!("entry {} is not the one anchored", e.seq),
                ));
            }
        }
    }
    if let Some(first) = batch.entries.first() {
        if first.seq > 1 {
            if let Some(h) = stored(first.seq - 1)? {
                if h != first.prev_hash {
                    return Err(diverged(
                        first.seq,
                        format!(
                            "entry {} does not follow the entry {} delivered before",
                            first.seq,
                            first.seq - 1
                        ),
                    ));
                }
            }
        }
    }
    let newest = anchors.iter().map(|a| a.count).max().unwrap_or(0);
    if let Some(a) = anchors.iter().find(|a| a.count == batch.anchor.count) {
        if a.head != batch.anchor.head {
            return Err(diverged(
                a.count,
                format!("the chain's head at {} is not the one anchored", a.count),
            ));
        }
    }
    if batch.anchor.count < newest {
        // a batch read before a newer one was delivered, or a chain cut short: the
        // entry at the batch's count must be the one the centre holds
        return match stored(batch.anchor.count)? {
            Some(h) if h == batch.anchor.head => Ok(false),
            _ => Err(diverged(
                batch.anchor.count + 1,
                format!(
                    "the chain has {} entries but {newest} were anchored: entries were deleted",
                    batch.anchor.count
                ),
            )),
        };
    }
    Ok(true)
}

#[cfg(test)]
mod tests;
