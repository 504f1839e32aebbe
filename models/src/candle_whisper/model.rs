//! The Whisper network on candle: encoder, and a decoder with a self-attention KV cache
//! whose rows are beam hypotheses. Weight names are the Hugging Face ones that
//! [`crate::import`] writes.

use candle_core::{DType, Module, Tensor};
use candle_nn::{Conv1d, Conv1dConfig, LayerNorm, Linear, VarBuilder};

use super::HfConfig;

/// Layer-norm epsilon of Whisper (PyTorch default).
pub(super) const LN_EPS: f64 = 1e-5;

/// One multi-head attention: the four projections (Hugging Face names `q_proj`,
/// `k_proj` (no bias), `v_proj`, `out_proj`).
pub(super) struct Attention {
    pub(super) q: Linear,
    pub(super) k: Linear,
    pub(super) v: Linear,
    pub(super) o: Linear,
    n_head: usize,
}

impl Attention {
    fn load(d: usize, n_head: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            q: candle_nn::linear(d, d, vb.pp("q_proj"))?,
            k: candle_nn::linear_no_bias(d, d, vb.pp("k_proj"))?,
            v: candle_nn::linear(d, d, vb.pp("v_proj"))?,
            o: candle_nn::linear(d, d, vb.pp("out_proj"))?,
            n_head,
        })
    }

    /// (1, t, d) → (1, h, t, d/h)
    fn heads(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        x.reshape((b, t, self.n_head, d / self.n_head))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// Attention of queries `x` over keys/values already split in heads.
    fn attend(
        &self,
        x: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let scale = 1.0 / ((d / self.n_head) as f64).sqrt();
        let q = (self.heads(&lin(&self.q, x)?)? * scale)?;
        let mut w = q.matmul(&k.t()?)?;
        if let Some(m) = mask {
            w = w.broadcast_add(m)?;
        }
        let w = candle_nn::ops::softmax_last_dim(&w)?;
        let y = w.matmul(v)?.transpose(1, 2)?.reshape((b, t, d))?;
        lin(&self.o, &y)
    }
}

/// A projection `x·Wᵀ + b`. The weights may be half precision (the decoder of the
/// `onnx` engine, see [`Model::load`]): a few rows of activations then go through the
/// f16 matrix–vector kernel (f32 accumulation); more rows are rounded to f16 for
/// candle's product. The result is f32 either way.
pub(super) fn lin(l: &Linear, x: &Tensor) -> candle_core::Result<Tensor> {
    let wd = l.weight().dtype();
    if wd == x.dtype() {
        return l.forward(x);
    }
    // a few rows of activations (a generated token, the prompt): the f16 kernel
    #[cfg(feature = "onnx")]
    if let Some(y) = gemv_f16(l.weight(), x)? {
        return match l.bias() {
            Some(b) => y.broadcast_add(&b.to_dtype(DType::F32)?),
            None => Ok(y),
        };
    }
    l.forward(&x.to_dtype(wd)?)?.to_dtype(x.dtype())
}

/// `x · wᵀ` for an f16 weight `w` (out, in) and a few f32 rows `x` (…, in) (one
/// generated token, or the prompt), by the f16 matrix–vector kernel
/// ([`crate::gemv`]); `None` when the operands are not of that form (the caller falls
/// back to candle's product).
#[cfg(feature = "onnx")]
pub(super) fn gemv_f16(w: &Tensor, x: &Tensor) -> candle_core::Result<Option<Tensor>> {
    let Ok((rows, k)) = w.dims2() else {
        return Ok(None);
    };
    let n = x.elem_count();
    if w.dtype() != DType::F16
        || x.dtype() != DType::F32
        || k == 0
        || !n.is_multiple_of(k)
        || n / k > crate::gemv::MAX_ROWS
    {
        return Ok(None);
    }
    let xv = x.flatten_all()?.to_vec1::<f32>()?;
    let y = {
        let (storage, layout) = w.storage_and_layout();
        let candle_core::Storage::Cpu(candle_core::CpuStorage::F16(data)) = &*storage else {
            return Ok(None);
        };
        if !layout.is_contiguous() {
            return Ok(None);
        }
        let start = layout.start_offset();
        let Some(m) = data.get(start..start + rows * k) else {
            return Ok(None);
        };
        crate::gemv::gemv_f16(m, &xv, k)
    };
    let mut dims = x.dims().to_vec();
    if let Some(last) = dims.last_mut() {
        *last = rows;
    }
    Tensor::from_vec(y, dims, x.device()).map(Some)
}

