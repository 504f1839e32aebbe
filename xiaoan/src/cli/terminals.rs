//! `xiaoan terminals add|list|revoke` (the registered kiosks, windows and robots) and
//! `xiaoan certs local` (a local CA and server certificate for a test set-up).

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use xiaoan_agent::config::Settings;
use xiaoan_server::{registry_path, tls, Registry};

use crate::{CertsCmd, TerminalsCmd};

/// This machine's host name, for the printed links.
fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Run `xiaoan terminals ...`.
pub fn terminals(s: &Settings, action: TerminalsCmd) -> Result<ExitCode> {
    let path = registry_path(&s.home);
    match action {
        TerminalsCmd::Add {
            id,
            profile,
            server,
        } => {
            let (t, token) = Registry::add(&path, &id, &profile)?;
            let server = server
                .unwrap_or_else(|| format!("https://{}:8750", host_name()))
                .trim_end_matches('/')
                .to_string();
            println!("registered {} ({}) in {}", t.id, t.profile, path.display());
            println!();
            println!("device token (shown only now; the server keeps only its hash):");
            println!("  {token}");
            println!();
            println!("open this on the terminal once (the page keeps the token and removes it from the address bar):");
            println!("  {server}/kiosk/#token={token}");
            println!();
            println!(
                "lost or leaked: `xiaoan terminals revoke {}` and add it again",
                t.id
            );
            Ok(ExitCode::SUCCESS)
        }
        TerminalsCmd::List { json: as_json } => {
            let reg = Registry::load(&path)?;
            let seen = xiaoan_server::last_seen(&path);
            if as_json {
                let list: Vec<_> = reg
                    .list()
                    .iter()
                    .map(|t| json!({"id": t.id, "profile": t.profile, "created": t.created, "last_seen": seen.get(&t.id)}))
                    .collect();
                println!("{}", serde_json::to_string(&list)?);
                return Ok(ExitCode::SUCCESS);
            }
            if reg.list().is_empty() {
                println!(
                    "no terminals registered (add one with `xiaoan terminals add gs-3 --profile kiosk`)"
                );
            }
            for t in reg.list() {
                // a token used before this registration is not this terminal's
                let last = seen.get(&t.id).filter(|at| **at >= t.created).map_or_else(
                    || "never seen".to_string(),
                    |at| format!("last seen {}", at.format("%Y-%m-%d %H:%M UTC")),
                );
                println!(
                    "{:<16} {:<7} added {}   {last}",
                    t.id,
                    t.profile,
                    t.created.format("%Y-%m-%d %H:%M UTC"),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TerminalsCmd::Revoke { id } => {
            let t = Registry::revoke(&path, &id)?;
            println!(
                "revoked {} ({}): its token is refused from its next connection; open sessions end when they do",
                t.id, t.profile
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Run `xiaoan certs ...`.
pub fn certs(s: &Settings, action: CertsCmd) -> Result<ExitCode> {
    match action {
        CertsCmd::Local { out, hosts } => {
            let out = out.unwrap_or_else(|| s.home.join("tls"));
            let made = tls::make_local(&out, &hosts)?;
            let ca = made.ca_cert.display();
            if made.reused_ca {
                println!(
                    "kept the local CA already in {} (kiosks that trust it need nothing new)",
                    out.display()
                );
            } else {
                println!("made a new local CA: {ca}");
            }
            println!(
                "server certificate for {}: {}",
                made.hosts.join(", "),
                made.cert.display()
            );
            println!(
                "  valid {} days; its key {} and the CA's key {} are owner-only: keep them on the server",
                tls::SERVER_DAYS,
                made.key.display(),
                made.ca_key.display()
            );
            println!();
            println!("serve with it:");
            println!(
                "  xiaoan serve --addr 0.0.0.0:8750 --tls-cert {} --tls-key {}",
                made.cert.display(),
                made.key.display()
            );
            println!();
            println!(
                "trust the CA on each kiosk (copy only {ca}, never a key), then check its SHA-256:"
            );
            println!("  {}", made.ca_sha256);
            println!("  Debian/Ubuntu with Chromium: apt-get install libnss3-tools, then as the kiosk's user");
            println!("    certutil -d sql:$HOME/.pki/nssdb -A -t \"C,,\" -n \"Xiao'an local CA\" -i ca.pem");
            println!("  and for other programs on it: cp ca.pem /usr/local/share/ca-certificates/xiaoan-local-ca.crt && update-ca-certificates");
            println!("  Android tablet: Settings > Security > Encryption & credentials > Install a certificate > CA certificate");
            println!("  Windows: certutil -addstore -f Root ca.pem");
            println!("  iPad: open ca.pem, install the profile, then Settings > General > About > Certificate Trust Settings");
            println!();
            println!("a kiosk must reach the server by one of the names above; for another name or address run again with --host (the CA is kept)");
            Ok(ExitCode::SUCCESS)
        }
    }
}
