//! The dialogue's side of the records store: turns what a flow collected into store
//! records. A store failure is never hidden: the caller tells the resident nothing was
//! filed and keeps what they said.
//!
//! Each call takes a [`Desk`]: the store handle and the little it needs besides (the
//! forms, to label fields; the mediation triage and appointment slots; today and now),
//! never the whole agent. An `&Agent` converts into one (`From`), so a flow passes its
//! agent as it is.

mod alerts;
mod appointments;

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{NaiveDate, NaiveDateTime};

use crate::dialogue::{Agent, Session};
use crate::forms::{Forms, Mediation, MediatorOffer};
use xiaoan_records::{
    AppointmentConfig, Contact, FeedbackKind, FieldValue, NewCase, NewDraft, NewFeedback, Store,
};

pub use alerts::{
    emergency, emergency_note, emergency_place, flush_alerts, handoff, retry_alerts, PendingAlert,
    ALERT_QUEUE_MAX,
};
pub use appointments::{
    book, booked_appointment, cancel_appointment, move_appointment, refusal_words, spoken_time,
    BookOutcome,
};

/// What the dialogue's record calls need: the store handle, the forms and the mediation
/// triage (to label the fields of a filing or draft), the appointment slots, and the
/// clock's today and now.
#[derive(Clone, Copy)]
pub struct Desk<'a> {
    /// The records store, shared by the terminal's sessions.
    pub store: &'a Mutex<Store>,
    /// Declaration forms.
    pub forms: &'a Forms,
    /// The mediation triage and the mediator's slots.
    pub mediation: &'a Mediation,
    /// Appointment slots and capacities.
    pub appointments: &'a AppointmentConfig,
    /// Today, for deadlines and a time said without a day.
    pub today: NaiveDate,
    /// Now (the centre's wall clock), for the mediator's next free slots.
    pub now: NaiveDateTime,
}

impl<'a> From<&'a Agent> for Desk<'a> {
    /// The agent's store, forms and slots; its today ([`Agent::today`]) and the local
    /// clock's now.
    fn from(a: &'a Agent) -> Desk<'a> {
        Desk {
            store: &a.store,
            forms: &a.forms,
            mediation: &a.mediation,
            appointments: &a.appointments,
            today: a.today(),
            now: chrono::Local::now().naive_local(),
        }
    }
}

fn log_failure(what: &str, e: &dyn std::fmt::Display) {
    // no personal data here: the error names the operation and the database reason only
    eprintln!("xiaoan: records: {what} failed: {e}");
}

/// A filing that did not reach the store (the reason was logged, masked): nothing was
/// filed, and the resident is told so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotFiled;

/// Minutes a window takes per resident on average (for the waiting-time estimate).
const MINUTES_PER_RESIDENT: u32 = 6;

/// Residents waiting and the estimated minutes.
pub fn queue<'a>(desk: impl Into<Desk<'a>>) -> (u32, u32) {
    let desk = desk.into();
    let Ok(store) = desk.store.lock() else {
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
pub fn feedback<'a>(desk: impl Into<Desk<'a>>, s: &Session, said: &str) -> Option<String> {
    let desk = desk.into();
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
    let store = desk.store.lock().ok()?;
    match store.record_feedback(&f) {
        Ok(n) => Some(n),
        Err(e) => {
            log_failure("feedback", &e);
            None
        }
    }
}

fn field_values(
    desk: &Desk<'_>,
    form_id: &str,
    values: &BTreeMap<String, String>,
) -> Vec<FieldValue> {
    let fields = if form_id == "mediation" {
        desk.mediation.fields.as_slice()
    } else {
        desk.forms
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

/// File a declaration in one transaction. Returns the receipt number.
pub fn file_declaration<'a>(
    desk: impl Into<Desk<'a>>,
    s: &Session,
    form_id: &str,
    values: &BTreeMap<String, String>,
) -> Result<String, NotFiled> {
    let desk = desk.into();
    let form = desk.forms.get(form_id).ok_or(NotFiled)?;
    let answers: Vec<(String, String)> = values
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let filing = form.filing(&answers, &s.id, desk.today);
    let store = desk.store.lock().map_err(|_| NotFiled)?;
    store
        .file_declaration(&filing)
        .map(|r| r.number)
        .map_err(|e| {
            log_failure("declaration filing", &e);
            NotFiled
        })
}

/// Keep a half-filled form for staff.
pub fn draft<'a>(
    desk: impl Into<Desk<'a>>,
    s: &Session,
    form_id: &str,
    values: &BTreeMap<String, String>,
    reason: &str,
) -> Option<String> {
    let desk = desk.into();
    let d = NewDraft {
        form_id: form_id.to_string(),
        fields: field_values(&desk, form_id, values),
        reason: reason.to_string(),
        session_id: s.id.clone(),
    };
    let store = desk.store.lock().ok()?;
    match store.save_draft(&d) {
        Ok(n) => Some(n),
        Err(e) => {
            log_failure("draft", &e);
            None
        }
    }
}

/// The mediator's next `n` free sessions after now (the store knows which are held).
fn free_mediator_slots(desk: &Desk<'_>, n: usize) -> Vec<MediatorOffer> {
    let taken = desk
        .store
        .lock()
        .ok()
        .and_then(|st| st.mediator_slots_taken(desk.now).ok())
        .unwrap_or_default();
    desk.mediation.slots.offers(desk.now, &taken, n)
}

/// The next free mediator slot, if the configuration has any.
pub fn mediator_offer<'a>(desk: impl Into<Desk<'a>>) -> Option<MediatorOffer> {
    free_mediator_slots(&desk.into(), 1).into_iter().next()
}

/// The next free mediator slot after `after` (another time, when the one offered did
/// not suit).
pub fn mediator_offer_after<'a>(
    desk: impl Into<Desk<'a>>,
    after: NaiveDateTime,
) -> Option<MediatorOffer> {
    free_mediator_slots(&desk.into(), 8)
        .into_iter()
        .find(|o| o.start > after)
}

/// Open a mediation case (with the accepted mediator slot, if any). Returns the case
/// number and the follow-up call time.
pub fn mediation_case<'a>(
    desk: impl Into<Desk<'a>>,
    s: &Session,
    kind_id: &str,
    values: &BTreeMap<String, String>,
    slot: Option<MediatorOffer>,
) -> Result<String, NotFiled> {
    let desk = desk.into();
    let kind = desk
        .mediation
        .kind(kind_id)
        .or_else(|| desk.mediation.kind("other"))
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
    let store = desk.store.lock().map_err(|_| NotFiled)?;
    store.open_case(&c).map(|r| r.number).map_err(|e| {
        log_failure("mediation case", &e);
        NotFiled
    })
}

#[cfg(test)]
mod tests;
