//! The centre in PostgreSQL: delivered entries and rows land in the centre's record
//! tables (migrations/postgres/0001, keyed by terminal), beside the `terminals` and
//! `anchors` of 0100.
//!
//! One delivery is one transaction:
//! 1. upsert the terminal's row in `terminals` (this locks it: one terminal's deliveries
//!    apply one after the other; a code another terminal holds is refused);
//! 2. check the batch against the entries and anchors held ([`super::check_batch`]);
//! 3. insert the entries with `ON CONFLICT (terminal, seq) DO NOTHING`, and their notes;
//! 4. unless the batch is stale, upsert the record rows (personal fields sealed with the
//!    centre's key, their lookup tags renewed) and add the anchor. A record staff acted
//!    on at the centre (entries about it in the centre's chain) keeps the centre's
//!    status once staff moved it there, takes the terminal's change only when its entry
//!    first arrives, and the centre's chain logs the row when that changed it;
//! 5. move the terminal's `chain_head`, commit, and only then answer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use postgres::types::{ToSql, Type};
use postgres::Transaction;
use serde::Serialize;
use serde_json::Value;

use super::{check_batch, Ack, Batch, Centre, ChainAnchor, DeliveredRecord};
use crate::backend::pg_records::{append_to, centre_entries, lock_chain, CentreEntry};
use crate::backend::{Origin, PgStore};
use crate::chain;
use crate::error::{Result, StoreError};
use crate::seal::{self, Sealer};

/// A hook run inside the delivery transaction (tests of crashes mid-batch).
pub type Hook = Box<dyn FnMut(&Batch) + Send>;

/// The centre's PostgreSQL as a [`Centre`]. Connects on first use and again after a
/// failure; its field key is `<key_dir>/centre.fieldkey`, which must be the same file on
/// every terminal that delivers and at the centre (see docs/centre-store.md).
pub struct PgCentre {
    url: String,
    key_dir: PathBuf,
    store: Option<PgStore>,
    before_commit: Option<Hook>,
    commit_delay: Option<Duration>,
}

/// One terminal as the centre sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TerminalStatus {
    /// The terminal.
    pub terminal: String,
    /// Its site.
    pub site: String,
    /// Its code in record numbers.
    pub code: Option<i32>,
    /// Entries of its chain the centre holds.
    pub entries: i64,
    /// Its chain's length at its last delivery.
    pub anchored: i64,
    /// When it last delivered.
    pub last_delivery: String,
}

impl PgCentre {
    /// A centre at `url` (`postgres://…`), its field key in `key_dir`. Nothing is
    /// connected until the first call.
    pub fn new(url: &str, key_dir: &Path) -> PgCentre {
        PgCentre {
            url: url.to_string(),
            key_dir: key_dir.to_path_buf(),
            store: None,
            before_commit: None,
            commit_delay: None,
        }
    }

    /// Connect now (and apply pending migrations).
    pub fn connect(url: &str, key_dir: &Path) -> Result<PgCentre> {
        let mut c = PgCentre::new(url, key_dir);
        c.store()?;
        Ok(c)
    }

    /// Run `hook` inside each delivery transaction, just before its commit, then wait
    /// `delay`: for tests that kill a worker or the server mid-batch.
    #[doc(hidden)]
    pub fn hold_before_commit(&mut self, hook: Hook, delay: Duration) {
        self.before_commit = Some(hook);
        self.commit_delay = Some(delay);
    }

    fn store(&mut self) -> Result<&PgStore> {
        if self.store.is_none() {
            self.store = Some(PgStore::open(&self.url, Origin::local(), &self.key_dir)?);
        }
        self.store
            .as_ref()
            .ok_or_else(|| StoreError::Invalid("no centre connection".into()))
    }

    /// Run `f` on the connection; a failure drops it (the next call reconnects).
    fn with<T>(
        &mut self,
        f: impl FnOnce(&mut postgres::Client, Option<&Sealer>) -> Result<T>,
    ) -> Result<T> {
        let res = {
            let store = self.store()?;
            let mut client = store.conn()?;
            f(&mut client, store.sealer.as_ref())
        };
        if res.is_err() {
            self.store = None;
        }
        res
    }

