//! The intent model: multinomial logistic regression over hashed features, with a
//! temperature for calibrated confidence, stored as a compact binary file.
//!
//! Binary layout (little endian): `XAIM`, u32 version (1), u32 dim, u32 classes,
//! f32 temperature, f32 scale, classes × f32 bias, classes × dim × i16 weights
//! (weight = i16 × scale), class-major.

use crate::error::{Error, Result};
#[cfg(feature = "train")]
use crate::features::DIM;
use crate::Intent;

const MAGIC: &[u8; 4] = b"XAIM";
const VERSION: u32 = 1;

/// A trained intent model.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Hash buckets per class.
    pub(crate) dim: usize,
    /// Class-major weights, `Intent::ALL.len() × dim`.
    pub(crate) weights: Vec<f32>,
    /// One bias per class.
    pub(crate) bias: Vec<f32>,
    /// Softmax temperature fitted on a held-out fold (confidence calibration).
    pub(crate) temperature: f32,
}

impl Model {
    /// A zero model (uniform predictions), where training starts.
    #[cfg(feature = "train")]
    pub(crate) fn zeros() -> Model {
        let k = Intent::ALL.len();
        Model {
            dim: DIM,
            weights: vec![0.0; k * DIM],
            bias: vec![0.0; k],
            temperature: 1.0,
        }
    }

    /// Raw class scores (logits before the temperature).
    pub(crate) fn logits(&self, feats: &[(u32, f32)]) -> Vec<f32> {
        let k = self.bias.len();
        let mut z = self.bias.clone();
        for (c, zc) in z.iter_mut().enumerate().take(k) {
            let row = &self.weights[c * self.dim..(c + 1) * self.dim];
            for &(i, v) in feats {
                if let Some(w) = row.get(i as usize) {
                    *zc += w * v;
                }
            }
        }
        z
    }

    /// Calibrated class probabilities, in [`Intent::ALL`] order.
    pub fn predict(&self, feats: &[(u32, f32)]) -> Vec<f32> {
        softmax(&self.logits(feats), self.temperature)
    }

    /// Calibrated class probabilities of a normalised utterance.
    pub fn predict_normalized(&self, n: &crate::Normalized) -> Vec<f32> {
        self.predict(&crate::features::features(n))
    }

    /// The calibration temperature.
    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// Encodes the model in the compact binary layout.
    pub fn to_bytes(&self) -> Vec<u8> {
        let max = self.weights.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 {
            max / i16::MAX as f32
        } else {
            1.0
        };
        let mut out = Vec::with_capacity(24 + self.bias.len() * 4 + self.weights.len() * 2);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&(self.bias.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.temperature.to_le_bytes());
        out.extend_from_slice(&scale.to_le_bytes());
        for b in &self.bias {
            out.extend_from_slice(&b.to_le_bytes());
        }
        for w in &self.weights {
            let q = (w / scale).round().clamp(i16::MIN as f32, i16::MAX as f32) as i16;
            out.extend_from_slice(&q.to_le_bytes());
        }
        out
    }

    /// Decodes [`Model::to_bytes`] output.
    pub fn from_bytes(b: &[u8]) -> Result<Model> {
        let bad = |m: &str| Error::Model(m.to_string());
        if b.len() < 24 || &b[0..4] != MAGIC {
            return Err(bad("not an intent model (bad magic or too short)"));
        }
        let u = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let f = |o: usize| f32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        if u(4) != VERSION {
            return Err(bad("unsupported model version"));
        }
        let dim = u(8) as usize;
        let k = u(12) as usize;
        if k != Intent::ALL.len() || dim == 0 || dim > 1 << 24 {
            return Err(bad("model shape does not match the 18 intents"));
        }
        let temperature = f(16);
        let scale = f(20);
        let need = 24 + k * 4 + k * dim * 2;
        if b.len() != need || !(temperature.is_finite() && temperature > 0.0) || !scale.is_finite()
        {
            return Err(bad("model file is truncated or corrupt"));
        }
        let bias = (0..k).map(|i| f(24 + i * 4)).collect();
        let base = 24 + k * 4;
        let weights = (0..k * dim)
            .map(|i| i16::from_le_bytes([b[base + 2 * i], b[base + 2 * i + 1]]) as f32 * scale)
            .collect();
        Ok(Model {
            dim,
            weights,
            bias,
            temperature,
        })
    }
}

/// Softmax with temperature.
pub(crate) fn softmax(z: &[f32], t: f32) -> Vec<f32> {
    let t = if t > 0.0 { t } else { 1.0 };
    let max = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = z.iter().map(|x| ((x - max) / t).exp()).collect();
    let s: f32 = e.iter().sum::<f32>().max(f32::MIN_POSITIVE);
    e.into_iter().map(|x| x / s).collect()
}
