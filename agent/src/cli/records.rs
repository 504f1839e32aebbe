//! `xiaoan records list|show|verify`: staff views of the records. Personal data is
//! masked unless `--reveal` is given.

use std::process::ExitCode;

use anyhow::Result;
use xiaoan_agent::config::Settings;
use xiaoan_agent::store::{RecordKind, Store};

use crate::RecordsCmd;

/// Run a records command.
pub fn records(s: &Settings, action: RecordsCmd) -> Result<ExitCode> {
    if !s.store_path.is_file() {
        println!("no records yet ({} does not exist)", s.store_path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let store = Store::open(&s.store_path)?;
    match action {
        RecordsCmd::List {
            kind,
            limit,
            json,
            reveal,
        } => {
            let kind = match kind.as_deref() {
                None => None,
                Some(k) => Some(RecordKind::parse(k).ok_or_else(|| {
                    anyhow::anyhow!("unknown record kind \"{k}\" (filing, case, event, appointment, feedback, draft, queue)")
                })?),
            };
            let rows = store.list(kind, limit, reveal)?;
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
        RecordsCmd::Verify => {
            let r = store.verify()?;
            if r.ok {
                println!(
                    "evidence chain intact: {} entries, {} records checked",
                    r.entries, r.records
                );
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(p) = &r.first_problem {
                match p.seq {
                    Some(seq) => println!("first altered entry: #{seq}: {}", p.message),
                    None => println!("first problem: {}", p.message),
                }
            }
            for p in r.problems.iter().skip(1) {
                println!("  also: {}", p.message);
            }
            println!("evidence chain BROKEN: {} problem(s)", r.problems.len());
            Ok(ExitCode::FAILURE)
        }
    }
}
