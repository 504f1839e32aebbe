//! Understanding for Xiao'an: text in, meaning out.
//!
//! The input is what a recogniser heard (often a dialect's written form, Traditional
//! characters, homophone errors) or what a resident typed. This crate owns:
//!
//! - [`normalize`] / [`normalize_with_dialect`]: Traditional→Simplified, full→half width,
//!   fillers and punctuation removed, dialect words mapped to Mandarin through the embedded
//!   lexicons (`lexicons/<code>.tsv`, see [`lexicon`]), numbers as digits, tone-less pinyin.
//! - [`identify_dialect`]: a distribution over the seven [`DIALECTS`] from marker words and
//!   a character n-gram model counted, when first used, from the project's dialect examples.
//! - [`Understander`]: the intent classifier (multinomial logistic regression over hashed
//!   character and pinyin n-grams, trained in Rust by `train::train` with the cargo feature
//!   `train`, committed as a small binary file and embedded), emergency keyword rules, and
//!   context (yes/no) resolution.
//! - [`sound`]: names found by sound in garbled recogniser text (syllable alignment with
//!   partial credit for the recogniser's confusions), for the classifier and the guide.
//! - [`extract_entities`]: names (with whose they are: 孩子妈妈叫李芳 → `mother`), resident
//!   ID numbers (checksum-validated), mobile numbers, dates, times, addresses, money and
//!   counts, spoken forms included.
//!
//! The embedded data files are read in one place, [`data`]; the contract's dialect codes
//! and intent labels come from `xiaoan-spec`.
//!
//! ```
//! use xiaoan_intents::{Context, Intent, Understander};
//! let u = Understander::builtin().unwrap();
//! let r = u.understand("我想办社保卡", &Context::default());
//! assert_eq!(r.intent.intent, Intent::ServiceQuery);
//! ```
#![warn(missing_docs)]

pub mod data;
mod dialect;
pub mod embed;
pub mod emergency;
mod entities;
mod error;
mod features;
mod lexicon;
pub mod meaning;
mod model;
mod normalize;
mod numbers;
mod rules;
pub mod score;
mod script;
pub mod sound;
#[cfg(any(test, feature = "test-encoder"))]
#[doc(hidden)]
pub mod test_encoder;
pub mod train;
mod understand;

pub use data::{lexicon, lexicon_tsv};
pub use dialect::{identify_dialect, DialectGuess};
pub use entities::{
    extract_entities, id_number_valid, mask_id, mask_name, mask_phone, Entity, EntityKind,
};
pub use error::{Error, Result};
pub use model::Model;
pub use normalize::{normalize, normalize_with_dialect, to_pinyin, Normalized};
pub use numbers::convert as numerals_to_digits;
pub use understand::{
    bench, Awaiting, BenchReport, Context, IntentResult, Understander, Understanding,
};
/// The 18 intents of `spec/intents.tsv`, from the contract (`xiaoan-spec`). Serialises as
/// its label (`"service.query"`).
pub use xiaoan_spec::Intent;
/// The seven dialect codes of `spec/dialects.tsv`, `cmn` (Mandarin) first: the contract's
/// [`xiaoan_spec::DIALECT_CODES`].
pub use xiaoan_spec::DIALECT_CODES as DIALECTS;

/// Whether the words name an emergency (摔倒, 救命, 着火, … or how a recogniser garbles
/// them by sound), as opposed to the classifier only guessing one: the dialogue acts on
/// the first at once and asks before raising an alarm on a weak guess.
pub fn names_emergency(n: &Normalized) -> bool {
    rules::emergency(&n.text, &n.pinyin)
}
