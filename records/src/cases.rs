//! Mediation cases (纠纷调解): the dispute, the parties, the mediator slot held, and the
//! follow-up call the centre promises [`FOLLOW_UP_HOURS`] later.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use crate::chain;
use crate::clock::{parse_rfc3339, rfc3339, TS};
use crate::error::{Result, StoreError};
use crate::views::summarise;
use crate::{Contact, RecordKind, RecordSummary, Store, CASE_PREFIX, FOLLOW_UP_HOURS};

/// A concrete mediation session held by a case: when, who, where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MediatorOffer {
    /// Start (local time of the centre).
    pub start: NaiveDateTime,
    /// Who mediates.
    pub mediator: String,
    /// Where.
    pub place: String,
}

/// A mediation case to open.
#[derive(Debug, Clone, Serialize)]
pub struct NewCase {
    /// Dispute kind id (`noise` …).
    pub dispute_kind: String,
    /// Its Chinese name (`噪音`).
    pub dispute_name: String,
    /// The resident.
    pub resident: Contact,
    /// The other party (`楼上邻居`).
    pub other_party: String,
    /// Where it happens.
    pub place: String,
    /// What happened, in the resident's words.
    pub what_happened: String,
    /// The outcome wanted.
    pub wanted_outcome: String,
    /// Whether anyone is in danger (the dialogue has already started the emergency path).
    pub danger: bool,
    /// The mediator slot accepted, if any.
    pub slot: Option<MediatorOffer>,
    /// Dialogue session.
    pub session_id: String,
}

/// What the resident is told after a case is opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseReceipt {
    /// Case number (digits).
    pub number: String,
    /// Case number as shown (`TJ` + digits).
    pub display_number: String,
    /// When the centre calls back (created + 48 h, UTC).
    pub follow_up_due: DateTime<Utc>,
    /// The mediator slot held, if any.
    pub slot: Option<MediatorOffer>,
    /// Check code for the receipt ([`Store::check_receipt`]); None without a device key.
    pub check_code: Option<String>,
}

impl Store {
    /// Mediator slots held by cases that are not closed, from `from` on.
    pub fn mediator_slots_taken(
        &self,
        from: NaiveDateTime,
    ) -> Result<Vec<(String, NaiveDateTime)>> {
        let mut stmt = self.conn.prepare(
            "SELECT mediator, slot_start FROM cases WHERE slot_start IS NOT NULL AND mediator IS NOT NULL
             AND slot_start >= ?1 AND status NOT IN ('closed') ORDER BY slot_start",
        )?;
        let rows = stmt.query_map(params![from.format(TS).to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (m, s) = row?;
            if let Ok(t) = NaiveDateTime::parse_from_str(&s, TS) {
                out.push((m, t));
            }
        }
        Ok(out)
    }

    /// Fails with [`StoreError::SlotTaken`] if another open case holds the slot.
    pub fn open_case(&self, c: &NewCase) -> Result<CaseReceipt> {
        let tx = self.write_tx()?;
        if let Some(slot) = &c.slot {
            let taken: i64 = tx.query_row(
                "SELECT COUNT(*) FROM cases WHERE mediator = ?1 AND slot_start = ?2 AND status != 'closed'",
                params![slot.mediator, slot.start.format(TS).to_string()],
                |r| r.get(0),
            )?;
            if taken > 0 {
                return Err(StoreError::SlotTaken(
                    slot.start.format("%Y-%m-%d %H:%M").to_string(),
                ));
            }
        }
        let number = self.next_number(&tx)?;
        let created = self.clock.now();
        let now = rfc3339(created);
        let due = parse_rfc3339(&now, created) + Duration::hours(FOLLOW_UP_HOURS);
        let status = if c.danger {
            "escalated"
        } else if c.slot.is_some() {
            "scheduled"
        } else {
            "open"
        };
        tx.execute(
            "INSERT INTO cases (number, dispute_kind, dispute_name, resident, other_party, place, what_happened, wanted_outcome,
                danger, slot_start, mediator, slot_place, follow_up_due, status, created_at, updated_at, session_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?16)",
            params![
                number,
                c.dispute_kind,
                c.dispute_name,
                self.sealed(&tx, &number, serde_json::to_string(&c.resident)?)?,
                c.other_party,
                c.place,
                c.what_happened,
                c.wanted_outcome,
                c.danger,
                c.slot.as_ref().map(|s| s.start.format(TS).to_string()),
                c.slot.as_ref().map(|s| s.mediator.clone()),
                c.slot.as_ref().map(|s| s.place.clone()),
                rfc3339(due),
                status,
                now,
                c.session_id
            ],
        )?;
        self.append(&tx, "created", RecordKind::Case, &number, &c.dispute_kind)?;
        tx.commit()?;
        self.anchor_head();
        Ok(CaseReceipt {
            check_code: self.check_code(&number).ok().flatten(),
            display_number: format!("{CASE_PREFIX}{number}"),
            number,
            follow_up_due: due,
            slot: c.slot.clone(),
        })
    }

    /// Cases whose follow-up call is due by `by` and not yet made.
    pub fn follow_ups_due(&self, by: DateTime<Utc>) -> Result<Vec<RecordSummary>> {
        let mut stmt = self.conn.prepare(
            "SELECT number FROM cases WHERE follow_up_due <= ?1 AND status NOT IN ('followed_up', 'closed') ORDER BY follow_up_due",
        )?;
        let numbers = stmt
            .query_map(params![rfc3339(by)], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::new();
        for n in numbers {
            if let Some(snap) =
                chain::row_json(&self.conn, self.sealer.as_ref(), RecordKind::Case, &n)?
            {
                out.push(summarise(RecordKind::Case, &snap, false));
            }
        }
        Ok(out)
    }
}
