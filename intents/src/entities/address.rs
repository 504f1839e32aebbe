//! Addresses: building, unit and room (`3号楼2单元502室`), a street number
//! (`人民路12号`), a bare room (`502室`).

use std::sync::OnceLock;

use regex::Regex;

use super::{captures, regex, EntityKind, Found};

/// Reads the addresses of the text not claimed yet.
pub(super) fn extract(f: &mut Found) {
    buildings(f);
    static STREET: OnceLock<Option<Regex>> = OnceLock::new();
    static ROOM: OnceLock<Option<Regex>> = OnceLock::new();
    for re in [
        regex(&STREET, r"\p{Han}{1,6}(?:路|街|巷|弄|村)\d{1,4}号"),
        regex(&ROOM, r"(\d{3,4})室"),
    ]
    .into_iter()
    .flatten()
    {
        for m in re.find_iter(f.text) {
            f.claim_free(EntityKind::Address, m.as_str().to_string(), &m);
        }
    }
}

/// `3号楼502`, `7栋2单元103`: the canonical `7号楼2单元103室`.
fn buildings(f: &mut Found) {
    static BUILDING: OnceLock<Option<Regex>> = OnceLock::new();
    let pattern = r"(\d{1,3})(?:号楼|栋|幢|号院|座)(?:(\d{1,2})单元)?(?:(\d{3,4})(?:室|号)?)?";
    for c in captures(&BUILDING, pattern, f.text) {
        let mut v = format!("{}号楼", &c[1]);
        if let Some(u) = c.get(2) {
            v.push_str(&format!("{}单元", u.as_str()));
        }
        if let Some(r) = c.get(3) {
            v.push_str(&format!("{}室", r.as_str()));
        }
        f.claim_free(EntityKind::Address, v, &c.get_match());
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::expect;
    use super::super::EntityKind;

    #[test]
    fn addresses_written_and_spoken() {
        expect(
            EntityKind::Address,
            &[
                ("我住3号楼502室", "3号楼502室"),
                ("住三号楼五零二", "3号楼502室"),
                ("七栋二单元幺零三", "7号楼2单元103室"),
                ("三号楼五零二", "3号楼502室"),
                ("我家住在十二栋三单元六零一室", "12号楼3单元601室"),
                ("人民路12号", "人民路12号"),
                ("住在502室", "502室"),
            ],
        );
    }
}
