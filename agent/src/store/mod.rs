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
//! ```no_run
//! use xiaoan_agent::store::{Store, RecordKind};
//! let store = Store::open(std::path::Path::new("/tmp/records.db")).unwrap();
//! for r in store.list(Some(RecordKind::Filing), 20, false).unwrap() {
//!     println!("{} {} {}", r.display_number, r.title, r.who.unwrap_or_default());
//! }
//! assert!(store.verify().unwrap().ok);
//! ```

mod anchor;
mod appointments;
mod chain;
pub mod error;
mod keyfile;
pub mod mask;
mod seal;

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use anchor::{anchor_path, key_path, CHECK_CODE_LEN};
pub use appointments::{
    spoken_time, AppointmentConfig, AppointmentReceipt, Booking, NewAppointment, Refusal,
    RefusalReason, SlotSpec,
};
pub use chain::{EvidenceEntry, Problem, ProblemKind, VerifyReport, GENESIS};
/// The store's error type under the name the rest of the crate uses.
pub use error::StoreError as Error;
pub use error::{Result, StoreError};
pub use seal::field_key_path;

use crate::forms::{FieldKind, Form, MediatorOffer};

/// Schema migrations, applied in order; the version is kept in `PRAGMA user_version`.
const MIGRATIONS: &[(u32, &str, &str)] = &[
    (
        1,
        "0001_records.sql",
        include_str!("../../migrations/0001_records.sql"),
    ),
    (
        2,
        "0002_notes.sql",
        include_str!("../../migrations/0002_notes.sql"),
    ),
    (
        3,
        "0003_lookup.sql",
        include_str!("../../migrations/0003_lookup.sql"),
    ),
];

/// How long a write waits for another writer's lock before failing with
/// [`StoreError::Busy`]. Short on purpose: a caller in a conversation must never be held
/// silent by the database (our own transactions last milliseconds; a lock held longer is
/// a stuck or foreign writer). Change it per store with [`Store::set_busy_timeout`].
pub const WRITE_BUSY_TIMEOUT: StdDuration = StdDuration::from_millis(1500);

/// The centre promises a follow-up call this long after a mediation case is opened.
pub const FOLLOW_UP_HOURS: i64 = 48;

/// Display prefix of mediation case numbers (调解).
pub const CASE_PREFIX: &str = "TJ";

/// The kinds of record the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A self-declaration (承诺制 / 容缺受理).
    Filing,
    /// A mediation case.
    Case,
    /// An emergency or a handoff to staff.
    Event,
    /// An appointment.
    Appointment,
    /// A queue ticket.
    Queue,
    /// A complaint, praise, 随手拍 or rating.
    Feedback,
    /// A form left mid-way.
    Draft,
}

impl RecordKind {
    /// Every kind, in listing order.
    pub const ALL: [RecordKind; 7] = [
        RecordKind::Filing,
        RecordKind::Case,
        RecordKind::Event,
        RecordKind::Appointment,
        RecordKind::Queue,
        RecordKind::Feedback,
        RecordKind::Draft,
    ];

    /// The name used in the CLI, JSON and the evidence chain.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Filing => "filing",
            RecordKind::Case => "case",
            RecordKind::Event => "event",
            RecordKind::Appointment => "appointment",
            RecordKind::Queue => "queue",
            RecordKind::Feedback => "feedback",
            RecordKind::Draft => "draft",
        }
    }

    /// Parse a CLI name (`filing`, `case`, … also plurals).
    pub fn parse(s: &str) -> Option<RecordKind> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_suffix('s').unwrap_or(&s);
        RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s || (s == "tj" && *k == RecordKind::Case))
    }

    fn table(self) -> &'static str {
        match self {
            RecordKind::Filing => "filings",
            RecordKind::Case => "cases",
            RecordKind::Event => "events",
            RecordKind::Appointment => "appointments",
            RecordKind::Queue => "queue",
            RecordKind::Feedback => "feedback",
            RecordKind::Draft => "drafts",
        }
    }

    /// Statuses a record of this kind may take (the first is where new records start,
    /// unless noted on the creating call).
    pub fn statuses(self) -> &'static [&'static str] {
        match self {
            RecordKind::Filing => &["filed", "materials_owed", "complete", "withdrawn"],
            RecordKind::Case => &["open", "scheduled", "escalated", "followed_up", "closed"],
            RecordKind::Event => &["open", "acknowledged", "closed"],
            RecordKind::Appointment => &["booked", "cancelled", "done", "no_show"],
            RecordKind::Queue => &["waiting", "serving", "done", "skipped"],
            RecordKind::Feedback => &["open", "answered", "closed"],
            RecordKind::Draft => &["open", "resumed", "closed"],
        }
    }

    /// The statuses a record of this kind may move to from `from` (staff actions).
    /// Final statuses lead nowhere: a closed emergency is not reopened (a new alert is a
    /// new record), a withdrawn or completed filing stays so, a cancelled appointment is
    /// booked again as a new one. Setting the status a record already has is a no-op,
    /// not a transition.
    pub fn next_statuses(self, from: &str) -> &'static [&'static str] {
        match (self, from) {
            (RecordKind::Filing, "filed") => &["materials_owed", "complete", "withdrawn"],
            (RecordKind::Filing, "materials_owed") => &["filed", "complete", "withdrawn"],
            (RecordKind::Case, "open") => &["scheduled", "escalated", "followed_up", "closed"],
            (RecordKind::Case, "scheduled") => &["open", "escalated", "followed_up", "closed"],
            (RecordKind::Case, "escalated") => &["scheduled", "followed_up", "closed"],
            (RecordKind::Case, "followed_up") => &["scheduled", "escalated", "closed"],
            (RecordKind::Event, "open") => &["acknowledged", "closed"],
            (RecordKind::Event, "acknowledged") => &["closed"],
            (RecordKind::Appointment, "booked") => &["cancelled", "done", "no_show"],
            (RecordKind::Queue, "waiting") => &["serving", "done", "skipped"],
            (RecordKind::Queue, "serving") => &["done", "skipped"],
            // a ticket skipped while its holder was away can be called again
            (RecordKind::Queue, "skipped") => &["waiting"],
            (RecordKind::Feedback, "open") => &["answered", "closed"],
            (RecordKind::Feedback, "answered") => &["closed"],
            (RecordKind::Draft, "open") => &["resumed", "closed"],
            (RecordKind::Draft, "resumed") => &["closed"],
            _ => &[],
        }
    }
}

