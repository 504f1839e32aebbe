//! FastSpeech2 written as two ONNX graphs (batch 1, every tensor `[time, channels]`
//! except around convolutions, which run on `[1, channels, time]`):
//!
//! - the *encoder* graph: encoder blocks, the duration, f0 and energy predictors and
//!   the f0/energy embeddings added to the encoder output;
//! - the *decoder* graph: decoder blocks, the mel projection and the post-net.
//!
//! The operations follow the TFLite graph node for node (same order of residual adds,
//! masks, layer norms, `relu(exp(d) - 1)` durations), so only float summation order
//! differs from the reference. Two things of the TFLite graph are left out on purpose:
//!
//! - the dropout (rate 0.5) that the original applies to the f0 and energy embeddings
//!   even at inference (two `FlexRandomUniform` ops draw a fresh mask per call, and the
//!   kept values are doubled). Its expectation is the identity, which is also what the
//!   reference conversion (tf2onnx, an inference-mode `Dropout`) computes, so the voice
//!   is deterministic;
//! - the decoder's padding mask, all ones for a single sequence (multiplying by it and
//!   adding its zero attention bias change no bit).

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::onnx_graph::{Attr, Dim, Graph};

/// Opset of the written graphs (`LayerNormalization` needs 17).
const OPSET: i64 = 17;
/// The additive attention bias of masked keys (`attention/self/mul/y` in the TFLite graph).
const MASKED_SCORE: f32 = -1e9;

/// The imported weights and architecture numbers.
pub(super) struct Weights {
    /// Canonical name → (shape, row-major values).
    pub tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    /// Attention heads of every FFT block.
    pub heads: usize,
    /// Width of one attention head.
    pub head_size: usize,
    /// FFT blocks of the encoder.
    pub encoder_layers: usize,
    /// FFT blocks of the decoder.
    pub decoder_layers: usize,
    /// Convolutions of the post-net.
    pub postnet_layers: usize,
    /// Layer-norm epsilon.
    pub eps: f32,
}

impl Weights {
    /// The tensor `name`, or an error naming it.
    pub fn get(&self, name: &str) -> Result<&(Vec<usize>, Vec<f32>)> {
        self.tensors
            .get(name)
            .ok_or_else(|| Error::Tts(format!("FastSpeech2 weights lack {name}")))
    }

    /// Output width of a linear or convolution layer (`{layer}.weight` dimension 0).
    pub fn out_dim(&self, layer: &str) -> Result<usize> {
        let (shape, _) = self.get(&format!("{layer}.weight"))?;
        shape
            .first()
            .copied()
            .ok_or_else(|| Error::Tts(format!("{layer}.weight has no dimensions")))
    }
}

struct Builder<'w> {
    g: Graph,
    w: &'w Weights,
    count: usize,
    shapes: Vec<Vec<i64>>,
}

impl<'w> Builder<'w> {
    fn new(w: &'w Weights) -> Self {
        let bytes = w.tensors.values().map(|(_, d)| 4 * d.len()).sum();
        let mut g = Graph::with_capacity(bytes);
        g.init_f32("one", &[1], &[1.0]);
        Self {
            g,
            w,
            count: 0,
            shapes: Vec::new(),
        }
    }

