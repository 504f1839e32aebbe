//! The staff API: what the centre's staff screen reads (`xiaoan serve`).
//!
//! A small HTTP/JSON service over the records store. Every route but `/api/health` needs
//! the staff token (`Authorization: Bearer <XIAOAN_STAFF_TOKEN>`); personal data is masked
//! unless the request asks for `?reveal=true`, and each reveal is written to the evidence
//! chain (who looked is staff by token; what was looked at is the record number).
//!
//! | route | what |
//! | --- | --- |
//! | `GET /api/health` | liveness and schema version (no token, no personal data); 503 with the reason when the store is read-only or unreadable |
//! | `GET /api/alerts` | open and acknowledged emergencies and hand-overs, newest first |
//! | `GET /api/records?kind=&status=&limit=` | listing |
//! | `GET /api/records/{number}` | one record with its evidence history |
//! | `POST /api/records/{number}/status` | `{"status": "...", "note": "..."}`; 409 for a move the record's status does not allow (a closed alert reopened); the same status again changes nothing |
//! | `GET /api/follow-ups` | mediation cases whose 48-hour call is due |
//! | `GET /api/queue` | queue status |
//! | `GET /api/verify` | check the evidence chain, against its signed anchor too (deleted or forged entries) |
//!
//! The store is SQLite in WAL mode, so the API and a running agent share the file: the
//! agent writes, the API reads and records staff status changes.
//!
//! Hardening: the token must carry at least [`MIN_TOKEN_BITS`] bits by a conservative
//! estimate ([`token_bits`]); only a loopback address is bound unless `--insecure-bind`
//! (there is no TLS yet); a client address that sends [`MAX_FAILURES`] wrong tokens within
//! [`FAILURE_WINDOW`] gets 429 with `Retry-After` (logged without the token); the token is
//! checked before any parameter is parsed; headers must arrive within
//! [`HEADER_TIMEOUT`], a connection lives at most [`CONNECTION_LIFETIME`] and at most
//! [`MAX_CONNECTIONS`] are served at once; bodies over [`MAX_BODY`] bytes get 413.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, DefaultBodyLimit, Path as UrlPath, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::store::{RecordKind, Store, StoreError};

/// The environment variable that holds the staff token.
pub const TOKEN_ENV: &str = "XIAOAN_STAFF_TOKEN";
/// Weakest token accepted, in bits by [`token_bits`]: a guessable token is no protection.
pub const MIN_TOKEN_BITS: f64 = 128.0;
/// How to make a good token, for the refusal message.
pub const MAKE_TOKEN: &str = "head -c 24 /dev/urandom | base64";
/// Wrong tokens one client address may send within [`FAILURE_WINDOW`] before it gets 429.
pub const MAX_FAILURES: usize = 5;
/// The window over which wrong tokens are counted.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(10);
/// Client addresses tracked at once for wrong tokens (older ones are forgotten first).
const MAX_TRACKED: usize = 10_000;
/// A client must send its request headers within this time, also on an idle kept-alive
/// connection (a silent half-open connection is closed after it).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a connection is kept, whatever it does (a slowly trickled body included).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);
/// Connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 256;
/// Largest request body (a status change with a 500-character note is well under 4 KiB).
pub const MAX_BODY: usize = 16 * 1024;
/// Most records one listing returns.
const MAX_LIMIT: usize = 500;

/// Shared by every request.
#[derive(Clone)]
struct Api {
    store: Arc<Mutex<Store>>,
    token: Arc<String>,
    failures: Arc<Mutex<Failures>>,
}

/// Recent wrong tokens per client address.
#[derive(Default)]
struct Failures {
    by_client: HashMap<IpAddr, VecDeque<Instant>>,
}

