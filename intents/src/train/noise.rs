//! The homophone noise model: how a recogniser garbles what was said.

use std::collections::HashMap;
use std::sync::OnceLock;

use pinyin::ToPinyin;
use rand::Rng;

use crate::features::{coarse, fuzzy};

/// Share of characters the noise model replaces when scoring on garbled text.
pub const NOISE_RATE: f64 = 0.3;

/// Homophone table: plain pinyin → common characters, fuzzy pinyin → characters, and
/// coarse sound class ([`coarse`]) → characters.
struct Homophones {
    plain: HashMap<String, Vec<char>>,
    fuzzy: HashMap<String, Vec<char>>,
    coarse: HashMap<String, Vec<char>>,
    all: Vec<char>,
}

fn homophones() -> &'static Homophones {
    static H: OnceLock<Homophones> = OnceLock::new();
    H.get_or_init(|| {
        let mut plain: HashMap<String, Vec<char>> = HashMap::new();
        let mut fz: HashMap<String, Vec<char>> = HashMap::new();
        let mut co: HashMap<String, Vec<char>> = HashMap::new();
        let mut all = Vec::new();
        for c in crate::data::common_chars() {
            if let Some(p) = c.to_pinyin() {
                plain.entry(p.plain().to_string()).or_default().push(c);
                fz.entry(fuzzy(p.plain())).or_default().push(c);
                co.entry(coarse(p.plain())).or_default().push(c);
                all.push(c);
            }
        }
        Homophones {
            plain,
            fuzzy: fz,
            coarse: co,
            all,
        }
    })
}

/// An ASR-noisy copy of `text`. Each Han character is, with probability `rate`, changed the
/// way Whisper mishears synthetic and accented Mandarin: most often another common
/// character of the same tone-less pinyin; else one of the same fuzzy pinyin (zh/z, ch/c,
/// sh/s, -ng/-n, l/n) or of the same coarse sound class (b/p/f/h, d/t, g/k, j/q/x/z/c/s,
/// an/ang, en/eng/in/ing; see [`crate::features`]); sometimes dropped, sometimes followed
/// by a stray character. One time in three the result is written in Traditional script.
pub fn noisy(text: &str, rate: f64, rng: &mut impl Rng) -> String {
    let h = homophones();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let Some(p) = c.to_pinyin() else {
            out.push(c);
            continue;
        };
        if !rng.random_bool(rate.clamp(0.0, 1.0)) {
            out.push(c);
            continue;
        }
        let roll: f64 = rng.random();
        let table = if roll < 0.45 {
            h.plain.get(p.plain())
        } else if roll < 0.6 {
            h.fuzzy.get(&fuzzy(p.plain()))
        } else if roll < 0.88 {
            h.coarse.get(&coarse(p.plain()))
        } else if roll < 0.95 {
            // dropped
            continue;
        } else {
            out.push(c);
            if !h.all.is_empty() {
                out.push(h.all[rng.random_range(0..h.all.len())]);
            }
            continue;
        };
        match table.filter(|v| v.len() > 1) {
            Some(v) => {
                let pick = v[rng.random_range(0..v.len())];
                out.push(pick);
            }
            None => out.push(c),
        }
    }
    if rng.random_bool(1.0 / 3.0) {
        zhconv::zhconv(&out, zhconv::Variant::ZhHant)
    } else {
        out
    }
}

/// The first part of `text` (at least two characters and 40 % of it), as when the
/// recogniser stops early.
pub(super) fn truncated(text: &str, rng: &mut impl Rng) -> String {
    let chars: Vec<char> = text.chars().collect();
    let min = (chars.len() * 2).div_ceil(5).max(2);
    if chars.len() <= min {
        return text.to_string();
    }
    let keep = rng.random_range(min..chars.len());
    chars[..keep].iter().collect()
}
