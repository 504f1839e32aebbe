//! Understanding for Xiao'an: text in, meaning out.
//!
//! The input is what a recogniser heard (often a dialect's written form, Traditional
//! characters, homophone errors) or what a resident typed. This crate owns:
//!
//! - [`normalize`] / [`normalize_with_dialect`]: Traditional→Simplified, full→half width,
//!   fillers and punctuation removed, dialect words mapped to Mandarin through the embedded
//!   lexicons (`lexicons/<code>.tsv`, see [`lexicon`]), numbers as digits, tone-less pinyin.
//! - [`identify_dialect`]: a distribution over the seven [`DIALECTS`] from marker words and
//!   a character n-gram model trained on the project's dialect examples.
//! - [`Understander`]: the intent classifier (multinomial logistic regression over hashed
//!   character and pinyin n-grams, trained in Rust by [`train::train`], committed as a small
//!   binary file and embedded), emergency keyword rules, and context (yes/no) resolution.
//! - [`sound`]: names found by sound in garbled recogniser text (syllable alignment with
//!   partial credit for the recogniser's confusions), for the classifier and the guide.
//! - [`extract_entities`]: names (with whose they are: 孩子妈妈叫李芳 → `mother`), resident
//!   ID numbers (checksum-validated), mobile numbers, dates, times, addresses, money and
//!   counts, spoken forms included.
//!
//! ```
//! use xiaoan_intents::{Context, Intent, Understander};
//! let u = Understander::builtin().unwrap();
//! let r = u.understand("我想办社保卡", &Context::default());
//! assert_eq!(r.intent.intent, Intent::ServiceQuery);
//! ```
#![warn(missing_docs)]

mod dialect;
mod entities;
mod error;
mod features;
mod lexicon;
mod model;
mod normalize;
mod numbers;
mod rules;
pub mod sound;
pub mod train;
mod understand;

pub use dialect::{identify_dialect, DialectGuess};
pub use entities::{
    extract_entities, id_number_valid, mask_id, mask_name, mask_phone, Entity, EntityKind,
};
pub use error::{Error, Result};
pub use lexicon::{lexicon, lexicon_tsv};
pub use model::Model;
pub use normalize::{normalize, normalize_with_dialect, to_pinyin, Normalized};
pub use numbers::convert as numerals_to_digits;
pub use understand::{
    bench, Awaiting, BenchReport, Context, IntentResult, Understander, Understanding,
};

/// Whether the words name an emergency (摔倒, 救命, 着火, … or how a recogniser garbles
/// them by sound), as opposed to the classifier only guessing one: the dialogue acts on
/// the first at once and asks before raising an alarm on a weak guess.
pub fn names_emergency(n: &Normalized) -> bool {
    rules::emergency(&n.text, &n.pinyin)
}

/// The seven dialect codes of `spec/dialects.tsv`; `cmn` (Mandarin) first.
pub const DIALECTS: [&str; 7] = ["cmn", "wuu-sh", "wuu-sz", "yue", "nan", "cmn-sc", "hak"];

/// The 18 intents of `spec/intents.tsv`. Serialises as its code (`"service.query"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Intent {
    /// Asks how a service works (answered from the service guide).
    #[serde(rename = "service.query")]
    ServiceQuery,
    /// Wants to file a self-declaration (承诺制, 容缺受理) now.
    #[serde(rename = "declaration.file")]
    DeclarationFile,
    /// Reports a dispute and wants help resolving it.
    #[serde(rename = "dispute.mediate")]
    DisputeMediate,
    /// Wants to book a time slot.
    #[serde(rename = "appointment.book")]
    AppointmentBook,
    /// Asks about the queue or waiting time.
    #[serde(rename = "queue.status")]
    QueueStatus,
    /// Wants a staff member.
    #[serde(rename = "handoff.human")]
    HandoffHuman,
    /// Urgent danger or harm.
    #[serde(rename = "emergency")]
    Emergency,
    /// Complaint, suggestion or praise.
    #[serde(rename = "feedback.complaint")]
    FeedbackComplaint,
    /// Asks to be served in a dialect or in Mandarin.
    #[serde(rename = "dialect.switch")]
    DialectSwitch,
    /// Asks to hear the last answer again.
    #[serde(rename = "nav.repeat")]
    NavRepeat,
    /// Asks for slower speech.
    #[serde(rename = "nav.slower")]
    NavSlower,
    /// Asks for faster speech.
    #[serde(rename = "nav.faster")]
    NavFaster,
    /// Stop talking / cancel the current step.
    #[serde(rename = "nav.stop")]
    NavStop,
    /// Affirms.
    #[serde(rename = "confirm.yes")]
    ConfirmYes,
    /// Denies or corrects.
    #[serde(rename = "confirm.no")]
    ConfirmNo,
    /// Greets.
    #[serde(rename = "greeting")]
    Greeting,
    /// Ends the conversation.
    #[serde(rename = "goodbye")]
    Goodbye,
    /// Anything the centre does not handle.
    #[serde(rename = "out_of_scope")]
    OutOfScope,
}

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

    /// The code used in `spec/intents.tsv`, e.g. `"service.query"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Intent::ServiceQuery => "service.query",
            Intent::DeclarationFile => "declaration.file",
            Intent::DisputeMediate => "dispute.mediate",
            Intent::AppointmentBook => "appointment.book",
            Intent::QueueStatus => "queue.status",
            Intent::HandoffHuman => "handoff.human",
            Intent::Emergency => "emergency",
            Intent::FeedbackComplaint => "feedback.complaint",
            Intent::DialectSwitch => "dialect.switch",
            Intent::NavRepeat => "nav.repeat",
            Intent::NavSlower => "nav.slower",
            Intent::NavFaster => "nav.faster",
            Intent::NavStop => "nav.stop",
            Intent::ConfirmYes => "confirm.yes",
            Intent::ConfirmNo => "confirm.no",
            Intent::Greeting => "greeting",
            Intent::Goodbye => "goodbye",
            Intent::OutOfScope => "out_of_scope",
        }
    }

    /// Parses a code of `spec/intents.tsv` (surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<Intent> {
        let s = s.trim();
        Intent::ALL.iter().copied().find(|i| i.as_str() == s)
    }

    /// Position in [`Intent::ALL`] (the classifier's class index).
    pub fn index(&self) -> usize {
        Intent::ALL.iter().position(|i| i == self).unwrap_or(0)
    }
}

impl std::fmt::Display for Intent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intent_codes_match_the_spec_and_round_trip() {
        // The codes of spec/intents.tsv, in its order.
        let codes = [
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
        assert_eq!(codes.len(), 18);
        for (c, i) in codes.iter().zip(Intent::ALL) {
            assert_eq!(*c, i.as_str());
            assert_eq!(Intent::parse(c), Some(i));
            assert_eq!(serde_json::to_string(&i).unwrap(), format!("\"{c}\""));
            let back: Intent = serde_json::from_str(&format!("\"{c}\"")).unwrap();
            assert_eq!(back, i);
        }
        assert_eq!(Intent::parse("nope"), None);
    }
}
