//! LoRA (low-rank adaptation) deltas for the Whisper weights, merged at load time.
//!
//! A dialect adapter may ship a small file of low-rank deltas that are added to the base
//! model's projection matrices: `W' = W + (alpha / rank) · B · A`. Both engines merge the
//! deltas once, when the model is loaded (candle) or when the dialect's ggml file is
//! written (whisper.cpp), so decoding runs at the base model's speed.
//!
//! # File format
//!
//! A [safetensors] file. For every targeted weight, named by its Hugging Face Whisper name
//! (the names the importer writes, e.g. `model.decoder.layers.0.self_attn.q_proj.weight`):
//!
//! | tensor | shape | meaning |
//! |---|---|---|
//! | `<name>.lora_A` | `[rank, in]` | down-projection |
//! | `<name>.lora_B` | `[out, rank]` | up-projection |
//!
//! where `[out, in]` is the target weight's shape. Data types F32, F16 or BF16.
//! The file's `__metadata__` map carries `"rank"` and `"alpha"` as decimal strings
//! (`"format": "xiaoan-lora/1"` is written and not required). When `alpha` is missing it
//! defaults to `rank` (scale 1); when `rank` is missing it is read from the A shape. All
//! targets share one rank and one alpha. The target projections are exactly the names
//! present in the file.
//!
//! [safetensors]: the Hugging Face tensor file format: an 8-byte little-endian header
//! length, a JSON header, then raw little-endian tensor data.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
pub use crate::tensor_file::HostTensor;

/// Suffix of the down-projection tensor of a target.
pub const LORA_A_SUFFIX: &str = ".lora_A";
/// Suffix of the up-projection tensor of a target.
pub const LORA_B_SUFFIX: &str = ".lora_B";

/// One target's low-rank pair.
#[derive(Debug, Clone)]
struct LoraPair {
    /// `[rank, in]`, row-major.
    a: Vec<f32>,
    /// `[out, rank]`, row-major.
    b: Vec<f32>,
    out: usize,
    inp: usize,
}

/// Low-rank deltas for a set of target weights, loaded from a safetensors file.
#[derive(Debug, Clone)]
pub struct LoraAdapter {
    rank: usize,
    alpha: f32,
    pairs: BTreeMap<String, LoraPair>,
    source: Option<PathBuf>,
}

