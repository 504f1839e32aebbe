//! The encoder's arithmetic: 4-bit weights times 8-bit activations.
//!
//! Each matrix keeps its Q4_0 weights (10.6 MB for the whole encoder) in a layout made
//! for the CPU at load time; activations are quantised per token and per 32-value block
//! to int8 with a scale (`amax / 127`, round half to even), exactly as the reference
//! engine does, so the integer dot products are the same and only the order of float
//! additions differs. A block's product is
//! `d_w · d_a · (Σ nibble · a − 8 · Σ a)`: the nibbles are unsigned, the `−8` offset is
//! folded in through the activations' sum.
//!
//! Layout: rows in groups of 16 (one 512-bit lane per row); for each group, each block
//! and each step of 4 columns, 64 bytes hold the 4 nibbles of all 16 rows
//! (`byte 4·row + c` = column `4·step + c`), packed two to a byte (byte `m`'s low nibble
//! is byte `m`, its high nibble byte `m + 32`). One `vpdpbusd` then adds 4 products to
//! each of the 16 rows, so the outputs of a row group come out in one register with no
//! horizontal sums. Paths: AVX-512 VNNI, AVX2, portable.

use super::file::{Q4_BLOCK_BYTES, QK};

/// Rows per group (lanes of a 512-bit register).
const ROWS: usize = 16;
/// Steps of 4 columns per block.
const STEPS: usize = QK / 4;
/// Packed bytes per (group, block, step).
const STEP_BYTES: usize = 32;
/// Tokens whose outputs are accumulated together (each group's weights are unpacked
/// once per this many tokens).
const TOKEN_TILE: usize = 16;

/// Which instructions the matrix products use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Isa {
    /// AVX-512 with VNNI (`vpdpbusd`).
    Vnni512,
    /// AVX2 and FMA (`vpmaddubsw`).
    Avx2,
    /// Plain Rust.
    Portable,
}

impl Isa {
    /// The best this CPU supports.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vnni")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Vnni512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    /// Whether this CPU can run `self`.
    #[cfg(test)]
    pub fn supported(self) -> bool {
        match self {
            Isa::Portable => true,
            Isa::Avx2 => Isa::detect() != Isa::Portable,
            Isa::Vnni512 => Isa::detect() == Isa::Vnni512,
        }
    }
}

/// A `rows × cols` matrix of 4-bit weights with its bias, in the layout above.
pub(super) struct QMatrix {
    pub rows: usize,
    pub cols: usize,
    packed: Vec<u8>,
    /// `d_w` per (group, block, row in group).
    scales: Vec<f32>,
    pub bias: Vec<f32>,
}

impl QMatrix {
    /// From Q4_0 blocks stored row-major (`rows × cols / 32` blocks of 18 bytes).
    /// `rows` must be a multiple of 16 and `cols` of 32 (the loader checks the shapes).
    pub fn from_q4(blocks: &[u8], rows: usize, cols: usize, bias: Vec<f32>) -> Self {
        debug_assert!(rows.is_multiple_of(ROWS) && cols.is_multiple_of(QK));
        debug_assert_eq!(blocks.len(), rows * cols / QK * Q4_BLOCK_BYTES);
        let nb = cols / QK;
        let mut packed = vec![0u8; rows * cols / 2];
        let mut scales = vec![0f32; rows * nb];
        let mut nibbles = [0u8; QK];
        for r in 0..rows {
            let (g, lane) = (r / ROWS, r % ROWS);
            for b in 0..nb {
                let blk = &blocks[(r * nb + b) * Q4_BLOCK_BYTES..][..Q4_BLOCK_BYTES];
                let d = half::f16::from_bits(u16::from_le_bytes([blk[0], blk[1]])).to_f32();
                scales[(g * nb + b) * ROWS + lane] = d;
                for j in 0..QK / 2 {
                    nibbles[j] = blk[2 + j] & 0x0F;
                    nibbles[j + QK / 2] = blk[2 + j] >> 4;
                }
                for (k, &v) in nibbles.iter().enumerate() {
                    let (step, c) = (k / 4, k % 4);
                    let m = 4 * lane + c; // byte of the 64-byte vector
                    let at = ((g * nb + b) * STEPS + step) * STEP_BYTES + m % 32;
                    packed[at] |= if m < 32 { v } else { v << 4 };
                }
            }
        }
        Self {
            rows,
            cols,
            packed,
            scales,
            bias,
        }
    }

