//! Rules that back the classifier: emergency keywords (in [`crate::emergency`]) and short
//! yes/no answers when the dialogue waits for one.

use crate::Intent;

/// Whether the normalised text names an emergency (strong words, not in the past; see
/// [`crate::emergency`]).
pub(crate) fn emergency(text: &str, pinyin: &[String]) -> bool {
    crate::emergency::emergency_cue(text, pinyin).certain()
}

/// Normalised forms of yes (after dialect mapping: 係呀 → 是, 要得 → 好的, 对额 → 对的).
const YES: &[&str] = &[
    // 有 answers a 有没有 question (现在有没有人有危险？)
    "有",
    "有的",
    "有啊",
    "有呀",
    "对",
    "对的",
    "是",
    "是的",
    "好",
    "好的",
    "行",
    "可以",
    "没错",
    "对对",
    "对对对",
    "确认",
    "同意",
    "没问题",
    "嗯",
    "嗯嗯",
    "中",
    "得",
    "ok",
    "yes",
    "正确",
    "就是",
    "是啊",
    "对了",
    "好了",
    "要得",
    "是我",
    // "要听…吗" / "要我再念一遍吗" are answered with the verb: 要, 要听, 听, 念
    "要",
    "要的",
    "要啊",
    "要呀",
    "要听",
    "听",
    "听的",
    "想听",
    "念",
    "念吧",
    "再念一遍",
    "好啊",
    "好呀",
    "好吧",
    "行啊",
    "行的",
    "可以的",
    "可以啊",
    "是呀",
    "嗯好",
    "嗯对",
    // consent, when the commitment is asked
    "我承诺",
    "我承诺同意",
    "承诺",
    "同意的",
    "我同意",
    "愿意",
    "我愿意",
    // Wu (好个 / 要个 / 对个 / 是个 / 可以个; 好额 / 对额 / 要额)
    "好个",
    "要个",
    "对个",
    "是个",
    "可以个",
    "好额",
    "对额",
    "要额",
    "好咯",
    // Cantonese (係 / 得 / 好 / 要; 冇問題 → 没问题)
    "係",
    "係呀",
    "係啊",
    "係嘅",
    "系",
    "系呀",
    "系啊",
    "系嘅",
    "得",
    "得呀",
    "得啦",
    "好呀",
    "要呀",
    // Min, Hakka, Southwest Mandarin
    "着",
    "是啦",
    "好勢",
    "好势",
    "做得",
    "要得嘛",
    "对头",
    "要得",
];
/// Normalised forms of no (勿对/唔係/毋着 → 不对/不是, 莫得 → 没有).
const NO: &[&str] = &[
    "不",
    "不对",
    "不是",
    "不要",
    "错了",
    "不行",
    "没有",
    "否",
    "不用",
    "不可以",
    "不同意",
    "错",
    "搞错了",
    "不对头",
    "no",
    "不是的",
    "不好",
    "不得行",
    "不了",
    "不用了",
    "不要了",
    "不听",
    "不听了",
    "不需要",
    "算了",
    "没必要",
    // Wu 覅 (= 不要), Cantonese 唔使 / 唔要 / 唔得 / 唔好 / 唔係, Min 毋免 / 毋是, Hakka 毋爱
    "覅",
    "覅了",
    "勿要",
    "唔使",
    "唔使喇",
    "唔要",
    "唔得",
    "唔好",
    "唔係",
    "唔系",
    "毋免",
    "免",
    "毋是",
    "毋爱",
    "莫得",
    "不要得",
];

/// A short yes/no answer, when the dialogue waits for one. `text` is normalised; `raw` is
/// the folded original (fillers such as 嗯 are still in it).
pub(crate) fn yes_no(text: &str, raw: &str) -> Option<Intent> {
    let raw: String = raw.chars().filter(|c| c.is_alphanumeric()).collect();
    if text.is_empty() && matches!(raw.as_str(), "嗯" | "嗯嗯" | "嗯呐") {
        return Some(Intent::ConfirmYes);
    }
    // the folded original as well: a dialect word the normaliser rewrote or dropped
    // (係, 得, 覅) is still a yes or a no
    let raw = raw.as_str();
    if NO.contains(&text)
        || NO.contains(&raw)
        || text.starts_with("不对")
        || text.starts_with("不是")
        || text.starts_with("错了")
    {
        return Some(Intent::ConfirmNo);
    }
    if YES.contains(&text) || (!raw.contains('不') && YES.contains(&raw)) {
        return Some(Intent::ConfirmYes);
    }
    // 对的没错 / 好的好的 / 是的是我: a yes word repeated or followed by another yes word.
    let short = text.chars().count() <= 6;
    if short && !text.contains('不') && !text.contains('没') {
        for y in ["对的", "是的", "好的", "没错", "对", "是", "好"] {
            if let Some(rest) = text.strip_prefix(y) {
                if rest.is_empty() || YES.contains(&rest) || rest.starts_with(y) {
                    return Some(Intent::ConfirmYes);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize;

    /// What `t`, said in answer to a yes/no question, reads as.
    fn answer(t: &str) -> Option<Intent> {
        let n = normalize(t);
        yes_no(&n.text, &crate::normalize::fold(&n.original))
    }

    #[test]
    fn natural_yes_and_no_words_answer_a_yes_no_question() {
        for t in [
            "要",
            "要听",
            "听",
            "嗯",
            "好",
            "好的",
            "行",
            "可以",
            "对",
            "是",
            "好个",
            "要个",
            "对个",
            "係",
            "得",
            "要呀",
            "我承诺",
            "我承诺，同意",
            "同意的",
            "要得",
        ] {
            assert_eq!(answer(t), Some(Intent::ConfirmYes), "{t}");
        }
        for t in [
            "不要",
            "不用",
            "不了",
            "覅",
            "唔使",
            "唔要",
            "不用了",
            "算了",
        ] {
            assert_eq!(answer(t), Some(Intent::ConfirmNo), "{t}");
        }
    }

    #[test]
    fn emergency_words_and_sounds() {
        for t in [
            "我家老人摔倒了起不来",
            "阿拉外婆跌倒了",
            "我家老人摔到了起不來",
            "着活了快来人",
            "著火了快來人",
            "我爸心脏不舒服快不行了",
            "我被人打了",
        ] {
            let n = normalize(t);
            assert!(emergency(&n.text, &n.pinyin), "{t}");
        }
        for t in ["卫生间想装防摔倒的扶手", "我想办社保卡", "快递运到没有"] {
            let n = normalize(t);
            assert!(!emergency(&n.text, &n.pinyin), "{t}");
        }
    }
}
