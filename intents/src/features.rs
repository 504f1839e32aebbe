//! Hashed features of a normalised utterance: character 1–3-grams and fuzzy pinyin
//! 1–2-grams, so that the classifier still sees the sound when the characters are wrong.

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
