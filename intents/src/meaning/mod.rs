//! Intent from meaning: a multinomial logistic regression on sentence embeddings
//! ([`crate::embed::Embedder`]), fused with the character/pinyin n-gram model.
//!
//! The n-gram model knows the centre's words and how a recogniser garbles them; the
//! embedding knows what a sentence is about when none of those words is in it (孙子上礼拜
//! 生的 is a birth to register). Their fusion is a weighted sum of the n-gram model's
//! log-probabilities and this model's logits, with a temperature, all fitted on lines
//! neither model was trained on (see [`train_meaning`]).
//!
//! Training lines: `data/train.tsv` (expanded as for the n-gram model) and
//! `data/train-residents.tsv` (needs, situations, half-sentences, elderly and dialect
//! phrasing written independently of the tests). Both models learn the residents' lines,
//! and the fusion is fitted on out-of-fold scores of them: in [`FOLDS`] folds, a meaning
//! model and an n-gram model trained on `train.tsv` and the other folds score each fold;
//! the fusion weights and temperature that minimise the negative log-likelihood of those
//! out-of-fold scores are kept; the shipped model is then
//! trained on all lines. Full-batch gradient descent from zeros: no randomness but the
//! fold assignment, which is fixed by [`crate::train::SEED`].
//!
//! Binary layout of `model/intent-meaning.bin` (little endian): `XAME`, u32 version,
//! u32 dim, u32 classes, f32 ngram weight, f32 meaning weight, f32 temperature,
//! f32 reserved (0), u32 identity length + UTF-8 encoder identity, 32 bytes sha256 of the
//! training lines, classes × f32 fusion offsets, classes × f32 bias, classes × dim × f32
//! weights.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::train::Example;
use crate::Intent;

#[cfg(feature = "train")]
mod fit;
#[cfg(feature = "train")]
pub use fit::{embed_all, folds, rows, train_from, train_meaning, Hyper, OutOfFold, Row};

const MAGIC: &[u8; 4] = b"XAME";
const VERSION: u32 = 1;

/// Folds for fitting the fusion on out-of-fold scores.
pub const FOLDS: usize = 5;
/// L2 penalty on the weights (per example, mean loss). Chosen by the out-of-fold
/// log-likelihood of the residents' lines (0.3e-3 … 3e-3 alike).
const L2: f32 = 1e-3;
/// Gradient steps (full batch, Nesterov momentum).
const STEPS: usize = 400;
/// Step size.
const LEARNING_RATE: f32 = 2.0;
/// Weight of a garbled copy in the meaning model's loss.
const NOISY_WEIGHT: f32 = 0.0;
/// Momentum.
const MOMENTUM: f32 = 0.9;
/// Recogniser-like copies of each training line (the training's noise model): the
/// meaning model may learn what garbled text looks like to the encoder (with
/// [`NOISY_WEIGHT`]; 0: it does not, measured better), and the fusion weights are fitted
/// on garbled lines as well as clean ones (the n-gram model, trained on such copies,
/// knows garbled words better).
pub const NOISY_COPIES: usize = 1;
/// Noise rates of the copies, in turn (as the n-gram model's copies go).
const NOISE_RATES: [f64; 3] = [0.2, 0.35, 0.5];
/// Smallest weight of a line in the loss: a line of an intent with more lines than the
/// median intent weighs median/count (service questions outnumber every other intent
/// many times), but never less than this.
pub const CLASS_WEIGHT_FLOOR: f32 = 0.2;

/// The committed meaning model (empty in a checkout that has not trained one).
pub(crate) const MEANING_BYTES: &[u8] = include_bytes!("../../model/intent-meaning.bin");

/// A trained meaning model plus its fusion with the n-gram model.
#[derive(Clone, Debug, PartialEq)]
pub struct MeaningModel {
    /// The encoder the model was trained for ([`Embedder::identity`]).
    pub identity: String,
    /// Embedding length.
    pub dim: usize,
    /// Class-major weights, `Intent::ALL.len() × dim`.
    pub(crate) weights: Vec<f32>,
    /// One bias per class.
    pub(crate) bias: Vec<f32>,
    /// Weight of the n-gram model's log-probabilities in the fused logits.
    pub ngram_weight: f32,
    /// Weight of this model's logits in the fused logits.
    pub meaning_weight: f32,
    /// Temperature of the fused softmax.
    pub temperature: f32,
    /// Per-class offset of the fused logits (the two models' priors reconciled).
    pub(crate) fusion_bias: Vec<f32>,
    /// sha256 of the training lines (text, intent, dialect), to tell a stale model.
    pub data_hash: [u8; 32],
}

impl MeaningModel {
    /// Raw class scores of an embedding, in [`Intent::ALL`] order.
    pub fn logits(&self, v: &[f32]) -> Vec<f32> {
        let mut z = self.bias.clone();
        if v.len() != self.dim {
            return z;
        }
        for (c, zc) in z.iter_mut().enumerate() {
            let row = &self.weights[c * self.dim..(c + 1) * self.dim];
            *zc += row.iter().zip(v).map(|(w, x)| w * x).sum::<f32>();
        }
        z
    }

