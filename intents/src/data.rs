//! The embedded data files, parsed: the bottom of the crate, depending on nothing in it
//! but its types. Everything that reads a data file reads it here.
//!
//! - `data/train.tsv`: hand-written spoken-style examples (`text<TAB>intent<TAB>dialect`);
//!   `{svc}` in a line stands for a service-guide item and is expanded with several of
//!   `data/services.txt` ([`examples`]).
//! - `data/heldout.tsv`: written separately and never trained on ([`heldout`]). Neither are
//!   the recogniser transcripts of synthetic speech: `data/speech_dev.tsv` (the project's
//!   synthetic set, used to look at Whisper's errors) and `data/speech_heldout.tsv`
//!   (sentences written for that test only).
//! - `data/train-residents.tsv`: needs and situations in residents' own words, every
//!   dialect ([`residents`]); the meaning model and the dialect counts learn from them, the
//!   n-gram intent model never sees them.
//! - `data/common_chars.txt`: GB 2312 level 1, the characters of the training noise model.
//! - `lexicons/<code>.tsv`: dialect form → Mandarin, one entry per line
//!   (`dialect_form<TAB>mandarin`, `#` starts a comment line; shared with the dialect
//!   adapters); `lexicons/ambiguous.txt`: dialect forms that are also ordinary Mandarin;
//!   `lexicons/markers.tsv`: the words that mark a dialect, with their weight.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::{Intent, DIALECTS};

const TRAIN_TSV: &str = include_str!("../data/train.tsv");
const HELDOUT_TSV: &str = include_str!("../data/heldout.tsv");
const SPEECH_DEV_TSV: &str = include_str!("../data/speech_dev.tsv");
const SPEECH_HELDOUT_TSV: &str = include_str!("../data/speech_heldout.tsv");
const RESIDENTS_TSV: &str = include_str!("../data/train-residents.tsv");
const SERVICES: &str = include_str!("../data/services.txt");
const COMMON_CHARS: &str = include_str!("../data/common_chars.txt");

/// The raw text of each dialect's lexicon, in [`DIALECTS`] order (without `cmn`).
const LEXICONS: [(&str, &str); 6] = [
    ("wuu-sh", include_str!("../lexicons/wuu-sh.tsv")),
    ("wuu-sz", include_str!("../lexicons/wuu-sz.tsv")),
    ("yue", include_str!("../lexicons/yue.tsv")),
    ("nan", include_str!("../lexicons/nan.tsv")),
    ("cmn-sc", include_str!("../lexicons/cmn-sc.tsv")),
    ("hak", include_str!("../lexicons/hak.tsv")),
];
/// Forms that collide with Mandarin words.
const AMBIGUOUS: &str = include_str!("../lexicons/ambiguous.txt");
/// Dialect marker words.
const MARKERS: &str = include_str!("../lexicons/markers.tsv");

/// One labelled utterance.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// The text as a resident would say or a recogniser would write it.
    pub text: String,
    /// The intent.
    pub intent: Intent,
    /// Its dialect code.
    pub dialect: String,
    /// Whether it is recogniser-garbled text (held-out file, column 4 `asr`).
    pub noisy: bool,
    /// The service-guide item meant, where one is (transcript sets, column 7), for
    /// scoring retrieval on recogniser output.
    pub service: Option<String>,
}

/// The lines of `text` that are neither blank nor a `#` comment, with their 1-based number.
fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i + 1, l))
}

/// Parses labelled utterances: `text<TAB>intent<TAB>dialect`, then optionally `asr` in
/// column 4 and a service-guide item in column 7. `name` is the file named in errors.
pub fn parse_examples(name: &str, text: &str) -> Result<Vec<Example>> {
    let mut out = Vec::new();
    for (line, l) in content_lines(text) {
        let cols: Vec<&str> = l.split('\t').collect();
        let err = |reason: String| Error::Data {
            file: name.to_string(),
            line,
            reason,
        };
        if cols.len() < 3 {
            return Err(err("expected text<TAB>intent<TAB>dialect".into()));
        }
        let intent =
            Intent::parse(cols[1]).ok_or_else(|| err(format!("unknown intent {:?}", cols[1])))?;
        let dialect = cols[2].trim();
        if !DIALECTS.contains(&dialect) {
            return Err(err(format!("unknown dialect {dialect:?}")));
        }
        out.push(Example {
            text: cols[0].trim().to_string(),
            intent,
            dialect: dialect.to_string(),
            noisy: cols.get(3).is_some_and(|c| c.trim() == "asr"),
            service: cols
                .get(6)
                .map(|c| c.trim())
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        });
    }
    Ok(out)
}

/// The service names that `{svc}` expands to.
pub fn services() -> Vec<&'static str> {
    content_lines(SERVICES).map(|(_, l)| l.trim()).collect()
}