/// One transformer layer: self-attention, cross-attention (decoder layers only), MLP,
/// each after its layer norm.
pub(super) struct Block {
    pub(super) attn: Attention,
    pub(super) attn_ln: LayerNorm,
    pub(super) cross: Option<(Attention, LayerNorm)>,
    pub(super) fc1: Linear,
    pub(super) fc2: Linear,
    pub(super) mlp_ln: LayerNorm,
}

/// A layer norm, always f32 (even in a half-precision decoder).
fn ln(d: usize, vb: VarBuilder) -> candle_core::Result<LayerNorm> {
    Ok(LayerNorm::new(
        vb.get(d, "weight")?.to_dtype(DType::F32)?,
        vb.get(d, "bias")?.to_dtype(DType::F32)?,
        LN_EPS,
    ))
}

impl Block {
    fn load(d: usize, n_head: usize, cross: bool, vb: VarBuilder) -> candle_core::Result<Self> {
        let cross = if cross {
            Some((
                Attention::load(d, n_head, vb.pp("encoder_attn"))?,
                ln(d, vb.pp("encoder_attn_layer_norm"))?,
            ))
        } else {
            None
        };
        Ok(Self {
            attn: Attention::load(d, n_head, vb.pp("self_attn"))?,
            attn_ln: ln(d, vb.pp("self_attn_layer_norm"))?,
            cross,
            fc1: candle_nn::linear(d, 4 * d, vb.pp("fc1"))?,
            fc2: candle_nn::linear(4 * d, d, vb.pp("fc2"))?,
            mlp_ln: ln(d, vb.pp("final_layer_norm"))?,
        })
    }

    /// Layers `layers.0` … `layers.{n-1}` under `vb`.
    fn load_all(
        n: usize,
        d: usize,
        n_head: usize,
        cross: bool,
        vb: &VarBuilder,
    ) -> candle_core::Result<Vec<Self>> {
        (0..n)
            .map(|i| Self::load(d, n_head, cross, vb.pp(format!("layers.{i}"))))
            .collect()
    }

    fn mlp(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.mlp_ln.forward(x)?;
        let h = lin(&self.fc2, &lin(&self.fc1, &h)?.gelu_erf()?)?;
        x + h
    }
}

/// Per-pass decoder state: cross-attention K/V (per utterance) and self-attention
/// K/V (per attempt).
pub(super) struct DecoderState {
    pub(super) cross_kv: Vec<(Tensor, Tensor)>,
    pub(super) self_kv: Vec<Option<(Tensor, Tensor)>>,
    pub(super) pos: usize,
}

impl DecoderState {
    /// A decoder state before any token, attending to `cross_kv`, for `layers` layers.
    pub(super) fn new(cross_kv: &[(Tensor, Tensor)], layers: usize) -> Self {
        Self {
            cross_kv: cross_kv.to_vec(),
            self_kv: vec![None; layers],
            pos: 0,
        }
    }
}

/// The Whisper network: the encoder (two convolutions, positions, layers, final norm)
/// and the decoder (token embeddings tied to the output projection, positions, layers,
/// final norm).
pub(super) struct Model {
    pub(super) conv1: Conv1d,
    pub(super) conv2: Conv1d,
    pub(super) enc_pos: Tensor,
    pub(super) enc_blocks: Vec<Block>,
    pub(super) enc_ln: LayerNorm,
    embed: Tensor,
    /// the (d, vocab) output table for f32 embeddings (f16 ones are read directly by
    /// the matrix–vector kernel)
    embed_t: Option<Tensor>,
    dec_pos: Tensor,
    pub(super) dec_blocks: Vec<Block>,
    dec_ln: LayerNorm,
}

