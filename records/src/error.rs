//! Errors of the record store.

/// Everything that can go wrong in the store. Expected situations (a full slot, a record
/// not found) are values, not errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file or its folder could not be created or its mode set.
    #[error("records file {path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// SQLite reported an error.
    #[error("records database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL (the centre's store) reported an error, or could not be reached.
    #[error("centre records database: {0}")]
    Postgres(#[from] postgres::Error),
    /// A PostgreSQL migration failed to apply.
    #[error("centre records schema migration {version} ({name}) failed: {source}")]
    PgMigration {
        /// Migration number.
        version: u32,
        /// Migration file name.
        name: &'static str,
        /// The cause.
        source: postgres::Error,
    },
    /// A migration failed to apply.
    #[error("records schema migration {version} ({name}) failed: {source}")]
    Migration {
        /// Migration number.
        version: u32,
        /// Migration file name.
        name: &'static str,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The database was written by a newer Xiao'an.
    #[error("records database has schema version {found}, newer than this program knows ({known}); upgrade Xiao'an")]
    NewerSchema {
        /// Version found in the file.
        found: u32,
        /// Latest version this build knows.
        known: u32,
    },
    /// A stored JSON column could not be read or written.
    #[error("records JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A record with this number does not exist.
    #[error("no record numbered {0}")]
    NotFound(String),
    /// The status is not one this kind of record can take.
    #[error("status `{status}` is not valid for a {kind} record (allowed: {allowed})")]
    BadStatus {
        /// Record kind.
        kind: &'static str,
        /// The status asked for.
        status: String,
        /// The allowed statuses.
        allowed: String,
    },
    /// The status change is not an allowed move from the record's current status
    /// ([`super::RecordKind::next_statuses`]).
    #[error(
        "cannot change {kind} {number} from `{from}` to `{to}` (allowed from `{from}`: {allowed})"
    )]
    Transition {
        /// Record kind.
        kind: &'static str,
        /// The record's number.
        number: String,
        /// Its current status.
        from: String,
        /// The status asked for.
        to: String,
        /// Where it may go instead, or that it is final.
        allowed: String,
    },
    /// Another writer held the records file's write lock for longer than the store's busy
    /// timeout ([`super::WRITE_BUSY_TIMEOUT`] unless changed with
    /// [`super::Store::set_busy_timeout`]). Nothing was written; the call may be retried.
    /// The conversation must not wait on this: speak first, retry in the background.
    #[error("the records file is busy (another writer held it for {waited_ms} ms): nothing was written, try again")]
    Busy {
        /// How long the call waited for the lock.
        waited_ms: u64,
    },
    /// The input to a store call is inconsistent (empty form id, bad slot config…).
    #[error("invalid record input: {0}")]
    Invalid(String),
    /// A terminal's chain no longer matches what it delivered to the centre (entries
    /// rewritten or deleted after delivery): the centre refuses the batch, and
    /// `records verify --centre` names the entry.
    #[error("terminal {terminal}: its evidence chain does not match the centre's at entry {seq}: {message}")]
    Diverged {
        /// The terminal.
        terminal: String,
        /// The first entry concerned.
        seq: i64,
        /// What differs.
        message: String,
    },
    /// The mediator slot was taken by another case in the meantime.
    #[error("the mediator slot {0} is already taken")]
    SlotTaken(String),
}

impl StoreError {
    /// True when the call failed only because another writer held the lock (or the file
    /// is locked): retrying later may succeed, and nothing was written.
    pub fn is_busy(&self) -> bool {
        match self {
            StoreError::Busy { .. } => true,
            StoreError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }
}

/// Result type of the store.
pub type Result<T> = std::result::Result<T, StoreError>;
