//! Text normalisation: script, width, punctuation, fillers, dialect words, numbers, pinyin.

use pinyin::ToPinyin;

/// A normalised utterance: what was heard, the text used for matching, and its sound.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Normalized {
    /// The input as given.
    pub original: String,
    /// Simplified, half width, dialect words mapped to Mandarin, fillers and punctuation
    /// removed, numbers as digits.
    pub text: String,
    /// Tone-less pinyin, one entry per character of `text` (non-Han characters as-is).
    pub pinyin: Vec<String>,
}

/// Script, width and case folding, the first step (also what the yes/no rules read).
pub(crate) use crate::script::fold;

/// Keeps letters, digits and Han characters; keeps `: . - /` only between two digits
/// (14:30, 1500.5, 2025-03-01).
fn strip_punctuation(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = matches!(c, ':' | '.' | '-' | '/')
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        if c.is_alphanumeric() || between_digits {
            out.push(c);
        }
    }
    out
}

/// Fillers removed anywhere.
const FILLERS_ANYWHERE: [&str; 5] = ["就是说", "嗯", "呃", "唉", "呐"];
/// Fillers removed at the start.
const FILLERS_START: [&str; 10] = [
    "那个", "这个", "就是", "然后", "啊", "哎", "诶", "哦", "喔", "噢",
];
/// Fillers (sentence particles) removed at the end.
const FILLERS_END: [&str; 11] = [
    "啊", "呀", "哦", "啦", "嘛", "呢", "哈", "咯", "噢", "喔", "哇",
];

fn strip_fillers(text: &str) -> String {
    let mut s = text.to_string();
    for f in FILLERS_ANYWHERE {
        if s.contains(f) {
            s = s.replace(f, "");
        }
    }
    loop {
        let before = s.len();
        for f in FILLERS_START {
            if s.starts_with(f) && s.len() > f.len() {
                s = s[f.len()..].to_string();
            }
        }
        for f in FILLERS_END {
            if s.ends_with(f) && s.len() > f.len() {
                s.truncate(s.len() - f.len());
            }
        }
        if s.len() == before {
            break;
        }
    }
    s
}

/// One pass of the matching pipeline over already folded text.
fn pass(text: &str, dialect: Option<&str>) -> String {
    let s = strip_punctuation(text);
    let s = crate::lexicon::apply(&s, dialect);
    let s = strip_fillers(&s);
    crate::numbers::convert(&s)
}

fn known(dialect: &str) -> Option<&str> {
    crate::DIALECTS
        .iter()
        .skip(1)
        .find(|d| **d == dialect)
        .copied()
}

/// Normalises `text`, dialect unknown: a dialect's ambiguous lexicon entries (爱 → 要) are
/// applied only when the text carries that dialect's markers.
pub fn normalize(text: &str) -> Normalized {
    let pick = |t: &str| {
        let g = crate::dialect::identify_dialect(t);
        if g.marked {
            g.code
        } else {
            ""
        }
    };
    let mut n = normalize_with_dialect(text, pick(text));
    // Markers of another dialect may remain (a word the first lexicon does not know):
    // normalise again until the text is a fixed point, so that normalising is idempotent.
    for _ in 0..3 {
        let next = normalize_with_dialect(&n.text, pick(&n.text));
        if next.text == n.text {
            break;
        }
        n.text = next.text;
        n.pinyin = next.pinyin;
    }
    n
}

/// Normalises `text` spoken in `dialect` (a code of [`crate::DIALECTS`]; `cmn`, `""`,
/// `"auto"` or an unknown code means: only unambiguous dialect words are mapped).
pub fn normalize_with_dialect(text: &str, dialect: &str) -> Normalized {
    let d = known(dialect);
    let mut s = pass(&fold(text), d);
    // Repeat until nothing changes, so that normalising normalised text is a no-op.
    for _ in 0..4 {
        // Folding again too: zhconv may rewrite what the lexicon wrote (么子 → 幺子).
        let next = pass(&fold(&s), d);
        if next == s {
            break;
        }
        s = next;
    }
    let pinyin = to_pinyin(&s);
    Normalized {
        original: text.to_string(),
        text: s,
        pinyin,
    }
}