impl Model {
    /// The network from `vb`; with `half_decoder`, the decoder's projections and token
    /// embeddings are read in f16 (half the bytes read per generated token, which bound
    /// the decoder's speed on this kind of CPU: its products are memory-bound); layer
    /// norms, attention and the residual stream stay f32.
    pub(super) fn load(
        cfg: &HfConfig,
        vb: VarBuilder,
        half_decoder: bool,
    ) -> candle_core::Result<Self> {
        let d = cfg.d_model;
        let enc = vb.pp("model.encoder");
        let dec = if half_decoder {
            vb.clone().set_dtype(DType::F16).pp("model.decoder")
        } else {
            vb.pp("model.decoder")
        };
        let c1 = Conv1dConfig {
            padding: 1,
            stride: 1,
            ..Default::default()
        };
        let c2 = Conv1dConfig {
            padding: 1,
            stride: 2,
            ..Default::default()
        };
        let conv1 = Conv1d::new(
            enc.get((d, cfg.num_mel_bins, 3), "conv1.weight")?,
            Some(enc.get(d, "conv1.bias")?),
            c1,
        );
        let conv2 = Conv1d::new(
            enc.get((d, d, 3), "conv2.weight")?,
            Some(enc.get(d, "conv2.bias")?),
            c2,
        );
        let enc_blocks = Block::load_all(
            cfg.encoder_layers,
            d,
            cfg.encoder_attention_heads,
            false,
            &enc,
        )?;
        let dec_blocks = Block::load_all(
            cfg.decoder_layers,
            d,
            cfg.decoder_attention_heads,
            true,
            &dec,
        )?;
        let embed = dec.get((cfg.vocab_size, d), "embed_tokens.weight")?;
        Ok(Self {
            conv1,
            conv2,
            enc_pos: enc.get((cfg.max_source_positions, d), "embed_positions.weight")?,
            enc_blocks,
            enc_ln: ln(d, enc.pp("layer_norm"))?,
            embed,
            // made by `with_logits_table` once the weight file is unmapped, so the two
            // never count together in peak memory
            embed_t: None,
            dec_pos: dec
                .get((cfg.max_target_positions, d), "embed_positions.weight")?
                .to_dtype(DType::F32)?,
            dec_blocks,
            dec_ln: ln(d, dec.pp("layer_norm"))?,
        })
    }

    /// The (d, vocab) table of the output projection, made from f32 token embeddings
    /// (f16 ones are read directly by the matrix–vector kernel).
    pub(super) fn with_logits_table(mut self) -> candle_core::Result<Self> {
        if !(cfg!(feature = "onnx") && self.embed.dtype() == DType::F16) {
            self.embed_t = Some(self.embed.t()?.contiguous()?);
        }
        Ok(self)
    }

    /// Forget the encoder's layers (the `onnx` engine holds its own copy).
    #[cfg(feature = "onnx")]
    pub(super) fn drop_encoder(&mut self) {
        self.enc_blocks.clear();
    }

    /// mel (1, n_mels, frames) → audio features (1, frames/2, d).
    pub(super) fn encode(&self, mel: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.conv1.forward(mel)?.gelu_erf()?;
        let x = self.conv2.forward(&x)?.gelu_erf()?;
        let x = x.transpose(1, 2)?;
        let t = x.dim(1)?;
        let mut x = x.broadcast_add(&self.enc_pos.narrow(0, 0, t)?)?;
        for b in &self.enc_blocks {
            let h = b.attn_ln.forward(&x)?;
            let k = b.attn.heads(&lin(&b.attn.k, &h)?)?;
            let v = b.attn.heads(&lin(&b.attn.v, &h)?)?;
            x = (&x + b.attn.attend(&h, &k, &v, None)?)?;
            x = b.mlp(&x)?;
        }
        self.enc_ln.forward(&x)
    }

    /// The cross-attention keys and values of every decoder layer, split in heads
    /// (1, h, t, d/h), for audio features (1, t, d): computed once per utterance and
    /// shared by every temperature of the fallback.
    pub(super) fn cross_kv(&self, audio: &Tensor) -> candle_core::Result<Vec<(Tensor, Tensor)>> {
        let mut cross_kv = Vec::with_capacity(self.dec_blocks.len());
        for b in &self.dec_blocks {
            let (a, _) = b.cross.as_ref().ok_or_else(|| {
                candle_core::Error::Msg("decoder block without cross-attention".into())
            })?;
            cross_kv.push((a.heads(&lin(&a.k, audio)?)?, a.heads(&lin(&a.v, audio)?)?));
        }
        Ok(cross_kv)
    }

    /// Run `tokens` through the decoder after the cached ones; returns the final hidden
    /// states (1, n, d).
    pub(super) fn decode_step(
        &self,
        tokens: &[u32],
        st: &mut DecoderState,
    ) -> candle_core::Result<Tensor> {
        self.decode_rows(tokens, 1, st)
    }

