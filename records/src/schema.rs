//! The schema: migrations applied in order on open, and the chain head row.

use rusqlite::{Connection, TransactionBehavior};

use crate::chain::GENESIS;
use crate::error::{Result, StoreError};

/// SQLite schema migrations, applied in order; the version is kept in `PRAGMA user_version`
/// and each applied file is listed in `schema_version` (from 0004). The PostgreSQL ones,
/// with the same versions, are in `backend/postgres.rs`.
pub(crate) const MIGRATIONS: &[(u32, &str, &str)] = &[
    (
        1,
        "0001_records.sql",
        include_str!("../migrations/sqlite/0001_records.sql"),
    ),
    (
        2,
        "0002_notes.sql",
        include_str!("../migrations/sqlite/0002_notes.sql"),
    ),
    (
        3,
        "0003_lookup.sql",
        include_str!("../migrations/sqlite/0003_lookup.sql"),
    ),
    (
        4,
        "0004_origin.sql",
        include_str!("../migrations/sqlite/0004_origin.sql"),
    ),
    // 0100 and up: delivery to the centre (migrations/README.md)
    (
        100,
        "0100_outbox.sql",
        include_str!("../migrations/sqlite/0100_outbox.sql"),
    ),
];

/// The first version listed in `schema_version` by the runner (earlier ones are listed
/// by 0004 itself, which makes the table).
const LISTED_FROM: u32 = 4;

/// Apply pending migrations, each in its own transaction with its version bump. When the
/// file is already at the latest version nothing is locked: the version is read first.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    migrate_with(conn, MIGRATIONS)
}

pub(crate) fn migrate_with(
    conn: &mut Connection,
    migrations: &[(u32, &'static str, &str)],
) -> Result<()> {
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
        if version >= LISTED_FROM {
            tx.execute(
                "INSERT OR REPLACE INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![version, name, crate::clock::rfc3339(chrono::Utc::now())],
            )
            .map_err(wrap)?;
        }
        tx.pragma_update(None, "user_version", version)
            .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
    }
    Ok(())
}

/// The chain head: (entries, hash of the last; [`GENESIS`] when there are none).
pub(crate) fn chain_head(conn: &Connection) -> Result<(i64, String)> {
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
