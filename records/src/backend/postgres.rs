//! The centre's store in PostgreSQL: the records of every site and terminal.
//!
//! Layout (migrations/postgres/): the same record tables and columns as a terminal's
//! SQLite file, each row keyed by (terminal, id) and named by (terminal, number), and one
//! evidence chain per terminal (`evidence` keyed by (terminal, seq), `chain_head` one row
//! per terminal). A terminal's chain in the centre is hashed exactly as in its own file,
//! so a migrated or delivered chain verifies unchanged, and `verify` checks every chain.
//!
//! Writes: one transaction per record, as in SQLite. It locks the writing terminal's
//! `chain_head` row (`SELECT … FOR UPDATE`), so writes to one chain are serialised while
//! terminals write side by side; a number the centre allocates comes from the
//! centre-wide `counters` row of the day, locked in the same transaction.
//!
//! Personal fields are sealed as on a device: the centre holds its own field key file,
//! `<key_dir>/centre.fieldkey` (32 random bytes, hex, 0600, made on first open). Records
//! copied from a terminal are opened with the terminal's key and sealed again with the
//! centre's; their hashes are over the opened content, so they do not change.
//!
//! Alerts: a trigger announces each new event on [`ALERT_CHANNEL`] (LISTEN/NOTIFY), sent
//! when the inserting transaction commits ([`PgStore::wait_for_alert`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres::{Client, NoTls};
use serde::{Deserialize, Serialize};

use crate::backend::{BackendKind, Delivery, Filter, Origin, RecordStore};
use crate::clock::Clock;
use crate::error::{Result, StoreError};
use crate::seal;
use crate::{
    AppointmentConfig, Booking, CaseReceipt, EventReceipt, FilingReceipt, NewAppointment, NewCase,
    NewDraft, NewEvent, NewFeedback, NewFiling, QueueStatus, QueueTicket, RecordDetail,
    RecordSummary, VerifyReport,
};

/// The LISTEN/NOTIFY channel that announces new emergencies and hand-overs. The payload is
/// JSON `{"site", "terminal", "number", "kind"}`: names only, never content.
pub const ALERT_CHANNEL: &str = "xiaoan_alerts";

/// PostgreSQL schema migrations: the same versions as the SQLite ones (`schema.rs`),
/// listed in `schema_version`. Versions 0100 and up are delivery's (migrations/README.md).
pub(crate) const PG_MIGRATIONS: &[(u32, &str, &str)] = &[
    (
        1,
        "0001_records.sql",
        include_str!("../../migrations/postgres/0001_records.sql"),
    ),
    (
        2,
        "0002_notes.sql",
        include_str!("../../migrations/postgres/0002_notes.sql"),
    ),
    (
        3,
        "0003_lookup.sql",
        include_str!("../../migrations/postgres/0003_lookup.sql"),
    ),
    (
        4,
        "0004_origin.sql",
        include_str!("../../migrations/postgres/0004_origin.sql"),
    ),
    // 0100 and up: delivery from terminals (migrations/README.md)
    (
        100,
        "0100_outbox.sql",
        include_str!("../../migrations/postgres/0100_outbox.sql"),
    ),
];

/// Key of the advisory lock that serialises migrations between processes.
const MIGRATION_LOCK: i64 = 0x7869_616f_616e_0001;

/// Apply pending PostgreSQL migrations, each in its own transaction under an advisory
/// lock (two processes opening a fresh database at once apply each file once).
pub fn migrate_postgres(
    client: &mut Client,
    migrations: &[(u32, &'static str, &str)],
) -> Result<()> {
    let known = migrations.iter().map(|m| m.0).max().unwrap_or(0);
    for &(version, name, sql) in migrations {
        let wrap = |source| StoreError::PgMigration {
            version,
            name,
            source,
        };
        let mut tx = client.transaction().map_err(wrap)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(wrap)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (
                version    INTEGER PRIMARY KEY,
                name       TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )",
        )
        .map_err(wrap)?;
        let found: i32 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
            .map_err(wrap)?
            .get(0);
        let found = u32::try_from(found).unwrap_or(0);
        if found > known {
            return Err(StoreError::NewerSchema { found, known });
        }
        let done = tx
            .query_opt(
                "SELECT 1 FROM schema_version WHERE version = $1",
                &[&i32::try_from(version).unwrap_or(i32::MAX)],
            )
            .map_err(wrap)?
            .is_some();
        if done {
            continue;
        }
        tx.batch_execute(sql).map_err(wrap)?;
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
            &[
                &i32::try_from(version).unwrap_or(i32::MAX),
                &name,
                &crate::clock::rfc3339(chrono::Utc::now()),
            ],
        )
        .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
    }
    Ok(())
}

