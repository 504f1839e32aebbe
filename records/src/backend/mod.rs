//! The backend-neutral records API: one trait, [`RecordStore`], over two stores.
//!
//! - [`Store`] (SQLite) is a terminal's embedded store: one device, no server, nothing to
//!   configure. It keeps its full inherent API (bookings moved, drafts, check codes…).
//! - [`PgStore`] (PostgreSQL) is the centre's store: the records of every site and
//!   terminal, each terminal's evidence chain hashed exactly as a SQLite file hashes it.
//!
//! Why a synchronous trait, and a trait rather than an enum: the dialogue (`Desk` in
//! `xiaoan-agent`) is synchronous and must stay so, a turn writes one record and waits for
//! its receipt; the staff server already runs every store call on tokio's blocking pool
//! (`spawn_blocking`), so a blocking call there stalls no accept loop. The PostgreSQL
//! backend uses the `postgres` client, which drives tokio-postgres on a small runtime of
//! its own, so nothing async leaks into the dialogue. Callers that pick the store at run
//! time (`[store] url`) hold a `Box<dyn RecordStore>` ([`open_url`]); a new backend is a
//! new impl, not a new arm in every match.
//!
//! Where a record came from: every record row carries `site` and `terminal` ([`Origin`]),
//! stamped when it is created. They are provenance, not content: the evidence snapshot
//! leaves them out ([`crate::chain`]), so a record hashes the same in both stores.
//!
//! Record numbers: SQLite numbers are unique in their file. In PostgreSQL a record is
//! named by (terminal, number); numbers the centre allocates itself come from one
//! centre-wide daily counter (`counters`, row-locked in the writing transaction) and are
//! unique across the centre. A number two terminals both hold (migrated or delivered
//! records) is shown with its terminal: `show("hall-1:2612050001")`.

mod migrate;
pub(crate) mod pg_records;
mod pg_staff;
pub(crate) mod postgres;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::Result;
use crate::{
    AppointmentConfig, Booking, CaseReceipt, Clock, EventReceipt, FilingReceipt, NewAppointment,
    NewCase, NewDraft, NewEvent, NewFeedback, NewFiling, QueueStatus, QueueTicket, RecordDetail,
    RecordKind, RecordSummary, Store, VerifyReport,
};

pub use self::migrate::MigrationReport;
pub use self::postgres::{migrate_postgres, Alert, AlertListener, PgStore, ALERT_CHANNEL};

/// The site a store's own records are stamped with when none is configured.
pub const DEFAULT_SITE: &str = "hall";

/// Where records are written: the site (`hall`, `grid-3`, a micro-site id) and the
/// terminal (one device: a kiosk, the robot, a staff desk).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Origin {
    /// Site id (`[site] id`).
    pub site: String,
    /// Terminal id (`[site] terminal`).
    pub terminal: String,
}

impl Origin {
    /// An origin from configured ids; empty ones take the defaults ([`DEFAULT_SITE`],
    /// the host name).
    pub fn new(site: &str, terminal: &str) -> Origin {
        let site = site.trim();
        let terminal = terminal.trim();
        Origin {
            site: if site.is_empty() {
                DEFAULT_SITE.to_string()
            } else {
                site.to_string()
            },
            terminal: if terminal.is_empty() {
                host_name()
            } else {
                terminal.to_string()
            },
        }
    }

    /// The default origin: site [`DEFAULT_SITE`], terminal the host name.
    pub fn local() -> Origin {
        Origin::new("", "")
    }
}

impl Default for Origin {
    fn default() -> Self {
        Origin::local()
    }
}

/// This machine's host name (`terminal` when it cannot be read).
pub fn host_name() -> String {
    let from_file = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let name = from_file.trim();
    if name.is_empty() {
        "terminal".to_string()
    } else {
        name.to_string()
    }
}

/// Which store a [`RecordStore`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// A terminal's SQLite file.
    Sqlite,
    /// The centre's PostgreSQL.
    Postgres,
}

/// What waits to be delivered to the centre, for one terminal: the staff screen's
/// "delivery" view ([`RecordStore::delivery`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The terminal's site.
    pub site: String,
    /// The terminal.
    pub terminal: String,
    /// Its two-digit code in record numbers, if it has one.
    pub code: Option<u8>,
    /// Evidence entries not yet at the centre. Read live from a terminal's own outbox;
    /// at the centre, as the terminal's last delivery reported them (its chain's length
    /// then, less what the centre holds), so a terminal that cannot reach the centre
    /// shows what it had waiting when last heard from, and `last_delivery` says when.
    pub waiting: u64,
    /// Entries the centre holds (acknowledged, for a terminal's own view).
    pub delivered: u64,
    /// When the centre last stored a delivery from it.
    pub last_delivery: Option<String>,
    /// When the oldest waiting entry was queued (a terminal's own view only).
    pub oldest_waiting: Option<String>,
    /// Why the last attempt failed (a terminal's own view only).
    pub last_error: Option<String>,
    /// `terminal` (its own outbox, live) or `centre` (as of `last_delivery`).
    pub seen_by: &'static str,
}

