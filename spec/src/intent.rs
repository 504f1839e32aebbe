//! The 18 intents of `spec/intents.tsv`.

use std::fmt;

/// An intent of `spec/intents.tsv`. Serialises as its label (`"service.query"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Intent {
    /// Asks how a service works (answered from the service guide).
    ServiceQuery,
    /// Wants to file a self-declaration (承诺制, 容缺受理) now.
    DeclarationFile,
    /// Reports a dispute and wants help resolving it.
    DisputeMediate,
    /// Wants to book a time slot.
    AppointmentBook,
    /// Asks about the queue or waiting time.
    QueueStatus,
    /// Wants a staff member.
    HandoffHuman,
    /// Urgent danger or harm.
    Emergency,
    /// Complaint, suggestion or praise.
    FeedbackComplaint,
    /// Asks to be served in a dialect or in Mandarin.
    DialectSwitch,
    /// Asks to hear the last answer again.
    NavRepeat,
    /// Asks for slower speech.
    NavSlower,
    /// Asks for faster speech.
    NavFaster,
    /// Stop talking / cancel the current step.
    NavStop,
    /// Affirms.
    ConfirmYes,
    /// Denies or corrects.
    ConfirmNo,
    /// Greets.
    Greeting,
    /// Ends the conversation.
    Goodbye,
    /// Anything the centre does not handle.
    OutOfScope,
}

/// The labels of [`Intent::ALL`], same order (`spec/intents.tsv`).
pub const INTENT_CODES: [&str; 18] = [
    "service.query",
    "declaration.file",
    "dispute.mediate",
    "appointment.book",
    "queue.status",
    "handoff.human",
    "emergency",
    "feedback.complaint",
    "dialect.switch",
    "nav.repeat",
    "nav.slower",
    "nav.faster",
    "nav.stop",
    "confirm.yes",
    "confirm.no",
    "greeting",
    "goodbye",
    "out_of_scope",
];

impl Intent {
    /// All intents, in the order of `spec/intents.tsv` (also the classifier's class order).
    pub const ALL: [Intent; 18] = [
        Intent::ServiceQuery,
        Intent::DeclarationFile,
        Intent::DisputeMediate,
        Intent::AppointmentBook,
        Intent::QueueStatus,
        Intent::HandoffHuman,
        Intent::Emergency,
        Intent::FeedbackComplaint,
        Intent::DialectSwitch,
        Intent::NavRepeat,
        Intent::NavSlower,
        Intent::NavFaster,
        Intent::NavStop,
        Intent::ConfirmYes,
        Intent::ConfirmNo,
        Intent::Greeting,
        Intent::Goodbye,
        Intent::OutOfScope,
    ];

    /// The label used in `spec/intents.tsv`, e.g. `"service.query"`.
    pub fn as_str(&self) -> &'static str {
        INTENT_CODES[self.index()]
    }

    /// Parses a label of `spec/intents.tsv` (surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<Intent> {
        Intent::exact(s.trim())
    }

    /// The intent whose label is exactly `s`.
    fn exact(s: &str) -> Option<Intent> {
        INTENT_CODES
            .iter()
            .position(|c| *c == s)
            .map(|i| Intent::ALL[i])
    }

    /// Position in [`Intent::ALL`] (the classifier's class index).
    pub fn index(&self) -> usize {
        *self as usize
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Intent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Intent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let label = String::deserialize(d)?;
        Intent::exact(&label)
            .ok_or_else(|| serde::de::Error::unknown_variant(&label, &INTENT_CODES))
    }
}

/// Whether `label` is one of the 18 intent labels (exactly as written).
pub fn is_intent(label: &str) -> bool {
    Intent::exact(label).is_some()
}

/// Position of an intent label in taxonomy order (unknown labels sort last).
pub fn intent_rank(label: &str) -> usize {
    Intent::exact(label).map_or(INTENT_CODES.len(), |i| i.index())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct_and_round_trip() {
        let mut labels = INTENT_CODES.to_vec();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), 18);
        for (k, i) in Intent::ALL.into_iter().enumerate() {
            let c = i.as_str();
            assert_eq!(i.index(), k);
            assert_eq!(intent_rank(c), k);
            assert_eq!(Intent::parse(c), Some(i));
            assert_eq!(Intent::parse(&format!(" {c}\t")), Some(i));
            assert_eq!(i.to_string(), c);
            assert_eq!(serde_json::to_string(&i).unwrap(), format!("\"{c}\""));
            let back: Intent = serde_json::from_str(&format!("\"{c}\"")).unwrap();
            assert_eq!(back, i);
        }
        assert_eq!(Intent::ALL[0].as_str(), "service.query");
        assert_eq!(Intent::ALL[17].as_str(), "out_of_scope");
    }

    #[test]
    fn unknown_labels_are_refused() {
        assert_eq!(Intent::parse("nope"), None);
        assert!(!is_intent(" greeting"));
        assert!(is_intent("greeting"));
        assert_eq!(intent_rank("nope"), 18);
        let err = serde_json::from_str::<Intent>("\"service\"").unwrap_err();
        assert!(err.to_string().contains("service.query"), "{err}");
        assert!(serde_json::from_str::<Intent>("3").is_err());
    }
}