    fn op(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)]) -> String {
        self.count += 1;
        let out = format!("t{}_{op}", self.count);
        self.g.node(op, inputs, &out, attrs)
    }

    /// An initializer from the weights (its own shape, or `dims` of the same size).
    fn weight(&mut self, name: &str, dims: Option<&[usize]>) -> Result<String> {
        let (shape, data) = self.w.get(name)?;
        let dims = dims.unwrap_or(shape);
        if dims.iter().product::<usize>() != data.len() {
            return Err(Error::Tts(format!(
                "{name}: cannot view {shape:?} as {dims:?}"
            )));
        }
        self.count += 1;
        let init = format!("w{}_{name}", self.count);
        self.g.init_f32(&init, dims, data);
        Ok(init)
    }

    /// A shape initializer, written once per distinct value.
    fn shape(&mut self, dims: &[i64]) -> String {
        let i = match self.shapes.iter().position(|s| s == dims) {
            Some(i) => i,
            None => {
                self.g
                    .init_i64(&format!("shape{}", self.shapes.len()), dims);
                self.shapes.push(dims.to_vec());
                self.shapes.len() - 1
            }
        };
        format!("shape{i}")
    }

    fn scalar(&mut self, value: f32) -> String {
        self.count += 1;
        let name = format!("c{}", self.count);
        self.g.init_f32(&name, &[1], &[value]);
        name
    }

    /// `x W^T + b` of a linear layer on `[time, in]`.
    fn linear(&mut self, x: &str, layer: &str) -> Result<String> {
        let w = self.weight(&format!("{layer}.weight"), None)?;
        let b = self.weight(&format!("{layer}.bias"), None)?;
        Ok(self.op("Gemm", &[x, &w, &b], &[("transB", Attr::Int(1))]))
    }

    /// A "same"-padded conv1d with bias on `[1, in, time]`.
    fn conv(&mut self, x: &str, layer: &str) -> Result<String> {
        let (shape, _) = self.w.get(&format!("{layer}.weight"))?;
        let k = *shape
            .get(2)
            .ok_or_else(|| Error::Tts(format!("{layer}.weight is not a convolution")))?;
        let pad = (k as i64 - 1) / 2;
        let w = self.weight(&format!("{layer}.weight"), None)?;
        let b = self.weight(&format!("{layer}.bias"), None)?;
        Ok(self.op(
            "Conv",
            &[x, &w, &b],
            &[
                ("kernel_shape", Attr::Ints(vec![k as i64])),
                ("pads", Attr::Ints(vec![pad, pad])),
            ],
        ))
    }

    fn layer_norm(&mut self, x: &str, layer: &str) -> Result<String> {
        let s = self.weight(&format!("{layer}.weight"), None)?;
        let b = self.weight(&format!("{layer}.bias"), None)?;
        let eps = self.w.eps;
        Ok(self.op(
            "LayerNormalization",
            &[x, &s, &b],
            &[("axis", Attr::Int(-1)), ("epsilon", Attr::Float(eps))],
        ))
    }

    /// `[time, c]` → `[1, c, time]`.
    fn channels_first(&mut self, x: &str, c: usize) -> String {
        let t = self.op("Transpose", &[x], &[("perm", Attr::Ints(vec![1, 0]))]);
        let s = self.shape(&[1, c as i64, -1]);
        self.op("Reshape", &[&t, &s], &[])
    }

    /// `[1, c, time]` → `[time, c]`.
    fn time_first(&mut self, x: &str, c: usize) -> String {
        let s = self.shape(&[c as i64, -1]);
        let r = self.op("Reshape", &[x, &s], &[]);
        self.op("Transpose", &[&r], &[("perm", Attr::Ints(vec![1, 0]))])
    }

    /// `[time, heads*size]` → heads first with `perm` of `[time, heads, size]`.
    fn split_heads(&mut self, x: &str, perm: Vec<i64>) -> String {
        let s = self.shape(&[-1, self.w.heads as i64, self.w.head_size as i64]);
        let r = self.op("Reshape", &[x, &s], &[]);
        self.op("Transpose", &[&r], &[("perm", Attr::Ints(perm))])
    }

    fn mul_mask(&mut self, x: String, mask: Option<&str>) -> String {
        match mask {
            Some(m) => self.op("Mul", &[&x, m], &[]),
            None => x,
        }
    }

    /// Multi-head self-attention on `[time, hidden]`, before the output projection.
    fn attention(&mut self, x: &str, p: &str, bias: Option<&str>) -> Result<String> {
        let q = self.linear(x, &format!("{p}.q"))?;
        let k = self.linear(x, &format!("{p}.k"))?;
        let v = self.linear(x, &format!("{p}.v"))?;
        let q = self.split_heads(&q, vec![1, 0, 2]);
        let k = self.split_heads(&k, vec![1, 2, 0]);
        let v = self.split_heads(&v, vec![1, 0, 2]);
        let scores = self.op("MatMul", &[&q, &k], &[]);
        let scale = self.scalar(1.0 / (self.w.head_size as f32).sqrt());
        let mut scores = self.op("Mul", &[&scores, &scale], &[]);
        if let Some(b) = bias {
            scores = self.op("Add", &[&scores, b], &[]);
        }
        let probs = self.op("Softmax", &[&scores], &[("axis", Attr::Int(-1))]);
        let ctx = self.op("MatMul", &[&probs, &v], &[]);
        let ctx = self.op("Transpose", &[&ctx], &[("perm", Attr::Ints(vec![1, 0, 2]))]);
        let s = self.shape(&[-1, (self.w.heads * self.w.head_size) as i64]);
        Ok(self.op("Reshape", &[&ctx, &s], &[]))
    }

    /// One FFT block: attention + residual + norm, conv feed-forward (mish) + residual
    /// + norm, with the padding mask applied where the original applies it.
    fn fft_block(
        &mut self,
        x: &str,
        p: &str,
        bias: Option<&str>,
        mask: Option<&str>,
    ) -> Result<String> {
        let hidden = self.w.out_dim(&format!("{p}.attention.out"))?;
        let ctx = self.attention(x, &format!("{p}.attention"), bias)?;
        let o = self.linear(&ctx, &format!("{p}.attention.out"))?;
        let o = self.op("Add", &[&o, x], &[]);
        let a = self.layer_norm(&o, &format!("{p}.attention.norm"))?;
        let a = self.mul_mask(a, mask);
        let f = self.channels_first(&a, hidden);
        let f = self.conv(&f, &format!("{p}.ffn.conv1"))?;
        let sp = self.op("Softplus", &[&f], &[]);
        let th = self.op("Tanh", &[&sp], &[]);
        let f = self.op("Mul", &[&f, &th], &[]);
        let f = self.conv(&f, &format!("{p}.ffn.conv2"))?;
        let f = self.time_first(&f, hidden);
        let f = self.mul_mask(f, mask);
        let y = self.op("Add", &[&f, &a], &[]);
        let y = self.layer_norm(&y, &format!("{p}.norm"))?;
        Ok(self.mul_mask(y, mask))
    }

    /// A variance predictor on `[time, hidden]` → `[time, 1]` (before masking).
    fn predictor(&mut self, x: &str, p: &str, hidden: usize) -> Result<String> {
        let mut h = x.to_string();
        let mut c = hidden;
        for j in 0..2 {
            let n = self.channels_first(&h, c);
            let conv = format!("{p}.conv.{j}");
            let y = self.conv(&n, &conv)?;
            c = self.w.out_dim(&conv)?;
            let y = self.time_first(&y, c);
            let y = self.op("Relu", &[&y], &[]);
            h = self.layer_norm(&y, &format!("{p}.norm.{j}"))?;
        }
        self.linear(&h, &format!("{p}.linear"))
    }

    /// A `[time, 1]` value embedded by its conv1d → `[time, hidden]`.
    fn embed_value(&mut self, v: &str, layer: &str) -> Result<String> {
        let n = self.channels_first(v, 1);
        let y = self.conv(&n, layer)?;
        let c = self.w.out_dim(layer)?;
        Ok(self.time_first(&y, c))
    }
}

