//! The records commands and the staff server as a user meets them: reveals leave a
//! trace, a read-only run breaks nothing, deletions are named, weak tokens refused.

use std::process::{Command, Output};

use super::{chat_jsonl, stderr, xiaoan};

/// One HTTP/1.1 request over a plain socket: (status code, body).
pub(super) fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("staff API accepts connections");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

#[test]
fn staff_api_shows_alerts_masked_needs_the_token_and_records_status_changes() {
    let d = tempfile::tempdir().unwrap();
    // a resident asks for staff, then an emergency is reported
    chat_jsonl(
        d.path(),
        &["我叫王小明，我要找工作人员", "救命，我家老人摔倒了起不来"],
    );

    // without a token the API does not start, and says why
    let o = Command::new(env!("CARGO_BIN_EXE_xiaoan"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("XIAOAN_HOME", d.path())
        .env_remove("XIAOAN_STAFF_TOKEN")
        .current_dir(d.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("XIAOAN_STAFF_TOKEN"), "{}", stderr(&o));

    let token = "hV3k9Qz1Lr8Xw2Pn5Tb7Yc0Md4Fg6Js+";
    let mut server = Command::new(env!("CARGO_BIN_EXE_xiaoan"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("XIAOAN_HOME", d.path())
        .env("XIAOAN_STAFF_TOKEN", token)
        .current_dir(d.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(server.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        line.trim()
            .rsplit("http://")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let result = std::panic::catch_unwind(|| {
        let (code, body) = http(&addr, "GET", "/api/health", None, "");
        assert_eq!(code, 200, "{body}");
        assert_eq!(http(&addr, "GET", "/api/alerts", None, "").0, 401);
        assert_eq!(
            http(
                &addr,
                "GET",
                "/api/alerts",
                Some("wrong-token-0123456789"),
                ""
            )
            .0,
            401
        );

        let (code, body) = http(&addr, "GET", "/api/alerts", Some(token), "");
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let alerts = v["alerts"].as_array().unwrap();
        assert_eq!(alerts.len(), 2, "{body}");
        // the emergency comes first, whatever the order of arrival
        assert_eq!(alerts[0]["record"]["event_kind"], "emergency", "{body}");
        assert_eq!(alerts[1]["summary"]["title"], "转人工", "{body}");
        // the name said in the conversation is masked by default
        assert!(!body.contains("王小明") && body.contains("王*明"), "{body}");

        // revealing is possible for staff, and leaves a trace in the evidence chain
        let number = alerts[1]["summary"]["number"].as_str().unwrap().to_string();
        let (code, body) = http(
            &addr,
            "GET",
            &format!("/api/records/{number}?reveal=true"),
            Some(token),
            "",
        );
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("王小明"), "{body}");
        let (_, body) = http(
            &addr,
            "GET",
            &format!("/api/records/{number}"),
            Some(token),
            "",
        );
        assert!(body.contains("\"access\""), "reveal audited: {body}");

        // staff acknowledge the emergency; a wrong status or a bad body is refused
        let emergency = alerts[0]["summary"]["number"].as_str().unwrap();
        let path = format!("/api/records/{emergency}/status");
        let (code, body) = http(
            &addr,
            "POST",
            &path,
            Some(token),
            r#"{"status":"acknowledged","note":"on the way"}"#,
        );
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("acknowledged"), "{body}");
        // the same status again is a no-op; a closed emergency is not reopened (409)
        assert_eq!(
            http(
                &addr,
                "POST",
                &path,
                Some(token),
                r#"{"status":"acknowledged"}"#
            )
            .0,
            200
        );
        let (_, body) = http(&addr, "POST", &path, Some(token), r#"{"status":"closed"}"#);
        assert!(body.contains("closed"), "{body}");
        let (code, body) = http(&addr, "POST", &path, Some(token), r#"{"status":"open"}"#);
        assert_eq!(code, 409, "{body}");
        assert!(body.contains("from `closed` to `open`"), "{body}");
        let (_, body) = http(
            &addr,
            "GET",
            &format!("/api/records/{emergency}"),
            Some(token),
            "",
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let statuses: Vec<&str> = v["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "status")
            .map(|e| e["detail"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            ["open -> acknowledged: on the way", "acknowledged -> closed"],
            "{body}"
        );
        assert_eq!(
            http(
                &addr,
                "POST",
                &path,
                Some(token),
                r#"{"status":"sleeping"}"#
            )
            .0,
            400
        );
        assert_eq!(http(&addr, "POST", &path, Some(token), "not json").0, 400);
        assert_eq!(
            http(&addr, "GET", "/api/records/0000000000", Some(token), "").0,
            404
        );
        // a note alone, after the alert was closed; an empty one is refused
        let note_path = format!("/api/records/{emergency}/note");
        let (code, body) = http(
            &addr,
            "POST",
            &note_path,
            Some(token),
            r#"{"note":"family called back"}"#,
        );
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("closed"), "{body}");
        assert_eq!(
            http(&addr, "POST", &note_path, Some(token), r#"{"note":"  "}"#).0,
            400
        );
        assert_eq!(
            http(
                &addr,
                "POST",
                "/api/records/0000000000/note",
                Some(token),
                r#"{"note":"x"}"#
            )
            .0,
            404
        );
        let (_, body) = http(
            &addr,
            "GET",
            &format!("/api/records/{emergency}"),
            Some(token),
            "",
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            v["history"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "note" && e["detail"] == "family called back"),
            "{body}"
        );

        let (code, body) = http(&addr, "GET", "/api/verify", Some(token), "");
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("\"ok\":true"), "{body}");
    });
    server.kill().ok();
    server.wait().ok();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// `xiaoan serve` refuses a weak token (16 identical characters were accepted) and a
/// non-loopback address without `--insecure-bind`, saying what to do instead.
#[test]
fn serve_refuses_weak_tokens_and_exposed_addresses() {
    let d = tempfile::tempdir().unwrap();
    let run = |args: &[&str], token: &str| {
        Command::new(env!("CARGO_BIN_EXE_xiaoan"))
            .args(args)
            .env("XIAOAN_HOME", d.path())
            .env("XIAOAN_STAFF_TOKEN", token)
            .current_dir(d.path())
            .output()
            .unwrap()
    };
    let o = run(&["serve", "--addr", "127.0.0.1:0"], "aaaaaaaaaaaaaaaa");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("too weak") && stderr(&o).contains("head -c 24 /dev/urandom | base64"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &["serve", "--addr", "0.0.0.0:0"],
        "hV3k9Qz1Lr8Xw2Pn5Tb7Yc0Md4Fg6Js+",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--insecure-bind"), "{}", stderr(&o));
}

/// `records show --reveal` and `records list --reveal` leave a trace in the evidence
/// chain, as the staff API's reveals do; masked views do not.
#[test]
fn cli_reveals_are_written_to_the_evidence_chain() {
    let d = tempfile::tempdir().unwrap();
    chat_jsonl(d.path(), &["我叫王小明，我要找工作人员"]);
    let o = xiaoan(d.path(), &["records", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let number = rows[0]["number"].as_str().expect("a record").to_string();
    let accesses = || {
        let o = xiaoan(d.path(), &["records", "show", &number, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "access")
            .map(|e| e["detail"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(accesses().is_empty(), "masked views are not reveals");
    let o = xiaoan(d.path(), &["records", "show", &number, "--reveal"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("王小明"));
    let o = xiaoan(d.path(), &["records", "list", "--reveal"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains(&number));
    let seen = accesses();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].starts_with("staff CLI reveal (records show)"),
        "{seen:?}"
    );
    assert!(
        seen[1].starts_with("staff CLI reveal (records list)"),
        "{seen:?}"
    );
    let o = xiaoan(d.path(), &["records", "verify"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

/// The issue's reproduction: one run against a read-only records file left read-only
/// `-wal`/`-shm` files, and every later start failed ("schema migration 1 failed: attempt
/// to write a readonly database") until someone deleted them. File modes bind only a
/// non-root user, so as root the commands run as `nobody` (through `setpriv`).
#[test]
fn a_run_against_a_read_only_store_does_not_break_later_starts() {
    use std::os::unix::fs::PermissionsExt;
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    if root && Command::new("setpriv").arg("--version").output().is_err() {
        println!("SKIP: running as root without setpriv to drop to another user");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let db = home.join("records").join("xiaoan.db");
    {
        use xiaoan_records::{EventKind, NewEvent, Store};
        let store = Store::open(&db).unwrap();
        store
            .record_event(&NewEvent {
                kind: EventKind::Handoff,
                summary: "要找工作人员".into(),
                transcript: Vec::new(),
                wait_at: None,
                needs: None,
                session_id: "s".into(),
            })
            .unwrap();
    }
    let run = |args: &[&str]| {
        let mut c = if root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_xiaoan"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_xiaoan"))
        };
        c.args(args)
            .env("XIAOAN_HOME", &home)
            .env("HOME", &home)
            .env_remove("RUST_BACKTRACE")
            .current_dir(&home)
            .output()
            .unwrap()
    };
    if root {
        for p in [d.path(), home.as_path(), db.parent().unwrap()] {
            std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
        }
        // the database, its device key and anchor
        for f in std::fs::read_dir(db.parent().unwrap()).unwrap() {
            std::os::unix::fs::chown(f.unwrap().path(), Some(65534), Some(65534)).unwrap();
        }
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o400)).unwrap();
    let o = run(&["records", "list"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    // a reveal writes its audit entry: the store must take writes again
    let o = run(&["records", "list", "--reveal"]);
    assert_eq!(o.status.code(), Some(0), "later start: {}", stderr(&o));
    let o = run(&["records", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("intact"));
}

/// The issue's probe: cut the newest entries (and their records) and reset `chain_head`;
/// before the anchor `records verify` said "intact". Now it names the deletion, and a
/// receipt's check code is checked against the chain.
#[test]
fn records_verify_reports_deleted_entries_and_checks_receipt_codes() {
    use xiaoan_records::{EventKind, NewEvent, Store};
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("records").join("xiaoan.db");
    let receipts: Vec<_> = {
        let store = Store::open(&db).unwrap();
        (0..5)
            .map(|i| {
                store
                    .record_event(&NewEvent {
                        kind: EventKind::Emergency,
                        summary: "老人摔倒".into(),
                        // the first caller left a phone number
                        transcript: (i == 0)
                            .then(|| xiaoan_records::Turn {
                                who: "resident".into(),
                                text: "我电话13812345678".into(),
                            })
                            .into_iter()
                            .collect(),
                        wait_at: None,
                        needs: None,
                        session_id: "s".into(),
                    })
                    .unwrap()
            })
            .collect()
    };
    let out = |o: &Output| String::from_utf8_lossy(&o.stdout).to_string();
    let first = &receipts[0];
    let code = first.check_code.clone().unwrap();
    let o = xiaoan(
        d.path(),
        &["records", "verify", "--receipt", &first.number, &code],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), stderr(&o));
    assert!(out(&o).contains("matches"), "{}", out(&o));
    assert!(
        out(&o).contains("evidence chain intact: 5 entries"),
        "{}",
        out(&o)
    );
    // found by that number although the store keeps it only sealed and as a keyed hash
    let o = xiaoan(d.path(), &["records", "list", "--number", "138 1234 5678"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        out(&o).contains(&first.number) && out(&o).lines().count() == 1,
        "{}",
        out(&o)
    );
    let o = xiaoan(
        d.path(),
        &["records", "verify", "--receipt", &first.number, "000000"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("does NOT match"), "{}", out(&o));

    // delete the newest two entries and their records, and reset the head
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "DELETE FROM events WHERE number IN (SELECT record_number FROM evidence WHERE seq > 3);
             DELETE FROM evidence WHERE seq > 3;
             UPDATE chain_head SET seq = 3, hash = (SELECT hash FROM evidence WHERE seq = 3);",
        )
        .unwrap();
    }
    let o = xiaoan(d.path(), &["records", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("entries 4 to 5 were deleted") && out(&o).contains("BROKEN"),
        "{}",
        out(&o)
    );
    let last = &receipts[4];
    let o = xiaoan(
        d.path(),
        &[
            "records",
            "verify",
            "--receipt",
            &last.number,
            last.check_code.as_deref().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("no such record in the evidence chain"),
        "{}",
        out(&o)
    );

    // wiping everything is no longer "intact: 0 entries"
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "DELETE FROM events; DELETE FROM evidence; UPDATE chain_head SET seq = 0, hash = '';",
        )
        .unwrap();
    }
    let o = xiaoan(d.path(), &["records", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("entries 1 to 5 were deleted"),
        "{}",
        out(&o)
    );
}
