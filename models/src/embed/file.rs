//! The reader of the packed 4-bit encoder file (`e5-small-q4.bin`, magic `E5S1`).
//!
//! Layout (little-endian), as written by the package's converter:
//!
//! | part | contents |
//! |---|---|
//! | header | `E5S1`, `u32` version (1), `i32` hidden, layers, heads, feed-forward width, embedding rows, positions, token types, `f32` layer-norm epsilon, `i32` block size (32) |
//! | vocabulary | `i32` pieces, `i32` ids of `<s>`, `</s>`, `<pad>`, `<unk>`, `u64` bytes of piece text, pieces + 1 `u32` offsets into that text, pieces `f32` unigram scores, the text |
//! | normaliser | `i32` entries, `u32` bytes, then per entry `u32` code point, `u8` count, count `u32` replacement code points (sorted by code point) |
//! | directory | `i32` tensors, then per tensor `u16` name length, name, `u8` type (0 f32, 1 Q4_0), `u32` elements, `u64` offset from the start of the file, `u64` bytes |
//!
//! A Q4_0 block holds 32 weights: an f16 scale `d`, then 16 bytes whose byte `j` keeps
//! weight `j` in its low nibble and weight `j + 16` in its high one; a weight is
//! `(nibble - 8) · d`. Matrices are stored row-major as `[out][in]`, `in / 32` blocks per row.
//!
//! Every count and offset is checked against the file's length before anything is
//! allocated or read, so a truncated or corrupt file gives [`Error::BadModel`], never a
//! panic or a huge allocation.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The file's first four bytes.
pub(super) const MAGIC: &[u8; 4] = b"E5S1";
/// The only layout version this reader knows.
pub(super) const VERSION: u32 = 1;
/// Weights per Q4_0 block.
pub(super) const QK: usize = 32;
/// Bytes per Q4_0 block: an f16 scale and 16 bytes of nibbles.
pub(super) const Q4_BLOCK_BYTES: usize = 18;

/// Tensor element types in the directory.
const DTYPE_F32: u8 = 0;
const DTYPE_Q4: u8 = 1;

/// Largest shapes accepted (multilingual-e5-small is 384 × 12 layers × 1536); anything
/// beyond these is a corrupt header, not a model.
const MAX_HIDDEN: usize = 4096;
const MAX_LAYERS: usize = 64;
const MAX_FFN: usize = 16384;
const MAX_POSITIONS: usize = 8192;
const MAX_TENSORS: usize = 100_000;

/// The model's hyper-parameters.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Header {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ffn: usize,
    pub vocab_rows: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub eps: f32,
}

/// The vocabulary and normaliser, as stored.
pub(super) struct Vocab {
    pub bos: u32,
    pub eos: u32,
    pub unk: u32,
    /// Piece `i` is `text[offsets[i]..offsets[i + 1]]` (UTF-8 bytes).
    pub offsets: Vec<u32>,
    pub text: Vec<u8>,
    pub scores: Vec<f32>,
    /// Sorted code points with a replacement; entry `i`'s replacement is
    /// `norm_out[norm_off[i]..norm_off[i + 1]]` (possibly empty: the character is dropped).
    pub norm_from: Vec<u32>,
    pub norm_off: Vec<u32>,
    pub norm_out: Vec<char>,
}

/// One entry of the tensor directory.
#[derive(Clone, Debug)]
pub(super) struct Tensor {
    dtype: u8,
    elements: usize,
    offset: u64,
    bytes: u64,
}

/// An opened model file: its header, vocabulary and tensor directory. Tensors are read
/// on request.
pub(super) struct ModelFile {
    pub path: PathBuf,
    pub file: File,
    pub header: Header,
    pub vocab: Vocab,
    tensors: HashMap<String, Tensor>,
}

/// Sequential reads that never go past the end of the file.
struct Cursor<R> {
    inner: R,
    pos: u64,
    len: u64,
    path: PathBuf,
}

impl<R: Read> Cursor<R> {
    fn bad(&self, detail: impl Into<String>) -> Error {
        bad(&self.path, detail)
    }

    /// Fails unless `n` more bytes are in the file.
    fn need(&self, n: u64, what: &str) -> Result<()> {
        if self.len.saturating_sub(self.pos) < n {
            return Err(self.bad(format!(
                "truncated: {what} needs {n} bytes at offset {}, the file has {}",
                self.pos, self.len
            )));
        }
        Ok(())
    }

