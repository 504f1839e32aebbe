//! Appointment slots: configuration, capacity, booking, moving and cancelling.
//!
//! A slot is a start time (local time of the centre) on a weekly pattern per service. The
//! capacity of a (service, start) pair is the number of residents that may book it.

use chrono::{Datelike, Duration, NaiveDateTime, NaiveTime, Timelike};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::clock::TS;
use crate::error::{Result, StoreError};
use crate::{Contact, RecordKind, Store};

/// A weekly pattern of slots for one service (`service = "*"` applies to every service
/// that has no pattern of its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotSpec {
    /// Service-catalogue id, or `*`.
    pub service: String,
    /// Days of the week, 1 = Monday … 7 = Sunday.
    pub weekdays: Vec<u8>,
    /// First slot start, `HH:MM`.
    pub start: String,
    /// End of the last slot, `HH:MM` (a slot must start before it).
    pub end: String,
    /// Slot length in minutes.
    pub minutes: u32,
    /// Residents per slot.
    pub capacity: u32,
}

/// The `[appointments]` section: slots per service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppointmentConfig {
    /// Weekly slot patterns.
    pub slots: Vec<SlotSpec>,
    /// How many days ahead residents may book.
    pub horizon_days: u32,
    /// A fixed "now" for reproducible stories and tests (the dialogue's fixed today has
    /// to agree with it); `None` = the local clock.
    #[serde(skip)]
    pub now: Option<NaiveDateTime>,
}

impl Default for AppointmentConfig {
    /// Default: every service, Monday to Friday, 09:00–11:30 and 14:00–17:00 in 30-minute
    /// slots of 4 residents each, bookable 14 days ahead.
    fn default() -> Self {
        let spec = |start: &str, end: &str| SlotSpec {
            service: "*".to_string(),
            weekdays: vec![1, 2, 3, 4, 5],
            start: start.to_string(),
            end: end.to_string(),
            minutes: 30,
            capacity: 4,
        };
        AppointmentConfig {
            slots: vec![spec("09:00", "11:30"), spec("14:00", "17:00")],
            horizon_days: 14,
            now: None,
        }
    }
}

fn hm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

fn minutes_of(t: NaiveTime) -> u32 {
    t.hour() * 60 + t.minute()
}

impl SlotSpec {
    /// True when `start` is one of this pattern's slot starts.
    pub fn offers(&self, start: NaiveDateTime) -> bool {
        let (Some(a), Some(b)) = (hm(&self.start), hm(&self.end)) else {
            return false;
        };
        let day = start.weekday().number_from_monday() as u8;
        let t = start.time();
        self.minutes > 0
            && self.weekdays.contains(&day)
            && t.second() == 0
            && t >= a
            && t < b
            && (minutes_of(t) - minutes_of(a)).is_multiple_of(self.minutes)
    }
}

impl AppointmentConfig {
    /// Check every pattern (times parse, start < end, weekdays 1–7, minutes and capacity > 0).
    pub fn check(&self) -> Result<()> {
        for s in &self.slots {
            let ok = matches!((hm(&s.start), hm(&s.end)), (Some(a), Some(b)) if a < b)
                && s.minutes > 0
                && s.capacity > 0
                && !s.weekdays.is_empty()
                && s.weekdays.iter().all(|d| (1..=7).contains(d))
                && !s.service.trim().is_empty();
            if !ok {
                return Err(StoreError::Invalid(format!(
                    "appointment slots for `{}`: need HH:MM start < end, minutes > 0, capacity > 0, weekdays 1-7",
                    s.service
                )));
            }
        }
        Ok(())
    }

