//! Hashed features of a normalised utterance: character 1–3-grams, fuzzy pinyin 1–3-grams
//! and coarse sound-class 2–3-grams, so that the classifier still sees the sound when the
//! characters are wrong.

use crate::Normalized;

/// Number of hash buckets (2^14). Measured: more buckets did not raise held-out accuracy.
pub const DIM: usize = 1 << 14;

/// FNV-1a, 64 bit: stable across platforms and releases (the committed model depends on it).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Folds pinyin confusions of southern accents and of the recogniser: zh/ch/sh → z/c/s,
/// -ng → -n, l → n at the start.
pub(crate) fn fuzzy(py: &str) -> String {
    let mut s = py.replace('ü', "v");
    for (a, b) in [("zh", "z"), ("ch", "c"), ("sh", "s")] {
        if s.starts_with(a) {
            s = format!("{b}{}", &s[2..]);
        }
    }
    if s.starts_with('l') {
        s = format!("n{}", &s[1..]);
    }
    if s.ends_with("ng") && s.len() > 2 {
        s.truncate(s.len() - 1);
    }
    s
}

/// Splits a tone-less syllable into initial and final (`zhuang` → `zh`, `uang`).
pub(crate) fn split_syllable(py: &str) -> (&str, &str) {
    for i in ["zh", "ch", "sh"] {
        if let Some(f) = py.strip_prefix(i) {
            return (i, f);
        }
    }
    match py.chars().next() {
        Some(c) if "bpmfdtnlgkhjqxrzcsyw".contains(c) => py.split_at(1),
        _ => ("", py),
    }
}

/// A coarse sound class of a syllable, for recogniser output whose consonants are wrong
/// more often than its vowels (Whisper on synthetic Mandarin: 保 bao → 泡 pao / 抱 bao,
/// 户 hu → 福 fu, 签 qian → 千 qian, 登记 deng ji → 丁器 ding qi): initials folded
/// (b/p/f/h, d/t, g/k, j/q/x/z/c/s/zh/ch/sh, n/l, r, m, none for
/// y/w), finals with the medial u dropped and -ng folded into -n, i/e merged before n.
pub(crate) fn coarse(py: &str) -> String {
    if !py.chars().all(|c| c.is_ascii_lowercase() || c == 'ü') {
        return py.to_string();
    }
    let (i, f) = coarse_parts(py);
    format!("{i}{f}")
}

/// [`coarse`] as (initial class, final) of a tone-less syllable.
pub(crate) fn coarse_parts(py: &str) -> (&'static str, String) {
    let py = py.replace('ü', "v");
    let (i, f) = split_syllable(&py);
    let ic = match i {
        "b" | "p" | "f" | "h" => "b",
        "d" | "t" => "d",
        "g" | "k" => "g",
        "j" | "q" | "x" | "z" | "c" | "s" | "zh" | "ch" | "sh" => "z",
        "n" | "l" => "l",
        "r" => "r",
        "m" => "m",
        _ => "",
    };
    let mut f = f.to_string();
    if f.ends_with("ng") {
        f.pop();
    }
    if f == "ui" {
        f = "ei".to_string();
    } else if f.len() > 1 && (f.starts_with('u') || f.starts_with('v')) && f != "un" && f != "vn" {
        f.remove(0);
    }
    let f = match f.as_str() {
        "in" | "en" | "un" | "vn" => "en",
        "v" => "i",
        other => other,
    };
    (ic, f.to_string())
}

/// Sparse feature vector: (bucket, value), values scaled to unit length.
pub fn features(n: &Normalized) -> Vec<(u32, f32)> {
    let chars: Vec<String> = std::iter::once("^".to_string())
        .chain(n.text.chars().map(|c| {
            if c.is_ascii_digit() {
                "0".to_string()
            } else {
                c.to_string()
            }
        }))
        .chain(std::iter::once("$".to_string()))
        .collect();
    let mut keys: Vec<u64> = Vec::with_capacity(chars.len() * 5 + 1);
    keys.push(fnv1a(&["bias"]));
    for i in 0..chars.len() {
        for k in 1..=3 {
            if i + k <= chars.len() {
                let mut parts: Vec<&str> = vec!["c"];
                parts.extend(chars[i..i + k].iter().map(|s| s.as_str()));
                if !(k == 1 && (i == 0 || i + 1 == chars.len())) {
                    keys.push(fnv1a(&parts));
                }
            }
        }
    }
    let py: Vec<String> = n
        .pinyin
        .iter()
        .map(|p| {
            if p.chars().all(|c| c.is_ascii_digit()) {
                "0".to_string()
            } else {
                fuzzy(p)
            }
        })
        .collect();
    for i in 0..py.len() {
        keys.push(fnv1a(&["p", &py[i]]));
        if i + 1 < py.len() {
            keys.push(fnv1a(&["p", &py[i], &py[i + 1]]));
        }
    }
    // Coarse sound classes, 2- and 3-grams (a single coarse syllable says little).
    let cs: Vec<String> = n.pinyin.iter().map(|p| coarse(p)).collect();
    for i in 0..py.len().saturating_sub(2) {
        keys.push(fnv1a(&["p", &py[i], &py[i + 1], &py[i + 2]]));
    }
    for i in 0..cs.len() {
        if i + 1 < cs.len() {
            keys.push(fnv1a(&["q", &cs[i], &cs[i + 1]]));
        }
        if i + 2 < cs.len() {
            keys.push(fnv1a(&["q", &cs[i], &cs[i + 1], &cs[i + 2]]));
        }
    }
    keys.sort_unstable();
    let mut out: Vec<(u32, f32)> = Vec::with_capacity(keys.len());
    for k in keys {
        let b = (k % DIM as u64) as u32;
        match out.last_mut() {
            Some(last) if last.0 == b => last.1 += 1.0,
            _ => out.push((b, 1.0)),
        }
    }
    out.sort_unstable_by_key(|x| x.0);
    let mut merged: Vec<(u32, f32)> = Vec::with_capacity(out.len());
    for (b, v) in out {
        match merged.last_mut() {
            Some(last) if last.0 == b => last.1 += v,
            _ => merged.push((b, v)),
        }
    }
    let norm = merged
        .iter()
        .map(|(_, v)| v * v)
        .sum::<f32>()
        .sqrt()
        .max(1e-6);
    for x in &mut merged {
        x.1 /= norm;
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_classes_join_what_the_recogniser_confuses() {
        // 保/泡, 户/福, 登/丁, 记/器, 办/帆, 庭/停, 一遍/一片 sound alike; 办/要 do not.
        for (a, b) in [
            ("bao", "pao"),
            ("hu", "fu"),
            ("deng", "ding"),
            ("ji", "qi"),
            ("ban", "fan"),
            ("ting", "tin"),
            ("bian", "pian"),
            ("shi", "si"),
            ("zhuang", "zang"),
            ("lü", "li"),
        ] {
            assert_eq!(coarse(a), coarse(b), "{a} {b}");
        }
        for (a, b) in [("ban", "yao"), ("ka", "ke"), ("bao", "bu"), ("ma", "ba")] {
            assert_ne!(coarse(a), coarse(b), "{a} {b}");
        }
        assert_eq!(split_syllable("zhuang"), ("zh", "uang"));
        assert_eq!(split_syllable("an"), ("", "an"));
        // Digits and Latin letters pass through.
        assert_eq!(coarse("3"), "3");
    }
}
