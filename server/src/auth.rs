//! The staff token: how strong it must be, where it comes from, the check before every
//! guarded route, and the lock-out of a client that keeps sending wrong ones. Also the
//! rule on which addresses may be bound (plain HTTP on loopback only).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, Error, Result};

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

/// The token and the wrong-token counts, shared by every request.
#[derive(Clone)]
pub(crate) struct Auth {
    token: Arc<String>,
    failures: Arc<Mutex<Failures>>,
}

impl Auth {
    pub(crate) fn new(token: String) -> Auth {
        Auth {
            token: Arc::new(token),
            failures: Arc::new(Mutex::new(Failures::default())),
        }
    }
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
pub fn check_token(token: &str) -> Result<()> {
    let bits = token_bits(token);
    if bits < MIN_TOKEN_BITS {
        return Err(Error::WeakToken { bits });
    }
    Ok(())
}

/// Read the token from the environment: present and strong enough ([`check_token`]).
pub fn token_from_env() -> Result<String> {
    match std::env::var(TOKEN_ENV) {
        Ok(t) => {
            let t = t.trim().to_string();
            check_token(&t)?;
            Ok(t)
        }
        Err(_) => Err(Error::NoToken),
    }
}

/// Check the address to listen on: with TLS any address; without it loopback only,
/// unless `insecure` (the staff token, device tokens and residents' speech and personal
/// data would cross the network in clear). Returns the warning to print loudly when a
/// non-loopback address is allowed without TLS.
pub fn check_bind(addr: SocketAddr, tls: bool, insecure: bool) -> Result<Option<String>> {
    if tls || addr.ip().is_loopback() {
        return Ok(None);
    }
    if !insecure {
        return Err(Error::ExposedBind { addr });
    }
    Ok(Some(format!(
        "WARNING: xiaoan serve listens on {addr} WITHOUT TLS (--insecure-bind): the staff token, terminals' device tokens, residents' speech and personal data cross the network unencrypted, and browsers refuse the microphone to a page that is not secure"
    )))
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
pub(crate) async fn guard(State(api): State<Auth>, req: Request, next: Next) -> Response {
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
