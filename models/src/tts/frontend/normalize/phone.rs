//! Phone, ID and receipt numbers: digit by digit, 幺 for 1, a pause between groups.

use super::{Normalizer, Run, GROUP_PAUSE, PHONE_MIN_DIGITS};
use crate::tts::frontend::numbers::phone_digits;

/// What may separate the digit groups of one number.
const GROUP_SEPARATORS: [char; 3] = [' ', '-', '－'];
/// Digits of a mainland ID number before its check character.
const ID_DIGITS: usize = 17;
/// The ID check character X, said as 叉 (how people read it aloud).
const ID_X: &str = "叉";
/// Group lengths of a mainland ID: region, birth date, sequence + check.
const ID_GROUPS: [usize; 3] = [6, 8, 3];
/// Group lengths of a mainland mobile number (1xx xxxx xxxx).
const MOBILE_GROUPS: [usize; 3] = [3, 4, 4];
/// Digits per group when a long number has no known layout.
const GROUP_LEN: usize = 4;

impl Normalizer {
    /// Reads a phone, ID or receipt number starting with the run `first`; returns where
    /// reading continues, or `None` when it is not such a number.
    pub(super) fn phone(&mut self, first: Run) -> Option<usize> {
        let text = self.text(first);
        if first.len() == ID_DIGITS && matches!(self.at(first.end), Some('X' | 'x' | 'Ｘ')) {
            let spoken = self.groups(&split(&text, &ID_GROUPS));
            self.out.push_str(&spoken);
            self.out.push_str(ID_X);
            return Some(first.end + 1);
        }
        let mut groups = vec![first];
        let mut i = first.end;
        while self.at(i).is_some_and(|c| GROUP_SEPARATORS.contains(&c)) {
            let r = self.run(i + 1);
            if r.len() < 2 {
                break;
            }
            groups.push(r);
            i = r.end;
        }
        let total: usize = groups.iter().map(|g| g.len()).sum();
        let year_range = groups.len() == 2 && groups.iter().all(|g| g.len() == 4);
        if groups.len() >= 2 && groups[0].len() >= 2 && total >= PHONE_MIN_DIGITS && !year_range {
            let parts: Vec<String> = groups.iter().flat_map(|g| layout(&self.text(*g))).collect();
            let spoken = self.groups(&parts);
            self.out.push_str(&spoken);
            return Some(i);
        }
        if first.len() >= PHONE_MIN_DIGITS {
            let spoken = self.groups(&layout(&text));
            self.out.push_str(&spoken);
            return Some(first.end);
        }
        None
    }

    /// The groups said one after the other with a pause between them.
    fn groups(&self, parts: &[String]) -> String {
        let spoken: Vec<String> = parts.iter().map(|p| phone_digits(p)).collect();
        spoken.join(GROUP_PAUSE)
    }
}

/// `digits` cut into the groups a person pauses between.
fn layout(digits: &str) -> Vec<String> {
    let n = digits.len();
    if n < PHONE_MIN_DIGITS {
        return vec![digits.to_string()];
    }
    if n == 11 && digits.starts_with('1') {
        return split(digits, &MOBILE_GROUPS);
    }
    if n <= 2 * GROUP_LEN {
        return split(digits, &[n - GROUP_LEN, GROUP_LEN]);
    }
    let mut lens = vec![GROUP_LEN; n / GROUP_LEN];
    match n % GROUP_LEN {
        0 => {}
        1 => {
            // a lone last digit sounds odd: end with 3 + 2 instead of 4 + 1
            if let Some(last) = lens.last_mut() {
                *last -= 1;
            }
            lens.push(2);
        }
        r => lens.push(r),
    }
    split(digits, &lens)
}

/// `digits` (ASCII) cut into pieces of the given lengths; the rest is one last piece.
fn split(digits: &str, lens: &[usize]) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = digits;
    for &len in lens {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at(len.min(rest.len()));
        parts.push(a.to_string());
        rest = b;
    }
    if !rest.is_empty() {
        parts.push(rest.to_string());
    }
    parts
}
