//! The seven dialects of `spec/dialects.tsv`.

/// One dialect of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialect {
    /// Its code (`wuu-sh`), as manifests, predictions and the dialogue write it.
    pub code: &'static str,
    /// Its Chinese name as the spec writes it (`沪语（上海话）`).
    pub name_zh: &'static str,
    /// The short Chinese name reports and prompts use (`沪语`).
    pub short_zh: &'static str,
    /// Its English name (`Shanghainese`).
    pub name_en: &'static str,
    /// The language family (`Wu`).
    pub family: &'static str,
}

/// The seven dialects, in report order (`cmn`, Mandarin, first).
pub const DIALECTS: [Dialect; 7] = [
    Dialect {
        code: "cmn",
        name_zh: "普通话",
        short_zh: "普通话",
        name_en: "Mandarin",
        family: "Mandarin",
    },
    Dialect {
        code: "wuu-sh",
        name_zh: "沪语（上海话）",
        short_zh: "沪语",
        name_en: "Shanghainese",
        family: "Wu",
    },
    Dialect {
        code: "wuu-sz",
        name_zh: "苏州话",
        short_zh: "苏州话",
        name_en: "Suzhounese",
        family: "Wu",
    },
    Dialect {
        code: "yue",
        name_zh: "粤语",
        short_zh: "粤语",
        name_en: "Cantonese",
        family: "Yue",
    },
    Dialect {
        code: "nan",
        name_zh: "闽南语",
        short_zh: "闽南语",
        name_en: "Min Nan (Hokkien)",
        family: "Min",
    },
    Dialect {
        code: "cmn-sc",
        name_zh: "四川话",
        short_zh: "四川话",
        name_en: "Sichuanese (Southwestern Mandarin)",
        family: "Mandarin",
    },
    Dialect {
        code: "hak",
        name_zh: "客家话",
        short_zh: "客家话",
        name_en: "Hakka",
        family: "Hakka",
    },
];

/// The codes of [`DIALECTS`], same order.
pub const DIALECT_CODES: [&str; 7] = {
    let mut out = [""; 7];
    let mut i = 0;
    while i < out.len() {
        out[i] = DIALECTS[i].code;
        i += 1;
    }
    out
};

/// The dialect of a code, if it is one of the seven.
pub fn dialect(code: &str) -> Option<&'static Dialect> {
    DIALECTS.iter().find(|d| d.code == code)
}

/// Whether `code` is one of the seven dialect codes.
pub fn is_dialect(code: &str) -> bool {
    dialect(code).is_some()
}

/// Position of a dialect code in report order (unknown codes sort last).
pub fn dialect_rank(code: &str) -> usize {
    DIALECTS
        .iter()
        .position(|d| d.code == code)
        .unwrap_or(DIALECTS.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_distinct_codes_mandarin_first() {
        let mut codes = DIALECT_CODES.to_vec();
        assert_eq!(codes[0], "cmn");
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 7);
        for (i, d) in DIALECTS.iter().enumerate() {
            assert_eq!(DIALECT_CODES[i], d.code);
            assert_eq!(dialect_rank(d.code), i);
            assert!(d.name_zh.starts_with(d.short_zh), "{}", d.code);
            assert!(!d.name_en.is_empty() && !d.family.is_empty());
        }
        assert_eq!(dialect("wuu-sh").map(|d| d.short_zh), Some("沪语"));
        assert!(!is_dialect("wuu") && !is_dialect("") && !is_dialect("CMN"));
        assert_eq!(dialect_rank("xx"), 7);
    }
}
