//! Entities: names, resident ID numbers, mobile numbers, dates, times, addresses, money,
//! counts — read from normalised text, where spoken numbers are already digits
//! (幺三八… → 138…, 三号楼五零二 → 3号楼502, 两百块 → 200块).
//!
//! One extractor per kind, run in a fixed order over the text; each claims the stretch
//! of text it read, so that what one kind took is not read again as another (a phone
//! number is not also a count).

mod address;
mod count;
mod date;
mod id_number;
mod mask;
mod money;
mod name;
mod phone;
mod time;

use std::sync::OnceLock;

use chrono::NaiveDate;
use regex::{Captures, Regex};

use crate::Normalized;

pub use id_number::id_number_valid;
pub use mask::{mask_id, mask_name, mask_phone};

/// The kinds of entity the dialogue can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A person's name (王小明).
    PersonName,
    /// An 18-character resident ID number with a valid GB 11643 check digit.
    IdNumber,
    /// An 11-digit mainland mobile number.
    Phone,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A time of day, `HH:MM`.
    Time,
    /// A building/room address (`3号楼502室`).
    Address,
    /// An amount of money in yuan.
    Money,
    /// A count of people or things.
    Count,
}

/// One entity found in an utterance.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Entity {
    /// What it is.
    pub kind: EntityKind,
    /// Canonical value: ID digits (`X` upper case), phone digits, date `YYYY-MM-DD`,
    /// time `HH:MM` (a bare part of day gets a default hour: 上午 09:00, 中午 12:00,
    /// 下午 14:00, 晚上 19:00), `3号楼502室`, amount in yuan, count as digits, the name.
    pub value: String,
    /// The normalised text it was read from.
    pub text: String,
    /// Whose it is, for a person's name: `self` (我叫…), `mother` (孩子妈妈叫李芳), `father`,
    /// `wife`, `husband`, `spouse`, `son`, `daughter`, `child`, `elder`, `party` (the other
    /// side of a sale or dispute: 卖方是刘洋); `None` when the sentence does not say, and for
    /// other kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
}

/// The entities found so far in one text, and the byte ranges they were read from.
struct Found<'t> {
    text: &'t str,
    out: Vec<Entity>,
    used: Vec<(usize, usize)>,
}

impl<'t> Found<'t> {
    fn new(text: &'t str) -> Self {
        Found {
            text,
            out: Vec::new(),
            used: Vec::new(),
        }
    }

    /// Whether no entity was read from any byte of `start..end` yet.
    fn free(&self, start: usize, end: usize) -> bool {
        self.used.iter().all(|&(a, b)| end <= a || start >= b)
    }

    /// Adds an entity read from `text` without claiming any stretch of the text.
    fn push(&mut self, kind: EntityKind, value: String, text: &str, role: Option<&'static str>) {
        self.out.push(Entity {
            kind,
            value,
            text: text.to_string(),
            role,
        });
    }

    /// Adds an entity read from `start..end` and claims that stretch.
    fn claim(&mut self, kind: EntityKind, value: String, start: usize, end: usize) {
        let text = self.text;
        self.push(kind, value, &text[start..end], None);
        self.used.push((start, end));
    }

    /// [`Found::claim`] for the whole of `m`, if no part of it is claimed yet.
    fn claim_free(&mut self, kind: EntityKind, value: String, m: &regex::Match) {
        if self.free(m.start(), m.end()) {
            self.claim(kind, value, m.start(), m.end());
        }
    }
}

/// The regex `pattern`, compiled on first use into `cell`; `None` if it does not compile
/// (its extractor then finds nothing).
fn regex(cell: &'static OnceLock<Option<Regex>>, pattern: &str) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(pattern).ok()).as_ref()
}

/// Each match of `pattern` (compiled once into `cell`) in `text`, with its groups; none if
/// the pattern does not compile.
fn captures<'t>(
    cell: &'static OnceLock<Option<Regex>>,
    pattern: &str,
    text: &'t str,
) -> impl Iterator<Item = Captures<'t>> {
    regex(cell, pattern)
        .into_iter()
        .flat_map(move |re| re.captures_iter(text))
}

/// Runs of digits (a spoken X check character included): resident ID numbers, else
/// mobile numbers.
fn digit_runs(f: &mut Found) {
    static RUN: OnceLock<Option<Regex>> = OnceLock::new();
    let Some(re) = regex(&RUN, r"\d+(?:x|叉|艾克斯)?") else {
        return;
    };
    for m in re.find_iter(f.text) {
        let read = id_number::read(m.as_str())
            .map(|id| (EntityKind::IdNumber, id))
            .or_else(|| phone::read(m.as_str()).map(|p| (EntityKind::Phone, p)));
        if let Some((kind, value)) = read {
            f.claim(kind, value, m.start(), m.end());
        }
    }
}

/// Finds the entities of a normalised utterance; relative dates resolve against `today`.
pub fn extract_entities(normalized: &Normalized, today: NaiveDate) -> Vec<Entity> {
    let mut f = Found::new(&normalized.text);
    digit_runs(&mut f);
    address::extract(&mut f);
    date::extract(&mut f, today);
    time::extract(&mut f);
    money::extract(&mut f);
    count::extract(&mut f);
    name::extract(&mut f);
    f.out
}

/// What the extractors' tests share.
#[cfg(test)]
mod testing {
    use super::*;

    /// The day relative dates resolve against: a Wednesday.
    pub(super) fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, 12).unwrap()
    }

    /// The entities of `text` as said (normalised first).
    pub(super) fn entities(text: &str) -> Vec<Entity> {
        extract_entities(&crate::normalize(text), today())
    }

    /// The value of the first entity of `kind` in `text`.
    pub(super) fn find(text: &str, kind: EntityKind) -> Option<String> {
        entities(text)
            .into_iter()
            .find(|e| e.kind == kind)
            .map(|e| e.value)
    }

    /// Asserts the value of the first entity of `kind` read from each text.
    pub(super) fn expect(kind: EntityKind, cases: &[(&str, &str)]) {
        for (text, want) in cases {
            assert_eq!(find(text, kind).as_deref(), Some(*want), "{text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::entities;
    use super::*;

    #[test]
    fn one_stretch_of_text_is_one_entity() {
        let e = entities("电话13812345678，住3号楼502室，三个人明天下午来，交两百块，我叫王芳");
        let read: Vec<(EntityKind, &str, &str)> = e
            .iter()
            .map(|e| (e.kind, e.value.as_str(), e.text.as_str()))
            .collect();
        assert_eq!(
            read,
            [
                (EntityKind::Phone, "13812345678", "13812345678"),
                (EntityKind::Address, "3号楼502室", "3号楼502室"),
                (EntityKind::Date, "2025-03-13", "明天"),
                (EntityKind::Time, "14:00", "下午"),
                (EntityKind::Money, "200", "200块"),
                (EntityKind::Count, "3", "3个人"),
                (EntityKind::PersonName, "王芳", "我叫王芳"),
            ]
        );
        // The phone number's digits are not read again as a count.
        assert_eq!(entities("13812345678个").len(), 1);
        assert!(entities("").is_empty());
    }
}
