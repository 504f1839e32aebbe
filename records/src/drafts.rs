//! Forms left mid-way (a resident who stopped, timed out or hung up), kept for staff.

use rusqlite::params;
use serde::Serialize;

use crate::error::Result;
use crate::{FieldValue, RecordKind, Store};

/// A form left mid-way.
#[derive(Debug, Clone, Serialize)]
pub struct NewDraft {
    /// Form id.
    pub form_id: String,
    /// Fields answered so far.
    pub fields: Vec<FieldValue>,
    /// Why it stopped (`timeout`, `hang_up`…).
    pub reason: String,
    /// Dialogue session.
    pub session_id: String,
}

impl Store {
    /// Keep a form left mid-way for staff; returns its number.
    pub fn save_draft(&self, d: &NewDraft) -> Result<String> {
        let tx = self.write_tx()?;
        let number = self.next_number(&tx)?;
        let now = self.clock.rfc3339();
        tx.execute(
            "INSERT INTO drafts (number, form_id, fields, reason, status, created_at, updated_at, session_id)
             VALUES (?1, ?2, ?3, ?4, 'open', ?5, ?5, ?6)",
            params![number, d.form_id, self.sealed(&tx, &number, serde_json::to_string(&d.fields)?)?, d.reason, now, d.session_id],
        )?;
        self.append(&tx, "created", RecordKind::Draft, &number, &d.reason)?;
        tx.commit()?;
        self.anchor_head();
        Ok(number)
    }
}
