//! Matching names by sound, for recogniser output whose characters are mostly wrong.
//!
//! Whisper base on synthetic or accented Mandarin keeps the rhythm and many of the sounds
//! of a sentence but writes other characters (老年人优待卡怎么办 → 老年人又太可真么唤,
//! 居住证 → 祝祖生). Character and term n-grams need neighbours right at once; here a name
//! is aligned syllable by syllable against the utterance, with partial credit for the
//! confusions the recogniser makes (same tone-less syllable, same fuzzy syllable, same
//! coarse sound class, same vowel) and a dropped or a stray syllable allowed at a cost.
//! The service guide ranks its items with it; the intent classifier uses it to notice a
//! service name in a garbled question.
//!
//! ```
//! use xiaoan_intents::sound::{syllables, Names};
//! let names = Names::new(["居住证", "敬老卡"]);
//! let heard = syllables("祝祖生需要带什么");
//! assert!(names.score(0, &heard) > names.score(1, &heard));
//! ```

use pinyin::ToPinyin;

use crate::features::{coarse_parts, fuzzy};

/// Credit for the same tone-less syllable.
const SAME: f32 = 1.0;
/// Credit for the same fuzzy syllable (zh/z, ch/c, sh/s, l/n, -ng/-n).
const SAME_FUZZY: f32 = 0.9;
/// Credit for the same coarse sound class (保/泡/好, 待/太, 证/生, 居/祝).
const SAME_COARSE: f32 = 0.7;
/// Credit for the same coarse vowel after another consonant (帮 bang / 忙 mang).
const SAME_VOWEL: f32 = 0.3;
/// Cost of a name syllable the recogniser dropped.
const DROP: f32 = 0.5;
/// Cost of a stray syllable inside a name.
const INSERT: f32 = 0.6;

/// One syllable, in the forms compared.
#[derive(Clone, Debug, PartialEq)]
pub struct Syllable {
    /// The character written, if known.
    han: Option<char>,
    plain: String,
    fuzzy: String,
    /// Coarse initial class.
    initial: &'static str,
    /// Coarse final.
    vowel: String,
}

impl Syllable {
    /// A tone-less pinyin syllable (`zhuang`), of character `han` if known.
    pub fn new(plain: &str, han: Option<char>) -> Syllable {
        let (initial, vowel) = coarse_parts(plain);
        Syllable {
            han,
            plain: plain.to_string(),
            fuzzy: fuzzy(plain),
            initial,
            vowel,
        }
    }

    /// Credit for hearing `other` where `self` was said, in [0, 1]; by characters only
    /// (1 for the same character, else 0) when `chars`.
    fn credit(&self, other: &Syllable, chars: bool) -> f32 {
        if chars {
            return if self.han.is_some() && self.han == other.han {
                SAME
            } else {
                0.0
            };
        }
        if self.plain == other.plain {
            SAME
        } else if self.fuzzy == other.fuzzy {
            SAME_FUZZY
        } else if self.vowel == other.vowel {
            if self.initial == other.initial {
                SAME_COARSE
            } else {
                SAME_VOWEL
            }
        } else {
            0.0
        }
    }
}

/// The syllables of the Han characters of `text` (Traditional read as Simplified; other
/// characters are skipped).
pub fn syllables(text: &str) -> Vec<Syllable> {
    let text = zhconv::zhconv(text, zhconv::Variant::ZhHans);
    text.chars()
        .zip(text.as_str().to_pinyin())
        .filter_map(|(c, p)| p.map(|p| Syllable::new(p.plain(), Some(c))))
        .collect()
}

/// The syllables of tone-less pinyin (as in [`crate::Normalized::pinyin`]; digits and
/// Latin words are skipped).
pub fn syllables_of_pinyin(pinyin: &[String]) -> Vec<Syllable> {
    pinyin
        .iter()
        .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == 'ü'))
        .map(|p| Syllable::new(p, None))
        .collect()
}

