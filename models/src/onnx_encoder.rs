//! Whisper's audio encoder on ONNX Runtime (feature `onnx`), for the candle engine.
//!
//! The encoder is most of a short utterance's decoding time, and ONNX Runtime's CPU
//! kernels run it several times faster than candle or whisper.cpp on this kind of
//! machine (the README quotes the measurement). The graph is written in memory from the
//! weights the candle engine loaded, so a dialect's LoRA deltas are in it too, and
//! nothing new is installed: only the ONNX Runtime library the set-up already fetches
//! for the Silero VAD. The decoder stays on candle.

use std::path::Path;
use std::sync::Mutex;

use candle_core::{Device, Tensor};
use ort::session::Session;

use crate::error::{Error, Result};

/// The encoder session (ONNX Runtime sessions run one call at a time here).
pub(crate) struct OnnxEncoder {
    session: Mutex<Session>,
    d: usize,
    /// decoder layers (pairs of cross-attention key/value outputs)
    layers: usize,
    /// attention heads of the decoder
    heads: usize,
}

impl std::fmt::Debug for OnnxEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxEncoder").field("d", &self.d).finish()
    }
}

fn backend(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Decode(format!("ONNX Runtime encoder: {what}: {e}"))
}

impl OnnxEncoder {
    /// A session for `model` (an ONNX `ModelProto`, see `Model::encoder_onnx`, for a
    /// decoder of `layers` layers of `heads` heads) with
    /// ONNX Runtime loaded from `lib`, on `threads` CPU threads.
    pub(crate) fn new(
        model: &[u8],
        d: usize,
        layers: usize,
        heads: usize,
        lib: &Path,
        threads: usize,
    ) -> Result<Self> {
        let session = crate::ort_session::from_memory(model, lib, threads, |e| {
            Error::Decode(format!("ONNX Runtime encoder: {e}"))
        })?;
        Ok(Self {
            session: Mutex::new(session),
            d,
            layers,
            heads,
        })
    }

    /// mel (1, n_mels, frames) and the positional rows `pos` (frames/2, d) → for each
    /// decoder layer, its cross-attention keys and values split in heads
    /// (1, h, frames/2, d/h): all the decoder needs of the audio.
    pub(crate) fn encode(&self, mel: &Tensor, pos: &Tensor) -> Result<Vec<(Tensor, Tensor)>> {
        let ce = |e: candle_core::Error| Error::Decode(e.to_string());
        let (b, n_mels, frames) = mel.dims3().map_err(ce)?;
        let (t, d) = pos.dims2().map_err(ce)?;
        if b != 1 || d != self.d || frames / 2 != t {
            return Err(Error::Decode(format!(
                "ONNX Runtime encoder: mel {b}×{n_mels}×{frames} does not fit positions {t}×{d}"
            )));
        }
        let mel_v = mel
            .flatten_all()
            .and_then(|x| x.to_vec1::<f32>())
            .map_err(ce)?;
        let pos_v = pos
            .flatten_all()
            .and_then(|x| x.to_vec1::<f32>())
            .map_err(ce)?;
        let mel_t = ort::value::Tensor::from_array(([1usize, n_mels, frames], mel_v))
            .map_err(|e| backend("input", e))?;
        let pos_t =
            ort::value::Tensor::from_array(([t, d], pos_v)).map_err(|e| backend("input", e))?;
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let out = session
            .run(ort::inputs!["mel" => mel_t, "pos" => pos_t])
            .map_err(|e| backend("run", e))?;
        let take = |name: &str, want: &[usize]| -> Result<Tensor> {
            let (shape, data) = out[name]
                .try_extract_tensor::<f32>()
                .map_err(|e| backend("output", e))?;
            let got: Vec<usize> = shape.iter().map(|x| *x as usize).collect();
            if got != want {
                return Err(Error::Decode(format!(
                    "ONNX Runtime encoder: {name} has shape {got:?}, expected {want:?}"
                )));
            }
            let mut dims = vec![1];
            dims.extend_from_slice(want);
            Tensor::from_slice(data, dims, &Device::Cpu).map_err(ce)
        };
        let dh = d / self.heads.max(1);
        let mut kv = Vec::with_capacity(self.layers);
        for i in 0..self.layers {
            kv.push((
                take(&format!("cross_k{i}"), &[self.heads, t, dh])?,
                take(&format!("cross_v{i}"), &[self.heads, t, dh])?,
            ));
        }
        Ok(kv)
    }
}
