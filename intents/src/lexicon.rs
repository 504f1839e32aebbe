//! The dialect→Mandarin replacers built from the embedded lexicons ([`crate::data`]).
//!
//! `lexicons/ambiguous.txt` lists dialect forms that are also ordinary Mandarin (爱 is
//! Hakka for 要 but Mandarin "love"): those are applied only when the dialect is known or
//! marked.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::data;
use crate::script::to_simplified;

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

struct Lexicons {
    /// Full replacer per dialect (ambiguous entries included).
    per_dialect: HashMap<&'static str, Replacer>,
    /// Replacer over every dialect's unambiguous entries (dialect unknown).
    unknown: Replacer,
}

/// Lookup keys for an entry: as written and in Simplified form, because matching runs after
/// Traditional→Simplified conversion.
fn keyed(entries: &[(String, String)]) -> Vec<(String, String)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (k, v) in entries {
        let v = to_simplified(v);
        for key in [k.clone(), to_simplified(k)] {
            if key != v && seen.insert(key.clone()) {
                out.push((key, v.clone()));
            }
        }
    }
    out
}

fn lexicons() -> &'static Lexicons {
    static L: OnceLock<Lexicons> = OnceLock::new();
    L.get_or_init(|| {
        let ambiguous: HashSet<String> = data::ambiguous_forms()
            .flat_map(|l| [l.to_string(), to_simplified(l)])
            .collect();
        let mut own: Vec<(&'static str, Vec<(String, String)>)> = Vec::new();
        let mut union: Vec<(String, String)> = Vec::new();
        let mut union_seen = HashSet::new();
        for code in data::lexicon_codes() {
            let keyed = keyed(data::lexicon(code).unwrap_or_default());
            for (k, v) in &keyed {
                if !ambiguous.contains(k) && union_seen.insert(k.clone()) {
                    union.push((k.clone(), v.clone()));
                }
            }
            own.push((code, keyed));
        }
        // A known dialect: its own entries first, then the others' unambiguous ones.
        let mut per_dialect = HashMap::new();
        for (code, mut pairs) in own {
            let keys: HashSet<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
            pairs.extend(union.iter().filter(|(k, _)| !keys.contains(k)).cloned());
            per_dialect.insert(code, Replacer::new(pairs));
        }
        Lexicons {
            per_dialect,
            unknown: Replacer::new(union),
        }
    })
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
