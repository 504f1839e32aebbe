//! Writer for whisper.cpp's legacy ggml model file, from the imported Hugging Face weights.
//!
//! whisper.cpp (through whisper-rs) reads a single binary file:
//!
//! 1. magic `0x67676d6c` ("ggml"), then eleven `i32` hyper-parameters: n_vocab,
//!    n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer, n_text_ctx, n_text_state,
//!    n_text_head, n_text_layer, n_mels, ftype (`+ 1000 · GGML_QNT_VERSION` when quantised);
//! 2. the mel filterbank: `i32` n_mel, `i32` n_fft (bins), then n_mel·n_fft `f32`;
//! 3. the vocabulary: `i32` count, then per token id `u32` length + raw bytes (the GPT-2
//!    byte-level strings of `tokenizer.json` decoded back to bytes); whisper.cpp adds the
//!    special tokens itself;
//! 4. tensors until end of file: `i32` n_dims, `i32` name length, `i32` ggml type, n_dims
//!    `i32` dimensions innermost first (PyTorch shape reversed), the name, the data.
//!
//! Which tensor is stored in which type follows whisper.cpp's loader (`whisper_model_load`):
//! 1-D tensors (biases, norms) and both positional embeddings are f32, the convolution
//! biases are f32 `[1, n_state]`, the convolution kernels are f16 (f32 only in an all-f32
//! file), and every other matrix (attention, MLP, token embedding) takes the file's type:
//! f16, or the block-quantised Q8_0 / Q5_0, quantised here in Rust with ggml's reference
//! rounding (so files are deterministic).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lora::{merge_lora_into, HostTensor, LoraAdapter};
use crate::tensor_file;

/// ggml file magic, "ggml" (ggml.h `GGML_FILE_MAGIC`).
pub const GGML_FILE_MAGIC: u32 = 0x6767_6d6c;
/// Quantisation format version written into `ftype` (ggml.h `GGML_QNT_VERSION`).
pub const GGML_QNT_VERSION: i32 = 2;
/// Multiplier of the quantisation version in `ftype` (ggml.h `GGML_QNT_VERSION_FACTOR`).
pub const GGML_QNT_VERSION_FACTOR: i32 = 1000;
/// Values per quantisation block for Q8_0 and Q5_0 (ggml-common.h `QK8_0`, `QK5_0`).
pub const QK: usize = 32;

/// The storage type of the large matrices in a written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GgmlType {
    /// Everything f32 (largest, for checking).
    F32,
    /// Half precision (whisper.cpp's usual `ggml-base.bin`).
    F16,
    /// 8-bit blocks of 32 with an f16 scale (34 bytes per block).
    Q8_0,
    /// 5-bit blocks of 32 with an f16 scale (22 bytes per block).
    Q5_0,
}

impl GgmlType {
    /// Every type, for listings.
    pub const ALL: [GgmlType; 4] = [GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q5_0];

    /// Short lower-case name (`f16`, `q8_0`, …), used in file names and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            GgmlType::F32 => "f32",
            GgmlType::F16 => "f16",
            GgmlType::Q8_0 => "q8_0",
            GgmlType::Q5_0 => "q5_0",
        }
    }

    /// Parses a name given by [`GgmlType::name`] (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s.trim()))
    }

    /// ggml's `ggml_type` id (ggml.h).
    fn type_id(self) -> i32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q5_0 => 6,
            GgmlType::Q8_0 => 8,
        }
    }

    /// The header's `ftype` (ggml.h `ggml_ftype`, plus the quantisation version).
    fn ftype(self) -> i32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q8_0 => 7 + GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR,
            GgmlType::Q5_0 => 8 + GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR,
        }
    }

    /// The conventional file name for Whisper base in this type, e.g. `ggml-base-q8_0.bin`.
    pub fn file_name(self) -> String {
        format!("ggml-base-{}.bin", self.name())
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whisper hyper-parameters as whisper.cpp's header wants them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HParams {
    n_vocab: i32,
    n_audio_ctx: i32,
    n_audio_state: i32,
    n_audio_head: i32,
    n_audio_layer: i32,
    n_text_ctx: i32,
    n_text_state: i32,
    n_text_head: i32,
    n_text_layer: i32,
    n_mels: i32,
}

