//! Errors of the understanding crate.

/// Everything that can go wrong while loading or training the understanding models.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An embedded or given data file has a malformed line.
    #[error("{file}:{line}: {reason}")]
    Data {
        /// File name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The embedded trained model cannot be decoded.
    #[error("intent model: {0}")]
    Model(String),
    /// A dialect code that is not one of [`crate::DIALECTS`].
    #[error("unsupported dialect {0:?}")]
    UnsupportedDialect(String),
    /// The sentence encoder failed (see [`crate::embed::Embedder`]).
    #[error("sentence encoder: {0}")]
    Embed(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