    /// The unsigned nibble (weight + 8) at `row`, `col`.
    #[cfg(test)]
    fn nibble(&self, row: usize, col: usize) -> u8 {
        let nb = self.cols / QK;
        let (g, lane) = (row / ROWS, row % ROWS);
        let (b, k) = (col / QK, col % QK);
        let m = 4 * lane + k % 4;
        let at = ((g * nb + b) * STEPS + k / 4) * STEP_BYTES + m % 32;
        if m < 32 {
            self.packed[at] & 0x0F
        } else {
            self.packed[at] >> 4
        }
    }
}

/// Activations quantised to int8 per token and per block of 32.
#[derive(Default)]
pub(super) struct QActs {
    tokens: usize,
    cols: usize,
    q: Vec<i8>,
    /// Scale per (token, block).
    d: Vec<f32>,
    /// `−8 · Σ q` per (token, block): the nibble offset's share of the block's product.
    corr: Vec<i32>,
}

/// Round half to even for `|x| < 2^22` (what `lrintf` does in the default rounding mode),
/// branch-free so that it vectorises.
#[inline(always)]
fn round_even(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23
    (x + MAGIC) - MAGIC
}

#[inline(always)]
fn quantize_generic(x: &[f32], cols: usize, out: &mut QActs) {
    let tokens = x.len() / cols;
    let nb = cols / QK;
    out.tokens = tokens;
    out.cols = cols;
    out.q.resize(tokens * cols, 0);
    out.d.resize(tokens * nb, 0.0);
    out.corr.resize(tokens * nb, 0);
    for (i, (xb, qb)) in x
        .chunks_exact(QK)
        .zip(out.q.chunks_exact_mut(QK))
        .enumerate()
    {
        let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d > 0.0 { 1.0 / d } else { 0.0 };
        let mut sum = 0i32;
        for (q, &v) in qb.iter_mut().zip(xb) {
            let r = round_even(v * id).clamp(-128.0, 127.0) as i32;
            *q = r as i8;
            sum += r;
        }
        out.d[i] = d;
        out.corr[i] = -8 * sum;
    }
}

/// Quantises the rows of `x` (`tokens × cols`, row-major) into `out`.
pub(super) fn quantize(isa: Isa, x: &[f32], cols: usize, out: &mut QActs) {
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable {
        // SAFETY: the CPU has AVX2 and FMA (checked when `isa` was chosen).
        unsafe { quantize_avx2(x, cols, out) };
        return;
    }
    let _ = isa;
    quantize_generic(x, cols, out)
}

