//! Staff actions on a record: status moves (only those [`crate::RecordKind::next_statuses`]
//! allows), notes, and the audit of who saw personal data.

use rusqlite::params;

use crate::clock::normalise_number;
use crate::error::{Result, StoreError};
use crate::Store;

impl Store {
    /// Change a record's status (staff actions, follow-up done, materials received…),
    /// appending an evidence entry. The entry chains the SHA-256 of `note`, not the note
    /// (see [`Store::add_note`]).
    ///
    /// Only the moves of [`crate::RecordKind::next_statuses`] are allowed; any other is
    /// [`StoreError::Transition`] and changes nothing. Setting the status the record
    /// already has is a no-op: nothing is written, the note included (to add a note
    /// without a status change, use [`Store::add_note`]).
    pub fn set_status(&self, number: &str, status: &str, note: &str) -> Result<()> {
        let number = normalise_number(number);
        let tx = self.write_tx()?;
        let kind = self
            .kind_of(&number)?
            .ok_or_else(|| StoreError::NotFound(number.clone()))?;
        if !kind.statuses().contains(&status) {
            return Err(StoreError::BadStatus {
                kind: kind.as_str(),
                status: status.to_string(),
                allowed: kind.statuses().join(", "),
            });
        }
        let old: String = tx.query_row(
            &format!("SELECT status FROM {} WHERE number = ?1", kind.table()),
            params![number],
            |r| r.get(0),
        )?;
        if old == status {
            return Ok(());
        }
        let next = kind.next_statuses(&old);
        if !next.contains(&status) {
            return Err(StoreError::Transition {
                kind: kind.as_str(),
                number,
                from: old,
                to: status.to_string(),
                allowed: if next.is_empty() {
                    "none: it is final".to_string()
                } else {
                    next.join(", ")
                },
            });
        }
        tx.execute(
            &format!(
                "UPDATE {} SET status = ?1, updated_at = ?2 WHERE number = ?3",
                kind.table()
            ),
            params![status, self.clock.rfc3339(), number],
        )?;
        self.append_noted(
            &tx,
            "status",
            kind,
            &number,
            &format!("{old} -> {status}"),
            note,
        )?;
        tx.commit()?;
        self.anchor_head();
        Ok(())
    }

    /// Add a note to a record's evidence history without changing its status (where a
    /// resident waits, told after the alert was raised…): an entry with action `note`.
    /// The chain keeps the note's SHA-256 only; the text is kept beside it and shown
    /// masked unless revealed (as are notes given with [`Store::set_status`]).
    pub fn add_note(&self, number: &str, note: &str) -> Result<()> {
        let number = normalise_number(number);
        let tx = self.write_tx()?;
        let kind = self
            .kind_of(&number)?
            .ok_or_else(|| StoreError::NotFound(number.clone()))?;
        self.append_noted(&tx, "note", kind, &number, "", note)?;
        tx.commit()?;
        self.anchor_head();
        Ok(())
    }

    /// Note in the evidence chain that staff saw a record's personal data (`detail` says
    /// how, never what).
    pub fn note_access(&self, number: &str, detail: &str) -> Result<()> {
        let number = normalise_number(number);
        let tx = self.write_tx()?;
        let kind = self
            .kind_of(&number)?
            .ok_or_else(|| StoreError::NotFound(number.clone()))?;
        self.append(&tx, "access", kind, &number, detail)?;
        tx.commit()?;
        self.anchor_head();
        Ok(())
    }
}
