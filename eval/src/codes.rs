//! The closed vocabularies of the evaluation contract: dialect codes and intent labels.
//!
//! Copied from the project's `spec/dialects.tsv` and `spec/intents.tsv` so that nothing
//! reads the spec folder at run time. The order here is the order reports use.

/// The seven dialect codes, in report order (`dialects.tsv`).
pub const DIALECT_CODES: [&str; 7] = ["cmn", "wuu-sh", "wuu-sz", "yue", "nan", "cmn-sc", "hak"];

/// Chinese display names of [`DIALECT_CODES`], same order (`dialects.tsv`, `name_zh`).
pub const DIALECT_NAMES_ZH: [&str; 7] = [
    "普通话",
    "沪语",
    "苏州话",
    "粤语",
    "闽南语",
    "四川话",
    "客家话",
];

/// The 18 intent labels, in taxonomy order (`intents.tsv`).
pub const INTENT_LABELS: [&str; 18] = [
    "service.query",
    "declaration.file",
    "dispute.mediate",
    "appointment.book",
    "queue.status",
    "handoff.human",
    "emergency",
    "feedback.complaint",
    "dialect.switch",
    "nav.repeat",
    "nav.slower",
    "nav.faster",
    "nav.stop",
    "confirm.yes",
    "confirm.no",
    "greeting",
    "goodbye",
    "out_of_scope",
];

/// Whether `code` is one of the seven dialect codes.
pub fn is_dialect(code: &str) -> bool {
    DIALECT_CODES.contains(&code)
}

/// Whether `label` is one of the 18 intent labels.
pub fn is_intent(label: &str) -> bool {
    INTENT_LABELS.contains(&label)
}

/// Position of a dialect code in report order (unknown codes sort last).
pub fn dialect_rank(code: &str) -> usize {
    DIALECT_CODES
        .iter()
        .position(|c| *c == code)
        .unwrap_or(DIALECT_CODES.len())
}

/// Position of an intent label in taxonomy order (unknown labels sort last).
pub fn intent_rank(label: &str) -> usize {
    INTENT_LABELS
        .iter()
        .position(|c| *c == label)
        .unwrap_or(INTENT_LABELS.len())
}

/// Chinese display name of a dialect code, if it is one of the seven.
pub fn dialect_name_zh(code: &str) -> Option<&'static str> {
    DIALECT_CODES
        .iter()
        .position(|c| *c == code)
        .map(|i| DIALECT_NAMES_ZH[i])
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
    fn vocabularies_have_the_contract_sizes_and_no_duplicates() {
        let mut d = DIALECT_CODES.to_vec();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), 7);
        let mut i = INTENT_LABELS.to_vec();
        i.sort();
        i.dedup();
        assert_eq!(i.len(), 18);
    }

    #[test]
    fn public_set_labels_map_to_codes() {
        assert_eq!(map_dialect_label("zh-HK"), Some("yue"));
        assert_eq!(map_dialect_label("nan-tw"), Some("nan"));
        assert_eq!(map_dialect_label("Southwestern"), Some("cmn-sc"));
        assert_eq!(map_dialect_label("wuu-sz"), Some("wuu-sz"));
        assert_eq!(map_dialect_label("Jiang-Huai"), None);
    }
}
