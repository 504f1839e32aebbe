//! Appointments as the dialogue books them: the slot a resident meant, booking, moving,
//! cancelling, and how 小安 says a slot time and a refused booking.

use chrono::{Datelike, Duration, NaiveDateTime, NaiveTime, Timelike};
use xiaoan_records::{Booking, Contact, NewAppointment, RefusalReason, Store};

use super::{log_failure, Desk};
use crate::dialogue::Session;

/// A time said the way a resident hears it: `12月1日上午9点半`.
pub fn spoken_time(t: NaiveDateTime) -> String {
    let (h, m) = (t.hour(), t.minute());
    let (part, h12) = match h {
        0..=11 => ("上午", h),
        12 => ("中午", 12),
        _ => ("下午", h - 12),
    };
    let min = match m {
        0 => "点".to_string(),
        30 => "点半".to_string(),
        m => format!("点{m}分"),
    };
    format!("{}月{}日{part}{h12}{min}", t.month(), t.day())
}

/// What to tell a resident whose booking of `asked` was refused for `reason` (short
/// spoken Chinese); `horizon_days` is how far ahead bookings are taken.
pub fn refusal_words(reason: RefusalReason, asked: NaiveDateTime, horizon_days: u32) -> String {
    match reason {
        RefusalReason::OutOfRange => format!(
            "这个时间约不了，只能约今后{}天内的时间。",
            horizon_days.max(1)
        ),
        RefusalReason::NotOffered => format!("{}这个时间没有号。", spoken_time(asked)),
        RefusalReason::Full => format!("{}已经约满了。", spoken_time(asked)),
        RefusalReason::NotFound => "没有找到这个预约，请再说一下预约号。".to_string(),
    }
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
    desk: &Desk<'_>,
    store: &Store,
    service: &str,
    date: Option<&str>,
    time: Option<&str>,
) -> Option<NaiveDateTime> {
    let day = match date.and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) {
        Some(d) => d,
        None if time.is_some() => desk.today,
        None => return None,
    };
    let at = time
        .and_then(|t| NaiveTime::parse_from_str(t, "%H:%M").ok())
        .unwrap_or_else(|| NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default());
    let start = day.and_time(at);
    // an hour asked for that is not a slot start: take the first free slot from then on
    Some(
        match store.free_slots(desk.appointments, service, start - Duration::minutes(1), 1) {
            Ok(v) => match v.first() {
                Some(first) if first.date() == start.date() => *first,
                _ => start,
            },
            Err(_) => start,
        },
    )
}

/// Book `service` at the date/time the resident said (ISO date, HH:MM).
pub fn book<'a>(
    desk: impl Into<Desk<'a>>,
    s: &Session,
    service: &str,
    date: Option<&str>,
    time: Option<&str>,
) -> BookOutcome {
    let desk = desk.into();
    at_said_time(&desk, service, date, time, |store, start| {
        store.book_appointment(
            desk.appointments,
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
    desk: &Desk<'_>,
    service: &str,
    date: Option<&str>,
    time: Option<&str>,
    act: impl FnOnce(&Store, NaiveDateTime) -> xiaoan_records::Result<Booking>,
) -> BookOutcome {
    let Ok(store) = desk.store.lock() else {
        return BookOutcome::Failed;
    };
    let Some(start) = resolve_start(desk, &store, service, date, time) else {
        return BookOutcome::NeedTime;
    };
    booking_outcome(act(&store, start))
}

fn booking_outcome(r: xiaoan_records::Result<Booking>) -> BookOutcome {
    match r {
        Ok(Booking::Booked(r)) => BookOutcome::Booked {
            number: r.number,
            when: spoken_time(r.start),
        },
        Ok(Booking::Refused(refusal)) => BookOutcome::Full {
            alternative: refusal.alternatives.first().map(|t| spoken_time(*t)),
        },
        Err(e) => {
            log_failure("appointment", &e);
            BookOutcome::Failed
        }
    }
}

/// A booked appointment: service id and when, as spoken. `None` when the number is not a
/// booked appointment (or the store failed, which is logged).
pub fn booked_appointment<'a>(desk: impl Into<Desk<'a>>, number: &str) -> Option<(String, String)> {
    let desk = desk.into();
    let store = desk.store.lock().ok()?;
    match store.booked_appointment(number) {
        Ok(found) => found.map(|(service, t)| (service, spoken_time(t))),
        Err(e) => {
            log_failure("appointment lookup", &e);
            None
        }
    }
}

/// Move appointment `number` to the date/time the resident said.
pub fn move_appointment<'a>(
    desk: impl Into<Desk<'a>>,
    number: &str,
    service: &str,
    date: Option<&str>,
    time: Option<&str>,
) -> BookOutcome {
    let desk = desk.into();
    at_said_time(&desk, service, date, time, |store, start| {
        store.move_appointment(desk.appointments, number, start)
    })
}

/// Cancel appointment `number`: `Some(true)` cancelled, `Some(false)` not a booked
/// appointment, `None` the store failed.
pub fn cancel_appointment<'a>(desk: impl Into<Desk<'a>>, number: &str) -> Option<bool> {
    let desk = desk.into();
    let store = desk.store.lock().ok()?;
    match store.cancel_appointment(number) {
        Ok(done) => Some(done),
        Err(e) => {
            log_failure("appointment cancel", &e);
            None
        }
    }
}
