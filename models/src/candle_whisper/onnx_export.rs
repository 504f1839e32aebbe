//! The encoder as an ONNX graph (feature `onnx`), written in memory from the weights
//! the candle engine loaded, for ONNX Runtime ([`crate::onnx_encoder`]).
//!
//! The same network as [`Model::encode`] and [`Model::cross_kv`], written for ONNX
//! Runtime's CPU kernels: each projection is one `Gemm` on the (time, d) matrix
//! (batch 1), and the attention scale 1/√(d/h) is folded into the query projection.

use candle_core::{DType, Tensor};
use candle_nn::{Conv1d, LayerNorm, Linear};

use super::model::{Block, Model, LN_EPS};
use crate::onnx_graph::{Attr, Dim, Graph};

type Result<T> = candle_core::Result<T>;

/// The opset the graph declares (`Gelu` is in the default domain from opset 20).
const OPSET: i64 = 20;

impl Model {
    /// The encoder as an ONNX graph with these weights (any LoRA deltas already merged):
    /// inputs `mel` (1, n_mels, frames) and `pos` (frames/2, d), the positional rows
    /// for this window; outputs, for decoder layer `i`, `cross_k{i}` and `cross_v{i}`
    /// (h, frames/2, d/h).
    pub(super) fn encoder_onnx(&self, n_mels: usize, n_head: usize) -> Result<Vec<u8>> {
        let d = self.enc_pos.dim(1)?;
        let mut w = Writer::new(self.weight_count(d), d, n_head);
        let mut x = w.stem(&self.conv1, &self.conv2)?;
        for (i, b) in self.enc_blocks.iter().enumerate() {
            x = w.encoder_layer(&x, b, &format!("l{i}"))?;
        }
        let features = w.layer_norm(&x, &self.enc_ln, "features")?;
        let outputs = w.cross_kv(&features, &self.dec_blocks)?;
        Ok(w.finish(n_mels, &outputs))
    }

    /// Values the graph holds as initialisers (to size its buffer once).
    fn weight_count(&self, d: usize) -> usize {
        let n_lin = |l: &Linear| l.weight().elem_count() + l.bias().map_or(0, |b| b.elem_count());
        let convs = self.conv1.weight().elem_count() + self.conv2.weight().elem_count();
        // the convolutions' biases and every layer norm: vectors of d
        let vectors = 2 * d * (3 + 4 * self.enc_blocks.len());
        let encoder: usize = self
            .enc_blocks
            .iter()
            .flat_map(|b| [&b.attn.q, &b.attn.k, &b.attn.v, &b.attn.o, &b.fc1, &b.fc2])
            .map(n_lin)
            .sum();
        let cross: usize = self
            .dec_blocks
            .iter()
            .filter_map(|b| b.cross.as_ref())
            .map(|(a, _)| n_lin(&a.k) + n_lin(&a.v))
            .sum();
        convs + vectors + encoder + cross
    }
}

/// The graph being written, and the attention's shape.
struct Writer {
    g: Graph,
    d: usize,
    n_head: usize,
    /// width of one head, d / h
    dh: usize,
}

impl Writer {
    /// An empty graph with room for `n_weights` f32 initialisers and the shape
    /// constants the reshapes use.
    fn new(n_weights: usize, d: usize, n_head: usize) -> Self {
        let dh = d / n_head.max(1);
        let mut g = Graph::with_capacity(4 * n_weights);
        g.init_i64("shape_dt", &[d as i64, -1]);
        g.init_i64("shape_heads", &[-1, n_head as i64, dh as i64]);
        g.init_i64("shape_td", &[-1, d as i64]);
        Self { g, d, n_head, dh }
    }

    /// Tensor `t` as the f32 initialiser `name` (the decoder's cross projections may be
    /// f16, see [`Model::load`]).
    fn weight(&mut self, name: &str, t: &Tensor) -> Result<String> {
        let data = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        self.g.init_f32(name, t.dims(), &data);
        Ok(name.to_string())
    }