/// The training examples (`{svc}` lines expanded, three service names each).
pub fn examples() -> &'static [Example] {
    static E: OnceLock<Vec<Example>> = OnceLock::new();
    E.get_or_init(|| {
        let base = parse_examples("data/train.tsv", TRAIN_TSV).unwrap_or_default();
        let svc = services();
        let mut out = Vec::with_capacity(base.len() * 2);
        for (i, e) in base.into_iter().enumerate() {
            if e.text.contains("{svc}") && !svc.is_empty() {
                for k in 0..3 {
                    let s = svc[(i * 7 + k * 13) % svc.len()];
                    out.push(Example {
                        text: e.text.replace("{svc}", s),
                        ..e.clone()
                    });
                }
            } else {
                out.push(e);
            }
        }
        out
    })
}

/// The held-out test set (`data/heldout.tsv`), never used in training.
pub fn heldout() -> Vec<Example> {
    parse_examples("data/heldout.tsv", HELDOUT_TSV).unwrap_or_default()
}

/// Recogniser transcripts of the project's SYNTHETIC set (`data/speech_dev.tsv`): never
/// trained on, but looked at while developing the noise model, so a development set.
pub fn speech_dev() -> Vec<Example> {
    parse_examples("data/speech_dev.tsv", SPEECH_DEV_TSV).unwrap_or_default()
}

/// Recogniser transcripts of espeak-ng renderings of sentences written for this test only
/// (`data/speech_heldout.tsv`): never trained on and not looked at while developing.
pub fn speech_heldout() -> Vec<Example> {
    parse_examples("data/speech_heldout.tsv", SPEECH_HELDOUT_TSV).unwrap_or_default()
}

/// Resident phrasing (`data/train-residents.tsv`), as written.
pub fn residents() -> Result<Vec<Example>> {
    parse_examples("data/train-residents.tsv", RESIDENTS_TSV)
}

/// Checks the embedded data files (line-numbered errors): the labelled sets and the
/// dialect markers. (The loaders above read a file that fails this as empty.)
pub fn check_data() -> Result<()> {
    parse_examples("data/train.tsv", TRAIN_TSV)?;
    parse_examples("data/heldout.tsv", HELDOUT_TSV)?;
    parse_examples("data/speech_dev.tsv", SPEECH_DEV_TSV)?;
    parse_examples("data/speech_heldout.tsv", SPEECH_HELDOUT_TSV)?;
    residents()?;
    parse_markers(MARKERS)?;
    Ok(())
}

/// The common characters of the noise model (`data/common_chars.txt`).
#[cfg_attr(not(feature = "train"), allow(dead_code))]
pub(crate) fn common_chars() -> impl Iterator<Item = char> {
    content_lines(COMMON_CHARS)
        .flat_map(|(_, l)| l.chars())
        .filter(|c| !c.is_whitespace())
}

/// Lexicon entries as written: `(dialect_form, mandarin)`, lines without a tab or with an
/// empty form skipped.
fn parse_lexicon(text: &str) -> Vec<(String, String)> {
    content_lines(text)
        .filter_map(|(_, l)| {
            let mut it = l.split('\t');
            let k = it.next()?.trim();
            let v = it.next()?.trim();
            (!k.is_empty()).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// The embedded lexicon of a dialect: `(dialect_form, mandarin)` pairs as written in
/// `lexicons/<code>.tsv`. `None` for `cmn` and unknown codes.
pub fn lexicon(code: &str) -> Option<&'static [(String, String)]> {
    static L: OnceLock<HashMap<&'static str, Vec<(String, String)>>> = OnceLock::new();
    L.get_or_init(|| {
        LEXICONS
            .iter()
            .map(|(c, text)| (*c, parse_lexicon(text)))
            .collect()
    })
    .get(code)
    .map(Vec::as_slice)
}

/// The codes that have a lexicon, in [`DIALECTS`] order.
pub(crate) fn lexicon_codes() -> impl Iterator<Item = &'static str> {
    LEXICONS.iter().map(|(c, _)| *c)
}

/// The raw text of `lexicons/<code>.tsv` (for the dialect adapters to write out or show).
pub fn lexicon_tsv(code: &str) -> Option<&'static str> {
    LEXICONS.iter().find(|(c, _)| *c == code).map(|(_, t)| *t)
}

/// The forms of `lexicons/ambiguous.txt`, as written.
pub(crate) fn ambiguous_forms() -> impl Iterator<Item = &'static str> {
    content_lines(AMBIGUOUS).map(|(_, l)| l.trim())
}

/// A dialect marker word.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Marker {
    /// The word, Simplified.
    pub(crate) form: String,
    /// The dialects it points to, as indices of [`DIALECTS`].
    pub(crate) dialects: Vec<usize>,
    /// Its weight as evidence.
    pub(crate) weight: f32,
    /// Written with a trailing `$`: it counts only at the end of a clause (迈$, 得不$).
    pub(crate) clause_final: bool,
}

