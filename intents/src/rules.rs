//! Rules that back the classifier: emergency keywords (characters and sound) and short
//! yes/no answers when the dialogue waits for one.

use crate::features::fuzzy;
use crate::Intent;

/// Emergency phrases, matched on normalised text (dialect forms are already Mandarin:
/// 跌倒/跌低/跋倒 → 摔倒, 起袂来 → 起不来, 火烧厝 → 房子着火 …).
const EMERGENCY_WORDS: &[&str] = &[
    "摔倒",
    "跌倒",
    "摔了一跤",
    "摔跤",
    "起不来",
    "站不起来",
    "爬不起来",
    "着火",
    "著火",
    "失火",
    "火灾",
    "冒烟",
    "救命",
    "救人",
    "晕倒",
    "晕过去",
    "晕了",
    "昏倒",
    "昏过去",
    "昏迷",
    "叫不醒",
    "打人",
    "砍人",
    "拿刀",
    "喘不上气",
    "喘不过气",
    "呼吸困难",
    "出血",
    "流血",
    "想不开",
    "不想活",
    "自杀",
    "跳楼",
    "轻生",
    "救护车",
    "报警",
    "煤气泄漏",
    "燃气泄漏",
    "心脏病",
    "胸口疼",
    "中风",
    "触电",
    "溺水",
    "掉水里",
    "被困",
    "困在电梯",
    "关在电梯",
    "烫伤",
    "摔伤",
    "撞伤",
    "火燭",
    "火烛",
    "说不出话",
    "说不了话",
    "快不行了",
    "被人打",
    "好多血",
    "走丢了",
    "不省人事",
    "打120",
    "打110",
    "打119",
    "叫120",
];

/// The same, by sound (fuzzy tone-less pinyin), for garbled recogniser output
/// (摔到了 → shuai dao, 着活了 → zhao huo). Only phrases whose sound is rarely anything else.
const EMERGENCY_SOUNDS: &[&[&str]] = &[
    &["shuai", "dao"],
    &["die", "dao"],
    &["qi", "bu", "lai"],
    &["zhao", "huo", "le"],
    &["zhe", "huo", "le"],
    &["shi", "huo", "le"],
    &["jiu", "ming"],
    &["yun", "dao", "le"],
    &["hun", "dao"],
    &["yun", "guo", "qu"],
    &["chuan", "bu", "shang", "qi"],
    &["chuan", "bu", "guo", "qi"],
    &["liu", "xue"],
    &["xiang", "bu", "kai"],
    &["bu", "xiang", "huo", "le"],
    &["jiu", "hu", "che"],
];

/// Words before a hazard that make it prevention, not an emergency (防摔倒扶手).
const PREVENTION: &[&str] = &["防", "预防", "避免", "以防", "怕", "演练", "培训", "知识"];

/// Whether the normalised text names an emergency.
pub(crate) fn emergency(text: &str, pinyin: &[String]) -> bool {
    let prevention = PREVENTION.iter().any(|p| text.contains(p));
    if prevention {
        return false;
    }
    if EMERGENCY_WORDS.iter().any(|w| text.contains(w)) {
        return true;
    }
    let py: Vec<String> = pinyin.iter().map(|p| fuzzy(p)).collect();
    EMERGENCY_SOUNDS.iter().any(|pat| {
        let pat: Vec<String> = pat.iter().map(|p| fuzzy(p)).collect();
        py.windows(pat.len()).any(|w| w == pat.as_slice())
    })
}

/// Normalised forms of yes (after dialect mapping: 係呀 → 是, 要得 → 好的, 对额 → 对的).
const YES: &[&str] = &[
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
            let n = normalize(t);
            let raw = crate::normalize::fold(&n.original);
            assert_eq!(yes_no(&n.text, &raw), Some(Intent::ConfirmYes), "{t}");
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
            let n = normalize(t);
            let raw = crate::normalize::fold(&n.original);
            assert_eq!(yes_no(&n.text, &raw), Some(Intent::ConfirmNo), "{t}");
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
