//! The public contract of Xiao'an, in one place: what the understanding produces, what
//! the evaluator scores and what the agent asks for.
//!
//! - [`DIALECTS`] / [`DIALECT_CODES`]: the seven dialect codes with their Chinese and
//!   English names (the project's `spec/dialects.tsv`), in report order, `cmn` first.
//! - [`Intent`] / [`INTENT_CODES`]: the 18 intent labels (`spec/intents.tsv`), in taxonomy
//!   order, which is also the intent classifier's class order.
//! - [`check_id_number`] / [`id_checksum_ok`] / [`id_check_character`]: the GB 11643
//!   resident ID number (check character and birth date).
//!
//! The crate depends on nothing but `std` and `serde`, so that the evaluator can depend on
//! it without depending on what it scores.
//!
//! ```
//! use xiaoan_spec::{dialect, Intent, DIALECT_CODES};
//! assert_eq!(DIALECT_CODES[0], "cmn");
//! assert_eq!(dialect("yue").map(|d| d.name_en), Some("Cantonese"));
//! assert_eq!(Intent::parse("service.query"), Some(Intent::ServiceQuery));
//! ```
#![warn(missing_docs)]

mod dialect;
mod id_number;
mod intent;

pub use dialect::{dialect, dialect_rank, is_dialect, Dialect, DIALECTS, DIALECT_CODES};
pub use id_number::{
    check_id_number, id_birth_date, id_check_character, id_checksum_ok, Date, IdNumberError,
};
pub use intent::{intent_rank, is_intent, Intent, INTENT_CODES};
