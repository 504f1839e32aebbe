//! A reader of TFLite model files (the flatbuffer of TensorFlow Lite's `schema.fbs`),
//! enough to take the weights out of a converted model and follow its graph.
//!
//! The flatbuffer is read by hand: a table starts with a signed offset back to its
//! vtable, the vtable lists where each field sits, and vectors, strings and sub-tables
//! are reached through unsigned offsets relative to where the offset is stored. Every
//! read is bounds-checked, so a truncated or corrupt file gives [`Error::BadModel`]
//! and never a panic.
//!
//! ```no_run
//! # fn main() -> xiaoan_models::Result<()> {
//! let bytes = std::fs::read("model.tflite").expect("read");
//! let model = xiaoan_models::tflite::Model::parse(&bytes)?;
//! for (i, t) in model.tensors().iter().enumerate() {
//!     println!("{i} {} {:?} {:?}", t.name, t.shape, t.dtype);
//! }
//! let first = model.tensor_f32(0)?;
//! # Ok(()) }
//! ```

use std::path::PathBuf;

use crate::error::{Error, Result};

/// `OperatorCode.builtin_code` of a custom operator (`BuiltinOperator.CUSTOM`).
const BUILTIN_CUSTOM: i32 = 32;
/// The largest builtin code that fits the old `deprecated_builtin_code` byte
/// (`BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES`, schema.fbs).
const PLACEHOLDER_FOR_GREATER_OP_CODES: i32 = 127;

/// Element type of a tensor (`TensorType` in schema.fbs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    /// `FLOAT32`
    F32,
    /// `FLOAT16`
    F16,
    /// `INT32`
    I32,
    /// `UINT8`
    U8,
    /// `INT64`
    I64,
    /// `STRING`
    String,
    /// `BOOL`
    Bool,
    /// `INT16`
    I16,
    /// `INT8`
    I8,
    /// `FLOAT64`
    F64,
    /// Any other type, by its schema number.
    Other(u8),
}

impl DType {
    fn from_code(code: u8) -> Self {
        match code {
            0 => DType::F32,
            1 => DType::F16,
            2 => DType::I32,
            3 => DType::U8,
            4 => DType::I64,
            5 => DType::String,
            6 => DType::Bool,
            7 => DType::I16,
            9 => DType::I8,
            10 => DType::F64,
            other => DType::Other(other),
        }
    }

    /// Whether the type is a floating-point one (never dequantised).
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::F64)
    }

    /// Bytes per element, for the fixed-size types.
    pub fn size(self) -> Option<usize> {
        match self {
            DType::F32 | DType::I32 => Some(4),
            DType::F16 | DType::I16 => Some(2),
            DType::U8 | DType::I8 | DType::Bool => Some(1),
            DType::I64 | DType::F64 => Some(8),
            DType::String | DType::Other(_) => None,
        }
    }
}

/// Quantization parameters of a tensor: `real = scale * (q - zero_point)`, one
/// (scale, zero point) for the whole tensor or one per slice along `dimension`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quantization {
    /// Scales: one, or one per channel.
    pub scales: Vec<f32>,
    /// Zero points, as many as scales (empty means all zero).
    pub zero_points: Vec<i64>,
    /// The channel axis when there is more than one scale.
    pub dimension: usize,
}

/// A tensor of the main graph: its description and where its constant data lies.
#[derive(Clone, Debug)]
pub struct Tensor {
    /// The name given by the converter (usually the TensorFlow op path).
    pub name: String,
    /// Dimensions; `-1`-free for constants, may be `1` placeholders for inputs.
    pub shape: Vec<i32>,
    /// Element type.
    pub dtype: DType,
    /// Index into the model's buffers (0 is the conventional empty buffer).
    pub buffer: usize,
    /// Quantization, when the tensor is quantized.
    pub quantization: Option<Quantization>,
}

/// The operator of a node: a builtin code (`BuiltinOperator` in schema.fbs) or a
/// custom name (such as `FlexRandomUniform` for TensorFlow ops run by the Flex delegate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opcode {
    /// A builtin operator by its schema number.
    Builtin(i32),
    /// A custom operator by name.
    Custom(String),
}