/// The encoder graph. Inputs: `x` `[tokens, hidden]` (token + position embeddings),
/// `mask` `[tokens, 1]` (1 for real tokens, 0 for padding id 0), `f0_ratio`,
/// `f0_shift` (added to the normalised f0 after the ratio; 0 in the original) and
/// `energy_ratio` `[1]`. Outputs: `hidden` `[tokens, hidden]` (with the f0 and energy
/// embeddings added), `duration` `[tokens, 1]` (frames before the speed ratio and
/// rounding), `f0` and `energy` `[tokens, 1]` (ratios applied).
pub(super) fn encoder(w: &Weights) -> Result<Vec<u8>> {
    let hidden = w.out_dim("encoder.layer.0.attention.out")?;
    let mut b = Builder::new(w);
    let key_mask = b.op("Transpose", &["mask"], &[("perm", Attr::Ints(vec![1, 0]))]);
    let open = b.op("Sub", &["one", &key_mask], &[]);
    let big = b.scalar(MASKED_SCORE);
    let bias = b.op("Mul", &[&open, &big], &[]);
    let mut h = "x".to_string();
    for i in 0..w.encoder_layers {
        h = b.fft_block(&h, &format!("encoder.layer.{i}"), Some(&bias), Some("mask"))?;
    }
    let hm = b.op("Mul", &[&h, "mask"], &[]);
    let d = b.predictor(&hm, "duration_predictor", hidden)?;
    let d = b.op("Mul", &[&d, "mask"], &[]);
    let d = b.op("Exp", &[&d], &[]);
    let d = b.op("Sub", &[&d, "one"], &[]);
    b.g.node("Relu", &[&d], "duration", &[]);
    let mut embedded = Vec::new();
    for v in ["f0", "energy"] {
        let p = b.predictor(&hm, &format!("{v}_predictor"), hidden)?;
        let p = b.op("Mul", &[&p, "mask"], &[]);
        let ratio = format!("{v}_ratio");
        let value = if v == "f0" {
            // the predictor's f0 is normalised per speaker (z-score): the ratio scales
            // the intonation around the speaker's mean, the shift moves the mean itself
            let scaled = b.op("Mul", &[&p, &ratio], &[]);
            let shifted = b.op("Add", &[&scaled, "f0_shift"], &[]);
            b.g.node("Mul", &[&shifted, "mask"], v, &[])
        } else {
            b.g.node("Mul", &[&p, &ratio], v, &[])
        };
        embedded.push(b.embed_value(&value, &format!("{v}_embedding"))?);
    }
    let both = b.op("Add", &[&embedded[0], &embedded[1]], &[]);
    b.g.node("Add", &[&h, &both], "hidden", &[]);
    let n = || Dim::Named("tokens");
    let h = Dim::Fixed(hidden as i64);
    Ok(b.g.model(
        "fastspeech2_encoder",
        &[
            ("x", &[n(), Dim::Fixed(hidden as i64)]),
            ("mask", &[n(), Dim::Fixed(1)]),
            ("f0_ratio", &[Dim::Fixed(1)]),
            ("f0_shift", &[Dim::Fixed(1)]),
            ("energy_ratio", &[Dim::Fixed(1)]),
        ],
        &[
            ("hidden", &[n(), h]),
            ("duration", &[n(), Dim::Fixed(1)]),
            ("f0", &[n(), Dim::Fixed(1)]),
            ("energy", &[n(), Dim::Fixed(1)]),
        ],
        OPSET,
    ))
}