/// Which records a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// One kind, or all.
    pub kind: Option<RecordKind>,
    /// One status (needs a kind), or all.
    pub status: Option<String>,
    /// One site, or all.
    pub site: Option<String>,
    /// Most records returned (0: 50).
    pub limit: usize,
}

impl Filter {
    pub(crate) fn limit(&self) -> usize {
        if self.limit == 0 {
            50
        } else {
            self.limit
        }
    }
}

/// The records API both stores offer: what the dialogue writes and what staff read and do.
/// Methods mean what the same-named [`Store`] methods mean.
pub trait RecordStore: Send {
    /// Which store this is.
    fn backend(&self) -> BackendKind;
    /// The site and terminal this store stamps on the records it creates.
    fn origin(&self) -> &Origin;
    /// Stamp records created from now on with `origin`.
    fn set_origin(&mut self, origin: Origin);
    /// Read the time from `clock` from now on.
    fn set_clock(&mut self, clock: Clock);
    /// Whether the store can keep records; `Err` says why, for staff.
    fn health(&self) -> std::result::Result<(), String>;
    /// The schema version applied.
    fn schema_version(&self) -> Result<u32>;

    /// File a declaration.
    fn file_declaration(&self, f: &NewFiling) -> Result<FilingReceipt>;
    /// Record an emergency or a hand-over (an alert for staff).
    fn record_event(&self, e: &NewEvent) -> Result<EventReceipt>;
    /// Record a complaint, praise, 随手拍 or rating.
    fn record_feedback(&self, f: &NewFeedback) -> Result<String>;
    /// Keep a form left mid-way.
    fn save_draft(&self, d: &NewDraft) -> Result<String>;
    /// Open a mediation case.
    fn open_case(&self, c: &NewCase) -> Result<CaseReceipt>;
    /// Take a queue ticket.
    fn take_ticket(&self, service_id: &str, session_id: &str) -> Result<QueueTicket>;
    /// Book an appointment.
    fn book_appointment(&self, cfg: &AppointmentConfig, a: &NewAppointment) -> Result<Booking>;

    /// Change a record's status (only the allowed moves).
    fn set_status(&self, number: &str, status: &str, note: &str) -> Result<()>;
    /// Add a staff note.
    fn add_note(&self, number: &str, note: &str) -> Result<()>;
    /// Note that staff saw a record's personal data.
    fn note_access(&self, number: &str, detail: &str) -> Result<()>;
    /// Records matching `filter`, newest first; personal data masked unless `reveal`.
    fn records(&self, filter: &Filter, reveal: bool) -> Result<Vec<RecordSummary>>;
    /// One record with its evidence history.
    fn show(&self, key: &str, reveal: bool) -> Result<Option<RecordDetail>>;
    /// Records holding this phone or ID number (by its keyed hash).
    fn find_by_personal_number(&self, personal: &str, reveal: bool) -> Result<Vec<RecordSummary>>;
    /// Mediation cases whose follow-up call is due by `by`.
    fn follow_ups_due(&self, by: DateTime<Utc>) -> Result<Vec<RecordSummary>>;
    /// Today's queue.
    fn queue_status(&self, service_id: Option<&str>) -> Result<QueueStatus>;
    /// Check every evidence chain and every record against it.
    fn verify(&self) -> Result<VerifyReport>;
    /// Check the chains of one site's terminals. A terminal's file is one chain: it is
    /// checked whole, whatever the site.
    fn verify_site(&self, site: &str) -> Result<VerifyReport> {
        let _ = site;
        self.verify()
    }
    /// Whether `code` is the check code of record `number`'s receipt.
    fn check_receipt(&self, number: &str, code: &str) -> Result<bool>;
    /// What waits to be delivered to the centre, per terminal: a terminal's own outbox
    /// (one row), or every terminal that has delivered to the centre's store.
    fn delivery(&self) -> Result<Vec<Delivery>>;
    /// A listener that hears new alerts as they are committed, when the store can push
    /// them (PostgreSQL's LISTEN/NOTIFY); None when alerts must be polled (SQLite: a
    /// staff screen re-reads the open alerts, [`ALERT_POLL`]).
    fn listen_alerts(&self) -> Result<Option<AlertListener>> {
        Ok(None)
    }
}

