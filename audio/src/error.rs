//! The one error type of the audio front end.
//!
//! Every message is a single line that names the file (or the input) and the
//! reason, so the binary can print it as-is: `cannot read "x.wav": file is empty`.

/// What can go wrong while reading, converting, analysing or playing audio.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file does not exist.
    #[error("cannot read \"{file}\": file not found")]
    NotFound {
        /// The path as given.
        file: String,
    },
    /// The path names something that is not a regular file (a directory, a pipe, a
    /// device such as `/dev/zero`): it is refused without being opened, so a pipe
    /// cannot make the reader wait forever.
    #[error("cannot read \"{file}\": {what}, not a regular file")]
    NotRegular {
        /// The path as given.
        file: String,
        /// What it is instead (`is a directory`, `is a pipe (FIFO)`, …).
        what: &'static str,
    },
    /// The file (or byte buffer) has zero bytes.
    #[error("cannot read \"{file}\": file is empty")]
    Empty {
        /// The path as given.
        file: String,
    },
    /// The bytes are not in any audio format we know (e.g. a text file renamed `.wav`).
    #[error("cannot read \"{file}\": not an audio file (unrecognised header)")]
    UnknownFormat {
        /// The path as given.
        file: String,
    },
    /// The header or the data is truncated or damaged.
    #[error("cannot read \"{file}\": truncated or corrupt ({detail})")]
    Corrupt {
        /// The path as given.
        file: String,
        /// A short technical hint from the decoder.
        detail: String,
    },
    /// The file is well formed but holds no audio samples.
    #[error("cannot read \"{file}\": no audio samples")]
    NoSamples {
        /// The path as given.
        file: String,
    },
    /// Some decoded samples are NaN or infinite.
    #[error("cannot read \"{file}\": contains NaN or infinite samples")]
    NonFinite {
        /// The path as given.
        file: String,
    },
    /// The sample rate is absent or outside the range we accept.
    #[error("cannot read \"{file}\": sample rate {rate} Hz is outside {min}–{max} Hz")]
    BadSampleRate {
        /// The path as given.
        file: String,
        /// The rate found in the header.
        rate: u64,
        /// Lowest accepted rate.
        min: u32,
        /// Highest accepted rate.
        max: u32,
    },
    /// The audio is longer than the configured maximum.
    #[error(
        "cannot read \"{file}\": {minutes:.1} minutes is longer than the {limit}-minute limit"
    )]
    TooLong {
        /// The path as given.
        file: String,
        /// Length of the audio in minutes (at least this long).
        minutes: f64,
        /// The limit in minutes, already formatted (`10`, `0.5`).
        limit: String,
    },
    /// An operating-system error while reading a file.
    #[error("cannot read \"{file}\": {source}")]
    Io {
        /// The path as given.
        file: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An error while writing a file.
    #[error("cannot write \"{file}\": {reason}")]
    Write {
        /// The path as given.
        file: String,
        /// Why it failed.
        reason: String,
    },
    /// Resampling failed (bad rates or an internal resampler error).
    #[error("cannot resample: {0}")]
    Resample(String),
    /// There is no usable default audio device (normal on servers and CI).
    #[error("{0}")]
    NoDevice(String),
    /// A native backend (ONNX Runtime, ALSA, …) reported an error.
    #[error("{0}")]
    Backend(String),
    /// The requested backend was compiled out.
    #[error("{what} is not available in this build: rebuild with `--features {feature}`")]
    FeatureDisabled {
        /// What was asked for, e.g. `the Silero VAD`.
        what: String,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
    /// An unknown VAD backend name.
    #[error("unknown VAD \"{0}\": expected one of energy, earshot, silero")]
    UnknownVad(String),
    /// A setting is out of range.
    #[error("invalid audio setting: {0}")]
    InvalidConfig(String),
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
