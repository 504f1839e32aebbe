//! Whisper's mel filterbank, which the CTranslate2 package does not ship.

/// Hz per mel below [`MIN_LOG_HZ`] on the Slaney scale (librosa `f_sp`).
const F_SP: f64 = 200.0 / 3.0;
/// Where the Slaney scale turns from linear to logarithmic, Hz (librosa `min_log_hz`).
const MIN_LOG_HZ: f64 = 1000.0;
/// The Slaney scale's mel value at [`MIN_LOG_HZ`].
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

/// Mels per unit of ln(Hz) above [`MIN_LOG_HZ`]: ln(6.4) / 27 (librosa `logstep`).
fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// librosa `hz_to_mel(htk=False)`: linear below 1 kHz, logarithmic above.
fn hz_to_mel_slaney(f: f64) -> f64 {
    if f >= MIN_LOG_HZ {
        MIN_LOG_MEL + (f / MIN_LOG_HZ).ln() / log_step()
    } else {
        f / F_SP
    }
}

/// The inverse of [`hz_to_mel_slaney`].
fn mel_to_hz_slaney(m: f64) -> f64 {
    if m >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (m - MIN_LOG_MEL)).exp()
    } else {
        F_SP * m
    }
}

/// The Slaney-style mel filterbank that librosa's `filters.mel(sr, n_fft, n_mels)`
/// computes with its defaults (fmin 0, fmax sr/2, `htk=False`, `norm="slaney"`), which is
/// what Whisper's `mel_filters.npz` holds: row-major, `n_mels` rows of `n_fft/2 + 1`.
///
/// Each filter is a triangle between mel-spaced band edges `f[m]`, `f[m+1]`, `f[m+2]`,
/// scaled to unit area (peak `2 / (f[m+2] - f[m])`).
pub fn mel_filters(n_mels: usize, n_fft: usize, sample_rate: u32) -> Vec<f32> {
    let n_freqs = n_fft / 2 + 1;
    let sr = sample_rate as f64;
    let fft_freqs: Vec<f64> = (0..n_freqs).map(|i| i as f64 * sr / n_fft as f64).collect();
    let mel_max = hz_to_mel_slaney(sr / 2.0);
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz_slaney(mel_max * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut out = vec![0f32; n_mels * n_freqs];
    for m in 0..n_mels {
        let (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - lo) / (mid - lo);
            let upper = (hi - f) / (hi - mid);
            let w = lower.min(upper).max(0.0);
            out[m * n_freqs + k] = (w * enorm) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_filters_are_slaney_triangles() {
        let (n_mels, n_fft, sr) = (80, 400, 16_000);
        let f = mel_filters(n_mels, n_fft, sr);
        let n_freqs = n_fft / 2 + 1;
        assert_eq!(f.len(), 80 * 201);
        assert!(f.iter().all(|v| *v >= 0.0 && v.is_finite()));
        let mel_max = hz_to_mel_slaney(sr as f64 / 2.0);
        let edge = |i: usize| mel_to_hz_slaney(mel_max * i as f64 / (n_mels + 1) as f64);
        for m in 0..n_mels {
            let row = &f[m * n_freqs..(m + 1) * n_freqs];
            let peak = row.iter().cloned().fold(0f32, f32::max) as f64;
            let full = 2.0 / (edge(m + 2) - edge(m));
            // the FFT grid (40 Hz) rarely hits the apex exactly: peak ≤ 2/(f[m+2]-f[m])
            assert!(
                peak <= full * 1.0001 && peak > 0.3 * full,
                "filter {m}: peak {peak} vs {full}"
            );
            // unit area (Slaney normalisation): sum × bin width ≈ 1 for bands wider than a bin
            let area: f64 = row.iter().map(|v| *v as f64).sum::<f64>() * (sr as f64 / n_fft as f64);
            if edge(m + 2) - edge(m) > 200.0 {
                assert!((area - 1.0).abs() < 0.1, "filter {m}: area {area}");
            }
        }
        // librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)[0, 1] = 0.02486259 (Whisper's mel_filters.npz)
        assert!((f[1] - 0.024_862_59).abs() < 1e-5, "{}", f[1]);
        // mel scale: linear below 1 kHz
        assert!((hz_to_mel_slaney(1000.0) - 15.0).abs() < 1e-9);
        assert!((mel_to_hz_slaney(hz_to_mel_slaney(3000.0)) - 3000.0).abs() < 1e-6);
    }
}
