//! Times of day: `14:30`, `三点半` (03:30, or 15:30 after 下午), a bare part of day
//! (上午 → 09:00).

use std::sync::OnceLock;

use regex::Regex;

use super::{regex, EntityKind, Found};

/// Part-of-day words, their default hour, and whether clock hours after them are p.m.
const PARTS_OF_DAY: [(&str, u32, bool); 10] = [
    ("凌晨", 5, false),
    ("早上", 8, false),
    ("早晨", 8, false),
    ("上午", 9, false),
    ("中午", 12, true),
    ("下午", 14, true),
    ("傍晚", 18, true),
    ("晚上", 19, true),
    ("夜里", 21, true),
    ("今晚", 19, true),
];

/// Hour, minute and the byte range they were read from.
type Clock = (u32, u32, usize, usize);

/// Reads the first time of the text: a clock time (in the part of day said, if any), else
/// the part of day's default hour.
pub(super) fn extract(f: &mut Found) {
    let text = f.text;
    let part = PARTS_OF_DAY.iter().find(|(w, _, _)| text.contains(w));
    match (clock(text), part) {
        (Some((mut h, mi, s, e)), part) => {
            let pm = part.is_some_and(|(_, _, pm)| *pm);
            if pm && h < 12 && !(h >= 11 && text.contains("中午")) {
                h += 12;
            }
            if h < 24 && mi < 60 && f.free(s, e) {
                f.claim(EntityKind::Time, format!("{h:02}:{mi:02}"), s, e);
            }
        }
        (None, Some((w, h, _))) => f.push(EntityKind::Time, format!("{h:02}:00"), w, None),
        (None, None) => {}
    }
}

/// `14:30`, else `3点`, `3点半`, `8点一刻`, `3点20分` (hours and minutes as said; 99
/// when not a number, which no time accepts).
fn clock(text: &str) -> Option<Clock> {
    static COLON: OnceLock<Option<Regex>> = OnceLock::new();
    static SPOKEN: OnceLock<Option<Regex>> = OnceLock::new();
    let span = |m: regex::Match| (m.start(), m.end());
    if let Some(c) = regex(&COLON, r"(\d{1,2}):(\d{2})").and_then(|re| re.captures(text)) {
        let (h, mi) = (c[1].parse().unwrap_or(99), c[2].parse().unwrap_or(99));
        let (s, e) = span(c.get(0)?);
        return Some((h, mi, s, e));
    }
    let c = regex(&SPOKEN, r"(\d{1,2})点(?:钟)?(半|一刻|三刻|(\d+)分?)?")?.captures(text)?;
    let h: u32 = c[1].parse().unwrap_or(99);
    let (s, mut e) = span(c.get(0)?);
    let mi = match c.get(2).map(|m| m.as_str()) {
        Some("半") => 30,
        Some("一刻") => 15,
        Some("三刻") => 45,
        // more than two digits after 点 are not minutes but the next number said
        // (三点，两百块 normalises to 3点200块): the time ends at 点
        Some(_) => match c.get(3) {
            Some(m) if m.as_str().len() > 2 => {
                e = m.start();
                0
            }
            m => m.and_then(|m| m.as_str().parse().ok()).unwrap_or(0),
        },
        None => 0,
    };
    Some((h, mi, s, e))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{entities, expect, find};
    use super::super::EntityKind;

    #[test]
    fn times_in_the_part_of_day_said() {
        expect(
            EntityKind::Time,
            &[
                ("明天上午", "09:00"),
                ("下周三下午三点半", "15:30"),
                ("后天早上八点一刻", "08:15"),
                ("明朝下半日两点", "14:00"),
                ("晚上八点", "20:00"),
                ("中午十二点", "12:00"),
                ("中午十一点半", "11:30"),
                ("下午3:20", "15:20"),
                ("九点三刻", "09:45"),
                ("十点二十分", "10:20"),
                // the next number said after the hour is not its minutes
                ("下午三点，两百块", "15:00"),
            ],
        );
        // An hour that does not exist is not a time.
        assert_eq!(find("25点", EntityKind::Time), None);
        // A bare part of day is read from its word.
        let e = entities("下午");
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].value.as_str(), e[0].text.as_str()), ("14:00", "下午"));
    }
}
