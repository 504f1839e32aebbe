//! Checks of single answers: resident ID numbers (GB 11643), mobile numbers, names,
//! dates and counts as residents say them.

use chrono::{Datelike, NaiveDate};

/// GB 11643 weights for the first 17 digits.
pub(crate) const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// GB 11643 check characters indexed by (weighted sum mod 11).
pub(crate) const ID_CHECK: &[u8; 11] = b"10X98765432";

/// Check an 18-character resident ID (GB 11643), its birth date not after `today`. `Ok`
/// is the canonical form (upper-case X); `Err` the reason to say after the field label.
pub fn check_id_number(raw: &str, today: NaiveDate) -> std::result::Result<String, &'static str> {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| {
            if c == 'x' || c == 'Ｘ' || c == 'ｘ' {
                'X'
            } else {
                c
            }
        })
        .collect();
    let chars: Vec<char> = s.chars().collect();
    if chars.len() != 18 {
        return Err("应该是18位，请再说一遍。");
    }
    if !chars[..17].iter().all(|c| c.is_ascii_digit())
        || !(chars[17].is_ascii_digit() || chars[17] == 'X')
    {
        return Err("只能是数字，最后一位可以是X，请再说一遍。");
    }
    let sum: u32 = chars[..17]
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    if ID_CHECK[(sum % 11) as usize] as char != chars[17] {
        return Err("校验不对，请再说一遍。");
    }
    let birth: String = chars[6..14].iter().collect();
    let ok_date = NaiveDate::parse_from_str(&birth, "%Y%m%d")
        .map(|d| d.year() >= 1900 && d <= today)
        .unwrap_or(false);
    if !ok_date {
        return Err("里的出生日期不对，请再说一遍。");
    }
    Ok(s)
}

/// Check a mainland mobile number `1[3-9]\d{9}` (spaces, dashes and a +86 prefix allowed).
pub fn check_phone(raw: &str) -> Option<String> {
    let mut s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if let Some(rest) = s.strip_prefix("+86") {
        s = rest.to_string();
    }
    let b = s.as_bytes();
    let ok = b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit);
    ok.then_some(s)
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0x20000..=0x2EBEF)
}

/// Check a person's name: 2–6 Han characters, or longer names with a middle dot (minority names).
pub fn check_name(raw: &str) -> Option<String> {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if c == '.' || c == '•' { '·' } else { c })
        .collect();
    let n = s.chars().count();
    let all_ok = s.chars().all(|c| is_han(c) || c == '·');
    let dotted = s.contains('·');
    let ok = all_ok
        && !s.starts_with('·')
        && !s.ends_with('·')
        && if dotted {
            (3..=20).contains(&n)
        } else {
            (2..=6).contains(&n)
        };
    ok.then_some(s)
}

/// Parse a date: `2026-11-29`, `2026/11/29`, `2026.11.29`, `20261129`, `2026年11月29日`/`号`.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(&s, "%Y%m%d").ok();
    }
    let parts: Vec<&str> = s
        .split(['-', '/', '.', '年', '月', '日', '号'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() != 3 || parts[0].len() != 4 {
        return None;
    }
    let y: i32 = parts[0].parse().ok()?;
    let m: u32 = parts[1].parse().ok()?;
    let d: u32 = parts[2].parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Parse a whole number: Arabic digits or simple Chinese numerals up to 九十九 (两 = 2).
pub fn parse_count(raw: &str) -> Option<i64> {
    let s = raw
        .trim()
        .trim_end_matches(['个', '人', '位', '次', '名', '口']);
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    let digit = |c: char| {
        "零一二三四五六七八九"
            .chars()
            .position(|d| d == c)
            .map(|p| p as i64)
            .or((c == '两').then_some(2))
    };
    let chars: Vec<char> = s.chars().collect();
    match chars.as_slice() {
        [c] if *c == '十' => Some(10),
        [c] => digit(*c),
        ['十', u] => Some(10 + digit(*u)?),
        [t, '十'] => Some(digit(*t)? * 10),
        [t, '十', u] => Some(digit(*t)? * 10 + digit(*u)?),
        _ => None,
    }
}