impl Opcode {
    /// A readable name: the schema name for the common builtins, else `BUILTIN_<n>`,
    /// or the custom name.
    pub fn name(&self) -> String {
        match self {
            Opcode::Custom(s) => s.clone(),
            Opcode::Builtin(code) => match builtin_name(*code) {
                Some(n) => n.to_string(),
                None => format!("BUILTIN_{code}"),
            },
        }
    }
}

/// Names of the builtins met in speech models (schema.fbs `BuiltinOperator`).
fn builtin_name(code: i32) -> Option<&'static str> {
    Some(match code {
        0 => "ADD",
        2 => "CONCATENATION",
        3 => "CONV_2D",
        4 => "DEPTHWISE_CONV_2D",
        6 => "DEQUANTIZE",
        9 => "FULLY_CONNECTED",
        14 => "LOGISTIC",
        18 => "MUL",
        19 => "RELU",
        22 => "RESHAPE",
        25 => "SOFTMAX",
        28 => "TANH",
        34 => "PAD",
        36 => "GATHER",
        37 => "BATCH_TO_SPACE_ND",
        38 => "SPACE_TO_BATCH_ND",
        39 => "TRANSPOSE",
        40 => "MEAN",
        41 => "SUB",
        42 => "DIV",
        43 => "SQUEEZE",
        45 => "STRIDED_SLICE",
        47 => "EXP",
        53 => "CAST",
        55 => "MAXIMUM",
        58 => "LESS",
        61 => "GREATER",
        62 => "GREATER_EQUAL",
        67 => "TRANSPOSE_CONV",
        69 => "TILE",
        70 => "EXPAND_DIMS",
        72 => "NOT_EQUAL",
        73 => "LOG",
        74 => "SUM",
        76 => "RSQRT",
        77 => "SHAPE",
        82 => "REDUCE_MAX",
        83 => "PACK",
        81 => "REDUCE_PROD",
        90 => "FLOOR_DIV",
        94 => "FILL",
        96 => "RANGE",
        97 => "RESIZE_NEAREST_NEIGHBOR",
        98 => "LEAKY_RELU",
        99 => "SQUARED_DIFFERENCE",
        100 => "MIRROR_PAD",
        101 => "ABS",
        109 => "WHERE",
        116 => "ROUND",
        126 => "BATCH_MATMUL",
        _ => return None,
    })
}

/// A node of the main graph.
#[derive(Clone, Debug)]
pub struct Operator {
    /// What the node computes.
    pub opcode: Opcode,
    /// Version of the operator's kernel.
    pub version: i32,
    /// Input tensor indices (`None` for an omitted optional input, written `-1`).
    pub inputs: Vec<Option<usize>>,
    /// Output tensor indices.
    pub outputs: Vec<usize>,
    /// `BuiltinOptions` union type (0 when the node has no options).
    pub options_type: u8,
    options: Option<usize>,
}

/// A parsed TFLite model borrowing the file's bytes. Only the first subgraph (the
/// main graph) is described; the others are counted.
#[derive(Debug)]
pub struct Model<'a> {
    buf: &'a [u8],
    version: u32,
    description: String,
    tensors: Vec<Tensor>,
    operators: Vec<Operator>,
    inputs: Vec<usize>,
    outputs: Vec<usize>,
    buffers: Vec<&'a [u8]>,
    subgraphs: usize,
}

fn bad(detail: impl Into<String>) -> Error {
    Error::BadModel {
        path: PathBuf::from("<tflite>"),
        detail: detail.into(),
    }
}

/// A table inside the buffer: its start and its vtable's start and length.
#[derive(Clone, Copy, Debug)]
struct Table {
    pos: usize,
    vtable: usize,
    vt_len: usize,
}

