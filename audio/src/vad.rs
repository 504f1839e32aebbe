//! Voice activity detection: the [`Vad`] trait and its backends.
//!
//! A VAD looks at one short frame of 16 kHz audio at a time and says how likely
//! it is to be speech. The trait is deliberately tiny (frame size + probability)
//! so that backends with very different models fit behind it and the
//! [`crate::Endpointer`] does the framing and the decisions once, for all of them.

use std::path::Path;

use crate::buf::rms_dbfs;
use crate::{Error, Result};

/// A frame-level speech detector for 16 kHz mono audio.
///
/// Implementations keep state across frames (noise floor, recurrent state), so one
/// instance serves one stream; call [`Vad::reset`] between unrelated streams.
pub trait Vad: Send {
    /// Short backend name (`"energy"`, `"earshot"`, `"silero"`).
    fn name(&self) -> &'static str;
    /// Number of 16 kHz samples per frame this backend wants.
    fn frame_samples(&self) -> usize;
    /// Probability in `[0, 1]` that the frame (exactly [`Vad::frame_samples`]
    /// samples at 16 kHz) is speech. Other lengths are zero-padded or truncated.
    fn speech_probability(&mut self, frame: &[f32]) -> f32;
    /// Forget all state, as for a new stream.
    fn reset(&mut self);
}

/// Copy `frame` into `out` (length `n`), truncating or zero-padding, and
/// replacing non-finite samples with 0 and clamping to `[-1, 1]`.
pub(crate) fn fit_frame(frame: &[f32], n: usize, out: &mut Vec<f32>) {
    out.clear();
    out.extend(frame.iter().take(n).map(|s| {
        if s.is_finite() {
            s.clamp(-1.0, 1.0)
        } else {
            0.0
        }
    }));
    out.resize(n, 0.0);
}

// ---------------------------------------------------------------------------
// Energy

/// Frame of the energy VAD: 20 ms at 16 kHz.
const ENERGY_FRAME: usize = 320;
/// Start value and lowest value of the noise floor (dBFS): quieter rooms are
/// treated as this quiet, so that digital silence does not make any hiss "speech".
const ENERGY_FLOOR_MIN_DB: f32 = -60.0;
/// Level above the noise floor (dB) at which the probability is 0.5.
const ENERGY_MARGIN_DB: f32 = 10.0;
/// Width of the logistic ramp (dB per e-fold).
const ENERGY_SLOPE_DB: f32 = 2.0;
/// Noise-floor follow rate when the level falls below it (per frame: fast).
const ENERGY_FALL: f32 = 0.2;
/// Noise-floor follow rate when the level is above it (per frame, ≈ 10 s time constant).
const ENERGY_RISE: f32 = 0.002;
/// Frames at the start of a stream (0.5 s) during which the floor rises fast,
/// so a noisy room is learnt at once instead of over ten seconds.
const ENERGY_WARMUP_FRAMES: u32 = 25;

/// A plain energy detector with an adaptive noise floor. Always compiled, no
/// model: good for tests and as a fallback, weak in noise (it hears any loud
/// sound as speech).
///
/// The floor follows quiet frames quickly and loud frames slowly, so a steady
/// noise (a fan) is learnt as background within seconds while speech onsets stand out.
#[derive(Clone, Debug)]
pub struct EnergyVad {
    floor_db: f32,
    frames: u32,
    scratch: Vec<f32>,
}

impl Default for EnergyVad {
    fn default() -> Self {
        Self::new()
    }
}

impl EnergyVad {
    /// A detector with the floor at its quiet-room start value.
    pub fn new() -> Self {
        Self {
            floor_db: ENERGY_FLOOR_MIN_DB,
            frames: 0,
            scratch: Vec::with_capacity(ENERGY_FRAME),
        }
    }

    /// Current noise-floor estimate in dBFS.
    pub fn noise_floor_db(&self) -> f32 {
        self.floor_db
    }
}