/// One answered form field, as filed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldValue {
    /// Machine name of the field.
    pub name: String,
    /// Chinese label.
    pub label: String,
    /// Kind (decides masking).
    pub kind: FieldKind,
    /// Canonical value (from `Form::validate`).
    pub value: String,
}

/// A material still owed after a 容缺 filing, with its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwedMaterial {
    /// What is owed.
    pub name: String,
    /// The last day to bring it.
    pub due: NaiveDate,
}

/// Contact details of a resident (personal data, masked in views).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Name, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Mobile number, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A declaration to file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewFiling {
    /// Form id (service-catalogue id).
    pub form_id: String,
    /// Form title.
    pub form_title: String,
    /// Answered fields.
    pub fields: Vec<FieldValue>,
    /// Materials still owed, with deadlines.
    pub materials_owed: Vec<OwedMaterial>,
    /// The commitment text the resident agreed to.
    pub commitment: String,
    /// Dialogue session.
    pub session_id: String,
}

impl NewFiling {
    /// Build a filing from a form and the validated answers `(field name, value)`, in the
    /// form's field order (answers to unknown fields are dropped), owing the form's
    /// deferred materials from `filed_on`.
    pub fn from_form(
        form: &Form,
        answers: &[(String, String)],
        session_id: &str,
        filed_on: NaiveDate,
    ) -> NewFiling {
        let fields = form
            .fields
            .iter()
            .filter_map(|f| {
                answers
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == f.name)
                    .map(|(_, v)| FieldValue {
                        name: f.name.clone(),
                        label: f.label.clone(),
                        kind: f.kind,
                        value: v.clone(),
                    })
            })
            .collect();
        NewFiling {
            form_id: form.id.clone(),
            form_title: form.title.clone(),
            fields,
            materials_owed: form.materials_owed(filed_on),
            commitment: form.commitment.clone(),
            session_id: session_id.to_string(),
        }
    }
}

/// What the resident is told after filing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilingReceipt {
    /// Receipt number (ten digits, read digit by digit).
    pub number: String,
    /// Materials still owed, with deadlines.
    pub materials_owed: Vec<OwedMaterial>,
    /// When it was filed (UTC).
    pub created_at: DateTime<Utc>,
    /// Check code for the receipt ([`Store::check_receipt`]); None without a device key.
    pub check_code: Option<String>,
}

/// A mediation case to open.
#[derive(Debug, Clone, Serialize)]
pub struct NewCase {
    /// Dispute kind id (`noise` …).
    pub dispute_kind: String,
    /// Its Chinese name (`噪音`).
    pub dispute_name: String,
    /// The resident.
    pub resident: Contact,
    /// The other party (`楼上邻居`).
    pub other_party: String,
    /// Where it happens.
    pub place: String,
    /// What happened, in the resident's words.
    pub what_happened: String,
    /// The outcome wanted.
    pub wanted_outcome: String,
    /// Whether anyone is in danger (the dialogue has already started the emergency path).
    pub danger: bool,
    /// The mediator slot accepted, if any.
    pub slot: Option<MediatorOffer>,
    /// Dialogue session.
    pub session_id: String,
}

/// What the resident is told after a case is opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseReceipt {
    /// Case number (digits).
    pub number: String,
    /// Case number as shown (`TJ` + digits).
    pub display_number: String,
    /// When the centre calls back (created + 48 h, UTC).
    pub follow_up_due: DateTime<Utc>,
    /// The mediator slot held, if any.
    pub slot: Option<MediatorOffer>,
    /// Check code for the receipt ([`Store::check_receipt`]); None without a device key.
    pub check_code: Option<String>,
}

/// Emergency or handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Urgent danger or harm: staff are alerted at once.
    Emergency,
    /// The resident wants a person; a ticket for staff.
    Handoff,
}

/// One turn of the conversation so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// `resident` or `xiaoan`.
    pub who: String,
    /// What was said.
    pub text: String,
}

/// An emergency or handoff event.
#[derive(Debug, Clone, Serialize)]
pub struct NewEvent {
    /// Which.
    pub kind: EventKind,
    /// One line for staff (`老人摔倒，3号楼`).
    pub summary: String,
    /// The conversation so far.
    pub transcript: Vec<Turn>,
    /// Where the resident waits (`无障碍服务专窗`).
    pub wait_at: Option<String>,
    /// Special needs (`视障`).
    pub needs: Option<String>,
    /// Dialogue session.
    pub session_id: String,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventReceipt {
    /// Ticket number.
    pub number: String,
    /// When (UTC).
    pub created_at: DateTime<Utc>,
    /// Check code for the receipt ([`Store::check_receipt`]); None without a device key.
    pub check_code: Option<String>,
}

/// Feedback kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    /// A complaint or suggestion.
    Complaint,
    /// Praise.
    Praise,
    /// 随手拍: a problem seen in the neighbourhood.
    Snapshot,
    /// 服务评价: a rating of a service.
    Rating,
}

impl FeedbackKind {
    fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Complaint => "complaint",
            FeedbackKind::Praise => "praise",
            FeedbackKind::Snapshot => "snapshot",
            FeedbackKind::Rating => "rating",
        }
    }
}

/// Feedback to record.
#[derive(Debug, Clone, Serialize)]
pub struct NewFeedback {
    /// Which kind.
    pub kind: FeedbackKind,
    /// What the resident said.
    pub text: String,
    /// Where (for 随手拍).
    pub place: Option<String>,
    /// The service concerned.
    pub service_id: Option<String>,
    /// Rating 1–5 (for 服务评价).
    pub rating: Option<u8>,
    /// Contact, if the resident wants an answer.
    pub contact: Contact,
    /// Dialogue session.
    pub session_id: String,
}