impl LoraAdapter {
    /// Reads a LoRA file (format in the module documentation).
    pub fn load(path: &Path) -> Result<Self> {
        let st = crate::tensor_file::read(path)?;
        let bad = |why: String| lora_error(path, why);
        let mut names: Vec<String> = Vec::new();
        for key in st.tensors.keys() {
            if let Some(base) = key.strip_suffix(LORA_A_SUFFIX) {
                names.push(base.to_string());
            } else if !key.ends_with(LORA_B_SUFFIX) {
                return Err(bad(format!(
                    "unexpected tensor `{key}` (want NAME.lora_A / NAME.lora_B)"
                )));
            }
        }
        let meta_num = |key: &str| -> Result<Option<f32>> {
            match st.metadata.get(key) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<f32>()
                    .map(Some)
                    .map_err(|_| bad(format!("metadata `{key}` is not a number: `{v}`"))),
            }
        };
        let meta_rank = meta_num("rank")?;
        let meta_alpha = meta_num("alpha")?;
        let mut rank: Option<usize> = meta_rank.map(|r| r as usize);
        let mut pairs = BTreeMap::new();
        for name in names {
            let a = &st.tensors[&format!("{name}{LORA_A_SUFFIX}")];
            let b = st
                .tensors
                .get(&format!("{name}{LORA_B_SUFFIX}"))
                .ok_or_else(|| {
                    bad(format!(
                        "`{name}{LORA_A_SUFFIX}` has no matching `{LORA_B_SUFFIX}`"
                    ))
                })?;
            if a.shape.len() != 2 || b.shape.len() != 2 {
                return Err(bad(format!("`{name}`: A and B must be matrices")));
            }
            let r = a.shape[0];
            if b.shape[1] != r {
                return Err(bad(format!(
                    "`{name}`: A is {:?} and B is {:?}; want A [r, in], B [out, r]",
                    a.shape, b.shape
                )));
            }
            match rank {
                None => rank = Some(r),
                Some(k) if k != r => {
                    return Err(bad(format!("`{name}` has rank {r}, the file says {k}")));
                }
                _ => {}
            }
            pairs.insert(
                name,
                LoraPair {
                    a: a.data.clone(),
                    b: b.data.clone(),
                    out: b.shape[0],
                    inp: a.shape[1],
                },
            );
        }
        for key in st.tensors.keys() {
            if let Some(base) = key.strip_suffix(LORA_B_SUFFIX) {
                if !pairs.contains_key(base) {
                    return Err(bad(format!("`{key}` has no matching `{LORA_A_SUFFIX}`")));
                }
            }
        }
        let rank = rank.unwrap_or(0);
        if rank == 0 && !pairs.is_empty() {
            return Err(bad("rank 0".into()));
        }
        let alpha = meta_alpha.unwrap_or(rank as f32);
        if !alpha.is_finite() {
            return Err(bad("alpha is not finite".into()));
        }
        Ok(Self {
            rank,
            alpha,
            pairs,
            source: Some(path.to_path_buf()),
        })
    }

    /// The shared rank `r`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The scaling numerator `alpha`.
    pub fn alpha(&self) -> f32 {
        self.alpha
    }

    /// `alpha / rank`, the factor applied to `B · A` (0 for an empty adapter).
    pub fn scale(&self) -> f32 {
        if self.rank == 0 {
            0.0
        } else {
            self.alpha / self.rank as f32
        }
    }

    /// Names of the targeted weights (Hugging Face names), sorted.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.pairs.keys().map(String::as_str)
    }

    /// An error about this adapter, naming its file.
    fn err(&self, detail: String) -> Error {
        let path = self
            .source
            .clone()
            .unwrap_or_else(|| PathBuf::from("(LoRA adapter)"));
        Error::BadModel {
            path,
            detail: format!("LoRA: {detail}"),
        }
    }

    /// The (rows, cols) of target `name`, whose shape in the model is `shape` (`None`:
    /// the model has no such weight); an error unless it is a matrix.
    fn target_dims(&self, name: &str, shape: Option<&[usize]>) -> Result<(usize, usize)> {
        match shape {
            None => Err(self.err(format!("target `{name}` is not a weight of this model"))),
            Some(&[rows, cols]) => Ok((rows, cols)),
            Some(s) => Err(self.err(format!("target `{name}` is not a matrix ({s:?})"))),
        }
    }

    /// The file this adapter came from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// Adds `(alpha / rank) · B · A` to `weight` (`rows` × `cols`, row-major) when `name` is
    /// a target. Returns whether anything was applied; a shape mismatch is an error.
    pub fn apply(&self, name: &str, weight: &mut [f32], rows: usize, cols: usize) -> Result<bool> {
        let Some(p) = self.pairs.get(name) else {
            return Ok(false);
        };
        if p.out != rows || p.inp != cols || weight.len() != rows * cols {
            return Err(self.err(format!(
                "`{name}`: delta is {}x{} but the weight is {rows}x{cols}",
                p.out, p.inp
            )));
        }
        let r = self.rank;
        let scale = self.scale();
        // W[i, :] += scale * sum_k B[i, k] * A[k, :]
        for i in 0..rows {
            let row = &mut weight[i * cols..(i + 1) * cols];
            for k in 0..r {
                let bik = p.b[i * r + k] * scale;
                if bik == 0.0 {
                    continue;
                }
                let arow = &p.a[k * cols..(k + 1) * cols];
                for (w, a) in row.iter_mut().zip(arow) {
                    *w += bik * a;
                }
            }
        }
        Ok(true)
    }
}

