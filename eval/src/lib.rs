//! Evaluation for Xiao'an: manifests, importers, metrics and reports.
//!
//! Implements the evaluation contract (`spec/eval-format.md`): manifests and predictions
//! as JSON Lines, the metrics of the report (CER, dialect identification, intent accuracy
//! and macro-F1, service recall@1/@3 and MRR, latency percentiles, real-time factor,
//! item errors), the `summary.json` / `report.md` / `report.html` reports, importers for
//! Kaldi-style folders and Common Voice, a synthetic espeak-ng test set, and
//! conversation-level story runs.
//!
//! This crate does not depend on the agent: the agent implements [`Pipeline`] (and
//! [`stories::StoryRunner`]) and calls [`run`].
//!
//! ```no_run
//! use std::path::Path;
//! use xiaoan_eval::{read_manifest, run, summarize, write_report, Pipeline, Prediction, ReportMeta, RunOptions};
//!
//! struct Echo;
//! impl Pipeline for Echo {
//!     fn run_item(&self, item: &xiaoan_eval::ManifestItem, _audio: Option<&Path>, _o: &RunOptions) -> Prediction {
//!         Prediction { id: item.id.clone(), transcript: item.text.clone(), ..Default::default() }
//!     }
//! }
//! # fn main() -> xiaoan_eval::Result<()> {
//! let manifest = read_manifest(Path::new("set/manifest.jsonl"))?;
//! let preds = run(&manifest, &Echo, &RunOptions::default());
//! let summary = summarize(&manifest, &preds, ReportMeta::default());
//! write_report(Path::new("report"), &summary)?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod codes;
mod error;
pub mod import;
mod jsonl;
mod manifest;
pub mod metrics;
mod predictions;
mod report;
mod run;
pub mod stories;
pub mod synth;

pub use error::{Error, Result};
pub use manifest::{read_manifest, DialectMode, ItemError, Manifest, ManifestItem};
pub use metrics::{
    cer_normalize, edit_distance, macro_f1, median, percentile, summarize, summarize_at, Confusion,
    DialectMetrics, ErrorEntry, Metrics, ReportMeta, Summary, MAX_ERROR_ENTRIES, SYNTHETIC_LABEL,
};
pub use predictions::{read_predictions, write_predictions, Prediction, PREDICTION_KEYS};
pub use report::{compare, headline_markdown, read_summary, write_report};
pub use run::{run, Failures, Pipeline, RunOptions, MAX_FAILED_SHARE};
