//! The pronunciation lexicon: each character's default reading and the readings of
//! the phrases in pypinyin's phrase dictionary, in a compact file (`lexicon.bin`) that
//! loads without parsing, and the segmentation pypinyin does with it.
//!
//! # File format (all integers little-endian)
//!
//! ```text
//! magic "XALEX01\n"
//! u32 × 5: syllables, characters, phrases, syllable-text bytes, phrase-key bytes
//! syllable text   the TONE3 readings ("zhong1", "de5"), each ended by '\n'
//! u32 × chars     code points, ascending
//! u16 × chars     the default reading of each (a syllable index)
//! u32 × phrases+1 start of each phrase key in the key bytes (the last is the end)
//! key bytes       the phrase keys in UTF-8, sorted bytewise
//! u16 × Σ         the readings of the phrases, one per character, in key order
//! ```
//!
//! A phrase has as many readings as characters (the importer checks it), so the
//! reading offsets are the running character counts and need not be stored.

use std::path::Path;

use crate::error::{Error, Result};

/// The file's first bytes (format version 1).
pub const MAGIC: &[u8; 8] = b"XALEX01\n";
/// Bytes of the header: magic and five counts.
const HEADER_LEN: usize = 8 + 5 * 4;

/// A loaded lexicon: the file's bytes and where each table starts.
pub struct Lexicon {
    bytes: Vec<u8>,
    /// The TONE3 reading of each syllable index.
    syllables: Vec<String>,
    n_chars: usize,
    n_phrases: usize,
    cps_at: usize,
    char_syl_at: usize,
    key_off_at: usize,
    keys_at: usize,
    /// Index of each phrase's first reading (n_phrases + 1 entries).
    reading_start: Vec<u32>,
    readings_at: usize,
}

/// What the importer hands to [`write`].
pub struct LexiconData {
    /// The distinct TONE3 readings.
    pub syllables: Vec<String>,
    /// (code point, syllable index), any order.
    pub chars: Vec<(u32, u16)>,
    /// (phrase, a syllable index per character), any order.
    pub phrases: Vec<(String, Vec<u16>)>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u16::from_le_bytes)
}

fn push_u32(out: &mut Vec<u8>, v: usize) -> Result<()> {
    let v = u32::try_from(v).map_err(|_| Error::Tts(format!("lexicon too large ({v})")))?;
    out.extend_from_slice(&v.to_le_bytes());
    Ok(())
}

/// Writes `data` to `path` in the format above.
pub fn write(path: &Path, mut data: LexiconData) -> Result<()> {
    data.chars.sort_unstable();
    data.phrases
        .sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let syl_text: String = data.syllables.iter().map(|s| format!("{s}\n")).collect();
    let key_bytes: usize = data.phrases.iter().map(|p| p.0.len()).sum();
    let mut out = Vec::with_capacity(HEADER_LEN + syl_text.len() + key_bytes * 3);
    out.extend_from_slice(MAGIC);
    for n in [
        data.syllables.len(),
        data.chars.len(),
        data.phrases.len(),
        syl_text.len(),
        key_bytes,
    ] {
        push_u32(&mut out, n)?;
    }
    out.extend_from_slice(syl_text.as_bytes());
    data.chars
        .iter()
        .for_each(|(cp, _)| out.extend_from_slice(&cp.to_le_bytes()));
    data.chars
        .iter()
        .for_each(|(_, s)| out.extend_from_slice(&s.to_le_bytes()));
    let mut off = 0;
    for (key, _) in &data.phrases {
        push_u32(&mut out, off)?;
        off += key.len();
    }
    push_u32(&mut out, off)?;
    data.phrases
        .iter()
        .for_each(|(k, _)| out.extend_from_slice(k.as_bytes()));
    for (_, readings) in &data.phrases {
        readings
            .iter()
            .for_each(|r| out.extend_from_slice(&r.to_le_bytes()));
    }
    std::fs::write(path, &out).map_err(|e| Error::io(path, e))
}

