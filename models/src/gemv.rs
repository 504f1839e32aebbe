//! Matrix–vector products with f16 weights and f32 activations, for the decoder's
//! one-token steps (feature `onnx`).
//!
//! One generated token multiplies a single row of activations by every decoder weight
//! and by the 51,865-word output table: about 100 MB of f16 read per token, which on this
//! kind of CPU is bound by memory bandwidth. candle's general matrix product reaches
//! about half of it on such thin products; this kernel streams each weight row once,
//! widens it to f32 in registers (F16C) and accumulates in f32 (so it is at least as exact
//! as candle's f16 product), with the rows split over the machine's threads.

use half::f16;
use rayon::prelude::*;

/// Rows per parallel task (a task reads at least this many rows of weights).
const ROWS_PER_TASK: usize = 256;
/// Activation rows handled in one pass over the weights (a prompt of a few tokens).
pub(crate) const MAX_ROWS: usize = 8;

/// `y[i][r] = Σ_k w[r·k_len + k] · x[i·k_len + k]`: each of the `m = x.len() / k_len`
/// rows of activations (at most [`MAX_ROWS`]) times every row `r` of the row-major `w`,
/// reading `w` once. Returned row-major, (m, rows). A trailing partial row of `w` is
/// ignored; the caller checks the shapes.
pub(crate) fn gemv_f16(w: &[f16], x: &[f32], k: usize) -> Vec<f32> {
    if k == 0 || x.is_empty() {
        return Vec::new();
    }
    let m = (x.len() / k).clamp(1, MAX_ROWS);
    let rows = w.len() / k;
    let mut t = vec![0f32; rows * m]; // (rows, m)
    let dot = pick_dot();
    t.par_chunks_mut(ROWS_PER_TASK * m)
        .enumerate()
        .for_each(|(c, out)| {
            let r0 = c * ROWS_PER_TASK;
            for (i, o) in out.chunks_mut(m).enumerate() {
                let r = r0 + i;
                dot(&w[r * k..(r + 1) * k], &x[..m * k], o);
            }
        });
    if m == 1 {
        return t;
    }
    let mut y = vec![0f32; rows * m];
    for r in 0..rows {
        for i in 0..m {
            y[i * rows + r] = t[r * m + i];
        }
    }
    y
}

/// `out[i] = w · x[i·k..(i+1)·k]` for each activation row `i` (`k = w.len()`).
type Dot = fn(&[f16], &[f32], &mut [f32]);

/// The fastest dot product this CPU supports (checked once).
fn pick_dot() -> Dot {
    use std::sync::OnceLock;
    static DOT: OnceLock<Dot> = OnceLock::new();
    *DOT.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                return dot_avx512 as Dot;
            }
            if is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("f16c")
                && is_x86_feature_detected!("fma")
            {
                return dot_avx2 as Dot;
            }
        }
        dot_scalar as Dot
    })
}

fn dot_scalar(w: &[f16], x: &[f32], out: &mut [f32]) {
    let k = w.len();
    for (i, o) in out.iter_mut().enumerate() {
        *o = w
            .iter()
            .zip(&x[i * k..(i + 1) * k])
            .map(|(a, b)| a.to_f32() * b)
            .sum();
    }
}

