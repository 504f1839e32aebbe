//! The terminals' WebSocket route, `GET /ws/terminal` (`docs/terminal-protocol.md`):
//! one connection is one resident session.
//!
//! This file is a thin adapter over the agent's conversation core
//! ([`xiaoan_agent::conversation`]): it checks the `hello` and the limits, and moves
//! frames between the socket and the session. Each session runs on tokio's blocking pool
//! (recognition and synthesis never run on the async threads); its recogniser's decodes
//! go through the server's one [`DecodeScheduler`](xiaoan_agent::conversation::DecodeScheduler)
//! (finals before partials). Reply sentences are sent as each is synthesised, so the
//! first plays while the rest are made.
//!
//! ```text
//!  socket ─► (async) size, JSON, hello ─► channel ─► (blocking pool) Conversation
//!  socket ◄─ (async) JSON events + PCM16 ◄─ channel ◄─┘
//! ```
//!
//! Logs name the terminal and the session, never what was said or typed.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio::sync::mpsc::UnboundedSender;
use xiaoan_agent::conversation::protocol::{
    from_pcm16_le, MAX_AUDIO_FRAME, MAX_TEXT_FRAME, PROTOCOL_VERSION, SAMPLE_RATE_IN,
    SAMPLE_RATE_OUT,
};
use xiaoan_agent::conversation::{
    dialect_named, profile_named, ClientMessage, Conversation, ErrorCode, Event, Finish,
    SessionOptions, Shared,
};

use crate::registry::{LiveRegistry, Registry, TerminalInfo};

/// The route's path.
pub const PATH: &str = "/ws/terminal";
/// How long a new connection has to send its `hello`.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// Open sessions one terminal may hold (a page reload may briefly hold two).
pub const PER_TERMINAL: usize = 2;
/// How often a session's clock ticks while nothing arrives.
const TICK: Duration = Duration::from_millis(100);
/// Audio frames waiting for a busy session before further ones are dropped (about 25 s
/// of 100 ms frames).
const INPUT_QUEUE: usize = 256;
/// The largest frame the socket itself reads; larger ones than the protocol allows are
/// answered with `frame_too_large` up to this size, and cut off beyond it.
const SOCKET_MAX: usize = 1 << 20;

/// Who a device token belongs to: the registry, or a stand-in in tests.
pub trait TokenCheck: Send + Sync {
    /// The terminal `token` belongs to, if it is valid.
    fn check(&self, token: &str) -> Option<TerminalInfo>;
}

impl TokenCheck for LiveRegistry {
    fn check(&self, token: &str) -> Option<TerminalInfo> {
        LiveRegistry::check(self, token)
    }
}

impl TokenCheck for Registry {
    fn check(&self, token: &str) -> Option<TerminalInfo> {
        Registry::check(self, token)
    }
}

/// The limits of the route.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Time for the `hello`.
    pub hello: Duration,
    /// Open sessions per terminal.
    pub per_terminal: usize,
    /// Open sessions in all.
    pub sessions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hello: HELLO_TIMEOUT,
            per_terminal: PER_TERMINAL,
            sessions: 32,
        }
    }
}

/// Everything the route needs: the loaded agent, recogniser and voice, the token check,
/// the limits and the sessions open now.
pub struct Terminals {
    shared: Arc<Shared>,
    tokens: Arc<dyn TokenCheck>,
    limits: Limits,
    open: Mutex<HashMap<String, usize>>,
}

impl Terminals {
    /// The route over loaded parts.
    pub fn new(shared: Arc<Shared>, tokens: Arc<dyn TokenCheck>, limits: Limits) -> Terminals {
        Terminals {
            shared,
            tokens,
            limits,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The shared parts (benchmarks read the scheduler's counts).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Take a session slot for `terminal`, or say why not.
    fn reserve(self: &Arc<Self>, terminal: &str) -> Result<Slot, ErrorCode> {
        let mut open = self.open.lock().map_err(|_| ErrorCode::Internal)?;
        let total: usize = open.values().sum();
        if total >= self.limits.sessions {
            return Err(ErrorCode::Busy);
        }
        let n = open.entry(terminal.to_string()).or_insert(0);
        if *n >= self.limits.per_terminal {
            return Err(ErrorCode::TooManyConnections);
        }
        *n += 1;
        Ok(Slot {
            terminals: self.clone(),
            terminal: terminal.to_string(),
        })
    }
}

/// A taken session slot, given back when dropped.
struct Slot {
    terminals: Arc<Terminals>,
    terminal: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.terminals.open.lock() {
            if let Some(n) = open.get_mut(&self.terminal) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&self.terminal);
                }
            }
        }
    }
}

