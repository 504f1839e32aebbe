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
    };
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
