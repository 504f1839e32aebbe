//! End of turn from what was said: once the early final's text is ready during a pause,
//! a [`TurnJudge`] reads it and tells [`crate::pipeline::Hearing`] to end the turn at
//! once (the words make a complete request), to wait longer (the resident stopped
//! mid-sentence: 我要办那个…, 我的身份证号是 3205…), or to keep the configured
//! hang-over.
//!
//! The judgement is text only: sentence-final particles and question words, words that
//! cannot end a sentence (那个, 就是, 的, 和, 我要办, …), digit counts against what the
//! dialogue awaits ([`Expect`]), and the intent classifier's confidence. No model of
//! its own, so it is unit-tested without one.

use std::sync::{Arc, OnceLock};

use xiaoan_intents::{Awaiting, Context, EntityKind, Intent, Understander};

/// Longest hang-over when the words heard so far are clearly incomplete, ms: long
/// enough for an older resident to find the rest of an ID number, short enough that a
/// resident who did stop is not left waiting long.
pub const MAX_HANGOVER_MS: u32 = 1500;

/// Hang-over when the words give no clear sign either way (often a misheard word:
/// 老年人优待卡和 heard as …卡合), ms: longer than the usual 600 ms, since bench turns
/// showed residents' mid-sentence pauses of 0.6–0.9 s cut there; the judged-complete
/// turns, most of them, do not wait for it.
pub const UNSURE_HANGOVER_MS: u32 = 900;

/// Intent confidence at or above which a request that names what it wants counts as
/// complete.
pub const CONFIDENT: f32 = 0.8;

/// What the dialogue waits for, as the end of a turn sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Expect {
    /// Anything (a request, a question).
    #[default]
    Free,
    /// A yes or a no.
    YesNo,
    /// A number of this many digits (an ID number: 18, a mobile number: 11).
    Digits(usize),
    /// A person's name (我叫王小明, 王小明).
    Name,
}

impl Expect {
    /// From what the dialogue awaits.
    pub fn from_awaiting(a: &Awaiting) -> Expect {
        match a {
            Awaiting::Nothing => Expect::Free,
            Awaiting::YesNo => Expect::YesNo,
            Awaiting::Slot(EntityKind::IdNumber) => Expect::Digits(18),
            Awaiting::Slot(EntityKind::Phone) => Expect::Digits(11),
            Awaiting::Slot(EntityKind::PersonName) => Expect::Name,
            Awaiting::Slot(_) => Expect::Free,
        }
    }

    /// From a reply's `awaiting` label ([`crate::dialogue::awaiting_label`]: `nothing`,
    /// `yes_no`, `slot:id_number`, …); an unknown label expects anything.
    pub fn from_label(label: &str) -> Expect {
        match label {
            "yes_no" => Expect::YesNo,
            "slot:id_number" => Expect::Digits(18),
            "slot:phone" => Expect::Digits(11),
            "slot:person_name" => Expect::Name,
            _ => Expect::Free,
        }
    }
}

/// The judgement on the words of a paused utterance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnCall {
    /// A complete turn: end it now.
    Complete,
    /// Clearly unfinished: wait up to [`MAX_HANGOVER_MS`] for the rest.
    Incomplete,
    /// Cannot tell: [`UNSURE_HANGOVER_MS`] (or the configured hang-over if longer).
    Unsure,
}

/// Judges whether the words heard so far end a turn.
pub trait TurnJudge: Send + Sync {
    /// The call on `text` (the early final's text) when `expect` is awaited.
    fn judge(&self, text: &str, expect: Expect) -> TurnCall;
}

/// The text rules, with the intent classifier's confidence when one is given.
#[derive(Clone, Default)]
pub struct TextJudge {
    understander: Option<Arc<Understander>>,
}

impl std::fmt::Debug for TextJudge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextJudge")
            .field("intent", &self.understander.is_some())
            .finish()
    }
}

/// Endings that cannot close a request: fillers, connectives, a verb or possessive
/// still waiting for its object, a number announced but not said.
const UNFINISHED_ENDINGS: &[&str] = &[
    "那个",
    "这个",
    "就是",
    "然后",
    "还有",
    "而且",
    "或者",
    "还是",
    "因为",
    "所以",
    "但是",
    "如果",
    "要是",
    "的话",
    "的",
    "和",
    "跟",
    "与",
    "及",
    "或",
    "把",
    "给",
    "从",
    "我要办",
    "我想办",
    "我想问",
    "请问",
    "我要",
    "我想",
    "帮我",
    "嗯",
    "呃",
    "额",
    "那",
    "这",
];

