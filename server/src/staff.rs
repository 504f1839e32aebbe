//! The staff API's routes: alerts, listings, one record, status changes, follow-ups, the
//! queue and the chain check. Each handler's store work runs on the blocking pool
//! ([`with_store`]).
//!
//! The store is a terminal's file or the centre's PostgreSQL (`[store] url`): then the
//! screen sees every site and terminal, `?site=` narrows listings and alerts, and a
//! record another terminal also numbered so is named `terminal:number`.
//!
//! Alerts within seconds: `GET /api/alerts/wait?since=&seen=&timeout=` is a long poll.
//! It answers at once with the alerts raised after the cursor (`since`, the newest
//! creation time already seen, and `seen`, the records at that time already seen), else
//! waits up to `timeout` seconds (default 25, at most 60) for one: on the centre's store
//! through LISTEN/NOTIFY (heard when the raising transaction commits), on a file by
//! re-reading every [`ALERT_POLL`]. Each answer carries the next cursor.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use xiaoan_records::{
    AlertListener, BackendKind, Filter, RecordKind, RecordStore, RecordSummary, ALERT_POLL,
};

use crate::auth::{guard, Auth};
use crate::error::ApiError;

/// Largest request body (a status change with a 500-character note is well under 4 KiB).
pub const MAX_BODY: usize = 16 * 1024;
/// Most records one listing returns.
const MAX_LIMIT: usize = 500;

/// Shared by every staff request.
#[derive(Clone)]
struct Api {
    store: Arc<Mutex<Box<dyn RecordStore>>>,
}

type ApiResult = Result<Json<Value>, ApiError>;

/// The staff routes over the shared store: `/api/health` open, the rest behind the token
/// check ([`guard`]), which runs before any extractor parses a path, query or body.
pub(crate) fn routes(store: Arc<Mutex<Box<dyn RecordStore>>>, auth: Auth) -> Router {
    let api = Api { store };
    let guarded = Router::new()
        .route("/api/alerts", get(alerts))
        .route("/api/alerts/wait", get(alerts_wait))
        .route("/api/delivery", get(delivery))
        .route("/api/records", get(list))
        .route("/api/records/{number}", get(show))
        .route("/api/records/{number}/status", post(set_status))
        .route("/api/records/{number}/note", post(add_note))
        .route("/api/follow-ups", get(follow_ups))
        .route("/api/queue", get(queue))
        .route("/api/verify", get(verify))
        .route_layer(middleware::from_fn_with_state(auth, guard));
    Router::new()
        .route("/api/health", get(health))
        .merge(guarded)
        .with_state(api)
}

/// Run a store call off the async threads.
async fn with_store<T, F>(api: &Api, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn RecordStore) -> Result<T, ApiError> + Send + 'static,
{
    let store = api.store.clone();
    tokio::task::spawn_blocking(move || {
        let guard = store.lock().map_err(|_| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store unavailable".into(),
            )
        })?;
        f(&**guard)
    })
    .await
    .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "request failed".into()))?
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// The key that names a record in this store: `terminal:number` in the centre's (two
/// terminals may hold one number), the number in a file.
fn key_of(store: &dyn RecordStore, r: &RecordSummary) -> String {
    match store.backend() {
        BackendKind::Postgres if !r.terminal.is_empty() => format!("{}:{}", r.terminal, r.number),
        _ => r.number.clone(),
    }
}

/// Note a reveal of personal data in the evidence chain (the number only).
fn audit_reveal(store: &dyn RecordStore, r: &RecordSummary) -> Result<(), ApiError> {
    store.note_access(&key_of(store, r), "staff API reveal")?;
    Ok(())
}

#[derive(Deserialize)]
struct RevealQuery {
    #[serde(default)]
    reveal: bool,
}

#[derive(Deserialize)]
struct AlertsQuery {
    #[serde(default)]
    reveal: bool,
    site: Option<String>,
}

#[derive(Deserialize)]
struct WaitQuery {
    #[serde(default)]
    reveal: bool,
    site: Option<String>,
    /// The newest creation time already seen (RFC 3339).
    since: Option<String>,
    /// Keys (`terminal:number` or number) of the alerts created at `since` already seen,
    /// comma-separated.
    #[serde(default)]
    seen: String,
    /// Seconds to wait for a new alert.
    timeout: Option<u64>,
}

