//! Emergencies: staff alerted at once (or, when the store refuses, the resident told the
//! truth and the alert retried), the place asked and recorded, and the agent stays.

use xiaoan_intents::Intent;

use super::{hears, Visit};
use crate::dialogue::Flow;

#[test]
fn an_emergency_alerts_staff_asks_where_and_records_the_place() {
    let mut v = Visit::new();
    let r = v.say("救命，我家老人摔倒了");
    let event = r.receipt.clone().expect("an alert for staff");
    assert_eq!(r.flow, "emergency");
    hears(&r, &["已经通知工作人员", "120", "在哪里"]);
    assert!(v.record(&event).is_some(), "the event is in the store");

    let r = v.say("在3号楼502室");
    hears(&r, &["在3号楼502室", "陪着您"]);
    let history: Vec<String> = v
        .record(&event)
        .expect("the event")
        .history
        .iter()
        .map(|h| h.detail.clone())
        .collect();
    assert!(
        history.iter().any(|d| d.contains("3号楼502室")),
        "{history:?}"
    );
    // silence: the agent stays, and says the key instruction again
    let r = v.silence();
    assert!(!r.end_session);
    hears(&r, &["陪着您"]);
    let r = v.silence();
    assert!(!r.end_session, "the session stays open after an emergency");
}

#[test]
fn an_alert_the_store_refused_is_not_claimed_and_goes_through_later() {
    let mut v = Visit::new();
    v.store_fails(true);
    let r = v.say("救命，我摔倒了");
    assert!(r.receipt.is_none(), "{r:?}");
    hears(&r, &["还没收到通知"]);
    assert!(!r.text.contains("已经通知"), "{}", r.text);
    v.store_fails(false);
    let r = v.say("在大厅");
    assert!(r.text.starts_with("刚才的求助现在已经送到"), "{}", r.text);
    assert!(r.receipt.is_some(), "{r:?}");
    assert_eq!(v.alarms(), 1);
}

#[test]
fn an_emergency_mid_form_keeps_the_form_for_staff() {
    let mut v = Visit::new();
    v.say_all(&["我要办居住登记", "我叫王小明"]);
    let r = v.say("救命，我家老人摔倒了起不来");
    assert_eq!(r.flow, "emergency");
    assert!(
        !r.text.contains("身份证号"),
        "no form question first: {}",
        r.text
    );
    assert_eq!(v.records("draft").len(), 1, "the form is kept");
    assert_eq!(v.alarms(), 1);
}

/// The emergency question asked (as after a weak guess on garbled words): the flow is
/// set directly, so the test does not hang on what the classifier makes of noise.
fn asked_about_an_emergency(v: &mut Visit) {
    v.s.flow = Flow::ConfirmEmergency {
        said: "九座窗面".into(),
        again: false,
        resume: None,
    };
}

/// A form at its "what for" question, then a confident guess of "emergency" on words
/// that name none (the answer misheard).
fn form_then_a_guessed_emergency(v: &mut Visit) -> crate::dialogue::Reply {
    v.say_all(&[
        "我要开一个居住证明",
        "我叫王小明",
        "320503198506123049",
        "13812345678",
        "居住证明",
    ]);
    let asked = v.s.last_reply.clone().expect("a form question pending");
    hears(&asked, &["做什么用"]);
    v.guessed("孩子上血用", Intent::Emergency, 0.79)
}

#[test]
fn a_guessed_emergency_mid_form_is_asked_about_and_no_goes_back_to_the_form() {
    let mut v = Visit::new();
    let r = form_then_a_guessed_emergency(&mut v);
    hears(&r, &["急事", "叫工作人员吗"]);
    assert_eq!(v.alarms(), 0, "no alarm on a misheard answer");
    let r = v.say("不是");
    hears(&r, &["没事就好", "做什么用"]);
    assert_eq!(v.alarms(), 0);
    // the form goes on where it was: the answer said again is taken
    let r = v.say("孩子上学用");
    hears(&r, &["第6项", "住在哪里"]);
    assert!(v.records("draft").is_empty(), "{:?}", v.records("draft"));
}

#[test]
fn a_clear_request_after_a_guessed_emergency_goes_to_the_form() {
    let mut v = Visit::new();
    form_then_a_guessed_emergency(&mut v);
    // the form hears it: cancelling asks to be sure, the filled fields not lost
    let r = v.say("取消");
    assert_eq!(v.s.flow.name(), "declaration", "{r:?}");
    hears(&r, &["确定"]);
    assert_eq!(v.alarms(), 0);
}

#[test]
fn yes_to_a_guessed_emergency_mid_form_alerts_staff_and_keeps_the_form() {
    let mut v = Visit::new();
    form_then_a_guessed_emergency(&mut v);
    let r = v.say("是的");
    assert!(r.receipt.is_some(), "an alert: {r:?}");
    hears(&r, &["已经通知工作人员"]);
    assert_eq!(v.alarms(), 1);
    assert_eq!(v.records("draft").len(), 1, "the form is kept for staff");
}

#[test]
fn no_answer_to_a_guessed_emergency_mid_form_brings_staff_and_keeps_the_form() {
    let mut v = Visit::new();
    form_then_a_guessed_emergency(&mut v);
    v.unclear("窗面座九", Intent::OutOfScope)
        .expect("asked again");
    let r = v.unclear("窗面座九", Intent::OutOfScope).expect("answered");
    hears(&r, &["工作人员过来看看您"]);
    assert_eq!(v.alarms(), 0, "a person looks; no alarm");
    assert_eq!(v.records("draft").len(), 1, "the form is kept for staff");
}

#[test]
fn no_to_the_emergency_question_raises_nothing() {
    let mut v = Visit::new();
    asked_about_an_emergency(&mut v);
    let r = v.say("不是");
    hears(&r, &["没事就好"]);
    assert_eq!(v.s.flow.name(), "idle");
    assert_eq!(v.alarms(), 0, "no alarm on noise");
}

#[test]
fn yes_to_the_emergency_question_alerts_staff_with_what_was_said() {
    let mut v = Visit::new();
    asked_about_an_emergency(&mut v);
    let r = v.say("是的");
    let event = r.receipt.clone().expect("an alert");
    hears(&r, &["已经通知工作人员"]);
    let raised = super::content(&v.record(&event).expect("in the store"));
    assert!(raised.contains("九座窗面"), "{raised}");
}

#[test]
fn an_unclear_answer_is_asked_again_then_staff_come_to_look_without_an_alarm() {
    let mut v = Visit::new();
    asked_about_an_emergency(&mut v);
    let r = v.unclear("窗面座九", Intent::OutOfScope).expect("answered");
    assert!(
        r.text.contains("要就说“是”"),
        "asked again, plainer: {}",
        r.text
    );
    let r = v.unclear("窗面座九", Intent::OutOfScope).expect("answered");
    hears(&r, &["工作人员过来看看您"]);
    assert!(r.receipt.is_some(), "a ticket for staff: {r:?}");
    assert_eq!(v.alarms(), 0, "not an alarm");
    assert_eq!(v.records("event").len(), 1, "the ticket");
}

#[test]
fn self_harm_gets_the_crisis_line() {
    let mut v = Visit::new();
    let r = v.say("我不想活了");
    hears(&r, &["幺二三五六"]);
    assert!(r.receipt.is_some());
}

#[test]
fn a_resident_who_cannot_say_where_is_not_asked_again() {
    let mut v = Visit::new();
    v.say("着火了");
    let r = v.say("不知道");
    hears(&r, &["119", "说不清楚也没关系"]);
    assert!(!r.text.contains("在哪里"), "{}", r.text);
}