    /// The patterns that apply to `service`: its own, or the `*` ones when it has none.
    fn specs_for<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a SlotSpec> + 'a {
        let own = self.slots.iter().any(|s| s.service == service);
        self.slots.iter().filter(move |s| {
            if own {
                s.service == service
            } else {
                s.service == "*"
            }
        })
    }

    /// The capacity of `service` at `start`, or None when no slot starts then.
    pub fn capacity(&self, service: &str, start: NaiveDateTime) -> Option<u32> {
        self.specs_for(service)
            .filter(|s| s.offers(start))
            .map(|s| s.capacity)
            .max()
    }

    /// Slot starts of `service` strictly after `after`, within the horizon, in order.
    pub fn starts_after(&self, service: &str, after: NaiveDateTime) -> Vec<NaiveDateTime> {
        let mut out = Vec::new();
        let mut day = after.date();
        for _ in 0..=self.horizon_days.max(1) {
            for s in self.specs_for(service) {
                let (Some(a), Some(b)) = (hm(&s.start), hm(&s.end)) else {
                    continue;
                };
                if s.minutes == 0
                    || !s
                        .weekdays
                        .contains(&(day.weekday().number_from_monday() as u8))
                {
                    continue;
                }
                let mut t = day.and_time(a);
                while t.time() < b && t.date() == day {
                    if t > after {
                        out.push(t);
                    }
                    t += Duration::minutes(i64::from(s.minutes));
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A new booking.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewAppointment {
    /// Service-catalogue id.
    pub service_id: String,
    /// Slot start (local time of the centre).
    pub start: NaiveDateTime,
    /// Who booked (personal data).
    pub contact: Contact,
    /// Dialogue session.
    pub session_id: String,
}

/// A confirmed booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppointmentReceipt {
    /// Record number, read to the resident.
    pub number: String,
    /// Service-catalogue id.
    pub service_id: String,
    /// Slot start.
    pub start: NaiveDateTime,
    /// Check code for the receipt ([`Store::check_receipt`]); None without a device key.
    pub check_code: Option<String>,
}

/// Why a booking or move was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The slot has reached its capacity.
    Full,
    /// No slot of this service starts at that time.
    NotOffered,
    /// The time has passed or is beyond the booking horizon.
    OutOfRange,
    /// No booked appointment has that number.
    NotFound,
}

/// A refused booking: why, and the next free slots (what the resident is told is the
/// dialogue's to say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Why.
    pub reason: RefusalReason,
    /// Up to three free slots to offer instead.
    pub alternatives: Vec<NaiveDateTime>,
}

/// The outcome of booking or moving: booked, or refused with a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Booking {
    /// The slot is held.
    Booked(AppointmentReceipt),
    /// Nothing was booked.
    Refused(Refusal),
}

impl Store {
    /// Free slots of `service` after `after` (at most `n`), skipping full ones.
    pub fn free_slots(
        &self,
        cfg: &AppointmentConfig,
        service: &str,
        after: NaiveDateTime,
        n: usize,
    ) -> Result<Vec<NaiveDateTime>> {
        let mut out = Vec::new();
        for start in cfg.starts_after(service, after) {
            if out.len() >= n {
                break;
            }
            let cap = cfg.capacity(service, start).unwrap_or(0);
            if self.booked_count(service, start, None)? < cap {
                out.push(start);
            }
        }
        Ok(out)
    }

