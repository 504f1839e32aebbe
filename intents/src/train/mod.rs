//! Training and scoring of the intent model.
//!
//! The labelled data is read in [`crate::data`] and re-exported here. With the cargo
//! feature `train` (off for the runtime, which ships the trained `model/intent-model.bin`
//! and never needs a random number generator) this module also holds the trainer:
//! `noisy` makes ASR-noisy copies of the training examples (characters replaced with
//! other common characters of the same tone-less, fuzzy or coarse pinyin, the table built
//! with the `pinyin` crate over `data/common_chars.txt`, GB 2312 level 1), `train` fits
//! the model on them, `cross_validate` scores the recipe. [`evaluate`] scores a model
//! on any labelled set, e.g. the held-out one (`examples/speech.rs` scores the recogniser
//! transcripts).

#[cfg(feature = "train")]
mod fit;
#[cfg(feature = "train")]
mod noise;
mod report;

pub use crate::data::{
    check_data, examples, heldout, services, speech_dev, speech_heldout, Example,
};
#[cfg(feature = "train")]
pub use fit::{cross_validate, train, train_with, write_model};
#[cfg(feature = "train")]
pub use noise::{noisy, NOISE_RATE};
pub use report::{evaluate, Prediction, Report};

/// The seed of the committed model.
pub const SEED: u64 = 20_251_129;
