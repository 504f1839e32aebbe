//! The staff API's routes: alerts, listings, one record, status changes, follow-ups, the
//! queue and the chain check. Each handler's store work runs on the blocking pool
//! ([`with_store`]).

use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use xiaoan_records::{RecordKind, Store};

use crate::auth::{guard, Auth};
use crate::error::ApiError;

/// Largest request body (a status change with a 500-character note is well under 4 KiB).
pub const MAX_BODY: usize = 16 * 1024;
/// Most records one listing returns.
const MAX_LIMIT: usize = 500;

/// Shared by every staff request.
#[derive(Clone)]
struct Api {
    store: Arc<Mutex<Store>>,
}

type ApiResult = Result<Json<Value>, ApiError>;

/// The staff routes over the shared store: `/api/health` open, the rest behind the token
/// check ([`guard`]), which runs before any extractor parses a path, query or body.
pub(crate) fn routes(store: Arc<Mutex<Store>>, auth: Auth) -> Router {
    let api = Api { store };
    let guarded = Router::new()
        .route("/api/alerts", get(alerts))
        .route("/api/records", get(list))
        .route("/api/records/{number}", get(show))
        .route("/api/records/{number}/status", post(set_status))
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
