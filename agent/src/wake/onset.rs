//! Acoustic check of the name's second syllable: 安 has no initial consonant, 韩, 汉 and
//! 孩 start with a velar fricative [x].

use xiaoan_audio::SAMPLE_RATE;

/// Hop between analysis frames, samples (10 ms).
pub const HOP: usize = SAMPLE_RATE as usize / 100;
/// Length of an analysis frame, samples (25 ms).
const WIN: usize = SAMPLE_RATE as usize / 40;

/// What one frame of audio looks like.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    /// Level, dB (full scale 0).
    pub db: f32,
    /// Periodicity: the highest normalised autocorrelation at a pitch lag (60–500 Hz).
    pub periodic: f32,
    /// Zero crossings per sample.
    pub zcr: f32,
}

/// Frames of `x` every [`HOP`] samples.
pub fn frames(x: &[f32]) -> Vec<Frame> {
    let min_lag = SAMPLE_RATE as usize / 500;
    let max_lag = SAMPLE_RATE as usize / 60;
    let mut out = Vec::new();
    let mut at = 0;
    while at + WIN + max_lag <= x.len() {
        let w = &x[at..at + WIN];
        let e: f32 = w.iter().map(|v| v * v).sum::<f32>();
        let db = 10.0 * (e / WIN as f32 + 1e-12).log10();
        let zc = w
            .windows(2)
            .filter(|p| (p[0] >= 0.0) != (p[1] >= 0.0))
            .count();
        let mut best = 0.0f32;
        for lag in min_lag..=max_lag {
            let v = &x[at + lag..at + lag + WIN];
            let ev: f32 = v.iter().map(|s| s * s).sum();
            let c: f32 = w.iter().zip(v).map(|(a, b)| a * b).sum();
            let r = c / (e * ev).sqrt().max(1e-12);
            best = best.max(r);
        }
        out.push(Frame {
            db,
            periodic: best,
            zcr: zc as f32 / WIN as f32,
        });
        at += HOP;
    }
    out
}

/// Frames that count as voiced (periodicity at least this).
const VOICED: f32 = 0.6;
/// A sibilant frame (the [ɕ] of 小): many zero crossings, not voiced.
const SIBILANT_ZCR: f32 = 0.4;
/// Shortest run of sibilant frames that anchors the name's first syllable.
const SIBILANT_FRAMES: usize = 4;
/// A noisy frame (the [x] of 韩): unvoiced, not silent, more zero crossings than a vowel
/// or a glottal stop (those stay near 0.1).
const NOISY_ZCR: f32 = 0.18;
/// Below the loudest frame by more than this (dB): silence, a pause.
const SILENT_DB: f32 = 45.0;
/// The quiet fifth of the frames before the name must be this far below the loudest
/// (dB), silent, for the measure to be taken: over babble or noise a gap between
/// vowels is never clean (30 dB let babble at −10 dB through: `xiaoan bench wake`
/// seed 1 then missed 14 more names over babble).
const QUIET_BACKGROUND_DB: f32 = SILENT_DB;
/// Where the second syllable's onset is looked for: from this long after the first
/// syllable's vowel starts...
const SEARCH_FROM_MS: usize = 50;
/// ... to this long after it.
const SEARCH_TO_MS: usize = 350;

/// How the name's second syllable starts, measured on a check's audio.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SecondOnset {
    /// The most noisy frames in one unvoiced run (not a sibilant) between the first syllable's vowel and
    /// a pause, ms: about 0 for 安 (the voice goes on, or stops at a glottal closure),
    /// 50–120 for the [x] of 韩, 汉 and 孩.
    pub fricative_ms: u32,
}

/// Noisy frames (ms) from which a second syllable's onset counts as a fricative.
pub const FRICATIVE_MS: u32 = 20;

impl SecondOnset {
    /// Whether the syllable starts with a fricative (韩, 汉, 孩), not a vowel (安).
    pub fn fricative(&self) -> bool {
        self.fricative_ms >= FRICATIVE_MS
    }
}

