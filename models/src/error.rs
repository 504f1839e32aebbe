//! The one error type of the models crate.
//!
//! Messages are single lines that name the file or the model and the reason, so the
//! binary can print them as they are.

use std::path::PathBuf;

/// What can go wrong while importing, loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A model file exists but its contents are not what the reader expects.
    #[error("{}: bad model file ({detail})", path.display())]
    BadModel {
        /// The file involved.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The model folder lacks a file (the set-up or `xiaoan models import` has not run).
    #[error("model not installed: {} is missing (run `make setup` or `xiaoan models import`)", path.display())]
    NotInstalled {
        /// The missing file.
        path: PathBuf,
    },
    /// Loading weights or the tokenizer failed.
    #[error("cannot load model from {}: {detail}", path.display())]
    LoadModel {
        /// The model folder.
        path: PathBuf,
        /// The underlying error.
        detail: String,
    },
    /// The recogniser failed while running.
    #[error("speech recognition failed: {0}")]
    Decode(String),
    /// The input audio cannot be recognised (wrong rate, too long, NaN samples).
    #[error("cannot recognise this audio: {0}")]
    BadAudio(String),
    /// The speech synthesiser is missing or failed.
    #[error("speech synthesis failed: {0}")]
    Tts(String),
    /// A backend was compiled out.
    #[error("the {0} engine is not built in (rebuild with `--features {0}`)")]
    Disabled(&'static str),
    /// The decode was cancelled before it finished (streaming no longer needed it).
    #[error("decoding was cancelled")]
    Cancelled,
    /// A configuration value is out of range.
    #[error("invalid setting: {0}")]
    Config(String),
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