impl Vad for EnergyVad {
    fn name(&self) -> &'static str {
        "energy"
    }

    fn frame_samples(&self) -> usize {
        ENERGY_FRAME
    }

    fn speech_probability(&mut self, frame: &[f32]) -> f32 {
        let mut buf = std::mem::take(&mut self.scratch);
        fit_frame(frame, ENERGY_FRAME, &mut buf);
        let level = rms_dbfs(&buf);
        self.scratch = buf;
        let p = 1.0 / (1.0 + (-(level - self.floor_db - ENERGY_MARGIN_DB) / ENERGY_SLOPE_DB).exp());
        let rate = if level < self.floor_db || self.frames < ENERGY_WARMUP_FRAMES {
            ENERGY_FALL
        } else {
            ENERGY_RISE
        };
        self.frames = self.frames.saturating_add(1);
        self.floor_db = (self.floor_db + rate * (level - self.floor_db)).max(ENERGY_FLOOR_MIN_DB);
        p
    }

    fn reset(&mut self) {
        self.floor_db = ENERGY_FLOOR_MIN_DB;
        self.frames = 0;
    }
}

// ---------------------------------------------------------------------------
// Earshot

/// earshot's frame: exactly 256 samples (16 ms) at 16 kHz (`Detector::predict_f32` docs).
const EARSHOT_FRAME: usize = 256;

/// The default VAD: earshot, a small pure-Rust neural detector (no set-up, no
/// native library). Its score is already in `[0, 1]`; 0.5 is its suggested threshold.
pub struct EarshotVad {
    det: Box<earshot::Detector>,
    scratch: Vec<f32>,
}

impl Default for EarshotVad {
    fn default() -> Self {
        Self::new()
    }
}

impl EarshotVad {
    /// A fresh detector (about 8 KiB of state, kept on the heap).
    pub fn new() -> Self {
        Self {
            det: earshot::Detector::default_boxed(),
            scratch: Vec::with_capacity(EARSHOT_FRAME),
        }
    }
}

impl Vad for EarshotVad {
    fn name(&self) -> &'static str {
        "earshot"
    }

    fn frame_samples(&self) -> usize {
        EARSHOT_FRAME
    }

    fn speech_probability(&mut self, frame: &[f32]) -> f32 {
        let mut buf = std::mem::take(&mut self.scratch);
        fit_frame(frame, EARSHOT_FRAME, &mut buf);
        let p = self.det.predict_f32(&buf);
        self.scratch = buf;
        if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    fn reset(&mut self) {
        self.det.reset();
    }
}

// ---------------------------------------------------------------------------

/// Make a VAD by its configuration name: `"energy"`, `"earshot"` or `"silero"`.
///
/// Silero needs the model file and the ONNX Runtime library, and the `onnx`
/// feature; without the feature the error says to rebuild with it.
pub fn vad_by_name(
    name: &str,
    silero_model: Option<&Path>,
    ort_lib: Option<&Path>,
) -> Result<Box<dyn Vad>> {
    match name.trim().to_ascii_lowercase().as_str() {
        "energy" => Ok(Box::new(EnergyVad::new())),
        "earshot" => Ok(Box::new(EarshotVad::new())),
        "silero" => silero(silero_model, ort_lib),
        _ => Err(Error::UnknownVad(name.to_string())),
    }
}

#[cfg(feature = "onnx")]
fn silero(model: Option<&Path>, lib: Option<&Path>) -> Result<Box<dyn Vad>> {
    let model = model.ok_or_else(|| {
        Error::Backend(
            "the Silero VAD needs its model file (silero_vad.onnx); run make setup".into(),
        )
    })?;
    let lib = lib.ok_or_else(|| {
        Error::Backend(
            "the Silero VAD needs the ONNX Runtime library (libonnxruntime.so); run make setup"
                .into(),
        )
    })?;
    Ok(Box::new(crate::silero::SileroVad::load(model, lib)?))
}

