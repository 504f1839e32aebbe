//! The vocoder as an ONNX graph written in memory for ONNX Runtime.
//!
//! The same computation as the TFLite graph, in ONNX's channel-first layout: input
//! `mel` (1, frames, n_mels), output `audio` (1, 1, frames · hop). Every step is an
//! exact ONNX counterpart of the TFLite one (reflection `Pad` for `MIRROR_PAD`, a
//! dilated `Conv` for the `SPACE_TO_BATCH_ND`/`CONV_2D`/`BATCH_TO_SPACE_ND` trio, a
//! `ConvTranspose` with TensorFlow's "same" cropping), except that the PQMF synthesis
//! — zero-stuffing transposed convolution, padding, convolution — is one
//! `ConvTranspose` with the reversed filters: the same sums, a quarter of the work.

use crate::onnx_graph::{Attr, Dim, Graph};

use super::net::{Conv, Net};

/// ONNX opset of the graph (ONNX Runtime 1.32 supports it; `Pad` takes its pads as an input).
const OPSET: i64 = 17;
/// Name of the graph's input.
pub(super) const INPUT: &str = "mel";
/// Name of the graph's output.
pub(super) const OUTPUT: &str = "audio";

/// Builds the graph node by node; `n` numbers intermediate tensors.
struct Builder {
    g: Graph,
    n: usize,
    slope: f32,
}

impl Builder {
    fn name(&mut self, what: &str) -> String {
        self.n += 1;
        format!("{what}{}", self.n)
    }

    fn leaky_relu(&mut self, x: &str) -> String {
        let out = self.name("lrelu");
        self.g.node(
            "LeakyRelu",
            &[x],
            &out,
            &[("alpha", Attr::Float(self.slope))],
        )
    }

    /// Reflection padding of `p` samples on both ends of the time axis.
    fn reflect(&mut self, x: &str, p: usize) -> String {
        let pads = self.name("pads");
        let p = p as i64;
        self.g.init_i64(&pads, &[0, 0, p, 0, 0, p]);
        let out = self.name("pad");
        self.g
            .node("Pad", &[x, &pads], &out, &[("mode", Attr::Str("reflect"))])
    }

    /// Weight and bias initializers of `c` under `name`.
    fn params(&mut self, name: &str, c: &Conv) -> (String, String) {
        let (w, b) = (format!("{name}.weight"), format!("{name}.bias"));
        self.g.init_f32(&w, &c.shape, &c.weight);
        self.g.init_f32(&b, &[c.bias.len()], &c.bias);
        (w, b)
    }

    /// A "valid" convolution with `dilation`.
    fn conv(&mut self, x: &str, name: &str, c: &Conv, dilation: usize) -> String {
        let (w, b) = self.params(name, c);
        self.g.node(
            "Conv",
            &[x, &w, &b],
            name,
            &[("dilations", Attr::Ints(vec![dilation as i64]))],
        )
    }

    /// Reflection padding then a convolution that keeps the length.
    fn padded_conv(&mut self, x: &str, name: &str, c: &Conv, dilation: usize) -> String {
        let x = self.reflect(x, dilation * (c.kernel() - 1) / 2);
        self.conv(&x, name, c, dilation)
    }

    /// TensorFlow's `conv2d_transpose(padding="same")`: output length × `stride`, the
    /// `kernel − stride` extra samples cropped half before (rounded down), half after.
    fn upsample(&mut self, x: &str, name: &str, c: &Conv, stride: usize) -> String {
        let (w, b) = self.params(name, c);
        let crop = c.kernel().saturating_sub(stride);
        let pads = vec![(crop / 2) as i64, (crop - crop / 2) as i64];
        self.g.node(
            "ConvTranspose",
            &[x, &w, &b],
            name,
            &[
                ("strides", Attr::Ints(vec![stride as i64])),
                ("pads", Attr::Ints(pads)),
            ],
        )
    }

    /// PQMF synthesis of (1, subbands, t) into (1, 1, subbands · t).
    ///
    /// The TFLite graph zero-stuffs each band (×subbands gain), pads `m = (L−1)/2` zeros
    /// at both ends and cross-correlates with the L-tap filters `h`:
    /// `y[n] = Σ_k Σ_t subbands·x_k[t]·h_k[subbands·t − n + m]`. That is a transposed
    /// convolution with kernel `g_k[i] = subbands·h_k[L−1−i]`, stride `subbands`,
    /// cropping `m` samples before and `L − subbands − m` after.
    fn pqmf(&mut self, x: &str, net: &Net) -> String {
        let (k, len) = (net.subbands(), net.filter_len());
        let gain = k as f32;
        let g: Vec<f32> = net
            .synthesis
            .chunks(len)
            .flat_map(|h| h.iter().rev().map(move |v| v * gain))
            .collect();
        self.g.init_f32("pqmf.kernel", &[k, 1, len], &g);
        let m = (len - 1) / 2;
        let after = len.saturating_sub(k + m);
        self.g.node(
            "ConvTranspose",
            &[x, "pqmf.kernel"],
            OUTPUT,
            &[
                ("strides", Attr::Ints(vec![k as i64])),
                ("pads", Attr::Ints(vec![m as i64, after as i64])),
            ],
        )
    }
}

/// The serialized ONNX model of `net`.
pub(super) fn model(net: &Net) -> Vec<u8> {
    let mut b = Builder {
        g: Graph::with_capacity(4 * weight_count(net)),
        n: 0,
        slope: net.slope,
    };
    let x = b.g.node(
        "Transpose",
        &[INPUT],
        "mel_t",
        &[("perm", Attr::Ints(vec![0, 2, 1]))],
    );
    let mut x = b.padded_conv(&x, "conv_in", &net.conv_in, 1);
    for (i, s) in net.stages.iter().enumerate() {
        let a = b.leaky_relu(&x);
        x = b.upsample(&a, &format!("up.{i}"), &s.up, s.scale);
        for (j, blk) in s.blocks.iter().enumerate() {
            let p = format!("up.{i}.res.{j}");
            let skip = b.conv(&x, &format!("{p}.skip"), &blk.skip, 1);
            let h = b.leaky_relu(&x);
            let h = b.padded_conv(&h, &format!("{p}.conv"), &blk.conv, blk.dilation);
            let h = b.leaky_relu(&h);
            let h = b.conv(&h, &format!("{p}.proj"), &blk.proj, 1);
            x = b.g.node("Add", &[&skip, &h], &format!("{p}.out"), &[]);
        }
    }
    let a = b.leaky_relu(&x);
    let x = b.padded_conv(&a, "conv_out", &net.conv_out, 1);
    let x = b.g.node("Tanh", &[&x], "subbands", &[]);
    b.pqmf(&x, net);
    let n_mels = net.n_mels() as i64;
    b.g.model(
        "mb_melgan",
        &[(
            INPUT,
            &[Dim::Fixed(1), Dim::Named("frames"), Dim::Fixed(n_mels)],
        )],
        &[(
            OUTPUT,
            &[Dim::Fixed(1), Dim::Fixed(1), Dim::Named("samples")],
        )],
        OPSET,
    )
}

/// Number of float parameters (to size the graph's buffer once).
fn weight_count(net: &Net) -> usize {
    let c = |c: &Conv| c.weight.len() + c.bias.len();
    let stages: usize = net
        .stages
        .iter()
        .map(|s| {
            c(&s.up)
                + s.blocks
                    .iter()
                    .map(|b| c(&b.skip) + c(&b.conv) + c(&b.proj))
                    .sum::<usize>()
        })
        .sum();
    c(&net.conv_in) + stages + c(&net.conv_out) + net.synthesis.len()
}