/// The route, to merge into the server's router.
pub fn routes(terminals: Arc<Terminals>) -> Router {
    Router::new()
        .route(PATH, get(upgrade))
        .with_state(terminals)
}

async fn upgrade(State(t): State<Arc<Terminals>>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(SOCKET_MAX)
        .max_frame_size(SOCKET_MAX)
        .on_upgrade(move |socket| connection(t, socket))
}

/// What the socket side gives the session.
enum Input {
    Audio(Vec<f32>),
    Message(ClientMessage),
}

/// What the session gives the socket side.
enum Output {
    Event(Event),
    Close(u16),
}

/// One connection, from the `hello` to the close.
async fn connection(t: Arc<Terminals>, mut socket: WebSocket) {
    let (info, opts) = match hello(&t, &mut socket).await {
        Ok(x) => x,
        Err(code) => {
            refuse(&mut socket, code, true).await;
            return;
        }
    };
    let _slot = match t.reserve(&info.id) {
        Ok(s) => s,
        Err(code) => {
            refuse(&mut socket, code, false).await;
            return;
        }
    };
    let (in_tx, in_rx) = std::sync::mpsc::sync_channel::<Input>(INPUT_QUEUE);
    let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel::<Output>();
    let shared = t.shared.clone();
    let terminal = info.id.clone();
    let worker =
        tokio::task::spawn_blocking(move || run_session(&shared, &terminal, opts, in_rx, out_tx));
    loop {
        tokio::select! {
            out = out_rx.recv() => match out {
                Some(Output::Event(e)) => {
                    if send_event(&mut socket, &e).await.is_err() {
                        break;
                    }
                }
                Some(Output::Close(code)) => {
                    close(&mut socket, code).await;
                    break;
                }
                None => break,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    if b.len() > MAX_AUDIO_FRAME {
                        refuse(&mut socket, ErrorCode::FrameTooLarge, false).await;
                        break;
                    }
                    match in_tx.try_send(Input::Audio(from_pcm16_le(&b))) {
                        Ok(()) | Err(TrySendError::Full(_)) => {}
                        Err(TrySendError::Disconnected(_)) => break,
                    }
                }
                Some(Ok(Message::Text(text))) => {
                    if text.len() > MAX_TEXT_FRAME {
                        refuse(&mut socket, ErrorCode::FrameTooLarge, false).await;
                        break;
                    }
                    match ClientMessage::parse(text.as_str()) {
                        Ok(ClientMessage::Hello { .. }) | Err(_) => {
                            if send_event(&mut socket, &ErrorCode::BadMessage.event()).await.is_err() {
                                break;
                            }
                        }
                        Ok(m) => {
                            // a control message is never dropped: wait for room
                            let tx = in_tx.clone();
                            let sent = tokio::task::spawn_blocking(move || tx.send(Input::Message(m))).await;
                            if !matches!(sent, Ok(Ok(()))) {
                                break;
                            }
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {} // ping and pong are answered by the socket
            },
        }
    }
    // the session sees its input close and ends
    drop(in_tx);
    let _ = worker.await;
}

/// Wait for the `hello` and check it: the terminal and the session's options.
async fn hello(
    t: &Arc<Terminals>,
    socket: &mut WebSocket,
) -> Result<(TerminalInfo, SessionOptions), ErrorCode> {
    let first = match tokio::time::timeout(t.limits.hello, socket.recv()).await {
        Err(_) => return Err(ErrorCode::Idle),
        Ok(Some(Ok(m))) => m,
        Ok(_) => return Err(ErrorCode::BadMessage),
    };
    let text = match first {
        Message::Text(text) if text.len() <= MAX_TEXT_FRAME => text,
        Message::Text(_) => return Err(ErrorCode::FrameTooLarge),
        Message::Binary(b) if b.len() > MAX_AUDIO_FRAME => return Err(ErrorCode::FrameTooLarge),
        _ => return Err(ErrorCode::BadMessage),
    };
    let Ok(ClientMessage::Hello {
        token,
        profile,
        dialect,
        ..
    }) = ClientMessage::parse(text.as_str())
    else {
        return Err(ErrorCode::BadMessage);
    };
    // the registry may read its file again: off the async threads
    let tokens = t.tokens.clone();
    let info = tokio::task::spawn_blocking(move || tokens.check(&token))
        .await
        .map_err(|_| ErrorCode::Internal)?
        .ok_or(ErrorCode::Unauthorized)?;
    // the registered profile wins over the one the page names
    let profile =
        profile_named(&info.profile).or_else(|| profile.as_deref().and_then(profile_named));
    let dialect = match dialect.as_deref().map(dialect_named) {
        None => None,
        Some(Ok(d)) => d,
        Some(Err(())) => return Err(ErrorCode::BadMessage),
    };
    let device = Some(info.id.clone());
    Ok((
        info,
        SessionOptions {
            profile,
            dialect,
            device,
        },
    ))
}

/// One session on the blocking pool: inputs in, events out, until it finishes or the
/// terminal goes away.
fn run_session(
    shared: &Shared,
    terminal: &str,
    opts: SessionOptions,
    input: Receiver<Input>,
    out: UnboundedSender<Output>,
) {
    let quiet = Conversation::quiet_flag();
    let rec = shared.session_recognizer(quiet.clone());
    let emit = |e: Event| {
        let _ = out.send(Output::Event(e));
    };
    let mut conv = match Conversation::new(shared, &rec, quiet, opts, Instant::now()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("xiaoan serve: terminal {terminal}: the session could not start: {e}");
            emit(ErrorCode::Internal.event());
            let _ = out.send(Output::Close(1011));
            return;
        }
    };
    eprintln!(
        "xiaoan serve: terminal {terminal}: session {} opened",
        conv.session_id()
    );
    emit(Event::Ready {
        session: conv.session_id().to_string(),
        terminal: terminal.to_string(),
        protocol: PROTOCOL_VERSION,
        sample_rate_in: SAMPLE_RATE_IN,
        sample_rate_out: SAMPLE_RATE_OUT,
    });
    conv.start(Instant::now(), &mut |e| emit(e));
    let why = loop {
        if let Some(f) = conv.finished() {
            break Some(f);
        }
        // everything that arrived first (a barge-in drops the sentences not yet made),
        // then one sentence, or a wait for input
        let mut gone = false;
        let step = |m: Input, conv: &mut Conversation<'_>| {
            let now = Instant::now();
            match m {
                Input::Audio(a) => conv.push_audio(&a, now, &mut |e| emit(e)),
                Input::Message(m) => conv.push_message(m, now, &mut |e| emit(e)),
            }
        };
        let first = if conv.has_speech() {
            match input.try_recv() {
                Ok(m) => Some(m),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => {
                    gone = true;
                    None
                }
            }
        } else {
            match input.recv_timeout(TICK) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    gone = true;
                    None
                }
            }
        };
        if gone {
            break None;
        }
        let mut result = Ok(());
        if let Some(m) = first {
            result = step(m, &mut conv);
            while result.is_ok() {
                match input.try_recv() {
                    Ok(m) => result = step(m, &mut conv),
                    Err(_) => break,
                }
            }
        }
        if result.is_ok() {
            conv.tick(Instant::now(), &mut |e| emit(e));
            if conv.has_speech() && conv.finished().is_none() {
                result = conv
                    .speak_next(Instant::now(), &mut |e| emit(e))
                    .map(|_| ());
            }
        }
        if let Err(e) = result {
            eprintln!(
                "xiaoan serve: terminal {terminal}: session {} failed: {e}",
                conv.session_id()
            );
            emit(ErrorCode::Internal.event());
            break Some(Finish::Error(ErrorCode::Internal));
        }
    };
    let code = match why {
        Some(Finish::Normal) => Some(1000),
        Some(Finish::Error(c)) => c.close_code(false),
        None => None,
    };
    eprintln!(
        "xiaoan serve: terminal {terminal}: session {} closed ({})",
        conv.session_id(),
        match why {
            Some(Finish::Normal) => "ended",
            Some(Finish::Error(_)) => "error",
            None => "terminal went away",
        }
    );
    if let Some(code) = code {
        let _ = out.send(Output::Close(code));
    }
}

async fn send_event(socket: &mut WebSocket, e: &Event) -> Result<(), axum::Error> {
    socket.send(Message::Text(e.to_json().into())).await?;
    if let Some(pcm) = e.audio_frame() {
        socket.send(Message::Binary(pcm.into())).await?;
    }
    Ok(())
}

/// The error event, then the close its code calls for.
async fn refuse(socket: &mut WebSocket, code: ErrorCode, before_hello: bool) {
    let _ = send_event(socket, &code.event()).await;
    if let Some(c) = code.close_code(before_hello) {
        close(socket, c).await;
    }
}

async fn close(socket: &mut WebSocket, code: u16) {
    let reason = match code {
        1000 => "bye",
        4400 => "bad_message",
        4401 => "unauthorized",
        4408 => "idle",
        4410 => "session_too_long",
        4413 => "frame_too_large",
        4429 => "too_many_connections",
        4503 => "busy",
        _ => "internal",
    };
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

#[cfg(test)]
mod tests;