    fn booked_count(
        &self,
        service: &str,
        start: NaiveDateTime,
        except: Option<&str>,
    ) -> Result<u32> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM appointments WHERE service_id = ?1 AND slot_start = ?2 AND status = 'booked' AND number != ?3",
            params![service, start.format(TS).to_string(), except.unwrap_or("")],
            |r| r.get(0),
        )?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Check that `start` can take one more booking; `except` is a booking being moved.
    fn check_slot(
        &self,
        cfg: &AppointmentConfig,
        service: &str,
        start: NaiveDateTime,
        except: Option<&str>,
    ) -> Result<Option<Refusal>> {
        let now = cfg.now.unwrap_or_else(|| self.clock.local_now());
        let alternatives = |s: &Store| s.free_slots(cfg, service, start.max(now), 3);
        let horizon = now + Duration::days(i64::from(cfg.horizon_days.max(1)));
        if start <= now || start > horizon {
            let alts = self.free_slots(cfg, service, now, 3)?;
            return Ok(Some(Refusal {
                reason: RefusalReason::OutOfRange,
                alternatives: alts,
            }));
        }
        let Some(cap) = cfg.capacity(service, start) else {
            return Ok(Some(Refusal {
                reason: RefusalReason::NotOffered,
                alternatives: alternatives(self)?,
            }));
        };
        if self.booked_count(service, start, except)? >= cap {
            return Ok(Some(Refusal {
                reason: RefusalReason::Full,
                alternatives: alternatives(self)?,
            }));
        }
        Ok(None)
    }

    /// Book a slot. Refused (as a value) when the slot is full, not offered or out of range.
    pub fn book_appointment(&self, cfg: &AppointmentConfig, a: &NewAppointment) -> Result<Booking> {
        if a.service_id.trim().is_empty() {
            return Err(StoreError::Invalid(
                "appointment without a service id".into(),
            ));
        }
        let tx = self.write_tx()?;
        if let Some(refusal) = self.check_slot(cfg, &a.service_id, a.start, None)? {
            return Ok(Booking::Refused(refusal));
        }
        let number = self.next_number(&tx)?;
        let now = self.clock.rfc3339();
        tx.execute(
            "INSERT INTO appointments (number, service_id, slot_start, contact, status, created_at, updated_at, session_id)
             VALUES (?1, ?2, ?3, ?4, 'booked', ?5, ?5, ?6)",
            params![number, a.service_id, a.start.format(TS).to_string(), self.sealed(&tx, &number, serde_json::to_string(&a.contact)?)?, now, a.session_id],
        )?;
        self.append(
            &tx,
            "created",
            RecordKind::Appointment,
            &number,
            &a.service_id,
        )?;
        tx.commit()?;
        self.anchor_head();
        Ok(Booking::Booked(AppointmentReceipt {
            check_code: self.check_code(&number).ok().flatten(),
            number,
            service_id: a.service_id.clone(),
            start: a.start,
        }))
    }

    /// Move a booked appointment to another slot of the same service.
    pub fn move_appointment(
        &self,
        cfg: &AppointmentConfig,
        number: &str,
        new_start: NaiveDateTime,
    ) -> Result<Booking> {
        let tx = self.write_tx()?;
        let found: Option<(String, String)> = tx
            .query_row(
                "SELECT service_id, slot_start FROM appointments WHERE number = ?1 AND status = 'booked'",
                params![number],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((service, old)) = found else {
            return Ok(Booking::Refused(Refusal {
                reason: RefusalReason::NotFound,
                alternatives: Vec::new(),
            }));
        };
        if let Some(refusal) = self.check_slot(cfg, &service, new_start, Some(number))? {
            return Ok(Booking::Refused(refusal));
        }
        let new = new_start.format(TS).to_string();
        tx.execute(
            "UPDATE appointments SET slot_start = ?1, updated_at = ?2 WHERE number = ?3",
            params![new, self.clock.rfc3339(), number],
        )?;
        self.append(
            &tx,
            "moved",
            RecordKind::Appointment,
            number,
            &format!("{old} -> {new}"),
        )?;
        tx.commit()?;
        self.anchor_head();
        Ok(Booking::Booked(AppointmentReceipt {
            check_code: self.check_code(number).ok().flatten(),
            number: number.to_string(),
            service_id: service,
            start: new_start,
        }))
    }

    /// A booked appointment by its number: service id and slot start. `None` when no
    /// appointment with that number is still booked (unknown, cancelled or done).
    pub fn booked_appointment(&self, number: &str) -> Result<Option<(String, NaiveDateTime)>> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT service_id, slot_start FROM appointments WHERE number = ?1 AND status = 'booked'",
                params![number],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.and_then(|(service, start)| {
            NaiveDateTime::parse_from_str(&start, TS)
                .ok()
                .map(|t| (service, t))
        }))
    }

    /// Cancel a booked appointment; false when no booked appointment has that number.
    pub fn cancel_appointment(&self, number: &str) -> Result<bool> {
        let tx = self.write_tx()?;
        let n = tx.execute(
            "UPDATE appointments SET status = 'cancelled', updated_at = ?1 WHERE number = ?2 AND status = 'booked'",
            params![self.clock.rfc3339(), number],
        )?;
        if n == 0 {
            return Ok(false);
        }
        self.append(
            &tx,
            "status",
            RecordKind::Appointment,
            number,
            "booked -> cancelled",
        )?;
        tx.commit()?;
        self.anchor_head();
        Ok(true)
    }
}
