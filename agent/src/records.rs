//! The dialogue's side of the records store: turns what a flow collected into store
//! records. A store failure is never hidden: the caller tells the resident nothing was
//! filed and keeps what they said.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime, NaiveTime};

use crate::dialogue::{Agent, Session};
use crate::forms::MediatorOffer;
use crate::store::{
    self, Booking, Contact, EventKind, FeedbackKind, FieldValue, NewAppointment, NewCase, NewDraft,
    NewEvent, NewFeedback, NewFiling,
};

fn transcript(s: &Session) -> Vec<store::Turn> {
    s.transcript
        .iter()
        .map(|t| store::Turn {
            who: t.who.to_string(),
            text: t.text.clone(),
        })
        .collect()
}

fn log_failure(what: &str, e: &dyn std::fmt::Display) {
    // no personal data here: the error names the operation and the database reason only
    eprintln!("xiaoan: records: {what} failed: {e}");
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
                store::mask::text(&e.summary)
            ),
            PendingAlert::Place { number, place } => {
                format!("place of event {number}: {}", store::mask::text(place))
            }
            PendingAlert::Note { number, note } => {
                format!("note on event {number}: {}", store::mask::text(note))
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

fn write_alert(a: &Agent, alert: &PendingAlert) -> Result<String, NotFiled> {
    let store = a.store.lock().map_err(|_| NotFiled)?;
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

fn record_or_queue(a: &Agent, s: &mut Session, ev: NewEvent) -> Result<String, NotFiled> {
    let alert = PendingAlert::Event(ev);
    write_alert(a, &alert).inspect_err(|_| queue_alert(s, alert))
}

/// Try the alerts that did not reach the store again, oldest first. Returns the numbers
/// of the emergencies that went through now (the resident is told).
pub fn retry_alerts(a: &Agent, s: &mut Session) -> Vec<String> {
    if s.pending_alerts.is_empty() {
        return Vec::new();
    }
    let mut through = Vec::new();
    let mut left = Vec::new();
    for alert in std::mem::take(&mut s.pending_alerts) {
        match write_alert(a, &alert) {
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
pub fn flush_alerts(a: &Agent, s: &mut Session) -> Vec<String> {
    let through = retry_alerts(a, s);
    for alert in &s.pending_alerts {
        alarm("still failing at the end of the session", alert);
    }
    through
}

/// Record an emergency event for staff. Returns its ticket number; on a store failure
/// the event is queued for retrying and the caller tells the resident the truth.
pub fn emergency(a: &Agent, s: &mut Session, said: &str) -> Result<String, NotFiled> {
    let ev = NewEvent {
        kind: EventKind::Emergency,
        summary: said.chars().take(80).collect(),
        transcript: transcript(s),
        wait_at: None,
        needs: None,
        session_id: s.id.clone(),
    };
    record_or_queue(a, s, ev)
}

/// Where the resident is, attached to the emergency `number` (an evidence note staff
/// see on the event), or to the queued event when it was not recorded yet. `Ok` only
/// when it reached the store.
pub fn emergency_place(
    a: &Agent,
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
            write_alert(a, &alert)
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
pub fn emergency_note(a: &Agent, s: &mut Session, number: &str, note: &str) {
    let alert = PendingAlert::Note {
        number: number.to_string(),
        note: note.to_string(),
    };
    if write_alert(a, &alert).is_err() {
        queue_alert(s, alert);
    }
}

/// A hand-over ticket with the conversation so far; on a store failure it is queued for
/// retrying and the caller tells the resident the truth.
pub fn handoff(a: &Agent, s: &mut Session, wait_at: &str) -> Result<String, NotFiled> {
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
    record_or_queue(a, s, ev)
}

/// Minutes a window takes per resident on average (for the waiting-time estimate).
const MINUTES_PER_RESIDENT: u32 = 6;

/// Residents waiting and the estimated minutes.
pub fn queue(a: &Agent) -> (u32, u32) {
    let Ok(store) = a.store.lock() else {
        return (0, 0);
    };
    match store.queue_status(None) {
        Ok(q) => (q.waiting, q.waiting * MINUTES_PER_RESIDENT),
        Err(e) => {
            log_failure("queue status", &e);
            (0, 0)
        }
    }
}

/// Record a complaint, praise or snapshot report.
pub fn feedback(a: &Agent, s: &Session, said: &str) -> Option<String> {
    let kind = if ["表扬", "感谢", "谢谢", "满意", "好评", "点赞"]
        .iter()
        .any(|w| said.contains(w))
    {
        FeedbackKind::Praise
    } else if ["坏了", "没人修", "垃圾", "乱停", "随手拍", "漏", "堵"]
        .iter()
        .any(|w| said.contains(w))
    {
        FeedbackKind::Snapshot
    } else {
        FeedbackKind::Complaint
    };
    let f = NewFeedback {
        kind,
        text: said.to_string(),
        place: None,
        service_id: None,
        rating: None,
        contact: Contact::default(),
        session_id: s.id.clone(),
    };
    let store = a.store.lock().ok()?;
    match store.record_feedback(&f) {
        Ok(n) => Some(n),
        Err(e) => {
            log_failure("feedback", &e);
            None
        }
    }
}

fn field_values(a: &Agent, form_id: &str, values: &BTreeMap<String, String>) -> Vec<FieldValue> {
    let fields = if form_id == "mediation" {
        a.mediation.fields.as_slice()
    } else {
        a.forms
            .get(form_id)
            .map(|f| f.fields.as_slice())
            .unwrap_or(&[])
    };
    fields
        .iter()
        .filter_map(|f| {
            values
                .get(&f.name)
                .filter(|v| !v.is_empty())
                .map(|v| FieldValue {
                    name: f.name.clone(),
                    label: f.label.clone(),
                    kind: f.kind,
                    value: v.clone(),
                })
        })
        .collect()
}

/// A filing that did not reach the store (the reason was logged, masked): nothing was
/// filed, and the resident is told so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotFiled;

/// File a declaration in one transaction. Returns the receipt number.
pub fn file_declaration(
    a: &Agent,
    s: &Session,
    form_id: &str,
    values: &BTreeMap<String, String>,
) -> Result<String, NotFiled> {
    let form = a.forms.get(form_id).ok_or(NotFiled)?;
    let answers: Vec<(String, String)> = values
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let filing = NewFiling::from_form(form, &answers, &s.id, a.today());
    let store = a.store.lock().map_err(|_| NotFiled)?;
    store
        .file_declaration(&filing)
        .map(|r| r.number)
        .map_err(|e| {
            log_failure("declaration filing", &e);
            NotFiled
        })
}

/// Keep a half-filled form for staff.
pub fn draft(
    a: &Agent,
    s: &Session,
    form_id: &str,
    values: &BTreeMap<String, String>,
    reason: &str,
) -> Option<String> {
    let d = NewDraft {
        form_id: form_id.to_string(),
        fields: field_values(a, form_id, values),
        reason: reason.to_string(),
        session_id: s.id.clone(),
    };
    let store = a.store.lock().ok()?;
    match store.save_draft(&d) {
        Ok(n) => Some(n),
        Err(e) => {
            log_failure("draft", &e);
            None
        }
    }
}

fn now_local() -> NaiveDateTime {
    chrono::Local::now().naive_local()
}

/// The next free mediator slot, if the configuration has any.
pub fn mediator_offer(a: &Agent) -> Option<MediatorOffer> {
    let now = now_local();
    let taken = a
        .store
        .lock()
        .ok()
        .and_then(|st| st.mediator_slots_taken(now).ok())
        .unwrap_or_default();
    a.mediation.slots.offers(now, &taken, 1).into_iter().next()
}

/// The next free mediator slot after `after` (another time, when the one offered did
/// not suit).
pub fn mediator_offer_after(a: &Agent, after: NaiveDateTime) -> Option<MediatorOffer> {
    let now = now_local();
    let taken = a
        .store
        .lock()
        .ok()
        .and_then(|st| st.mediator_slots_taken(now).ok())
        .unwrap_or_default();
    a.mediation
        .slots
        .offers(now, &taken, 8)
        .into_iter()
        .find(|o| o.start > after)
}

/// Open a mediation case (with the accepted mediator slot, if any). Returns the case
/// number and the follow-up call time.
pub fn mediation_case(
    a: &Agent,
    s: &Session,
    kind_id: &str,
    values: &BTreeMap<String, String>,
    slot: Option<MediatorOffer>,
) -> Result<String, NotFiled> {
    let kind = a
        .mediation
        .kind(kind_id)
        .or_else(|| a.mediation.kind("other"))
        .ok_or(NotFiled)?;
    let get = |k: &str| values.get(k).cloned().unwrap_or_default();
    let c = NewCase {
        dispute_kind: kind.id.clone(),
        dispute_name: kind.name.clone(),
        resident: Contact {
            name: values.get("name").filter(|v| !v.is_empty()).cloned(),
            phone: values.get("phone").filter(|v| !v.is_empty()).cloned(),
        },
        other_party: get("other_party"),
        place: get("place"),
        what_happened: get("what_happened"),
        wanted_outcome: get("wanted_outcome"),
        danger: false,
        slot,
        session_id: s.id.clone(),
    };
    let store = a.store.lock().map_err(|_| NotFiled)?;
    store.open_case(&c).map(|r| r.number).map_err(|e| {
        log_failure("mediation case", &e);
        NotFiled
    })
}

/// The outcome of a booking attempt, for the dialogue.
pub enum BookOutcome {
    /// Booked: the number and the time as spoken.
    Booked {
        /// Appointment number.
        number: String,
        /// When, as spoken.
        when: String,
    },
    /// The slot is full or not offered; the nearest alternative as spoken.
    Full {
        /// Nearest free time, as spoken.
        alternative: Option<String>,
    },
    /// The resident has not said a usable day and time yet.
    NeedTime,
    /// The store failed.
    Failed,
}

/// The slot start meant by a date/time the resident said (ISO date, HH:MM): the day said
/// (today when only a time was said), at the first slot of `service` from that hour on
/// that day. `None` when no usable day or time was said.
fn resolve_start(
    a: &Agent,
    store: &store::Store,
    service: &str,
    date: Option<&str>,
    time: Option<&str>,
) -> Option<NaiveDateTime> {
    let day = match date.and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) {
        Some(d) => d,
        None if time.is_some() => a.today(),
        None => return None,
    };
    let at = time
        .and_then(|t| NaiveTime::parse_from_str(t, "%H:%M").ok())
        .unwrap_or_else(|| NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default());
    let start = day.and_time(at);
    // an hour asked for that is not a slot start: take the first free slot from then on
    Some(
        match store.free_slots(&a.appointments, service, start - Duration::minutes(1), 1) {
            Ok(v) => match v.first() {
                Some(first) if first.date() == start.date() => *first,
                _ => start,
            },
            Err(_) => start,
        },
    )
}

/// Book `service` at the date/time the resident said (ISO date, HH:MM).
pub fn book(
    a: &Agent,
    s: &Session,
    service: &str,
    date: Option<&str>,
    time: Option<&str>,
) -> BookOutcome {
    at_said_time(a, service, date, time, |store, start| {
        store.book_appointment(
            &a.appointments,
            &NewAppointment {
                service_id: service.to_string(),
                start,
                contact: Contact::default(),
                session_id: s.id.clone(),
            },
        )
    })
}

/// Resolve the slot the resident meant, then book or move into it.
fn at_said_time(
    a: &Agent,
    service: &str,
    date: Option<&str>,
    time: Option<&str>,
    act: impl FnOnce(&store::Store, NaiveDateTime) -> store::Result<Booking>,
) -> BookOutcome {
    let Ok(store) = a.store.lock() else {
        return BookOutcome::Failed;
    };
    let Some(start) = resolve_start(a, &store, service, date, time) else {
        return BookOutcome::NeedTime;
    };
    booking_outcome(act(&store, start))
}

fn booking_outcome(r: store::Result<Booking>) -> BookOutcome {
    match r {
        Ok(Booking::Booked(r)) => BookOutcome::Booked {
            number: r.number,
            when: store::spoken_time(r.start),
        },
        Ok(Booking::Refused(refusal)) => BookOutcome::Full {
            alternative: refusal.alternatives.first().map(|t| store::spoken_time(*t)),
        },
        Err(e) => {
            log_failure("appointment", &e);
            BookOutcome::Failed
        }
    }
}

/// A booked appointment: service id and when, as spoken. `None` when the number is not a
/// booked appointment (or the store failed, which is logged).
pub fn booked_appointment(a: &Agent, number: &str) -> Option<(String, String)> {
    let store = a.store.lock().ok()?;
    match store.booked_appointment(number) {
        Ok(found) => found.map(|(service, t)| (service, store::spoken_time(t))),
        Err(e) => {
            log_failure("appointment lookup", &e);
            None
        }
    }
}

/// Move appointment `number` to the date/time the resident said.
pub fn move_appointment(
    a: &Agent,
    number: &str,
    service: &str,
    date: Option<&str>,
    time: Option<&str>,
) -> BookOutcome {
    at_said_time(a, service, date, time, |store, start| {
        store.move_appointment(&a.appointments, number, start)
    })
}

/// Cancel appointment `number`: `Some(true)` cancelled, `Some(false)` not a booked
/// appointment, `None` the store failed.
pub fn cancel_appointment(a: &Agent, number: &str) -> Option<bool> {
    let store = a.store.lock().ok()?;
    match store.cancel_appointment(number) {
        Ok(done) => Some(done),
        Err(e) => {
            log_failure("appointment cancel", &e);
            None
        }
    }
}
