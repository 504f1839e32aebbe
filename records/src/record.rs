//! What a record is: its kind, the statuses each kind takes and the moves between them,
//! and a resident's contact details.

use serde::{Deserialize, Serialize};

/// The kinds of record the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A self-declaration (承诺制 / 容缺受理).
    Filing,
    /// A mediation case.
    Case,
    /// An emergency or a handoff to staff.
    Event,
    /// An appointment.
    Appointment,
    /// A queue ticket.
    Queue,
    /// A complaint, praise, 随手拍 or rating.
    Feedback,
    /// A form left mid-way.
    Draft,
}

impl RecordKind {
    /// Every kind, in listing order.
    pub const ALL: [RecordKind; 7] = [
        RecordKind::Filing,
        RecordKind::Case,
        RecordKind::Event,
        RecordKind::Appointment,
        RecordKind::Queue,
        RecordKind::Feedback,
        RecordKind::Draft,
    ];

    /// The name used in the CLI, JSON and the evidence chain.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Filing => "filing",
            RecordKind::Case => "case",
            RecordKind::Event => "event",
            RecordKind::Appointment => "appointment",
            RecordKind::Queue => "queue",
            RecordKind::Feedback => "feedback",
            RecordKind::Draft => "draft",
        }
    }

    /// Parse a CLI name (`filing`, `case`, … also plurals).
    pub fn parse(s: &str) -> Option<RecordKind> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_suffix('s').unwrap_or(&s);
        RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s || (s == "tj" && *k == RecordKind::Case))
    }

    pub(crate) fn table(self) -> &'static str {
        match self {
            RecordKind::Filing => "filings",
            RecordKind::Case => "cases",
            RecordKind::Event => "events",
            RecordKind::Appointment => "appointments",
            RecordKind::Queue => "queue",
            RecordKind::Feedback => "feedback",
            RecordKind::Draft => "drafts",
        }
    }

    /// Statuses a record of this kind may take (the first is where new records start,
    /// unless noted on the creating call).
    pub fn statuses(self) -> &'static [&'static str] {
        match self {
            RecordKind::Filing => &["filed", "materials_owed", "complete", "withdrawn"],
            RecordKind::Case => &["open", "scheduled", "escalated", "followed_up", "closed"],
            RecordKind::Event => &["open", "acknowledged", "closed"],
            RecordKind::Appointment => &["booked", "cancelled", "done", "no_show"],
            RecordKind::Queue => &["waiting", "serving", "done", "skipped"],
            RecordKind::Feedback => &["open", "answered", "closed"],
            RecordKind::Draft => &["open", "resumed", "closed"],
        }
    }

    /// The statuses a record of this kind may move to from `from` (staff actions).
    /// Final statuses lead nowhere: a closed emergency is not reopened (a new alert is a
    /// new record), a withdrawn or completed filing stays so, a cancelled appointment is
    /// booked again as a new one. Setting the status a record already has is a no-op,
    /// not a transition.
    pub fn next_statuses(self, from: &str) -> &'static [&'static str] {
        match (self, from) {
            (RecordKind::Filing, "filed") => &["materials_owed", "complete", "withdrawn"],
            (RecordKind::Filing, "materials_owed") => &["filed", "complete", "withdrawn"],
            (RecordKind::Case, "open") => &["scheduled", "escalated", "followed_up", "closed"],
            (RecordKind::Case, "scheduled") => &["open", "escalated", "followed_up", "closed"],
            (RecordKind::Case, "escalated") => &["scheduled", "followed_up", "closed"],
            (RecordKind::Case, "followed_up") => &["scheduled", "escalated", "closed"],
            (RecordKind::Event, "open") => &["acknowledged", "closed"],
            (RecordKind::Event, "acknowledged") => &["closed"],
            (RecordKind::Appointment, "booked") => &["cancelled", "done", "no_show"],
            (RecordKind::Queue, "waiting") => &["serving", "done", "skipped"],
            (RecordKind::Queue, "serving") => &["done", "skipped"],
            // a ticket skipped while its holder was away can be called again
            (RecordKind::Queue, "skipped") => &["waiting"],
            (RecordKind::Feedback, "open") => &["answered", "closed"],
            (RecordKind::Feedback, "answered") => &["closed"],
            (RecordKind::Draft, "open") => &["resumed", "closed"],
            (RecordKind::Draft, "resumed") => &["closed"],
            _ => &[],
        }
    }
}

/// Contact details of a resident (personal data, masked in views).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Name, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Mobile number, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}