/// The centre's records store (PostgreSQL). One connection, behind a lock; open one per
/// thread that needs its own.
pub struct PgStore {
    pub(crate) client: Mutex<Client>,
    pub(crate) url: String,
    pub(crate) origin: Origin,
    pub(crate) clock: Clock,
    pub(crate) sealer: Option<seal::Sealer>,
    pub(crate) key_dir: PathBuf,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("origin", &self.origin)
            .finish()
    }
}

impl PgStore {
    /// Connect to the centre's database at `url` (`postgres://user@host:port/db`), apply
    /// pending migrations, and load (or make) the centre's field key in `key_dir`.
    /// Records this store creates are stamped with `origin`.
    pub fn open(url: &str, origin: Origin, key_dir: &Path) -> Result<PgStore> {
        let mut client = Client::connect(url, NoTls)?;
        migrate_postgres(&mut client, PG_MIGRATIONS)?;
        if !key_dir.exists() {
            std::fs::create_dir_all(key_dir).map_err(crate::keyfile::io_err(key_dir))?;
        }
        let sealer = seal::Sealer::load(&key_dir.join("centre"), true)?;
        Ok(PgStore {
            client: Mutex::new(client),
            url: url.to_string(),
            origin,
            clock: Clock::System,
            sealer,
            key_dir: key_dir.to_path_buf(),
        })
    }

    /// The centre's field key file (see the module doc).
    pub fn field_key_path(&self) -> PathBuf {
        seal::field_key_path(&self.key_dir.join("centre"))
    }

    /// The connection, for one call; a connection the server closed (a restart) is
    /// made again first.
    pub(crate) fn conn(&self) -> Result<std::sync::MutexGuard<'_, Client>> {
        let mut guard = self
            .client
            .lock()
            .map_err(|_| StoreError::Invalid("the centre connection was poisoned".into()))?;
        if guard.is_closed() {
            *guard = Client::connect(&self.url, NoTls)?;
        }
        Ok(guard)
    }

    /// Read the time from `clock` from now on.
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// The schema version applied (the highest listed in `schema_version`).
    pub fn schema_version(&self) -> Result<u32> {
        let v: i32 = self
            .conn()?
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])?
            .get(0);
        Ok(u32::try_from(v).unwrap_or(0))
    }

    /// Listen for new alerts on a connection of its own ([`AlertListener`]).
    pub fn listen_alerts(&self) -> Result<AlertListener> {
        AlertListener::connect(&self.url)
    }
}

/// A new emergency or hand-over, as announced on [`ALERT_CHANNEL`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The site it was raised at.
    pub site: String,
    /// The terminal that recorded it.
    pub terminal: String,
    /// Its record number.
    pub number: String,
    /// `emergency` or `handoff`.
    pub kind: String,
}

/// A connection that LISTENs on [`ALERT_CHANNEL`]: alerts committed after
/// [`AlertListener::connect`] returns are all heard, in commit order.
pub struct AlertListener {
    client: Client,
}

impl AlertListener {
    /// Connect to `url` and start listening.
    pub fn connect(url: &str) -> Result<AlertListener> {
        let mut client = Client::connect(url, NoTls)?;
        client.batch_execute(&format!("LISTEN {ALERT_CHANNEL}"))?;
        Ok(AlertListener { client })
    }

    /// The next alert, waiting at most `timeout` (None when none came).
    pub fn wait(&mut self, timeout: Duration) -> Result<Option<Alert>> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut n = self.client.notifications();
        let next = n.timeout_iter(timeout).next()?;
        match next {
            None => Ok(None),
            Some(note) => Ok(Some(serde_json::from_str(note.payload())?)),
        }
    }
}