#[derive(Deserialize)]
struct ListQuery {
    kind: Option<String>,
    status: Option<String>,
    site: Option<String>,
    limit: Option<usize>,
    #[serde(default)]
    reveal: bool,
}

#[derive(Deserialize)]
struct NoteBody {
    note: String,
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

/// Open and acknowledged alerts (of one site, or all) as shown on the staff screen:
/// emergencies first, then newest first.
fn open_alerts(
    s: &dyn RecordStore,
    site: Option<&str>,
    reveal: bool,
) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    for status in ["open", "acknowledged"] {
        let filter = Filter {
            kind: Some(RecordKind::Event),
            status: Some(status.to_string()),
            site: site.map(str::to_string),
            limit: MAX_LIMIT,
        };
        for summary in s.records(&filter, reveal)? {
            out.push(alert_json(s, &summary, reveal)?);
        }
    }
    sort_alerts(&mut out);
    Ok(out)
}

/// One alert with its record and history (a reveal is audited first).
fn alert_json(
    s: &dyn RecordStore,
    summary: &RecordSummary,
    reveal: bool,
) -> Result<Value, ApiError> {
    if reveal {
        audit_reveal(s, summary)?;
    }
    let detail = s.show(&key_of(s, summary), reveal)?;
    to_json(&detail)
}

fn sort_alerts(out: &mut [Value]) {
    out.sort_by(|a, b| {
        let urgent = |v: &Value| v["record"]["event_kind"] == "emergency";
        urgent(b).cmp(&urgent(a)).then_with(|| {
            b["summary"]["created_at"]
                .as_str()
                .cmp(&a["summary"]["created_at"].as_str())
        })
    });
}

async fn alerts(State(api): State<Api>, Query(q): Query<AlertsQuery>) -> ApiResult {
    with_store(&api, move |s| {
        let out = open_alerts(s, q.site.as_deref(), q.reveal)?;
        Ok(Json(json!({ "alerts": out })))
    })
    .await
}

/// The longest a long poll waits.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Alerts created after the cursor (`since`, and `seen` at that very second).
fn alerts_after(s: &dyn RecordStore, q: &WaitQuery) -> Result<Vec<RecordSummary>, ApiError> {
    let filter = Filter {
        kind: Some(RecordKind::Event),
        status: None,
        site: q.site.clone(),
        limit: MAX_LIMIT,
    };
    let since = q.since.as_deref().unwrap_or("");
    let seen: Vec<&str> = q.seen.split(',').map(str::trim).collect();
    Ok(s.records(&filter, false)?
        .into_iter()
        .filter(|r| {
            r.created_at.as_str() > since
                || (r.created_at == since && !seen.contains(&key_of(s, r).as_str()))
        })
        .collect())
}

/// The answer to a long poll: the alerts, and the cursor past them.
fn wait_answer(
    s: &dyn RecordStore,
    q: &WaitQuery,
    new: &[RecordSummary],
) -> Result<Json<Value>, ApiError> {
    let mut alerts = Vec::new();
    for r in new {
        alerts.push(alert_json(s, r, q.reveal)?);
    }
    sort_alerts(&mut alerts);
    let newest = new
        .iter()
        .map(|r| r.created_at.as_str())
        .chain(q.since.as_deref())
        .max()
        .unwrap_or("")
        .to_string();
    let mut seen: Vec<String> = new
        .iter()
        .filter(|r| r.created_at == newest)
        .map(|r| key_of(s, r))
        .collect();
    if q.since.as_deref() == Some(newest.as_str()) {
        seen.extend(
            q.seen
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string),
        );
    }
    Ok(Json(
        json!({ "alerts": alerts, "since": newest, "seen": seen.join(",") }),
    ))
}

