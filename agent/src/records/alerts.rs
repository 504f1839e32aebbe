//! Staff alerts: emergencies and hand-overs, where the resident is, more said about an
//! emergency. One that does not reach the store is queued in the session, retried on
//! later turns and logged at error level (masked) until it does.

use xiaoan_records::{mask, EventKind, NewEvent, Turn};

use super::{log_failure, Desk, NotFiled};
use crate::dialogue::Session;

fn transcript(s: &Session) -> Vec<Turn> {
    s.transcript
        .iter()
        .map(|t| Turn {
            who: t.who.to_string(),
            text: t.text.clone(),
        })
        .collect()
}

/// Most staff alerts a session keeps for retrying. When full, the oldest hand-over goes
/// first (an emergency only when nothing else is left), and each one dropped is logged
/// at error level with its masked summary.
pub const ALERT_QUEUE_MAX: usize = 8;

/// A staff alert that did not reach the store yet: retried on the session's later turns
/// and at its end.
#[derive(Clone, Debug)]
pub enum PendingAlert {
    /// An emergency or hand-over event not recorded yet.
    Event(NewEvent),
    /// Where the resident is, for an event that was recorded (`number`).
    Place {
        /// The event's number.
        number: String,
        /// Where, as the resident said it.
        place: String,
    },
    /// More said about a recorded emergency (`number`) that staff should know.
    Note {
        /// The event's number.
        number: String,
        /// The note.
        note: String,
    },
}

impl PendingAlert {
    fn is_emergency(&self) -> bool {
        matches!(self, PendingAlert::Event(e) if matches!(e.kind, EventKind::Emergency))
            || matches!(self, PendingAlert::Place { .. } | PendingAlert::Note { .. })
    }

    /// One masked line for the error log (what, never who).
    fn masked(&self) -> String {
        match self {
            PendingAlert::Event(e) => format!(
                "{} event, session {}: {}",
                event_kind_name(e.kind),
                e.session_id,
                mask::text(&e.summary)
            ),
            PendingAlert::Place { number, place } => {
                format!("place of event {number}: {}", mask::text(place))
            }
            PendingAlert::Note { number, note } => {
                format!("note on event {number}: {}", mask::text(note))
            }
        }
    }
}

fn event_kind_name(k: EventKind) -> &'static str {
    match k {
        EventKind::Emergency => "emergency",
        EventKind::Handoff => "handoff",
    }
}

/// An alert staff have not received: logged at error level (masked), so whoever watches
/// the terminal's log sees it even when the store is down.
fn alarm(what: &str, alert: &PendingAlert) {
    eprintln!(
        "xiaoan: ERROR: staff alert NOT RECORDED ({what}): {}",
        alert.masked()
    );
}

fn queue_alert(s: &mut Session, alert: PendingAlert) {
    alarm("queued for retry", &alert);
    if s.pending_alerts.len() >= ALERT_QUEUE_MAX {
        let drop_at = s
            .pending_alerts
            .iter()
            .position(|p| !p.is_emergency())
            .unwrap_or(0);
        let dropped = s.pending_alerts.remove(drop_at);
        alarm("retry queue full, given up", &dropped);
    }
    s.pending_alerts.push(alert);
}

fn write_alert(desk: &Desk<'_>, alert: &PendingAlert) -> Result<String, NotFiled> {
    let store = desk.store.lock().map_err(|_| NotFiled)?;
    match alert {
        PendingAlert::Event(ev) => store.record_event(ev).map(|r| r.number).map_err(|e| {
            log_failure(event_kind_name(ev.kind), &e);
            NotFiled
        }),
        PendingAlert::Place { number, place } => store
            .add_note(number, &format!("位置：{place}"))
            .map(|()| number.clone())
            .map_err(|e| {
                log_failure("event place", &e);
                NotFiled
            }),
        PendingAlert::Note { number, note } => store
            .add_note(number, note)
            .map(|()| number.clone())
            .map_err(|e| {
                log_failure("event note", &e);
                NotFiled
            }),
    }
}

fn record_or_queue(desk: &Desk<'_>, s: &mut Session, ev: NewEvent) -> Result<String, NotFiled> {
    let alert = PendingAlert::Event(ev);
    write_alert(desk, &alert).inspect_err(|_| queue_alert(s, alert))
}

