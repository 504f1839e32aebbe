//! The staff API: what the centre's staff screen reads (`xiaoan serve`).
//!
//! A small HTTP/JSON service over the records store. Every route but `/api/health` needs
//! the staff token (`Authorization: Bearer <XIAOAN_STAFF_TOKEN>`); personal data is masked
//! unless the request asks for `?reveal=true`, and each reveal is written to the evidence
//! chain (who looked is staff by token; what was looked at is the record number).
//!
//! | route | what |
//! | --- | --- |
//! | `GET /api/health` | liveness and schema version (no token, no personal data) |
//! | `GET /api/alerts` | open and acknowledged emergencies and hand-overs, newest first |
//! | `GET /api/records?kind=&status=&limit=` | listing |
//! | `GET /api/records/{number}` | one record with its evidence history |
//! | `POST /api/records/{number}/status` | `{"status": "...", "note": "..."}`; 409 for a move the record's status does not allow (a closed alert reopened); the same status again changes nothing |
//! | `GET /api/follow-ups` | mediation cases whose 48-hour call is due |
//! | `GET /api/queue` | queue status |
//! | `GET /api/verify` | check the evidence chain |
//!
//! The store is SQLite in WAL mode, so the API and a running agent share the file: the
//! agent writes, the API reads and records staff status changes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::store::{RecordKind, Store, StoreError};

/// The environment variable that holds the staff token.
pub const TOKEN_ENV: &str = "XIAOAN_STAFF_TOKEN";
/// Shortest token accepted: a guessable token is no protection.
pub const MIN_TOKEN_LEN: usize = 16;
/// Most records one listing returns.
const MAX_LIMIT: usize = 500;

/// Shared by every request.
#[derive(Clone)]
struct Api {
    store: Arc<Mutex<Store>>,
    token: Arc<String>,
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

/// Check a token from the environment: present and long enough.
pub fn token_from_env() -> Result<String, String> {
    match std::env::var(TOKEN_ENV) {
        Ok(t) if t.trim().chars().count() >= MIN_TOKEN_LEN => Ok(t.trim().to_string()),
        Ok(_) => Err(format!(
            "{TOKEN_ENV} is too short: use at least {MIN_TOKEN_LEN} random characters"
        )),
        Err(_) => Err(format!(
            "set {TOKEN_ENV} to the staff token (at least {MIN_TOKEN_LEN} random characters) before starting the staff API"
        )),
    }
}

/// The API's routes over an open store.
pub fn router(store: Store, token: String) -> Router {
    let api = Api {
        store: Arc::new(Mutex::new(store)),
        token: Arc::new(token),
    };
    Router::new()
        .route("/api/health", get(health))
        .route("/api/alerts", get(alerts))
        .route("/api/records", get(list))
        .route("/api/records/{number}", get(show))
        .route("/api/records/{number}/status", post(set_status))
        .route("/api/follow-ups", get(follow_ups))
        .route("/api/queue", get(queue))
        .route("/api/verify", get(verify))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such route".into()) })
        .with_state(api)
}

/// Serve the API on `addr` until Ctrl-C. Prints the bound address first (port 0 picks a
/// free one), so scripts can read it.
pub async fn serve(addr: SocketAddr, store_path: &Path, token: String) -> anyhow::Result<()> {
    let store = Store::open(store_path)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    println!("staff API listening on http://{bound}");
    use std::io::Write;
    std::io::stdout().flush().ok();
    axum::serve(listener, router(store, token))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorise(api: &Api, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if same(t.as_bytes(), api.token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "wrong staff token".into(),
        )),
        None => Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "staff token required (Authorization: Bearer …)".into(),
        )),
    }
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

async fn health(State(api): State<Api>) -> ApiResult {
    let version = with_store(&api, |s| Ok(s.schema_version()?)).await?;
    Ok(Json(json!({ "status": "ok", "schema_version": version })))
}

async fn alerts(
    State(api): State<Api>,
    headers: HeaderMap,
    Query(q): Query<RevealQuery>,
) -> ApiResult {
    authorise(&api, &headers)?;
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

async fn list(State(api): State<Api>, headers: HeaderMap, Query(q): Query<ListQuery>) -> ApiResult {
    authorise(&api, &headers)?;
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
    headers: HeaderMap,
    UrlPath(number): UrlPath<String>,
    Query(q): Query<RevealQuery>,
) -> ApiResult {
    authorise(&api, &headers)?;
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
    headers: HeaderMap,
    UrlPath(number): UrlPath<String>,
    body: Result<Json<StatusBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    authorise(&api, &headers)?;
    let Json(body) = body.map_err(|e| {
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

async fn follow_ups(State(api): State<Api>, headers: HeaderMap) -> ApiResult {
    authorise(&api, &headers)?;
    with_store(&api, |s| {
        let due = s.follow_ups_due(chrono::Utc::now())?;
        Ok(Json(json!({ "due": to_json(&due)? })))
    })
    .await
}

async fn queue(State(api): State<Api>, headers: HeaderMap) -> ApiResult {
    authorise(&api, &headers)?;
    with_store(&api, |s| Ok(Json(to_json(&s.queue_status(None)?)?))).await
}

async fn verify(State(api): State<Api>, headers: HeaderMap) -> ApiResult {
    authorise(&api, &headers)?;
    with_store(&api, |s| Ok(Json(to_json(&s.verify()?)?))).await
}