#[cfg(target_arch = "x86_64")]
fn dot_avx512(w: &[f16], x: &[f32], out: &mut [f32]) {
    // SAFETY: chosen by `pick_dot` only when the CPU has AVX-512F (which includes the
    // f16→f32 conversion used); `gemv_f16` passes `out.len()` rows of `w.len()` in `x`.
    unsafe { dot_avx512_impl(w, x, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dot_avx512_impl(w: &[f16], x: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let k = w.len();
    let m = out.len().min(MAX_ROWS).min(x.len() / k.max(1));
    let full = k - k % 16;
    let mut acc = [_mm512_setzero_ps(); MAX_ROWS];
    let mut i = 0;
    while i < full {
        // SAFETY: i + 16 <= k, and row j of x spans j·k..(j+1)·k < x.len(); unaligned loads.
        let a = _mm512_cvtph_ps(_mm256_loadu_si256(w.as_ptr().add(i).cast::<__m256i>()));
        for (j, acc_j) in acc.iter_mut().enumerate().take(m) {
            let b = _mm512_loadu_ps(x.as_ptr().add(j * k + i));
            *acc_j = _mm512_fmadd_ps(a, b, *acc_j);
        }
        i += 16;
    }
    for (j, o) in out.iter_mut().enumerate().take(m) {
        let mut s = _mm512_reduce_add_ps(acc[j]);
        for t in full..k {
            s += w[t].to_f32() * x[j * k + t];
        }
        *o = s;
    }
}

#[cfg(target_arch = "x86_64")]
fn dot_avx2(w: &[f16], x: &[f32], out: &mut [f32]) {
    // SAFETY: chosen by `pick_dot` only when the CPU has AVX2, F16C and FMA.
    unsafe { dot_avx2_impl(w, x, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,f16c,fma")]
unsafe fn dot_avx2_impl(w: &[f16], x: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let k = w.len();
    let m = out.len().min(MAX_ROWS).min(x.len() / k.max(1));
    let full = k - k % 8;
    let mut acc = [_mm256_setzero_ps(); MAX_ROWS];
    let mut i = 0;
    while i < full {
        // SAFETY: i + 8 <= k, and row j of x spans j·k..(j+1)·k < x.len(); unaligned loads.
        let a = _mm256_cvtph_ps(_mm_loadu_si128(w.as_ptr().add(i).cast::<__m128i>()));
        for (j, acc_j) in acc.iter_mut().enumerate().take(m) {
            let b = _mm256_loadu_ps(x.as_ptr().add(j * k + i));
            *acc_j = _mm256_fmadd_ps(a, b, *acc_j);
        }
        i += 8;
    }
    for (j, o) in out.iter_mut().enumerate().take(m) {
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), acc[j]);
        let mut s: f32 = lanes.iter().sum();
        for t in full..k {
            s += w[t].to_f32() * x[j * k + t];
        }
        *o = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_matches_the_scalar_product() {
        // odd sizes exercise the tails; several activation rows share one weight pass
        for (rows, k, m) in [
            (3usize, 512usize, 1usize),
            (700, 37, 1),
            (1, 2048, 3),
            (513, 16, 4),
            (260, 64, 8),
        ] {
            let w: Vec<f16> = (0..rows * k)
                .map(|i| f16::from_f32(((i * 7919) % 1000) as f32 / 500.0 - 1.0))
                .collect();
            let x: Vec<f32> = (0..m * k)
                .map(|i| ((i * 31) % 17) as f32 / 8.0 - 1.0)
                .collect();
            let y = gemv_f16(&w, &x, k);
            assert_eq!(y.len(), rows * m);
            for i in 0..m {
                for r in 0..rows {
                    let mut want = [0f32];
                    dot_scalar(&w[r * k..(r + 1) * k], &x[i * k..(i + 1) * k], &mut want);
                    let got = y[i * rows + r];
                    assert!(
                        (got - want[0]).abs() <= 1e-3 * (1.0 + want[0].abs()),
                        "{rows}x{k}, activation row {i}, row {r}: {got} vs {}",
                        want[0]
                    );
                }
            }
            #[cfg(target_arch = "x86_64")]
            if is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("f16c")
                && is_x86_feature_detected!("fma")
            {
                let r = rows - 1;
                let (mut got, mut want) = (vec![0f32; m], vec![0f32; m]);
                dot_avx2(&w[r * k..(r + 1) * k], &x, &mut got);
                dot_scalar(&w[r * k..(r + 1) * k], &x, &mut want);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-3 * (1.0 + w.abs()), "avx2 {g} vs {w}");
                }
            }
        }
    }
}