/// [`quantize_generic`] with AVX2: the same scale, rounding (`vcvtps2dq` rounds half to
/// even like `lrintf`) and saturation.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn quantize_avx2(x: &[f32], cols: usize, out: &mut QActs) {
    use std::arch::x86_64::*;
    let tokens = x.len() / cols;
    let nb = cols / QK;
    out.tokens = tokens;
    out.cols = cols;
    out.q.resize(tokens * cols, 0);
    out.d.resize(tokens * nb, 0.0);
    out.corr.resize(tokens * nb, 0);
    let sign = _mm256_set1_ps(-0.0);
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (i, (xb, qb)) in x
        .chunks_exact(QK)
        .zip(out.q.chunks_exact_mut(QK))
        .enumerate()
    {
        let p = xb.as_ptr();
        let v = [
            _mm256_loadu_ps(p),
            _mm256_loadu_ps(p.add(8)),
            _mm256_loadu_ps(p.add(16)),
            _mm256_loadu_ps(p.add(24)),
        ];
        let m = _mm256_max_ps(
            _mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
            _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])),
        );
        let m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        let m2 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        let amax = _mm_cvtss_f32(_mm_max_ss(m2, _mm_shuffle_ps(m2, m2, 1)));
        let d = amax / 127.0;
        let id = _mm256_set1_ps(if d > 0.0 { 1.0 / d } else { 0.0 });
        let r = v.map(|v| _mm256_cvtps_epi32(_mm256_mul_ps(v, id)));
        // saturate to i8 (packs) and undo the packs' lane interleaving
        let q = _mm256_permutevar8x32_epi32(
            _mm256_packs_epi16(
                _mm256_packs_epi32(r[0], r[1]),
                _mm256_packs_epi32(r[2], r[3]),
            ),
            order,
        );
        _mm256_storeu_si256(qb.as_mut_ptr() as *mut __m256i, q);
        let s = _mm256_add_epi32(_mm256_add_epi32(r[0], r[1]), _mm256_add_epi32(r[2], r[3]));
        let s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        let s2 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0b01_00_11_10));
        let s1 = _mm_add_epi32(s2, _mm_shuffle_epi32(s2, 0b10_11_00_01));
        out.d[i] = d;
        out.corr[i] = -8 * _mm_cvtsi128_si32(s1);
    }
}

