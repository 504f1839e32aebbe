//! Guide answers: the short answer, details on request (or the part asked for), another
//! question mid-way, and a guessed item answered only once the resident says yes.

use xiaoan_kb::ChunkKind;

use super::{hears, Visit};
use crate::dialogue::Flow;

/// The guide item the session is giving details of.
fn item_in_details(v: &Visit) -> String {
    match &v.s.flow {
        Flow::Details { item, .. } => item.clone(),
        other => panic!("not giving details: {other:?}"),
    }
}

#[test]
fn a_question_gets_the_short_answer_then_the_details_part_by_part() {
    let mut v = Visit::new();
    let r = v.say("老年人优待卡怎么办");
    assert_eq!(r.flow, "service", "{r:?}");
    assert!(r.text.ends_with('？'), "offers the details: {}", r.text);
    hears(&v.say("要的"), &["身份证"]);
    // the rest, part by part, then the end said plainly
    let mut last = v.say("要");
    for _ in 0..6 {
        if last.text.contains("就这些") {
            break;
        }
        last = v.say("要");
    }
    hears(&last, &["就这些"]);
    assert_eq!(v.s.flow.name(), "idle");
}

#[test]
fn no_thanks_ends_the_details() {
    let mut v = Visit::new();
    v.say("低保怎么申请");
    hears(&v.say("不用了"), &["还有别的要问吗"]);
    assert_eq!(v.s.flow.name(), "idle");
}

#[test]
fn the_part_asked_for_by_name_is_given_at_once() {
    let mut v = Visit::new();
    v.say("低保怎么申请");
    let item = item_in_details(&v);
    let where_when =
        v.a.guide
            .item(&item)
            .expect("the item")
            .chunks()
            .into_iter()
            .find(|c| c.kind == ChunkKind::WhereWhen)
            .expect("a where-and-when part");
    let r = v.say("在哪里办");
    assert!(r.text.starts_with(&where_when.text), "{}", r.text);
}

#[test]
fn another_service_named_mid_way_is_answered_as_a_new_question() {
    let mut v = Visit::new();
    v.say("老年人优待卡怎么办");
    let first = item_in_details(&v);
    let r = v.say("社保卡丢了怎么补办");
    assert_eq!(r.flow, "service");
    assert_ne!(item_in_details(&v), first, "{}", r.text);
}

/// "您是想问“…”吗" asked about the guide's first item (as after unsure words that sound
/// like it): the flow is set directly, apart from what the classifier hears.
fn asked_about_an_item(v: &mut Visit) -> String {
    let item = v.a.guide.items[0].id.clone();
    v.s.flow = Flow::ConfirmItem { item: item.clone() };
    item
}

#[test]
fn a_guessed_item_is_answered_only_on_yes() {
    let mut v = Visit::new();
    let item = asked_about_an_item(&mut v);
    let yes = v.say("是的");
    assert_eq!(yes.flow, "service", "answered: {yes:?}");
    let answer = v.a.guide.item(&item).expect("the item").first_answer();
    assert_eq!(yes.text, answer);

    let mut v = Visit::new();
    asked_about_an_item(&mut v);
    hears(&v.say("不是"), &["请您再说一遍"]);
    assert_eq!(v.s.flow.name(), "idle");
}