/// Try the alerts that did not reach the store again, oldest first. Returns the numbers
/// of the emergencies that went through now (the resident is told).
pub fn retry_alerts<'a>(desk: impl Into<Desk<'a>>, s: &mut Session) -> Vec<String> {
    let desk = desk.into();
    if s.pending_alerts.is_empty() {
        return Vec::new();
    }
    let mut through = Vec::new();
    let mut left = Vec::new();
    for alert in std::mem::take(&mut s.pending_alerts) {
        match write_alert(&desk, &alert) {
            Ok(no) => {
                if alert.is_emergency() {
                    through.push(no.clone());
                }
                eprintln!("xiaoan: records: alert recorded on retry as {no}");
            }
            Err(NotFiled) => left.push(alert),
        }
    }
    s.pending_alerts = left;
    through
}

/// At the end of a session: one last try, and every alert still not recorded is logged
/// at error level (masked) so it is never dropped unseen. The alerts stay in the session
/// for a caller that carries them into the next one.
pub fn flush_alerts<'a>(desk: impl Into<Desk<'a>>, s: &mut Session) -> Vec<String> {
    let through = retry_alerts(desk, s);
    for alert in &s.pending_alerts {
        alarm("still failing at the end of the session", alert);
    }
    through
}

/// Record an emergency event for staff. Returns its ticket number; on a store failure
/// the event is queued for retrying and the caller tells the resident the truth.
pub fn emergency<'a>(
    desk: impl Into<Desk<'a>>,
    s: &mut Session,
    said: &str,
) -> Result<String, NotFiled> {
    let ev = NewEvent {
        kind: EventKind::Emergency,
        summary: said.chars().take(80).collect(),
        transcript: transcript(s),
        wait_at: None,
        needs: None,
        session_id: s.id.clone(),
    };
    record_or_queue(&desk.into(), s, ev)
}

/// Where the resident is, attached to the emergency `number` (an evidence note staff
/// see on the event), or to the queued event when it was not recorded yet. `Ok` only
/// when it reached the store.
pub fn emergency_place<'a>(
    desk: impl Into<Desk<'a>>,
    s: &mut Session,
    number: Option<&str>,
    place: &str,
) -> Result<(), NotFiled> {
    match number {
        Some(no) => {
            let alert = PendingAlert::Place {
                number: no.to_string(),
                place: place.to_string(),
            };
            write_alert(&desk.into(), &alert)
                .map(|_| ())
                .inspect_err(|_| queue_alert(s, alert))
        }
        None => {
            let queued = s.pending_alerts.iter_mut().rev().find_map(|p| match p {
                PendingAlert::Event(e) if matches!(e.kind, EventKind::Emergency) => Some(e),
                _ => None,
            });
            if let Some(ev) = queued {
                ev.wait_at = Some(place.to_string());
                ev.summary = format!("{}（位置：{place}）", ev.summary)
                    .chars()
                    .take(120)
                    .collect();
            }
            Err(NotFiled)
        }
    }
}

/// More said about a recorded emergency (another kind of danger named), as a note
/// staff see on the event; queued for retrying when the store fails.
pub fn emergency_note<'a>(desk: impl Into<Desk<'a>>, s: &mut Session, number: &str, note: &str) {
    let alert = PendingAlert::Note {
        number: number.to_string(),
        note: note.to_string(),
    };
    if write_alert(&desk.into(), &alert).is_err() {
        queue_alert(s, alert);
    }
}

/// A hand-over ticket with the conversation so far; on a store failure it is queued for
/// retrying and the caller tells the resident the truth.
pub fn handoff<'a>(
    desk: impl Into<Desk<'a>>,
    s: &mut Session,
    wait_at: &str,
) -> Result<String, NotFiled> {
    let last = s
        .transcript
        .iter()
        .rev()
        .find(|t| t.who == "resident")
        .map(|t| t.text.clone())
        .unwrap_or_default();
    let ev = NewEvent {
        kind: EventKind::Handoff,
        summary: last.chars().take(80).collect(),
        transcript: transcript(s),
        wait_at: Some(wait_at.into()),
        needs: None,
        session_id: s.id.clone(),
    };
    record_or_queue(&desk.into(), s, ev)
}