impl Failures {
    /// Forget failures older than the window (and whole clients with none left).
    fn prune(&mut self, now: Instant) {
        self.by_client.retain(|_, times| {
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
    }

    /// If `client` is locked out, how long until it may try again.
    fn locked(&mut self, client: IpAddr, now: Instant) -> Option<Duration> {
        let times = self.by_client.get_mut(&client)?;
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW)
        {
            times.pop_front();
        }
        if times.len() < MAX_FAILURES {
            return None;
        }
        let oldest = times[times.len() - MAX_FAILURES];
        Some(FAILURE_WINDOW.saturating_sub(now.duration_since(oldest)))
    }

    /// Count one wrong token; returns the client's failures within the window.
    fn record(&mut self, client: IpAddr, now: Instant) -> usize {
        if self.by_client.len() >= MAX_TRACKED && !self.by_client.contains_key(&client) {
            self.prune(now);
            if self.by_client.len() >= MAX_TRACKED {
                // still full of active clients: drop one rather than grow without bound
                if let Some(k) = self.by_client.keys().next().copied() {
                    self.by_client.remove(&k);
                }
            }
        }
        let times = self.by_client.entry(client).or_default();
        times.push_back(now);
        while times.len() > MAX_FAILURES * 2 {
            times.pop_front();
        }
        times.len()
    }
}

/// A failure as the client sees it: a status and a short JSON message.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(json!({ "error": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"xiaoan-staff\""),
            );
        }
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(n) => ApiError(StatusCode::NOT_FOUND, format!("no record {n}")),
            e @ StoreError::BadStatus { .. } => ApiError(StatusCode::BAD_REQUEST, e.to_string()),
            e @ StoreError::Transition { .. } => ApiError(StatusCode::CONFLICT, e.to_string()),
            e @ StoreError::Busy { .. } => ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            other => {
                // the reason is the database's, without personal data
                eprintln!("xiaoan serve: store error: {other}");
                ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "records store error".into(),
                )
            }
        }
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// A conservative estimate of a token's strength in bits: its length times log2 of the
/// smaller of (a) the size of the character classes it uses (digits 10, lower case 26,
/// upper case 26, anything else 32) and (b) the number of distinct characters in it, where
/// a token that repeats a shorter pattern counts only that pattern's length. Sixteen
/// identical characters are 0 bits; 32 characters of base64 from `/dev/urandom` about 150.
pub fn token_bits(token: &str) -> f64 {
    let chars: Vec<char> = token.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    let period = (1..=chars.len())
        .find(|&p| (p..chars.len()).all(|i| chars[i] == chars[i - p]))
        .unwrap_or(chars.len());
    let mut pool = 0u32;
    if chars.iter().any(char::is_ascii_digit) {
        pool += 10;
    }
    if chars.iter().any(char::is_ascii_lowercase) {
        pool += 26;
    }
    if chars.iter().any(char::is_ascii_uppercase) {
        pool += 26;
    }
    if chars.iter().any(|c| !c.is_ascii_alphanumeric()) {
        pool += 32;
    }
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let per_char = f64::from(pool.min(u32::try_from(distinct.len()).unwrap_or(u32::MAX)));
    period as f64 * per_char.log2()
}

/// Refuse a token weaker than [`MIN_TOKEN_BITS`], saying how to make a good one.
pub fn check_token(token: &str) -> Result<(), String> {
    let bits = token_bits(token);
    if bits < MIN_TOKEN_BITS {
        return Err(format!(
            "{TOKEN_ENV} is too weak (about {bits:.0} bits; at least {MIN_TOKEN_BITS:.0} needed): make one with `{MAKE_TOKEN}`"
        ));
    }
    Ok(())
}

/// Read the token from the environment: present and strong enough ([`check_token`]).
pub fn token_from_env() -> Result<String, String> {
    match std::env::var(TOKEN_ENV) {
        Ok(t) => {
            let t = t.trim().to_string();
            check_token(&t)?;
            Ok(t)
        }
        Err(_) => Err(format!(
            "set {TOKEN_ENV} to the staff token before starting the staff API: make one with `{MAKE_TOKEN}`"
        )),
    }
}

/// Check the address to listen on: loopback only, unless `insecure` (the API has no TLS
/// yet, so the token and personal data would cross the network in clear). Returns the
/// warning to print loudly when a non-loopback address is allowed.
pub fn check_bind(addr: SocketAddr, insecure: bool) -> Result<Option<String>, String> {
    if addr.ip().is_loopback() {
        return Ok(None);
    }
    if !insecure {
        return Err(format!(
            "refusing to listen on {addr}: the staff API has no TLS yet, so the token and residents' data would cross the network unencrypted. \
             Listen on 127.0.0.1 (and reach it through an SSH tunnel or a TLS proxy), or pass --insecure-bind if this network is trusted"
        ));
    }
    Ok(Some(format!(
        "WARNING: the staff API listens on {addr} WITHOUT TLS (--insecure-bind): the staff token and residents' personal data cross the network unencrypted"
    )))
}

/// The API's routes over an open store.
pub fn router(store: Store, token: String) -> Router {
    let api = Api {
        store: Arc::new(Mutex::new(store)),
        token: Arc::new(token),
        failures: Arc::new(Mutex::new(Failures::default())),
    };
    // the token is checked before any extractor parses a path, query or body
    let staff = Router::new()
        .route("/api/alerts", get(alerts))
        .route("/api/records", get(list))
        .route("/api/records/{number}", get(show))
        .route("/api/records/{number}/status", post(set_status))
        .route("/api/follow-ups", get(follow_ups))
        .route("/api/queue", get(queue))
        .route("/api/verify", get(verify))
        .route_layer(middleware::from_fn_with_state(api.clone(), guard));
    Router::new()
        .route("/api/health", get(health))
        .merge(staff)
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such route".into()) })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(api)
}

