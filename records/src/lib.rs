//! Records (服务存证): an embedded SQLite store with a tamper-evident evidence chain.
//!
//! What it keeps: self-declaration filings, mediation cases, emergency and handoff events,
//! appointments, queue tickets, feedback, and drafts of forms left mid-way. Each write is
//! one transaction that holds the record AND its evidence entry, so a record is either
//! wholly there, with its entry, or not at all — also after SIGKILL or power loss (WAL,
//! `synchronous=FULL`). The file is created readable by its owner only (0600).
//!
//! Record numbers: ten digits, `yymmdd` (local date) + a four-digit daily sequence shared by
//! every kind of record (`2611290017`), so a number names one record store-wide and reads
//! well digit by digit. After 9999 records in a day the sequence simply grows to five
//! digits. Mediation cases are shown with a `TJ` prefix (`TJ2611290017`); lookups accept
//! the number with or without it.
//!
//! Failing loudly, never stalling: a write waits at most [`WRITE_BUSY_TIMEOUT`] for another
//! writer's lock (adjustable with [`Store::set_busy_timeout`]), then fails with
//! [`StoreError::Busy`] having written nothing ([`StoreError::is_busy`]; the caller
//! speaks first and retries in the background). Opening takes no write lock when the
//! schema is current, repairs `-wal`/`-shm` files a read-only run left read-only, and
//! [`Store::health`] says why a store cannot keep records (read-only, gone).
//!
//! Evidence outside the database: after each write the chain head is signed with a device
//! key and appended to an anchor file beside the database, and receipts carry a check
//! code ([`Store::check_receipt`]); see `anchor.rs`. Staff notes are chained as hashes.
//!
//! The store keeps data, never words for residents: what 小安 says about a refused
//! booking or a receipt is the dialogue's (`xiaoan-agent`). Times come from the store's
//! [`Clock`] (the system clock unless a test or story fixes it).
//!
//! ```no_run
//! use xiaoan_records::{Store, RecordKind};
//! let store = Store::open(std::path::Path::new("/tmp/records.db")).unwrap();
//! for r in store.list(Some(RecordKind::Filing), 20, false).unwrap() {
//!     println!("{} {} {}", r.display_number, r.title, r.who.unwrap_or_default());
//! }
//! assert!(store.verify().unwrap().ok);
//! ```
#![warn(missing_docs)]

mod anchor;
mod appointments;
pub mod backend;
mod cases;
pub mod centre;
mod chain;
mod clock;
mod drafts;
pub mod error;
mod events;
mod feedback;
mod filings;
mod keyfile;
pub mod mask;
mod open;
mod outbox;
mod queue;
mod record;
mod schema;
mod seal;
mod status;
mod verify;
mod views;

use std::time::Duration as StdDuration;

pub use anchor::{anchor_path, key_path, CHECK_CODE_LEN};
pub use appointments::{
    AppointmentConfig, AppointmentReceipt, Booking, NewAppointment, Refusal, RefusalReason,
    SlotSpec,
};
pub use backend::{
    is_postgres_url, open_url, Alert, AlertListener, BackendKind, Delivery, Filter,
    MigrationReport, Origin, PgStore, RecordStore, ALERT_CHANNEL, ALERT_POLL, DEFAULT_SITE,
};
pub use cases::{CaseReceipt, MediatorOffer, NewCase};
pub use chain::{EvidenceEntry, Problem, ProblemKind, VerifyReport, GENESIS};
pub use clock::Clock;
pub use drafts::NewDraft;
/// The store's error type under a short name.
pub use error::StoreError as Error;
pub use error::{Result, StoreError};
pub use events::{EventKind, EventReceipt, NewEvent, Turn};
pub use feedback::{FeedbackKind, NewFeedback};
pub use filings::{FieldKind, FieldValue, FilingReceipt, NewFiling, OwedMaterial};
pub use open::Store;
pub use outbox::OutboxStatus;
pub use queue::{QueueStatus, QueueTicket};
pub use record::{Contact, RecordKind};
pub use seal::field_key_path;
pub use views::{RecordDetail, RecordSummary};

/// How long a write waits for another writer's lock before failing with
/// [`StoreError::Busy`]. Short on purpose: a caller in a conversation must never be held
/// silent by the database (our own transactions last milliseconds; a lock held longer is
/// a stuck or foreign writer). Change it per store with [`Store::set_busy_timeout`].
pub const WRITE_BUSY_TIMEOUT: StdDuration = StdDuration::from_millis(1500);

/// The centre promises a follow-up call this long after a mediation case is opened.
pub const FOLLOW_UP_HOURS: i64 = 48;

/// Display prefix of mediation case numbers (调解).
pub const CASE_PREFIX: &str = "TJ";

#[cfg(test)]
mod tests;