    /// Fused, calibrated class probabilities from the n-gram model's probabilities and
    /// an embedding.
    pub fn fuse(&self, ngram_probs: &[f32], v: &[f32]) -> Vec<f32> {
        self.fuse_scores(ngram_probs, &self.logits(v))
    }

    /// Fused, calibrated class probabilities from the n-gram model's probabilities and
    /// this model's logits ([`MeaningModel::logits`]).
    pub fn fuse_scores(&self, ngram_probs: &[f32], logits: &[f32]) -> Vec<f32> {
        let mut f = fused_logits(ngram_probs, logits, self.ngram_weight, self.meaning_weight);
        for (x, c) in f.iter_mut().zip(&self.fusion_bias) {
            *x += c;
        }
        crate::model::softmax(&f, self.temperature)
    }

    /// Encodes the model.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.identity.len() + 4 * self.weights.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&(self.bias.len() as u32).to_le_bytes());
        for f in [
            self.ngram_weight,
            self.meaning_weight,
            self.temperature,
            0.0,
        ] {
            out.extend_from_slice(&f.to_le_bytes());
        }
        out.extend_from_slice(&(self.identity.len() as u32).to_le_bytes());
        out.extend_from_slice(self.identity.as_bytes());
        out.extend_from_slice(&self.data_hash);
        for b in self
            .fusion_bias
            .iter()
            .chain(&self.bias)
            .chain(&self.weights)
        {
            out.extend_from_slice(&b.to_le_bytes());
        }
        out
    }

    /// Decodes [`MeaningModel::to_bytes`] output.
    pub fn from_bytes(b: &[u8]) -> Result<MeaningModel> {
        let bad = |m: &str| Error::Model(format!("meaning model: {m}"));
        if b.len() < 36 || &b[0..4] != MAGIC {
            return Err(bad("bad magic or too short"));
        }
        let u = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let f = |o: usize| f32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        if u(4) != VERSION {
            return Err(bad("unsupported version"));
        }
        let dim = u(8) as usize;
        let k = u(12) as usize;
        if k != Intent::ALL.len() || dim == 0 || dim > 1 << 16 {
            return Err(bad("shape does not match the 18 intents"));
        }
        let (ngram_weight, meaning_weight, temperature) = (f(16), f(20), f(24));
        let id_len = u(32) as usize;
        let head = 36 + id_len + 32;
        if b.len() != head + 4 * k * (dim + 2) {
            return Err(bad("truncated or corrupt"));
        }
        let identity = std::str::from_utf8(&b[36..36 + id_len])
            .map_err(|_| bad("encoder identity is not UTF-8"))?
            .to_string();
        let mut data_hash = [0u8; 32];
        data_hash.copy_from_slice(&b[36 + id_len..head]);
        let floats: Vec<f32> = (0..k * (dim + 2)).map(|i| f(head + 4 * i)).collect();
        let finite = floats.iter().all(|x| x.is_finite())
            && temperature.is_finite()
            && temperature > 0.0
            && ngram_weight.is_finite()
            && meaning_weight.is_finite();
        if !finite {
            return Err(bad("not finite"));
        }
        Ok(MeaningModel {
            identity,
            dim,
            fusion_bias: floats[..k].to_vec(),
            bias: floats[k..2 * k].to_vec(),
            weights: floats[2 * k..].to_vec(),
            ngram_weight,
            meaning_weight,
            temperature,
            data_hash,
        })
    }

    /// The committed model, when one was trained (`None` in a checkout whose file is
    /// empty).
    pub fn builtin() -> Result<Option<MeaningModel>> {
        if MEANING_BYTES.is_empty() {
            return Ok(None);
        }
        MeaningModel::from_bytes(MEANING_BYTES).map(Some)
    }
}

/// `a·log p + b·z`, per class.
pub(crate) fn fused_logits(p: &[f32], z: &[f32], a: f32, b: f32) -> Vec<f32> {
    p.iter()
        .zip(z)
        .map(|(p, z)| a * p.max(1e-6).ln() + b * z)
        .collect()
}

/// The residents' training lines (`data/train-residents.tsv`), read in [`crate::data`].
pub use crate::data::residents;

/// The meaning model's training lines: the n-gram model's (`train.tsv`, expanded) and then
/// the residents' lines.
pub fn training_lines() -> Result<(Vec<Example>, Vec<Example>)> {
    Ok((crate::train::examples().to_vec(), residents()?))
}

/// sha256 over the training lines, the hyper-parameters and the encoder identity.
pub fn data_hash(base: &[Example], residents: &[Example], identity: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(identity.as_bytes());
    h.update(
        format!(
            "v{VERSION} ngram-oof-r2 l2={L2} steps={STEPS} lr={LEARNING_RATE} m={MOMENTUM} folds={FOLDS} \
             floor={CLASS_WEIGHT_FLOOR} noisy={NOISY_COPIES}x{NOISY_WEIGHT} rates={NOISE_RATES:?}\n"
        )
        .as_bytes(),
    );
    for (tag, set) in [("b", base), ("r", residents)] {
        for e in set {
            h.update(
                format!("{tag}\t{}\t{}\t{}\n", e.text, e.intent.as_str(), e.dialect).as_bytes(),
            );
        }
    }
    h.finalize().into()
}