/// Tone-less pinyin, one entry per character (non-Han characters kept as they are).
pub fn to_pinyin(text: &str) -> Vec<String> {
    text.chars()
        .map(|c| match c.to_pinyin() {
            Some(p) => p.plain().to_string(),
            None => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn script_width_punctuation_and_fillers() {
        let n = normalize("嗯，那个，我想辦理社保卡啊！");
        assert_eq!(n.text, "我想办理社保卡");
        assert_eq!(n.original, "嗯，那个，我想辦理社保卡啊！");
        assert_eq!(
            normalize("电话１３８ １２３４ ５６７８").text,
            "电话13812345678"
        );
    }

    #[test]
    fn pinyin_is_toneless_one_per_char() {
        let n = normalize("办社保卡3号");
        assert_eq!(n.pinyin, vec!["ban", "she", "bao", "ka", "3", "hao"]);
    }

    #[test]
    fn dialect_words_map_to_mandarin() {
        assert_eq!(
            normalize_with_dialect("侬晓得伐", "wuu-sh").text,
            "你知道吗"
        );
        assert_eq!(
            normalize_with_dialect("點樣辦社保卡", "yue").text,
            "怎么办社保卡"
        );
        assert_eq!(normalize("阿拉姆妈要办敬老卡").text, "我们妈妈要办敬老卡");
        assert_eq!(
            normalize_with_dialect("咋个办低保", "cmn-sc").text,
            "怎么办低保"
        );
    }

    #[test]
    fn ambiguous_entries_need_a_known_dialect() {
        // Mandarin "love" stays; Hakka 爱 is "want".
        assert_eq!(normalize_with_dialect("我爱我家", "cmn").text, "我爱我家");
        assert_eq!(
            normalize_with_dialect("𠊎爱办社保卡", "hak").text,
            "我要办社保卡"
        );
        assert_eq!(normalize("𠊎爱办社保卡").text, "我要办社保卡");
    }

    #[test]
    fn mandarin_service_words_survive_every_lexicon() {
        let words = crate::data::services();
        let extra = [
            "切换到普通话",
            "无障碍窗口",
            "身份证几点能办",
            "我同意",
            "银行卡",
            "免费",
            "价格",
            "联系电话",
            "一切正常",
            "整理材料",
        ];
        for d in crate::DIALECTS {
            for w in words.iter().copied().chain(extra) {
                let n = normalize_with_dialect(w, d);
                // Numbers may become digits; nothing else changes.
                assert_eq!(n.text, crate::numbers::convert(w), "{w} in {d}");
            }
        }
    }

    proptest! {
        #[test]
        fn normalisation_is_idempotent_and_pinyin_matches(s in "[侬阿拉伐唔係冇喺嘅𠊎爱啥子咋个莫得倷哉欲毋阮一二三两十百千万幺洞零点号楼嗯啊那个,，。!？ abcXYZ0-9办社保卡]{0,24}") {
            let n = normalize(&s);
            prop_assert_eq!(n.pinyin.len(), n.text.chars().count());
            let again = normalize(&n.text);
            prop_assert_eq!(&again.text, &n.text);
            for d in crate::DIALECTS {
                let m = normalize_with_dialect(&s, d);
                prop_assert_eq!(m.pinyin.len(), m.text.chars().count());
                prop_assert_eq!(normalize_with_dialect(&m.text, d).text, m.text);
            }
        }

        #[test]
        fn normalisation_never_panics(s in "\\PC{0,40}") {
            let n = normalize(&s);
            prop_assert_eq!(n.pinyin.len(), n.text.chars().count());
        }
    }
}