#[cfg(not(feature = "onnx"))]
fn silero(_model: Option<&Path>, _lib: Option<&Path>) -> Result<Box<dyn Vad>> {
    Err(Error::FeatureDisabled {
        what: "the Silero VAD".into(),
        feature: "onnx",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resample::tests::sine;

    fn noise(n: usize, amp: f32, seed: u64) -> Vec<f32> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
            })
            .collect()
    }

    fn mean_prob(vad: &mut dyn Vad, x: &[f32]) -> f32 {
        let n = vad.frame_samples();
        let ps: Vec<f32> = x
            .chunks_exact(n)
            .map(|f| vad.speech_probability(f))
            .collect();
        ps.iter().sum::<f32>() / ps.len().max(1) as f32
    }

    #[test]
    fn energy_vad_hears_a_loud_burst_over_quiet_noise() {
        let mut v = EnergyVad::new();
        let quiet = noise(16_000, 0.003, 1);
        let loud = sine(300.0, 16_000, 8_000, 0.3);
        assert!(mean_prob(&mut v, &quiet) < 0.1);
        assert!(mean_prob(&mut v, &loud) > 0.9);
    }

    #[test]
    fn energy_vad_learns_steady_noise_as_background() {
        let mut v = EnergyVad::new();
        // quiet room for 2 s, then a fan switches on
        let quiet = noise(16_000 * 2, 0.001, 3);
        let _ = mean_prob(&mut v, &quiet);
        let fan = noise(16_000 * 20, 0.05, 2);
        let early = mean_prob(&mut v, &fan[..16_000]);
        let _middle = mean_prob(&mut v, &fan[16_000..16_000 * 19]);
        let late = mean_prob(&mut v, &fan[16_000 * 19..]);
        assert!(
            early > 0.5,
            "a sudden noise starts as speech-like ({early})"
        );
        assert!(late < 0.2, "after 20 s the fan is background ({late})");
        v.reset();
        assert_eq!(v.noise_floor_db(), ENERGY_FLOOR_MIN_DB);
    }

    #[test]
    fn energy_vad_in_a_noisy_room_still_hears_a_voice() {
        // the stream starts in a noisy hall: learnt within the first second
        let mut v = EnergyVad::new();
        let hall = noise(16_000 * 3, 0.03, 4);
        let _ = mean_prob(&mut v, &hall[..16_000 / 2]);
        let settled = mean_prob(&mut v, &hall[16_000 / 2..16_000 * 3]);
        assert!(settled < 0.1, "hall noise scored {settled}");
        // a voice 20 dB above the hall
        let voice: Vec<f32> = sine(200.0, 16_000, 16_000, 0.4)
            .iter()
            .zip(noise(16_000, 0.03, 5))
            .map(|(a, b)| a + b)
            .collect();
        assert!(mean_prob(&mut v, &voice) > 0.9);
    }

    #[test]
    fn earshot_is_quiet_on_silence_and_survives_bad_frames() {
        let mut v = EarshotVad::new();
        assert_eq!(v.frame_samples(), 256);
        let p = mean_prob(&mut v, &vec![0.0; 16_000]);
        assert!(p < 0.2, "silence scored {p}");
        // wrong length, NaN and out-of-range samples must not panic
        let q = v.speech_probability(&[f32::NAN, 5.0, -7.0]);
        assert!((0.0..=1.0).contains(&q));
    }

    #[test]
    fn vad_by_name_knows_the_backends() {
        assert_eq!(vad_by_name("energy", None, None).unwrap().name(), "energy");
        assert_eq!(
            vad_by_name("Earshot", None, None).unwrap().name(),
            "earshot"
        );
        let e = vad_by_name("webrtc", None, None).err().unwrap().to_string();
        assert!(e.contains("unknown VAD \"webrtc\""), "{e}");
        let e = vad_by_name("silero", None, None).err().unwrap().to_string();
        if cfg!(feature = "onnx") {
            assert!(e.contains("model file"), "{e}");
        } else {
            assert!(e.contains("rebuild with `--features onnx`"), "{e}");
        }
    }
}
