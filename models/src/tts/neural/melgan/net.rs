//! The vocoder's parameters in memory, and their safetensors file.
//!
//! Tensor names (all float32, ONNX/PyTorch layouts):
//!
//! * `conv_in.{weight,bias}` — mel → channels, weight (c, n_mels, k)
//! * `up.{i}.{weight,bias}` — upsampling stage `i`, a transposed convolution with
//!   weight (c_in, c_out, 2·scale)
//! * `up.{i}.res.{j}.{skip,conv,proj}.{weight,bias}` — residual block `j` of stage `i`:
//!   the 1×1 shortcut, the dilated kernel-3 convolution and the 1×1 projection after it
//! * `conv_out.{weight,bias}` — channels → sub-bands, weight (subbands, c, k)
//! * `pqmf.synthesis` — (subbands, taps + 1): the PQMF synthesis filters as
//!   cross-correlation taps on the zero-stuffed, ×subbands sub-band signals
//!
//! The architecture numbers that shapes cannot tell are in the file's metadata
//! ([`META_SCALES`], [`META_DILATIONS`], [`META_SLOPE`]).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::error::{Error, Result};
use crate::tensor_file::{self, HostTensor, TensorFile};

/// Metadata key: format tag, [`FORMAT`].
const META_FORMAT: &str = "format";
/// Metadata key: upsampling factor of each stage, comma-separated.
pub(super) const META_SCALES: &str = "upsample_scales";
/// Metadata key: dilation of each residual block in a stage, comma-separated.
pub(super) const META_DILATIONS: &str = "dilations";
/// Metadata key: negative slope of the leaky ReLUs.
pub(super) const META_SLOPE: &str = "leaky_relu_slope";
/// Metadata key: where the weights came from.
const META_SOURCE: &str = "source";
/// This file format's tag (bump when names or layouts change).
const FORMAT: &str = "xiaoan-mb-melgan-1";

/// One convolution (or transposed convolution): row-major weight of `shape`, bias.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Conv {
    /// (out, in, k) for a convolution, (in, out, k) for a transposed one.
    pub shape: [usize; 3],
    /// `shape`'s product values.
    pub weight: Vec<f32>,
    /// One value per output channel.
    pub bias: Vec<f32>,
}

impl Conv {
    /// Kernel length.
    pub fn kernel(&self) -> usize {
        self.shape[2]
    }
}

/// A residual block: `x + proj(lrelu(conv_dilated(pad(lrelu(x)))))`, with the identity
/// replaced by the 1×1 `skip` convolution.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Block {
    /// 1×1 shortcut convolution.
    pub skip: Conv,
    /// Kernel-3 dilated convolution (reflection-padded to keep the length).
    pub conv: Conv,
    /// 1×1 convolution after it.
    pub proj: Conv,
    /// Dilation of `conv`.
    pub dilation: usize,
}

/// An upsampling stage: leaky ReLU, transposed convolution, residual blocks.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Stage {
    /// Transposed convolution, kernel 2·scale, stride `scale`.
    pub up: Conv,
    /// Upsampling factor.
    pub scale: usize,
    /// The residual stack.
    pub blocks: Vec<Block>,
}

/// The whole Multi-band MelGAN generator with its PQMF synthesis filter bank.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Net {
    /// First convolution (reflection-padded).
    pub conv_in: Conv,
    /// Upsampling stages.
    pub stages: Vec<Stage>,
    /// Last convolution to the sub-band signals (reflection-padded, then tanh).
    pub conv_out: Conv,
    /// (subbands, taps + 1) synthesis filters, row-major.
    pub synthesis: Vec<f32>,
    /// Negative slope of every leaky ReLU.
    pub slope: f32,
}

impl Net {
    /// Number of sub-bands.
    pub fn subbands(&self) -> usize {
        self.conv_out.shape[0]
    }

    /// Mel bins the network takes.
    pub fn n_mels(&self) -> usize {
        self.conv_in.shape[1]
    }

    /// Output samples per mel frame.
    pub fn hop(&self) -> usize {
        self.stages.iter().map(|s| s.scale).product::<usize>() * self.subbands()
    }

    /// Length of each synthesis filter.
    pub fn filter_len(&self) -> usize {
        self.synthesis.len() / self.subbands().max(1)
    }

