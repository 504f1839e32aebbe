//! The CTranslate2 → Hugging Face layout of Whisper: the hyper-parameters read from
//! tensor shapes, the tensors renamed and split, and the `WhisperConfig`.
//!
//! Layout differences handled (CTranslate2 → Hugging Face):
//! self-attention `linear_0` holds Q|K|V row blocks (split in three; K has no bias and
//! its zero bias rows are dropped), cross-attention `linear_0` is Q and `linear_1` holds
//! K|V row blocks, layer norms are `gamma`/`beta`, positional tables are
//! `position_encodings/encodings`, token embeddings are `decoder/embeddings/weight`
//! (the output projection is tied to them).

use std::path::Path;

use super::ct2::{Ct2DType, Ct2Model, Ct2Var};
use crate::error::{Error, Result};

/// A tensor to write: HF name, shape, f16 little-endian bytes.
pub(super) struct OutTensor {
    pub(super) name: String,
    pub(super) dims: Vec<usize>,
    pub(super) data: Vec<u8>,
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
pub(super) struct Dims {
    pub(super) n_mels: usize,
    pub(super) d_model: usize,
    pub(super) vocab: usize,
    pub(super) enc_layers: usize,
    pub(super) dec_layers: usize,
    pub(super) enc_heads: usize,
    pub(super) dec_heads: usize,
    pub(super) n_audio_ctx: usize,
    pub(super) n_text_ctx: usize,
    pub(super) ffn: usize,
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

pub(super) fn read_dims(m: &Ct2Model, path: &Path) -> Result<Dims> {
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

/// The Hugging Face tensors of a CTranslate2 Whisper model, made one source variable
/// (or one row block of it) at a time; the first missing or short variable is an error.
struct Converter<'a> {
    model: &'a Ct2Model,
    /// the source file, for errors
    path: &'a Path,
    /// model width: the rows of one projection in a fused block
    d: usize,
    out: Vec<OutTensor>,
}

impl Converter<'_> {
    fn bad(&self, detail: String) -> Error {
        Error::BadModel {
            path: self.path.to_path_buf(),
            detail,
        }
    }

    /// Rows `start..start + n` (all rows when `n` is `None`) of `src`, as `dst`.
    fn take(&mut self, src: &str, dst: String, start: usize, n: Option<usize>) -> Result<()> {
        let var = self
            .model
            .get(src)
            .ok_or_else(|| self.bad(format!("variable {src} is missing")))?;
        let total = var.dims.first().copied().unwrap_or(1);
        let n = n.unwrap_or(total);
        if start + n > total {
            return Err(self.bad(format!("{src} has {total} rows, need {}", start + n)));
        }
        let mut dims = var.dims.clone();
        if let Some(first) = dims.first_mut() {
            *first = n;
        }
        let data = rows(var, start, n);
        self.out.push(OutTensor {
            name: dst,
            dims,
            data,
        });
        Ok(())
    }

    /// The whole of `src`, as `dst`.
    fn whole(&mut self, src: &str, dst: &str) -> Result<()> {
        self.take(src, dst.to_string(), 0, None)
    }

    /// A layer norm: `gamma`/`beta` → `weight`/`bias`.
    fn layer_norm(&mut self, src: &str, dst: &str) -> Result<()> {
        self.whole(&format!("{src}/gamma"), &format!("{dst}.weight"))?;
        self.whole(&format!("{src}/beta"), &format!("{dst}.bias"))
    }

    /// A projection: `weight` and `bias` under the same names.
    fn linear(&mut self, src: &str, dst: &str) -> Result<()> {
        self.whole(&format!("{src}/weight"), &format!("{dst}.weight"))?;
        self.whole(&format!("{src}/bias"), &format!("{dst}.bias"))
    }

    /// Projections `names` from a fused block whose row blocks are, in order, those
    /// projections (q|k|v, or k|v). Whisper's K projection has no bias: the fused
    /// block's zero bias rows for it are dropped.
    fn split(&mut self, src: &str, dst: &str, names: &[&str]) -> Result<()> {
        let d = self.d;
        for (i, proj) in names.iter().enumerate() {
            let (w, b) = (format!("{src}/weight"), format!("{src}/bias"));
            self.take(&w, format!("{dst}.{proj}.weight"), i * d, Some(d))?;
            if *proj != "k_proj" {
                self.take(&b, format!("{dst}.{proj}.bias"), i * d, Some(d))?;
            }
        }
        Ok(())
    }

