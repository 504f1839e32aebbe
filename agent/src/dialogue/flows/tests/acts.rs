//! One-turn acts and short questions: a hand-over with a ticket, a number read again,
//! feedback recorded, an either-or question about what was meant.

use xiaoan_intents::Intent;

use super::{hears, Visit};
use crate::dialogue::Flow;

#[test]
fn a_hand_over_gives_a_ticket_and_says_where_to_wait() {
    for (profile, next) in [
        ("robot", "请在原地等"),
        ("kiosk", "服务台"),
        ("window", "窗口这儿稍等"),
    ] {
        let mut v = Visit::at(profile);
        let r = v.say("我要找工作人员");
        let ticket = r.receipt.clone().expect("a ticket");
        hears(&r, &[next]);
        assert!(
            v.record(&ticket).is_some(),
            "{profile}: the ticket is stored"
        );
    }
}

#[test]
fn the_last_number_is_read_again_on_request() {
    let mut v = Visit::new();
    hears(&v.say("回执号是多少"), &["还没有给您编号"]);
    let ticket = v.say("我要找工作人员").receipt.expect("a ticket");
    let digits = crate::dialogue::number_for_ear(&ticket);
    hears(&v.say("回执号是多少"), &[&digits]);
}

#[test]
fn feedback_is_recorded_with_a_number() {
    let mut v = Visit::new();
    let r = v.say("我要投诉，窗口工作人员态度不好");
    assert!(r.receipt.is_some(), "{r:?}");
    hears(&r, &["已经记下了"]);
    assert_eq!(v.records("feedback").len(), 1);
}

/// "您是想反映问题，还是想找工作人员" asked (as after unclear words): the flow is set
/// directly, apart from what the classifier hears.
fn asked_which(v: &mut Visit) {
    v.s.flow = Flow::ClarifyIntent {
        first: Intent::FeedbackComplaint,
        second: Intent::HandoffHuman,
        text: "那个窗口的事".into(),
        again: false,
    };
}

#[test]
fn a_bare_yes_to_an_either_or_question_is_asked_again_naming_both() {
    let mut v = Visit::new();
    asked_which(&mut v);
    hears(
        &v.say("对"),
        &["反映问题", "找工作人员", "前面一个或者后面一个"],
    );
    hears(&v.say("对"), &["还是没弄明白"]);
    assert_eq!(v.s.flow.name(), "idle");
}

#[test]
fn the_meaning_picked_is_acted_on() {
    let mut v = Visit::new();
    asked_which(&mut v);
    let r = v.say("后面那个");
    assert!(r.receipt.is_some(), "the hand-over picked: {r:?}");
    assert_eq!(r.flow, "handoff");
}

/// "后面那个" also sounds like a queue question (排在后面): when the queue is one of the
/// two meanings offered, it still picks by position.
#[test]
fn the_latter_is_picked_by_position_even_when_the_queue_is_offered() {
    let mut v = Visit::new();
    v.s.flow = Flow::ClarifyIntent {
        first: Intent::QueueStatus,
        second: Intent::HandoffHuman,
        text: "那个窗口的事".into(),
        again: false,
    };
    let r = v.say("后面那个");
    assert_eq!(r.flow, "handoff", "{r:?}");
}

#[test]
fn a_number_said_with_nothing_asking_for_it_is_not_read_back() {
    let mut v = Visit::new();
    let r = v.say("320503198506123049");
    hears(&r, &["身份证号"]);
    assert!(!r.text.contains("3205"), "{}", r.text);
}
