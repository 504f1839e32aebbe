//! What the agent says back, and the eyes-free controls that act on speech itself.

use serde::Serialize;
use xiaoan_audio::Earcon;

/// One reply of the agent: what is spoken (every visible text has this spoken form),
/// the earcon that precedes it, and what the dialogue now waits for.
#[derive(Clone, Debug, Serialize)]
pub struct Reply {
    /// The words spoken to the resident (short, spoken-style Simplified Chinese).
    pub text: String,
    /// Earcon played before the words, when earcons are on.
    #[serde(skip)]
    pub earcon: Option<Earcon>,
    /// The flow the session is in after this turn (`idle`, `service`, `declaration`, ...).
    pub flow: String,
    /// What the dialogue waits for: `nothing`, `yes_no`, `slot:<field>`, `choice`.
    pub awaiting: String,
    /// A receipt or case number when this turn filed something.
    pub receipt: Option<String>,
    /// The session ends after this reply.
    pub end_session: bool,
}

impl Reply {
    /// A reply that waits for nothing in particular.
    pub fn say(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            earcon: None,
            flow: "idle".into(),
            awaiting: "nothing".into(),
            receipt: None,
            end_session: false,
        }
    }

    /// Set the earcon.
    pub fn with_earcon(mut self, e: Earcon) -> Reply {
        self.earcon = Some(e);
        self
    }
}

/// Controls of speech itself that residents use eyes-free. They are not intents of the
/// taxonomy (the taxonomy is the public contract), so they are matched on the normalised
/// text before intent classification, with short fixed phrases only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// 大声一点
    Louder,
    /// 小声一点
    Quieter,
    /// 我能说什么 / 怎么用
    Help,
    /// 等一下 / 让我想想
    MoreTime,
    /// 继续 / 接着说: after "别说了", back to the question pending
    Resume,
}

const LOUDER: &[&str] = &[
    "大声",
    "大点声",
    "响一点",
    "响点",
    "听不清",
    "听唔清",
    "大聲",
];
const QUIETER: &[&str] = &["小声", "小点声", "轻一点", "轻点", "太吵了", "细声", "小聲"];
const HELP: &[&str] = &[
    "我能说什么",
    "我可以说什么",
    "能说什么",
    "怎么用",
    "你能做什么",
    "你会做什么",
    "你能干什么",
    "有什么功能",
    "帮助",
    "我可以讲啥",
];
const MORE_TIME: &[&str] = &[
    "等一下",
    "等一等",
    "等等",
    "稍等",
    "让我想想",
    "我想想",
    "等阵",
    "等一阵",
    "慢慢来",
    "等一歇",
];

const RESUME: &[&str] = &[
    "继续",
    "接着说",
    "接着来",
    "往下说",
    "接着问",
    "继续吧",
    "接落去",
];

/// Longest utterance taken as a control phrase: a control is said on its own
/// ("大声一点", "我能说什么"); "希望他们晚上小声点" is an answer, not a control.
const CONTROL_MAX_CHARS: usize = 6;

/// Match a control phrase; `text` is the normalised text.
pub fn control(text: &str) -> Option<Control> {
    if text.chars().count() > CONTROL_MAX_CHARS {
        return None;
    }
    let has = |list: &[&str]| list.iter().any(|p| text.contains(p));
    if has(LOUDER) {
        Some(Control::Louder)
    } else if has(QUIETER) {
        Some(Control::Quieter)
    } else if has(HELP) {
        Some(Control::Help)
    } else if has(MORE_TIME) {
        Some(Control::MoreTime)
    } else if has(RESUME) {
        Some(Control::Resume)
    } else {
        None
    }
}

/// Read a number (receipt, ID, phone) digit by digit in groups, the way staff read them
/// aloud: "2026 1129 0017" becomes "二零二六，一一二九，零零一七". 1 is read 幺 in phone
/// and ID numbers, as is usual when reading digits aloud.
pub fn digits_for_ear(number: &str, group: usize) -> String {
    let spoken: Vec<&str> = number
        .chars()
        .filter_map(|c| match c {
            '0' => Some("零"),
            '1' => Some("幺"),
            '2' => Some("二"),
            '3' => Some("三"),
            '4' => Some("四"),
            '5' => Some("五"),
            '6' => Some("六"),
            '7' => Some("七"),
            '8' => Some("八"),
            '9' => Some("九"),
            'X' | 'x' => Some("叉"),
            _ => None,
        })
        .collect();
    spoken
        .chunks(group.max(1))
        .map(|g| g.concat())
        .collect::<Vec<_>>()
        .join("，")
}

/// Read a record number (receipt, case, ticket, appointment) the way people write one
/// down: digit by digit in groups of three, three and four for the ten-digit numbers
/// ("2612050001" → "二六幺，二零五，零零零幺"), groups of four otherwise.
pub fn number_for_ear(number: &str) -> String {
    let digits: String = number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    if digits.len() != 10 {
        return digits_for_ear(&digits, 4);
    }
    [&digits[..3], &digits[3..6], &digits[6..]]
        .iter()
        .map(|g| digits_for_ear(g, 4))
        .collect::<Vec<_>>()
        .join("，")
}

/// A number said twice, with what it is for: "居住登记的回执号是二六幺，二零五，
/// 零零零幺。我再念一遍：二六幺，二零五，零零零幺。"
pub fn number_twice(what: &str, number: &str) -> String {
    let n = number_for_ear(number);
    format!("{what}是{n}。我再念一遍：{n}。")
}

/// Split a reply into short sentences, so the first is spoken while the rest are being
/// synthesised.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        cur.push(c);
        if matches!(c, '。' | '？' | '！' | '；' | '?' | '!') {
            let s = cur.trim().to_string();
            if !s.is_empty() {
                out.push(s);
            }
            cur.clear();
        }
    }
    let s = cur.trim().to_string();
    if !s.is_empty() {
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped_for_the_ear() {
        assert_eq!(
            digits_for_ear("13812345678", 4),
            "幺三八幺，二三四五，六七八"
        );
        assert_eq!(digits_for_ear("2026-0017", 4), "二零二六，零零幺七");
        assert_eq!(
            digits_for_ear("11010519491231002X", 6),
            "幺幺零幺零五，幺九四九幺二，三幺零零二叉"
        );
    }

    #[test]
    fn controls_are_recognised_only_when_said_alone() {
        assert_eq!(control("大声一点"), Some(Control::Louder));
        assert_eq!(control("小声点"), Some(Control::Quieter));
        assert_eq!(control("我能说什么"), Some(Control::Help));
        assert_eq!(control("等一下"), Some(Control::MoreTime));
        assert_eq!(control("楼上邻居半夜太吵了我想找人调解"), None);
        assert_eq!(control("社保卡怎么办"), None);
    }

    #[test]
    fn record_numbers_are_grouped_the_way_people_write_them_down() {
        assert_eq!(number_for_ear("2612050001"), "二六幺，二零五，零零零幺");
        let twice = number_twice("回执号", "2612050001");
        assert_eq!(
            twice.matches("二六幺，二零五，零零零幺").count(),
            2,
            "{twice}"
        );
    }

    #[test]
    fn sentences_split_on_chinese_punctuation() {
        let s = sentences("您好。要听材料吗？好的");
        assert_eq!(s, vec!["您好。", "要听材料吗？", "好的"]);
    }
}