/// Measure the onset of the syllable after the first sibilant-started syllable of `x`
/// (小 begins with [ɕ]): `None` when no such syllable is found (no sibilant at the
/// start, or no vowel after it) or the background is not quiet (babble, noise).
pub fn second_onset(x: &[f32]) -> Option<SecondOnset> {
    let fr = frames(x);
    if fr.is_empty() {
        return None;
    }
    let peak = fr.iter().map(|f| f.db).fold(f32::MIN, f32::max);
    let silent = |f: &Frame| f.db < peak - SILENT_DB;
    let sibilant = |f: &Frame| !silent(f) && f.periodic < VOICED && f.zcr >= SIBILANT_ZCR;
    // the anchor: the first run of sibilant frames
    let mut run = 0;
    let mut anchor_end = None;
    for (i, f) in fr.iter().enumerate() {
        if sibilant(f) {
            run += 1;
        } else {
            if run >= SIBILANT_FRAMES {
                anchor_end = Some(i);
                break;
            }
            run = 0;
        }
    }
    let anchor_end = anchor_end?;
    // the background: what is heard before the name (the pre-roll, a pause after a
    // filler)
    let before = anchor_end.saturating_sub(run);
    let mut levels: Vec<f32> = fr[..before].iter().map(|f| f.db).collect();
    levels.sort_by(f32::total_cmp);
    let quiet = levels
        .get(levels.len() / 5)
        .is_some_and(|&l| l < peak - QUIET_BACKGROUND_DB);
    if !quiet {
        return None; // no quiet before the name, or babble: not a clean measure
    }
    // the first syllable's vowel, within 150 ms of the sibilant
    let v0 = (anchor_end..(anchor_end + 15).min(fr.len())).find(|&i| fr[i].periodic >= VOICED)?;
    let from = v0 + SEARCH_FROM_MS / 10;
    let to = (v0 + SEARCH_TO_MS / 10).min(fr.len());
    let mut longest = 0usize;
    let mut i = from;
    while i < to {
        if silent(&fr[i]) {
            break; // a pause: the name ended
        }
        if fr[i].periodic >= VOICED {
            i += 1;
            continue;
        }
        // a run of unvoiced frames: a consonant
        let start = i;
        while i < fr.len() && fr[i].periodic < VOICED && !silent(&fr[i]) {
            i += 1;
        }
        let mut zcr: Vec<f32> = fr[start..i].iter().map(|f| f.zcr).collect();
        zcr.sort_by(f32::total_cmp);
        if zcr[zcr.len() / 2] >= SIBILANT_ZCR {
            break; // a sibilant: the next word (小安小安, 小安社保卡)
        }
        let noisy = fr[start..i].iter().filter(|f| f.zcr >= NOISY_ZCR).count();
        longest = longest.max(noisy);
    }
    Some(SecondOnset {
        fricative_ms: (longest * 10) as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vowel: a 120 Hz voice with a few harmonics, `ms` long.
    fn vowel(ms: usize) -> Vec<f32> {
        let n = ms * SAMPLE_RATE as usize / 1000;
        (0..n)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE as f32;
                (1..6)
                    .map(|h| {
                        0.3 / h as f32 * (2.0 * std::f32::consts::PI * 120.0 * h as f32 * t).sin()
                    })
                    .sum()
            })
            .collect()
    }

    /// Noise, `ms` long at `level`; `smooth` averages neighbours (a lower, velar-like
    /// hiss rather than a sibilant one).
    fn noise(ms: usize, level: f32, smooth: bool, seed: &mut u32) -> Vec<f32> {
        let n = ms * SAMPLE_RATE as usize / 1000;
        let mut prev = 0.0;
        (0..n)
            .map(|_| {
                *seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let w = (*seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                let v = if smooth { 0.5 * (w + prev) } else { w };
                prev = w;
                level * v
            })
            .collect()
    }

    #[test]
    fn a_fricative_before_the_second_vowel_is_told_from_a_vowel_onset() {
        let mut seed = 7;
        // 小 (a sibilant, then its vowel) and 安 (the voice goes straight on)
        let quiet = vec![0.0; SAMPLE_RATE as usize / 3];
        let mut an = quiet.clone();
        an.extend(noise(120, 0.3, false, &mut seed));
        an.extend(vowel(450));
        an.extend(&quiet);
        // 小 and 韩: a softer, lower hiss between the two vowels
        let mut han = quiet.clone();
        han.extend(noise(120, 0.3, false, &mut seed));
        han.extend(vowel(220));
        han.extend(noise(90, 0.06, true, &mut seed));
        han.extend(vowel(250));
        han.extend(&quiet);
        let a = second_onset(&an).expect("a syllable after a sibilant");
        let h = second_onset(&han).expect("a syllable after a sibilant");
        assert!(!a.fricative(), "{a:?}");
        assert!(h.fricative(), "{h:?}");
        // a sibilant after the name is the next word (小安，社保卡), not the onset
        let mut next = quiet.clone();
        next.extend(noise(120, 0.3, false, &mut seed));
        next.extend(vowel(220));
        next.extend(noise(90, 0.3, false, &mut seed));
        next.extend(vowel(250));
        next.extend(&quiet);
        assert!(!second_onset(&next).unwrap().fricative());
        // over a noisy background the measure is not taken
        let mut noisy = han.clone();
        let hiss = noise(
            noisy.len() as usize * 1000 / SAMPLE_RATE as usize,
            0.05,
            false,
            &mut seed,
        );
        for (x, n) in noisy.iter_mut().zip(hiss) {
            *x += n;
        }
        assert_eq!(second_onset(&noisy), None);
        // no sibilant to start from: nothing is claimed
        assert_eq!(second_onset(&vowel(500)), None);
        assert_eq!(second_onset(&[]), None);
    }
}