fn ggml_err(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::BadModel {
        path: path.to_path_buf(),
        detail: why.to_string(),
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

fn read_hparams(hf_dir: &Path) -> Result<HParams> {
    let path = hf_dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| ggml_err(&path, e))?;
    let get = |k: &str| -> Result<i32> {
        v.get(k)
            .and_then(|x| x.as_i64())
            .and_then(|x| i32::try_from(x).ok())
            .ok_or_else(|| ggml_err(&path, format!("missing or bad `{k}`")))
    };
    let d_model = get("d_model")?;
    Ok(HParams {
        n_vocab: get("vocab_size")?,
        n_audio_ctx: get("max_source_positions")?,
        n_audio_state: d_model,
        n_audio_head: get("encoder_attention_heads")?,
        n_audio_layer: get("encoder_layers")?,
        n_text_ctx: get("max_target_positions")?,
        n_text_state: d_model,
        n_text_head: get("decoder_attention_heads")?,
        n_text_layer: get("decoder_layers")?,
        n_mels: get("num_mel_bins")?,
    })
}

/// Maps a Hugging Face Whisper tensor name to whisper.cpp's name; `None` for tensors
/// whisper.cpp does not have (the tied `proj_out`, a K bias).
pub fn hf_to_ggml_name(hf: &str) -> Option<String> {
    let rest = hf.strip_prefix("model.")?;
    let (side, rest) = if let Some(r) = rest.strip_prefix("encoder.") {
        ("encoder", r)
    } else if let Some(r) = rest.strip_prefix("decoder.") {
        ("decoder", r)
    } else {
        return None;
    };
    let fixed = match (side, rest) {
        ("encoder", "conv1.weight" | "conv1.bias" | "conv2.weight" | "conv2.bias") => {
            rest.to_string()
        }
        ("encoder", "embed_positions.weight") | ("decoder", "embed_positions.weight") => {
            "positional_embedding".to_string()
        }
        ("encoder", "layer_norm.weight") => "ln_post.weight".into(),
        ("encoder", "layer_norm.bias") => "ln_post.bias".into(),
        ("decoder", "layer_norm.weight") => "ln.weight".into(),
        ("decoder", "layer_norm.bias") => "ln.bias".into(),
        ("decoder", "embed_tokens.weight") => "token_embedding.weight".into(),
        _ => {
            let r = rest.strip_prefix("layers.")?;
            let (n, part) = r.split_once('.')?;
            let n: usize = n.parse().ok()?;
            let (module, param) = part.rsplit_once('.')?;
            let m = match module {
                "self_attn.q_proj" => "attn.query",
                "self_attn.k_proj" if param == "weight" => "attn.key",
                "self_attn.v_proj" => "attn.value",
                "self_attn.out_proj" => "attn.out",
                "self_attn_layer_norm" => "attn_ln",
                "encoder_attn.q_proj" if side == "decoder" => "cross_attn.query",
                "encoder_attn.k_proj" if side == "decoder" && param == "weight" => "cross_attn.key",
                "encoder_attn.v_proj" if side == "decoder" => "cross_attn.value",
                "encoder_attn.out_proj" if side == "decoder" => "cross_attn.out",
                "encoder_attn_layer_norm" if side == "decoder" => "cross_attn_ln",
                "fc1" => "mlp.0",
                "fc2" => "mlp.2",
                "final_layer_norm" => "mlp_ln",
                _ => return None,
            };
            format!("blocks.{n}.{m}.{param}")
        }
    };
    Some(format!("{side}.{fixed}"))
}

/// Reads the regular (non-special) vocabulary of `tokenizer.json` as raw bytes by id.
fn read_vocab(hf_dir: &Path) -> Result<Vec<Vec<u8>>> {
    let path = hf_dir.join("tokenizer.json");
    let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| ggml_err(&path, e))?;
    let vocab = v["model"]["vocab"]
        .as_object()
        .ok_or_else(|| ggml_err(&path, "no model.vocab (want a byte-level BPE tokenizer)"))?;
    // Special tokens (<|endoftext|> …) start the added range; whisper.cpp makes those itself.
    let first_special = v["added_tokens"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["id"].as_u64())
        .min()
        .unwrap_or(u64::MAX);
    let dec = crate::byte_level::byte_decoder();
    let mut by_id: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for (tok, id) in vocab {
        let Some(id) = id.as_u64() else { continue };
        if id >= first_special {
            continue;
        }
        let bytes: Option<Vec<u8>> = tok.chars().map(|c| dec.get(&c).copied()).collect();
        // A token outside the byte alphabet cannot occur in a byte-level BPE; keep its UTF-8.
        by_id.insert(id, bytes.unwrap_or_else(|| tok.as_bytes().to_vec()));
    }
    let n = by_id.keys().next_back().map_or(0, |&m| m + 1) as usize;
    let mut out = vec![Vec::new(); n];
    for (id, b) in by_id {
        out[id as usize] = b;
    }
    Ok(out)
}