/// A form left mid-way.
#[derive(Debug, Clone, Serialize)]
pub struct NewDraft {
    /// Form id.
    pub form_id: String,
    /// Fields answered so far.
    pub fields: Vec<FieldValue>,
    /// Why it stopped (`timeout`, `hang_up`…).
    pub reason: String,
    /// Dialogue session.
    pub session_id: String,
}

/// A queue ticket just taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueTicket {
    /// Record number.
    pub number: String,
    /// Service-catalogue id.
    pub service_id: String,
    /// The short number called out today.
    pub ticket: u32,
    /// Residents waiting ahead for the same service.
    pub ahead: u32,
}

/// Today's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueStatus {
    /// Tickets waiting.
    pub waiting: u32,
    /// Tickets being served now.
    pub serving: Vec<u32>,
    /// The next ticket to be called.
    pub next: Option<u32>,
}

/// One line of a staff listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSummary {
    /// Kind.
    pub kind: RecordKind,
    /// Number (digits).
    pub number: String,
    /// Number as shown (`TJ…` for cases).
    pub display_number: String,
    /// What it is (`生育登记`, `纠纷调解·噪音`, `紧急求助`…).
    pub title: String,
    /// The resident, masked unless revealed.
    pub who: Option<String>,
    /// Status.
    pub status: String,
    /// Created (RFC 3339, UTC).
    pub created_at: String,
    /// Dialogue session.
    pub session_id: String,
}

/// A record with its content and evidence history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordDetail {
    /// The listing line.
    pub summary: RecordSummary,
    /// Every column, JSON columns parsed; personal data masked unless revealed.
    pub record: Value,
    /// Evidence entries about this record, oldest first.
    pub history: Vec<EvidenceEntry>,
}

/// The record store. One connection; wrap in a `Mutex` to share between threads.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    busy_timeout: StdDuration,
    /// The device key that signs the chain head after each write (None: a read-only store
    /// without its key file).
    anchor: Option<anchor::Anchor>,
    /// The key that seals personal fields (None: a read-only store without its key file;
    /// rows are then written and read as they are).
    sealer: Option<seal::Sealer>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

