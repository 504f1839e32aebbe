//! `xiaoan records list|show|verify`: staff views of the records. Personal data is
//! masked unless `--reveal` is given, and every reveal is written to the evidence chain
//! (as the staff API does) before anything is shown.

use std::process::ExitCode;

use anyhow::Result;
use xiaoan_agent::config::Settings;
use xiaoan_records::{RecordKind, Store, StoreError, VerifyReport};

use crate::RecordsCmd;

/// Run a records command.
pub fn records(s: &Settings, action: RecordsCmd) -> Result<ExitCode> {
    if !s.store_path.is_file() {
        println!("no records yet ({} does not exist)", s.store_path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let store = Store::open(&s.store_path)?;
    if let Err(reason) = store.health() {
        eprintln!("xiaoan: WARNING: the records store is not healthy: {reason}");
    }
    match action {
        RecordsCmd::List {
            kind,
            limit,
            json,
            reveal,
            number,
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
                    rows.retain(|r| kind.is_none_or(|k| r.kind == k));
                    rows.truncate(limit);
                    rows
                }
                None => store.list(kind, limit, reveal)?,
            };
            if reveal {
                for r in &rows {
                    store.note_access(&r.number, &reveal_detail("records list"))?;
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("no records");
            } else {
                for r in rows {
                    println!(
                        "{:<14} {:<10} {:<24} {:<10} {:<8} {}",
                        r.display_number,
                        r.kind.as_str(),
                        r.title,
                        r.who.unwrap_or_default(),
                        r.status,
                        r.created_at
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RecordsCmd::Show { id, json, reveal } => match store.show(&id, reveal)? {
            Some(d) => {
                if reveal {
                    store.note_access(&d.summary.number, &reveal_detail("records show"))?;
                }
                if json {
                    println!("{}", serde_json::to_string_pretty(&d)?);
                } else {
                    println!(
                        "{} {} — {} ({})",
                        d.summary.display_number,
                        d.summary.title,
                        d.summary.status,
                        d.summary.created_at
                    );
                    println!("{}", serde_json::to_string_pretty(&d.record)?);
                    println!("history: {} evidence entries", d.history.len());
                }
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("xiaoan: no record \"{id}\"");
                Ok(ExitCode::FAILURE)
            }
        },
        RecordsCmd::Verify { receipt } => {
            let receipt_ok = match receipt.as_deref() {
                Some([number, code]) => {
                    let (ok, line) = receipt_line(&store, number, code)?;
                    println!("{line}");
                    ok
                }
                _ => true,
            };
            let r = store.verify()?;
            for line in verify_lines(&r) {
                println!("{line}");
            }
            Ok(if r.ok && receipt_ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
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
fn receipt_line(store: &Store, number: &str, code: &str) -> Result<(bool, String)> {
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