/// Serve the API on `addr` until Ctrl-C. Prints the bound address first (port 0 picks a
/// free one), so scripts can read it. A non-loopback `addr` needs `insecure_bind`.
pub async fn serve(
    addr: SocketAddr,
    store_path: &Path,
    token: String,
    insecure_bind: bool,
) -> anyhow::Result<()> {
    if let Some(warning) = check_bind(addr, insecure_bind).map_err(|e| anyhow::anyhow!(e))? {
        eprintln!("{warning}");
    }
    check_token(&token).map_err(|e| anyhow::anyhow!(e))?;
    let store = Store::open(store_path)?;
    if let Err(reason) = store.health() {
        eprintln!("xiaoan serve: WARNING: the records store is not healthy: {reason}");
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    println!("staff API listening on http://{bound}");
    use std::io::Write;
    std::io::stdout().flush().ok();
    serve_listener(listener, router(store, token), HEADER_TIMEOUT, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Serve `app` on `listener` until `shutdown` completes: HTTP/1.1 only, at most
/// [`MAX_CONNECTIONS`] at once, each closed when its request headers take longer than
/// `header_timeout` (idle kept-alive connections included) or after
/// [`CONNECTION_LIFETIME`]. Each request carries the client address (`ConnectInfo`).
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower_service::Service;

    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = slots.clone().acquire_owned() => p?,
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // out of file descriptors and the like: wait rather than spin
                    eprintln!("xiaoan serve: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    let mut app = app.clone();
                    async move { app.call(req).await }
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
        });
    }
    Ok(())
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token check, before anything else of the request is looked at. Wrong tokens are
/// counted per client address and logged (the address and count, never the token); past
/// [`MAX_FAILURES`] within [`FAILURE_WINDOW`] the client gets 429 with `Retry-After`.
async fn guard(State(api): State<Api>, req: Request, next: Next) -> Response {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let now = Instant::now();
    let locked = match api.failures.lock() {
        Ok(mut f) => f.locked(client, now),
        Err(_) => None,
    };
    if let Some(wait) = locked {
        return too_many(wait);
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if same(t.as_bytes(), api.token.as_bytes()) => next.run(req).await,
        Some(_) => {
            let count = match api.failures.lock() {
                Ok(mut f) => f.record(client, now),
                Err(_) => 0,
            };
            eprintln!(
                "xiaoan serve: wrong staff token from {client} ({count} within {} s)",
                FAILURE_WINDOW.as_secs()
            );
            ApiError(StatusCode::UNAUTHORIZED, "wrong staff token".into()).into_response()
        }
        None => ApiError(
            StatusCode::UNAUTHORIZED,
            "staff token required (Authorization: Bearer …)".into(),
        )
        .into_response(),
    }
}

fn too_many(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut r = ApiError(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many wrong staff tokens from this address: try again in {secs} s"),
    )
    .into_response();
    if let Ok(v) = header::HeaderValue::from_str(&secs.max(1).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Run a store call off the async threads.
async fn with_store<T, F>(api: &Api, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
{
    let store = api.store.clone();
    tokio::task::spawn_blocking(move || {
        let guard = store.lock().map_err(|_| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store unavailable".into(),
            )
        })?;
        f(&guard)
    })
    .await
    .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "request failed".into()))?
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// Note a reveal of personal data in the evidence chain (the number only).
fn audit_reveal(store: &Store, number: &str) -> Result<(), ApiError> {
    store.note_access(number, "staff API reveal")?;
    Ok(())
}

#[derive(Deserialize)]
struct RevealQuery {
    #[serde(default)]
    reveal: bool,
}

#[derive(Deserialize)]
struct ListQuery {
    kind: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
    #[serde(default)]
    reveal: bool,
}

#[derive(Deserialize)]
struct StatusBody {
    status: String,
    #[serde(default)]
    note: String,
}

async fn health(State(api): State<Api>) -> Response {
    let checked = with_store(&api, |s| Ok((s.schema_version(), s.health()))).await;
    match checked {
        Ok((Ok(version), Ok(()))) => {
            Json(json!({ "status": "ok", "schema_version": version })).into_response()
        }
        Ok((version, Err(reason))) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unhealthy",
                "reason": reason,
                "schema_version": version.ok(),
            })),
        )
            .into_response(),
        Ok((Err(e), Ok(()))) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unhealthy", "reason": e.to_string() })),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn alerts(State(api): State<Api>, Query(q): Query<RevealQuery>) -> ApiResult {
    with_store(&api, move |s| {
        let mut out = Vec::new();
        for status in ["open", "acknowledged"] {
            for summary in s.list_with_status(RecordKind::Event, status, MAX_LIMIT, q.reveal)? {
                if q.reveal {
                    audit_reveal(s, &summary.number)?;
                }
                let detail = s.show(&summary.number, q.reveal)?;
                out.push(to_json(&detail)?);
            }
        }
        // emergencies first, then newest first
        out.sort_by(|a, b| {
            let urgent = |v: &Value| v["record"]["event_kind"] == "emergency";
            urgent(b).cmp(&urgent(a)).then_with(|| {
                b["summary"]["created_at"]
                    .as_str()
                    .cmp(&a["summary"]["created_at"].as_str())
            })
        });
        Ok(Json(json!({ "alerts": out })))
    })
    .await
}

