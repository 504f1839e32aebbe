//! Emergencies and hand-overs to staff, with the conversation so far.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::clock::parse_rfc3339;
use crate::error::Result;
use crate::{RecordKind, Store};

/// Emergency or handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Urgent danger or harm: staff are alerted at once.
    Emergency,
    /// The resident wants a person; a ticket for staff.
    Handoff,
}

/// One turn of the conversation so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// `resident` or `xiaoan`.
    pub who: String,
    /// What was said.
    pub text: String,
}

/// An emergency or handoff event.
#[derive(Debug, Clone, Serialize)]
pub struct NewEvent {
    /// Which.
    pub kind: EventKind,
    /// One line for staff (`老人摔倒，3号楼`).
    pub summary: String,
    /// The conversation so far.
    pub transcript: Vec<Turn>,
    /// Where the resident waits (`无障碍服务专窗`).
    pub wait_at: Option<String>,
    /// Special needs (`视障`).
    pub needs: Option<String>,
    /// Dialogue session.
    pub session_id: String,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventReceipt {
    /// Ticket number.
    pub number: String,
    /// When (UTC).
    pub created_at: DateTime<Utc>,
    /// Check code for the receipt ([`Store::check_receipt`]); None without a device key.
    pub check_code: Option<String>,
}

impl Store {
    /// Record an emergency or a handoff ticket for staff.
    pub fn record_event(&self, e: &NewEvent) -> Result<EventReceipt> {
        let tx = self.write_tx()?;
        let number = self.next_number(&tx)?;
        let now = self.clock.rfc3339();
        let kind = match e.kind {
            EventKind::Emergency => "emergency",
            EventKind::Handoff => "handoff",
        };
        tx.execute(
            "INSERT INTO events (number, event_kind, summary, transcript, wait_at, needs, status, created_at, updated_at, session_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, ?7, ?8)",
            params![number, kind, e.summary, self.sealed(&tx, &number, serde_json::to_string(&e.transcript)?)?, e.wait_at, e.needs, now, e.session_id],
        )?;
        self.append(&tx, "created", RecordKind::Event, &number, kind)?;
        tx.commit()?;
        self.anchor_head();
        Ok(EventReceipt {
            check_code: self.check_code(&number).ok().flatten(),
            number,
            created_at: parse_rfc3339(&now, self.clock.now()),
        })
    }
}
