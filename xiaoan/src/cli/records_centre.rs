//! Delivery to the centre from the command line: the worker a long-running command starts
//! when `[store] centre_url` is set, `xiaoan records outbox` and `xiaoan records verify
//! --centre` (docs/centre-store.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use xiaoan_agent::config::Settings;
use xiaoan_records::centre::{verify_against_centre, Centre, DeliveryOptions, PgCentre, Worker};
use xiaoan_records::{OutboxStatus, RecordStore, Store};

/// The centre a terminal delivers to, from `[store]`.
pub struct CentreSettings {
    /// `postgres://…`
    pub url: String,
    /// The terminal's code in record numbers.
    pub code: u8,
    /// Folder of the centre's field key.
    pub key_dir: PathBuf,
}

/// The configured centre, if any; an incomplete configuration is an error that says what
/// is missing.
pub fn centre_settings(s: &Settings) -> Result<Option<CentreSettings>> {
    let cfg = &s.config.store;
    let Some(url) = cfg.centre_url.as_deref().filter(|u| !u.trim().is_empty()) else {
        return Ok(None);
    };
    if !xiaoan_records::is_postgres_url(url) {
        anyhow::bail!("[store] centre_url must be a postgres:// URL (got something else)");
    }
    let code = cfg.terminal_code.context(
        "[store] centre_url is set but terminal_code is not: give this terminal its two-digit code in the centre (1-99, unique there)",
    )?;
    // `[store] key_dir`, else `centre_key_dir`, else `records/centre/` beside the database
    let key_dir = s.store_key_dir.clone();
    Ok(Some(CentreSettings {
        url: url.to_string(),
        code,
        key_dir,
    }))
}

/// Start delivering this terminal's outbox when a centre is configured: gives the store
/// its terminal code (before anything is filed) and runs the worker thread until the
/// returned handle is dropped.
pub fn start_delivery(s: &Settings) -> Result<Option<Worker>> {
    let Some(c) = centre_settings(s)? else {
        return Ok(None);
    };
    let mut store = Store::open(&s.store_path)?;
    store.set_origin(s.origin.clone())?;
    store.set_terminal_code(c.code)?;
    drop(store);
    let origin = s.origin.clone();
    let (url, keys) = (c.url.clone(), c.key_dir.clone());
    let w = Worker::spawn(
        s.store_path.clone(),
        origin.clone(),
        Box::new(move || Ok(Box::new(PgCentre::new(&url, &keys)) as Box<dyn Centre>)),
        DeliveryOptions::default(),
    )?;
    eprintln!(
        "xiaoan: delivering records of terminal {} (code {:02}) to the centre",
        origin.terminal, c.code
    );
    Ok(Some(w))
}

