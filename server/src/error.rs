//! Errors of the server: what stops it from starting or serving ([`Error`]), and a failed
//! request as the client sees it (`ApiError`).

use std::net::SocketAddr;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use xiaoan_records::StoreError;

use crate::auth::{MAKE_TOKEN, MIN_TOKEN_BITS, TOKEN_ENV};

/// What can stop the server from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A non-loopback address without TLS and without `--insecure-bind`.
    #[error(
        "refusing to listen on {addr} without TLS: the staff token, device tokens and residents' data would cross the network unencrypted, and browsers refuse the microphone to an insecure page. \
         Pass --tls-cert and --tls-key (`xiaoan certs local` makes a test certificate), or listen on 127.0.0.1, or pass --insecure-bind if this network is trusted"
    )]
    ExposedBind {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The staff token is not set in the environment.
    #[error("set {TOKEN_ENV} to the staff token before starting xiaoan serve (it serves the staff API too): make one with `{MAKE_TOKEN}`")]
    NoToken,
    /// The staff token is guessable.
    #[error("{TOKEN_ENV} is too weak (about {bits:.0} bits; at least {MIN_TOKEN_BITS:.0} needed): make one with `{MAKE_TOKEN}`")]
    WeakToken {
        /// Its strength by [`crate::token_bits`].
        bits: f64,
    },
    /// The address could not be bound (in use, not ours, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The records store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The terminal registry could not be read or changed.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// A task the server waits on stopped before finishing (a panic on the blocking pool,
    /// the runtime shutting down).
    #[error("the server stopped while {0}")]
    Stopped(&'static str),
}

/// Result with the server's error.
pub type Result<T> = std::result::Result<T, Error>;

/// A failure as the client sees it: a status and a short JSON message.
pub(crate) struct ApiError(pub(crate) StatusCode, pub(crate) String);

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