/// Verbs and nouns still waiting for what follows (我的身份证号是…, 我要开…), unless a
/// question word shows the question was asked (在哪里办).
const OPEN_ENDINGS: &[&str] = &[
    "是", "要", "想", "办", "问", "开", "对", "在", "叫", "号码", "号", "办理", "预约", "投诉",
    "申请", "咨询", "查", "一个", "一下",
];

/// Particles that close a sentence or a question.
const FINAL_PARTICLES: &[char] = &['吗', '呢', '吧', '了', '呀', '啦', '嘛', '么'];

/// Question words: a question that has one and no unfinished ending is complete.
const QUESTION_WORDS: &[&str] = &[
    "怎么办",
    "咋办",
    "找谁",
    "在哪",
    "什么",
    "怎么",
    "哪里",
    "哪儿",
    "哪个",
    "几点",
    "几号",
    "多少",
    "多久",
    "能不能",
    "可不可以",
    "是不是",
    "有没有",
    "要不要",
    "为什么",
];

/// Short answers to a yes/no question.
const YES_NO: &[&str] = &[
    "是",
    "是的",
    "对",
    "对的",
    "好",
    "好的",
    "行",
    "可以",
    "没错",
    "不是",
    "不对",
    "不用",
    "不要",
    "不行",
    "没有",
    "算了",
    "确认",
    "不",
    "要",
    "同意",
    "不同意",
    "没问题",
    "没错",
];

/// Longest answer to a yes/no question read as a yes or a no followed by a few words
/// (对，没错 / 好的谢谢), in characters.
const SHORT_ANSWER: usize = 6;

/// Longest answer with no digit that, while digits are awaited, is read as the number's
/// start misheard, in characters.
const MISHEARD_START: usize = 4;

/// Words that announce a number, with the digits it has.
const NUMBER_CUES: &[(&str, usize)] = &[("身份", 18), ("证件号", 18), ("手机", 11), ("电话", 11)];

/// A number begun after 是 or 号 (…号码是3205, the cue itself misheard) that is still
/// shorter than any number asked for is waited for.
const SHORTEST_NUMBER: usize = 11;

fn is_punct(c: char) -> bool {
    c.is_whitespace() || c.is_ascii_punctuation() || "，。？！、；：…“”‘’（）—·".contains(c)
}

/// The words without punctuation or spaces.
fn bare(text: &str) -> String {
    text.chars().filter(|c| !is_punct(*c)).collect()
}

fn digit_value(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c) || "零〇一二三四五六七八九幺两".contains(c)
}

/// Digits in the run at the end of `text` (X counts as the ID's check digit).
fn trailing_digits(text: &str) -> usize {
    let chars: Vec<char> = text.chars().collect();
    let mut n = 0;
    for (i, c) in chars.iter().rev().enumerate() {
        if digit_value(*c) || (i == 0 && matches!(c, 'X' | 'x')) {
            n += 1;
        } else {
            break;
        }
    }
    n
}

/// All digits in `text`.
fn digits(text: &str) -> usize {
    text.chars()
        .filter(|c| digit_value(*c) || matches!(c, 'X' | 'x'))
        .count()
}

impl TextJudge {
    /// The text rules alone.
    pub fn rules_only() -> TextJudge {
        TextJudge { understander: None }
    }

    /// The text rules and `understander`'s intent confidence.
    pub fn with_understander(understander: Arc<Understander>) -> TextJudge {
        TextJudge {
            understander: Some(understander),
        }
    }

    /// The text rules and the built-in intent model (loaded once per process; the rules
    /// alone if it fails to load).
    pub fn builtin() -> TextJudge {
        static U: OnceLock<Option<Arc<Understander>>> = OnceLock::new();
        let u = U.get_or_init(|| Understander::builtin().ok().map(Arc::new));
        TextJudge {
            understander: u.clone(),
        }
    }

