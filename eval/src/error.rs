//! The one error type of `xiaoan-eval`.

use std::path::PathBuf;

/// Everything that can stop an evaluation step as a whole.
///
/// Problems with a single manifest item are not errors of this kind: they become an
/// [`ItemError`](crate::ItemError) (or a prediction's `error`) and the run goes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read, written or created.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A JSON document (predictions, summary) could not be parsed.
    #[error("{}:{line}: {reason}", path.display())]
    Json {
        /// The file concerned.
        path: PathBuf,
        /// 1-based line number (0 when the whole file is one document).
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// A dialect code that is not one of the seven in the contract.
    #[error("unknown dialect code `{0}` (expected one of: {known})", known = crate::codes::DIALECT_CODES.join(", "))]
    UnknownDialect(String),
    /// A `--dialect` mode that is neither `auto`, `given` nor a dialect code.
    #[error("bad dialect mode `{0}`: expected `auto`, `given` or a dialect code ({known})", known = crate::codes::DIALECT_CODES.join(", "))]
    BadDialectMode(String),
    /// An input folder or file for an importer is missing or malformed.
    #[error("{}: {reason}", path.display())]
    Import {
        /// The file or folder concerned.
        path: PathBuf,
        /// What was wrong, with a line number where there is one.
        reason: String,
    },
    /// A story file is malformed.
    #[error("{}: {reason}", path.display())]
    Story {
        /// The story file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The voice rendering a synthetic set failed.
    #[error("synthetic voice: {0}")]
    Voice(String),
    /// The `espeak-ng` program is missing or failed.
    #[error("espeak-ng: {0}")]
    Espeak(String),
    /// A WAV file could not be read or written.
    #[error("{}: {reason}", path.display())]
    Wav {
        /// The WAV file.
        path: PathBuf,
        /// What the WAV reader/writer said.
        reason: String,
    },
    /// Options that cannot work together (for example an empty list of rates).
    #[error("invalid options: {0}")]
    Options(String),
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A JSON document at `path` that could not be written or parsed, at 1-based `line`
    /// (0 for the whole document).
    pub(crate) fn json(path: impl Into<PathBuf>, line: usize, reason: impl ToString) -> Self {
        Error::Json {
            path: path.into(),
            line,
            reason: reason.to_string(),
        }
    }

    /// A WAV file at `path` that the WAV reader or writer refused.
    pub(crate) fn wav(path: impl Into<PathBuf>, reason: impl ToString) -> Self {
        Error::Wav {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}
