//! Opening the store: the file and its mode, WAL, migrations, the device key and the
//! field key; its health; and the write transaction every record call runs in.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::backend::Origin;
use crate::chain::{self, EvidenceEntry};
use crate::clock::{next_number, Clock};
use crate::error::{Result, StoreError};
use crate::keyfile::io_err;
use crate::schema::{chain_head, migrate};
use crate::{anchor, seal, RecordKind, WRITE_BUSY_TIMEOUT};

/// The record store. One connection; wrap in a `Mutex` to share between threads.
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    busy_timeout: StdDuration,
    /// Where timestamps and record-number dates come from.
    pub(crate) clock: Clock,
    /// The device key that signs the chain head after each write (None: a read-only store
    /// without its key file).
    pub(crate) anchor: Option<anchor::Anchor>,
    /// The key that seals personal fields (None: a read-only store without its key file;
    /// rows are then written and read as they are).
    pub(crate) sealer: Option<seal::Sealer>,
    /// The site and terminal stamped on records this store creates.
    pub(crate) origin: Origin,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

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
            clock: Clock::System,
            anchor,
            sealer,
            origin: Origin::local(),
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

    /// Publish the chain head to the anchor file after a commit. The write itself has
    /// succeeded, so a failure here is reported on stderr (counts and hashes only) and by
    /// verify, not returned.
    pub(crate) fn anchor_head(&self) {
        let Some(a) = &self.anchor else {
            return;
        };
        let res = chain_head(&self.conn).and_then(|(count, head)| a.publish(count, &head));
        if let Err(e) = res {
            eprintln!("xiaoan: could not anchor the evidence chain: {e}");
        }
    }

    /// How long writes wait for another writer's lock before [`StoreError::Busy`]
    /// (default [`WRITE_BUSY_TIMEOUT`]). The conversation may set it shorter and retry in
    /// the background; reads never wait on writers (WAL).
    pub fn set_busy_timeout(&mut self, wait: StdDuration) -> Result<()> {
        self.conn.busy_timeout(wait)?;
        self.busy_timeout = wait;
        Ok(())
    }

    /// An existing store opened read-only: nothing is created, migrated or repaired, and
    /// every write fails ([`Store::health`] says why). This is how a store whose file
    /// cannot be written behaves (tests run as root, for whom file modes do not make a
    /// file read-only, open it so).
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            busy_timeout: WRITE_BUSY_TIMEOUT,
            clock: Clock::System,
            anchor: anchor::Anchor::load(path)?,
            sealer: seal::Sealer::load(path, false)?,
            origin: Origin::local(),
        })
    }

    /// Read the time from `clock` from now on (a fixed instant for tests and stories;
    /// [`Clock::System`] by default).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// Stamp the records this store creates with `origin` (`[site] id` and `terminal`;
    /// [`Origin::local`] until set), and stamp it on records from before sites were kept
    /// (an empty site). Looks first and takes the write lock only when such rows exist;
    /// a read-only store only remembers the origin.
    pub fn set_origin(&mut self, origin: Origin) -> Result<()> {
        self.origin = origin;
        if self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
            return Ok(());
        }
        let mut any = false;
        for kind in RecordKind::ALL {
            let n: i64 = self.conn.query_row(
                &format!("SELECT COUNT(*) FROM {} WHERE site = ''", kind.table()),
                [],
                |r| r.get(0),
            )?;
            any |= n > 0;
        }
        if !any {
            return Ok(());
        }
        let tx = self.write_tx()?;
        for kind in RecordKind::ALL {
            tx.execute(
                &format!(
                    "UPDATE {} SET site = ?1, terminal = ?2 WHERE site = ''",
                    kind.table()
                ),
                params![self.origin.site, self.origin.terminal],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The site and terminal this store stamps on new records.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Where the store reads the time.
    pub fn clock(&self) -> Clock {
        self.clock
    }
    /// Make every write to this store fail (`true`) or work again (`false`), as a broken
    /// disk would: a trigger on the evidence chain, which every write appends to, aborts
    /// the write's transaction. For tests and conversation stories only.
    #[doc(hidden)]
    pub fn simulate_write_failures(&self, fail: bool) -> Result<()> {
        let conn = rusqlite::Connection::open(self.path())?;
        let sql = if fail {
            "CREATE TRIGGER IF NOT EXISTS xiaoan_test_fail BEFORE INSERT ON evidence \
             BEGIN SELECT RAISE(ABORT, 'disk I/O error (simulated)'); END;"
        } else {
            "DROP TRIGGER IF EXISTS xiaoan_test_fail;"
        };
        conn.execute_batch(sql)?;
        Ok(())
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
    pub(crate) fn write_tx(&self) -> Result<Transaction<'_>> {
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

    /// The next record number, dated by the store's clock (inside a write transaction).
    pub(crate) fn next_number(&self, tx: &Connection) -> Result<String> {
        next_number(tx, &self.clock.day())
    }

    /// Append an evidence entry for record `number`, timed by the store's clock (inside
    /// the write transaction that changed the record).
    pub(crate) fn append(
        &self,
        tx: &Connection,
        action: &str,
        kind: RecordKind,
        number: &str,
        detail: &str,
    ) -> Result<EvidenceEntry> {
        if action == "created" {
            // provenance, outside the chained snapshot: stamped here so that every
            // creating call carries it
            tx.execute(
                &format!(
                    "UPDATE {} SET site = ?1, terminal = ?2 WHERE number = ?3",
                    kind.table()
                ),
                params![self.origin.site, self.origin.terminal, number],
            )?;
        }
        let at = self.clock.rfc3339();
        chain::append(tx, self.sealer.as_ref(), &at, action, kind, number, detail)
    }

    /// [`Store::append`] with a staff note chained as its hash (see `chain::append_noted`).
    pub(crate) fn append_noted(
        &self,
        tx: &Connection,
        action: &str,
        kind: RecordKind,
        number: &str,
        prefix: &str,
        note: &str,
    ) -> Result<EvidenceEntry> {
        let at = self.clock.rfc3339();
        chain::append_noted(
            tx,
            self.sealer.as_ref(),
            &at,
            action,
            kind,
            number,
            prefix,
            note,
        )
    }

    /// Which kind of record has this number.
    pub(crate) fn kind_of(&self, number: &str) -> Result<Option<RecordKind>> {
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
