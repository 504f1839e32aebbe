//! Declarations: collected field by field, read back in parts, filed only on the
//! resident's agreement and only with the store's receipt; commands inside the form;
//! cancel, leave and failed tries never lose or half-file anything.

use super::{content, hears, Visit};
use crate::dialogue::Reply;

/// A newcomer's answers to the residence registration, in the order they are asked.
const RESIDENT: [&str; 6] = [
    "我叫王小明",
    "320503198506123049",
    "13812345678",
    "3号楼502室",
    "2026年10月1日",
    "租的",
];

/// The residence registration begun and its first `n` answers given.
fn begun(v: &mut Visit, n: usize) {
    v.say("我要办居住登记");
    for answer in &RESIDENT[..n] {
        v.say(answer);
    }
}

/// Every field answered (no employer): the reply is the read-back's first part.
fn all_answered(v: &mut Visit) -> Reply {
    begun(v, RESIDENT.len());
    v.say("没有")
}

/// "对" to each part read back from `r` on, up to the commitment. Returns what was
/// heard on the way (the commitment last). Nothing may be filed before it.
fn confirm_parts(v: &mut Visit, mut r: Reply) -> String {
    let mut heard = r.text.clone();
    for _ in 0..4 {
        if r.text.contains("承诺") {
            break;
        }
        assert!(r.receipt.is_none(), "nothing filed before the agreement");
        r = v.say("对");
        heard.push_str(&r.text);
    }
    hears(&r, &["承诺", "同意"]);
    heard
}

#[test]
fn the_read_back_has_the_values_and_personal_numbers_only_by_their_tail() {
    let mut v = Visit::new();
    let first = all_answered(&mut v);
    hears(&first, &["我念一遍", "王某某"]);
    assert_eq!(first.awaiting, "yes_no");
    let heard = confirm_parts(&mut v, first);
    // in the hall others hear: the name by its surname, the ID and phone only by their
    // last four digits
    assert!(!heard.contains("王小明"), "{heard}");
    assert!(!heard.contains("13812345678"), "{heard}");
    for said in ["尾号", "3号楼502室", "2026年10月1日", "租房"] {
        assert!(heard.contains(said), "{said} not in: {heard}");
    }
}

#[test]
fn at_the_accessible_window_the_name_is_read_back_whole() {
    let mut v = Visit::at("window");
    let first = all_answered(&mut v);
    let heard = confirm_parts(&mut v, first);
    assert!(heard.contains("王小明"), "{heard}");
}

#[test]
fn the_receipt_is_given_only_once_the_store_has_the_filing() {
    let mut v = Visit::new();
    let first = all_answered(&mut v);
    confirm_parts(&mut v, first);
    assert!(
        v.records("filing").is_empty(),
        "nothing filed before the yes"
    );
    let r = v.say("同意");
    let receipt = r.receipt.clone().expect("a receipt");
    hears(&r, &["回执号", "补交"]);
    let filed = content(&v.record(&receipt).expect("the filing is in the store"));
    assert!(
        filed.contains("王小明") && filed.contains("13812345678"),
        "{filed}"
    );
    // the number again on request
    let again = v.say("好");
    hears(&again, &[&crate::dialogue::number_for_ear(&receipt)]);
}

#[test]
fn a_refused_filing_says_so_plainly_and_keeps_the_answers_for_another_try() {
    let mut v = Visit::new();
    let first = all_answered(&mut v);
    confirm_parts(&mut v, first);
    v.store_fails(true);
    let r = v.say("同意");
    assert!(
        r.receipt.is_none(),
        "no receipt for a filing the store refused"
    );
    hears(&r, &["没有提交成功", "内容都还在"]);
    v.store_fails(false);
    assert!(v.records("filing").is_empty());
    let receipt = v.say("同意").receipt.expect("filed on the second try");
    assert!(v.record(&receipt).is_some());
}

