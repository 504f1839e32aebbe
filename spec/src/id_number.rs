//! The resident ID number of GB 11643: six digits of region, eight of birth date
//! (`YYYYMMDD`), three of sequence, and a check character (a digit or `X`) computed from
//! the first seventeen.

use std::fmt;

/// Weights of the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check characters, indexed by (weighted sum mod 11).
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
/// The first birth year accepted.
const FIRST_YEAR: i32 = 1900;

/// A calendar day; orders by year, then month, then day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u32,
    /// Day of the month, from 1.
    pub day: u32,
}

impl Date {
    /// The date, if it exists in the Gregorian calendar.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days)
            .contains(&day)
            .then_some(Date { year, month, day })
    }
}

/// Why an ID number is refused, in the order [`check_id_number`] checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdNumberError {
    /// Not 18 characters.
    Length,
    /// Not 17 digits and a digit or `X`.
    Characters,
    /// The check character does not match the first 17 digits.
    Checksum,
    /// The birth date does not exist, is before 1900 or after today.
    BirthDate,
}

impl fmt::Display for IdNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdNumberError::Length => "an ID number has 18 characters",
            IdNumberError::Characters => "an ID number is 17 digits and a digit or X",
            IdNumberError::Checksum => "the check character does not match",
            IdNumberError::BirthDate => "the birth date is not a past date since 1900",
        })
    }
}

impl std::error::Error for IdNumberError {}

/// The check character that 17 digits call for; `None` unless `first17` is 17 digits.
pub fn id_check_character(first17: &str) -> Option<char> {
    let digits: Vec<u32> = first17
        .chars()
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()?;
    if digits.len() != WEIGHTS.len() {
        return None;
    }
    let sum: u32 = digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
    Some(CHECK[(sum % 11) as usize])
}

/// Whether `id` is 17 digits and the check character they call for (`x` taken as `X`).
/// The birth date is not looked at (see [`check_id_number`]).
pub fn id_checksum_ok(id: &str) -> bool {
    let c: Vec<char> = id.chars().collect();
    if c.len() != 18 {
        return false;
    }
    let first17: String = c[..17].iter().collect();
    id_check_character(&first17) == Some(c[17].to_ascii_uppercase())
}

/// The birth date written in an ID number (characters 7–14), if it is a real date
/// since 1900.
pub fn id_birth_date(id: &str) -> Option<Date> {
    let birth: String = id.chars().skip(6).take(8).collect();
    if birth.len() != 8 || !birth.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year = birth[..4].parse().ok()?;
    let date = Date::new(year, birth[4..6].parse().ok()?, birth[6..].parse().ok()?)?;
    (year >= FIRST_YEAR).then_some(date)
}

/// Checks an ID number as a resident says or types it (spaces and dashes ignored, `x`
/// and full-width `Ｘ` taken as `X`) and returns its canonical form: 17 digits and the
/// check character, a birth date that exists, since 1900 and not after `today`.
pub fn check_id_number(raw: &str, today: Date) -> Result<String, IdNumberError> {
    let id: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| {
            if matches!(c, 'x' | 'Ｘ' | 'ｘ') {
                'X'
            } else {
                c
            }
        })
        .collect();
    let chars: Vec<char> = id.chars().collect();
    if chars.len() != 18 {
        return Err(IdNumberError::Length);
    }
    if !chars[..17].iter().all(char::is_ascii_digit)
        || !(chars[17].is_ascii_digit() || chars[17] == 'X')
    {
        return Err(IdNumberError::Characters);
    }
    if !id_checksum_ok(&id) {
        return Err(IdNumberError::Checksum);
    }
    match id_birth_date(&id) {
        Some(born) if born <= today => Ok(id),
        _ => Err(IdNumberError::BirthDate),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 18-character ID made of `first17` and the check character they call for.
    fn with_check(first17: &str) -> String {
        format!("{first17}{}", id_check_character(first17).unwrap())
    }

    fn today() -> Date {
        Date::new(2025, 3, 12).unwrap()
    }

    #[test]
    fn checksum_of_known_numbers() {
        // Check characters worked out by hand from the weights of GB 11643.
        assert!(id_checksum_ok("110101199003074514"));
        assert!(id_checksum_ok("11010519491231002X"));
        assert!(id_checksum_ok("11010519491231002x"));
        assert!(!id_checksum_ok("110101199003074515"));
        assert!(!id_checksum_ok("11010119900307451"));
        assert!(!id_checksum_ok("11010119900307451a"));
        assert!(!id_checksum_ok("１10101199003074514"));
        assert_eq!(id_check_character("11010519491231002"), Some('X'));
        assert_eq!(id_check_character("11010119900307451"), Some('4'));
        assert_eq!(id_check_character("1101011990030745"), None);
        assert_eq!(id_check_character("110101199003074514"), None);
        assert_eq!(id_check_character("1101011990030745a"), None);
    }

    #[test]
    fn spoken_and_typed_forms_are_canonicalised() {
        for raw in [
            "11010519491231002x",
            "110105 19491231 002X",
            "110105-19491231-002Ｘ",
        ] {
            assert_eq!(
                check_id_number(raw, today()).as_deref(),
                Ok("11010519491231002X"),
                "{raw}"
            );
        }
    }

    #[test]
    fn each_fault_has_its_reason() {
        let t = today();
        assert_eq!(
            check_id_number("11010519491231", t),
            Err(IdNumberError::Length)
        );
        assert_eq!(
            check_id_number("1101051949123100AX", t),
            Err(IdNumberError::Characters)
        );
        assert_eq!(
            check_id_number("110105194912310021", t),
            Err(IdNumberError::Checksum)
        );
        for first17 in [
            "11010519491331002", // month 13
            "11010519490230002", // 30 February
            "11010518991231002", // before 1900
            "11010520250313002", // the day after today
        ] {
            assert_eq!(
                check_id_number(&with_check(first17), t),
                Err(IdNumberError::BirthDate),
                "{first17}"
            );
        }
        // 29 February of a leap year, and today itself, are fine.
        assert!(check_id_number(&with_check("11010520000229002"), t).is_ok());
        assert!(check_id_number(&with_check("11010520250312002"), t).is_ok());
        assert!(check_id_number(&with_check("11010519000229002"), t).is_err());
    }

    #[test]
    fn birth_dates_are_read_from_the_middle() {
        assert_eq!(id_birth_date("110101199003074514"), Date::new(1990, 3, 7));
        assert_eq!(id_birth_date("1101011990"), None);
        assert!(Date::new(2024, 2, 29).is_some());
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(2023, 4, 31).is_none());
        assert!(Date::new(2023, 0, 1).is_none());
        assert!(Date::new(2023, 12, 0).is_none());
        assert!(Date::new(1990, 3, 7) < Date::new(1990, 3, 8));
        assert!(Date::new(1990, 12, 31) < Date::new(1991, 1, 1));
    }
}