fn parse_markers(text: &str) -> Result<Vec<Marker>> {
    let mut out = Vec::new();
    // A form listed twice would only ever match as its first entry.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (line, l) in content_lines(text) {
        let err = |reason: String| Error::Data {
            file: "lexicons/markers.tsv".into(),
            line,
            reason,
        };
        let cols: Vec<&str> = l.split('\t').map(str::trim).collect();
        let [form, codes, weight] = cols[..] else {
            return Err(err("expected marker<TAB>dialects<TAB>weight".into()));
        };
        let dialects = codes
            .split(',')
            .map(|c| {
                let c = c.trim();
                DIALECTS
                    .iter()
                    .position(|d| *d == c)
                    .ok_or_else(|| err(format!("unknown dialect {c:?}")))
            })
            .collect::<Result<Vec<usize>>>()?;
        let weight = weight
            .parse()
            .map_err(|_| err(format!("bad weight {weight:?}")))?;
        let (form, clause_final) = match form.strip_suffix('$') {
            Some(f) => (f, true),
            None => (form, false),
        };
        if form.is_empty() {
            return Err(err("empty marker".into()));
        }
        if let Some(first) = seen.insert(
            format!("{form}{}", if clause_final { "$" } else { "" }),
            line,
        ) {
            return Err(err(format!(
                "marker {form:?} is already listed on line {first}; list its dialects together"
            )));
        }
        out.push(Marker {
            form: form.to_string(),
            dialects,
            weight,
            clause_final,
        });
    }
    Ok(out)
}

/// The dialect markers of `lexicons/markers.tsv`, in file order.
pub(crate) fn markers() -> &'static [Marker] {
    static M: OnceLock<Vec<Marker>> = OnceLock::new();
    M.get_or_init(|| parse_markers(MARKERS).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_parses_and_has_content() {
        check_data().unwrap();
        // A file that failed to parse would be read as empty: none is.
        assert!(examples().len() > 800, "{}", examples().len());
        assert!(examples().iter().all(|e| !e.text.contains("{svc}")));
        for (set, min) in [(heldout(), 200), (speech_dev(), 80), (speech_heldout(), 70)] {
            assert!(set.len() >= min, "{} < {min}", set.len());
        }
        assert!(residents().is_ok_and(|r| r.len() > 1000));
        assert!(services().len() > 40);
        assert!(common_chars().count() > 3000);
        assert!(markers().len() > 150);
        assert!(ambiguous_forms().count() > 50);
        for code in DIALECTS.iter().skip(1) {
            assert!(lexicon(code).is_some_and(|l| l.len() > 50), "{code}");
            // Every entry line is read (a line without a tab would be dropped silently).
            let lines = lexicon_tsv(code).map(|t| content_lines(t).count());
            assert_eq!(lines, lexicon(code).map(<[_]>::len), "{code}");
        }
        assert!(lexicon("cmn").is_none() && lexicon_tsv("cmn").is_none());
        assert!(lexicon_codes().eq(DIALECTS.iter().skip(1).copied()));
    }

    #[test]
    fn every_intent_and_dialect_is_trained_and_tested() {
        for i in Intent::ALL {
            assert!(examples().iter().any(|e| e.intent == i), "{i}");
        }
        for d in DIALECTS {
            assert!(examples().iter().any(|e| e.dialect == d), "{d}");
            assert!(heldout().iter().any(|e| e.dialect == d), "{d}");
        }
    }

    #[test]
    fn malformed_lines_are_refused_with_their_line_number() {
        let e = parse_examples("x.tsv", "# c\n\n你好\tgreeting\tcmn\n你好\tgreet\tcmn\n");
        assert!(e.unwrap_err().to_string().starts_with("x.tsv:4:"));
        assert!(parse_examples("x.tsv", "你好\tgreeting\txx").is_err());
        assert!(parse_examples("x.tsv", "你好\tgreeting").is_err());
        let ok = parse_examples("x.tsv", "你好\tgreeting\tcmn\tasr\t\t\tsocial-card").unwrap();
        assert!(ok[0].noisy);
        assert_eq!(ok[0].service.as_deref(), Some("social-card"));
        assert!(parse_markers("侬\twuu-sh\t3.0").is_ok());
        // a clause-final form and the plain one are two markers; a form listed twice is not
        let two = parse_markers("迈\tcmn-sc\t1.0\n迈$\tcmn-sc\t2.0").unwrap();
        assert!(!two[0].clause_final && two[1].clause_final && two[1].form == "迈");
        let e = parse_markers("侬\twuu-sh\t3.0\n侬\twuu-sz\t1.0").unwrap_err();
        assert!(e.to_string().contains("already listed on line 1"), "{e}");
        for bad in [
            "侬\twuu\t3.0",
            "侬\twuu-sh\tx",
            "侬\twuu-sh",
            "\twuu-sh\t1",
            "$\tcmn-sc\t1",
        ] {
            assert!(parse_markers(bad).is_err(), "{bad}");
        }
    }
}