    /// Self-attention of layer `s` (source prefix) as `t` (target prefix): fused Q|K|V,
    /// the output projection, the layer norm before it.
    fn self_attention(&mut self, s: &str, t: &str) -> Result<()> {
        let qkv = ["q_proj", "k_proj", "v_proj"];
        self.split(
            &format!("{s}/self_attention/linear_0"),
            &format!("{t}.self_attn"),
            &qkv,
        )?;
        self.linear(
            &format!("{s}/self_attention/linear_1"),
            &format!("{t}.self_attn.out_proj"),
        )?;
        self.layer_norm(
            &format!("{s}/self_attention/layer_norm"),
            &format!("{t}.self_attn_layer_norm"),
        )
    }

    /// Cross-attention of decoder layer `s` as `t`: Q alone, fused K|V, the output
    /// projection, the layer norm before it.
    fn cross_attention(&mut self, s: &str, t: &str) -> Result<()> {
        let a = format!("{t}.encoder_attn");
        self.linear(&format!("{s}/attention/linear_0"), &format!("{a}.q_proj"))?;
        self.split(
            &format!("{s}/attention/linear_1"),
            &a,
            &["k_proj", "v_proj"],
        )?;
        self.linear(&format!("{s}/attention/linear_2"), &format!("{a}.out_proj"))?;
        self.layer_norm(
            &format!("{s}/attention/layer_norm"),
            &format!("{t}.encoder_attn_layer_norm"),
        )
    }

    /// The feed-forward block of layer `s` as `t`.
    fn feed_forward(&mut self, s: &str, t: &str) -> Result<()> {
        self.linear(&format!("{s}/ffn/linear_0"), &format!("{t}.fc1"))?;
        self.linear(&format!("{s}/ffn/linear_1"), &format!("{t}.fc2"))?;
        self.layer_norm(
            &format!("{s}/ffn/layer_norm"),
            &format!("{t}.final_layer_norm"),
        )
    }

    /// The encoder: the two convolutions, positions, `layers` layers, the final norm.
    fn encoder(&mut self, layers: usize) -> Result<()> {
        for conv in ["conv1", "conv2"] {
            self.linear(&format!("encoder/{conv}"), &format!("model.encoder.{conv}"))?;
        }
        self.whole(
            "encoder/position_encodings/encodings",
            "model.encoder.embed_positions.weight",
        )?;
        for i in 0..layers {
            let (s, t) = (
                format!("encoder/layer_{i}"),
                format!("model.encoder.layers.{i}"),
            );
            self.self_attention(&s, &t)?;
            self.feed_forward(&s, &t)?;
        }
        self.layer_norm("encoder/layer_norm", "model.encoder.layer_norm")
    }

    /// The decoder: token embeddings (the output projection is tied to them),
    /// positions, `layers` layers, the final norm.
    fn decoder(&mut self, layers: usize) -> Result<()> {
        self.whole(
            "decoder/embeddings/weight",
            "model.decoder.embed_tokens.weight",
        )?;
        self.whole(
            "decoder/position_encodings/encodings",
            "model.decoder.embed_positions.weight",
        )?;
        for i in 0..layers {
            let (s, t) = (
                format!("decoder/layer_{i}"),
                format!("model.decoder.layers.{i}"),
            );
            self.self_attention(&s, &t)?;
            self.cross_attention(&s, &t)?;
            self.feed_forward(&s, &t)?;
        }
        self.layer_norm("decoder/layer_norm", "model.decoder.layer_norm")
    }
}

/// Map the CTranslate2 variables of `model` (read from `path`) to Hugging Face names,
/// splitting fused blocks.
pub(super) fn convert_tensors(
    model: &Ct2Model,
    dims: &Dims,
    path: &Path,
) -> Result<Vec<OutTensor>> {
    let mut c = Converter {
        model,
        path,
        d: dims.d_model,
        out: Vec::new(),
    };
    c.encoder(dims.enc_layers)?;
    c.decoder(dims.dec_layers)?;
    Ok(c.out)
}

/// The Hugging Face `WhisperConfig` for these dimensions.
pub(super) fn hf_config(dims: &Dims, src_config: Option<&serde_json::Value>) -> serde_json::Value {
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