    fn bytes(&mut self, n: usize, what: &str) -> Result<Vec<u8>> {
        self.need(n as u64, what)?;
        let mut v = vec![0u8; n];
        self.inner
            .read_exact(&mut v)
            .map_err(|e| Error::io(&self.path, e))?;
        self.pos += n as u64;
        Ok(v)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        self.need(N as u64, what)?;
        let mut a = [0u8; N];
        self.inner
            .read_exact(&mut a)
            .map_err(|e| Error::io(&self.path, e))?;
        self.pos += N as u64;
        Ok(a)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    /// An `i32` count or size in `1..=max` (`0..=max` when `allow_zero`).
    fn count(&mut self, what: &str, max: usize, allow_zero: bool) -> Result<usize> {
        let v = i32::from_le_bytes(self.array(what)?);
        let min = if allow_zero { 0 } else { 1 };
        if v < min || v as i64 > max as i64 {
            return Err(self.bad(format!("{what} is {v}, expected {min}..={max}")));
        }
        Ok(v as usize)
    }

    /// `n` little-endian 4-byte values (`n` is checked against the file first).
    fn words(&mut self, n: usize, what: &str) -> Result<Vec<[u8; 4]>> {
        let raw = self.bytes(n.saturating_mul(4), what)?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect())
    }
}

fn bad(path: &Path, detail: impl Into<String>) -> Error {
    Error::BadModel {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

impl ModelFile {
    /// Opens `path` and reads everything but the tensors' data.
    pub fn open(path: &Path) -> Result<Self> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotInstalled {
                    path: path.to_path_buf(),
                })
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let reader = file.try_clone().map_err(|e| Error::io(path, e))?;
        let mut c = Cursor {
            inner: BufReader::with_capacity(1 << 20, reader),
            pos: 0,
            len,
            path: path.to_path_buf(),
        };
        let magic: [u8; 4] = c.array("the magic number")?;
        if &magic != MAGIC {
            return Err(c.bad(format!(
                "not an E5S1 encoder file (starts with {:02x?})",
                magic
            )));
        }
        let version = c.u32("the version")?;
        if version != VERSION {
            return Err(c.bad(format!(
                "layout version {version}, this reader knows {VERSION}"
            )));
        }
        let header = read_header(&mut c)?;
        let vocab = read_vocab(&mut c, &header)?;
        let tensors = read_directory(&mut c)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            header,
            vocab,
            tensors,
        })
    }

    fn entry(&self, name: &str, dtype: u8, elements: usize) -> Result<&Tensor> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| bad(&self.path, format!("tensor {name} is missing")))?;
        if t.dtype != dtype || t.elements != elements {
            return Err(bad(
                &self.path,
                format!(
                    "tensor {name} has type {} and {} elements, expected type {dtype} and {elements}",
                    t.dtype, t.elements
                ),
            ));
        }
        Ok(t)
    }

    /// The f32 tensor `name` with `elements` values.
    pub fn f32s(&self, name: &str, elements: usize) -> Result<Vec<f32>> {
        let t = self.entry(name, DTYPE_F32, elements)?;
        let raw = self.read_at(t.offset, t.bytes as usize)?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// The raw Q4_0 blocks of the `rows × cols` matrix `name`.
    pub fn q4_blocks(&self, name: &str, rows: usize, cols: usize) -> Result<Vec<u8>> {
        let t = self.entry(name, DTYPE_Q4, rows * cols)?;
        self.read_at(t.offset, t.bytes as usize)
    }

    /// Where the Q4_0 matrix `name` (`rows × cols`) starts in the file, for reading
    /// single rows later (the token-embedding table stays on disk).
    pub fn q4_offset(&self, name: &str, rows: usize, cols: usize) -> Result<u64> {
        Ok(self.entry(name, DTYPE_Q4, rows * cols)?.offset)
    }

    fn read_at(&self, offset: u64, n: usize) -> Result<Vec<u8>> {
        let mut v = vec![0u8; n];
        read_exact_at(&self.file, &mut v, offset).map_err(|e| Error::io(&self.path, e))?;
        Ok(v)
    }
}

/// Positioned read that leaves no shared cursor to race on (`pread` on Unix).
#[cfg(unix)]
pub(super) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

/// Positioned read that leaves no shared cursor to race on.
#[cfg(windows)]
pub(super) fn read_exact_at(
    file: &File,
    mut buf: &mut [u8],
    mut offset: u64,
) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

fn read_header<R: Read>(c: &mut Cursor<R>) -> Result<Header> {
    let hidden = c.count("hidden size", MAX_HIDDEN, false)?;
    let layers = c.count("layer count", MAX_LAYERS, false)?;
    let heads = c.count("head count", MAX_HIDDEN, false)?;
    let ffn = c.count("feed-forward width", MAX_FFN, false)?;
    let vocab_rows = c.count("embedding rows", i32::MAX as usize, false)?;
    let max_positions = c.count("position count", MAX_POSITIONS, false)?;
    let type_vocab = c.count("token-type count", 1024, false)?;
    let eps = c.f32("layer-norm epsilon")?;
    let qk = c.count("block size", 1024, false)?;
    // the kernels take whole pairs of 32-weight blocks and 16-row groups
    if qk != QK {
        return Err(c.bad(format!("block size {qk}, expected {QK}")));
    }
    if hidden % (2 * QK) != 0 || ffn % (2 * QK) != 0 || hidden % heads != 0 {
        return Err(c.bad(format!(
            "unsupported shape: hidden {hidden}, feed-forward {ffn}, heads {heads} \
             (hidden and feed-forward must be multiples of 64, hidden of heads)"
        )));
    }
    if !(eps.is_finite() && eps > 0.0) || max_positions < 3 {
        return Err(c.bad(format!(
            "bad header: epsilon {eps}, {max_positions} positions"
        )));
    }
    Ok(Header {
        hidden,
        layers,
        heads,
        ffn,
        vocab_rows,
        max_positions,
        type_vocab,
        eps,
    })
}

