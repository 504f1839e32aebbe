//! Per-resident session state.

use serde::Serialize;

use super::flows::Flow;
use super::reply::Reply;

/// How the session's dialect was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DialectSource {
    /// Nothing chosen yet: identified from the first utterance.
    Auto,
    /// The terminal's configured default.
    Configured,
    /// Identified from what the resident said.
    Identified,
    /// The resident asked for it ("我讲上海话").
    Resident,
}

/// One line of the conversation, kept for the staff hand-over ticket.
#[derive(Clone, Debug, Serialize)]
pub struct Turn {
    /// Who spoke: `resident` or `xiaoan`.
    pub who: &'static str,
    /// What was said.
    pub text: String,
}

/// Everything per resident: dialect mode, speech settings, flow state, last reply.
#[derive(Debug)]
pub struct Session {
    /// Random id, also written on records filed in this session.
    pub id: String,
    /// Dialect code in use (adapter and voice); `None` = not known yet (Mandarin).
    pub dialect: Option<String>,
    /// How the dialect was chosen.
    pub dialect_source: DialectSource,
    /// Speaking rate in words per minute.
    pub rate_wpm: u32,
    /// Volume, 1.0 = normal.
    pub volume: f32,
    /// The current flow and what it waits for.
    pub flow: Flow,
    /// The last reply, for "再说一遍".
    pub last_reply: Option<Reply>,
    /// The conversation so far (for a hand-over to staff).
    pub transcript: Vec<Turn>,
    /// Silence prompts given since the resident last spoke.
    pub silence_prompts: u32,
    /// The resident asked for more time: the next time-out is doubled.
    pub more_time: bool,
    /// The session has ended.
    pub ended: bool,
    /// The appointment booked in this session, so "改一下时间" needs no number.
    pub last_appointment: Option<String>,
    /// The resident has been told that replies come in Mandarin (their dialect has no
    /// verified voice).
    pub told_mandarin_voice: bool,
    /// Staff alerts (emergencies, hand-overs) whose store write failed: retried on every
    /// later turn and at the session's end, never dropped without an error in the log.
    pub pending_alerts: Vec<crate::records::PendingAlert>,
    /// The last number the resident was given (receipt, case, ticket) and what it is
    /// for, so "回执号是多少" can read it again.
    pub last_number: Option<(String, String)>,
    /// The question asked last and how many times in a row it has been asked (a
    /// resident is never asked the same thing more than three times running).
    pub asked: Option<(String, u32)>,
}

/// Slowest and fastest speaking rates residents can reach (words per minute).
pub const RATE_MIN: u32 = 80;
/// See [`RATE_MIN`].
pub const RATE_MAX: u32 = 240;
/// Step of one "slower"/"faster" request.
pub const RATE_STEP: u32 = 25;
/// Volume limits and step.
pub const VOLUME_MIN: f32 = 0.4;
/// See [`VOLUME_MIN`].
pub const VOLUME_MAX: f32 = 2.0;
/// See [`VOLUME_MIN`].
pub const VOLUME_STEP: f32 = 0.3;

impl Session {
    /// A fresh session with the given speech settings and dialect mode.
    pub fn new(rate_wpm: u32, volume: f32, dialect: Option<String>) -> Session {
        let source = if dialect.is_some() {
            DialectSource::Configured
        } else {
            DialectSource::Auto
        };
        Session {
            id: new_session_id(),
            dialect,
            dialect_source: source,
            rate_wpm,
            volume,
            flow: Flow::Idle,
            last_reply: None,
            transcript: Vec::new(),
            silence_prompts: 0,
            more_time: false,
            ended: false,
            last_appointment: None,
            told_mandarin_voice: false,
            pending_alerts: Vec::new(),
            last_number: None,
            asked: None,
        }
    }

    /// The dialect code in use, Mandarin when none is known.
    pub fn dialect_code(&self) -> &str {
        self.dialect.as_deref().unwrap_or("cmn")
    }
}

fn new_session_id() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("s{:x}{:04x}", nanos, std::process::id() & 0xffff)
}