/// Reads the 80×201 mel filterbank the importer wrote.
fn read_mel_filters(hf_dir: &Path) -> Result<HostTensor> {
    let path = hf_dir.join("mel_filters.safetensors");
    let st = tensor_file::read(&path)?;
    st.tensors
        .into_values()
        .find(|t| t.shape.len() == 2)
        .ok_or_else(|| ggml_err(&path, "no 2-D filterbank tensor"))
}

/// Reads the model's safetensors file(s) in `hf_dir` (`model.safetensors` or shards).
fn read_weights(hf_dir: &Path) -> Result<HashMap<String, HostTensor>> {
    let single = hf_dir.join("model.safetensors");
    let mut files = Vec::new();
    if single.is_file() {
        files.push(single);
    } else {
        let rd = std::fs::read_dir(hf_dir).map_err(io_err(hf_dir))?;
        for e in rd.flatten() {
            let p = e.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("model") && name.ends_with(".safetensors") {
                files.push(p);
            }
        }
        files.sort();
    }
    if files.is_empty() {
        return Err(ggml_err(
            hf_dir,
            "no model.safetensors (run `xiaoan models import`)",
        ));
    }
    let mut all = HashMap::new();
    for f in files {
        all.extend(tensor_file::read(&f)?.tensors);
    }
    Ok(all)
}

/// How one tensor is stored.
fn storage_type(ggml_name: &str, ndims: usize, ftype: GgmlType) -> GgmlType {
    if ftype == GgmlType::F32 || ndims < 2 || ggml_name.ends_with("positional_embedding") {
        return GgmlType::F32;
    }
    if ggml_name.ends_with("conv1.bias") || ggml_name.ends_with("conv2.bias") {
        return GgmlType::F32;
    }
    if ggml_name.ends_with("conv1.weight") || ggml_name.ends_with("conv2.weight") {
        return GgmlType::F16;
    }
    ftype
}

fn put_i32(w: &mut impl Write, v: i32, path: &Path) -> Result<()> {
    w.write_all(&v.to_le_bytes()).map_err(io_err(path))
}