pub(crate) fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_rfc3339(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

/// Allocate the next record number inside a write transaction.
pub(crate) fn next_number(conn: &Connection) -> Result<String> {
    let day = chrono::Local::now().format("%y%m%d").to_string();
    let last: i64 = conn.query_row(
        "INSERT INTO counters (day, last) VALUES (?1, 1) ON CONFLICT(day) DO UPDATE SET last = last + 1 RETURNING last",
        params![day],
        |r| r.get(0),
    )?;
    Ok(format!("{day}{last:04}"))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Normalise a number a person typed or said: digits only, `TJ` prefix and separators dropped.
fn normalise_number(key: &str) -> String {
    let k = key.trim();
    let k = k
        .strip_prefix(CASE_PREFIX)
        .or_else(|| k.strip_prefix("tj"))
        .unwrap_or(k);
    k.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

const TS: &str = "%Y-%m-%dT%H:%M:%S";

impl Store {
    /// Open (creating if needed) the store at `path`: folder 0700 if created, file 0600,
    /// WAL, `synchronous=FULL`, a busy timeout, and pending migrations applied.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.exists() {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(parent)
                    .map_err(io_err(parent))?;
            }
        }
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err(path)(e)),
        }
        // An existing file made by hand or by an older version: owner only.
        let meta = std::fs::metadata(path).map_err(io_err(path))?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(io_err(path))?;
        }
        repair_side_files(path);
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(WRITE_BUSY_TIMEOUT)?;
        // Reading the mode takes no lock; switching it (a new file) does.
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Invalid(format!(
                    "could not switch the records file to WAL (got {mode})"
                )));
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        migrate(&mut conn)?;
        let writable = !conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true);
        let anchor = match anchor::Anchor::load(path)? {
            Some(a) => Some(a),
            None if writable => {
                let (count, head) = chain_head(&conn)?;
                Some(anchor::Anchor::create(path, count, &head)?)
            }
            None => None,
        };
        anchor::tighten(path);
        let sealer = seal::Sealer::load(path, writable)?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
            busy_timeout: WRITE_BUSY_TIMEOUT,
            anchor,
            sealer,
        };
        if writable {
            store.catch_up_anchor()?;
            store.seal_plain_rows()?;
        }
        Ok(store)
    }

    /// Sign the head of a chain one entry past its last anchor: a write that stopped
    /// between its commit and its anchor (SIGKILL, power loss). Anything longer is left for
    /// verify to report.
    fn catch_up_anchor(&self) -> Result<()> {
        let Some(a) = &self.anchor else {
            return Ok(());
        };
        let (count, head) = chain_head(&self.conn)?;
        let Some(last) = a.last_line() else {
            return Ok(());
        };
        if count != last.count + 1 {
            return Ok(());
        }
        let linked: Option<String> = self
            .conn
            .query_row(
                "SELECT prev_hash FROM evidence WHERE seq = ?1",
                params![count],
                |r| r.get(0),
            )
            .optional()?;
        let anchored_hash_ok = last.count == 0 || linked.as_deref() == Some(last.head.as_str());
        if anchored_hash_ok {
            a.publish(count, &head)?;
        }
        Ok(())
    }

    /// Seal personal fields still stored in clear (a store from before sealing). Looks
    /// first, read-only, and takes the write lock only when there is something to seal.
    /// The chain is unaffected: its record hashes are over the opened content.
    fn seal_plain_rows(&self) -> Result<()> {
        if self.sealer.is_none() {
            return Ok(());
        }
        let plain = |conn: &Connection,
                     kind: RecordKind,
                     col: &str|
         -> Result<Vec<(i64, String, String)>> {
            let mut stmt = conn.prepare(&format!(
                "SELECT id, number, {col} FROM {} WHERE {col} IS NOT NULL AND substr({col}, 1, 5) != 'enc1:'",
                kind.table()
            ))?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        };
        let mut any = false;
        for kind in RecordKind::ALL {
            for col in seal::personal_columns(kind) {
                any |= !plain(&self.conn, kind, col)?.is_empty();
            }
        }
        if !any {
            return Ok(());
        }
        let tx = self.write_tx()?;
        for kind in RecordKind::ALL {
            for col in seal::personal_columns(kind) {
                for (id, number, value) in plain(&tx, kind, col)? {
                    tx.execute(
                        &format!("UPDATE {} SET {col} = ?1 WHERE id = ?2", kind.table()),
                        params![self.sealed(&tx, &number, value)?, id],
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Seal a personal field of record `number` for writing (as is without a field
    /// key), keeping a lookup tag for each phone or ID number in it.
    pub(crate) fn sealed(&self, conn: &Connection, number: &str, plain: String) -> Result<String> {
        let Some(sealer) = &self.sealer else {
            return Ok(plain);
        };
        for n in seal::numbers_in(&plain) {
            conn.execute(
                "INSERT INTO lookup (tag, number) VALUES (?1, ?2)",
                params![sealer.tag(&n), number],
            )?;
        }
        sealer.seal(&plain)
    }

    /// Records whose personal fields hold this phone or ID number (found by its keyed
    /// hash; the number itself is not stored in clear), newest first, masked unless
    /// `reveal`.
    pub fn find_by_personal_number(
        &self,
        personal: &str,
        reveal: bool,
    ) -> Result<Vec<RecordSummary>> {
        let Some(sealer) = &self.sealer else {
            return Ok(Vec::new());
        };
        let numbers: Vec<String> = {
            let mut stmt = self.conn.prepare(
                "SELECT DISTINCT number FROM lookup WHERE tag = ?1 ORDER BY number DESC",
            )?;
            let rows = stmt.query_map(params![sealer.tag(personal)], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut out = Vec::new();
        for n in numbers {
            if let Some(kind) = self.kind_of(&n)? {
                if let Some(snap) = chain::snapshot(&self.conn, Some(sealer), kind, &n)? {
                    out.push(summarise(kind, &snap, reveal));
                }
            }
        }
        Ok(out)
    }

    /// Publish the chain head to the anchor file after a commit. The write itself has
    /// succeeded, so a failure here is reported on stderr (counts and hashes only) and by
    /// verify, not returned.
    fn anchor_head(&self) {
        let Some(a) = &self.anchor else {
            return;
        };
        let res = chain_head(&self.conn).and_then(|(count, head)| a.publish(count, &head));
        if let Err(e) = res {
            eprintln!("xiaoan: could not anchor the evidence chain: {e}");
        }
    }

    /// The check code printed on the receipt of record `number` (see
    /// [`CHECK_CODE_LEN`]): None when the store has no device key.
    pub fn check_code(&self, number: &str) -> Result<Option<String>> {
        let number = normalise_number(number);
        let Some(a) = &self.anchor else {
            return Ok(None);
        };
        let hash = self.created_hash(&number)?;
        Ok(Some(a.check_code(&number, &hash)))
    }

    /// Whether `code` is the check code of the receipt for record `number`, as the chain
    /// and the device key have it now. [`StoreError::NotFound`] when the chain has no
    /// `created` entry for the number (a deleted record).
    pub fn check_receipt(&self, number: &str, code: &str) -> Result<bool> {
        let number = normalise_number(number);
        let hash = self.created_hash(&number)?;
        let a = self.anchor.as_ref().ok_or_else(|| {
            StoreError::Invalid(format!(
                "no device key at {}: receipts cannot be checked",
                anchor::key_path(&self.path).display()
            ))
        })?;
        Ok(a.check_receipt(&number, &hash, code))
    }

    fn created_hash(&self, number: &str) -> Result<String> {
        self.conn
            .query_row(
                "SELECT hash FROM evidence WHERE record_number = ?1 AND action = 'created' ORDER BY seq LIMIT 1",
                params![number],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(number.to_string()))
    }

    /// How long writes wait for another writer's lock before [`StoreError::Busy`]
    /// (default [`WRITE_BUSY_TIMEOUT`]). The conversation may set it shorter and retry in
    /// the background; reads never wait on writers (WAL).
    pub fn set_busy_timeout(&mut self, wait: StdDuration) -> Result<()> {
        self.conn.busy_timeout(wait)?;
        self.busy_timeout = wait;
        Ok(())
    }

    /// The store opened read-only, as happens when its file cannot be written (tests run
    /// as root, for whom file modes do not make a file read-only).
    #[cfg(test)]
    pub(crate) fn open_read_only(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            busy_timeout: WRITE_BUSY_TIMEOUT,
            anchor: anchor::Anchor::load(path)?,
            sealer: seal::Sealer::load(path, false)?,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store can keep records: `Err` names the reason for staff (opened
    /// read-only, the file gone or unreadable). `/api/health` and the agent's start-up
    /// report it; a store that fails this still serves reads where it can.
    pub fn health(&self) -> std::result::Result<(), String> {
        if self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
            return Err(format!(
                "the records file {} is read-only: nothing can be recorded (check its permissions and the folder's)",
                self.path.display()
            ));
        }
        if !self.path.is_file() {
            return Err(format!(
                "the records file {} is gone (deleted while open)",
                self.path.display()
            ));
        }
        self.conn
            .query_row("SELECT seq FROM chain_head WHERE id = 1", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|_| ())
            .map_err(|e| format!("the records file cannot be read: {e}"))
    }

    /// The schema version in the file.
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Begin a write transaction (BEGIN IMMEDIATE: takes the write lock at once, waiting at
    /// most the busy timeout, then [`StoreError::Busy`]).
    fn write_tx(&self) -> Result<Transaction<'_>> {
        Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate).map_err(|e| {
            let e = StoreError::Sqlite(e);
            if e.is_busy() {
                StoreError::Busy {
                    waited_ms: u64::try_from(self.busy_timeout.as_millis()).unwrap_or(u64::MAX),
                }
            } else {
                e
            }
        })
    }

    /// File a declaration: the filing and its evidence entry in one transaction.
    pub fn file_declaration(&self, f: &NewFiling) -> Result<FilingReceipt> {
        if f.form_id.trim().is_empty() || f.fields.is_empty() {
            return Err(StoreError::Invalid(
                "a filing needs a form id and at least one field".into(),
            ));
        }
        let tx = self.write_tx()?;
        let number = next_number(&tx)?;
        let now = now_rfc3339();
        let status = if f.materials_owed.is_empty() {
            "filed"
        } else {
            "materials_owed"
        };
        tx.execute(
            "INSERT INTO filings (number, form_id, form_title, fields, materials_owed, commitment, status, created_at, updated_at, session_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
            params![
                number,
                f.form_id,
                f.form_title,
                self.sealed(&tx, &number, serde_json::to_string(&f.fields)?)?,
                serde_json::to_string(&f.materials_owed)?,
                f.commitment,
                status,
                now,
                f.session_id
            ],
        )?;
        chain::append(
            &tx,
            self.sealer.as_ref(),
            "created",
            RecordKind::Filing,
            &number,
            &f.form_id,
        )?;
        tx.commit()?;
        self.anchor_head();
        Ok(FilingReceipt {
            check_code: self.check_code(&number).ok().flatten(),
            number,
            materials_owed: f.materials_owed.clone(),
            created_at: parse_rfc3339(&now),
        })
    }

    /// Keep a form left mid-way for staff; returns its number.
    pub fn save_draft(&self, d: &NewDraft) -> Result<String> {
        let tx = self.write_tx()?;
        let number = next_number(&tx)?;
        let now = now_rfc3339();
        tx.execute(
            "INSERT INTO drafts (number, form_id, fields, reason, status, created_at, updated_at, session_id)
             VALUES (?1, ?2, ?3, ?4, 'open', ?5, ?5, ?6)",
            params![number, d.form_id, self.sealed(&tx, &number, serde_json::to_string(&d.fields)?)?, d.reason, now, d.session_id],
        )?;
        chain::append(
            &tx,
            self.sealer.as_ref(),
            "created",
            RecordKind::Draft,
            &number,
            &d.reason,
        )?;
        tx.commit()?;
        self.anchor_head();
        Ok(number)
    }

    /// Mediator slots held by cases that are not closed, from `from` on.
    pub fn mediator_slots_taken(
        &self,
        from: NaiveDateTime,
    ) -> Result<Vec<(String, NaiveDateTime)>> {
        let mut stmt = self.conn.prepare(
            "SELECT mediator, slot_start FROM cases WHERE slot_start IS NOT NULL AND mediator IS NOT NULL
             AND slot_start >= ?1 AND status NOT IN ('closed') ORDER BY slot_start",
        )?;
        let rows = stmt.query_map(params![from.format(TS).to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (m, s) = row?;
            if let Ok(t) = NaiveDateTime::parse_from_str(&s, TS) {
                out.push((m, t));
            }
        }
        Ok(out)
    }

    /// Open a mediation case, holding its mediator slot and scheduling the 48-hour follow-up.
    /// Fails with [`StoreError::SlotTaken`] if another open case holds the slot.
    pub fn open_case(&self, c: &NewCase) -> Result<CaseReceipt> {
        let tx = self.write_tx()?;
        if let Some(slot) = &c.slot {
            let taken: i64 = tx.query_row(
                "SELECT COUNT(*) FROM cases WHERE mediator = ?1 AND slot_start = ?2 AND status != 'closed'",
                params![slot.mediator, slot.start.format(TS).to_string()],
                |r| r.get(0),
            )?;
            if taken > 0 {
                return Err(StoreError::SlotTaken(spoken_time(slot.start)));
            }
        }
        let number = next_number(&tx)?;
        let created = Utc::now();
        let now = created.to_rfc3339_opts(SecondsFormat::Secs, true);
        let due = parse_rfc3339(&now) + Duration::hours(FOLLOW_UP_HOURS);
        let status = if c.danger {
            "escalated"
        } else if c.slot.is_some() {
            "scheduled"
        } else {
            "open"
        };
        tx.execute(
            "INSERT INTO cases (number, dispute_kind, dispute_name, resident, other_party, place, what_happened, wanted_outcome,
                danger, slot_start, mediator, slot_place, follow_up_due, status, created_at, updated_at, session_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?16)",
            params![
                number,
                c.dispute_kind,
                c.dispute_name,
                self.sealed(&tx, &number, serde_json::to_string(&c.resident)?)?,
                c.other_party,
                c.place,
                c.what_happened,
                c.wanted_outcome,
                c.danger,
                c.slot.as_ref().map(|s| s.start.format(TS).to_string()),
                c.slot.as_ref().map(|s| s.mediator.clone()),
                c.slot.as_ref().map(|s| s.place.clone()),
                due.to_rfc3339_opts(SecondsFormat::Secs, true),
                status,
                now,
                c.session_id
            ],
        )?;
        chain::append(
            &tx,
            self.sealer.as_ref(),
            "created",
            RecordKind::Case,
            &number,
            &c.dispute_kind,
        )?;
        tx.commit()?;
        self.anchor_head();
        Ok(CaseReceipt {
            check_code: self.check_code(&number).ok().flatten(),
            display_number: format!("{CASE_PREFIX}{number}"),
            number,
            follow_up_due: due,
            slot: c.slot.clone(),
        })
    }

    /// Cases whose follow-up call is due by `by` and not yet made.
    pub fn follow_ups_due(&self, by: DateTime<Utc>) -> Result<Vec<RecordSummary>> {
        let mut stmt = self.conn.prepare(
            "SELECT number FROM cases WHERE follow_up_due <= ?1 AND status NOT IN ('followed_up', 'closed') ORDER BY follow_up_due",
        )?;
        let numbers = stmt
            .query_map(
                params![by.to_rfc3339_opts(SecondsFormat::Secs, true)],
                |r| r.get::<_, String>(0),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::new();
        for n in numbers {
            if let Some(snap) =
                chain::snapshot(&self.conn, self.sealer.as_ref(), RecordKind::Case, &n)?
            {
                out.push(summarise(RecordKind::Case, &snap, false));
            }
        }
        Ok(out)
    }

    /// Record an emergency or a handoff ticket for staff.
    pub fn record_event(&self, e: &NewEvent) -> Result<EventReceipt> {
        let tx = self.write_tx()?;
        let number = next_number(&tx)?;
        let now = now_rfc3339();
        let kind = match e.kind {
            EventKind::Emergency => "emergency",
            EventKind::Handoff => "handoff",
        };
        tx.execute(
            "INSERT INTO events (number, event_kind, summary, transcript, wait_at, needs, status, created_at, updated_at, session_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, ?7, ?8)",
            params![number, kind, e.summary, self.sealed(&tx, &number, serde_json::to_string(&e.transcript)?)?, e.wait_at, e.needs, now, e.session_id],
        )?;
        chain::append(
            &tx,
            self.sealer.as_ref(),
            "created",
            RecordKind::Event,
            &number,
            kind,
        )?;
        tx.commit()?;
        self.anchor_head();
        Ok(EventReceipt {
            check_code: self.check_code(&number).ok().flatten(),
            number,
            created_at: parse_rfc3339(&now),
        })
    }

    /// Record a complaint, praise, 随手拍 or rating; returns its number.
    pub fn record_feedback(&self, f: &NewFeedback) -> Result<String> {
        if f.rating.is_some_and(|r| !(1..=5).contains(&r)) {
            return Err(StoreError::Invalid("a rating is 1 to 5".into()));
        }
        let tx = self.write_tx()?;
        let number = next_number(&tx)?;
        let now = now_rfc3339();
        tx.execute(
            "INSERT INTO feedback (number, feedback_kind, text, place, service_id, rating, contact, status, created_at, updated_at, session_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?8, ?9)",
            params![
                number,
                f.kind.as_str(),
                f.text,
                f.place,
                f.service_id,
                f.rating.map(i64::from),
                self.sealed(&tx, &number, serde_json::to_string(&f.contact)?)?,
                now,
                f.session_id
            ],
        )?;
        chain::append(
            &tx,
            self.sealer.as_ref(),
            "created",
            RecordKind::Feedback,
            &number,
            f.kind.as_str(),
        )?;
        tx.commit()?;
        self.anchor_head();
        Ok(number)
    }

    /// Take a queue ticket for `service_id` today.
    pub fn take_ticket(&self, service_id: &str, session_id: &str) -> Result<QueueTicket> {
        let tx = self.write_tx()?;
        let day = chrono::Local::now().format("%y%m%d").to_string();
        let ticket: i64 = tx.query_row(
            "SELECT COALESCE(MAX(ticket), 0) + 1 FROM queue WHERE day = ?1",
            params![day],
            |r| r.get(0),
        )?;
        let ahead: i64 = tx.query_row(
            "SELECT COUNT(*) FROM queue WHERE day = ?1 AND service_id = ?2 AND status = 'waiting'",
            params![day, service_id],
            |r| r.get(0),
        )?;
        let number = next_number(&tx)?;
        let now = now_rfc3339();
        tx.execute(
            "INSERT INTO queue (number, service_id, day, ticket, status, created_at, updated_at, session_id)
             VALUES (?1, ?2, ?3, ?4, 'waiting', ?5, ?5, ?6)",
            params![number, service_id, day, ticket, now, session_id],
        )?;
        chain::append(
            &tx,
            self.sealer.as_ref(),
            "created",
            RecordKind::Queue,
            &number,
            service_id,
        )?;
        tx.commit()?;
        self.anchor_head();
        Ok(QueueTicket {
            number,
            service_id: service_id.to_string(),
            ticket: u32::try_from(ticket).unwrap_or(u32::MAX),
            ahead: u32::try_from(ahead).unwrap_or(u32::MAX),
        })
    }

    /// Today's queue, for one service or all.
    pub fn queue_status(&self, service_id: Option<&str>) -> Result<QueueStatus> {
        let day = chrono::Local::now().format("%y%m%d").to_string();
        let mut stmt = self
            .conn
            .prepare("SELECT ticket, status FROM queue WHERE day = ?1 AND (?2 IS NULL OR service_id = ?2) ORDER BY ticket")?;
        let rows = stmt
            .query_map(params![day, service_id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let as_u32 = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        let waiting: Vec<u32> = rows
            .iter()
            .filter(|(_, s)| s == "waiting")
            .map(|(t, _)| as_u32(*t))
            .collect();
        Ok(QueueStatus {
            waiting: u32::try_from(waiting.len()).unwrap_or(u32::MAX),
            serving: rows
                .iter()
                .filter(|(_, s)| s == "serving")
                .map(|(t, _)| as_u32(*t))
                .collect(),
            next: waiting.first().copied(),
        })
    }

    /// Which kind of record has this number.
    fn kind_of(&self, number: &str) -> Result<Option<RecordKind>> {
        for kind in RecordKind::ALL {
            let found: Option<i64> = self
                .conn
                .query_row(
                    &format!("SELECT 1 FROM {} WHERE number = ?1", kind.table()),
                    params![number],
                    |r| r.get(0),
                )
                .optional()?;
            if found.is_some() {
                return Ok(Some(kind));
            }
        }
        Ok(None)
    }

    /// Change a record's status (staff actions, follow-up done, materials received…),
    /// appending an evidence entry. The entry chains the SHA-256 of `note`, not the note
    /// (see [`Store::add_note`]).
    ///
    /// Only the moves of [`RecordKind::next_statuses`] are allowed; any other is
    /// [`StoreError::Transition`] and changes nothing. Setting the status the record
    /// already has is a no-op: nothing is written, the note included (to add a note
    /// without a status change, use [`Store::add_note`]).
    pub fn set_status(&self, number: &str, status: &str, note: &str) -> Result<()> {
        let number = normalise_number(number);
        let tx = self.write_tx()?;
        let kind = self
            .kind_of(&number)?
            .ok_or_else(|| StoreError::NotFound(number.clone()))?;
        if !kind.statuses().contains(&status) {
            return Err(StoreError::BadStatus {
                kind: kind.as_str(),
                status: status.to_string(),
                allowed: kind.statuses().join(", "),
            });
        }
        let old: String = tx.query_row(
            &format!("SELECT status FROM {} WHERE number = ?1", kind.table()),
            params![number],
            |r| r.get(0),
        )?;
        if old == status {
            return Ok(());
        }
        let next = kind.next_statuses(&old);
        if !next.contains(&status) {
            return Err(StoreError::Transition {
                kind: kind.as_str(),
                number,
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
                "UPDATE {} SET status = ?1, updated_at = ?2 WHERE number = ?3",
                kind.table()
            ),
            params![status, now_rfc3339(), number],
        )?;
        chain::append_noted(
            &tx,
            self.sealer.as_ref(),
            "status",
            kind,
            &number,
            &format!("{old} -> {status}"),
            note,
        )?;
        tx.commit()?;
        self.anchor_head();
        Ok(())
    }

    /// Add a note to a record's evidence history without changing its status (where a
    /// resident waits, told after the alert was raised…): an entry with action `note`.
    /// The chain keeps the note's SHA-256 only; the text is kept beside it and shown
    /// masked unless revealed (as are notes given with [`Store::set_status`]).
    pub fn add_note(&self, number: &str, note: &str) -> Result<()> {
        let number = normalise_number(number);
        let tx = self.write_tx()?;
        let kind = self
            .kind_of(&number)?
            .ok_or_else(|| StoreError::NotFound(number.clone()))?;
        chain::append_noted(&tx, self.sealer.as_ref(), "note", kind, &number, "", note)?;
        tx.commit()?;
        self.anchor_head();
        Ok(())
    }

    /// Note in the evidence chain that staff saw a record's personal data (`detail` says
    /// how, never what).
    pub fn note_access(&self, number: &str, detail: &str) -> Result<()> {
        let number = normalise_number(number);
        let tx = self.write_tx()?;
        let kind = self
            .kind_of(&number)?
            .ok_or_else(|| StoreError::NotFound(number.clone()))?;
        chain::append(&tx, self.sealer.as_ref(), "access", kind, &number, detail)?;
        tx.commit()?;
        self.anchor_head();
        Ok(())
    }

    /// The newest records (of one kind, or all), newest first; personal data masked unless
    /// `reveal`.
    pub fn list(
        &self,
        kind: Option<RecordKind>,
        limit: usize,
        reveal: bool,
    ) -> Result<Vec<RecordSummary>> {
        let kinds: Vec<RecordKind> = match kind {
            Some(k) => vec![k],
            None => RecordKind::ALL.to_vec(),
        };
        let lim = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut out: Vec<(String, i64, RecordSummary)> = Vec::new();
        for k in kinds {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT number, id FROM {} ORDER BY created_at DESC, id DESC LIMIT ?1",
                k.table()
            ))?;
            let rows = stmt
                .query_map(params![lim], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for (number, id) in rows {
                if let Some(snap) = chain::snapshot(&self.conn, self.sealer.as_ref(), k, &number)? {
                    let s = summarise(k, &snap, reveal);
                    out.push((s.created_at.clone(), id, s));
                }
            }
        }
        out.sort_by(|a, b| b.0.cmp(&a.0).then(b.2.number.cmp(&a.2.number)));
        out.truncate(limit);
        Ok(out.into_iter().map(|(_, _, s)| s).collect())
    }

    /// Records of one kind in one status (open events for the staff screen, cases
    /// awaiting a slot…), newest first; personal data masked unless `reveal`.
    pub fn list_with_status(
        &self,
        kind: RecordKind,
        status: &str,
        limit: usize,
        reveal: bool,
    ) -> Result<Vec<RecordSummary>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT number FROM {} WHERE status = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2",
            kind.table()
        ))?;
        let numbers = stmt
            .query_map(
                params![status, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| r.get::<_, String>(0),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(numbers.len());
        for n in numbers {
            if let Some(snap) = chain::snapshot(&self.conn, self.sealer.as_ref(), kind, &n)? {
                out.push(summarise(kind, &snap, reveal));
            }
        }
        Ok(out)
    }

    /// One record by its number (`2611290017`, `TJ2611290017`, spaces and dashes allowed),
    /// with its evidence history; personal data masked unless `reveal`.
    pub fn show(&self, key: &str, reveal: bool) -> Result<Option<RecordDetail>> {
        let number = normalise_number(key);
        let Some(kind) = self.kind_of(&number)? else {
            return Ok(None);
        };
        let Some(snap) = chain::snapshot(&self.conn, self.sealer.as_ref(), kind, &number)? else {
            return Ok(None);
        };
        let summary = summarise(kind, &snap, reveal);
        let mut record = snap;
        if let Value::Object(map) = &mut record {
            for col in [
                "fields",
                "materials_owed",
                "resident",
                "transcript",
                "contact",
            ] {
                if let Some(Value::String(s)) = map.get(col) {
                    if let Ok(parsed) = serde_json::from_str::<Value>(s) {
                        map.insert(col.to_string(), parsed);
                    }
                }
            }
            map.remove("id");
        }
        if !reveal {
            mask::json(&mut record);
        }
        Ok(Some(RecordDetail {
            summary,
            record,
            history: chain::history(&self.conn, &number, reveal)?,
        }))
    }

    /// Check the evidence chain and every record against it; names the first altered or
    /// missing entry.
    pub fn verify(&self) -> Result<VerifyReport> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)?;
        let mut report = chain::verify(&tx, self.sealer.as_ref())?;
        let count: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM evidence", [], |r| {
            r.get(0)
        })?;
        let mut extra = match &self.anchor {
            None => vec![Problem {
                kind: ProblemKind::AnchorBroken,
                seq: None,
                record_number: None,
                message: format!(
                    "no device key at {}: the chain cannot be checked for deleted entries",
                    anchor::key_path(&self.path).display()
                ),
            }],
            Some(a) => {
                let (lines, mut problems) = a.read();
                let mut stmt = tx.prepare("SELECT hash FROM evidence WHERE seq = ?1")?;
                let mut hash_at = |seq: i64| -> Result<Option<String>> {
                    Ok(stmt.query_row(params![seq], |r| r.get(0)).optional()?)
                };
                problems.extend(anchor::check(&lines, count, &mut hash_at)?);
                problems
            }
        };
        tx.commit()?;
        // the chain's own "entries missing at the end" (its head was not reset) and the
        // anchor's say the same thing: keep the chain's
        let cut = |p: &Problem| p.kind == ProblemKind::EntryMissing && p.seq == Some(count + 1);
        if report.problems.iter().any(cut) {
            extra.retain(|p| !cut(p));
        }
        report.problems.append(&mut extra);
        report.problems.truncate(100);
        report.ok = report.problems.is_empty();
        report.first_problem = report
            .problems
            .iter()
            .min_by_key(|p| p.seq.unwrap_or(i64::MAX))
            .cloned();
        Ok(report)
    }
}

/// Make the `-wal` and `-shm` files beside a writable database writable again. A run
/// against a read-only database leaves them read-only (SQLite gives them the database's
/// mode), and every later writer then fails with "attempt to write a readonly database".
/// Their mode is set back to 0600; a `-shm` that cannot be made writable is removed when
/// the `-wal` is empty (it is only an index of the WAL, rebuilt on open). Best effort:
/// whatever remains wrong shows in [`Store::health`].
fn repair_side_files(path: &Path) {
    if OpenOptions::new().write(true).open(path).is_err() {
        return; // the database itself is read-only: nothing to repair, health says so
    }
    let side = |suffix: &str| {
        let mut p = path.as_os_str().to_os_string();
        p.push(suffix);
        PathBuf::from(p)
    };
    let writable = |p: &Path| OpenOptions::new().write(true).open(p).is_ok();
    let needs_fix = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o200 == 0) || !writable(p)
    };
    for suffix in ["-wal", "-shm"] {
        let p = side(suffix);
        if !p.exists() || !needs_fix(&p) {
            continue;
        }
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        if suffix == "-shm" && !writable(&p) {
            let wal_empty = std::fs::metadata(side("-wal")).map_or(true, |m| m.len() == 0);
            if wal_empty {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
}

/// Apply pending migrations, each in its own transaction with its version bump. When the
/// file is already at the latest version nothing is locked: the version is read first.
fn migrate(conn: &mut Connection) -> Result<()> {
    migrate_with(conn, MIGRATIONS)
}

fn migrate_with(conn: &mut Connection, migrations: &[(u32, &'static str, &str)]) -> Result<()> {
    let known = migrations.last().map_or(0, |m| m.0);
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    for &(version, name, sql) in migrations.iter().filter(|m| m.0 > found) {
        let wrap = |source| StoreError::Migration {
            version,
            name,
            source,
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(wrap)?;
        // Another process may have migrated while we waited for the lock.
        let current: u32 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(wrap)?;
        if current >= version {
            continue;
        }
        tx.execute_batch(sql).map_err(wrap)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
    }
    Ok(())
}

/// The chain head: (entries, hash of the last; [`GENESIS`] when there are none).
fn chain_head(conn: &Connection) -> Result<(i64, String)> {
    let (seq, hash): (i64, String) =
        conn.query_row("SELECT seq, hash FROM chain_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok(if seq == 0 {
        (0, GENESIS.to_string())
    } else {
        (seq, hash)
    })
}

fn str_of<'a>(snap: &'a Value, key: &str) -> &'a str {
    snap.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The resident's name in a record, if any (first person-name field, or the contact).
fn who_of(kind: RecordKind, snap: &Value) -> Option<String> {
    match kind {
        RecordKind::Filing | RecordKind::Draft => {
            let fields: Vec<FieldValue> = serde_json::from_str(str_of(snap, "fields")).ok()?;
            fields
                .into_iter()
                .find(|f| f.kind == FieldKind::PersonName)
                .map(|f| f.value)
        }
        RecordKind::Case => {
            serde_json::from_str::<Contact>(str_of(snap, "resident"))
                .ok()?
                .name
        }
        RecordKind::Appointment | RecordKind::Feedback => {
            serde_json::from_str::<Contact>(str_of(snap, "contact"))
                .ok()?
                .name
        }
        RecordKind::Event | RecordKind::Queue => None,
    }
}

fn summarise(kind: RecordKind, snap: &Value, reveal: bool) -> RecordSummary {
    let number = str_of(snap, "number").to_string();
    let title = match kind {
        RecordKind::Filing => str_of(snap, "form_title").to_string(),
        RecordKind::Case => format!("纠纷调解·{}", str_of(snap, "dispute_name")),
        RecordKind::Event => match str_of(snap, "event_kind") {
            "emergency" => "紧急求助".to_string(),
            _ => "转人工".to_string(),
        },
        RecordKind::Appointment => format!(
            "预约 {} {}",
            str_of(snap, "service_id"),
            str_of(snap, "slot_start")
        ),
        RecordKind::Queue => format!(
            "排队 {}号 {}",
            snap.get("ticket").and_then(Value::as_i64).unwrap_or(0),
            str_of(snap, "service_id")
        ),
        RecordKind::Feedback => match str_of(snap, "feedback_kind") {
            "praise" => "表扬".to_string(),
            "snapshot" => "随手拍".to_string(),
            "rating" => "服务评价".to_string(),
            _ => "投诉建议".to_string(),
        },
        RecordKind::Draft => format!("未完成表单 {}", str_of(snap, "form_id")),
    };
    let who = who_of(kind, snap).map(|n| if reveal { n } else { mask::name(&n) });
    RecordSummary {
        kind,
        display_number: if kind == RecordKind::Case {
            format!("{CASE_PREFIX}{number}")
        } else {
            number.clone()
        },
        number,
        title,
        who,
        status: str_of(snap, "status").to_string(),
        created_at: str_of(snap, "created_at").to_string(),
        session_id: str_of(snap, "session_id").to_string(),
    }
}

#[cfg(test)]
mod tests;
