//! `xiaoan records list|show|status|note|verify|migrate`: staff views of the records and
//! staff's status moves and notes. Personal data is masked unless `--reveal` is given,
//! and every reveal is written to the evidence chain (as the staff API does) before
//! anything is shown.
//!
//! The store read is the centre's PostgreSQL when `[store] url` is set (every site and
//! terminal; `--site` narrows it), else this terminal's file.

use std::process::ExitCode;

use anyhow::Result;
use xiaoan_agent::config::Settings;
use xiaoan_records::{
    open_url, Filter, PgStore, RecordKind, RecordStore, Store, StoreError, VerifyReport,
};

use crate::RecordsCmd;

/// The store staff commands read: `[store] url`, else the file (None when it does not
/// exist yet).
fn staff_store(s: &Settings) -> Result<Option<Box<dyn RecordStore>>> {
    if !xiaoan_records::is_postgres_url(&s.store_url) && !s.store_path.is_file() {
        return Ok(None);
    }
    Ok(Some(open_url(&s.store_url, &s.origin, &s.store_key_dir)?))
}

/// Run a records command.
pub fn records(s: &Settings, action: RecordsCmd) -> Result<ExitCode> {
    match action {
        RecordsCmd::Migrate { to, from } => return migrate(s, &to, from.as_deref()),
        RecordsCmd::Outbox { json } => {
            // staff at the centre (reading it, not delivering to it): every terminal as
            // the centre sees it
            if xiaoan_records::is_postgres_url(&s.store_url)
                && super::records_centre::centre_settings(s)?.is_none()
            {
                let centre = open_url(&s.store_url, &s.origin, &s.store_key_dir)?;
                return super::records_centre::centre_outbox(&*centre, json);
            }
            let Some(store) = terminal_file(s)? else {
                return Ok(ExitCode::SUCCESS);
            };
            return super::records_centre::outbox(s, &store, json);
        }
        RecordsCmd::Verify { centre: true, .. } => {
            let Some(store) = terminal_file(s)? else {
                return Ok(ExitCode::SUCCESS);
            };
            return super::records_centre::verify_centre(s, &store);
        }
        _ => {}
    }
    let Some(store) = staff_store(s)? else {
        println!("no records yet ({} does not exist)", s.store_path.display());
        return Ok(ExitCode::SUCCESS);
    };
    if let Err(reason) = store.health() {
        eprintln!("xiaoan: WARNING: the records store is not healthy: {reason}");
    }
    let store = &*store;
    match action {
        RecordsCmd::List {
            kind,
            limit,
            json,
            reveal,
            number,
            site,
        } => {
            let kind = match kind.as_deref() {
                None => None,
                Some(k) => Some(RecordKind::parse(k).ok_or_else(|| {
                    anyhow::anyhow!("unknown record kind \"{k}\" (filing, case, event, appointment, feedback, draft, queue)")
                })?),
            };
            let rows = match number.as_deref() {
                Some(n) => {
                    let mut rows = store.find_by_personal_number(n, reveal)?;
                    rows.retain(|r| {
                        kind.is_none_or(|k| r.kind == k)
                            && site.as_deref().is_none_or(|st| r.site == st)
                    });
                    rows.truncate(limit);
                    rows
                }
                None => store.records(
                    &Filter {
                        kind,
                        status: None,
                        site: site.clone(),
                        limit,
                    },
                    reveal,
                )?,
            };
            if reveal {
                for r in &rows {
                    store.note_access(
                        &qualified(&r.terminal, &r.number, store),
                        &reveal_detail("records list"),
                    )?;
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("no records");
            } else {
                for r in rows {
                    println!(
                        "{:<14} {:<10} {:<24} {:<10} {:<8} {:<20} {}/{}",
                        r.display_number,
                        r.kind.as_str(),
                        r.title,
                        r.who.unwrap_or_default(),
                        r.status,
                        r.created_at,
                        r.site,
                        r.terminal,
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RecordsCmd::Show {
            id,
            json,
            reveal,
            site,
        } => match store
            .show(&id, reveal)?
            .filter(|d| site.as_deref().is_none_or(|st| d.summary.site == st))
        {
            Some(d) => {
                if reveal {
                    store.note_access(
                        &qualified(&d.summary.terminal, &d.summary.number, store),
                        &reveal_detail("records show"),
                    )?;
                }
                if json {
                    println!("{}", serde_json::to_string_pretty(&d)?);
                } else {
                    println!(
                        "{} {} — {} ({}, {}/{})",
                        d.summary.display_number,
                        d.summary.title,
                        d.summary.status,
                        d.summary.created_at,
                        d.summary.site,
                        d.summary.terminal
                    );
                    println!("{}", serde_json::to_string_pretty(&d.record)?);
                    println!("history: {} evidence entries", d.history.len());
                }
                Ok(ExitCode::SUCCESS)
            }
            None => {
                match site {
                    Some(st) => eprintln!("xiaoan: no record \"{id}\" at site {st}"),
                    None => eprintln!("xiaoan: no record \"{id}\""),
                }
                Ok(ExitCode::FAILURE)
            }
        },
        RecordsCmd::Status { id, status, note } => {
            store.set_status(&id, status.trim(), note.trim())?;
            print_moved(store, &id)
        }
        RecordsCmd::Note { id, text } => {
            if text.trim().is_empty() {
                eprintln!("xiaoan: the note is empty");
                return Ok(ExitCode::FAILURE);
            }
            store.add_note(&id, text.trim())?;
            print_moved(store, &id)
        }
        RecordsCmd::Verify { receipt, site, .. } => {
            let receipt_ok = match receipt.as_deref() {
                Some([number, code]) => {
                    let (ok, line) = receipt_line(store, number, code)?;
                    println!("{line}");
                    ok
                }
                _ => true,
            };
            let r = match site.as_deref() {
                Some(st) => store.verify_site(st)?,
                None => store.verify()?,
            };
            for line in verify_lines(&r) {
                println!("{line}");
            }
            Ok(if r.ok && receipt_ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        RecordsCmd::Migrate { .. } | RecordsCmd::Outbox { .. } => Ok(ExitCode::SUCCESS),
    }
}

/// This terminal's own file (delivery commands), or None with a line saying so.
fn terminal_file(s: &Settings) -> Result<Option<Store>> {
    if !s.store_path.is_file() {
        println!("no records yet ({} does not exist)", s.store_path.display());
        return Ok(None);
    }
    let mut store = Store::open(&s.store_path)?;
    store.set_origin(s.origin.clone())?;
    Ok(Some(store))
}

/// A record's key that names it in the centre's store even when two terminals hold
/// its number (`terminal:number`); the bare number in a terminal's file.
/// After a staff action: the record's line as it now stands.
fn print_moved(store: &dyn RecordStore, id: &str) -> Result<ExitCode> {
    match store.show(id, false)? {
        Some(d) => {
            println!(
                "{} {} — {} ({}/{}; {} evidence entries)",
                d.summary.display_number,
                d.summary.title,
                d.summary.status,
                d.summary.site,
                d.summary.terminal,
                d.history.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("xiaoan: no record \"{id}\"");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn qualified(terminal: &str, number: &str, store: &dyn RecordStore) -> String {
    match store.backend() {
        xiaoan_records::BackendKind::Postgres if !terminal.is_empty() => {
            format!("{terminal}:{number}")
        }
        _ => number.to_string(),
    }
}

/// `records migrate`: copy the terminal's file (default: the configured one) into the
/// centre at `url`, verify it there and print the counts.
fn migrate(s: &Settings, url: &str, from: Option<&std::path::Path>) -> Result<ExitCode> {
    if !xiaoan_records::is_postgres_url(url) {
        anyhow::bail!("--to must be a postgres:// URL");
    }
    let path = from.unwrap_or(&s.store_path);
    if !path.is_file() {
        anyhow::bail!("no records file at {}", path.display());
    }
    let mut file = Store::open(path)?;
    file.set_origin(s.origin.clone())?;
    let centre = PgStore::open(url, s.origin.clone(), &s.store_key_dir)?;
    let r = centre.import_sqlite(&file, &s.origin.terminal)?;
    let kinds: Vec<String> = r
        .records
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    println!(
        "migrated {} to the centre as terminal {} (site {}):",
        path.display(),
        r.terminal,
        s.origin.site
    );
    println!(
        "  this run: {} evidence entries, {} record rows, {} notes copied",
        r.entries_copied, r.rows_written, r.notes_copied
    );
    println!(
        "  in the centre now: {} entries of this terminal's chain; records: {}",
        r.entries,
        if kinds.is_empty() {
            "none".to_string()
        } else {
            kinds.join(", ")
        }
    );
    for line in verify_lines(&r.verify) {
        println!("  {line}");
    }
    Ok(if r.verify.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The evidence-chain note for a reveal from the terminal: how, and the account that
/// ran it (never what was seen).
fn reveal_detail(how: &str) -> String {
    match std::env::var("USER") {
        Ok(u) if !u.trim().is_empty() => format!("staff CLI reveal ({how}) by {}", u.trim()),
        _ => format!("staff CLI reveal ({how})"),
    }
}

/// Check a receipt's code against the chain: (fits, the line to print).
fn receipt_line(store: &dyn RecordStore, number: &str, code: &str) -> Result<(bool, String)> {
    Ok(match store.check_receipt(number, code) {
        Ok(true) => (
            true,
            format!("receipt {number}: check code {code} matches the evidence chain"),
        ),
        Ok(false) => (
            false,
            format!("receipt {number}: check code {code} does NOT match the evidence chain (the record was rewritten, or the code was misread)"),
        ),
        Err(StoreError::NotFound(_)) => (
            false,
            format!("receipt {number}: no such record in the evidence chain: it was deleted, or the number was misread"),
        ),
        Err(e) => return Err(e.into()),
    })
}

/// What `records verify` prints: the first problem (by entry number), then every other
/// problem once, then the verdict.
fn verify_lines(r: &VerifyReport) -> Vec<String> {
    if r.ok {
        return vec![format!(
            "evidence chain intact: {} entries, {} records checked",
            r.entries, r.records
        )];
    }
    let mut lines = Vec::new();
    let first_at = r
        .first_problem
        .as_ref()
        .and_then(|f| r.problems.iter().position(|p| p == f));
    if let Some(p) = &r.first_problem {
        match p.seq {
            Some(seq) => lines.push(format!("first problem, at entry #{seq}: {}", p.message)),
            None => lines.push(format!("first problem: {}", p.message)),
        }
    }
    for (i, p) in r.problems.iter().enumerate() {
        if Some(i) != first_at {
            lines.push(format!("  also: {}", p.message));
        }
    }
    lines.push(format!(
        "evidence chain BROKEN: {} problem(s)",
        r.problems.len()
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use xiaoan_records::{EventKind, NewEvent};

    fn event(store: &Store) -> String {
        store
            .record_event(&NewEvent {
                kind: EventKind::Handoff,
                summary: "要找工作人员".into(),
                transcript: Vec::new(),
                wait_at: None,
                needs: None,
                session_id: "s".into(),
            })
            .unwrap()
            .number
    }

    /// The misreport: after the newest entry (a status change) is deleted, the
    /// record it changed is named once and the missing entry is not hidden.
    #[test]
    fn deleting_the_last_entry_names_each_problem_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.db");
        let store = Store::open(&path).unwrap();
        let a = event(&store);
        let _b = event(&store);
        store.set_status(&a, "acknowledged", "").unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("DELETE FROM evidence WHERE seq = 3", [])
            .unwrap();
        let r = store.verify().unwrap();
        let lines = verify_lines(&r);
        let text = lines.join("\n");
        assert!(!r.ok, "{text}");
        assert_eq!(r.problems.len(), 2, "{text}");
        // every problem is printed exactly once
        for p in &r.problems {
            assert_eq!(
                lines.iter().filter(|l| l.contains(&p.message)).count(),
                1,
                "{text}"
            );
        }
        assert!(text.contains("entries after 2 are missing"), "{text}");
        assert!(
            lines[0].starts_with("first problem, at entry #1: "),
            "{text}"
        );
        assert_eq!(lines.last().unwrap(), "evidence chain BROKEN: 2 problem(s)");
    }

    #[test]
    fn an_intact_chain_is_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("records.db")).unwrap();
        event(&store);
        assert_eq!(
            verify_lines(&store.verify().unwrap()),
            ["evidence chain intact: 1 entries, 1 records checked"]
        );
    }
}