/// Writes whisper.cpp's ggml file for the model imported in `hf_dir`
/// (`model.safetensors`, `config.json`, `tokenizer.json`, `mel_filters.safetensors`),
/// with the large matrices in `ftype` and, when given, `lora` merged first.
/// The file appears atomically (written beside `out`, then renamed).
pub fn write_ggml(
    hf_dir: &Path,
    out: &Path,
    ftype: GgmlType,
    lora: Option<&LoraAdapter>,
) -> Result<()> {
    let hp = read_hparams(hf_dir)?;
    let filters = read_mel_filters(hf_dir)?;
    let vocab = read_vocab(hf_dir)?;
    let mut weights = read_weights(hf_dir)?;
    if let Some(l) = lora {
        merge_lora_into(&mut weights, l)?;
    }
    // Map and check every tensor before writing anything.
    let mut tensors: Vec<(String, HostTensor)> = Vec::new();
    for (hf, t) in weights {
        match hf_to_ggml_name(&hf) {
            Some(g) => tensors.push((g, t)),
            None if hf == "proj_out.weight" || hf.ends_with("k_proj.bias") => {}
            None => {
                return Err(ggml_err(
                    hf_dir,
                    format!("tensor `{hf}` has no whisper.cpp name"),
                ))
            }
        }
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let expected = 2 + 5 + 15 * hp.n_audio_layer as usize + 4 + 24 * hp.n_text_layer as usize;
    if tensors.len() != expected {
        return Err(ggml_err(
            hf_dir,
            format!(
                "{} tensors map to whisper.cpp names, want {expected}",
                tensors.len()
            ),
        ));
    }

    let tmp: PathBuf = out.with_extension("bin.partial");
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let file = File::create(&tmp).map_err(io_err(&tmp))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let p = tmp.as_path();
    w.write_all(&GGML_FILE_MAGIC.to_le_bytes())
        .map_err(io_err(p))?;
    for v in [
        hp.n_vocab,
        hp.n_audio_ctx,
        hp.n_audio_state,
        hp.n_audio_head,
        hp.n_audio_layer,
        hp.n_text_ctx,
        hp.n_text_state,
        hp.n_text_head,
        hp.n_text_layer,
        hp.n_mels,
        ftype.ftype(),
    ] {
        put_i32(&mut w, v, p)?;
    }
    put_i32(&mut w, filters.shape[0] as i32, p)?;
    put_i32(&mut w, filters.shape[1] as i32, p)?;
    for v in &filters.data {
        w.write_all(&v.to_le_bytes()).map_err(io_err(p))?;
    }
    put_i32(&mut w, vocab.len() as i32, p)?;
    for tok in &vocab {
        w.write_all(&(tok.len() as u32).to_le_bytes())
            .map_err(io_err(p))?;
        w.write_all(tok).map_err(io_err(p))?;
    }
    for (name, t) in &tensors {
        let mut dims: Vec<usize> = t.shape.iter().rev().copied().collect();
        if name.ends_with("conv1.bias") || name.ends_with("conv2.bias") {
            // whisper.cpp wants the conv bias as [1, n_state] (ne0 = 1).
            dims = vec![1, t.len()];
        }
        let st = storage_type(name, t.shape.len(), ftype);
        let data =
            encode(&t.data, st).map_err(|why| ggml_err(hf_dir, format!("`{name}`: {why}")))?;
        put_i32(&mut w, dims.len() as i32, p)?;
        put_i32(&mut w, name.len() as i32, p)?;
        put_i32(&mut w, st.type_id(), p)?;
        for d in &dims {
            put_i32(&mut w, *d as i32, p)?;
        }
        w.write_all(name.as_bytes()).map_err(io_err(p))?;
        w.write_all(&data).map_err(io_err(p))?;
    }
    let file = w.into_inner().map_err(|e| Error::Io {
        path: tmp.clone(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, out).map_err(io_err(out))?;
    Ok(())
}

/// Encodes row-major f32 values in a storage type (rows of 32-multiples for quantised types).
fn encode(x: &[f32], t: GgmlType) -> std::result::Result<Vec<u8>, String> {
    Ok(match t {
        GgmlType::F32 => x.iter().flat_map(|v| v.to_le_bytes()).collect(),
        GgmlType::F16 => x
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect(),
        GgmlType::Q8_0 => quantize_q8_0(x)?,
        GgmlType::Q5_0 => quantize_q5_0(x)?,
    })
}

/// ggml's reference Q8_0 quantisation (`quantize_row_q8_0_ref`): per block of 32, an f16
/// scale `d = max|x| / 127` and 32 `i8` values `round(x / d)`.
pub fn quantize_q8_0(x: &[f32]) -> std::result::Result<Vec<u8>, String> {
    if !x.len().is_multiple_of(QK) {
        return Err(format!("{} values are not a multiple of {QK}", x.len()));
    }
    let mut out = Vec::with_capacity(x.len() / QK * 34);
    for blk in x.chunks_exact(QK) {
        let amax = blk.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
        for v in blk {
            out.push((v * id).round() as i8 as u8);
        }
    }
    Ok(out)
}

/// ggml's reference Q5_0 quantisation (`quantize_row_q5_0_ref`): per block of 32, an f16
/// scale `d = max / -16` (max = the value of largest magnitude), the fifth bits in a `u32`,
/// then 16 bytes of low nibbles (value j in the low nibble, value j+16 in the high one).
pub fn quantize_q5_0(x: &[f32]) -> std::result::Result<Vec<u8>, String> {
    if !x.len().is_multiple_of(QK) {
        return Err(format!("{} values are not a multiple of {QK}", x.len()));
    }
    let mut out = Vec::with_capacity(x.len() / QK * 22);
    for blk in x.chunks_exact(QK) {
        let (mut amax, mut max) = (0.0f32, 0.0f32);
        for &v in blk {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut qh: u32 = 0;
        let mut qs = [0u8; QK / 2];
        for j in 0..QK / 2 {
            let x0 = blk[j] * id;
            let x1 = blk[QK / 2 + j] * id;
            // C: MIN(31, (int8_t)(x + 16.5f)) — truncation toward zero, then clamp.
            let xi0 = ((x0 + 16.5) as i8).min(31) as u8;
            let xi1 = ((x1 + 16.5) as i8).min(31) as u8;
            qs[j] = (xi0 & 0x0F) | ((xi1 & 0x0F) << 4);
            qh |= u32::from((xi0 & 0x10) >> 4) << j;
            qh |= u32::from((xi1 & 0x10) >> 4) << (j + QK / 2);
        }
        out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
        out.extend_from_slice(&qh.to_le_bytes());
        out.extend_from_slice(&qs);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dequant_q8_0(b: &[u8]) -> Vec<f32> {
        b.chunks_exact(34)
            .flat_map(|blk| {
                let d = half::f16::from_le_bytes([blk[0], blk[1]]).to_f32();
                blk[2..].iter().map(move |&q| q as i8 as f32 * d)
            })
            .collect()
    }

    fn dequant_q5_0(b: &[u8]) -> Vec<f32> {
        let mut out = Vec::new();
        for blk in b.chunks_exact(22) {
            let d = half::f16::from_le_bytes([blk[0], blk[1]]).to_f32();
            let qh = u32::from_le_bytes([blk[2], blk[3], blk[4], blk[5]]);
            let qs = &blk[6..];
            let mut vals = [0f32; QK];
            for j in 0..QK / 2 {
                let h0 = ((qh >> j) & 1) << 4;
                let h1 = ((qh >> (j + 16)) & 1) << 4;
                let x0 = (u32::from(qs[j] & 0x0F) | h0) as i32 - 16;
                let x1 = (u32::from(qs[j] >> 4) | h1) as i32 - 16;
                vals[j] = x0 as f32 * d;
                vals[j + 16] = x1 as f32 * d;
            }
            out.extend_from_slice(&vals);
        }
        out
    }

    fn wave(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32) * 0.37).sin() * (1.0 + (i % 7) as f32 * 0.1))
            .collect()
    }

    #[test]
    fn quantised_blocks_round_trip_within_their_step() {
        let x = wave(32 * 16);
        let q8 = quantize_q8_0(&x).unwrap();
        assert_eq!(q8.len(), 16 * 34);
        for (a, b) in x.iter().zip(dequant_q8_0(&q8)) {
            assert!(
                (a - b).abs() <= 1.7 / 127.0 * 0.51 + 1e-3,
                "q8_0: {a} vs {b}"
            );
        }
        let q5 = quantize_q5_0(&x).unwrap();
        assert_eq!(q5.len(), 16 * 22);
        for (a, b) in x.iter().zip(dequant_q5_0(&q5)) {
            // ggml clamps the top code at 31, so the value opposite the block maximum may be
            // off by a whole step.
            assert!((a - b).abs() <= 1.7 / 16.0 + 1e-3, "q5_0: {a} vs {b}");
        }
        assert!(quantize_q8_0(&x[..31]).is_err());
    }

    #[test]
    fn names_map_like_whisper_cpp() {
        let cases = [
            ("model.encoder.conv1.weight", Some("encoder.conv1.weight")),
            (
                "model.encoder.embed_positions.weight",
                Some("encoder.positional_embedding"),
            ),
            (
                "model.encoder.layers.3.self_attn.q_proj.weight",
                Some("encoder.blocks.3.attn.query.weight"),
            ),
            ("model.encoder.layers.0.self_attn.k_proj.bias", None),
            (
                "model.encoder.layers.5.fc2.bias",
                Some("encoder.blocks.5.mlp.2.bias"),
            ),
            (
                "model.encoder.layer_norm.bias",
                Some("encoder.ln_post.bias"),
            ),
            (
                "model.decoder.embed_tokens.weight",
                Some("decoder.token_embedding.weight"),
            ),
            (
                "model.decoder.layers.1.encoder_attn.k_proj.weight",
                Some("decoder.blocks.1.cross_attn.key.weight"),
            ),
            (
                "model.decoder.layers.1.encoder_attn_layer_norm.weight",
                Some("decoder.blocks.1.cross_attn_ln.weight"),
            ),
            (
                "model.decoder.layers.2.final_layer_norm.bias",
                Some("decoder.blocks.2.mlp_ln.bias"),
            ),
            ("model.decoder.layer_norm.weight", Some("decoder.ln.weight")),
            ("proj_out.weight", None),
        ];
        for (hf, want) in cases {
            assert_eq!(hf_to_ggml_name(hf).as_deref(), want, "{hf}");
        }
    }

    /// One tensor record of a written file: (type id, dims, data bytes).
    type Record = (i32, Vec<i32>, Vec<u8>);

    /// Reads a written ggml file back: header values, vocabulary size, tensors by name.
    fn read_back(path: &Path) -> (Vec<i32>, usize, BTreeMap<String, Record>) {
        let b = std::fs::read(path).unwrap();
        let mut p = 0usize;
        let i32_at = |p: &mut usize| {
            let v = i32::from_le_bytes([b[*p], b[*p + 1], b[*p + 2], b[*p + 3]]);
            *p += 4;
            v
        };
        assert_eq!(i32_at(&mut p) as u32, GGML_FILE_MAGIC);
        let hp: Vec<i32> = (0..11).map(|_| i32_at(&mut p)).collect();
        let (nm, nf) = (i32_at(&mut p) as usize, i32_at(&mut p) as usize);
        p += nm * nf * 4;
        let nv = i32_at(&mut p) as usize;
        for _ in 0..nv {
            let l = i32_at(&mut p) as usize;
            p += l;
        }
        let mut tensors = BTreeMap::new();
        while p < b.len() {
            let (nd, nl, tt) = (i32_at(&mut p), i32_at(&mut p) as usize, i32_at(&mut p));
            let dims: Vec<i32> = (0..nd).map(|_| i32_at(&mut p)).collect();
            let name = String::from_utf8(b[p..p + nl].to_vec()).unwrap();
            p += nl;
            let n: usize = dims.iter().map(|d| *d as usize).product();
            let bytes = match tt {
                0 => n * 4,
                1 => n * 2,
                8 => n / 32 * 34,
                6 => n / 32 * 22,
                t => panic!("unexpected type {t}"),
            };
            tensors.insert(name, (tt, dims, b[p..p + bytes].to_vec()));
            p += bytes;
        }
        (hp, nv, tensors)
    }

    #[test]
    fn ggml_file_from_the_imported_model_has_whisper_cpp_layout_and_merges_lora() {
        let Some(hf) = crate::testing::whisper_model() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.bin");
        write_ggml(&hf, &base, GgmlType::F16, None).unwrap();
        let (hp, nv, t) = read_back(&base);
        // Whisper base: 51865 tokens, 1500/512/8/6 audio, 448/512/8/6 text, 80 mels, f16.
        assert_eq!(hp, vec![51865, 1500, 512, 8, 6, 448, 512, 8, 6, 80, 1]);
        assert_eq!(
            nv, 50257,
            "regular byte-level tokens; whisper.cpp adds the special ones"
        );
        assert_eq!(t.len(), 7 + 15 * 6 + 4 + 24 * 6);
        assert_eq!(t["encoder.conv1.weight"].0, 1);
        assert_eq!(t["encoder.conv1.weight"].1, vec![3, 80, 512]);
        assert_eq!(t["encoder.conv1.bias"].1, vec![1, 512]);
        assert_eq!(t["encoder.positional_embedding"].0, 0);
        assert_eq!(t["decoder.token_embedding.weight"].1, vec![512, 51865]);
        assert_eq!(t["decoder.blocks.0.attn.query.bias"].0, 0);

        // LoRA: a zero delta writes the same file; a non-zero one changes one tensor.
        let target = "model.decoder.layers.2.self_attn.v_proj.weight";
        let rank = 4;
        let a: Vec<f32> = (0..rank * 512)
            .map(|i| ((i % 13) as f32 - 6.0) * 0.01)
            .collect();
        let zero = dir.path().join("zero.safetensors");
        let e = |b: Vec<f32>| crate::lora::LoraEntry {
            name: target.into(),
            a: a.clone(),
            b,
            out: 512,
            inp: 512,
        };
        crate::lora::write_lora(&zero, &[e(vec![0.0; 512 * rank])], rank, 8.0).unwrap();
        let z = dir.path().join("z.bin");
        write_ggml(
            &hf,
            &z,
            GgmlType::F16,
            Some(&LoraAdapter::load(&zero).unwrap()),
        )
        .unwrap();
        assert_eq!(std::fs::read(&z).unwrap(), std::fs::read(&base).unwrap());
        let delta = dir.path().join("delta.safetensors");
        let b: Vec<f32> = (0..512 * rank)
            .map(|i| ((i % 7) as f32 - 3.0) * 0.02)
            .collect();
        crate::lora::write_lora(&delta, &[e(b)], rank, 8.0).unwrap();
        let d = dir.path().join("d.bin");
        write_ggml(
            &hf,
            &d,
            GgmlType::F16,
            Some(&LoraAdapter::load(&delta).unwrap()),
        )
        .unwrap();
        let (_, _, td) = read_back(&d);
        let changed: Vec<&String> = t.keys().filter(|k| t[*k] != td[*k]).collect();
        assert_eq!(changed, vec!["decoder.blocks.2.attn.value.weight"]);
    }

    #[test]
    fn type_names_parse_back() {
        for t in GgmlType::ALL {
            assert_eq!(GgmlType::parse(t.name()), Some(t));
        }
        assert_eq!(GgmlType::parse("Q8_0"), Some(GgmlType::Q8_0));
        assert_eq!(GgmlType::parse("q4"), None);
    }
}