    /// Run `rows` sequences of `tokens.len() / rows` new tokens each (row-major: the
    /// hypotheses of a beam search) after the cached ones, whose self-attention K/V
    /// hold `rows` rows (or are empty); returns the final hidden states (rows, n, d).
    /// Cross-attention does not depend on position, so every row's queries attend to
    /// the one copy of the audio's keys and values as a single (1, rows·n) batch.
    pub(super) fn decode_rows(
        &self,
        tokens: &[u32],
        rows: usize,
        st: &mut DecoderState,
    ) -> candle_core::Result<Tensor> {
        let rows = rows.max(1);
        let n = tokens.len() / rows;
        let dev = self.embed.device();
        let ids = Tensor::new(tokens, dev)?;
        let x = self.embed.index_select(&ids, 0)?.to_dtype(DType::F32)?;
        let d = x.dim(1)?;
        let x = x
            .reshape((rows, n, d))?
            .broadcast_add(&self.dec_pos.narrow(0, st.pos, n)?)?;
        let mask = if n > 1 {
            let pos0 = st.pos;
            let total = pos0 + n;
            let m: Vec<f32> = (0..n)
                .flat_map(|i| {
                    (0..total).map(move |j| if j > pos0 + i { f32::NEG_INFINITY } else { 0.0 })
                })
                .collect();
            Some(Tensor::from_vec(m, (n, total), dev)?)
        } else {
            None
        };
        let mut x = x;
        for (i, b) in self.dec_blocks.iter().enumerate() {
            let h = b.attn_ln.forward(&x)?;
            let k_new = b.attn.heads(&lin(&b.attn.k, &h)?)?;
            let v_new = b.attn.heads(&lin(&b.attn.v, &h)?)?;
            let (k, v) = match &st.self_kv[i] {
                Some((k0, v0)) => (
                    Tensor::cat(&[k0, &k_new], 2)?,
                    Tensor::cat(&[v0, &v_new], 2)?,
                ),
                None => (k_new, v_new),
            };
            x = (&x + b.attn.attend(&h, &k, &v, mask.as_ref())?)?;
            st.self_kv[i] = Some((k, v));
            if let Some((ca, cln)) = &b.cross {
                let h = cln.forward(&x)?;
                let (ck, cv) = &st.cross_kv[i];
                let y = ca
                    .attend(&h.reshape((1, rows * n, d))?, ck, cv, None)?
                    .reshape((rows, n, d))?;
                x = (&x + y)?;
            }
            x = b.mlp(&x)?;
        }
        st.pos += n;
        self.dec_ln.forward(&x)
    }

    /// Keep the self-attention K/V rows `parents` (in that order; rows may repeat):
    /// the hypotheses a beam-search step continues.
    pub(super) fn reorder(
        &self,
        st: &mut DecoderState,
        parents: &[u32],
    ) -> candle_core::Result<()> {
        let idx = Tensor::new(parents, self.embed.device())?;
        for kv in st.self_kv.iter_mut().flatten() {
            *kv = (kv.0.index_select(&idx, 0)?, kv.1.index_select(&idx, 0)?);
        }
        Ok(())
    }

    /// Logits (vocab) of hidden state `pos` of `hidden` (1, n, d).
    pub(super) fn logits(&self, hidden: &Tensor, pos: usize) -> candle_core::Result<Vec<f32>> {
        Ok(self
            .logits_rows(&hidden.narrow(1, pos, 1)?)?
            .into_iter()
            .next()
            .unwrap_or_default())
    }

    /// Logits (rows × vocab) of the last hidden state of every row of (rows, n, d).
    pub(super) fn logits_rows(&self, hidden: &Tensor) -> candle_core::Result<Vec<Vec<f32>>> {
        let n = hidden.dim(1)?;
        // (rows, d)
        let h = hidden.narrow(1, n - 1, 1)?.squeeze(1)?.contiguous()?;
        match &self.embed_t {
            Some(table) => h.matmul(table)?.to_vec2::<f32>(),
            // f16 embeddings: one pass over them with the matrix–vector kernel
            #[cfg(feature = "onnx")]
            None => match gemv_f16(&self.embed, &h)? {
                Some(y) => y.to_vec2::<f32>(),
                None => Err(candle_core::Error::Msg(
                    "f16 embeddings the matrix–vector kernel cannot read".into(),
                )),
            },
            #[cfg(not(feature = "onnx"))]
            None => Err(candle_core::Error::Msg("no output table".into())),
        }
    }
}
