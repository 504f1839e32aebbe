//! The centre's service guide and its retrieval (`xiaoan-kb`).
//!
//! - [`Guide`]: the guide as data, one TOML file per item plus `centre.toml`
//!   (format in `kb/README.md`); [`Guide::builtin`] is the shipped guide, embedded.
//! - [`check_dir`]: validation reported as `file:line: reason`.
//! - [`TantivyRetriever`] implements [`Retriever`]: jieba words, character bigrams and
//!   tone-less pinyin views, re-ranked by how each item's names are heard by sound, so
//!   that a query with wrong characters still finds its item;
//!   [`decide`] turns ranked [`Hit`]s into an answer, a clarifying question, or nothing.
//! - [`Item::first_answer`], [`Item::chunks`] and [`speakable`] shape answers for the ear.
//!
//! ```no_run
//! use xiaoan_kb::{decide, Decision, Guide, Retriever, TantivyRetriever};
//! let guide = Guide::builtin()?;
//! let retriever = TantivyRetriever::in_ram(&guide)?;
//! let hits = retriever.search("我妈想办个老人卡", 3)?;
//! if let Decision::Answer(hit) = decide(&hits) {
//!     let item = guide.item(&hit.id).ok_or(xiaoan_kb::KbError::InvalidGuide("?".into()))?;
//!     println!("{}", item.first_answer());
//! }
//! # Ok::<(), xiaoan_kb::KbError>(())
//! ```
#![warn(missing_docs)]

mod analyze;
mod answer;
pub mod bench;
mod check;
pub mod dense;
mod error;
pub mod fused;
mod guide;
mod retrieve;
pub mod scoring;

pub use answer::{speakable, Chunk, ChunkKind};
pub use check::{check_dir, CheckIssue};
pub use error::{KbError, Result};
pub use guide::{
    catalog_ids, AccessibleWindow, Centre, Commitment, Contact, Guide, Hours, Item, Location, Site,
    CATALOG_TSV, CENTRE_FILE, SUMMARY_MAX_CHARS, SUMMARY_MAX_SENTENCES,
};
pub use retrieve::{
    decide, spoken_title, Decision, Hit, Retriever, TantivyRetriever, CLOSE_RATIO, MIN_CONFIDENCE,
    MIN_SCORE,
};
