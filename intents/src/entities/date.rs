//! Dates: `2025年4月3日`, `2025-04-03`, `5月1号` (this year, or next if long past), `下周三`
//! (weeks from Monday), `明天` / `后天` / `昨天`, resolved against today.

use std::sync::OnceLock;

use chrono::{Datelike, Duration, NaiveDate};
use regex::{Captures, Regex};

use super::{regex, EntityKind, Found};

/// Relative day words and their offset from today; the first found counts.
const RELATIVE_DAYS: [(&str, i64); 6] = [
    ("大后天", 3),
    ("后天", 2),
    ("明天", 1),
    ("今天", 0),
    ("昨天", -1),
    ("前天", -2),
];

/// A date and the byte range it was read from.
type Read = (NaiveDate, usize, usize);

/// Reads the first date of the text (a full date first, then month and day, a weekday,
/// a relative day).
pub(super) fn extract(f: &mut Found, today: NaiveDate) {
    let text = f.text;
    let date = full(text)
        .or_else(|| month_day(text, today))
        .or_else(|| weekday(text, today))
        .or_else(|| relative(text, today));
    if let Some((d, s, e)) = date {
        f.claim(EntityKind::Date, d.format("%Y-%m-%d").to_string(), s, e);
    }
}

/// The number in group `i` of `c` (0 when it is not one).
fn num<T: std::str::FromStr + Default>(c: &Captures, i: usize) -> T {
    c[i].parse().unwrap_or_default()
}

/// The date of `c` spanning its whole match.
fn spanning(c: &Captures, date: Option<NaiveDate>) -> Option<Read> {
    let m = c.get(0)?;
    Some((date?, m.start(), m.end()))
}

/// `2025年4月3日`, else `2025-04-03` (also with `/` or `.`).
fn full(text: &str) -> Option<Read> {
    static YMD: OnceLock<Option<Regex>> = OnceLock::new();
    static ISO: OnceLock<Option<Regex>> = OnceLock::new();
    [
        regex(&YMD, r"(\d{4})年(\d{1,2})月(\d{1,2})[日号]?"),
        regex(&ISO, r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"),
    ]
    .into_iter()
    .flatten()
    .find_map(|re| {
        let c = re.captures(text)?;
        spanning(
            &c,
            NaiveDate::from_ymd_opt(num(&c, 1), num(&c, 2), num(&c, 3)),
        )
    })
}

/// `5月1号`: this year, or next year when this year's is more than a month past.
fn month_day(text: &str, today: NaiveDate) -> Option<Read> {
    static MD: OnceLock<Option<Regex>> = OnceLock::new();
    let c = regex(&MD, r"(\d{1,2})月(\d{1,2})[日号]")?.captures(text)?;
    let (mo, d) = (num(&c, 1), num(&c, 2));
    let date = NaiveDate::from_ymd_opt(today.year(), mo, d).map(|dt| {
        if dt < today - Duration::days(31) {
            NaiveDate::from_ymd_opt(today.year() + 1, mo, d).unwrap_or(dt)
        } else {
            dt
        }
    });
    spanning(&c, date)
}

/// `下周三`, `这个礼拜天`, `周五`: a bare weekday is the next one from today (today
/// included).
fn weekday(text: &str, today: NaiveDate) -> Option<Read> {
    static WEEKDAY: OnceLock<Option<Regex>> = OnceLock::new();
    let c = regex(
        &WEEKDAY,
        r"(下下|下个|下|这个|这|本|上个|上)?(?:周|星期|礼拜)([1-7日天])",
    )?
    .captures(text)?;
    let wd: i64 = match &c[2] {
        "日" | "天" => 7,
        d => d.parse().unwrap_or(1),
    };
    let monday = today - Duration::days(today.weekday().num_days_from_monday() as i64);
    let week = match c.get(1).map(|m| m.as_str()) {
        Some("下下") => 2,
        Some("下个") | Some("下") => 1,
        Some("上个") | Some("上") => -1,
        Some(_) => 0,
        None if monday + Duration::days(wd - 1) < today => 1,
        None => 0,
    };
    spanning(&c, Some(monday + Duration::days(week * 7 + wd - 1)))
}

/// 明天, 后天, 昨天 … .
fn relative(text: &str, today: NaiveDate) -> Option<Read> {
    RELATIVE_DAYS.iter().find_map(|(w, off)| {
        let s = text.find(w)?;
        Some((today + Duration::days(*off), s, s + w.len()))
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{expect, find};
    use super::super::EntityKind;

    #[test]
    fn dates_resolve_against_today() {
        // Today is Wednesday 2025-03-12.
        expect(
            EntityKind::Date,
            &[
                ("明天上午", "2025-03-13"),
                ("下周三下午", "2025-03-19"),
                ("五月一号", "2025-05-01"),
                ("2025年4月3日", "2025-04-03"),
                ("2025-04-03", "2025-04-03"),
                ("礼拜一", "2025-03-17"),
                ("周五", "2025-03-14"),
                ("上个星期天", "2025-03-09"),
                ("大后天", "2025-03-15"),
                // Long past this year: next year's.
                ("一月五号", "2026-01-05"),
                // Dialect forms: Shanghainese 明朝下半日, Cantonese 聽日, Hakka 天光日.
                ("明朝下半日两点", "2025-03-13"),
                ("聽日下晝", "2025-03-13"),
                ("𠊎天光日來", "2025-03-13"),
            ],
        );
        // A date that does not exist is not read.
        assert_eq!(find("2月30号", EntityKind::Date), None);
    }
}