/// An utterance as the classifiers read it (as [`crate::Understander`] does with no
/// session dialect): dialect words mapped to Mandarin when a dialect is marked.
pub fn normalized(text: &str) -> crate::Normalized {
    let g = crate::identify_dialect(text);
    let d = if g.marked { g.code } else { "" };
    crate::normalize_with_dialect(text, d)
}

#[cfg(test)]
mod tests {
    use super::fit::{fit, logits_of};
    use super::*;
    use crate::embed::Embedder;
    use crate::test_encoder;

    #[test]
    fn committed_meaning_model_is_what_training_produces() {
        let m = MeaningModel::builtin()
            .expect("model/intent-meaning.bin decodes")
            .expect("a meaning model is committed");
        assert!(MEANING_BYTES.len() < 64 * 1024);
        assert_eq!(MeaningModel::from_bytes(&m.to_bytes()).unwrap(), m);
        assert_eq!(m.identity, test_encoder::identity());
        // the training lines and settings it was made from are today's
        let (base, res) = training_lines().unwrap();
        assert!(
            m.data_hash == data_hash(&base, &res, &m.identity),
            "model/intent-meaning.bin is stale (training lines or settings changed): retrain \
             with `cargo run --release -p xiaoan-intents --example meaning`"
        );
        // and retraining gives it again (embedding every line: release builds only)
        if cfg!(debug_assertions) {
            eprintln!("SKIP retraining the meaning model: run with --release");
            return;
        }
        let Some(e) = test_encoder::encoder("committed_meaning_model_is_what_training_produces")
        else {
            return;
        };
        let ngram = crate::Understander::builtin().unwrap();
        let (again, _) = train_meaning(e.as_ref(), ngram.model(), Hyper::default()).unwrap();
        assert_eq!(again.data_hash, m.data_hash);
        // the encoder's kernels may round differently on another CPU: equal to within
        // far less than any decision depends on
        let close = |a: &[f32], b: &[f32], tol: f32| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
        };
        assert!(close(&again.weights, &m.weights, 1e-3), "weights differ");
        assert!(close(&again.bias, &m.bias, 1e-3), "bias differs");
        assert!(
            close(&again.fusion_bias, &m.fusion_bias, 1e-2),
            "fusion differs"
        );
        assert!((again.ngram_weight - m.ngram_weight).abs() < 1e-2);
        assert!((again.meaning_weight - m.meaning_weight).abs() < 1e-2);
    }

    #[test]
    fn a_damaged_or_foreign_model_file_is_refused() {
        let m = MeaningModel::builtin().unwrap().unwrap();
        let b = m.to_bytes();
        assert!(MeaningModel::from_bytes(&b[..b.len() - 4]).is_err());
        assert!(MeaningModel::from_bytes(b"XAIM\x01\x00\x00\x00").is_err());
        let mut nan = b.clone();
        let at = nan.len() - 4;
        nan[at..].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(MeaningModel::from_bytes(&nan).is_err());
        // trained for another encoder: the understander says so instead of misreading
        let other: std::sync::Arc<dyn Embedder> =
            std::sync::Arc::new(crate::embed::HashedEmbedder::new(384));
        let err = crate::Understander::builtin()
            .unwrap()
            .with_meaning(m, other)
            .unwrap_err();
        assert!(err.to_string().contains("trained for"), "{err}");
    }

    #[test]
    fn logistic_regression_learns_separable_classes() {
        // three directions in 4-D, two points each: each point's own class wins
        let pts: Vec<(Vec<f32>, usize)> = vec![
            (vec![1.0, 0.1, 0.0, 0.0], 0),
            (vec![0.9, 0.0, 0.1, 0.0], 0),
            (vec![0.0, 1.0, 0.0, 0.1], 6),
            (vec![0.1, 0.9, 0.0, 0.0], 6),
            (vec![0.0, 0.0, 1.0, 0.1], 13),
            (vec![0.0, 0.1, 0.9, 0.0], 13),
        ];
        let x: Vec<&[f32]> = pts.iter().map(|p| p.0.as_slice()).collect();
        let y: Vec<usize> = pts.iter().map(|p| p.1).collect();
        let fitted = fit(&x, &y, &[1.0; 6], 4, Hyper::default());
        for (v, c) in &pts {
            let z = logits_of(&fitted, 4, v);
            let best = (0..z.len()).max_by(|a, b| z[*a].total_cmp(&z[*b])).unwrap();
            assert_eq!(best, *c, "{v:?}");
        }
    }

    #[test]
    fn every_training_line_parses_and_every_intent_has_residents_lines() {
        let res = residents().unwrap();
        assert!(res.len() >= 1000, "{} residents' lines", res.len());
        for i in Intent::ALL {
            let n = res.iter().filter(|e| e.intent == i).count();
            assert!(n >= 20, "{i}: {n} residents' lines");
        }
        assert_eq!(folds(10).len(), 10);
        assert!(folds(100).iter().all(|f| *f < FOLDS));
    }
}