    /// Every terminal that has delivered, with what the centre holds of its chain.
    pub fn terminals(&mut self) -> Result<Vec<TerminalStatus>> {
        self.with(|c, _| {
            let rows = c.query(
                "SELECT t.terminal, t.site, t.code, t.last_delivery,
                        COALESCE((SELECT COUNT(*) FROM evidence e WHERE e.terminal = t.terminal), 0),
                        COALESCE((SELECT MAX(count) FROM anchors a WHERE a.terminal = t.terminal), 0)
                 FROM terminals t ORDER BY t.site, t.terminal",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| TerminalStatus {
                    terminal: r.get(0),
                    site: r.get(1),
                    code: r.get(2),
                    last_delivery: r.get(3),
                    entries: r.get(4),
                    anchored: r.get(5),
                })
                .collect())
        })
    }
}

impl Centre for PgCentre {
    fn deliver(&mut self, batch: &Batch) -> Result<Ack> {
        let mut hook = self.before_commit.take();
        let delay = self.commit_delay;
        let res = self.with(|c, sealer| {
            let mut tx = c.transaction()?;
            let ack = deliver_in(&mut tx, sealer, batch)?;
            if let Some(h) = hook.as_mut() {
                h(batch);
            }
            if let Some(d) = delay {
                std::thread::sleep(d);
            }
            tx.commit()?;
            Ok(ack)
        });
        self.before_commit = hook;
        res
    }

    fn anchors(&mut self, terminal: &str) -> Result<Vec<ChainAnchor>> {
        self.with(|c, _| {
            let rows = c.query(
                "SELECT count, head FROM anchors WHERE terminal = $1 ORDER BY count",
                &[&terminal],
            )?;
            Ok(rows
                .iter()
                .map(|r| ChainAnchor {
                    count: r.get(0),
                    head: r.get(1),
                })
                .collect())
        })
    }

