//! Appointments: booked with a number, moved and cancelled by it; a time not said is
//! asked for; a number not known is said so.

use super::{content, hears, Visit};

#[test]
fn an_appointment_is_booked_moved_and_cancelled_by_its_number() {
    let mut v = Visit::new();
    let r = v.say("帮我约个明天上午十点办社保卡");
    let number = r.receipt.clone().expect("booked with a number");
    hears(&r, &["约好了", "预约号"]);
    assert!(v.record(&number).is_some(), "the booking is in the store");

    let r = v.say("预约改到后天下午三点");
    hears(&r, &["改好了"]);
    assert_eq!(r.receipt.as_deref(), Some(number.as_str()), "same number");
    let moved = content(&v.record(&number).expect("still in the store"));
    assert!(moved.contains("2026-12-02"), "{moved}");

    let r = v.say("取消预约");
    hears(&r, &["确定要取消吗"]);
    let r = v.say("对");
    hears(&r, &["已经取消了"]);
    let gone = v.record(&number).expect("kept, as cancelled");
    assert_eq!(gone.summary.status, "cancelled");
}

#[test]
fn without_a_day_the_time_is_asked_for_and_no_books_nothing() {
    let mut v = Visit::new();
    let r = v.say("我要预约");
    hears(&r, &["哪天几点"]);
    assert_eq!(r.flow, "appointment");
    let r = v.say("不");
    hears(&r, &["不约了"]);
    assert!(v.records("appointment").is_empty());
}

#[test]
fn a_number_that_is_not_booked_is_said_so() {
    let mut v = Visit::new();
    let r = v.say("取消预约");
    hears(&r, &["预约号"]);
    let r = v.say("1234567890");
    hears(&r, &["没有找到"]);
}

#[test]
fn no_to_the_cancel_question_keeps_the_appointment() {
    let mut v = Visit::new();
    let number = v
        .say("帮我约个明天上午十点办社保卡")
        .receipt
        .expect("booked");
    v.say("取消预约");
    let r = v.say("不对");
    hears(&r, &["预约还在"]);
    let kept = v.record(&number).expect("in the store");
    assert_ne!(kept.summary.status, "cancelled");
}