    /// A confident reading of a request (not a mere greeting, filler or out of scope).
    fn confident(&self, text: &str) -> bool {
        let Some(u) = &self.understander else {
            return false;
        };
        let r = u.understand_on(
            text,
            &Context::default(),
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
        );
        !r.intent.unsure
            && r.intent.confidence >= CONFIDENT
            && !matches!(r.intent.intent, Intent::OutOfScope | Intent::Greeting)
    }
}

impl TurnJudge for TextJudge {
    fn judge(&self, text: &str, expect: Expect) -> TurnCall {
        let w = bare(text);
        if w.is_empty() {
            return TurnCall::Unsure;
        }
        // only Latin letters in a Mandarin turn: the recogniser's guess at a filler or
        // a breath (嗯 heard as "Thank you"), not the request
        if w.chars().all(|c| c.is_ascii_alphabetic()) {
            return TurnCall::Incomplete;
        }
        let tail = trailing_digits(&w);
        match expect {
            Expect::Digits(n) => {
                let d = digits(&w);
                if d >= n {
                    return TurnCall::Complete;
                }
                if d > 0 {
                    return TurnCall::Incomplete;
                }
                // a few words with no digit and no refusal while digits are awaited: most
                // likely the number's start misheard (三二零五零二 as 撒入屋里)
                if w.chars().count() <= MISHEARD_START
                    && !w.contains(['不', '没'])
                    && !QUESTION_WORDS.iter().any(|q| w.contains(q))
                {
                    return TurnCall::Incomplete;
                }
            }
            Expect::YesNo => {
                if YES_NO.contains(&w.as_str())
                    || (w.chars().count() <= SHORT_ANSWER
                        && (YES_NO
                            .iter()
                            .any(|y| y.chars().count() >= 2 && w.starts_with(y))
                            || w.starts_with(['对', '好', '行']))
                        && !UNFINISHED_ENDINGS.iter().any(|e| w.ends_with(e)))
                {
                    return TurnCall::Complete;
                }
            }
            Expect::Name => {
                // 我叫 / 我姓 / 是 waits for the name; two characters or more after it is one
                let name = ["我叫", "我姓", "叫", "姓", "我是", "是"]
                    .iter()
                    .find_map(|p| w.strip_prefix(p))
                    .unwrap_or(&w);
                if name.chars().count() >= 2
                    && !UNFINISHED_ENDINGS.iter().any(|e| name.ends_with(e))
                    && !OPEN_ENDINGS.iter().any(|e| name.ends_with(e))
                {
                    return TurnCall::Complete;
                }
            }
            Expect::Free => {}
        }
        // a number announced and only begun: 我的身份证号是3205…
        if tail > 0 {
            if let Some((_, n)) = NUMBER_CUES.iter().find(|(cue, _)| w.contains(cue)) {
                return if tail >= *n {
                    TurnCall::Complete
                } else {
                    TurnCall::Incomplete
                };
            }
        }
        if tail > 0 && tail < SHORTEST_NUMBER {
            let before = w.chars().rev().nth(tail);
            if matches!(before, Some('是' | '号')) {
                return TurnCall::Incomplete;
            }
        }
        let last = w.chars().last().unwrap_or(' ');
        let chars = w.chars().count();
        // a question word or particle at the very end closes it (怎么办 ends in 办)
        if chars >= 3
            && (FINAL_PARTICLES.contains(&last) || QUESTION_WORDS.iter().any(|q| w.ends_with(q)))
        {
            return TurnCall::Complete;
        }
        if tail == 0 && UNFINISHED_ENDINGS.iter().any(|e| w.ends_with(e)) {
            return TurnCall::Incomplete;
        }
        if text.trim_end().ends_with(['…', '，', ',']) || text.trim_end().ends_with("...") {
            return TurnCall::Incomplete;
        }
        if chars >= 3 && QUESTION_WORDS.iter().any(|q| w.contains(q)) {
            return TurnCall::Complete;
        }
        if tail == 0 && OPEN_ENDINGS.iter().any(|e| w.ends_with(e)) {
            return TurnCall::Incomplete;
        }
        // a confident reading alone (再说一遍, 我想办理社保卡): the open endings above
        // already kept 我想预约 waiting for what
        if chars >= 4 && self.confident(&w) {
            return TurnCall::Complete;
        }
        TurnCall::Unsure
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(text: &str, expect: Expect) -> TurnCall {
        TextJudge::builtin().judge(text, expect)
    }

    #[test]
    fn a_resident_stopped_mid_sentence_is_waited_for() {
        for t in [
            "我要办那个",
            "我要办那个，",
            "我的身份证号是",
            "我的身份证号是3205",
            "我的身份证号是三二零五",
            "我想问一下就是",
            "我家的",
            "社保卡和",
            "我想办",
            "嗯",
            "我的手机号是138",
            "我的身份正好是3205",
            "号码是一三八",
            "Thank you",
            "我要开一个",
            "我想预约",
            "我想问一下",
        ] {
            assert_eq!(call(t, Expect::Free), TurnCall::Incomplete, "{t}");
        }
    }

    #[test]
    fn a_finished_question_or_request_ends_the_turn() {
        for t in [
            "社保卡丢了怎么办？",
            "居住证需要带什么材料",
            "办居住证明要多久",
            "老年人优待卡在哪里办",
            "你们几点下班",
            "我的身份证号是320502198805231234",
        ] {
            assert_eq!(call(t, Expect::Free), TurnCall::Complete, "{t}");
        }
    }

    #[test]
    fn an_awaited_id_number_waits_for_all_eighteen_digits() {
        let id = Expect::Digits(18);
        assert_eq!(call("3205021988", id), TurnCall::Incomplete);
        assert_eq!(call("三二零五零二", id), TurnCall::Incomplete);
        assert_eq!(call("32050219880523123X", id), TurnCall::Complete);
        // words with no digits are judged as words
        assert_eq!(call("我忘了带身份证了", id), TurnCall::Complete);
        assert_eq!(call("我不知道", id), TurnCall::Unsure);
        // a misheard start of the number is waited for; with nothing awaited it is not
        assert_eq!(call("撒入屋里", id), TurnCall::Incomplete);
        assert_eq!(call("撒入屋里", Expect::Free), TurnCall::Unsure);
    }

    #[test]
    fn a_short_answer_to_a_yes_no_question_ends_the_turn() {
        for t in [
            "是的",
            "对",
            "不是。",
            "好的",
            "对，没错。",
            "同意",
            "好的谢谢",
        ] {
            assert_eq!(call(t, Expect::YesNo), TurnCall::Complete, "{t}");
        }
        // the same word, with nothing awaited, is no sentence
        assert_eq!(call("是", Expect::Free), TurnCall::Incomplete);
    }

    #[test]
    fn an_asked_name_ends_on_the_name_and_waits_after_wo_jiao() {
        assert_eq!(call("我叫王小明", Expect::Name), TurnCall::Complete);
        assert_eq!(call("王小明", Expect::Name), TurnCall::Complete);
        assert_eq!(call("我叫", Expect::Name), TurnCall::Incomplete);
        assert_eq!(call("我姓王", Expect::Free), TurnCall::Unsure);
        assert_eq!(Expect::from_label("slot:person_name"), Expect::Name);
    }

    #[test]
    fn nothing_heard_or_no_clear_sign_keeps_the_configured_hang_over() {
        assert_eq!(call("", Expect::Free), TurnCall::Unsure);
        assert_eq!(call("。", Expect::Free), TurnCall::Unsure);
        assert_eq!(
            TextJudge::rules_only().judge("我想办理社保卡", Expect::Free),
            TurnCall::Unsure
        );
    }

    #[test]
    fn a_confident_intent_completes_a_request_without_a_question_word() {
        // 我想办理社保卡 has no particle or question word: the classifier's confidence
        // decides, and it reads a service request
        let j = TextJudge::builtin();
        assert!(j.understander.is_some(), "the built-in intent model loads");
        assert_eq!(j.judge("我想办理社保卡", Expect::Free), TurnCall::Complete);
    }

    #[test]
    fn expectations_follow_the_dialogue() {
        assert_eq!(Expect::from_label("slot:id_number"), Expect::Digits(18));
        assert_eq!(Expect::from_label("yes_no"), Expect::YesNo);
        assert_eq!(Expect::from_label("nothing"), Expect::Free);
        assert_eq!(
            Expect::from_awaiting(&Awaiting::Slot(EntityKind::Phone)),
            Expect::Digits(11)
        );
        assert_eq!(
            crate::dialogue::awaiting_label(&Awaiting::Slot(EntityKind::IdNumber)),
            "slot:id_number"
        );
    }
}
