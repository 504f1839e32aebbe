//! Resident ID numbers: 17 digits and a check character, written or spoken (幺幺零…, the
//! X said as 叉 or 艾克斯). The check itself is the contract's (`xiaoan_spec`).

/// GB 11643 check: 17 digits then the check character they call for (digit or `X`,
/// `x` accepted). The birth date is not looked at here (`xiaoan_spec::check_id_number`
/// does, for a form field).
pub fn id_number_valid(id: &str) -> bool {
    xiaoan_spec::id_checksum_ok(id)
}

/// The ID number in a run of digits (with a spoken X at its end, if said), canonical
/// (`X` upper case), if its check character is right.
pub(super) fn read(run: &str) -> Option<String> {
    let digits: String = run.chars().filter(char::is_ascii_digit).collect();
    let spoken_x = !run.chars().last().is_some_and(|c| c.is_ascii_digit());
    let id = if spoken_x && digits.len() == 17 {
        format!("{digits}X")
    } else {
        digits
    };
    (id.len() == 18 && id_number_valid(&id)).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{expect, find};
    use super::super::EntityKind;
    use super::*;

    // A valid test ID (checksum computed by GB 11643), and one ending in X.
    const ID: &str = "110101199003074514";
    const ID_X: &str = "11010519491231002X";

    #[test]
    fn checksum() {
        assert!(id_number_valid(ID));
        assert!(id_number_valid(ID_X));
        assert!(id_number_valid("11010519491231002x"));
        assert!(!id_number_valid("110101199003074515"));
        assert!(!id_number_valid("11010119900307451"));
        assert!(!id_number_valid("11010119900307451a"));
    }

    #[test]
    fn id_numbers_written_and_spoken() {
        expect(
            EntityKind::IdNumber,
            &[
                (&format!("我的身份证号是{ID}"), ID),
                ("身份证幺幺零幺零幺幺九九零零三零七四五幺四", ID),
                ("幺幺零幺零五幺九四九幺二三幺零零二叉", ID_X),
                ("11010519491231002x", ID_X),
                // 两 and 洞 for 2 and 0, the X check digit said as 叉 / 艾克斯, pauses
                // between groups.
                ("身份证号幺幺洞幺洞五，幺九四九幺两三幺，洞洞两艾克斯", ID_X),
                ("幺幺零幺零五 幺九四九幺二三幺 零零二X", ID_X),
            ],
        );
        // A wrong check digit is not accepted as an ID.
        assert_eq!(find("身份证110101199003074515", EntityKind::IdNumber), None);
    }
}