impl Lexicon {
    /// Loads `path` (written by [`write`]).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotInstalled { path: path.into() })
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        Self::from_bytes(bytes).map_err(|detail| Error::BadModel {
            path: path.into(),
            detail,
        })
    }

    /// Checks the layout of `bytes` and indexes its tables.
    fn from_bytes(bytes: Vec<u8>) -> std::result::Result<Self, String> {
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err("not a Xiao'an lexicon (bad magic)".into());
        }
        let count = |k: usize| u32_at(&bytes, 8 + 4 * k) as usize;
        let (n_syl, n_chars, n_phrases, syl_len, key_len) =
            (count(0), count(1), count(2), count(3), count(4));
        let syl_at = HEADER_LEN;
        let cps_at = syl_at + syl_len;
        let char_syl_at = cps_at + 4 * n_chars;
        let key_off_at = char_syl_at + 2 * n_chars;
        let keys_at = key_off_at + 4 * (n_phrases + 1);
        let readings_at = keys_at + key_len;
        let syl_text = bytes
            .get(syl_at..cps_at)
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or("bad syllable table")?;
        let syllables: Vec<String> = syl_text.lines().map(str::to_string).collect();
        if syllables.len() != n_syl {
            return Err("syllable count does not match".into());
        }
        let mut lex = Lexicon {
            bytes,
            syllables,
            n_chars,
            n_phrases,
            cps_at,
            char_syl_at,
            key_off_at,
            keys_at,
            reading_start: Vec::with_capacity(n_phrases + 1),
            readings_at,
        };
        lex.index_readings(key_len)?;
        Ok(lex)
    }

    /// Computes where each phrase's readings start and checks every offset.
    fn index_readings(&mut self, key_len: usize) -> std::result::Result<(), String> {
        let mut total = 0u32;
        let mut prev = 0;
        for i in 0..self.n_phrases {
            self.reading_start.push(total);
            let key = self.key(i);
            let end = self.key_offset(i + 1);
            if end < prev || end > key_len || std::str::from_utf8(key).is_err() {
                return Err(format!("bad phrase key {i}"));
            }
            prev = end;
            total += std::str::from_utf8(key).map_or(0, |k| k.chars().count() as u32);
        }
        self.reading_start.push(total);
        let want = self.readings_at + 2 * total as usize;
        if self.bytes.len() != want || self.key_offset(self.n_phrases) != key_len {
            return Err(format!(
                "size {} does not match the tables ({want})",
                self.bytes.len()
            ));
        }
        if (0..self.n_chars).any(|i| self.char_syllable(i) as usize >= self.syllables.len()) {
            return Err("character reading out of range".into());
        }
        Ok(())
    }

    /// The distinct readings, in TONE3 form; syllable indices point into this.
    pub fn syllables(&self) -> &[String] {
        &self.syllables
    }

    fn key_offset(&self, i: usize) -> usize {
        u32_at(&self.bytes, self.key_off_at + 4 * i) as usize
    }

    fn key(&self, i: usize) -> &[u8] {
        let (a, b) = (self.key_offset(i), self.key_offset(i + 1));
        self.bytes
            .get(self.keys_at + a..self.keys_at + b)
            .unwrap_or(&[])
    }

    fn char_syllable(&self, i: usize) -> u16 {
        u16_at(&self.bytes, self.char_syl_at + 2 * i)
    }

    /// The default reading of `c` (a syllable index), if it has one.
    pub fn char_reading(&self, c: char) -> Option<u16> {
        let cp = c as u32;
        let (mut lo, mut hi) = (0, self.n_chars);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match u32_at(&self.bytes, self.cps_at + 4 * mid).cmp(&cp) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(self.char_syllable(mid)),
            }
        }
        None
    }

    /// The index of the first phrase key not below `key`.
    fn lower_bound(&self, key: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.n_phrases);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.key(mid) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Whether some phrase starts with `s`, and whether `s` is itself a phrase.
    fn probe(&self, s: &str) -> (bool, Option<usize>) {
        let i = self.lower_bound(s.as_bytes());
        if i >= self.n_phrases {
            return (false, None);
        }
        let key = self.key(i);
        (
            key.starts_with(s.as_bytes()),
            (key == s.as_bytes()).then_some(i),
        )
    }

    /// The readings of the phrase `s`, one per character, if it is in the dictionary.
    pub fn phrase_readings(&self, s: &str) -> Option<Vec<u16>> {
        let i = self.probe(s).1?;
        let (a, b) = (
            self.reading_start[i] as usize,
            self.reading_start[i + 1] as usize,
        );
        Some(
            (a..b)
                .map(|k| u16_at(&self.bytes, self.readings_at + 2 * k))
                .collect(),
        )
    }

    /// Cuts a run of Chinese characters into words as pypinyin's strict forward maximum
    /// matching does: extend the word while it is the start of some phrase, and take
    /// the longest phrase seen on the way; with no phrase, one character. When the whole
    /// rest is the start of a phrase without containing one, it is cut into characters.
    pub fn segment<'a>(&self, run: &'a str) -> Vec<&'a str> {
        let mut words = Vec::new();
        let mut rest = run;
        while let Some(first) = rest.chars().next() {
            let mut best = None;
            let mut all_prefix = true;
            let ends = rest
                .char_indices()
                .skip(1)
                .map(|(i, _)| i)
                .chain([rest.len()]);
            for end in ends {
                let (prefix, phrase) = self.probe(&rest[..end]);
                if !prefix {
                    all_prefix = false;
                    break;
                }
                if phrase.is_some() {
                    best = Some(end);
                }
            }
            if all_prefix && best.is_none() {
                words.extend(rest.char_indices().map(|(i, c)| &rest[i..i + c.len_utf8()]));
                break;
            }
            let end = best.unwrap_or(first.len_utf8());
            words.push(&rest[..end]);
            rest = &rest[end..];
        }
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Lexicon {
        let data = LexiconData {
            syllables: vec!["yin2".into(), "hang2".into(), "xing2".into(), "bu4".into()],
            chars: vec![('行' as u32, 2), ('银' as u32, 0), ('不' as u32, 3)],
            phrases: vec![("银行".into(), vec![0, 1]), ("不行".into(), vec![3, 2])],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lexicon.bin");
        write(&path, data).unwrap();
        Lexicon::load(&path).unwrap()
    }

    #[test]
    fn round_trip_and_lookup() {
        let lex = tiny();
        assert_eq!(lex.char_reading('行'), Some(2));
        assert_eq!(lex.char_reading('好'), None);
        assert_eq!(lex.phrase_readings("银行"), Some(vec![0, 1]));
        assert_eq!(lex.phrase_readings("银"), None);
        assert_eq!(lex.segment("银行不行行"), vec!["银行", "不行", "行"]);
    }

    #[test]
    fn corrupt_files_are_errors() {
        let lex = tiny();
        for cut in [0, 10, lex.bytes.len() - 1] {
            assert!(Lexicon::from_bytes(lex.bytes[..cut].to_vec()).is_err());
        }
    }
}