impl RecordStore for PgStore {
    fn backend(&self) -> BackendKind {
        BackendKind::Postgres
    }
    fn origin(&self) -> &Origin {
        &self.origin
    }
    fn set_origin(&mut self, origin: Origin) {
        self.origin = origin;
    }
    fn set_clock(&mut self, clock: Clock) {
        PgStore::set_clock(self, clock)
    }
    fn health(&self) -> std::result::Result<(), String> {
        let mut c = self
            .conn()
            .map_err(|e| format!("the centre's records database cannot be reached: {e}"))?;
        c.query_one("SELECT 1", &[])
            .map(|_| ())
            .map_err(|e| format!("the centre's records database cannot be read: {e}"))
    }
    fn schema_version(&self) -> Result<u32> {
        PgStore::schema_version(self)
    }
    fn file_declaration(&self, f: &NewFiling) -> Result<FilingReceipt> {
        self.pg_file_declaration(f)
    }
    fn record_event(&self, e: &NewEvent) -> Result<EventReceipt> {
        self.pg_record_event(e)
    }
    fn record_feedback(&self, f: &NewFeedback) -> Result<String> {
        self.pg_record_feedback(f)
    }
    fn save_draft(&self, d: &NewDraft) -> Result<String> {
        self.pg_save_draft(d)
    }
    fn open_case(&self, c: &NewCase) -> Result<CaseReceipt> {
        self.pg_open_case(c)
    }
    fn take_ticket(&self, service_id: &str, session_id: &str) -> Result<QueueTicket> {
        self.pg_take_ticket(service_id, session_id)
    }
    fn book_appointment(&self, cfg: &AppointmentConfig, a: &NewAppointment) -> Result<Booking> {
        self.pg_book_appointment(cfg, a)
    }
    fn set_status(&self, number: &str, status: &str, note: &str) -> Result<()> {
        self.pg_set_status(number, status, note)
    }
    fn add_note(&self, number: &str, note: &str) -> Result<()> {
        self.pg_add_note(number, note)
    }
    fn note_access(&self, number: &str, detail: &str) -> Result<()> {
        self.pg_note_access(number, detail)
    }
    fn records(&self, filter: &Filter, reveal: bool) -> Result<Vec<RecordSummary>> {
        self.pg_records(filter, reveal)
    }
    fn show(&self, key: &str, reveal: bool) -> Result<Option<RecordDetail>> {
        self.pg_show(key, reveal)
    }
    fn find_by_personal_number(&self, personal: &str, reveal: bool) -> Result<Vec<RecordSummary>> {
        self.pg_find_by_personal_number(personal, reveal)
    }
    fn follow_ups_due(&self, by: DateTime<Utc>) -> Result<Vec<RecordSummary>> {
        self.pg_follow_ups_due(by)
    }
    fn queue_status(&self, service_id: Option<&str>) -> Result<QueueStatus> {
        self.pg_queue_status(service_id)
    }
    fn verify(&self) -> Result<VerifyReport> {
        self.pg_verify(None)
    }
    fn verify_site(&self, site: &str) -> Result<VerifyReport> {
        self.pg_verify(Some(site))
    }
    fn check_receipt(&self, _number: &str, _code: &str) -> Result<bool> {
        Err(StoreError::Invalid(
            "receipt check codes are signed by the terminal that printed them: check the receipt there".into(),
        ))
    }
    fn listen_alerts(&self) -> Result<Option<AlertListener>> {
        PgStore::listen_alerts(self).map(Some)
    }
    fn delivery(&self) -> Result<Vec<Delivery>> {
        let rows = self.conn()?.query(
            "SELECT t.site, t.terminal, t.code, t.last_delivery,
                    COALESCE((SELECT COUNT(*) FROM evidence e WHERE e.terminal = t.terminal), 0),
                    COALESCE((SELECT MAX(count) FROM anchors a WHERE a.terminal = t.terminal), 0)
             FROM terminals t ORDER BY t.site, t.terminal",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                let code: Option<i32> = r.get(2);
                let held: i64 = r.get(4);
                let anchored: i64 = r.get(5);
                Delivery {
                    site: r.get(0),
                    terminal: r.get(1),
                    code: code.and_then(|c| u8::try_from(c).ok()),
                    waiting: u64::try_from(anchored - held).unwrap_or(0),
                    delivered: u64::try_from(held).unwrap_or(0),
                    last_delivery: Some(r.get(3)),
                    oldest_waiting: None,
                    last_error: None,
                    seen_by: "centre",
                }
            })
            .collect())
    }
}
