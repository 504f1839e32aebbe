//! The HTTP server of a Xiao'an terminal (`xiaoan serve`). Today it serves the staff
//! API: what the centre's staff screen reads.
//!
//! A small HTTP/JSON service over the records store. Every route but `/api/health` needs
//! the staff token (`Authorization: Bearer <XIAOAN_STAFF_TOKEN>`); personal data is masked
//! unless the request asks for `?reveal=true`, and each reveal is written to the evidence
//! chain (who looked is staff by token; what was looked at is the record number).
//!
//! | route | what |
//! | --- | --- |
//! | `GET /kiosk/` | the kiosk page and its files, built in (no token: the page takes its device token from the URL fragment) |
//! | `GET /api/health` | liveness and schema version (no token, no personal data); 503 with the reason when the store is read-only or unreadable |
//! | `GET /api/alerts?site=` | open and acknowledged emergencies and hand-overs, newest first |
//! | `GET /api/alerts/wait?since=&seen=&timeout=&site=` | long poll: alerts raised after the cursor, at once or as soon as one is (LISTEN/NOTIFY on the centre's store, a re-read every `ALERT_POLL` on a file) |
//! | `GET /api/records?kind=&status=&site=&limit=` | listing |
//! | `GET /api/records/{number}` | one record with its evidence history |
//! | `POST /api/records/{number}/status` | `{"status": "...", "note": "..."}`; 409 for a move the record's status does not allow (a closed alert reopened); the same status again changes nothing |
//! | `POST /api/records/{number}/note` | `{"note": "..."}` (1-500 characters): a staff note in the evidence chain, shown masked unless revealed |
//! | `GET /api/follow-ups` | mediation cases whose 48-hour call is due |
//! | `GET /api/queue` | queue status |
//! | `GET /api/verify?site=` | check the evidence chain, against its signed anchor too (deleted or forged entries); on the centre's store every terminal's chain, or one site's |
//! | `GET /api/delivery?site=` | what waits to be delivered to the centre, per terminal: live from a terminal's outbox, or at the centre as each terminal last reported it |
//!
//! The store is a terminal's SQLite file or, with `[store] url`, the centre's PostgreSQL
//! (every site and terminal: `?site=` narrows; a number two terminals hold is named
//! `terminal:number`).
//!
//! The store is SQLite in WAL mode, so the API and a running agent share the file: the
//! agent writes, the API reads and records staff status changes.
//!
//! Hardening: the token must carry at least [`MIN_TOKEN_BITS`] bits by a conservative
//! estimate ([`token_bits`]); HTTPS/WSS with the centre's certificate ([`tls`]), and
//! without TLS only a loopback address is bound unless `--insecure-bind`; a client
//! address that sends [`MAX_FAILURES`] wrong tokens within [`FAILURE_WINDOW`] gets 429
//! with `Retry-After` (logged without the token); the token is checked before any
//! parameter is parsed; TLS handshakes and headers must arrive within
//! [`HEADER_TIMEOUT`], a connection lives at most [`CONNECTION_LIFETIME`] and at most
//! [`MAX_CONNECTIONS`] are served at once; bodies over [`MAX_BODY`] bytes get 413.
//!
//! Layout: [`router`] joins the route sets, each in its own module behind its own check:
//! `staff.rs` (the staff API below); a terminal's WebSocket route would sit beside it in
//! a `terminal.rs`. `auth.rs` holds the token rules, `serve.rs` the accept loop. Every
//! SQLite call runs on tokio's blocking pool (`spawn_blocking`), never on the threads
//! that accept connections, so a slow database never stalls the accept loop.
//!
//! ```no_run
//! # async fn run() -> Result<(), xiaoan_server::Error> {
//! let listen = xiaoan_server::Listen::plain("127.0.0.1:8750".parse().unwrap());
//! let token = xiaoan_server::token_from_env()?;
//! xiaoan_server::serve(listen, std::path::Path::new("records.db"), token).await?;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod auth;
mod error;
mod kiosk;
mod registry;
mod serve;
mod staff;
pub mod terminal;
pub mod tls;

use std::sync::{Arc, Mutex};

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::Router;
use xiaoan_records::RecordStore;

pub use auth::{
    check_bind, check_token, token_bits, token_from_env, FAILURE_WINDOW, MAKE_TOKEN, MAX_FAILURES,
    MIN_TOKEN_BITS, TOKEN_ENV,
};
pub use error::{Error, Result};
pub use registry::{
    check_id, last_seen, registry_path, seen_path, LiveRegistry, Registry, RegistryError, Terminal,
    TerminalInfo, PROFILES, REGISTRY_FILE, SEEN_FILE,
};
pub use serve::{
    open_records, open_store, serve, serve_app, serve_listener, serve_listener_tls, Listen,
    CONNECTION_LIFETIME, HEADER_TIMEOUT, MAX_CONNECTIONS,
};
pub use staff::MAX_BODY;

use error::ApiError;

/// Every route over an open store (a terminal's file or the centre's PostgreSQL), the
/// staff token guarding all but `/api/health` (without the terminals' WebSocket route:
/// see [`app`]).
pub fn router<S: RecordStore + 'static>(store: S, token: String) -> Router {
    app(Box::new(store), token, None)
}

/// Every route, with the terminals' WebSocket route (`/ws/terminal`, checked by device
/// token at its `hello`) when `terminals` is given. The staff routes read `store`: the
/// store `[store] url` names, chosen at run time ([`open_records`]).
pub fn app(
    store: Box<dyn RecordStore>,
    token: String,
    terminals: Option<Arc<terminal::Terminals>>,
) -> Router {
    let store = Arc::new(Mutex::new(store));
    let auth = auth::Auth::new(token);
    let mut routes = Router::new()
        .merge(staff::routes(store, auth))
        .merge(kiosk::routes());
    if let Some(t) = terminals {
        routes = routes.merge(terminal::routes(t));
    }
    routes
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such route".into()) })
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

#[cfg(test)]
mod test_server;
#[cfg(test)]
mod tests;