/// `y = a · wᵀ + bias`: `y` is `tokens × w.rows`, row-major.
pub(super) fn matmul(isa: Isa, w: &QMatrix, a: &QActs, y: &mut [f32]) {
    assert_eq!(a.cols, w.cols, "activation width");
    assert_eq!(y.len(), a.tokens * w.rows, "output size");
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has these features (checked when `isa` was chosen).
        Isa::Vnni512 => unsafe { x86::matmul_vnni(w, a, y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { x86::matmul_avx2(w, a, y) },
        _ => matmul_portable(w, a, y),
    }
}

fn matmul_portable(w: &QMatrix, a: &QActs, y: &mut [f32]) {
    let nb = w.cols / QK;
    let mut block = [[0i32; QK]; ROWS]; // one block of a row group, unpacked
    let mut acc = vec![0f32; a.tokens * ROWS];
    for g in 0..w.rows / ROWS {
        acc.fill(0.0);
        for b in 0..nb {
            for s in 0..STEPS {
                let p = &w.packed[((g * nb + b) * STEPS + s) * STEP_BYTES..][..STEP_BYTES];
                for m in 0..2 * STEP_BYTES {
                    let v = if m < STEP_BYTES {
                        p[m] & 0x0F
                    } else {
                        p[m - STEP_BYTES] >> 4
                    };
                    block[m / 4][4 * s + m % 4] = v as i32;
                }
            }
            let dw = &w.scales[(g * nb + b) * ROWS..][..ROWS];
            for t in 0..a.tokens {
                let at = &a.q[t * a.cols + b * QK..][..QK];
                let (da, corr) = (a.d[t * nb + b], a.corr[t * nb + b]);
                for (lane, row) in block.iter().enumerate() {
                    let dot: i32 = row.iter().zip(at).map(|(w, x)| w * *x as i32).sum();
                    acc[t * ROWS + lane] += (corr + dot) as f32 * (dw[lane] * da);
                }
            }
        }
        for t in 0..a.tokens {
            for lane in 0..ROWS {
                let r = g * ROWS + lane;
                y[t * w.rows + r] = w.bias[r] + acc[t * ROWS + lane];
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    /// The 4-byte group of activations at `p`, broadcast to every lane.
    #[inline(always)]
    unsafe fn quad(p: *const i8) -> i32 {
        std::ptr::read_unaligned(p as *const i32)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma")]
    pub(super) unsafe fn matmul_vnni(w: &QMatrix, a: &QActs, y: &mut [f32]) {
        // groups outside: a group's weights (3 KB to 12 KB) are read from memory once and
        // stay in L1 for the following token tiles
        for g in 0..w.rows / ROWS {
            let mut t0 = 0;
            while t0 < a.tokens {
                let n = (a.tokens - t0).min(TOKEN_TILE);
                match n {
                    16 => tile_vnni::<16>(w, a, y, g, t0),
                    15 => tile_vnni::<15>(w, a, y, g, t0),
                    14 => tile_vnni::<14>(w, a, y, g, t0),
                    13 => tile_vnni::<13>(w, a, y, g, t0),
                    12 => tile_vnni::<12>(w, a, y, g, t0),
                    11 => tile_vnni::<11>(w, a, y, g, t0),
                    10 => tile_vnni::<10>(w, a, y, g, t0),
                    9 => tile_vnni::<9>(w, a, y, g, t0),
                    8 => tile_vnni::<8>(w, a, y, g, t0),
                    7 => tile_vnni::<7>(w, a, y, g, t0),
                    6 => tile_vnni::<6>(w, a, y, g, t0),
                    5 => tile_vnni::<5>(w, a, y, g, t0),
                    4 => tile_vnni::<4>(w, a, y, g, t0),
                    3 => tile_vnni::<3>(w, a, y, g, t0),
                    2 => tile_vnni::<2>(w, a, y, g, t0),
                    _ => tile_vnni::<1>(w, a, y, g, t0),
                }
                t0 += n;
            }
        }
    }

    /// Outputs of row group `g` for tokens `t0 .. t0 + N`.
    #[inline(always)]
    unsafe fn tile_vnni<const N: usize>(
        w: &QMatrix,
        a: &QActs,
        y: &mut [f32],
        g: usize,
        t0: usize,
    ) {
        let nb = w.cols / QK;
        let low = _mm512_set1_epi8(0x0F);
        let wp = w.packed.as_ptr().add(g * nb * STEPS * STEP_BYTES);
        let sp = w.scales.as_ptr().add(g * nb * ROWS);
        let mut acc = [_mm512_setzero_ps(); N];
        for b in 0..nb {
            let mut wv = [_mm512_setzero_si512(); STEPS];
            for (s, v) in wv.iter_mut().enumerate() {
                let x = _mm256_loadu_si256(wp.add((b * STEPS + s) * STEP_BYTES) as *const __m256i);
                let hi = _mm256_srli_epi16(x, 4);
                *v = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(x), hi, 1), low);
            }
            let dw = _mm512_loadu_ps(sp.add(b * ROWS));
            for (j, acc) in acc.iter_mut().enumerate() {
                let t = t0 + j;
                let ap = a.q.as_ptr().add(t * a.cols + b * QK);
                let mut z0 = _mm512_set1_epi32(*a.corr.get_unchecked(t * nb + b));
                let mut z1 = _mm512_setzero_si512();
                for s in (0..STEPS).step_by(2) {
                    z0 = _mm512_dpbusd_epi32(z0, wv[s], _mm512_set1_epi32(quad(ap.add(4 * s))));
                    z1 = _mm512_dpbusd_epi32(
                        z1,
                        wv[s + 1],
                        _mm512_set1_epi32(quad(ap.add(4 * s + 4))),
                    );
                }
                let z = _mm512_add_epi32(z0, z1);
                let scale = _mm512_mul_ps(dw, _mm512_set1_ps(*a.d.get_unchecked(t * nb + b)));
                *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(z), scale, *acc);
            }
        }
        let bias = _mm512_loadu_ps(w.bias.as_ptr().add(g * ROWS));
        for (j, acc) in acc.iter().enumerate() {
            let out = y.as_mut_ptr().add((t0 + j) * w.rows + g * ROWS);
            _mm512_storeu_ps(out, _mm512_add_ps(*acc, bias));
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn matmul_avx2(w: &QMatrix, a: &QActs, y: &mut [f32]) {
        const TILE: usize = 4;
        for g in 0..w.rows / ROWS {
            let mut t0 = 0;
            while t0 < a.tokens {
                let n = (a.tokens - t0).min(TILE);
                for half in 0..2 {
                    match n {
                        4 => tile_avx2::<4>(w, a, y, g, half, t0),
                        3 => tile_avx2::<3>(w, a, y, g, half, t0),
                        2 => tile_avx2::<2>(w, a, y, g, half, t0),
                        _ => tile_avx2::<1>(w, a, y, g, half, t0),
                    }
                }
                t0 += n;
            }
        }
    }

    /// Outputs of rows `16·g + 8·half ..+8` for tokens `t0 .. t0 + N`.
    #[inline(always)]
    unsafe fn tile_avx2<const N: usize>(
        w: &QMatrix,
        a: &QActs,
        y: &mut [f32],
        g: usize,
        half: usize,
        t0: usize,
    ) {
        let nb = w.cols / QK;
        let low = _mm256_set1_epi8(0x0F);
        let ones = _mm256_set1_epi16(1);
        let wp = w.packed.as_ptr().add(g * nb * STEPS * STEP_BYTES);
        let sp = w.scales.as_ptr().add(g * nb * ROWS + 8 * half);
        let mut acc = [_mm256_setzero_ps(); N];
        for b in 0..nb {
            let mut wv = [_mm256_setzero_si256(); STEPS];
            for (s, v) in wv.iter_mut().enumerate() {
                let x = _mm256_loadu_si256(wp.add((b * STEPS + s) * STEP_BYTES) as *const __m256i);
                let x = if half == 0 {
                    x
                } else {
                    _mm256_srli_epi16(x, 4)
                };
                *v = _mm256_and_si256(x, low);
            }
            let dw = _mm256_loadu_ps(sp.add(b * ROWS));
            for (j, acc) in acc.iter_mut().enumerate() {
                let t = t0 + j;
                let ap = a.q.as_ptr().add(t * a.cols + b * QK);
                // pairs of products summed in i16 over the block's 8 steps: at most
                // 8 · 2 · 15 · 128 = 30720 in magnitude, so nothing saturates
                let mut z16 = _mm256_setzero_si256();
                for (s, v) in wv.iter().enumerate() {
                    let p = _mm256_maddubs_epi16(*v, _mm256_set1_epi32(quad(ap.add(4 * s))));
                    z16 = _mm256_add_epi16(z16, p);
                }
                let z = _mm256_add_epi32(
                    _mm256_madd_epi16(z16, ones),
                    _mm256_set1_epi32(*a.corr.get_unchecked(t * nb + b)),
                );
                let scale = _mm256_mul_ps(dw, _mm256_set1_ps(*a.d.get_unchecked(t * nb + b)));
                *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(z), scale, *acc);
            }
        }
        let bias = _mm256_loadu_ps(w.bias.as_ptr().add(g * ROWS + 8 * half));
        for (j, acc) in acc.iter().enumerate() {
            let out = y.as_mut_ptr().add((t0 + j) * w.rows + g * ROWS + 8 * half);
            _mm256_storeu_ps(out, _mm256_add_ps(*acc, bias));
        }
    }
}

// ------------------------------------------------------------------ element-wise

/// `e^x` for `x ≤ 0` (inputs below −87 give ~0), branch-free so that it vectorises:
/// `x = n·ln2 + r`, a degree-7 Taylor polynomial for `e^r` (|r| ≤ ln2/2, relative
/// error < 1e-8), `2^n` from the exponent bits.
#[inline(always)]
fn exp_neg(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const MAGIC: f32 = 12_582_912.0;
    let x = x.max(-87.0);
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let ni = (t.to_bits() as i32).wrapping_sub(0x4B40_0000); // n as an integer
    p * f32::from_bits(((ni + 127) as u32) << 23)
}

/// `erf(x)`, Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7).
#[inline(always)]
fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_7,
        -1.453_152_1,
        1.061_405_4,
    ];
    let ax = x.abs();
    let t = 1.0 / (1.0 + P * ax);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let y = 1.0 - poly * exp_neg(-ax * ax);
    y.copysign(x)
}

#[inline(always)]
fn gelu_generic(x: &mut [f32]) {
    for v in x {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// The exact (erf) GELU, in place.
pub(super) fn gelu(isa: Isa, x: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Vnni512 {
        // SAFETY: the CPU has AVX-512F (checked when `isa` was chosen).
        unsafe { gelu_avx512(x) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable {
        // SAFETY: the CPU has AVX2 and FMA.
        unsafe { gelu_avx2(x) };
        return;
    }
    let _ = isa;
    gelu_generic(x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_avx2(x: &mut [f32]) {
    gelu_generic(x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn gelu_avx512(x: &mut [f32]) {
    gelu_generic(x)
}

/// Lanes of the element-wise sums below: independent partial sums let the compiler
/// use vector adds without reordering any one sum.
const LANES: usize = 8;

/// `Σ f(a_i, b_i)` in [`LANES`] partial sums.
#[inline(always)]
fn lane_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += f(x[l], y[l]);
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| f(*x, *y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// `a · b`.
#[inline(always)]
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    lane_sum(a, b, |x, y| x * y)
}

/// `e^x` for `x ≤ 0` (see [`exp_neg`]), in place.
#[inline(always)]
pub(super) fn exp_neg_in_place(x: &mut [f32]) {
    for v in x {
        *v = exp_neg(*v);
    }
}

/// `x = layer_norm(x + y)` row by row (`y` absent: `layer_norm(x)`).
#[inline(always)]
pub(super) fn add_layer_norm(x: &mut [f32], y: Option<&[f32]>, w: &[f32], b: &[f32], eps: f32) {
    let h = w.len();
    for (t, row) in x.chunks_exact_mut(h).enumerate() {
        if let Some(y) = y {
            for (r, v) in row.iter_mut().zip(&y[t * h..(t + 1) * h]) {
                *r += v;
            }
        }
        let mean = lane_sum(row, row, |v, _| v) / h as f32;
        let var = lane_sum(row, row, |v, _| (v - mean) * (v - mean)) / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((r, w), b) in row.iter_mut().zip(w).zip(b) {
            *r = (*r - mean) * inv * w + b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random stream (xorshift).
    fn stream(seed: u64) -> impl FnMut() -> u64 {
        let mut s = seed;
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        }
    }

    fn random_q4(rows: usize, cols: usize, seed: u64) -> Vec<u8> {
        let mut next = stream(seed);
        let mut out = Vec::new();
        for _ in 0..rows * cols / QK {
            let d = half::f16::from_f32((next() % 1000) as f32 / 20_000.0);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
            for _ in 0..QK / 2 {
                out.push(next() as u8);
            }
        }
        out
    }

    /// The plain definition: dequantise both sides and multiply in f64.
    fn reference(blocks: &[u8], rows: usize, cols: usize, bias: &[f32], a: &QActs) -> Vec<f32> {
        let nb = cols / QK;
        let mut w = vec![0f64; rows * cols];
        for r in 0..rows {
            for b in 0..nb {
                let blk = &blocks[(r * nb + b) * Q4_BLOCK_BYTES..];
                let d = half::f16::from_bits(u16::from_le_bytes([blk[0], blk[1]])).to_f64();
                for j in 0..16 {
                    w[r * cols + b * QK + j] = ((blk[2 + j] & 15) as f64 - 8.0) * d;
                    w[r * cols + b * QK + j + 16] = ((blk[2 + j] >> 4) as f64 - 8.0) * d;
                }
            }
        }
        let mut y = vec![0f32; a.tokens * rows];
        for t in 0..a.tokens {
            for r in 0..rows {
                let mut s = bias[r] as f64;
                for k in 0..cols {
                    s += w[r * cols + k] * a.q[t * cols + k] as f64 * a.d[t * nb + k / QK] as f64;
                }
                y[t * rows + r] = s as f32;
            }
        }
        y
    }

    #[test]
    fn every_path_computes_the_quantised_product() {
        let (rows, cols) = (48, 128);
        let blocks = random_q4(rows, cols, 7);
        let bias: Vec<f32> = (0..rows).map(|i| i as f32 * 0.01).collect();
        let w = QMatrix::from_q4(&blocks, rows, cols, bias.clone());
        for r in 0..rows {
            for k in 0..cols {
                let blk = &blocks[(r * cols / QK + k / QK) * Q4_BLOCK_BYTES + 2..];
                let j = k % QK;
                let v = if j < 16 {
                    blk[j] & 15
                } else {
                    blk[j - 16] >> 4
                };
                assert_eq!(w.nibble(r, k), v, "row {r} col {k}");
            }
        }
        let mut next = stream(11);
        for tokens in [1usize, 5, 8, 13] {
            let x: Vec<f32> = (0..tokens * cols)
                .map(|_| (next() % 20_001) as f32 / 1000.0 - 10.0)
                .collect();
            let mut a = QActs::default();
            quantize(Isa::Portable, &x, cols, &mut a);
            let want = reference(&blocks, rows, cols, &bias, &a);
            for isa in [Isa::Portable, Isa::Avx2, Isa::Vnni512] {
                if !isa.supported() {
                    continue;
                }
                let mut a2 = QActs::default();
                quantize(isa, &x, cols, &mut a2);
                assert_eq!((&a2.q, &a2.d, &a2.corr), (&a.q, &a.d, &a.corr));
                let mut y = vec![0f32; tokens * rows];
                matmul(isa, &w, &a2, &mut y);
                for (i, (g, r)) in y.iter().zip(&want).enumerate() {
                    assert!(
                        (g - r).abs() <= 1e-4 * (1.0 + r.abs()),
                        "{isa:?} {tokens} tokens, out {i}: {g} vs {r}"
                    );
                }
            }
        }
    }

    #[test]
    fn quantisation_rounds_half_to_even_like_lrintf() {
        let mut x = vec![0f32; 2 * QK];
        x[0] = 127.0; // scale 1
        x[1] = 2.5;
        x[2] = 3.5;
        x[3] = -2.5;
        x[QK + 5] = -0.25; // scale 0.25/127: -0.25 → -127
        for isa in [Isa::Portable, Isa::Avx2] {
            if !isa.supported() {
                continue;
            }
            let mut a = QActs::default();
            quantize(isa, &x, QK, &mut a);
            assert_eq!(&a.q[..4], &[127, 2, 4, -2], "{isa:?}");
            assert_eq!(a.corr, [-8 * (127 + 2 + 4 - 2), -8 * -127], "{isa:?}");
            assert_eq!(a.q[QK + 5], -127);
            assert_eq!(a.d[0], 1.0);
        }
    }

    #[test]
    fn gelu_uses_the_exact_erf() {
        // erf values from tables
        for (x, e) in [
            (0.5f32, 0.520_499_9f32),
            (1.0, 0.842_700_8),
            (2.0, 0.995_322_3),
            (-1.5, -0.966_105_1),
            (0.0, 0.0),
        ] {
            assert!((erf(x) - e).abs() < 3e-7, "erf({x}) = {} not {e}", erf(x));
        }
        let mut v = vec![-3.0f32, -1.0, 0.0, 0.7, 2.0, 9.0, -12.0];
        let want: Vec<f32> = v
            .iter()
            .map(|&x| 0.5 * x * (1.0 + erf(x / std::f32::consts::SQRT_2)))
            .collect();
        gelu(Isa::detect(), &mut v);
        for (g, w) in v.iter().zip(&want) {
            assert!((g - w).abs() < 1e-6);
        }
        assert!((v[3] - 0.530_625_4).abs() < 1e-6); // GELU(0.7)
        assert!(v[6].abs() < 1e-20);
    }
}