    /// A bias that must be there, as the initialiser `name`.
    fn bias(&mut self, name: &str, t: Option<&Tensor>) -> Result<String> {
        let t = t.ok_or_else(|| candle_core::Error::Msg(format!("{name}: no bias")))?;
        self.weight(name, t)
    }

    /// `x · Wᵀ + b` of `l`, weights and bias scaled by `scale`, as one `Gemm`.
    fn gemm(&mut self, x: &str, l: &Linear, name: &str, scale: f64) -> Result<String> {
        let scaled = |t: &Tensor| -> Result<Tensor> {
            if scale == 1.0 {
                Ok(t.clone())
            } else {
                t * scale
            }
        };
        let wn = self.weight(&format!("{name}.w"), &scaled(l.weight())?)?;
        let mut ins = vec![x.to_string(), wn];
        if let Some(b) = l.bias() {
            ins.push(self.weight(&format!("{name}.b"), &scaled(b)?)?);
        }
        let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
        Ok(self
            .g
            .node("Gemm", &refs, name, &[("transB", Attr::Int(1))]))
    }

    /// Layer norm `l` over the last axis.
    fn layer_norm(&mut self, x: &str, l: &LayerNorm, name: &str) -> Result<String> {
        let s = self.weight(&format!("{name}.w"), l.weight())?;
        let b = self.bias(&format!("{name}.b"), l.bias())?;
        let attrs = [
            ("axis", Attr::Int(-1)),
            ("epsilon", Attr::Float(LN_EPS as f32)),
        ];
        Ok(self
            .g
            .node("LayerNormalization", &[x, &s, &b], name, &attrs))
    }

    /// A kernel-3 convolution (padding 1) at `stride`, then GELU.
    fn conv(&mut self, x: &str, c: &Conv1d, name: &str, stride: i64) -> Result<String> {
        let cw = self.weight(&format!("{name}.w"), c.weight())?;
        let cb = self.bias(&format!("{name}.b"), c.bias())?;
        let attrs = [
            ("kernel_shape", Attr::Ints(vec![3])),
            ("pads", Attr::Ints(vec![1, 1])),
            ("strides", Attr::Ints(vec![stride])),
        ];
        let y = self.g.node("Conv", &[x, &cw, &cb], name, &attrs);
        Ok(self.g.node("Gelu", &[&y], &format!("{name}.gelu"), &[]))
    }

    /// `mel` through both convolutions, as (time, d) rows plus the positions `pos`.
    fn stem(&mut self, conv1: &Conv1d, conv2: &Conv1d) -> Result<String> {
        let x = self.conv("mel", conv1, "conv1", 1)?;
        let x = self.conv(&x, conv2, "conv2", 2)?;
        let x = self.g.node("Reshape", &[&x, "shape_dt"], "enc.dt", &[]);
        let x = self.transpose(&x, "enc.td", vec![1, 0]);
        Ok(self.g.node("Add", &[&x, "pos"], "enc.in", &[]))
    }

    fn transpose(&mut self, x: &str, name: &str, perm: Vec<i64>) -> String {
        self.g
            .node("Transpose", &[x], name, &[("perm", Attr::Ints(perm))])
    }

    /// (time, d) → heads, in the axis order `perm` of (time, h, d/h).
    fn split_heads(&mut self, t: &str, perm: Vec<i64>) -> String {
        let r = self
            .g
            .node("Reshape", &[t, "shape_heads"], &format!("{t}.r"), &[]);
        self.transpose(&r, &format!("{t}.t"), perm)
    }

