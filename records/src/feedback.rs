//! Complaints, praise, 随手拍 (a problem seen in the neighbourhood) and service ratings.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::{Contact, RecordKind, Store};

/// Feedback kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    /// A complaint or suggestion.
    Complaint,
    /// Praise.
    Praise,
    /// 随手拍: a problem seen in the neighbourhood.
    Snapshot,
    /// 服务评价: a rating of a service.
    Rating,
}

impl FeedbackKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Complaint => "complaint",
            FeedbackKind::Praise => "praise",
            FeedbackKind::Snapshot => "snapshot",
            FeedbackKind::Rating => "rating",
        }
    }
}

/// Feedback to record.
#[derive(Debug, Clone, Serialize)]
pub struct NewFeedback {
    /// Which kind.
    pub kind: FeedbackKind,
    /// What the resident said.
    pub text: String,
    /// Where (for 随手拍).
    pub place: Option<String>,
    /// The service concerned.
    pub service_id: Option<String>,
    /// Rating 1–5 (for 服务评价).
    pub rating: Option<u8>,
    /// Contact, if the resident wants an answer.
    pub contact: Contact,
    /// Dialogue session.
    pub session_id: String,
}

impl Store {
    /// Record a complaint, praise, 随手拍 or rating; returns its number.
    pub fn record_feedback(&self, f: &NewFeedback) -> Result<String> {
        if f.rating.is_some_and(|r| !(1..=5).contains(&r)) {
            return Err(StoreError::Invalid("a rating is 1 to 5".into()));
        }
        let tx = self.write_tx()?;
        let number = self.next_number(&tx)?;
        let now = self.clock.rfc3339();
        tx.execute(
            "INSERT INTO feedback (number, feedback_kind, text, place, service_id, rating, contact, status, created_at, updated_at, session_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?8, ?9)",
            params![
                number,
                f.kind.as_str(),
                f.text,
                f.place,
                f.service_id,
                f.rating.map(i64::from),
                self.sealed(&tx, &number, serde_json::to_string(&f.contact)?)?,
                now,
                f.session_id
            ],
        )?;
        self.append(
            &tx,
            "created",
            RecordKind::Feedback,
            &number,
            f.kind.as_str(),
        )?;
        tx.commit()?;
        self.anchor_head();
        Ok(number)
    }
}
