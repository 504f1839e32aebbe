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
    /// The answer to a flow's question in words: a form's field (what the certificate
    /// is for, an address, a date), the form wanted, where an emergency is.
    Answer,
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

    /// For a turn: what the dialogue awaits, and whether a flow's question is being
    /// answered (`answering`: a form collects a field, an emergency asks where).
    /// Numbers, names and yes/no keep their own rules; any other awaited answer is
    /// [`Expect::Answer`].
    pub fn for_turn(a: &Awaiting, answering: bool) -> Expect {
        match Expect::from_awaiting(a) {
            Expect::Free if answering => Expect::Answer,
            e => e,
        }
    }
}

impl std::fmt::Display for Expect {
    /// As the benches print it: `free`, `yes/no`, `18 digits`, `name`, `answer`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Free => f.write_str("free"),
            Expect::YesNo => f.write_str("yes/no"),
            Expect::Digits(n) => write!(f, "{n} digits"),
            Expect::Name => f.write_str("name"),
            Expect::Answer => f.write_str("answer"),
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

impl std::fmt::Display for TurnCall {
    /// `complete`, `incomplete`, `unsure`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TurnCall::Complete => "complete",
            TurnCall::Incomplete => "incomplete",
            TurnCall::Unsure => "unsure",
        })
    }
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

/// Openings that announce a question still to be asked (我想问一下…, 请问…): with
/// fewer than [`ASKED`] characters of the question after them, the turn is unfinished.
const ASK_OPENINGS: &[&str] = &[
    "我想问一下",
    "我想问问",
    "我想咨询一下",
    "我想咨询",
    "想问一下",
    "问一下",
    "咨询一下",
    "帮我查一下",
    "请问一下",
    "我想问",
    "请问",
];

/// Characters of a question after an opening that make it asked (社保卡 is 3).
const ASKED: usize = 3;

/// Words that name a number the resident is about to say (我的身份证号…, 手机号码…).
/// Heard with no digit and no problem with the number itself, the number is still to
/// come; the recogniser often mishears what follows the pause's edge (身份证号是 as
/// 身份正好熟), so the cue's first characters are enough.
const NUMBER_NAMES: &[&str] = &["身份", "证件号", "手机", "电话", "号码"];

/// Words that make a sentence about the number or the card, not its announcement
/// (身份证丢了, 我想换手机号, 我要办身份证).
const ABOUT_THE_NUMBER: &[char] = &[
    '忘', '丢', '没', '不', '补', '办', '换', '改', '查', '打', '找', '坏', '掉', '修', '充', '过',
    '到', '用', '带', '拿', '交',
];

/// Shortest answer to a flow's question that ends a turn by itself, in characters.
const ANSWER: usize = 3;

/// Longest greeting alone that ends a turn (你好, 小安你好, 早上好啊), in characters.
const GREETING_ALONE: usize = 6;

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

/// Whisper's stock phrases for sound it cannot place (learned from subtitles): alone,
/// they are a filler, a breath or noise as often as words.
const STOCK_PHRASES: &[&str] = &["谢谢", "谢谢观看", "谢谢大家", "谢谢收看", "字幕"];

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

    /// The intent of a confident reading (`None`: no model, or not confident).
    fn confident(&self, text: &str) -> Option<Intent> {
        let u = self.understander.as_ref()?;
        let r = u.understand_on(
            text,
            &Context::default(),
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
        );
        (!r.intent.unsure && r.intent.confidence >= CONFIDENT).then_some(r.intent.intent)
    }
}

/// Made only of yes/no words, one of them of two characters or more (没错, 对没错,
/// 好的好的), longest words first.
fn only_yes_no_words(w: &str) -> bool {
    let mut rest = w;
    let mut long = false;
    while !rest.is_empty() {
        let Some(y) = YES_NO
            .iter()
            .filter(|y| rest.starts_with(*y))
            .max_by_key(|y| y.len())
        else {
            return false;
        };
        long |= y.chars().count() >= 2;
        rest = &rest[y.len()..];
    }
    long
}