    fn entry_hashes(&mut self, terminal: &str) -> Result<Vec<(i64, String)>> {
        self.with(|c, _| {
            let rows = c.query(
                "SELECT seq, hash FROM evidence WHERE terminal = $1 ORDER BY seq",
                &[&terminal],
            )?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }
}

fn deliver_in(tx: &mut Transaction<'_>, sealer: Option<&Sealer>, b: &Batch) -> Result<Ack> {
    let now = crate::clock::rfc3339(chrono::Utc::now());
    let t = b.terminal.as_str();
    let code = b.code.map(i32::from);
    // 1. the terminal's row: locks it for this transaction
    let claimed = tx.execute(
        "INSERT INTO terminals (terminal, site, code, first_seen, last_delivery)
         VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (terminal) DO UPDATE
         SET site = EXCLUDED.site, code = COALESCE(EXCLUDED.code, terminals.code),
             last_delivery = EXCLUDED.last_delivery",
        &[&t, &b.site, &code, &now],
    );
    if let Err(e) = claimed {
        if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
            return Err(StoreError::Invalid(format!(
                "terminal code {:02} is already another terminal's: give terminal {t} its own",
                b.code.unwrap_or(0)
            )));
        }
        return Err(e.into());
    }
    // 2. what the centre holds that the batch must agree with
    let seqs = b.seqs();
    let lo = seqs.first().copied().unwrap_or(0);
    let hi = seqs.last().copied().unwrap_or(0);
    let mut probe = seqs.clone();
    probe.push(lo - 1);
    probe.push(b.anchor.count);
    let held: HashMap<i64, String> = tx
        .query(
            "SELECT seq, hash FROM evidence WHERE terminal = $1 AND seq = ANY($2)",
            &[&t, &probe],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let anchors: Vec<ChainAnchor> = tx
        .query(
            "SELECT count, head FROM anchors WHERE terminal = $1
               AND (count BETWEEN $2 AND $3 OR count = $4
                    OR count = (SELECT MAX(count) FROM anchors WHERE terminal = $1))",
            &[&t, &lo, &hi, &b.anchor.count],
        )?
        .iter()
        .map(|r| ChainAnchor {
            count: r.get(0),
            head: r.get(1),
        })
        .collect();
    let current = check_batch(b, &mut |seq| Ok(held.get(&seq).cloned()), &anchors)?;
    // 3. entries, once
    let col = |f: fn(&crate::EvidenceEntry) -> String| -> Vec<String> {
        b.entries.iter().map(f).collect()
    };
    let stored = tx.execute(
        "INSERT INTO evidence (site, terminal, seq, at, action, record_kind, record_number, detail, payload_sha256, prev_hash, hash)
         SELECT $1, $2, u.* FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) AS u
         ON CONFLICT (terminal, seq) DO NOTHING",
        &[
            &b.site,
            &t,
            &seqs,
            &col(|e| e.at.clone()),
            &col(|e| e.action.clone()),
            &col(|e| e.record_kind.clone()),
            &col(|e| e.record_number.clone()),
            &col(|e| e.detail.clone()),
            &col(|e| e.payload_sha256.clone()),
            &col(|e| e.prev_hash.clone()),
            &col(|e| e.hash.clone()),
        ],
    )?;
    for n in &b.notes {
        tx.execute(
            "INSERT INTO notes (terminal, seq, record_number, note) VALUES ($1, $2, $3, $4)
             ON CONFLICT (terminal, seq) DO NOTHING",
            &[&t, &n.seq, &n.record_number, &n.note],
        )?;
    }
    // 4. rows and anchor, unless a newer batch is already here
    let mut records = 0u64;
    if current {
        let mut stmts: HashMap<String, postgres::Statement> = HashMap::new();
        let numbers: Vec<String> = b.records.iter().map(|r| r.number.clone()).collect();
        let mut acted = centre_entries(tx, t, &numbers)?;
        for r in &b.records {
            let centre = acted.remove(&r.number);
            if centre.is_some() && held.contains_key(&latest_seq(b, &r.number)) {
                // staff acted on it here: the terminal's change applies once, when its
                // entry first arrives, not again with a repeated batch
                continue;
            }
            upsert_record(tx, sealer, b, r, centre.as_ref(), &mut stmts)?;
            if let Some(centre) = centre {
                log_merge(tx, sealer, b, r, &centre, &now)?;
            }
            records += 1;
        }
        tx.execute(
            "INSERT INTO anchors (terminal, count, head, site, delivered_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (terminal, count) DO NOTHING",
            &[&t, &b.anchor.count, &b.anchor.head, &b.site, &now],
        )?;
    }
    // 5. the chain's head as the centre holds it
    if let Some(last) = b.entries.last() {
        tx.execute(
            "INSERT INTO chain_head (terminal, site, seq, hash) VALUES ($1, $2, $3, $4)
             ON CONFLICT (terminal) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash
             WHERE chain_head.seq < EXCLUDED.seq",
            &[&t, &b.site, &last.seq, &last.hash],
        )?;
    }
    let anchor = tx
        .query_opt(
            "SELECT count, head FROM anchors WHERE terminal = $1 ORDER BY count DESC LIMIT 1",
            &[&t],
        )?
        .map(|r| ChainAnchor {
            count: r.get(0),
            head: r.get(1),
        });
    Ok(Ack {
        stored,
        duplicates: u64::try_from(seqs.len())
            .unwrap_or(0)
            .saturating_sub(stored),
        records,
        anchor,
    })
}

/// The newest entry of the batch about record `number` (the batch's count if none).
fn latest_seq(b: &Batch, number: &str) -> i64 {
    b.entries
        .iter()
        .rev()
        .find(|e| e.record_number == number)
        .map_or(b.anchor.count, |e| e.seq)
}

/// After a delivered row was written over a record staff have acted on at the centre:
/// when the row now differs from what the centre's newest entry about it recorded, or the
/// terminal's status was overruled by staff's, that chain logs the row as it now stands
/// (`delivery`, naming the terminal's entry and any status kept), so the row stays
/// accounted for by the entry the verifier reads. Runs in the delivery's
/// transaction, which already holds the terminal's row (staff actions on its records
/// lock it first too), then locks the centre chain's head.
fn log_merge(
    tx: &mut Transaction<'_>,
    sealer: Option<&Sealer>,
    b: &Batch,
    r: &DeliveredRecord,
    centre: &CentreEntry,
    now: &str,
) -> Result<()> {
    let snap = crate::backend::pg_records::pg_row_json(tx, sealer, r.kind, &b.terminal, &r.number)?
        .map(chain::chained)
        .ok_or_else(|| StoreError::NotFound(r.number.clone()))?;
    let delivered = r.row.get("status").and_then(Value::as_str).unwrap_or("");
    let kept = snap.get("status").and_then(Value::as_str).unwrap_or("");
    let overruled = centre.status_set && delivered != kept;
    if chain::snapshot_hash(&snap) == centre.payload && !overruled {
        return Ok(());
    }
    let seq = latest_seq(b, &r.number);
    let mut detail = format!("{} entry {seq}", b.terminal);
    if overruled {
        detail.push_str(&format!("; status {delivered} there, {kept} kept here"));
    }
    lock_chain(tx, &centre.chain, &centre.site)?;
    append_to(
        tx,
        sealer,
        now,
        (&centre.chain, &centre.site),
        "delivery",
        r.kind,
        (&b.terminal, &r.number),
        &detail,
    )?;
    Ok(())
}

/// Write one delivered record row (insert or replace), its personal fields sealed with the
/// centre's key and their lookup tags renewed. A record whose status staff moved at the
/// centre keeps the centre's status (and the later of the two `updated_at`): the rule
/// when both sides change one record (docs/centre-store.md).
fn upsert_record(
    tx: &mut Transaction<'_>,
    sealer: Option<&Sealer>,
    b: &Batch,
    r: &DeliveredRecord,
    centre: Option<&CentreEntry>,
    stmts: &mut HashMap<String, postgres::Statement>,
) -> Result<()> {
    let table = r.kind.table();
    let mut row = r.row.clone();
    if centre.is_some_and(|c| c.status_set) {
        if let Some(held) = tx.query_opt(
            &format!("SELECT status, updated_at FROM {table} WHERE terminal = $1 AND number = $2"),
            &[&b.terminal, &r.number],
        )? {
            let (status, updated): (String, String) = (held.get(0), held.get(1));
            row.insert("status".into(), Value::String(status));
            let delivered = row
                .get("updated_at")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if updated > delivered {
                row.insert("updated_at".into(), Value::String(updated));
            }
        }
    }
    // the key is the delivering terminal, whatever an older row was stamped with
    row.insert("terminal".into(), Value::String(b.terminal.clone()));
    if row
        .get("site")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        row.insert("site".into(), Value::String(b.site.clone()));
    }
    tx.execute(
        "DELETE FROM lookup WHERE terminal = $1 AND number = $2",
        &[&b.terminal, &r.number],
    )?;
    let personal = seal::personal_columns(r.kind);
    if let Some(s) = sealer {
        for col in personal {
            if let Some(Value::String(plain)) = row.get(*col).cloned() {
                for n in seal::numbers_in(&plain) {
                    tx.execute(
                        "INSERT INTO lookup (tag, terminal, number) VALUES ($1, $2, $3)",
                        &[&s.tag(&n), &b.terminal, &r.number],
                    )?;
                }
                row.insert((*col).to_string(), Value::String(s.seal(&plain)?));
            }
        }
    }
    let cols: Vec<&String> = row.keys().collect();
    let key = format!(
        "{table}:{}",
        cols.iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    if !stmts.contains_key(&key) {
        let names = cols.iter().map(|c| quote(c)).collect::<Result<Vec<_>>>()?;
        let params: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let updates: Vec<String> = names
            .iter()
            .filter(|c| !matches!(c.as_str(), "\"terminal\"" | "\"number\"" | "\"id\""))
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT (terminal, number) DO UPDATE SET {}",
            names.join(", "),
            params.join(", "),
            updates.join(", ")
        );
        let stmt = tx.prepare(&sql)?;
        stmts.insert(key.clone(), stmt);
    }
    let stmt = stmts
        .get(&key)
        .ok_or_else(|| StoreError::Invalid("statement cache".into()))?;
    let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(cols.len());
    for (c, ty) in cols.iter().zip(stmt.params()) {
        values.push(to_sql(&row[c.as_str()], ty, table, c)?);
    }
    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
    tx.execute(stmt, &refs)?;
    Ok(())
}