/// Bounds-checked little-endian reads over the file.
#[derive(Clone, Copy)]
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn bytes(&self, pos: usize, len: usize) -> Result<&'a [u8]> {
        pos.checked_add(len)
            .and_then(|end| self.buf.get(pos..end))
            .ok_or_else(|| bad(format!("read of {len} bytes at {pos} past the end")))
    }

    fn u8(&self, pos: usize) -> Result<u8> {
        Ok(self.bytes(pos, 1)?[0])
    }

    fn u16(&self, pos: usize) -> Result<u16> {
        let b = self.bytes(pos, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&self, pos: usize) -> Result<u32> {
        let b = self.bytes(pos, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&self, pos: usize) -> Result<u64> {
        let b = self.bytes(pos, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Follow the `uoffset` stored at `pos`.
    fn deref(&self, pos: usize) -> Result<usize> {
        let off = self.u32(pos)? as usize;
        let target = pos
            .checked_add(off)
            .ok_or_else(|| bad("offset overflows"))?;
        if target >= self.buf.len() {
            return Err(bad(format!("offset at {pos} points past the end")));
        }
        Ok(target)
    }

    fn table(&self, pos: usize) -> Result<Table> {
        let soff = self.u32(pos)? as i32 as i64;
        let vtable = pos as i64 - soff;
        if vtable < 0 {
            return Err(bad(format!("vtable of table at {pos} before the start")));
        }
        let vtable = vtable as usize;
        let vt_len = usize::from(self.u16(vtable)?);
        if vt_len < 4 || vt_len % 2 != 0 {
            return Err(bad(format!("vtable at {vtable} has bad size {vt_len}")));
        }
        self.bytes(vtable, vt_len)?;
        Ok(Table {
            pos,
            vtable,
            vt_len,
        })
    }

    /// Position of field `id` of a table, `None` when absent.
    fn field(&self, t: Table, id: usize) -> Result<Option<usize>> {
        let slot = 4 + 2 * id;
        if slot + 2 > t.vt_len {
            return Ok(None);
        }
        let off = self.u16(t.vtable + slot)?;
        Ok((off != 0).then(|| t.pos + usize::from(off)))
    }

    fn sub_table(&self, t: Table, id: usize) -> Result<Option<Table>> {
        match self.field(t, id)? {
            Some(p) => Ok(Some(self.table(self.deref(p)?)?)),
            None => Ok(None),
        }
    }

    /// A vector field: start of its elements and their count.
    fn vector(&self, t: Table, id: usize, elem: usize) -> Result<Option<(usize, usize)>> {
        let Some(p) = self.field(t, id)? else {
            return Ok(None);
        };
        let v = self.deref(p)?;
        let n = self.u32(v)? as usize;
        let len = n
            .checked_mul(elem)
            .ok_or_else(|| bad("vector length overflows"))?;
        self.bytes(v + 4, len)?;
        Ok(Some((v + 4, n)))
    }

    fn tables(&self, t: Table, id: usize) -> Result<Vec<Table>> {
        let Some((start, n)) = self.vector(t, id, 4)? else {
            return Ok(Vec::new());
        };
        (0..n)
            .map(|i| self.table(self.deref(start + 4 * i)?))
            .collect()
    }

    fn i32s(&self, t: Table, id: usize) -> Result<Vec<i32>> {
        let Some((start, n)) = self.vector(t, id, 4)? else {
            return Ok(Vec::new());
        };
        (0..n)
            .map(|i| Ok(self.u32(start + 4 * i)? as i32))
            .collect()
    }

    fn string(&self, t: Table, id: usize) -> Result<String> {
        let Some((start, n)) = self.vector(t, id, 1)? else {
            return Ok(String::new());
        };
        Ok(String::from_utf8_lossy(self.bytes(start, n)?).into_owned())
    }

    fn scalar_u8(&self, t: Table, id: usize, default: u8) -> Result<u8> {
        self.field(t, id)?.map_or(Ok(default), |p| self.u8(p))
    }

    fn scalar_u32(&self, t: Table, id: usize, default: u32) -> Result<u32> {
        self.field(t, id)?.map_or(Ok(default), |p| self.u32(p))
    }
}

/// Non-negative index from a schema `int`, checked against `len`.
fn index(i: i32, len: usize, what: &str) -> Result<usize> {
    usize::try_from(i)
        .ok()
        .filter(|&u| u < len)
        .ok_or_else(|| bad(format!("{what} index {i} out of range (0..{len})")))
}

impl<'a> Model<'a> {
    /// Parse a TFLite flatbuffer. Checks every offset it follows and every tensor and
    /// buffer index of the main graph.
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let r = Reader { buf };
        let root = r.table(r.deref(0)?)?;
        let version = r.scalar_u32(root, 0, 0)?;
        let codes = r
            .tables(root, 1)?
            .into_iter()
            .map(|t| Self::read_opcode(r, t))
            .collect::<Result<Vec<_>>>()?;
        let description = r.string(root, 3)?;
        let buffers = r
            .tables(root, 4)?
            .into_iter()
            .map(|t| Self::read_buffer(r, t))
            .collect::<Result<Vec<_>>>()?;
        let graphs = r.tables(root, 2)?;
        let graph = *graphs
            .first()
            .ok_or_else(|| bad("the model has no subgraph"))?;
        let tensors = r
            .tables(graph, 0)?
            .into_iter()
            .map(|t| Self::read_tensor(r, t, buffers.len()))
            .collect::<Result<Vec<_>>>()?;
        let ids = |id| -> Result<Vec<usize>> {
            r.i32s(graph, id)?
                .into_iter()
                .map(|i| index(i, tensors.len(), "graph input/output"))
                .collect()
        };
        let inputs = ids(1)?;
        let outputs = ids(2)?;
        let operators = r
            .tables(graph, 3)?
            .into_iter()
            .map(|t| Self::read_operator(r, t, &codes, tensors.len()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            buf,
            version,
            description,
            tensors,
            operators,
            inputs,
            outputs,
            buffers,
            subgraphs: graphs.len(),
        })
    }

    fn read_opcode(r: Reader<'_>, t: Table) -> Result<(Opcode, i32)> {
        let deprecated = i32::from(r.scalar_u8(t, 0, 0)? as i8);
        let version = r.scalar_u32(t, 2, 1)? as i32;
        let builtin = r.scalar_u32(t, 3, 0)? as i32;
        // files written before the 32-bit field exist carry the code in the byte only
        let code = if deprecated == PLACEHOLDER_FOR_GREATER_OP_CODES {
            builtin
        } else {
            deprecated.max(builtin)
        };
        let op = if code == BUILTIN_CUSTOM {
            Opcode::Custom(r.string(t, 1)?)
        } else {
            Opcode::Builtin(code)
        };
        Ok((op, version))
    }

    fn read_buffer(r: Reader<'a>, t: Table) -> Result<&'a [u8]> {
        if let Some((start, n)) = r.vector(t, 0, 1)? {
            return r.bytes(start, n);
        }
        // large models keep data after the flatbuffer: offset and size from the file start
        let offset = r.field(t, 1)?.map_or(Ok(0), |p| r.u64(p))?;
        let size = r.field(t, 2)?.map_or(Ok(0), |p| r.u64(p))?;
        if offset <= 1 || size == 0 {
            return Ok(&[]);
        }
        let (offset, size) = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(size).ok())
            .ok_or_else(|| bad("buffer offset too large"))?;
        r.bytes(offset, size)
    }

    fn read_tensor(r: Reader<'_>, t: Table, n_buffers: usize) -> Result<Tensor> {
        let name = r.string(t, 3)?;
        let buffer = r.scalar_u32(t, 2, 0)? as usize;
        if buffer >= n_buffers && !(buffer == 0 && n_buffers == 0) {
            return Err(bad(format!("tensor {name}: buffer {buffer} out of range")));
        }
        let quantization = match r.sub_table(t, 4)? {
            Some(q) => Self::read_quantization(r, q)?,
            None => None,
        };
        Ok(Tensor {
            shape: r.i32s(t, 0)?,
            dtype: DType::from_code(r.scalar_u8(t, 1, 0)?),
            buffer,
            quantization,
            name,
        })
    }

    fn read_quantization(r: Reader<'_>, q: Table) -> Result<Option<Quantization>> {
        let scales = match r.vector(q, 2, 4)? {
            Some((start, n)) => (0..n)
                .map(|i| Ok(f32::from_bits(r.u32(start + 4 * i)?)))
                .collect::<Result<Vec<_>>>()?,
            None => Vec::new(),
        };
        if scales.is_empty() {
            return Ok(None);
        }
        let zero_points = match r.vector(q, 3, 8)? {
            Some((start, n)) => (0..n)
                .map(|i| Ok(r.u64(start + 8 * i)? as i64))
                .collect::<Result<Vec<_>>>()?,
            None => Vec::new(),
        };
        let dimension = r.scalar_u32(q, 6, 0)? as i32;
        let dimension =
            usize::try_from(dimension).map_err(|_| bad("negative quantized_dimension"))?;
        Ok(Some(Quantization {
            scales,
            zero_points,
            dimension,
        }))
    }

    fn read_operator(
        r: Reader<'_>,
        t: Table,
        codes: &[(Opcode, i32)],
        n_tensors: usize,
    ) -> Result<Operator> {
        let code = r.scalar_u32(t, 0, 0)? as usize;
        let (opcode, version) = codes
            .get(code)
            .cloned()
            .ok_or_else(|| bad(format!("opcode index {code} out of range")))?;
        let inputs = r
            .i32s(t, 1)?
            .into_iter()
            .map(|i| {
                if i < 0 {
                    Ok(None)
                } else {
                    index(i, n_tensors, "operator input").map(Some)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let outputs = r
            .i32s(t, 2)?
            .into_iter()
            .map(|i| index(i, n_tensors, "operator output"))
            .collect::<Result<Vec<_>>>()?;
        let options = r.sub_table(t, 4)?.map(|o| o.pos);
        Ok(Operator {
            opcode,
            version,
            inputs,
            outputs,
            options_type: r.scalar_u8(t, 3, 0)?,
            options,
        })
    }

    /// The schema version the file was written with (3 for current files).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The converter's description string.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Number of subgraphs (only the first, the main graph, is described here).
    pub fn subgraph_count(&self) -> usize {
        self.subgraphs
    }

    /// Tensors of the main graph, by index.
    pub fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }

    /// Nodes of the main graph, in execution order.
    pub fn operators(&self) -> &[Operator] {
        &self.operators
    }

    /// Tensor indices of the graph's inputs.
    pub fn inputs(&self) -> &[usize] {
        &self.inputs
    }

    /// Tensor indices of the graph's outputs.
    pub fn outputs(&self) -> &[usize] {
        &self.outputs
    }

    /// The first tensor whose name is `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.tensors.iter().position(|t| t.name == name)
    }

    /// Raw bytes of tensor `i`'s constant data (empty for activations).
    pub fn tensor_bytes(&self, i: usize) -> Result<&'a [u8]> {
        let t = self.tensor(i)?;
        Ok(self.buffers.get(t.buffer).copied().unwrap_or(&[]))
    }

    fn tensor(&self, i: usize) -> Result<&Tensor> {
        self.tensors
            .get(i)
            .ok_or_else(|| bad(format!("tensor {i} out of range")))
    }

    /// Tensor `i`'s constant data as f32: float32 as is, float16 widened, int32 and
    /// int64 converted, int8/uint8/int16 dequantised (`scale * (q - zero_point)`, per
    /// tensor or per channel along the quantized dimension; unquantized integers
    /// converted as they are). Errors for activations (no data) and other types.
    pub fn tensor_f32(&self, i: usize) -> Result<Vec<f32>> {
        let t = self.tensor(i)?;
        let data = self.tensor_bytes(i)?;
        let count = element_count(&t.shape)
            .ok_or_else(|| bad(format!("tensor {}: bad shape {:?}", t.name, t.shape)))?;
        let size = t.dtype.size().ok_or_else(|| {
            bad(format!(
                "tensor {}: type {:?} is not numeric",
                t.name, t.dtype
            ))
        })?;
        if data.is_empty() {
            return Err(bad(format!("tensor {} has no constant data", t.name)));
        }
        if data.len() != count * size {
            return Err(bad(format!(
                "tensor {}: {} bytes for shape {:?} of {:?}",
                t.name,
                data.len(),
                t.shape,
                t.dtype
            )));
        }
        let raw = elements(t.dtype, data).ok_or_else(|| {
            bad(format!(
                "tensor {}: type {:?} is not numeric",
                t.name, t.dtype
            ))
        })?;
        match &t.quantization {
            Some(q) if !t.dtype.is_float() => {
                dequantize(&raw, &t.shape, q).map_err(|e| bad(format!("tensor {}: {e}", t.name)))
            }
            _ => Ok(raw.into_iter().map(|x| x as f32).collect()),
        }
    }

    /// Builtin option of node `op`: the scalar at field `field` of its options table,
    /// read as `N` little-endian bytes, or `None` when the field is absent (the schema
    /// default applies). Field numbers are those of the `*Options` table in schema.fbs
    /// (e.g. `Conv2DOptions`: 0 padding, 1 stride_w, 2 stride_h, 3 fused activation,
    /// 4 dilation_w, 5 dilation_h).
    pub fn option_bytes<const N: usize>(&self, op: usize, field: usize) -> Result<Option<[u8; N]>> {
        let o = self
            .operators
            .get(op)
            .ok_or_else(|| bad(format!("operator {op} out of range")))?;
        let Some(pos) = o.options else {
            return Ok(None);
        };
        let r = Reader { buf: self.buf };
        let t = r.table(pos)?;
        let Some(p) = r.field(t, field)? else {
            return Ok(None);
        };
        let mut a = [0u8; N];
        a.copy_from_slice(r.bytes(p, N)?);
        Ok(Some(a))
    }

    /// An `int` builtin option (see [`Model::option_bytes`]), `default` when absent.
    pub fn option_i32(&self, op: usize, field: usize, default: i32) -> Result<i32> {
        Ok(self
            .option_bytes::<4>(op, field)?
            .map_or(default, i32::from_le_bytes))
    }

    /// A `byte`/`bool`/enum builtin option (see [`Model::option_bytes`]).
    pub fn option_u8(&self, op: usize, field: usize, default: u8) -> Result<u8> {
        Ok(self.option_bytes::<1>(op, field)?.map_or(default, |b| b[0]))
    }

    /// A `float` builtin option (see [`Model::option_bytes`]).
    pub fn option_f32(&self, op: usize, field: usize, default: f32) -> Result<f32> {
        Ok(self
            .option_bytes::<4>(op, field)?
            .map_or(default, f32::from_le_bytes))
    }
}

/// The little-endian elements of `data` as f64 (exact for every type but the
/// largest 64-bit integers), `None` for non-numeric types.
fn elements(dtype: DType, data: &[u8]) -> Option<Vec<f64>> {
    fn each<const N: usize>(data: &[u8], f: impl Fn([u8; N]) -> f64) -> Vec<f64> {
        data.chunks_exact(N)
            .map(|b| {
                let mut a = [0u8; N];
                a.copy_from_slice(b);
                f(a)
            })
            .collect()
    }
    Some(match dtype {
        DType::F32 => each(data, |b| f64::from(f32::from_le_bytes(b))),
        DType::F16 => each(data, |b| f64::from(half::f16::from_le_bytes(b).to_f32())),
        DType::F64 => each(data, f64::from_le_bytes),
        DType::I32 => each(data, |b| f64::from(i32::from_le_bytes(b))),
        DType::I64 => each(data, |b| i64::from_le_bytes(b) as f64),
        DType::I16 => each(data, |b| f64::from(i16::from_le_bytes(b))),
        DType::I8 => each(data, |[b]: [u8; 1]| f64::from(b as i8)),
        DType::U8 | DType::Bool => each(data, |[b]: [u8; 1]| f64::from(b)),
        DType::String | DType::Other(_) => return None,
    })
}

/// Product of the dimensions, `None` for a negative dimension or an overflow.
fn element_count(shape: &[i32]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| {
        usize::try_from(d).ok().and_then(|d| acc.checked_mul(d))
    })
}

/// `scale * (q - zero_point)` per tensor or per channel along `q.dimension`.
fn dequantize(
    raw: &[f64],
    shape: &[i32],
    q: &Quantization,
) -> std::result::Result<Vec<f32>, String> {
    let channels = q.scales.len();
    if !q.zero_points.is_empty() && q.zero_points.len() != channels {
        return Err(format!(
            "{} zero points for {channels} scales",
            q.zero_points.len()
        ));
    }
    let zero = |c: usize| q.zero_points.get(c).copied().unwrap_or(0) as f64;
    if channels == 1 {
        let (s, z) = (f64::from(q.scales[0]), zero(0));
        return Ok(raw.iter().map(|&x| (s * (x - z)) as f32).collect());
    }
    let dim = shape
        .get(q.dimension)
        .and_then(|&d| usize::try_from(d).ok())
        .ok_or_else(|| {
            format!(
                "quantized dimension {} outside shape {shape:?}",
                q.dimension
            )
        })?;
    if dim != channels {
        return Err(format!(
            "{channels} scales for dimension {} of size {dim}",
            q.dimension
        ));
    }
    // elements in one step along the channel axis
    let inner = element_count(&shape[q.dimension + 1..]).ok_or("bad shape")?;
    Ok(raw
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let c = (i / inner.max(1)) % channels;
            (f64::from(q.scales[c]) * (x - zero(c))) as f32
        })
        .collect())
}

#[cfg(test)]
mod tests;
