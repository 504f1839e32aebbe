//! Mainland mobile numbers: 11 digits `1[3-9]…`, a `86` country code allowed before them.

/// The mobile number in a run of digits, if it is one.
pub(super) fn read(run: &str) -> Option<String> {
    let digits: String = run.chars().filter(char::is_ascii_digit).collect();
    let phone = digits
        .strip_prefix("86")
        .filter(|d| d.len() == 11)
        .unwrap_or(&digits);
    let b = phone.as_bytes();
    (b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])).then(|| phone.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{expect, find};
    use super::super::EntityKind;

    #[test]
    fn phones_written_and_spoken() {
        expect(
            EntityKind::Phone,
            &[
                ("电话13812345678", "13812345678"),
                ("手机号幺三八幺二三四五六七八", "13812345678"),
                ("我电话係幺三九，零零零零，幺幺幺幺", "13900001111"),
                ("138 1234 5678", "13812345678"),
                ("电话8613812345678", "13812345678"),
                // Said in groups, with 两 and 洞, and after a name.
                ("幺三八，幺两三四，五六七八", "13812345678"),
                ("手机幺五洞 两两两两 洞洞洞洞", "15022220000"),
                ("我叫王芳电话是幺三八幺二三四五六七八", "13812345678"),
            ],
        );
        assert_eq!(find("电话12345678901", EntityKind::Phone), None);
    }
}
