//! The server over HTTP: a real listener on a free loopback port.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::*;
use xiaoan_records::Store;

const TOKEN: &str = "hV3k9Qz1Lr8Xw2Pn5Tb7Yc0Md4Fg6Js+";

/// A running API on a free loopback port (with its records folder); dropped, it stops.
struct Running {
    _server: crate::test_server::Running,
    addr: String,
    _dir: tempfile::TempDir,
}

fn start(header_timeout: Duration) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("records.db")).unwrap();
    start_with(dir, store, header_timeout)
}

fn start_with(dir: tempfile::TempDir, store: Store, header_timeout: Duration) -> Running {
    let server = crate::test_server::spawn(router(store, TOKEN.to_string()), header_timeout);
    Running {
        addr: server.addr.clone(),
        _server: server,
        _dir: dir,
    }
}

/// One request: the whole raw response.
fn raw(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}

fn get(addr: &str, path: &str, token: Option<&str>) -> String {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"),
    )
}

fn code(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn health_reports_a_read_only_store() {
    let api = start(HEADER_TIMEOUT);
    let r = get(&api.addr, "/api/health", None);
    assert_eq!(code(&r), 200, "{r}");
    assert!(r.contains("\"status\":\"ok\""), "{r}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.db");
    drop(Store::open(&path).unwrap());
    let ro = Store::open_read_only(&path).unwrap();
    let api = start_with(dir, ro, HEADER_TIMEOUT);
    let r = get(&api.addr, "/api/health", None);
    assert_eq!(code(&r), 503, "{r}");
    assert!(r.contains("unhealthy") && r.contains("read-only"), "{r}");
}

#[test]
fn a_waiting_staff_screen_hears_a_new_alert_on_a_terminal_file() {
    use xiaoan_records::{EventKind, NewEvent};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.db");
    let alert = |summary: &str| NewEvent {
        kind: EventKind::Emergency,
        summary: summary.into(),
        transcript: Vec::new(),
        wait_at: None,
        needs: None,
        session_id: "s".into(),
    };
    let old = Store::open(&path)
        .unwrap()
        .record_event(&alert("老人摔倒"))
        .unwrap()
        .number;
    let api = start_with(dir, Store::open(&path).unwrap(), HEADER_TIMEOUT);
    let body = |r: &str| -> serde_json::Value {
        serde_json::from_str(r.split_once("\r\n\r\n").map_or("", |x| x.1)).unwrap()
    };
    // the first call: what is open now, and the cursor past it
    let first = body(&get(&api.addr, "/api/alerts/wait", Some(TOKEN)));
    assert_eq!(
        first["alerts"][0]["summary"]["number"],
        old.as_str(),
        "{first}"
    );
    let cursor = format!(
        "/api/alerts/wait?since={}&seen={}&timeout=30",
        first["since"].as_str().unwrap(),
        first["seen"].as_str().unwrap()
    );
    let new = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| get(&api.addr, &cursor, Some(TOKEN)));
        std::thread::sleep(Duration::from_millis(300));
        let n = Store::open(&path)
            .unwrap()
            .record_event(&alert("有人晕倒"))
            .unwrap()
            .number;
        (n, waiter.join().unwrap())
    });
    let (number, r) = new;
    assert_eq!(code(&r), 200, "{r}");
    let v = body(&r);
    let alerts = v["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "only the new one: {v}");
    assert_eq!(alerts[0]["summary"]["number"], number.as_str(), "{v}");
}

