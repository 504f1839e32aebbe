//! Earcons: short generated tones that tell an eyes-free user what is happening.
//!
//! Each is a few sine notes (with a quiet second harmonic for warmth) between
//! 370 and 1050 Hz, so all energy sits inside 300–3000 Hz where small speakers
//! and older ears work best; every note has raised-cosine fades so nothing clicks.
//! They differ in contour, not only in pitch: rising = listening, a double tap =
//! working, a rising triad = done, falling = error.

use crate::AudioBuf;

/// What an earcon announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Earcon {
    /// "I am listening now" — two notes rising a fourth.
    Listening,
    /// "Got it, working" — two short taps on one note.
    Working,
    /// "Done" — a rising major triad.
    Done,
    /// "Something went wrong" — two notes falling, longer.
    Error,
}

/// Peak amplitude of an earcon (−6 dBFS: clearly audible, never clipping).
const AMPLITUDE: f32 = 0.5;
/// Fade-in/fade-out of each note, seconds.
const FADE_S: f64 = 0.010;
/// Level of the second harmonic relative to the fundamental.
const HARMONIC: f32 = 0.2;

/// (frequency Hz, note length s, gap after it s)
fn notes(kind: Earcon) -> &'static [(f32, f64, f64)] {
    match kind {
        Earcon::Listening => &[(660.0, 0.09, 0.02), (880.0, 0.12, 0.0)],
        Earcon::Working => &[(740.0, 0.06, 0.06), (740.0, 0.06, 0.0)],
        Earcon::Done => &[
            (523.25, 0.08, 0.0),
            (659.25, 0.08, 0.0),
            (783.99, 0.14, 0.0),
        ],
        Earcon::Error => &[(494.0, 0.14, 0.03), (370.0, 0.2, 0.0)],
    }
}

/// The earcon `kind` as mono audio at `sample_rate` Hz (under 400 ms each).
pub fn earcon(kind: Earcon, sample_rate: u32) -> AudioBuf {
    let sr = sample_rate.max(1) as f64;
    let mut out = Vec::new();
    for &(freq, len, gap) in notes(kind) {
        let n = (len * sr).round() as usize;
        let fade = ((FADE_S * sr).round() as usize).clamp(1, n.max(2) / 2);
        // keep the harmonic only where it is below Nyquist and inside the band
        let harmonic = if (2.0 * freq as f64) < sr / 2.0 {
            HARMONIC
        } else {
            0.0
        };
        for i in 0..n {
            let t = i as f64 / sr;
            let ph = 2.0 * std::f64::consts::PI * freq as f64 * t;
            let env = if i < fade {
                0.5 - 0.5 * (std::f64::consts::PI * i as f64 / fade as f64).cos()
            } else if i >= n - fade {
                0.5 - 0.5 * (std::f64::consts::PI * (n - 1 - i) as f64 / fade as f64).cos()
            } else {
                1.0
            };
            let s = (ph.sin() as f32 + harmonic * (2.0 * ph).sin() as f32) / (1.0 + harmonic);
            out.push(AMPLITUDE * env as f32 * s);
        }
        out.extend(std::iter::repeat_n(0.0, (gap * sr).round() as usize));
    }
    AudioBuf::new(out, sample_rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Earcon; 4] = [
        Earcon::Listening,
        Earcon::Working,
        Earcon::Done,
        Earcon::Error,
    ];

    /// Power spectrum by direct DFT with 10 Hz bins up to Nyquist.
    fn spectrum(x: &[f32], sr: u32) -> Vec<(f32, f64)> {
        let mut out = Vec::new();
        let mut f = 0.0f32;
        while f < sr as f32 / 2.0 {
            let w = 2.0 * std::f64::consts::PI * f as f64 / sr as f64;
            let (mut re, mut im) = (0.0, 0.0);
            for (i, s) in x.iter().enumerate() {
                re += *s as f64 * (w * i as f64).cos();
                im -= *s as f64 * (w * i as f64).sin();
            }
            out.push((f, re * re + im * im));
            f += 10.0;
        }
        out
    }

    #[test]
    fn earcons_are_short_and_faded() {
        for k in ALL {
            let e = earcon(k, 16_000);
            let d = e.duration_s();
            assert!(d > 0.1 && d < 0.4, "{k:?} lasts {d} s");
            assert!(
                e.samples[0].abs() < 1e-3 && e.samples.last().unwrap().abs() < 0.02,
                "{k:?} clicks"
            );
            assert!(e.samples.iter().all(|s| s.abs() <= 0.5 + 1e-6));
        }
    }

    #[test]
    fn earcon_energy_is_inside_300_to_3000_hz() {
        for k in ALL {
            let e = earcon(k, 16_000);
            let spec = spectrum(&e.samples, 16_000);
            let total: f64 = spec.iter().map(|b| b.1).sum();
            let inside: f64 = spec
                .iter()
                .filter(|b| (300.0..=3000.0).contains(&b.0))
                .map(|b| b.1)
                .sum();
            assert!(
                inside / total > 0.99,
                "{k:?}: only {:.4} of the energy in band",
                inside / total
            );
        }
    }

    #[test]
    fn earcons_are_distinct() {
        // compare normalised spectra and durations pairwise
        let specs: Vec<(Vec<f64>, f64)> = ALL
            .iter()
            .map(|k| {
                let e = earcon(*k, 16_000);
                let s: Vec<f64> = spectrum(&e.samples, 16_000)
                    .into_iter()
                    .map(|b| b.1)
                    .collect();
                let norm = s.iter().map(|v| v * v).sum::<f64>().sqrt();
                (s.into_iter().map(|v| v / norm).collect(), e.duration_s())
            })
            .collect();
        for i in 0..ALL.len() {
            for j in i + 1..ALL.len() {
                let cos: f64 = specs[i].0.iter().zip(&specs[j].0).map(|(a, b)| a * b).sum();
                assert!(
                    cos < 0.5,
                    "{:?} and {:?} sound alike (similarity {cos:.2})",
                    ALL[i],
                    ALL[j]
                );
            }
        }
    }

    #[test]
    fn earcons_work_at_other_rates() {
        let e = earcon(Earcon::Done, 48_000);
        assert_eq!(e.sample_rate, 48_000);
        assert!((e.duration_s() - earcon(Earcon::Done, 16_000).duration_s()).abs() < 0.001);
        // a degenerate rate must not panic
        let _ = earcon(Earcon::Error, 0);
    }
}