/// Merges `lora` into host tensors keyed by Hugging Face name. Every target must exist
/// and be a matrix of the delta's shape. Returns the number of tensors changed.
pub fn merge_lora_into(
    tensors: &mut HashMap<String, HostTensor>,
    lora: &LoraAdapter,
) -> Result<usize> {
    let mut n = 0;
    for name in lora.targets() {
        let t = tensors.get_mut(name);
        let (rows, cols) = lora.target_dims(name, t.as_ref().map(|t| t.shape.as_slice()))?;
        if let Some(t) = t {
            if lora.apply(name, &mut t.data, rows, cols)? {
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Merges `lora` into candle tensors keyed by Hugging Face name (e.g. the map given to
/// `VarBuilder::from_tensors`), keeping each tensor's dtype and device. Returns the
/// number of tensors changed.
#[cfg(feature = "candle")]
pub fn merge_lora_candle(
    tensors: &mut HashMap<String, candle_core::Tensor>,
    lora: &LoraAdapter,
) -> Result<usize> {
    let mut n = 0;
    for name in lora.targets() {
        let t = tensors.get(name);
        let (rows, cols) = lora.target_dims(name, t.map(|t| t.dims()))?;
        let Some(t) = t else { continue };
        let (dtype, device) = (t.dtype(), t.device().clone());
        let cand = |e: candle_core::Error| lora.err(format!("`{name}`: {e}"));
        let mut data: Vec<f32> = t
            .to_dtype(candle_core::DType::F32)
            .and_then(|x| x.flatten_all())
            .and_then(|x| x.to_vec1())
            .map_err(cand)?;
        if lora.apply(name, &mut data, rows, cols)? {
            let merged = candle_core::Tensor::from_vec(data, (rows, cols), &device)
                .and_then(|x| x.to_dtype(dtype))
                .map_err(cand)?;
            tensors.insert(name.to_string(), merged);
            n += 1;
        }
    }
    Ok(n)
}

/// One target for [`write_lora`]: the weight's name, A (`[rank, in]` row-major), B
/// (`[out, rank]` row-major), and `(out, in)`.
#[derive(Debug, Clone)]
pub struct LoraEntry {
    /// Hugging Face name of the targeted weight.
    pub name: String,
    /// Down-projection, `[rank, in]`, row-major.
    pub a: Vec<f32>,
    /// Up-projection, `[out, rank]`, row-major.
    pub b: Vec<f32>,
    /// Rows of the target (`out`).
    pub out: usize,
    /// Columns of the target (`in`).
    pub inp: usize,
}

/// Writes a LoRA file in the format [`LoraAdapter::load`] reads (F32 data).
pub fn write_lora(path: &Path, entries: &[LoraEntry], rank: usize, alpha: f32) -> Result<()> {
    let mut tensors = BTreeMap::new();
    for e in entries {
        if e.a.len() != rank * e.inp || e.b.len() != e.out * rank {
            return Err(Error::BadModel {
                path: path.to_path_buf(),
                detail: format!("`{}`: A/B sizes do not match rank {rank}", e.name),
            });
        }
        tensors.insert(
            format!("{}{LORA_A_SUFFIX}", e.name),
            HostTensor {
                shape: vec![rank, e.inp],
                data: e.a.clone(),
            },
        );
        tensors.insert(
            format!("{}{LORA_B_SUFFIX}", e.name),
            HostTensor {
                shape: vec![e.out, rank],
                data: e.b.clone(),
            },
        );
    }
    let meta = HashMap::from([
        ("format".to_string(), "xiaoan-lora/1".to_string()),
        ("rank".to_string(), rank.to_string()),
        ("alpha".to_string(), alpha.to_string()),
    ]);
    crate::tensor_file::write_f32(path, &tensors, meta).map(|_| ())
}

fn lora_error(path: &Path, why: String) -> Error {
    Error::BadModel {
        path: path.to_path_buf(),
        detail: format!("LoRA: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small deterministic pseudo-random values in [-1, 1).
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    fn model() -> HashMap<String, HostTensor> {
        let mut m = HashMap::new();
        for (i, name) in [
            "model.decoder.layers.0.self_attn.q_proj.weight",
            "model.decoder.layers.0.self_attn.v_proj.weight",
            "model.encoder.layers.0.fc1.weight",
        ]
        .iter()
        .enumerate()
        {
            m.insert(
                name.to_string(),
                HostTensor {
                    shape: vec![6, 5],
                    data: values(30, i as u32 + 7),
                },
            );
        }
        m.insert(
            "model.decoder.layers.0.self_attn.q_proj.bias".into(),
            HostTensor {
                shape: vec![6],
                data: values(6, 99),
            },
        );
        m
    }

    #[test]
    fn zero_adapter_leaves_weights_identical() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zero.safetensors");
        let rank = 2;
        let entry = LoraEntry {
            name: "model.decoder.layers.0.self_attn.q_proj.weight".into(),
            a: values(rank * 5, 3),
            b: vec![0.0; 6 * rank],
            out: 6,
            inp: 5,
        };
        write_lora(&path, &[entry], rank, 8.0).unwrap();
        let lora = LoraAdapter::load(&path).unwrap();
        let before = model();
        let mut after = before.clone();
        merge_lora_into(&mut after, &lora).unwrap();
        assert_eq!(before, after, "a zero B must not change any weight");
    }

    #[test]
    fn nonzero_adapter_changes_exactly_the_targets_by_scaled_ba() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("delta.safetensors");
        let (rank, alpha) = (2usize, 6.0f32);
        let target = "model.decoder.layers.0.self_attn.v_proj.weight";
        let a = values(rank * 5, 11);
        let b = values(6 * rank, 12);
        write_lora(
            &path,
            &[LoraEntry {
                name: target.into(),
                a: a.clone(),
                b: b.clone(),
                out: 6,
                inp: 5,
            }],
            rank,
            alpha,
        )
        .unwrap();
        let lora = LoraAdapter::load(&path).unwrap();
        assert_eq!(lora.rank(), rank);
        assert_eq!(lora.targets().collect::<Vec<_>>(), vec![target]);
        let before = model();
        let mut after = before.clone();
        assert_eq!(merge_lora_into(&mut after, &lora).unwrap(), 1);
        for (name, t) in &before {
            if name == target {
                continue;
            }
            assert_eq!(
                &after[name], t,
                "{name} is not a target and must not change"
            );
        }
        let scale = alpha / rank as f32;
        let mut changed = 0;
        for i in 0..6 {
            for j in 0..5 {
                let delta: f32 = (0..rank)
                    .map(|k| b[i * rank + k] * a[k * 5 + j])
                    .sum::<f32>()
                    * scale;
                let got = after[target].data[i * 5 + j] - before[target].data[i * 5 + j];
                assert!(
                    (got - delta).abs() < 1e-5,
                    "[{i},{j}] changed by {got}, want {delta}"
                );
                if delta.abs() > 1e-6 {
                    changed += 1;
                }
            }
        }
        assert!(changed > 20, "the test delta should touch most entries");
    }

    #[test]
    fn shape_mismatch_and_unknown_target_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.safetensors");
        // a rank-1 delta for a 6×5 weight named `name`, as a one-entry file
        let adapter = |name: &str| {
            let e = LoraEntry {
                name: name.into(),
                a: vec![0.5; 5],
                b: vec![0.5; 6],
                out: 6,
                inp: 5,
            };
            write_lora(&path, &[e], 1, 1.0).unwrap();
            LoraAdapter::load(&path).unwrap()
        };
        assert!(merge_lora_into(&mut model(), &adapter("nope.weight")).is_err());
        let mut w = vec![0.0; 12];
        assert!(adapter("x").apply("x", &mut w, 3, 4).is_err());
        std::fs::write(&path, b"not a tensor file").unwrap();
        assert!(LoraAdapter::load(&path).is_err());
    }
}