    /// Check that the shapes chain up; `what` names the source in errors.
    pub fn validate(&self, what: &Path) -> Result<()> {
        let bad = |detail: String| Error::BadModel {
            path: what.to_path_buf(),
            detail,
        };
        let check = |c: &Conv, name: &str, c_in: usize, c_out: usize, transposed: bool| {
            let [a, b, k] = c.shape;
            let (o, i) = if transposed { (b, a) } else { (a, b) };
            if i != c_in || o != c_out || k == 0 || c.weight.len() != a * b * k || c.bias.len() != o
            {
                return Err(bad(format!(
                    "{name}: shape {:?} with {} weights and {} biases does not fit {c_in} → {c_out}",
                    c.shape,
                    c.weight.len(),
                    c.bias.len()
                )));
            }
            Ok(())
        };
        let mut ch = self.conv_in.shape[0];
        check(&self.conv_in, "conv_in", self.n_mels(), ch, false)?;
        for (i, s) in self.stages.iter().enumerate() {
            let out = s.up.shape[1];
            check(&s.up, &format!("up.{i}"), ch, out, true)?;
            if s.up.kernel() != 2 * s.scale {
                return Err(bad(format!(
                    "up.{i}: kernel {} is not 2 × scale {}",
                    s.up.kernel(),
                    s.scale
                )));
            }
            ch = out;
            for (j, b) in s.blocks.iter().enumerate() {
                let p = format!("up.{i}.res.{j}");
                check(&b.skip, &format!("{p}.skip"), ch, ch, false)?;
                check(&b.conv, &format!("{p}.conv"), ch, ch, false)?;
                check(&b.proj, &format!("{p}.proj"), ch, ch, false)?;
                if b.conv.kernel().is_multiple_of(2)
                    || b.skip.kernel() != 1
                    || b.proj.kernel() != 1
                    || b.dilation == 0
                {
                    return Err(bad(format!("{p}: unexpected kernels or dilation")));
                }
            }
        }
        let dilations = |s: &Stage| s.blocks.iter().map(|b| b.dilation).collect::<Vec<_>>();
        if self
            .stages
            .windows(2)
            .any(|w| dilations(&w[0]) != dilations(&w[1]))
        {
            // the file keeps one list of dilations for all stages
            return Err(bad("stages with different residual blocks".into()));
        }
        check(&self.conv_out, "conv_out", ch, self.subbands(), false)?;
        if self.conv_in.kernel().is_multiple_of(2) || self.conv_out.kernel().is_multiple_of(2) {
            return Err(bad("conv_in/conv_out kernels must be odd".into()));
        }
        if self.synthesis.is_empty()
            || !self.synthesis.len().is_multiple_of(self.subbands())
            || self.filter_len().is_multiple_of(2)
            || self.filter_len() / 2 + self.subbands() > self.filter_len()
        {
            return Err(bad(format!(
                "pqmf.synthesis: {} taps do not make {} odd-length filters of ≥ 2 × subbands − 1 taps",
                self.synthesis.len(),
                self.subbands()
            )));
        }
        Ok(())
    }

    /// Write the parameters and architecture numbers to a safetensors file.
    pub fn write(&self, out: &Path, source: &str) -> Result<()> {
        let mut tensors = BTreeMap::new();
        let mut put = |name: String, shape: Vec<usize>, data: &[f32]| {
            let data = data.to_vec();
            tensors.insert(name, HostTensor { shape, data });
        };
        let mut conv = |name: &str, c: &Conv| {
            put(format!("{name}.weight"), c.shape.to_vec(), &c.weight);
            put(format!("{name}.bias"), vec![c.bias.len()], &c.bias);
        };
        conv("conv_in", &self.conv_in);
        for (i, s) in self.stages.iter().enumerate() {
            conv(&format!("up.{i}"), &s.up);
            for (j, b) in s.blocks.iter().enumerate() {
                conv(&format!("up.{i}.res.{j}.skip"), &b.skip);
                conv(&format!("up.{i}.res.{j}.conv"), &b.conv);
                conv(&format!("up.{i}.res.{j}.proj"), &b.proj);
            }
        }
        conv("conv_out", &self.conv_out);
        put(
            "pqmf.synthesis".into(),
            vec![self.subbands(), self.filter_len()],
            &self.synthesis,
        );
        let join = |v: Vec<usize>| v.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        let dilations = self
            .stages
            .first()
            .map(|s| s.blocks.iter().map(|b| b.dilation).collect())
            .unwrap_or_default();
        let meta = HashMap::from([
            (META_FORMAT.to_string(), FORMAT.to_string()),
            (
                META_SCALES.to_string(),
                join(self.stages.iter().map(|s| s.scale).collect()),
            ),
            (META_DILATIONS.to_string(), join(dilations)),
            (META_SLOPE.to_string(), self.slope.to_string()),
            (META_SOURCE.to_string(), source.to_string()),
        ]);
        tensor_file::write_f32(out, &tensors, meta).map(|_| ())
    }

