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

/// Record an emergency event for staff. Returns its ticket number.
pub fn emergency(a: &Agent, s: &Session, said: &str) -> Option<String> {
    let ev = NewEvent {
        kind: EventKind::Emergency,
        summary: said.chars().take(80).collect(),
        transcript: transcript(s),
        wait_at: None,
        needs: None,
        session_id: s.id.clone(),
    };
    let store = a.store.lock().ok()?;
    match store.record_event(&ev) {
        Ok(r) => Some(r.number),
        Err(e) => {
            log_failure("emergency event", &e);
            None
        }
    }
}

/// A hand-over ticket with the conversation so far.
pub fn handoff(a: &Agent, s: &Session) -> Option<String> {
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
        wait_at: Some("无障碍服务专窗".into()),
        needs: None,
        session_id: s.id.clone(),
    };
    let store = a.store.lock().ok()?;
    match store.record_event(&ev) {
        Ok(r) => Some(r.number),
        Err(e) => {
            log_failure("handoff ticket", &e);
            None
        }
    }
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
