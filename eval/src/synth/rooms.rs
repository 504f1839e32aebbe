//! Rooms a synthetic clip is heard in: a reverberant hall and a telephone line.

use super::{Rng, REVERB_RT60_S};

/// Sample rate of a telephone line.
pub const PHONE_RATE: u32 = 8_000;
/// Telephone pass band, Hz (ITU-T G.712's 300–3400 Hz).
const PHONE_LOW_HZ: f64 = 300.0;
const PHONE_HIGH_HZ: f64 = 3_400.0;
/// μ-law's compression constant (G.711).
const MU: f64 = 255.0;
/// Reflections per second of the room response (velvet noise: a sparse train of ±1
/// impulses is heard as smooth reverberation at about 2,000 per second).
const REFLECTIONS_PER_S: f64 = 2_000.0;
/// The first reflection arrives this long after the direct sound.
const PRE_DELAY_S: f64 = 0.008;
/// Energy of the reverberant tail relative to the direct sound (0 dB: a hall where
/// the listener stands a few metres from the speaker).
const TAIL_TO_DIRECT: f64 = 1.0;

/// `x` (at `rate`) in a hall with reverberation time [`REVERB_RT60_S`]: the direct
/// sound plus a sparse, exponentially decaying train of reflections. The clip grows by
/// the tail's length.
pub(super) fn reverb(x: &[f32], rate: u32, rng: &mut Rng) -> Vec<f32> {
    let sr = f64::from(rate);
    let len = (f64::from(REVERB_RT60_S) * sr) as usize;
    let start = (PRE_DELAY_S * sr) as usize;
    let spacing = sr / REFLECTIONS_PER_S;
    // amplitude decays 60 dB over RT60: exp(-6.908 t / RT60)
    let decay = 6.908 / (f64::from(REVERB_RT60_S) * sr);
    let mut taps: Vec<(usize, f64)> = Vec::new();
    let mut pos = start as f64;
    while (pos as usize) < len {
        let at = pos as usize + (rng.unit() * spacing * 0.9) as usize;
        if at >= len {
            break;
        }
        let sign = if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
        taps.push((at, sign * (-decay * at as f64).exp()));
        pos += spacing;
    }
    let energy: f64 = taps.iter().map(|(_, a)| a * a).sum();
    let scale = if energy > 0.0 {
        (TAIL_TO_DIRECT / energy).sqrt()
    } else {
        0.0
    };
    let mut y: Vec<f64> = x.iter().map(|v| f64::from(*v)).collect();
    y.resize(x.len() + len, 0.0);
    for (at, a) in taps {
        let g = a * scale;
        for (i, v) in x.iter().enumerate() {
            y[i + at] += g * f64::from(*v);
        }
    }
    y.into_iter().map(|v| v as f32).collect()
}

/// `x` (at `rate`) as heard over a telephone: band-limited to 300–3400 Hz, resampled to
/// [`PHONE_RATE`] and μ-law companded at 8 bits.
pub(super) fn telephone(x: &[f32], rate: u32) -> Vec<f32> {
    let sr = f64::from(rate);
    let mut y: Vec<f64> = x.iter().map(|v| f64::from(*v)).collect();
    for _ in 0..2 {
        Biquad::highpass(PHONE_LOW_HZ, sr).run(&mut y);
        Biquad::lowpass(PHONE_HIGH_HZ, sr).run(&mut y);
    }
    let step = sr / f64::from(PHONE_RATE);
    let n = (y.len() as f64 / step) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 * step;
            let k = t as usize;
            let f = t - k as f64;
            let a = y.get(k).copied().unwrap_or(0.0);
            let b = y.get(k + 1).copied().unwrap_or(a);
            mu_law(a + f * (b - a)) as f32
        })
        .collect()
}

/// A sample through an 8-bit μ-law coder and back.
fn mu_law(v: f64) -> f64 {
    let v = v.clamp(-1.0, 1.0);
    let c = v.signum() * (1.0 + MU * v.abs()).ln() / (1.0 + MU).ln();
    let q = (c * 127.0).round() / 127.0;
    q.signum() * ((1.0 + MU).powf(q.abs()) - 1.0) / MU
}

/// A second-order Butterworth section (the audio-EQ cookbook's formulas).
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

impl Biquad {
    fn new(f0: f64, sr: f64, high: bool) -> Self {
        let w = 2.0 * std::f64::consts::PI * f0 / sr;
        let alpha = w.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
        let c = w.cos();
        let a0 = 1.0 + alpha;
        let b = if high {
            [(1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0]
        } else {
            [(1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0]
        };
        Biquad {
            b: [b[0] / a0, b[1] / a0, b[2] / a0],
            a: [-2.0 * c / a0, (1.0 - alpha) / a0],
        }
    }
    fn highpass(f0: f64, sr: f64) -> Self {
        Self::new(f0, sr, true)
    }
    fn lowpass(f0: f64, sr: f64) -> Self {
        Self::new(f0, sr, false)
    }
    fn run(&self, x: &mut [f64]) {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        for v in x.iter_mut() {
            let y =
                self.b[0] * *v + self.b[1] * x1 + self.b[2] * x2 - self.a[0] * y1 - self.a[1] * y2;
            x2 = x1;
            x1 = *v;
            y2 = y1;
            y1 = y;
            *v = y;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, rate: u32, secs: f64) -> Vec<f32> {
        let n = (secs * f64::from(rate)) as usize;
        (0..n)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin()) as f32
            })
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    #[test]
    fn the_telephone_keeps_speech_frequencies_and_drops_the_rest() {
        let speech = telephone(&tone(1_000.0, 24_000, 1.0), 24_000);
        let hum = telephone(&tone(80.0, 24_000, 1.0), 24_000);
        let hiss = telephone(&tone(6_000.0, 24_000, 1.0), 24_000);
        assert_eq!(speech.len(), 8_000, "one second at 8 kHz");
        assert!(rms(&speech) > 0.3, "{}", rms(&speech));
        assert!(
            rms(&hum) < 0.05 && rms(&hiss) < 0.05,
            "{} {}",
            rms(&hum),
            rms(&hiss)
        );
    }

    #[test]
    fn reverberation_fits_any_rate_and_length() {
        for rate in [8_000, 16_000, 22_050, 24_000, 44_100] {
            for seed in 0..20 {
                let x = vec![0.1f32; 3 + seed as usize * 7];
                let y = reverb(&x, rate, &mut Rng(seed));
                let tail = (f64::from(REVERB_RT60_S) * f64::from(rate)) as usize;
                assert_eq!(y.len(), x.len() + tail);
            }
        }
    }

    #[test]
    fn reverberation_leaves_a_decaying_tail() {
        let mut x = vec![0f32; 1_600];
        x[0] = 1.0;
        let y = reverb(&x, 16_000, &mut Rng(3));
        let tail = |a: f32, b: f32| rms(&y[(a * 16_000.0) as usize..(b * 16_000.0) as usize]);
        assert_eq!(y.len(), 1_600 + 8_000);
        assert!(tail(0.01, 0.1) > 0.0);
        assert!(tail(0.01, 0.1) > 3.0 * tail(0.4, 0.5), "the tail decays");
    }
}