/// The last character sounds like a word that links to what follows (和, 跟, 的) and
/// may be that word misheard at the pause's edge (老年人优待卡和 heard as …卡合).
fn sounds_like_a_link(w: &str) -> bool {
    let Some(last) = w.chars().last() else {
        return false;
    };
    let sound = xiaoan_intents::to_pinyin(&last.to_string());
    matches!(sound.first().map(String::as_str), Some("he" | "gen" | "de"))
}

/// An opening that announces a question (我想问一下) with the question not asked yet:
/// fewer than [`ASKED`] characters after it, and no question word among them.
fn question_still_to_come(w: &str) -> bool {
    let Some(rest) = ASK_OPENINGS.iter().find_map(|o| w.strip_prefix(o)) else {
        return false;
    };
    rest.chars().count() < ASKED && !QUESTION_WORDS.iter().any(|q| rest.contains(q))
}

/// A number named (我的身份证号, 手机号码是) with none of its digits said yet, and
/// nothing said about the number or the card itself.
fn number_still_to_come(w: &str) -> bool {
    NUMBER_NAMES.iter().any(|n| w.contains(n))
        && digits(w) == 0
        && !w.contains(ABOUT_THE_NUMBER)
        && !QUESTION_WORDS.iter().any(|q| w.contains(q))
}

