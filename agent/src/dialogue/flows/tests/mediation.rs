//! Mediation: a dispute told in the resident's words becomes a case with a number; the
//! mediator's slot is offered and can be changed; danger goes to the alarm, not a form.

use super::{content, hears, Visit};
use crate::dialogue::Reply;

/// A neighbour's noise, told in one sentence (it is also what happened).
const NOISE: &str = "隔壁天天半夜装修，吵得睡不着，想找人调解";
/// The triage's questions answered in turn: who with, where, the outcome wanted, the
/// phone (required fields first), then the resident's name.
const TRIAGE: [&str; 5] = [
    "隔壁邻居",
    "7号楼",
    "晚上十点以后别再装修",
    "13900002222",
    "李芳",
];

/// The dispute told and the triage answered: the reply is the danger question.
fn triaged(v: &mut Visit) -> Reply {
    let r = v.say(NOISE);
    assert_eq!(r.flow, "mediation", "{r:?}");
    v.say_all(&TRIAGE)
}

/// The triage answered, no danger, each part read back confirmed: the reply offers
/// the mediator's next free slot. No case is opened before that.
fn offered_a_slot(v: &mut Visit) -> Reply {
    triaged(v);
    let mut r = v.say("没有");
    for _ in 0..4 {
        if r.text.contains("调解员最近有空的时间") {
            break;
        }
        assert!(r.receipt.is_none(), "no case before the slot: {r:?}");
        r = v.say("对");
    }
    hears(&r, &["调解员最近有空的时间"]);
    r
}

#[test]
fn the_danger_question_comes_last_and_the_read_back_names_the_kind() {
    let mut v = Visit::new();
    let r = triaged(&mut v);
    hears(&r, &["危险"]);
    assert_eq!(r.awaiting, "yes_no");
    hears(&v.say("没有"), &["噪音纠纷", "隔壁邻居", "7号楼"]);
}

#[test]
fn another_slot_is_offered_and_the_case_is_opened_with_the_one_taken() {
    let mut v = Visit::new();
    let first = offered_a_slot(&mut v);
    let other = v.say("换个时间");
    hears(&other, &["换一个"]);
    assert_ne!(other.text, first.text);
    let r = v.say("可以");
    let case = r.receipt.clone().expect("a case number");
    hears(&r, &["调解时间约在", "回访"]);
    let opened = content(&v.record(&case).expect("the case is in the store"));
    assert!(
        opened.contains("隔壁邻居") && opened.contains("李芳"),
        "{opened}"
    );
}

#[test]
fn none_of_the_slots_still_opens_the_case_and_the_mediator_calls() {
    let mut v = Visit::new();
    offered_a_slot(&mut v);
    let r = v.say("都不行");
    assert!(r.receipt.is_some(), "{r:?}");
    hears(&r, &["调解员会打电话跟您约时间"]);
    assert_eq!(v.records("case").len(), 1);
}

#[test]
fn a_case_the_store_refused_is_said_plainly_and_not_numbered() {
    let mut v = Visit::new();
    offered_a_slot(&mut v);
    v.store_fails(true);
    let r = v.say("可以");
    v.store_fails(false);
    assert!(r.receipt.is_none(), "{r:?}");
    hears(&r, &["出了问题", "没有登记上", "找工作人员"]);
    // the failing store kept no draft either, so none is promised
    assert!(!r.text.contains("留给工作人员了"), "{}", r.text);
    assert!(v.records("case").is_empty());
}

#[test]
fn danger_in_a_dispute_raises_the_alarm_instead_of_a_form() {
    let mut v = Visit::new();
    let r = v.say("邻居拿刀威胁要打人，我想找人调解");
    assert_eq!(r.flow, "emergency", "{r:?}");
    hears(&r, &["110"]);
    assert_eq!(v.alarms(), 1, "staff alerted");
    assert!(v.records("case").is_empty());
}

#[test]
fn yes_to_the_danger_question_raises_the_alarm_and_keeps_the_triage() {
    let mut v = Visit::new();
    triaged(&mut v);
    let r = v.say("有");
    assert_eq!(r.flow, "emergency", "{r:?}");
    assert_eq!(v.alarms(), 1);
    assert_eq!(v.records("draft").len(), 1, "the triage is kept for staff");
}
