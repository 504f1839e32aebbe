//! The embedded dialect→Mandarin lexicons (`lexicons/<code>.tsv`) and their matchers.
//!
//! File format (shared with the dialect adapters): one entry per line,
//! `dialect_form<TAB>mandarin`; `#` starts a comment line. `lexicons/ambiguous.txt` lists
//! dialect forms that are also ordinary Mandarin (爱 is Hakka for 要 but Mandarin "love"):
//! those are applied only when the dialect is known or marked.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};

/// The raw text of each dialect's lexicon, in [`crate::DIALECTS`] order (without `cmn`).
const FILES: [(&str, &str); 6] = [
    ("wuu-sh", include_str!("../lexicons/wuu-sh.tsv")),
    ("wuu-sz", include_str!("../lexicons/wuu-sz.tsv")),
    ("yue", include_str!("../lexicons/yue.tsv")),
    ("nan", include_str!("../lexicons/nan.tsv")),
    ("cmn-sc", include_str!("../lexicons/cmn-sc.tsv")),
    ("hak", include_str!("../lexicons/hak.tsv")),
];

/// Forms that collide with Mandarin words.
const AMBIGUOUS: &str = include_str!("../lexicons/ambiguous.txt");

/// A longest-match-first replacer.
pub(crate) struct Replacer {
    ac: Option<AhoCorasick>,
    values: Vec<String>,
}

impl Replacer {
    fn new(pairs: Vec<(String, String)>) -> Replacer {
        let keys: Vec<&String> = pairs.iter().map(|(k, _)| k).collect();
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(keys)
            .ok();
        Replacer {
            ac,
            values: pairs.into_iter().map(|(_, v)| v).collect(),
        }
    }

    /// Replaces every leftmost-longest match.
    pub(crate) fn apply(&self, text: &str) -> String {
        match &self.ac {
            Some(ac) => {
                let mut out = String::with_capacity(text.len() + 8);
                let mut last = 0;
                for m in ac.find_iter(text) {
                    out.push_str(&text[last..m.start()]);
                    out.push_str(&self.values[m.pattern().as_usize()]);
                    last = m.end();
                }
                out.push_str(&text[last..]);
                out
            }
            None => text.to_string(),
        }
    }
}

pub(crate) struct Lexicons {
    /// Raw entries per dialect, as written in the file.
    pub(crate) raw: HashMap<&'static str, Vec<(String, String)>>,
    /// Full replacer per dialect (ambiguous entries included).
    pub(crate) per_dialect: HashMap<&'static str, Replacer>,
    /// Replacer over every dialect's unambiguous entries (dialect unknown).
    pub(crate) unknown: Replacer,
}

fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut it = l.split('\t');
            let k = it.next()?.trim();
            let v = it.next()?.trim();
            if k.is_empty() {
                None
            } else {
                Some((k.to_string(), v.to_string()))
            }
        })
        .collect()
}

/// Lookup keys for an entry: as written and in Simplified form, because matching runs after
/// Traditional→Simplified conversion.
fn keyed(entries: &[(String, String)]) -> Vec<(String, String)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (k, v) in entries {
        let v = crate::normalize::to_simplified(v);
        for key in [k.clone(), crate::normalize::to_simplified(k)] {
            if key != v && seen.insert(key.clone()) {
                out.push((key, v.clone()));
            }
        }
    }
    out
}

pub(crate) fn lexicons() -> &'static Lexicons {
    static L: OnceLock<Lexicons> = OnceLock::new();
    L.get_or_init(|| {
        let ambiguous: HashSet<String> = AMBIGUOUS
            .lines()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .flat_map(|l| [l.to_string(), crate::normalize::to_simplified(l)])
            .collect();
        let mut raw = HashMap::new();
        let mut own: Vec<(&'static str, Vec<(String, String)>)> = Vec::new();
        let mut union: Vec<(String, String)> = Vec::new();
        let mut union_seen = HashSet::new();
        for (code, text) in FILES {
            let entries = parse(text);
            let keyed = keyed(&entries);
            for (k, v) in &keyed {
                if !ambiguous.contains(k) && union_seen.insert(k.clone()) {
                    union.push((k.clone(), v.clone()));
                }
            }
            own.push((code, keyed));
            raw.insert(code, entries);
        }
        // A known dialect: its own entries first, then the others' unambiguous ones.
        let mut per_dialect = HashMap::new();
        for (code, mut pairs) in own {
            let keys: HashSet<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
            pairs.extend(union.iter().filter(|(k, _)| !keys.contains(k)).cloned());
            per_dialect.insert(code, Replacer::new(pairs));
        }
        Lexicons {
            raw,
            per_dialect,
            unknown: Replacer::new(union),
        }
    })
}

/// The embedded lexicon of a dialect: `(dialect_form, mandarin)` pairs as written in
/// `lexicons/<code>.tsv`. `None` for `cmn` and unknown codes.
pub fn lexicon(code: &str) -> Option<&'static [(String, String)]> {
    lexicons().raw.get(code).map(|v| v.as_slice())
}

/// The raw text of `lexicons/<code>.tsv` (for the dialect adapters to write out or show).
pub fn lexicon_tsv(code: &str) -> Option<&'static str> {
    FILES.iter().find(|(c, _)| *c == code).map(|(_, t)| *t)
}

/// Maps dialect words to Mandarin: the dialect's full lexicon when `dialect` is one of the
/// six, else every lexicon's unambiguous entries.
pub(crate) fn apply(text: &str, dialect: Option<&str>) -> String {
    let l = lexicons();
    match dialect.and_then(|d| l.per_dialect.get(d)) {
        Some(r) => r.apply(text),
        None => l.unknown.apply(text),
    }
}