async fn list(State(api): State<Api>, Query(q): Query<ListQuery>) -> ApiResult {
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(RecordKind::parse(k).ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("unknown record kind \"{k}\" (filing, case, event, appointment, feedback, draft, queue)"),
            )
        })?),
    };
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_LIMIT);
    with_store(&api, move |s| {
        let rows = match (kind, q.status.as_deref()) {
            (Some(k), Some(st)) => s.list_with_status(k, st, limit, q.reveal)?,
            (None, Some(_)) => {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    "status needs a kind".into(),
                ))
            }
            (k, None) => s.list(k, limit, q.reveal)?,
        };
        if q.reveal {
            for r in &rows {
                audit_reveal(s, &r.number)?;
            }
        }
        Ok(Json(json!({ "records": to_json(&rows)? })))
    })
    .await
}

async fn show(
    State(api): State<Api>,
    UrlPath(number): UrlPath<String>,
    Query(q): Query<RevealQuery>,
) -> ApiResult {
    with_store(&api, move |s| match s.show(&number, q.reveal)? {
        Some(d) => {
            if q.reveal {
                audit_reveal(s, &d.summary.number)?;
            }
            Ok(Json(to_json(&d)?))
        }
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no record {number}"),
        )),
    })
    .await
}

async fn set_status(
    State(api): State<Api>,
    UrlPath(number): UrlPath<String>,
    body: Result<Json<StatusBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let Json(body) = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {MAX_BODY} bytes"),
            );
        }
        ApiError(
            StatusCode::BAD_REQUEST,
            format!(
                "expected {{\"status\": \"…\", \"note\": \"…\"}}: {}",
                e.body_text()
            ),
        )
    })?;
    if body.note.chars().count() > 500 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "note is longer than 500 characters".into(),
        ));
    }
    with_store(&api, move |s| {
        s.set_status(&number, body.status.trim(), body.note.trim())?;
        match s.show(&number, false)? {
            Some(d) => Ok(Json(to_json(&d.summary)?)),
            None => Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("no record {number}"),
            )),
        }
    })
    .await
}

async fn follow_ups(State(api): State<Api>) -> ApiResult {
    with_store(&api, |s| {
        let due = s.follow_ups_due(chrono::Utc::now())?;
        Ok(Json(json!({ "due": to_json(&due)? })))
    })
    .await
}

async fn queue(State(api): State<Api>) -> ApiResult {
    with_store(&api, |s| Ok(Json(to_json(&s.queue_status(None)?)?))).await
}

async fn verify(State(api): State<Api>) -> ApiResult {
    with_store(&api, |s| Ok(Json(to_json(&s.verify()?)?))).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    const TOKEN: &str = "hV3k9Qz1Lr8Xw2Pn5Tb7Yc0Md4Fg6Js+";

    /// A running API on a free loopback port; dropped, it stops.
    struct Running {
        addr: String,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
        _dir: tempfile::TempDir,
    }

    impl Drop for Running {
        fn drop(&mut self) {
            if let Some(s) = self.stop.take() {
                let _ = s.send(());
            }
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn start(header_timeout: Duration) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("records.db")).unwrap();
        start_with(dir, store, header_timeout)
    }

    fn start_with(dir: tempfile::TempDir, store: Store, header_timeout: Duration) -> Running {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(l.local_addr().unwrap().to_string()).unwrap();
                let app = router(store, TOKEN.to_string());
                serve_listener(l, app, header_timeout, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            });
        });
        Running {
            addr: rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            stop: Some(stop),
            thread: Some(thread),
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
    fn verify_reports_entries_cut_off_with_the_head_reset() {
        use crate::store::{EventKind, NewEvent};
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
            let e = check_token(weak).unwrap_err();
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
        let e = check_bind(lan, false).unwrap_err();
        assert!(e.contains("--insecure-bind") && e.contains("TLS"), "{e}");
        let w = check_bind(lan, true).unwrap().unwrap();
        assert!(w.starts_with("WARNING") && w.contains("WITHOUT TLS"), "{w}");
        assert_eq!(check_bind("127.0.0.1:0".parse().unwrap(), false), Ok(None));
        assert_eq!(check_bind("[::1]:0".parse().unwrap(), false), Ok(None));
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
}
