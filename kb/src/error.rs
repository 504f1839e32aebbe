//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the service guide and its retriever.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    /// A guide file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A guide file is not valid TOML or does not match the format.
    #[error("{path}:{line}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem (0 when unknown).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The guide as a whole is inconsistent (missing centre file, duplicate ids, ...).
    #[error("invalid guide: {0}")]
    InvalidGuide(String),
    /// The search index failed.
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The index directory could not be opened.
    #[error("search index directory: {0}")]
    IndexDir(#[from] tantivy::directory::error::OpenDirectoryError),
    /// The sentence encoder failed (dense retrieval).
    #[error("sentence encoder: {0}")]
    Embed(#[from] xiaoan_intents::Error),
    /// Writing a report failed.
    #[error("write: {0}")]
    Write(#[from] std::io::Error),
}

/// Result with [`KbError`].
pub type Result<T> = std::result::Result<T, KbError>;