/// A column name from a terminal's row, quoted; only plain names are accepted.
fn quote(name: &str) -> Result<String> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
    {
        Ok(format!("\"{name}\""))
    } else {
        Err(StoreError::Invalid(format!(
            "a delivered record has an unexpected column name {name:?}"
        )))
    }
}

/// A JSON value of a delivered row as the column's PostgreSQL type.
fn to_sql(v: &Value, ty: &Type, table: &str, col: &str) -> Result<Box<dyn ToSql + Sync>> {
    let bad = || {
        StoreError::Invalid(format!(
            "delivered {table}.{col} does not fit the centre's column ({ty})"
        ))
    };
    Ok(if *ty == Type::INT8 {
        Box::new(match v {
            Value::Null => None,
            Value::Number(n) => Some(n.as_i64().ok_or_else(bad)?),
            Value::String(s) => Some(s.parse::<i64>().map_err(|_| bad())?),
            _ => return Err(bad()),
        })
    } else if *ty == Type::INT4 {
        Box::new(match v {
            Value::Null => None,
            Value::Number(n) => Some(
                n.as_i64()
                    .and_then(|x| i32::try_from(x).ok())
                    .ok_or_else(bad)?,
            ),
            _ => return Err(bad()),
        })
    } else if *ty == Type::FLOAT8 {
        Box::new(match v {
            Value::Null => None,
            Value::Number(n) => Some(n.as_f64().ok_or_else(bad)?),
            _ => return Err(bad()),
        })
    } else {
        Box::new(match v {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        })
    })
}
