//! The closed vocabularies of the evaluation contract: dialect codes and intent labels,
//! from `xiaoan-spec` (the project's `spec/dialects.tsv` and `spec/intents.tsv`), so that
//! the evaluator shares the contract with what it scores without depending on it. The
//! order here is the order reports use. What is eval's own: the labels public data sets
//! use for the seven dialects ([`map_dialect_label`]).

pub use xiaoan_spec::{
    dialect_rank, intent_rank, is_dialect, is_intent, DIALECT_CODES, INTENT_CODES as INTENT_LABELS,
};

/// Chinese display name of a dialect code (the short one: 沪语), if it is one of the seven.
pub fn dialect_name_zh(code: &str) -> Option<&'static str> {
    xiaoan_spec::dialect(code).map(|d| d.short_zh)
}

/// Maps a label used by public data sets (Common Voice locales, KeSpeech/WenetSpeech
/// subset names) or one of our own codes to one of the seven dialect codes.
///
/// Returns `None` for labels that do not name one of the seven (for example KeSpeech's
/// other Mandarin subdialects, which are not Standard Mandarin).
pub fn map_dialect_label(label: &str) -> Option<&'static str> {
    let l = label.trim().to_ascii_lowercase().replace('_', "-");
    if let Some(c) = DIALECT_CODES.iter().find(|c| **c == l) {
        return Some(c);
    }
    let code = match l.as_str() {
        "zh-cn" | "zh" | "mandarin" | "putonghua" | "cmn-hans-cn" | "standard" => "cmn",
        "zh-hk" | "cantonese" | "yue-hk" | "zh-yue" | "yue-hant-hk" => "yue",
        "shanghai" | "shanghainese" | "wuu" | "wu-sh" | "sh" => "wuu-sh",
        "suzhou" | "suzhounese" | "wu-sz" | "sz" => "wuu-sz",
        "nan-tw" | "minnan" | "min-nan" | "hokkien" | "taiwanese" => "nan",
        "sichuan" | "sichuanese" | "southwestern" | "chuan" | "southwestern-mandarin" => "cmn-sc",
        "hakka" | "hak-tw" => "hak",
        _ => return None,
    };
    Some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_and_order_follow_the_contract() {
        assert_eq!(DIALECT_CODES.len(), 7);
        assert_eq!(INTENT_LABELS.len(), 18);
        assert_eq!(dialect_name_zh("wuu-sh"), Some("沪语"));
        assert_eq!(dialect_name_zh("cmn"), Some("普通话"));
        assert_eq!(dialect_name_zh("wuu"), None);
        assert!(dialect_rank("cmn") < dialect_rank("hak"));
        assert_eq!(dialect_rank("xx"), DIALECT_CODES.len());
        assert!(intent_rank("service.query") < intent_rank("out_of_scope"));
        assert!(is_intent("nav.stop") && !is_intent("nav"));
    }

    #[test]
    fn public_set_labels_map_to_codes() {
        assert_eq!(map_dialect_label("zh-HK"), Some("yue"));
        assert_eq!(map_dialect_label("nan-tw"), Some("nan"));
        assert_eq!(map_dialect_label("Southwestern"), Some("cmn-sc"));
        assert_eq!(map_dialect_label("wuu-sz"), Some("wuu-sz"));
        assert_eq!(map_dialect_label("Jiang-Huai"), None);
        for c in DIALECT_CODES {
            assert_eq!(map_dialect_label(c), Some(c));
        }
    }
}
