//! Amounts of money in yuan: 200块, 1500元, 三块五 (3.5), 两万块 (20000), 蚊 (Cantonese).

use std::sync::OnceLock;

use regex::Regex;

use super::{captures, EntityKind, Found};

/// Reads the amounts of the text not claimed yet.
pub(super) fn extract(f: &mut Found) {
    static MONEY: OnceLock<Option<Regex>> = OnceLock::new();
    let pattern = r"(\d+(?:\.\d+)?)(万)?(?:块钱|块|元|圆|蚊)(?:(\d)(?:毛|角)?)?";
    for c in captures(&MONEY, pattern, f.text) {
        let m = c.get_match();
        if !f.free(m.start(), m.end()) {
            continue;
        }
        let mut v: f64 = c[1].parse().unwrap_or(0.0);
        if c.get(2).is_some() {
            v *= 10_000.0;
        }
        if let Some(j) = c.get(3) {
            v += j.as_str().parse::<f64>().unwrap_or(0.0) / 10.0;
        }
        f.claim(EntityKind::Money, yuan(v), m.start(), m.end());
    }
}

/// An amount as written: whole yuan without decimals, else up to two decimals.
fn yuan(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as u64)
    } else {
        format!("{:.2}", v).trim_end_matches('0').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::expect;
    use super::super::EntityKind;

    #[test]
    fn amounts_in_yuan() {
        expect(
            EntityKind::Money,
            &[
                ("两百块", "200"),
                ("1500元", "1500"),
                ("三块五", "3.5"),
                ("一千五百蚊", "1500"),
                ("两万块钱", "20000"),
                ("12.25元", "12.25"),
            ],
        );
    }
}