#[test]
fn cancel_is_asked_about_first_and_then_nothing_is_filed() {
    let mut v = Visit::new();
    begun(&mut v, 1);
    hears(&v.say("取消"), &["确定不办了吗"]);
    // "no": the form goes on where it was
    hears(&v.say("不"), &["接着办", "身份证号"]);
    v.say("取消");
    let r = v.say("对");
    hears(&r, &["什么都没有提交"]);
    assert_eq!(r.flow, "idle");
    assert!(v.records("filing").is_empty(), "nothing half-filed");
    assert_eq!(
        v.records("draft").len(),
        1,
        "what was said is kept for staff"
    );
}

#[test]
fn how_many_are_left_back_one_and_skip_work_inside_the_form() {
    let mut v = Visit::new();
    begun(&mut v, 1);
    hears(&v.say("还有几个问题"), &["还有6个问题", "身份证号"]);
    hears(&v.say("上一步"), &["回到上一项", "叫什么名字"]);
    hears(&v.say("上一步"), &["第一项"]);
    v.say("我叫王小明");
    // a required field is put off to the end, not dropped
    hears(&v.say("跳过"), &["最后再说", "手机号"]);
}

#[test]
fn a_name_is_spelled_and_a_field_read_again_on_request() {
    let mut v = Visit::new();
    begun(&mut v, 3);
    hears(&v.say("名字怎么写"), &["王，三横一竖王", "住在哪里"]);
    hears(&v.say("手机号再念一遍"), &["尾号", "住在哪里"]);
}

#[test]
fn a_correction_at_the_read_back_changes_that_field_in_the_filing() {
    let mut v = Visit::new();
    all_answered(&mut v);
    let r = v.say("不对，电话是13900001111");
    hears(&r, &["改好了", "尾号幺幺幺幺"]);
    confirm_parts(&mut v, r);
    let receipt = v.say("同意").receipt.expect("filed");
    let filed = content(&v.record(&receipt).expect("in the store"));
    assert!(filed.contains("13900001111"), "{filed}");
    assert!(!filed.contains("13812345678"), "{filed}");
}

#[test]
fn after_three_failed_tries_help_is_offered_and_yes_hands_over_with_the_draft() {
    let mut v = Visit::new();
    begun(&mut v, 1);
    v.say("一二三");
    v.say("一二三");
    hears(&v.say("一二三"), &["试了三次", "工作人员"]);
    let r = v.say("要");
    assert!(r.receipt.is_some(), "a ticket for staff: {r:?}");
    assert_eq!(v.records("draft").len(), 1, "the name is kept for staff");
    assert!(v.records("filing").is_empty());
}

#[test]
fn goodbye_mid_form_asks_whether_to_keep_it_and_keeps_it_on_yes() {
    let mut v = Visit::new();
    begun(&mut v, 1);
    let r = v.say("再见");
    hears(&r, &["要帮您留给工作人员吗"]);
    assert!(!r.end_session);
    let r = v.say("要");
    hears(&r, &["帮您留着了"]);
    assert!(r.end_session);
    assert_eq!(v.records("draft").len(), 1);
    assert!(v.records("filing").is_empty());
}

#[test]
fn a_declaration_not_named_is_asked_for_and_no_ends_it() {
    let mut v = Visit::new();
    hears(&v.say("我要登记"), &["您要办哪一项"]);
    let r = v.say("生育登记");
    assert_eq!(r.flow, "declaration", "{r:?}");
    hears(&r, &["生育登记"]);

    let mut v = Visit::new();
    v.say("我要登记");
    hears(&v.say("不"), &["不办了"]);
    assert_eq!(v.s.flow.name(), "idle");
}

#[test]
fn the_accessible_window_reads_numbers_whole() {
    let mut v = Visit::at("window");
    begun(&mut v, 3);
    let r = v.say("手机号再念一遍");
    hears(&r, &["幺三八"]);
    assert!(!r.text.contains("尾号"), "{}", r.text);
}