    /// One encoder layer on `x` (time, d): self-attention and MLP with their residuals.
    fn encoder_layer(&mut self, x: &str, b: &Block, p: &str) -> Result<String> {
        let h = self.layer_norm(x, &b.attn_ln, &format!("{p}.ln1"))?;
        let o = self.self_attention(&h, b, p)?;
        let x = self.g.node("Add", &[x, &o], &format!("{p}.res1"), &[]);
        let h = self.layer_norm(&x, &b.mlp_ln, &format!("{p}.ln2"))?;
        let m = self.gemm(&h, &b.fc1, &format!("{p}.fc1"), 1.0)?;
        let m = self.g.node("Gelu", &[&m], &format!("{p}.gelu"), &[]);
        let m = self.gemm(&m, &b.fc2, &format!("{p}.fc2"), 1.0)?;
        Ok(self.g.node("Add", &[&x, &m], &format!("{p}.res2"), &[]))
    }

    /// Multi-head self-attention of the normalised rows `h`, through the output
    /// projection.
    fn self_attention(&mut self, h: &str, b: &Block, p: &str) -> Result<String> {
        let scale = 1.0 / (self.dh as f64).sqrt();
        let q = self.gemm(h, &b.attn.q, &format!("{p}.q"), scale)?;
        let k = self.gemm(h, &b.attn.k, &format!("{p}.k"), 1.0)?;
        let v = self.gemm(h, &b.attn.v, &format!("{p}.v"), 1.0)?;
        let qh = self.split_heads(&q, vec![1, 0, 2]);
        let kh = self.split_heads(&k, vec![1, 2, 0]);
        let vh = self.split_heads(&v, vec![1, 0, 2]);
        let s = self
            .g
            .node("MatMul", &[&qh, &kh], &format!("{p}.scores"), &[]);
        let a = self.g.node(
            "Softmax",
            &[&s],
            &format!("{p}.attn"),
            &[("axis", Attr::Int(-1))],
        );
        let o = self.g.node("MatMul", &[&a, &vh], &format!("{p}.ctx"), &[]);
        let o = self.transpose(&o, &format!("{p}.ctx.t"), vec![1, 0, 2]);
        let o = self
            .g
            .node("Reshape", &[&o, "shape_td"], &format!("{p}.ctx.td"), &[]);
        self.gemm(&o, &b.attn.o, &format!("{p}.o"), 1.0)
    }

    /// The decoder's cross-attention keys and values of the audio features `f`, (h, t,
    /// d/h) per layer: the graph's outputs `cross_k{i}`, `cross_v{i}`, in that order.
    fn cross_kv(&mut self, f: &str, dec_blocks: &[Block]) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for (i, b) in dec_blocks.iter().enumerate() {
            let (a, _) = b.cross.as_ref().ok_or_else(|| {
                candle_core::Error::Msg("decoder block without cross-attention".into())
            })?;
            for (which, l) in [("k", &a.k), ("v", &a.v)] {
                let y = self.gemm(f, l, &format!("dec{i}.cross_{which}"), 1.0)?;
                let r = self
                    .g
                    .node("Reshape", &[&y, "shape_heads"], &format!("{y}.r"), &[]);
                let name = format!("cross_{which}{i}");
                self.transpose(&r, &name, vec![1, 0, 2]);
                names.push(name);
            }
        }
        Ok(names)
    }

    /// The serialized model: inputs `mel` and `pos`, the named (h, t, d/h) outputs.
    fn finish(self, n_mels: usize, outputs: &[String]) -> Vec<u8> {
        let kv_dims = [
            Dim::Fixed(self.n_head as i64),
            Dim::Named("t"),
            Dim::Fixed(self.dh as i64),
        ];
        let outputs: Vec<(&str, &[Dim])> =
            outputs.iter().map(|n| (n.as_str(), &kv_dims[..])).collect();
        let mel = [
            Dim::Fixed(1),
            Dim::Fixed(n_mels as i64),
            Dim::Named("frames"),
        ];
        let pos = [Dim::Named("t"), Dim::Fixed(self.d as i64)];
        self.g.model(
            "whisper-encoder",
            &[("mel", &mel[..]), ("pos", &pos[..])],
            &outputs,
            OPSET,
        )
    }
}
