//! `xiaoan bench store`: filings per second into a terminal's SQLite and into the centre's
//! PostgreSQL, with fsync on in both (what a power cut would leave is what is measured).
//!
//! Measured, each as the median of `runs` runs (min and max beside it):
//! - SQLite: `file_declaration` on a fresh store (WAL, `synchronous=FULL`; the record,
//!   its evidence entry and its outbox row in one transaction per filing);
//! - PostgreSQL, filing at the centre: `file_declaration` through the centre's store, one
//!   transaction per filing;
//! - PostgreSQL, delivery: a terminal's outbox delivered in batches (entries stored per
//!   second, rows and anchors included), from one terminal and from six at once.
//!
//! The server is a throw-away cluster (`initdb` in a temporary folder, fsync on) unless
//! `--url` names one. Nothing here asserts a time.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use xiaoan_records::centre::{deliver_once, PgCentre};
use xiaoan_records::{FieldKind, FieldValue, NewFiling, Origin, PgStore, RecordStore, Store};
use xiaoan_testkit::postgres::{ClusterOptions, TempCluster};

use super::sorted;

fn filing(i: usize) -> NewFiling {
    NewFiling {
        form_id: "residence".into(),
        form_title: "居住登记".into(),
        fields: vec![
            FieldValue {
                name: "name".into(),
                label: "姓名".into(),
                kind: FieldKind::PersonName,
                value: "张三".into(),
            },
            FieldValue {
                name: "phone".into(),
                label: "手机号".into(),
                kind: FieldKind::Phone,
                value: format!("139{:08}", i % 100_000_000),
            },
            FieldValue {
                name: "address".into(),
                label: "住址".into(),
                kind: FieldKind::Address,
                value: "幸福路12号3栋502".into(),
            },
        ],
        materials_owed: vec![],
        commitment: "本人承诺所填属实".into(),
        session_id: format!("bench-{i}"),
    }
}

/// (median, min, max) of per-run rates.
fn summary(rates: Vec<f64>) -> (f64, f64, f64) {
    let s = sorted(rates);
    let med = if s.is_empty() {
        f64::NAN
    } else if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
    };
    (
        med,
        s.first().copied().unwrap_or(f64::NAN),
        s.last().copied().unwrap_or(f64::NAN),
    )
}

fn line(what: &str, unit: &str, rates: Vec<f64>, runs: usize, n: usize) {
    let (med, min, max) = summary(rates);
    println!("{what:<52} {med:>6.0} {unit}/s  (median of {runs} runs of {n}; min {min:.0}, max {max:.0})");
}

fn terminal(dir: &Path, name: &str, code: u8) -> Result<Store> {
    let mut s = Store::open(&dir.join(format!("{name}.db")))?;
    s.set_origin(Origin::new("bench", name))?;
    s.set_terminal_code(code)?;
    Ok(s)
}

