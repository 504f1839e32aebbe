//! Opening: migrations, file modes, locks held by others, read-only files.

use super::*;

#[test]
fn opening_twice_applies_migrations_once_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.db");
    let number = {
        let store = Store::open(&path).unwrap();
        store.file_declaration(&birth_filing(0)).unwrap().number
    };
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        MIGRATIONS.last().unwrap().0
    );
    assert!(store.show(&number, false).unwrap().is_some());
    assert!(store.verify().unwrap().ok);
}

#[test]
fn a_failing_migration_is_rolled_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("m.db")).unwrap();
    let steps: &[(u32, &'static str, &str)] = &[
        (1, "0001_a.sql", "CREATE TABLE a (x INTEGER);"),
        (
            2,
            "0002_b.sql",
            "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);",
        ),
    ];
    let e = migrate_with(&mut conn, steps).unwrap_err().to_string();
    assert!(e.contains("0002_b.sql"), "{e}");
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
    let b_tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(b_tables, 0, "half of migration 2 was kept");
    // Fixed, it applies from where it stopped.
    let fixed: &[(u32, &'static str, &str)] =
        &[steps[0], (2, "0002_b.sql", "CREATE TABLE b (x INTEGER);")];
    migrate_with(&mut conn, fixed).unwrap();
    migrate_with(&mut conn, fixed).unwrap();
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
}

#[test]
fn a_newer_schema_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.db");
    {
        let store = Store::open(&path).unwrap();
        store.conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let e = Store::open(&path).unwrap_err().to_string();
    assert!(e.contains("99") && e.contains("upgrade"), "{e}");
}

#[test]
fn the_file_is_readable_by_its_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("home").join("records");
    let path = folder.join("records.db");
    let store = Store::open(&path).unwrap();
    store.file_declaration(&birth_filing(0)).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&folder), 0o700);
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600, "the WAL holds the same personal data");
    }

    // A file someone made world-readable is tightened on open.
    drop(store);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _store = Store::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
}

// --- a store that fails loudly and never stalls (issue 24) ---

/// Hold the write lock of `path` from another connection until the returned one drops.
fn hold_write_lock(path: &Path) -> Connection {
    let other = Connection::open(path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    other
}

#[test]
fn startup_takes_no_write_lock_when_nothing_needs_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.db");
    drop(Store::open(&path).unwrap());
    let lock = hold_write_lock(&path);
    let started = Instant::now();
    // before: the migration step took BEGIN IMMEDIATE and waited 10 s, then failed
    let store = Store::open(&path).unwrap();
    assert!(
        started.elapsed() < StdDuration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        store.schema_version().unwrap(),
        MIGRATIONS.last().unwrap().0
    );
    drop(lock);
}

#[test]
fn a_held_write_lock_fails_fast_with_busy_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.db");
    let mut store = Store::open(&path).unwrap();
    store
        .set_busy_timeout(StdDuration::from_millis(200))
        .unwrap();
    let lock = hold_write_lock(&path);
    let started = Instant::now();
    let e = emergency_result(&store).unwrap_err();
    assert!(
        started.elapsed() < StdDuration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(
        e.is_busy() && matches!(e, StoreError::Busy { waited_ms: 200 }),
        "{e}"
    );
    assert!(e.to_string().contains("try again"), "{e}");
    drop(lock);
    // once the lock is gone the same call goes through, and the chain holds
    emergency_result(&store).unwrap();
    assert_eq!(entries(&store), 1);
    assert!(store.verify().unwrap().ok);
    // the default wait is short: an emergency is never held silent for long
    assert!(WRITE_BUSY_TIMEOUT <= StdDuration::from_secs(2));
}

#[test]
fn a_read_only_store_is_not_healthy() {
    let (dir, store) = temp_store();
    assert_eq!(store.health(), Ok(()));
    let path = dir.path().join("records.db");
    let ro = Store::open_read_only(&path).unwrap();
    let reason = ro.health().unwrap_err();
    assert!(reason.contains("read-only"), "{reason}");
    // reading still works for staff
    assert!(ro.verify().unwrap().ok);
}

#[test]
fn stale_read_only_side_files_are_made_writable_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.db");
    let store = Store::open(&path).unwrap();
    // what a run against a read-only database leaves behind: -wal and -shm with its mode
    let shm = dir.path().join("records.db-shm");
    let wal = dir.path().join("records.db-wal");
    assert!(shm.exists() && wal.exists());
    drop(store);
    for p in [&shm, &wal] {
        std::fs::write(p, b"").unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o400)).unwrap();
    }
    let store = Store::open(&path).unwrap();
    for p in [&shm, &wal] {
        if p.exists() {
            let mode = std::fs::metadata(p).unwrap().permissions().mode();
            assert_eq!(mode & 0o600, 0o600, "{} mode {mode:o}", p.display());
        }
    }
    emergency_result(&store).unwrap();
    assert_eq!(store.health(), Ok(()));
}
