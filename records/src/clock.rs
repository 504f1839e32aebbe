//! Where the store reads the time, and the record numbers drawn from it.
//!
//! Every timestamp the store writes (`created_at`, evidence entries, follow-up times) and
//! every local date it uses (the `yymmdd` of record numbers, the day's queue, "now" for
//! appointments) comes from the store's [`Clock`]: the system clock in service, a fixed
//! instant in tests and stories, so nothing depends on the calendar day a test runs on.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection};

use crate::error::Result;
use crate::CASE_PREFIX;

/// Where the store reads the time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system clock (in service).
    #[default]
    System,
    /// Always this instant (tests, stories, replays).
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// A clock stopped at `local`, a wall-clock time of the centre (the earlier reading
    /// when the time occurs twice; the system clock's zone).
    pub fn at_local(local: NaiveDateTime) -> Clock {
        match local.and_local_timezone(Local).earliest() {
            Some(t) => Clock::Fixed(t.with_timezone(&Utc)),
            // a time skipped by a daylight-saving change: read it as UTC
            None => Clock::Fixed(local.and_utc()),
        }
    }

    /// Now (UTC).
    pub fn now(self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => t,
        }
    }

    /// Now, as the centre's wall clock reads it.
    pub fn local_now(self) -> NaiveDateTime {
        self.now().with_timezone(&Local).naive_local()
    }

    /// Today's date at the centre.
    pub fn today(self) -> NaiveDate {
        self.local_now().date()
    }

    /// Now as stored: RFC 3339, whole seconds, UTC.
    pub(crate) fn rfc3339(self) -> String {
        rfc3339(self.now())
    }

    /// The day part of record numbers and queue days: `yymmdd`.
    pub(crate) fn day(self) -> String {
        self.today().format("%y%m%d").to_string()
    }
}

/// A time as stored: RFC 3339, whole seconds, UTC.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Read back a stored time (`fallback` for text that is not one).
pub(crate) fn parse_rfc3339(s: &str, fallback: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(fallback)
}

/// Allocate the next record number for `day` (`yymmdd`) inside a write transaction:
/// `yymmdd` + a four-digit daily sequence on a stand-alone device; on a terminal with a
/// centre code (`outbox.rs`), `yymmdd` + the two-digit code + a three-digit sequence, so
/// numbers are unique across the centre.
pub(crate) fn next_number(conn: &Connection, day: &str) -> Result<String> {
    let last: i64 = conn.query_row(
        "INSERT INTO counters (day, last) VALUES (?1, 1) ON CONFLICT(day) DO UPDATE SET last = last + 1 RETURNING last",
        params![day],
        |r| r.get(0),
    )?;
    Ok(match crate::outbox::terminal_code(conn)? {
        Some(code) => format!("{day}{code:02}{last:03}"),
        None => format!("{day}{last:04}"),
    })
}

/// Normalise a number a person typed or said: digits only, `TJ` prefix and separators dropped.
pub(crate) fn normalise_number(key: &str) -> String {
    let k = key.trim();
    let k = k
        .strip_prefix(CASE_PREFIX)
        .or_else(|| k.strip_prefix("tj"))
        .unwrap_or(k);
    k.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

/// How slot times are stored (local time of the centre).
pub(crate) const TS: &str = "%Y-%m-%dT%H:%M:%S";