/// `xiaoan records outbox`: what waits to be delivered, here and (when reachable) as the
/// centre sees every terminal.
pub fn outbox(s: &Settings, store: &Store, json: bool) -> Result<ExitCode> {
    let st = store.outbox_status()?;
    let centre = centre_settings(s)?;
    let seen = centre
        .as_ref()
        .map(|c| PgCentre::new(&c.url, &c.key_dir).terminals());
    if json {
        let seen_json = match &seen {
            Some(Ok(t)) => serde_json::to_value(t)?,
            Some(Err(e)) => serde_json::json!({ "error": e.to_string() }),
            None => serde_json::Value::Null,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "terminal": st, "centre": seen_json })
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    for line in outbox_lines(&st, centre.is_some()) {
        println!("{line}");
    }
    match seen {
        Some(Ok(terminals)) => {
            println!("at the centre:");
            println!(
                "  {:<10} {:<16} {:>4} {:>9} {:>9} {:>8}  last delivery",
                "site", "terminal", "code", "held", "anchored", "behind"
            );
            for t in terminals {
                println!(
                    "  {:<10} {:<16} {:>4} {:>9} {:>9} {:>8}  {}",
                    t.site,
                    t.terminal,
                    t.code.map(|c| format!("{c:02}")).unwrap_or_default(),
                    t.entries,
                    t.anchored,
                    (t.anchored - t.entries).max(0),
                    t.last_delivery
                );
            }
        }
        Some(Err(e)) => println!("the centre cannot be reached now: {e}"),
        None => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// `xiaoan records outbox` at the centre (`[store] url`, no `centre_url`): what each
/// terminal had waiting when it last delivered.
pub fn centre_outbox(centre: &dyn RecordStore, json: bool) -> Result<ExitCode> {
    let rows = centre.delivery()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} terminal(s) deliver here; waiting as each last reported:",
        rows.len()
    );
    println!(
        "  {:<10} {:<16} {:>4} {:>8} {:>9}  last delivery",
        "site", "terminal", "code", "waiting", "delivered"
    );
    for r in rows {
        println!(
            "  {:<10} {:<16} {:>4} {:>8} {:>9}  {}",
            r.site,
            r.terminal,
            r.code.map(|c| format!("{c:02}")).unwrap_or_default(),
            r.waiting,
            r.delivered,
            r.last_delivery.unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The local outbox for staff.
pub fn outbox_lines(st: &OutboxStatus, configured: bool) -> Vec<String> {
    let code = st
        .code
        .map(|c| format!(", code {c:02}"))
        .unwrap_or_default();
    let mut lines = vec![format!(
        "terminal {} at {}{code}: {} waiting, {} delivered",
        st.terminal, st.site, st.waiting, st.delivered
    )];
    if !configured {
        lines.push("no centre configured ([store] centre_url): entries wait here".into());
    }
    if let Some(at) = &st.oldest_waiting {
        lines.push(format!(
            "  oldest waiting since {at}, {} failed attempt(s)",
            st.attempts
        ));
    }
    if let Some(e) = &st.last_error {
        lines.push(format!("  last failure: {e}"));
    }
    if let Some(at) = &st.last_delivered {
        lines.push(format!("  last delivered {at}"));
    }
    lines
}

/// `xiaoan records verify --centre`: this terminal's chain against the centre's anchors.
pub fn verify_centre(s: &Settings, store: &Store) -> Result<ExitCode> {
    let c = centre_settings(s)?.context(
        "records verify --centre needs the centre: set [store] centre_url and terminal_code",
    )?;
    let mut centre = PgCentre::connect(&c.url, &c.key_dir)?;
    let r = verify_against_centre(store, &mut centre)?;
    println!(
        "terminal {}: {} local entries, {} at the centre, {} anchor(s), longest anchored {}",
        r.terminal, r.local_entries, r.centre_entries, r.anchors, r.anchored
    );
    for p in &r.problems {
        match p.seq {
            Some(seq) => println!("  entry #{seq}: {}", p.message),
            None => println!("  {}", p.message),
        }
    }
    if r.ok {
        println!("the chain matches what the centre anchored");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "the chain does NOT match the centre: {} problem(s)",
            r.problems.len()
        );
        Ok(ExitCode::FAILURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_see_what_waits_and_why() {
        let st = OutboxStatus {
            site: "grid-3".into(),
            terminal: "kiosk-1".into(),
            code: Some(7),
            waiting: 12,
            delivered: 30,
            oldest_waiting: Some("2026-12-05T09:00:00Z".into()),
            attempts: 4,
            last_error: Some("centre records database: connection refused".into()),
            last_delivered: None,
        };
        let lines = outbox_lines(&st, false);
        assert_eq!(
            lines[0],
            "terminal kiosk-1 at grid-3, code 07: 12 waiting, 30 delivered"
        );
        assert!(lines[1].contains("no centre configured"));
        assert!(lines.iter().any(|l| l.contains("4 failed attempt")));
        assert!(lines.iter().any(|l| l.contains("connection refused")));
    }
}
