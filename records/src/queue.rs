//! The day's queue: tickets called out by a short number, per service.

use rusqlite::params;
use serde::Serialize;

use crate::error::Result;
use crate::{RecordKind, Store};

/// A queue ticket just taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueTicket {
    /// Record number.
    pub number: String,
    /// Service-catalogue id.
    pub service_id: String,
    /// The short number called out today.
    pub ticket: u32,
    /// Residents waiting ahead for the same service.
    pub ahead: u32,
}

/// Today's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueStatus {
    /// Tickets waiting.
    pub waiting: u32,
    /// Tickets being served now.
    pub serving: Vec<u32>,
    /// The next ticket to be called.
    pub next: Option<u32>,
}

impl QueueStatus {
    /// The status from today's (ticket, status) rows in ticket order (either store).
    pub(crate) fn from_rows(rows: &[(i64, String)]) -> QueueStatus {
        let as_u32 = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        let with = |status: &str| -> Vec<u32> {
            rows.iter()
                .filter(|(_, s)| s == status)
                .map(|(t, _)| as_u32(*t))
                .collect()
        };
        let waiting = with("waiting");
        QueueStatus {
            waiting: u32::try_from(waiting.len()).unwrap_or(u32::MAX),
            serving: with("serving"),
            next: waiting.first().copied(),
        }
    }
}

impl Store {
    /// Take a queue ticket for `service_id` today.
    pub fn take_ticket(&self, service_id: &str, session_id: &str) -> Result<QueueTicket> {
        let tx = self.write_tx()?;
        let day = self.clock.day();
        let ticket: i64 = tx.query_row(
            "SELECT COALESCE(MAX(ticket), 0) + 1 FROM queue WHERE day = ?1",
            params![day],
            |r| r.get(0),
        )?;
        let ahead: i64 = tx.query_row(
            "SELECT COUNT(*) FROM queue WHERE day = ?1 AND service_id = ?2 AND status = 'waiting'",
            params![day, service_id],
            |r| r.get(0),
        )?;
        let number = self.next_number(&tx)?;
        let now = self.clock.rfc3339();
        tx.execute(
            "INSERT INTO queue (number, service_id, day, ticket, status, created_at, updated_at, session_id)
             VALUES (?1, ?2, ?3, ?4, 'waiting', ?5, ?5, ?6)",
            params![number, service_id, day, ticket, now, session_id],
        )?;
        self.append(&tx, "created", RecordKind::Queue, &number, service_id)?;
        tx.commit()?;
        self.anchor_head();
        Ok(QueueTicket {
            number,
            service_id: service_id.to_string(),
            ticket: u32::try_from(ticket).unwrap_or(u32::MAX),
            ahead: u32::try_from(ahead).unwrap_or(u32::MAX),
        })
    }

    /// Today's queue, for one service or all.
    pub fn queue_status(&self, service_id: Option<&str>) -> Result<QueueStatus> {
        let day = self.clock.day();
        let mut stmt = self
            .conn
            .prepare("SELECT ticket, status FROM queue WHERE day = ?1 AND (?2 IS NULL OR service_id = ?2) ORDER BY ticket")?;
        let rows = stmt
            .query_map(params![day, service_id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(QueueStatus::from_rows(&rows))
    }
}