fn read_vocab<R: Read>(c: &mut Cursor<R>, h: &Header) -> Result<Vocab> {
    let pieces = c.count("piece count", h.vocab_rows, false)?;
    let mut special = [0u32; 4];
    for (s, what) in special.iter_mut().zip(["<s>", "</s>", "<pad>", "<unk>"]) {
        *s = c.count(what, pieces - 1, true)? as u32;
    }
    let [bos, eos, _pad, unk] = special;
    let text_len = c.u64("piece text size")?;
    // offsets + scores + text must fit in what is left of the file
    let table = (pieces as u64 + 1) * 4 + pieces as u64 * 4;
    c.need(table.saturating_add(text_len), "the vocabulary")?;
    let offsets: Vec<u32> = c
        .words(pieces + 1, "piece offsets")?
        .into_iter()
        .map(u32::from_le_bytes)
        .collect();
    let scores: Vec<f32> = c
        .words(pieces, "piece scores")?
        .into_iter()
        .map(f32::from_le_bytes)
        .collect();
    let text = c.bytes(text_len as usize, "piece text")?;
    if offsets[0] != 0
        || offsets.windows(2).any(|w| w[0] > w[1])
        || offsets[pieces] as u64 != text_len
    {
        return Err(c.bad("piece offsets are not increasing within the piece text"));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(c.bad(format!("piece {i} has score {}", scores[i])));
    }

    let entries = c.count("normaliser entries", 1 << 21, true)?;
    let size = c.u32("normaliser size")? as usize;
    let raw = c.bytes(size, "the normaliser")?;
    let mut norm_from = Vec::with_capacity(entries);
    let mut norm_off = Vec::with_capacity(entries + 1);
    let mut norm_out = Vec::new();
    let mut p = 0usize;
    let corrupt = || bad(&c.path, "normaliser entries overrun their table");
    for _ in 0..entries {
        let head = raw.get(p..p + 5).ok_or_else(corrupt)?;
        let cp = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let n = head[4] as usize;
        p += 5;
        let outs = raw.get(p..p + 4 * n).ok_or_else(corrupt)?;
        p += 4 * n;
        if norm_from.last().is_some_and(|&last| last >= cp) {
            return Err(c.bad("normaliser entries are not sorted by code point"));
        }
        norm_from.push(cp);
        norm_off.push(norm_out.len() as u32);
        for o in outs.chunks_exact(4) {
            let v = u32::from_le_bytes([o[0], o[1], o[2], o[3]]);
            let ch = char::from_u32(v).ok_or_else(|| {
                bad(
                    &c.path,
                    format!("normaliser maps U+{cp:04X} to invalid U+{v:04X}"),
                )
            })?;
            norm_out.push(ch);
        }
    }
    norm_off.push(norm_out.len() as u32);
    if p != size {
        return Err(c.bad(format!(
            "normaliser table has {size} bytes, its entries use {p}"
        )));
    }
    Ok(Vocab {
        bos,
        eos,
        unk,
        offsets,
        text,
        scores,
        norm_from,
        norm_off,
        norm_out,
    })
}

fn read_directory<R: Read>(c: &mut Cursor<R>) -> Result<HashMap<String, Tensor>> {
    let n = c.count("tensor count", MAX_TENSORS, false)?;
    let mut out = HashMap::with_capacity(n);
    for _ in 0..n {
        let name_len = c.u16("a tensor name length")? as usize;
        let name = c.bytes(name_len, "a tensor name")?;
        let name = String::from_utf8(name).map_err(|_| c.bad("a tensor name is not UTF-8"))?;
        let dtype = c.u8("a tensor type")?;
        let elements = c.u32("a tensor size")? as usize;
        let offset = c.u64("a tensor offset")?;
        let bytes = c.u64("a tensor byte count")?;
        let expect = match dtype {
            DTYPE_F32 => elements as u64 * 4,
            DTYPE_Q4 if elements.is_multiple_of(QK) => (elements / QK * Q4_BLOCK_BYTES) as u64,
            _ => {
                return Err(c.bad(format!(
                    "tensor {name}: type {dtype} with {elements} elements"
                )))
            }
        };
        if bytes != expect {
            return Err(c.bad(format!(
                "tensor {name}: {bytes} bytes for {elements} elements of type {dtype}"
            )));
        }
        if offset.checked_add(bytes).is_none_or(|end| end > c.len) {
            return Err(c.bad(format!(
                "truncated: tensor {name} ends past the end of the file ({} bytes)",
                c.len
            )));
        }
        out.insert(
            name,
            Tensor {
                dtype,
                elements,
                offset,
                bytes,
            },
        );
    }
    Ok(out)
}