/// Best alignment of the whole of `name` against any stretch of `heard`: the summed
/// credit of aligned syllables (by sound, or by characters only) less the costs of drops
/// and insertions.
fn align(
    name: &[Syllable],
    heard: &[Syllable],
    chars: bool,
    row: &mut Vec<f32>,
    prev: &mut Vec<f32>,
) -> f32 {
    let n = heard.len();
    prev.clear();
    prev.resize(n + 1, 0.0);
    for (i, s) in name.iter().enumerate() {
        row.clear();
        row.push(-DROP * (i + 1) as f32);
        for j in 1..=n {
            let diag = prev[j - 1] + s.credit(&heard[j - 1], chars);
            let drop = prev[j] - DROP;
            let insert = row[j - 1] - INSERT;
            row.push(diag.max(drop).max(insert));
        }
        std::mem::swap(row, prev);
    }
    prev.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// Groups of names (one group per service-guide item, say), to be found by sound.
#[derive(Clone, Debug, Default)]
pub struct Names {
    groups: Vec<Vec<Vec<Syllable>>>,
}

impl Names {
    /// One single-name group per name.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Names {
        Names::grouped(names.into_iter().map(|n| vec![n]))
    }

    /// One group per item of `groups`, each with its names (names without Han characters
    /// are left out).
    pub fn grouped<G, S>(groups: impl IntoIterator<Item = G>) -> Names
    where
        G: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let groups = groups
            .into_iter()
            .map(|g| {
                g.into_iter()
                    .map(|n| syllables(n.as_ref()))
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .collect();
        Names { groups }
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there are no groups.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// How well group `i` is heard in `heard`: `T² / m` for its best-aligned name, aligned
    /// with worth `T` over its `m` syllables (so a long name heard roughly and a short name
    /// heard exactly both count, a short name heard roughly does not); 0 when nothing aligns.
    pub fn score(&self, i: usize, heard: &[Syllable]) -> f32 {
        self.scored(i, heard, false)
    }

    /// What sound adds to characters for group `i`: its [`Names::score`] less the same
    /// score by exact characters only. A group with a name written right scores 0 here (word
    /// and character views find it); one heard with wrong characters (社泡咖 for 社保卡)
    /// keeps most of its score.
    pub fn score_misheard(&self, i: usize, heard: &[Syllable]) -> f32 {
        (self.scored(i, heard, false) - self.scored(i, heard, true)).max(0.0)
    }

    fn scored(&self, i: usize, heard: &[Syllable], chars: bool) -> f32 {
        let Some(names) = self.groups.get(i) else {
            return 0.0;
        };
        let (mut row, mut prev) = (Vec::new(), Vec::new());
        names
            .iter()
            .map(|name| {
                let t = align(name, heard, chars, &mut row, &mut prev).max(0.0);
                t * t / name.len() as f32
            })
            .fold(0.0, f32::max)
    }

    /// The best score of any group.
    pub fn best(&self, heard: &[Syllable]) -> f32 {
        (0..self.len())
            .map(|i| self.score(i, heard))
            .fold(0.0, f32::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aligned(name: &str, heard: &str) -> f32 {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        align(&syllables(name), &syllables(heard), false, &mut a, &mut b)
    }

    #[test]
    fn misheard_names_still_align() {
        // Exact, and as Whisper base heard espeak-ng.
        assert!((aligned("敬老卡", "我想办敬老卡") - 3.0).abs() < 1e-6);
        assert!(aligned("居住证", "祝祖生") >= 2.0);
        assert!(aligned("老年人优待卡", "老年人又太可真么唤") >= 3.5);
        // A dropped syllable costs, it does not break the match.
        assert!(aligned("社保卡", "社卡") > 1.0);
        // Unrelated sounds do not.
        assert!(aligned("居住证", "明天会下雨吗") < 1.0);
        assert!(aligned("居住证", "") < 0.0);
    }

    #[test]
    fn scores_prefer_the_name_heard() {
        let names = Names::grouped([vec!["敬老卡", "老年人优待卡"], vec!["社保卡"]]);
        let heard = syllables("老年人又太可真么唤");
        assert!(names.score(0, &heard) > 2.0 * names.score(1, &heard));
        assert_eq!(names.score(5, &heard), 0.0);
        // Written right, sound adds nothing; misheard, it does.
        assert_eq!(names.score_misheard(1, &syllables("社保卡怎么办")), 0.0);
        assert!(names.score_misheard(1, &syllables("社泡咖怎么办")) > 1.5);
        assert_eq!(
            syllables_of_pinyin(&["zhu".into(), "3".into(), "zu".into()]).len(),
            2
        );
    }
}
