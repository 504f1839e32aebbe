//! Clock times (`13:30` → 下午一点半) and ISO dates (`2024-03-05` → 二零二四年三月五日).

use super::{Normalizer, Period, Run, PERIOD_WORDS, RANGE_WORDS, WORD_BREAK};
use crate::tts::frontend::numbers::{cardinal, digits};

/// Separators of a clock time.
const COLONS: [char; 2] = [':', '：'];
/// Separators of an ISO-style date.
const DATE_SEPARATORS: [char; 3] = ['-', '/', '.'];

impl Normalizer {
    /// The value of a digit run of at most two digits.
    fn small(&self, r: Run) -> Option<u32> {
        (1..=2)
            .contains(&r.len())
            .then(|| self.text(r).parse().ok())
            .flatten()
    }

    /// The two-digit run after a colon at `i`, if any.
    fn after_colon(&self, i: usize) -> Option<Run> {
        let r = self.run(i + 1);
        (self.at(i).is_some_and(|c| COLONS.contains(&c)) && r.len() == 2).then_some(r)
    }

    /// Reads `h:mm` or `h:mm:ss` at `h`; returns where reading continues.
    pub(super) fn time(&mut self, h: Run) -> Option<usize> {
        let m = self.after_colon(h.end)?;
        let s = self.after_colon(m.end);
        let (hour, minute) = (self.small(h)?, self.small(m)?);
        let second = match s {
            Some(r) => Some(self.small(r)?),
            None => None,
        };
        if hour > 23 || minute > 59 || second.is_some_and(|s| s > 59) {
            return None;
        }
        let period = self.period_before(hour);
        self.out.push_str(&hour_words(hour));
        self.out.push_str(&minute_words(minute, second));
        self.last_time = Some((period, self.out.len()));
        Some(s.map_or(m.end, |r| r.end))
    }

    /// Writes the period word unless the text already says it (`下午13:30`) or a
    /// range continues in the same period (`13:30到18:00`); returns the period.
    fn period_before(&mut self, hour: u32) -> Period {
        let said = self.out.trim_end();
        if let Some((_, p)) = PERIOD_WORDS.iter().find(|(w, _)| said.ends_with(w)) {
            return *p;
        }
        let period = Period::of_hour(hour);
        let continues = self.last_time.is_some_and(|(p, end)| {
            p == period
                && self
                    .out
                    .get(end..)
                    .is_some_and(|t| RANGE_WORDS.contains(&t.trim()))
        });
        if !continues {
            self.out.push_str(period.word());
        }
        period
    }

    /// Reads `yyyy-mm-dd` (also with `/` or `.`) at `y`; returns where reading continues.
    pub(super) fn iso_date(&mut self, y: Run) -> Option<usize> {
        let year = self.text(y);
        if y.len() != 4 || !(year.starts_with("19") || year.starts_with("20")) {
            return None;
        }
        let sep = self.at(y.end).filter(|c| DATE_SEPARATORS.contains(c))?;
        let m = self.run(y.end + 1);
        let d = self.run(m.end + 1);
        let (month, day) = (self.small(m)?, self.small(d)?);
        let next_is_more =
            self.at(d.end) == Some(sep) && self.at(d.end + 1).is_some_and(|c| c.is_ascii_digit());
        if self.at(m.end) != Some(sep)
            || !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || next_is_more
        {
            return None;
        }
        let text = format!(
            "{}年{}月{}日",
            digits(&year),
            cardinal(&month.to_string(), None),
            cardinal(&day.to_string(), None)
        );
        self.out.push_str(&text);
        Some(d.end)
    }
}

/// The hour on the 12-hour clock: 两点 for 2, 零点 for midnight; a [`WORD_BREAK`]
/// before 点 keeps 一点 (one o'clock) from being read as 一点 (a little).
fn hour_words(hour: u32) -> String {
    let h12 = if hour > 12 { hour - 12 } else { hour };
    let word = if h12 == 2 {
        "两".to_string()
    } else {
        cardinal(&h12.to_string(), None)
    };
    format!("{word}{WORD_BREAK}点")
}

/// The minutes (and seconds): nothing for :00, 半 for :30, 零五分 for :05.
fn minute_words(minute: u32, second: Option<u32>) -> String {
    let second = second.filter(|&s| s > 0);
    let mut s = match minute {
        0 if second.is_none() => String::new(),
        30 if second.is_none() => "半".into(),
        1..=9 => format!("零{}分", cardinal(&minute.to_string(), None)),
        _ => format!("{}分", cardinal(&minute.to_string(), None)),
    };
    if let Some(sec) = second {
        s.push_str(&cardinal(&sec.to_string(), None));
        s.push('秒');
    }
    s
}