/// Run the benchmark: `runs` runs of `n` filings each.
pub fn run(runs: usize, n: usize, url: Option<&str>) -> Result<ExitCode> {
    let runs = runs.max(1);
    let n = n.max(1);
    println!("machine: {}", crate::cli::eval::machine());
    // SQLite
    let mut rates = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir()?;
        let store = terminal(dir.path(), "kiosk", 1)?;
        let t = Instant::now();
        for i in 0..n {
            store.file_declaration(&filing(i))?;
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    line(
        "SQLite (terminal, synchronous=FULL)",
        "filings",
        rates,
        runs,
        n,
    );
    // PostgreSQL
    let cluster;
    let base = match url {
        Some(u) => {
            println!("PostgreSQL: {}", mask_url(u));
            u.to_string()
        }
        None => {
            cluster = TempCluster::start_with(ClusterOptions { fsync: true })
                .map_err(|e| anyhow::anyhow!(e))
                .context("starting a throw-away PostgreSQL (or pass --url)")?;
            println!(
                "PostgreSQL: a throw-away cluster on port {}, fsync on",
                cluster.port()
            );
            cluster.url("postgres")
        }
    };
    let keys = tempfile::tempdir()?;
    let mut admin = postgres::Client::connect(&base, postgres::NoTls)?;
    let fsync: String = admin.query_one("SHOW fsync", &[])?.get(0);
    let version: String = admin.query_one("SHOW server_version", &[])?.get(0);
    println!("PostgreSQL {version}, fsync={fsync}");
    let fresh_db = |admin: &mut postgres::Client, name: &str| -> Result<String> {
        // one statement each: several in one call run as one transaction, which
        // DROP/CREATE DATABASE refuse
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))?;
        admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
        Ok(with_db(&base, name))
    };
    let mut rates = Vec::new();
    let mut sizes = Vec::new();
    for r in 0..runs {
        let db = fresh_db(&mut admin, &format!("bench_direct_{r}"))?;
        let pg = PgStore::open(&db, Origin::new("hall", "desk-1"), keys.path())?;
        let name = format!("bench_direct_{r}");
        let size = |admin: &mut postgres::Client| -> Result<i64> {
            Ok(admin
                .query_one("SELECT pg_database_size($1::text)", &[&name])?
                .get(0))
        };
        let before = size(&mut admin)?;
        let t = Instant::now();
        for i in 0..n {
            RecordStore::file_declaration(&pg, &filing(i))?;
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
        sizes.push((size(&mut admin)? - before) as f64 / n as f64);
    }
    line(
        "PostgreSQL (filing at the centre, 1 writer)",
        "filings",
        rates,
        runs,
        n,
    );
    let (bytes, _, _) = summary(sizes);
    println!(
        "PostgreSQL storage: {:.1} KB per filing (database growth over a run: record, evidence entry, indexes; median of {runs})",
        bytes / 1024.0
    );
    for terminals in [1usize, 6] {
        let mut rates = Vec::new();
        for r in 0..runs {
            let db = fresh_db(&mut admin, &format!("bench_deliver_{terminals}_{r}"))?;
            drop(PgCentre::connect(&db, keys.path())?);
            let dir = tempfile::tempdir()?;
            let stores = (0..terminals)
                .map(|k| {
                    terminal(
                        dir.path(),
                        &format!("t{k}"),
                        u8::try_from(k + 1).unwrap_or(1),
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            for s in &stores {
                for i in 0..n {
                    s.file_declaration(&filing(i))?;
                }
            }
            let t = Instant::now();
            let handles: Vec<_> = stores
                .into_iter()
                .map(|s| {
                    let db = db.clone();
                    let keys = keys.path().to_path_buf();
                    std::thread::spawn(move || -> Result<()> {
                        let mut c = PgCentre::connect(&db, &keys)?;
                        while deliver_once(&s, &mut c, 200)?.is_some() {}
                        Ok(())
                    })
                })
                .collect();
            for h in handles {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a delivery thread panicked"))??;
            }
            rates.push((n * terminals) as f64 / t.elapsed().as_secs_f64());
        }
        line(
            &format!(
                "PostgreSQL (delivery, batches of 200, {terminals} terminal{})",
                if terminals == 1 { "" } else { "s" }
            ),
            "filings",
            rates,
            runs,
            n * terminals,
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `url` with its database replaced by `db`.
fn with_db(url: &str, db: &str) -> String {
    let (head, tail) = match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    match head[scheme_end..].find('/') {
        Some(i) => format!("{}/{db}{tail}", &head[..scheme_end + i]),
        None => format!("{head}/{db}{tail}"),
    }
}

/// The URL without a password, for printing.
fn mask_url(url: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    match (url[scheme_end..].find('@'), url[scheme_end..].find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &url[scheme_end..scheme_end + colon],
            &url[scheme_end + at..]
        ),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_name_is_swapped_and_a_password_hidden() {
        assert_eq!(
            with_db("postgres://u@127.0.0.1:5432/postgres", "b1"),
            "postgres://u@127.0.0.1:5432/b1"
        );
        assert_eq!(
            with_db("postgres://u@h:1/x?sslmode=disable", "b1"),
            "postgres://u@h:1/b1?sslmode=disable"
        );
        assert_eq!(with_db("postgres://u@h:1", "b1"), "postgres://u@h:1/b1");
        assert_eq!(
            mask_url("postgres://u:secret@h:1/db"),
            "postgres://u:***@h:1/db"
        );
        assert_eq!(mask_url("postgres://u@h:1/db"), "postgres://u@h:1/db");
    }

    #[test]
    fn the_median_of_an_even_count_is_the_middle_pair_mean() {
        assert_eq!(summary(vec![4.0, 1.0, 3.0, 2.0]), (2.5, 1.0, 4.0));
        assert_eq!(summary(vec![5.0, 1.0, 3.0]), (3.0, 1.0, 5.0));
    }
}