/// How often alerts are re-read where they cannot be pushed (a SQLite store): the
/// longest an alert waits before a waiting staff screen sees it.
pub const ALERT_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Open the store a configuration names: `postgres://…` / `postgresql://…` is the centre's
/// PostgreSQL (its field key under `key_dir`), anything else a SQLite file path.
pub fn open_url(
    url: &str,
    origin: &Origin,
    key_dir: &std::path::Path,
) -> Result<Box<dyn RecordStore>> {
    if is_postgres_url(url) {
        Ok(Box::new(PgStore::open(url, origin.clone(), key_dir)?))
    } else {
        let mut s = Store::open(std::path::Path::new(url))?;
        s.set_origin(origin.clone())?;
        Ok(Box::new(s))
    }
}

/// Whether `url` names a PostgreSQL server.
pub fn is_postgres_url(url: &str) -> bool {
    let u = url.trim_start();
    u.starts_with("postgres://") || u.starts_with("postgresql://")
}

impl RecordStore for Store {
    fn backend(&self) -> BackendKind {
        BackendKind::Sqlite
    }
    fn origin(&self) -> &Origin {
        &self.origin
    }
    fn set_origin(&mut self, origin: Origin) {
        // stamping older rows is best effort here; `Store::set_origin` reports failures
        let _ = Store::set_origin(self, origin);
    }
    fn set_clock(&mut self, clock: Clock) {
        Store::set_clock(self, clock)
    }
    fn health(&self) -> std::result::Result<(), String> {
        Store::health(self)
    }
    fn schema_version(&self) -> Result<u32> {
        Store::schema_version(self)
    }
    fn file_declaration(&self, f: &NewFiling) -> Result<FilingReceipt> {
        Store::file_declaration(self, f)
    }
    fn record_event(&self, e: &NewEvent) -> Result<EventReceipt> {
        Store::record_event(self, e)
    }
    fn record_feedback(&self, f: &NewFeedback) -> Result<String> {
        Store::record_feedback(self, f)
    }
    fn save_draft(&self, d: &NewDraft) -> Result<String> {
        Store::save_draft(self, d)
    }
    fn open_case(&self, c: &NewCase) -> Result<CaseReceipt> {
        Store::open_case(self, c)
    }
    fn take_ticket(&self, service_id: &str, session_id: &str) -> Result<QueueTicket> {
        Store::take_ticket(self, service_id, session_id)
    }
    fn book_appointment(&self, cfg: &AppointmentConfig, a: &NewAppointment) -> Result<Booking> {
        Store::book_appointment(self, cfg, a)
    }
    fn set_status(&self, number: &str, status: &str, note: &str) -> Result<()> {
        Store::set_status(self, number, status, note)
    }
    fn add_note(&self, number: &str, note: &str) -> Result<()> {
        Store::add_note(self, number, note)
    }
    fn note_access(&self, number: &str, detail: &str) -> Result<()> {
        Store::note_access(self, number, detail)
    }
    fn records(&self, filter: &Filter, reveal: bool) -> Result<Vec<RecordSummary>> {
        Store::records(self, filter, reveal)
    }
    fn show(&self, key: &str, reveal: bool) -> Result<Option<RecordDetail>> {
        Store::show(self, key, reveal)
    }
    fn find_by_personal_number(&self, personal: &str, reveal: bool) -> Result<Vec<RecordSummary>> {
        Store::find_by_personal_number(self, personal, reveal)
    }
    fn follow_ups_due(&self, by: DateTime<Utc>) -> Result<Vec<RecordSummary>> {
        Store::follow_ups_due(self, by)
    }
    fn queue_status(&self, service_id: Option<&str>) -> Result<QueueStatus> {
        Store::queue_status(self, service_id)
    }
    fn verify(&self) -> Result<VerifyReport> {
        Store::verify(self)
    }
    fn check_receipt(&self, number: &str, code: &str) -> Result<bool> {
        Store::check_receipt(self, number, code)
    }
    fn delivery(&self) -> Result<Vec<Delivery>> {
        let st = self.outbox_status()?;
        Ok(vec![Delivery {
            site: st.site,
            terminal: st.terminal,
            code: st.code,
            waiting: st.waiting,
            delivered: st.delivered,
            last_delivery: st.last_delivered,
            oldest_waiting: st.oldest_waiting,
            last_error: st.last_error,
            seen_by: "terminal",
        }])
    }
}
