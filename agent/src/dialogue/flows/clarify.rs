//! Unsure understanding: one short question naming the two likeliest meanings, and
//! acting on the one the resident picks; a bare number with nothing asking for it.

use xiaoan_intents::{EntityKind, Intent, Understanding};

use super::state::Flow;
use crate::dialogue::reply::Reply;
use crate::dialogue::session::Session;
use crate::dialogue::{Agent, Command};

/// Unsure: one short question naming the two likeliest meanings.
pub fn clarify_intent(s: &mut Session, u: &Understanding) -> Reply {
    let c = &u.intent.candidates;
    let first = c.first().map(|x| x.0).unwrap_or(u.intent.intent);
    let second = c
        .iter()
        .map(|x| x.0)
        .find(|i| *i != first)
        .unwrap_or(Intent::HandoffHuman);
    s.flow = Flow::ClarifyIntent {
        first,
        second,
        text: u.normalized.original.clone(),
        again: false,
    };
    Reply::say(format!(
        "我没太听明白。您是想{}，还是想{}？",
        intent_phrase(first),
        intent_phrase(second)
    ))
}

/// The words are only an ID or phone number (keyed in on the kiosk, or said) while no
/// form asks for one: a reply that says what it looks like (never reading it back: it
/// is personal data) and what to say first.
pub fn number_without_a_question(u: &Understanding) -> Option<Reply> {
    let digits: String = u
        .normalized
        .text
        .chars()
        .filter(|c| !c.is_whitespace() && !"-，,。.".contains(*c))
        .collect();
    let only = |kind: EntityKind| {
        u.entities
            .iter()
            .any(|e| e.kind == kind && e.value.eq_ignore_ascii_case(&digits))
    };
    let what = if only(EntityKind::IdNumber) {
        "身份证号"
    } else if only(EntityKind::Phone) {
        "手机号"
    } else {
        return None;
    };
    Some(Reply::say(format!(
        "这像是{what}。请先告诉我要办什么事，比如“开居住证明”，到要填的时候我再请您输入。"
    )))
}

/// A short answer that picks one of the two by position ("后面那个", "第一个"); a longer
/// sentence that merely holds 后面 ("我排在后面要等多久") is not a pick.
fn picked_by_position(text: &str) -> Option<usize> {
    let short = text.chars().filter(|c| c.is_alphanumeric()).count() <= 6;
    if short || ["那个", "一个", "个吧"].iter().any(|w| text.contains(w)) {
        ordinal_pick(text)
    } else {
        None
    }
}

/// "前面那个" / "第一个" → 0, "后面那个" / "第二个" → 1.
fn ordinal_pick(text: &str) -> Option<usize> {
    if ["前面", "第一", "头一个", "前一个"]
        .iter()
        .any(|w| text.contains(w))
    {
        Some(0)
    } else if ["后面", "第二", "后一个", "后头"]
        .iter()
        .any(|w| text.contains(w))
    {
        Some(1)
    } else {
        None
    }
}

/// An intent as a resident would say they want it ("问怎么办事").
fn intent_phrase(i: Intent) -> &'static str {
    match i {
        Intent::ServiceQuery => "问怎么办事",
        Intent::DeclarationFile => "现在就登记",
        Intent::DisputeMediate => "找人调解纠纷",
        Intent::AppointmentBook => "预约时间",
        Intent::QueueStatus => "问排队",
        Intent::HandoffHuman => "找工作人员",
        Intent::Emergency => "叫人帮忙",
        Intent::FeedbackComplaint => "反映问题",
        Intent::DialectSwitch => "换成家乡话说",
        Intent::NavRepeat => "让我再说一遍",
        Intent::NavSlower => "让我说慢点",
        Intent::NavFaster => "让我说快点",
        Intent::NavStop => "停下来",
        Intent::ConfirmYes => "说“对”",
        Intent::ConfirmNo => "说“不对”",
        Intent::Greeting => "打个招呼",
        Intent::Goodbye => "结束",
        Intent::OutOfScope => "问别的事",
    }
}

/// The answer to "您是想 A，还是想 B": the intent picked (named, or "前面那个"), acted
/// on with the words first said. A bare "对" is asked about once more, naming both; a
/// "不是" asks for the words again. Anything else is a new request (`None`).
pub(super) fn clarify_intent_turn(
    a: &Agent,
    s: &mut Session,
    (first, second): (Intent, Intent),
    text: String,
    again: bool,
    u: &Understanding,
) -> Option<Reply> {
    s.flow = Flow::Idle;
    let by_position = picked_by_position(&u.normalized.text);
    let chosen = match u.intent.intent {
        Intent::ConfirmYes if again => {
            return Some(Reply::say(
                "我还是没弄明白。您可以换个说法再说一遍，或者说“找工作人员”。",
            ))
        }
        // "对" to "A, or B?" says neither which: ask which, naming both again
        Intent::ConfirmYes => {
            let r = Reply::say(format!(
                "您是想{}，还是想{}？说前面一个或者后面一个都行。",
                intent_phrase(first),
                intent_phrase(second)
            ));
            s.flow = Flow::ClarifyIntent {
                first,
                second,
                text,
                again: true,
            };
            return Some(r);
        }
        // "不是": neither
        Intent::ConfirmNo => {
            return Some(Reply::say("好的，是我没听明白。请您再说一遍，想办什么事？"))
        }
        // a pick by position ("后面那个") first: it also reads as a queue question
        _ if by_position.is_some() => by_position.map(|k| if k == 0 { first } else { second }),
        i if i == first || i == second => Some(i),
        _ => None,
    };
    chosen.map(|i| act_on_pick(a, s, &text, i))
}

/// Act on the words first said with the intent the resident picked.
fn act_on_pick(a: &Agent, s: &mut Session, text: &str, i: Intent) -> Reply {
    let mut u = a
        .understander
        .understand_on(text, &xiaoan_intents::Context::default(), a.today());
    u.intent.intent = i;
    u.intent.unsure = false;
    a.dispatch(s, &u, Command::from(i))
}