/// Ends on a word that waits for more (那个, 我要办, 是), `号` after a digit (五号, a
/// date or a building) excepted.
fn open_ended(w: &str) -> bool {
    if UNFINISHED_ENDINGS.iter().any(|e| w.ends_with(e)) {
        return true;
    }
    let date_or_building = w.ends_with('号')
        && w.chars()
            .rev()
            .nth(1)
            .is_some_and(|c| digit_value(c) || c == '十');
    !date_or_building && OPEN_ENDINGS.iter().any(|e| w.ends_with(e))
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
        // what Whisper writes for a filler, a breath or noise it cannot place (its
        // subtitle-trained stock phrases: 嗯 heard as 谢谢) is no turn by itself unless a
        // yes or no was asked for (不用了，谢谢): wait as for a filler
        if expect != Expect::YesNo && STOCK_PHRASES.contains(&w.as_str()) {
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
                // no name starts with a pronoun or 这/那 (我叫 heard as 我家)
                if name.chars().count() >= 2
                    && !name.starts_with(['我', '你', '他', '她', '这', '那'])
                    && !UNFINISHED_ENDINGS.iter().any(|e| name.ends_with(e))
                    && !OPEN_ENDINGS.iter().any(|e| name.ends_with(e))
                {
                    return TurnCall::Complete;
                }
            }
            Expect::Answer => {
                // the answer to the question asked (孩子上学用, 3号楼502, 明天上午):
                // complete unless it stops on a word that waits for more; two
                // characters (孩子…) may be its start, and go by the rules below
                if w.chars().count() >= ANSWER
                    && !open_ended(&w)
                    && !number_still_to_come(&w)
                    && !text.trim_end().ends_with(['…', '，', ','])
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
        // a yes or a no said whole (没错, 对没错, 同意) closes a turn whatever was asked;
        // a lone 是 or 对 may begin a sentence
        if only_yes_no_words(&w) {
            return TurnCall::Complete;
        }
        // 我想问一下 … : the question itself is still to come
        if question_still_to_come(&w) {
            return TurnCall::Incomplete;
        }
        let last = w.chars().last().unwrap_or(' ');
        let chars = w.chars().count();
        // a question word or particle at the very end closes it (怎么办 ends in 办)
        if chars >= 3
            && (FINAL_PARTICLES.contains(&last) || QUESTION_WORDS.iter().any(|q| w.ends_with(q)))
        {
            return TurnCall::Complete;
        }
        if tail == 0
            && (UNFINISHED_ENDINGS.iter().any(|e| w.ends_with(e)) || sounds_like_a_link(&w))
        {
            return TurnCall::Incomplete;
        }
        if text.trim_end().ends_with(['…', '，', ',']) || text.trim_end().ends_with("...") {
            return TurnCall::Incomplete;
        }
        if chars >= 3 && QUESTION_WORDS.iter().any(|q| w.contains(q)) {
            return TurnCall::Complete;
        }
        // 我的身份证号 … : the number is still to come
        if number_still_to_come(&w) {
            return TurnCall::Incomplete;
        }
        if tail == 0 && open_ended(&w) {
            return TurnCall::Incomplete;
        }
        // a confident reading alone (再说一遍, 我想办理社保卡): the open endings above
        // already kept 我想预约 waiting for what. A greeting is complete only alone
        // (小安你好 waits for its answer; 你好我想问 is a request begun)
        if chars >= 4 {
            match self.confident(&w) {
                Some(Intent::OutOfScope) | None => {}
                Some(Intent::Greeting) if chars > GREETING_ALONE => {}
                Some(_) => return TurnCall::Complete,
            }
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
            // 嗯 written as Whisper's stock phrase
            "谢谢",
            "谢谢。",
            "我要开一个",
            "我想预约",
            "我想问一下",
            // the pause's edge misheard: the question or the number is still to come
            "我想问一下就熟。",
            "我的身份正好熟",
            "我的身份证号",
            "你好，我想问一下",
            "老年人优待卡合",
        ] {
            assert_eq!(call(t, Expect::Free), TurnCall::Incomplete, "{t}");
        }
    }

    #[test]
    fn a_sentence_about_the_card_or_a_short_question_is_not_an_announced_number() {
        for t in [
            "我的身份证丢了",
            "请问在哪",
            "手机号码是多少",
            "我身份证忘带了",
        ] {
            assert_eq!(call(t, Expect::Free), TurnCall::Complete, "{t}");
        }
    }

    #[test]
    fn an_answer_to_a_forms_question_ends_unless_it_stops_on_an_open_word() {
        for t in ["孩子上学用", "3号楼502", "下个月5号", "明天上午"] {
            assert_eq!(
                TextJudge::rules_only().judge(t, Expect::Answer),
                TurnCall::Complete,
                "{t}"
            );
        }
        for t in ["3号楼的", "那个", "我的身份证号", "就是，", "孩子"] {
            assert_ne!(
                TextJudge::rules_only().judge(t, Expect::Answer),
                TurnCall::Complete,
                "{t}"
            );
        }
        // the same words with nothing asked give no clear sign
        assert_eq!(
            TextJudge::rules_only().judge("孩子上学用", Expect::Free),
            TurnCall::Unsure
        );
    }

    #[test]
    fn a_greeting_alone_ends_the_turn() {
        assert_eq!(call("小安你好", Expect::Free), TurnCall::Complete);
        assert_eq!(call("你好小安", Expect::Free), TurnCall::Complete);
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
        // a thank-you may be the answer (no, thanks): not held as a filler then
        assert_ne!(call("谢谢", Expect::YesNo), TurnCall::Incomplete);
        // a yes said whole is one, whatever was asked
        for t in ["对，没错。", "同意", "没问题", "好的好的"] {
            assert_eq!(call(t, Expect::Free), TurnCall::Complete, "{t}");
        }
    }

    #[test]
    fn an_asked_name_ends_on_the_name_and_waits_after_wo_jiao() {
        assert_eq!(call("我叫王小明", Expect::Name), TurnCall::Complete);
        assert_eq!(call("王小明", Expect::Name), TurnCall::Complete);
        assert_eq!(call("我叫", Expect::Name), TurnCall::Incomplete);
        // 我叫 misheard at the pause's edge is no name
        assert_ne!(call("我家", Expect::Name), TurnCall::Complete);
        assert_eq!(call("我姓王", Expect::Free), TurnCall::Unsure);
        assert_eq!(
            Expect::from_awaiting(&Awaiting::Slot(EntityKind::PersonName)),
            Expect::Name
        );
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
        let id = Awaiting::Slot(EntityKind::IdNumber);
        assert_eq!(Expect::for_turn(&id, true), Expect::Digits(18));
        assert_eq!(Expect::for_turn(&Awaiting::YesNo, true), Expect::YesNo);
        assert_eq!(Expect::for_turn(&Awaiting::Nothing, false), Expect::Free);
        // a form's field in words, an address: an answer to the question asked
        assert_eq!(Expect::for_turn(&Awaiting::Nothing, true), Expect::Answer);
        let address = Awaiting::Slot(EntityKind::Address);
        assert_eq!(Expect::for_turn(&address, true), Expect::Answer);
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
