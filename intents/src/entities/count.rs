//! Counts of people or things: 三个人, 两位, 五份.

use std::sync::OnceLock;

use regex::Regex;

use super::{captures, EntityKind, Found};

/// Reads the counts of the text not claimed yet.
pub(super) fn extract(f: &mut Found) {
    static COUNT: OnceLock<Option<Regex>> = OnceLock::new();
    let pattern = r"(\d{1,4})(?:个人|口人|位|个|人|次|张|份|本|件)";
    for c in captures(&COUNT, pattern, f.text) {
        f.claim_free(EntityKind::Count, c[1].to_string(), &c.get_match());
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{expect, find};
    use super::super::EntityKind;

    #[test]
    fn counts_of_people_and_things() {
        expect(
            EntityKind::Count,
            &[
                ("我们家有三个人", "3"),
                ("两位老人", "2"),
                ("复印五份", "5"),
            ],
        );
        // A phone number is not a count.
        assert_eq!(find("13812345678个", EntityKind::Count), None);
    }
}
