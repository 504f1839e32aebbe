//! Errors of the agent crate.

/// What can go wrong while configuring or running a conversation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file is unreadable or invalid.
    #[error("config {file}: {reason}")]
    Config {
        /// The file (or "xiaoan.toml").
        file: String,
        /// What is wrong, in one line.
        reason: String,
    },
    /// The records store failed.
    #[error(transparent)]
    Store(#[from] xiaoan_records::StoreError),
    /// Audio could not be read or played.
    #[error(transparent)]
    Audio(#[from] xiaoan_audio::Error),
    /// A model failed to load or run.
    #[error(transparent)]
    Model(#[from] xiaoan_models::Error),
    /// The understanding stage failed to load.
    #[error(transparent)]
    Intents(#[from] xiaoan_intents::Error),
    /// The service guide or its index failed.
    #[error(transparent)]
    Kb(#[from] xiaoan_kb::KbError),
    /// A model file the command needs is not installed.
    #[error("{what} is not installed at {path}: run `make setup` first")]
    NotInstalled {
        /// What is missing.
        what: String,
        /// Where it was looked for.
        path: String,
    },
    /// A typed utterance is longer than [`crate::input::MAX_UTTERANCE_CHARS`].
    #[error("the text is {chars} characters long; at most {max} are understood in one turn")]
    TooLong {
        /// Its length in characters.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// A file system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result with the agent's error.
pub type Result<T> = std::result::Result<T, Error>;