/// The decoder graph. Input: `x` `[frames, hidden]` (length-regulated encoder output
/// + position embeddings). Output: `mel` `[frames, n_mels]`, after the post-net.
pub(super) fn decoder(w: &Weights) -> Result<Vec<u8>> {
    let hidden = w.out_dim("decoder.layer.0.attention.out")?;
    let n_mels = w.out_dim("mel_linear")?;
    let mut b = Builder::new(w);
    let mut h = "x".to_string();
    for i in 0..w.decoder_layers {
        h = b.fft_block(&h, &format!("decoder.layer.{i}"), None, None)?;
    }
    let before = b.linear(&h, "mel_linear")?;
    let mut p = b.channels_first(&before, n_mels);
    for j in 0..w.postnet_layers {
        let conv = format!("postnet.conv.{j}");
        p = b.conv(&p, &conv)?;
        let c = w.out_dim(&conv)?;
        let scale = b.weight(&format!("postnet.norm.{j}.scale"), Some(&[c, 1]))?;
        let shift = b.weight(&format!("postnet.norm.{j}.shift"), Some(&[c, 1]))?;
        p = b.op("Mul", &[&p, &scale], &[]);
        p = b.op("Add", &[&p, &shift], &[]);
        if j + 1 < w.postnet_layers {
            p = b.op("Tanh", &[&p], &[]);
        }
    }
    let post = b.time_first(&p, n_mels);
    b.g.node("Add", &[&post, &before], "mel", &[]);
    Ok(b.g.model(
        "fastspeech2_decoder",
        &[("x", &[Dim::Named("frames"), Dim::Fixed(hidden as i64)])],
        &[("mel", &[Dim::Named("frames"), Dim::Fixed(n_mels as i64)])],
        OPSET,
    ))
}
