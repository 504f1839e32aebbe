//! Leaving a form: "取消" and "再见" are asked about first (nothing is lost on one
//! word), and what was filled is kept as a draft for staff when the resident wants it,
//! or when the session ends without them (time-out, emergency, hand-over).

use xiaoan_intents::{Intent, Understanding};

use super::form::resume_form;
use super::state::{Flow, FormState};
use crate::dialogue::reply::{number_for_ear, Reply};
use crate::dialogue::session::Session;
use crate::dialogue::{Agent, INTERRUPT_CONFIDENCE};
use crate::records;

pub(super) const CONFIRM_CANCEL: &str = "确定不办了吗？说“对”就不办了，说“不”就接着填。";
pub(super) const CONFIRM_LEAVE: &str = "您要走了吗？刚才填的内容，要帮您留给工作人员吗？";

/// Words that end a form ("取消", "不办了"), as opposed to words that only stop the
/// speech ("别说了", "停").
pub fn says_cancel(text: &str) -> bool {
    [
        "取消",
        "不办了",
        "不办",
        "不填了",
        "不弄了",
        "退出",
        "勿办",
        "弗办",
        "唔辦",
        "唔办",
        "毋办",
        "莫办",
        "不搞了",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// Words that take leave ("再见"), said alone.
pub fn says_goodbye(text: &str) -> bool {
    text.chars().count() <= 8
        && [
            "再见",
            "拜拜",
            "我走了",
            "先走了",
            "再会",
            "回头见",
            "我先走",
            "再見",
            "拜拜啦",
        ]
        .iter()
        .any(|w| text.contains(w))
}

/// "取消" during a form: ask first; nothing is discarded yet.
pub fn confirm_cancel(s: &mut Session) -> Option<Reply> {
    ask_before_leaving(s, Flow::ConfirmCancel, CONFIRM_CANCEL)
}

/// "再见" during a form: ask whether to keep what was filled.
pub fn confirm_leave(s: &mut Session) -> Option<Reply> {
    ask_before_leaving(s, Flow::ConfirmLeave, CONFIRM_LEAVE)
}

/// The form open, with answers in it (nothing filled: nothing to lose, `None`), is
/// held in the flow `asking` while `question` is asked.
fn ask_before_leaving(
    s: &mut Session,
    asking: fn(Box<FormState>) -> Flow,
    question: &str,
) -> Option<Reply> {
    let Flow::Form(st) = &s.flow else {
        return None;
    };
    if !st.has_answers() {
        return None;
    }
    s.flow = asking(Box::new(st.clone()));
    let mut r = Reply::say(question);
    r.flow = s.flow.name().to_string();
    Some(r)
}

/// The answer to "确定不办了吗". Yes: the form ends, kept as a draft for staff. No (or
/// anything unclear): back to the form. A clear new request: the resident has moved on;
/// the form is kept as a draft and the request handled as usual (`None`).
pub(super) fn cancel_answer(
    a: &Agent,
    s: &mut Session,
    st: FormState,
    u: &Understanding,
) -> Option<Reply> {
    let i = &u.intent;
    let yes = i.intent == Intent::ConfirmYes
        || (says_cancel(&u.normalized.text) && !u.normalized.text.contains("不取消"));
    let moved_on = !yes
        && !i.unsure
        && i.confidence >= INTERRUPT_CONFIDENCE
        && !matches!(
            i.intent,
            Intent::ConfirmNo
                | Intent::NavRepeat
                | Intent::NavSlower
                | Intent::NavFaster
                | Intent::NavStop
        );
    if moved_on {
        let _ = records::draft(a, s, &st.form_id, &st.values, "cancelled");
        s.flow = Flow::Idle;
        return None;
    }
    if !yes {
        return Some(resume_form(a, s, st, "好的，接着办。"));
    }
    let kept = records::draft(a, s, &st.form_id, &st.values, "cancelled");
    s.flow = Flow::Idle;
    Some(Reply::say(match kept {
        Some(no) => format!(
            "好的，不办了，什么都没有提交。刚才填的内容留给工作人员了，编号{}，下次可以接着办。还要办别的吗？",
            number_for_ear(&no)
        ),
        None => "好的，不办了，什么都没有提交。还要办别的吗？".to_string(),
    }))
}

/// The answer to "您要走了吗…要帮您留着吗": yes keeps a draft (its number said), no
/// keeps nothing; either way the session ends. Anything else: back to the form.
pub(super) fn leave_answer(a: &Agent, s: &mut Session, st: FormState, u: &Understanding) -> Reply {
    let text = match u.intent.intent {
        Intent::ConfirmYes => match records::draft(a, s, &st.form_id, &st.values, "left") {
            Some(no) => format!(
                "好的，帮您留着了，编号{}。下次来说这个编号，工作人员可以接着帮您办。再见，您慢走。",
                number_for_ear(&no)
            ),
            None => "对不起，没能保存成功，下次来需要重新说一遍。再见，您慢走。".to_string(),
        },
        Intent::ConfirmNo => "好的，没有保留，也没有提交。再见，您慢走。".to_string(),
        _ => return resume_form(a, s, st, "好的，我们接着填。"),
    };
    s.flow = Flow::Idle;
    s.ended = true;
    let mut r = Reply::say(text);
    r.end_session = true;
    r
}

/// Keep a half-filled form for staff (time-out, emergency, hand-over). Returns the draft
/// number when something was kept.
pub fn save_draft(a: &Agent, s: &Session, reason: &str) -> Option<String> {
    let st = s.flow.open_form().filter(|st| !st.values.is_empty())?;
    records::draft(a, s, &st.form_id, &st.values, reason)
}

/// On a time-out that ends the session.
pub fn save_draft_on_timeout(a: &Agent, s: &Session) -> Option<String> {
    save_draft(a, s, "timeout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_words_are_not_stop_words() {
        for t in ["取消", "不办了", "算了不办了", "取消啦唔辦喇"] {
            assert!(says_cancel(t), "{t}");
        }
        for t in ["别说了", "停", "停一下", "等等"] {
            assert!(!says_cancel(t), "{t}");
        }
        assert!(says_goodbye("再见"));
        assert!(!says_goodbye("再见面的时候我再来办这个居住登记可以吗"));
    }
}