    /// Read a file written by [`Net::write`].
    pub fn read(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::NotInstalled {
                path: path.to_path_buf(),
            });
        }
        let bad = |detail: String| Error::BadModel {
            path: path.to_path_buf(),
            detail,
        };
        let file = tensor_file::read(path)?;
        let meta = &file.metadata;
        if meta.get(META_FORMAT).map(String::as_str) != Some(FORMAT) {
            return Err(bad(format!(
                "not a {FORMAT} file (re-run `xiaoan models import`)"
            )));
        }
        let numbers = |key: &str| -> Result<Vec<usize>> {
            let v = meta
                .get(key)
                .ok_or_else(|| bad(format!("metadata {key} missing")))?;
            v.split(',')
                .map(|s| {
                    s.trim()
                        .parse::<usize>()
                        .map_err(|_| bad(format!("metadata {key}: {v:?}")))
                })
                .collect()
        };
        let scales = numbers(META_SCALES)?;
        let dilations = numbers(META_DILATIONS)?;
        let slope = meta
            .get(META_SLOPE)
            .and_then(|s| s.parse::<f32>().ok())
            .ok_or_else(|| bad(format!("metadata {META_SLOPE} missing or not a number")))?;
        let reader = Reader { file: &file, path };
        let mut stages = Vec::with_capacity(scales.len());
        for (i, &scale) in scales.iter().enumerate() {
            let mut blocks = Vec::with_capacity(dilations.len());
            for (j, &dilation) in dilations.iter().enumerate() {
                let p = format!("up.{i}.res.{j}");
                blocks.push(Block {
                    skip: reader.conv(&format!("{p}.skip"))?,
                    conv: reader.conv(&format!("{p}.conv"))?,
                    proj: reader.conv(&format!("{p}.proj"))?,
                    dilation,
                });
            }
            stages.push(Stage {
                up: reader.conv(&format!("up.{i}"))?,
                scale,
                blocks,
            });
        }
        let net = Net {
            conv_in: reader.conv("conv_in")?,
            stages,
            conv_out: reader.conv("conv_out")?,
            synthesis: reader.tensor("pqmf.synthesis", 2)?.1,
            slope,
        };
        net.validate(path)?;
        Ok(net)
    }
}

/// Typed access to the tensors of one safetensors file.
struct Reader<'a> {
    file: &'a TensorFile,
    path: &'a Path,
}

impl Reader<'_> {
    /// A tensor of `rank` dimensions: shape and values.
    fn tensor(&self, name: &str, rank: usize) -> Result<(Vec<usize>, Vec<f32>)> {
        let bad = |detail: String| Error::BadModel {
            path: self.path.to_path_buf(),
            detail,
        };
        let t = self
            .file
            .tensors
            .get(name)
            .ok_or_else(|| bad(format!("{name}: no such tensor")))?;
        if t.shape.len() != rank {
            return Err(bad(format!(
                "{name}: expected rank {rank}, found {:?}",
                t.shape
            )));
        }
        Ok((t.shape.clone(), t.data.clone()))
    }

    /// `{name}.weight` (rank 3) and `{name}.bias`.
    fn conv(&self, name: &str) -> Result<Conv> {
        let (shape, weight) = self.tensor(&format!("{name}.weight"), 3)?;
        let (_, bias) = self.tensor(&format!("{name}.bias"), 1)?;
        Ok(Conv {
            shape: [shape[0], shape[1], shape[2]],
            weight,
            bias,
        })
    }
}
