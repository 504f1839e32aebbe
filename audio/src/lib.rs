//! The audio front end of Xiao'an: everything between a sound and the
//! recogniser, and between a reply and the speaker.
//!
//! * [`AudioBuf`] — mono `f32` samples with their rate; every later stage takes
//!   [`SAMPLE_RATE`] (16 kHz).
//! * Reading: [`load`] / [`load_bytes`] decode WAV (8/16/24/32-bit PCM, 32-bit
//!   float), FLAC, MP3 and OGG/Vorbis at any rate and channel count, average to
//!   mono and resample to 16 kHz, refusing bad input with a one-line [`Error`]
//!   that names the file (missing, not a regular file, empty, not audio, corrupt, no
//!   samples, NaN, absurd rate or channels, longer than [`DecodeOptions::max_seconds`]).
//!   Decoding streams (packet → mono → 16 kHz), so memory is the 16 kHz output plus
//!   a few MB, whatever the file's rate and channels; WAV headers are checked before
//!   the decoder runs, and a decoder panic is an error for that file only.
//! * [`resample`] (rubato, time-aligned), [`StreamResampler`] (the same, fed piece by
//!   piece) and [`write_wav`] / [`wav_bytes`] (16-bit PCM).
//! * [`Vad`] — one frame in, a speech probability out. Backends: [`EarshotVad`]
//!   (default, pure Rust), [`EnergyVad`] (plain, adaptive noise floor) and
//!   `SileroVad` (feature `onnx`, ONNX Runtime loaded at run time); pick one by
//!   name with [`vad_by_name`].
//! * [`Endpointer`] — turns a stream of samples into [`EndpointEvent`]s
//!   (start, audio, end) with the documented [`EndpointConfig`];
//!   [`split_utterances`] does the same for a whole file.
//!   With `onnx`, `ort_environment` hands out the one ONNX Runtime environment
//!   a process may have; other crates that use `ort` should take it from there.
//! * [`earcon`] — short tones for listening / working / done / error.
//! * `Microphone` and `Speaker` (feature `mic`, cpal and rodio): with no sound
//!   card they fail with [`Error::NoDevice`] instead of streaming silence.
//!
//! ```no_run
//! use xiaoan_audio::{load, split_utterances, DecodeOptions, EarshotVad, EndpointConfig};
//! # fn main() -> xiaoan_audio::Result<()> {
//! let audio = load("question.wav".as_ref(), &DecodeOptions::default())?;
//! for u in split_utterances(&audio, Box::new(EarshotVad::new()), &EndpointConfig::default()) {
//!     println!("{:.2}–{:.2} s: {} samples", u.start_s, u.end_s, u.audio.samples.len());
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod buf;
mod decode;
#[cfg(feature = "mic")]
mod device;
mod earcon;
mod endpoint;
mod error;
mod resample;
#[cfg(feature = "onnx")]
mod silero;
mod vad;
mod wav;

pub use buf::{AudioBuf, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, SAMPLE_RATE, SPEECH_FLOOR_DB};
pub use decode::{load, load_bytes, DecodeOptions, MAX_CHANNELS};
pub use earcon::{earcon, Earcon};
pub use endpoint::{
    split_utterances, EndReason, EndpointConfig, EndpointEvent, Endpointer, Utterance,
    CANDIDATE_GAP_MS,
};
pub use error::{Error, Result};
pub use resample::{resample, StreamResampler};
pub use vad::{vad_by_name, EarshotVad, EnergyVad, Vad};
pub use wav::{wav_bytes, write_wav};

#[cfg(feature = "mic")]
pub use device::{Microphone, Speaker};
#[cfg(feature = "onnx")]
pub use silero::{ort_environment, SileroVad};