#[test]
fn verify_reports_entries_cut_off_with_the_head_reset() {
    use xiaoan_records::{EventKind, NewEvent};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.db");
    {
        let store = Store::open(&path).unwrap();
        for _ in 0..3 {
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
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DELETE FROM events WHERE number = (SELECT record_number FROM evidence WHERE seq = 3);
         DELETE FROM evidence WHERE seq = 3;
         UPDATE chain_head SET seq = 2, hash = (SELECT hash FROM evidence WHERE seq = 2);",
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    let api = start_with(dir, store, HEADER_TIMEOUT);
    let r = get(&api.addr, "/api/verify", Some(TOKEN));
    assert_eq!(code(&r), 200, "{r}");
    assert!(
        r.contains("\"ok\":false") && r.contains("entries 3 to 3 were deleted"),
        "{r}"
    );
}

#[test]
fn weak_tokens_are_refused_and_a_random_one_is_accepted() {
    // 16 identical characters were accepted before
    for weak in [
        "aaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "Ab1$Ab1$Ab1$Ab1$Ab1$Ab1$Ab1$Ab1$Ab1$",
        "test-token-0123456789abcdef",
        "0123456789abcdef",
        "",
    ] {
        let e = check_token(weak).unwrap_err().to_string();
        assert!(e.contains(MAKE_TOKEN), "{e}");
    }
    assert_eq!(token_bits("aaaaaaaaaaaaaaaa"), 0.0);
    // what `head -c 24 /dev/urandom | base64` makes
    assert!(check_token(TOKEN).is_ok(), "{}", token_bits(TOKEN));
    assert!(token_bits(TOKEN) > 150.0);
}

#[test]
fn only_loopback_is_bound_unless_told_and_then_with_a_warning() {
    let lan: SocketAddr = "0.0.0.0:8750".parse().unwrap();
    let e = check_bind(lan, false, false).unwrap_err().to_string();
    assert!(e.contains("--insecure-bind") && e.contains("TLS"), "{e}");
    let w = check_bind(lan, false, true).unwrap().unwrap();
    assert!(w.starts_with("WARNING") && w.contains("WITHOUT TLS"), "{w}");
    // with TLS any address may be bound, without a warning
    assert_eq!(check_bind(lan, true, false).unwrap(), None);
    assert_eq!(
        check_bind("127.0.0.1:0".parse().unwrap(), false, false).unwrap(),
        None
    );
    assert_eq!(
        check_bind("[::1]:0".parse().unwrap(), false, false).unwrap(),
        None
    );
}

#[test]
fn the_token_is_checked_before_parameters_and_big_bodies_get_413() {
    let api = start(HEADER_TIMEOUT);
    // a bad query without a token: 401, not 400
    let r = get(&api.addr, "/api/records?limit=abc&reveal=maybe", None);
    assert_eq!(code(&r), 401, "{r}");
    let r = get(&api.addr, "/api/records?limit=abc", Some(TOKEN));
    assert_eq!(code(&r), 400, "{r}");
    // an oversized status body
    let body = format!(
        "{{\"status\":\"closed\",\"note\":\"{}\"}}",
        "x".repeat(MAX_BODY)
    );
    let r = raw(
        &api.addr,
        &format!(
            "POST /api/records/1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(code(&r), 413, "{r}");
}

#[test]
fn wrong_tokens_are_rate_limited_per_client() {
    let api = start(HEADER_TIMEOUT);
    for i in 0..MAX_FAILURES {
        let r = get(&api.addr, "/api/alerts", Some("wrong-token"));
        assert_eq!(code(&r), 401, "attempt {i}: {r}");
    }
    let r = get(&api.addr, "/api/alerts", Some("wrong-token"));
    assert_eq!(code(&r), 429, "{r}");
    let retry: u64 = r
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("retry-after: ")
                .map(str::to_string)
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!((1..=10).contains(&retry), "{r}");
    // locked out even with the right token while the window lasts
    assert_eq!(code(&get(&api.addr, "/api/alerts", Some(TOKEN))), 429);
    // health needs no token and is not limited
    assert_eq!(code(&get(&api.addr, "/api/health", None)), 200);
}

#[test]
fn idle_connections_are_closed_after_the_header_timeout() {
    let api = start(Duration::from_millis(300));
    // the probe's 2,000 silent connections (more than are served at once), one of
    // them sending half a header
    let started = Instant::now();
    let mut idle: Vec<TcpStream> = (0..2000)
        .map(|_| TcpStream::connect(&api.addr).unwrap())
        .collect();
    idle[0]
        .write_all(b"GET /api/health HTTP/1.1\r\nHo")
        .unwrap();
    for s in &mut idle {
        s.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
        let mut buf = [0u8; 256];
        // closed by the server: EOF (or a 408) well before our own 40 s
        let _ = s.read(&mut buf);
    }
    // 2,000 / MAX_CONNECTIONS waves of 300 ms, with room for a slow machine
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "idle connections stayed open for {:?}",
        started.elapsed()
    );
    // and the API still answers
    assert_eq!(code(&get(&api.addr, "/api/health", None)), 200);
}