async fn alerts_wait(State(api): State<Api>, Query(q): Query<WaitQuery>) -> ApiResult {
    let wait = Duration::from_secs(q.timeout.unwrap_or(25)).min(MAX_WAIT);
    let q = Arc::new(q);
    // first call without a cursor: what is open now, and the cursor
    if q.since.is_none() {
        let q2 = q.clone();
        return with_store(&api, move |s| {
            let open = open_alerts(s, q2.site.as_deref(), q2.reveal)?;
            let all = alerts_after(s, &q2)?;
            let mut answer = wait_answer(s, &q2, &all)?;
            answer.0["alerts"] = Value::Array(open);
            Ok(answer)
        })
        .await;
    }
    // listen before looking, so nothing committed in between is missed
    let mut listener = OffThread(with_store(&api, |s| Ok(s.listen_alerts()?)).await?);
    let deadline = Instant::now() + wait;
    loop {
        let q2 = q.clone();
        let found = with_store(&api, move |s| {
            let new = alerts_after(s, &q2)?;
            if new.is_empty() {
                Ok(None)
            } else {
                wait_answer(s, &q2, &new).map(Some)
            }
        })
        .await?;
        if let Some(answer) = found {
            return Ok(answer);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let q2 = q.clone();
            return with_store(&api, move |s| wait_answer(s, &q2, &[])).await;
        }
        match listener.0.take() {
            // the centre's store: block (off the async threads, no store lock held)
            // until an alert is announced or the time is up
            Some(mut l) => {
                let (l, heard) = tokio::task::spawn_blocking(move || {
                    let heard = l.wait(left);
                    (l, heard)
                })
                .await
                .map_err(|_| {
                    ApiError(StatusCode::INTERNAL_SERVER_ERROR, "request failed".into())
                })?;
                listener.0 = Some(l);
                heard?;
            }
            None => tokio::time::sleep(left.min(ALERT_POLL)).await,
        }
    }
}

/// An alert listener dropped on the blocking pool: it owns a blocking PostgreSQL client,
/// whose own runtime must not be dropped on an async thread (the answer sent, or the
/// screen gone mid-wait).
struct OffThread(Option<AlertListener>);

impl Drop for OffThread {
    fn drop(&mut self) {
        if let Some(l) = self.0.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(h) => {
                    h.spawn_blocking(move || drop(l));
                }
                Err(_) => drop(l),
            }
        }
    }
}

#[derive(Deserialize)]
struct SiteQuery {
    site: Option<String>,
}

/// What waits to be delivered to the centre, per terminal (of one site, or all), with
/// the totals.
async fn delivery(State(api): State<Api>, Query(q): Query<SiteQuery>) -> ApiResult {
    with_store(&api, move |s| {
        let mut rows = s.delivery()?;
        if let Some(site) = q.site.as_deref().filter(|x| !x.is_empty()) {
            rows.retain(|r| r.site == site);
        }
        let waiting: u64 = rows.iter().map(|r| r.waiting).sum();
        Ok(Json(json!({
            "store": s.backend(),
            "waiting": waiting,
            "terminals": to_json(&rows)?,
        })))
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
        if kind.is_none() && q.status.is_some() {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "status needs a kind".into(),
            ));
        }
        let rows = s.records(
            &Filter {
                kind,
                status: q.status.clone(),
                site: q.site.clone(),
                limit,
            },
            q.reveal,
        )?;
        if q.reveal {
            for r in &rows {
                audit_reveal(s, r)?;
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
                audit_reveal(s, &d.summary)?;
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

/// A JSON body, or the error a client can act on: too large, or not of the shape
/// `expected`.
fn json_body<T>(
    body: Result<Json<T>, axum::extract::rejection::JsonRejection>,
    expected: &str,
) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {MAX_BODY} bytes"),
            );
        }
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("expected {expected}: {}", e.body_text()),
        )
    })
}

async fn set_status(
    State(api): State<Api>,
    UrlPath(number): UrlPath<String>,
    body: Result<Json<StatusBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let body = json_body(body, r#"{"status": "…", "note": "…"}"#)?;
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

async fn add_note(
    State(api): State<Api>,
    UrlPath(number): UrlPath<String>,
    body: Result<Json<NoteBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let body = json_body(body, r#"{"note": "…"}"#)?;
    let note = body.note.trim().to_string();
    if note.is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "the note is empty".into(),
        ));
    }
    if note.chars().count() > 500 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "note is longer than 500 characters".into(),
        ));
    }
    with_store(&api, move |s| {
        s.add_note(&number, &note)?;
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

async fn verify(State(api): State<Api>, Query(q): Query<SiteQuery>) -> ApiResult {
    with_store(&api, move |s| {
        let report = match q.site.as_deref().filter(|x| !x.is_empty()) {
            Some(site) => s.verify_site(site)?,
            None => s.verify()?,
        };
        Ok(Json(to_json(&report)?))
    })
    .await
}
