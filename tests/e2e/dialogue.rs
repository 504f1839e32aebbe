//! The conversation as a resident experiences it: eyes-free controls, interrupts,
//! clarifying questions, time-outs, and flows that file records.

use xiaoan_agent::dialogue::{Agent, Session};
use xiaoan_tests::agent_in;

fn say(a: &Agent, s: &mut Session, text: &str) -> xiaoan_agent::dialogue::Reply {
    a.handle(s, text).reply
}

fn setup() -> (tempfile::TempDir, Agent, Session) {
    let dir = tempfile::tempdir().unwrap();
    let a = agent_in(dir.path(), "");
    let mut s = a.new_session();
    a.greet(&mut s);
    (dir, a, s)
}

#[test]
fn a_guide_question_gets_the_spoken_summary_then_details_on_request() {
    let (_d, a, mut s) = setup();
    let r = say(&a, &mut s, "老年人优待卡怎么办");
    assert_eq!(r.flow, "service", "{r:?}");
    assert!(
        r.text.contains("敬老卡") || r.text.contains("优待卡"),
        "{}",
        r.text
    );
    assert!(r.text.contains('？'), "offers details: {}", r.text);
    let more = say(&a, &mut s, "要的");
    assert!(
        more.text.contains("身份证"),
        "materials chunk names the ID card: {}",
        more.text
    );
}

#[test]
fn repeat_in_mandarin_shanghainese_and_cantonese_says_the_same_again() {
    let (_d, a, mut s) = setup();
    let first = say(&a, &mut s, "低保怎么申请");
    for again in ["再说一遍", "再讲一遍好伐", "唔該再講一次"] {
        let r = say(&a, &mut s, again);
        assert_eq!(r.text, first.text, "\"{again}\" repeats the last answer");
    }
}

#[test]
fn slower_and_faster_change_the_rate_for_the_rest_of_the_session() {
    let (_d, a, mut s) = setup();
    let base = s.rate_wpm;
    say(&a, &mut s, "社保卡怎么补办");
    let r = say(&a, &mut s, "说慢一点");
    assert!(s.rate_wpm < base, "slower lowers the rate");
    assert!(r.text.contains("慢"), "{}", r.text);
    let slow = s.rate_wpm;
    say(&a, &mut s, "居住证要带什么材料");
    assert_eq!(s.rate_wpm, slow, "the rate persists");
    say(&a, &mut s, "说快一点");
    say(&a, &mut s, "说快一点");
    assert!(s.rate_wpm > slow);
}

#[test]
fn louder_quieter_and_help_are_understood_eyes_free() {
    let (_d, a, mut s) = setup();
    let v = s.volume;
    say(&a, &mut s, "大声一点");
    assert!(s.volume > v);
    say(&a, &mut s, "小声点");
    say(&a, &mut s, "小声点");
    assert!(s.volume < v);
    let h = say(&a, &mut s, "我能说什么");
    assert!(
        h.text.contains("再说一遍") && h.text.contains("找工作人员"),
        "{}",
        h.text
    );
}

#[test]
fn help_during_a_form_says_what_can_be_said_now() {
    let (_d, a, mut s) = setup();
    say(&a, &mut s, "我要办居住登记");
    let h = say(&a, &mut s, "我能说什么");
    assert!(
        h.text.contains("回答") || h.text.contains("不对"),
        "{}",
        h.text
    );
    assert_eq!(h.flow, "declaration");
}

fn fill_residence(a: &Agent, s: &mut Session) {
    say(a, s, "我叫王小明");
    say(a, s, "320503198506123049");
    say(a, s, "13812345678");
    say(a, s, "3号楼502室");
    say(a, s, "2026年10月1日");
    say(a, s, "租的");
}

#[test]
fn a_declaration_is_collected_read_back_confirmed_and_filed_with_a_receipt() {
    let (_d, a, mut s) = setup();
    let r = say(&a, &mut s, "我要办居住登记");
    assert_eq!(r.flow, "declaration", "{r:?}");
    assert!(r.text.contains("名字"), "asks the name first: {}", r.text);
    fill_residence(&a, &mut s);
    // optional employer question, then the read-back
    let mut r = say(&a, &mut s, "没有");
    if !r.text.contains("我念一遍") {
        r = say(&a, &mut s, "没有");
    }
    assert!(r.text.contains("我念一遍"), "{}", r.text);
    assert!(r.text.contains("王小明"));
    // read back in parts a listener can take in, each confirmed
    assert!(r.text.chars().count() < 90, "a short part: {}", r.text);
    let r = say(&a, &mut s, "对的");
    assert!(
        r.text.contains("幺三八"),
        "phone read digit by digit: {}",
        r.text
    );
    let mut c = say(&a, &mut s, "对的");
    for _ in 0..3 {
        if c.text.contains("承诺") {
            break;
        }
        assert!(c.receipt.is_none(), "nothing filed before the explicit yes");
        c = say(&a, &mut s, "对的");
    }
    assert!(c.text.contains("承诺"), "reads the commitment: {}", c.text);
    assert!(c.receipt.is_none(), "nothing filed before the explicit yes");
    let f = say(&a, &mut s, "同意");
    let receipt = f.receipt.clone().expect("filed with a receipt");
    assert!(f.text.contains("回执号"), "{}", f.text);
    assert!(
        f.text.contains("补交"),
        "materials owed with deadline: {}",
        f.text
    );
    let store = a.store.lock().unwrap();
    assert!(
        store.show(&receipt, false).unwrap().is_some(),
        "the filing is in the store"
    );
    assert!(store.verify().unwrap().ok);
}

#[test]
fn several_fields_in_one_sentence_and_a_correction_at_any_time() {
    let (_d, a, mut s) = setup();
    say(&a, &mut s, "我要办居住登记");
    let r = say(&a, &mut s, "我叫李华，电话13912345678");
    assert!(
        !r.text.contains("叫什么名字"),
        "name already given: {}",
        r.text
    );
    assert!(
        !r.text.contains("手机号是多少"),
        "phone already given: {}",
        r.text
    );
    let r = say(&a, &mut s, "名字不对，是王小明");
    assert!(
        r.text.contains("王小明"),
        "correction confirmed: {}",
        r.text
    );
}

#[test]
fn cancel_at_any_step_files_nothing() {
    let (_d, a, mut s) = setup();
    say(&a, &mut s, "我要办居住登记");
    say(&a, &mut s, "我叫王小明");
    // cancelling is asked about first: nothing is lost on a misheard word
    let r = say(&a, &mut s, "取消");
    assert!(r.text.contains("确定不办了吗"), "{}", r.text);
    assert_eq!(r.flow, "declaration");
    let r = say(&a, &mut s, "对");
    assert!(r.text.contains("没有提交"), "{}", r.text);
    assert_eq!(r.flow, "idle");
    let store = a.store.lock().unwrap();
    let filings = store
        .list(xiaoan_records::RecordKind::parse("filing"), 10, false)
        .unwrap();
    assert!(filings.is_empty(), "nothing filed");
}

#[test]
fn an_emergency_in_the_middle_of_a_form_is_handled_at_once() {
    let (_d, a, mut s) = setup();
    say(&a, &mut s, "我要办居住登记");
    say(&a, &mut s, "我叫王小明");
    let r = say(&a, &mut s, "救命，我家老人摔倒了起不来");
    assert!(r.text.contains("120"), "120 guidance: {}", r.text);
    assert!(!r.text.contains("身份证号"), "no form question first");
    assert_eq!(r.flow, "emergency");
    assert!(r.receipt.is_some(), "staff notified through a stored event");
}

/// Garbled words (what Whisper base heard for 居住证明) never raise the alarm or file
/// anything: 小安 asks what was meant. What happens when the classifier's weak guess is
/// "emergency" (asked once; yes calls help at once; an unclear answer is asked again, then
/// staff come to look) is the emergency flow's own tests (`agent/src/dialogue/flows/tests/emergency.rs`).
#[test]
fn garbled_words_raise_no_alarm_and_words_that_name_an_emergency_act_at_once() {
    let (_d, a, mut s) = setup();
    let r = say(&a, &mut s, "九座窗面");
    assert_ne!(r.flow, "emergency", "no alarm on noise: {r:?}");
    assert!(r.receipt.is_none(), "nothing filed: {r:?}");
    assert!(r.text.contains('？'), "asks what was meant: {}", r.text);
    // words that name an emergency never wait for a question
    let (_d, a, mut s) = setup();
    let r = say(&a, &mut s, "快来人啊，老人不行了");
    assert_eq!(r.flow, "emergency", "{r:?}");
    let (_d, a, mut s) = setup();
    let r = say(&a, &mut s, "我爸心脏不舒服快不行了");
    assert_eq!(r.flow, "emergency", "{r:?}");
}

#[test]
fn a_misheard_guide_question_is_confirmed_first_then_answered_on_yes() {
    // 门禁 as a recogniser might mishear it (闷禁): the classifier's weak guess is "out
    // of scope", but it sounds like the door-access item
    let (_d, a, mut s) = setup();
    let r = say(&a, &mut s, "闷禁");
    assert_eq!(r.text, "您是想问“门禁刷脸和安防报警器”吗？", "{r:?}");
    assert_eq!(
        (r.flow.as_str(), r.awaiting.as_str()),
        ("clarify", "yes_no")
    );
    let r = say(&a, &mut s, "是的");
    assert_eq!(r.flow, "service", "{r:?}");
    assert!(
        r.text.contains("刷脸") && r.text.contains('？'),
        "{}",
        r.text
    );
    // a no: nothing answered, asked to say it again
    let (_d, a, mut s) = setup();
    say(&a, &mut s, "闷禁");
    let r = say(&a, &mut s, "不是");
    assert!(r.text.contains("再说一遍"), "{}", r.text);
    assert_eq!(r.flow, "idle", "{r:?}");
    // after an answer (a yes/no is pending), the next misheard question is confirmed too
    let (_d, a, mut s) = setup();
    say(&a, &mut s, "老年人优待卡怎么办");
    let r = say(&a, &mut s, "闷禁");
    assert!(r.text.contains("门禁刷脸和安防报警器"), "not a stop: {r:?}");
}

#[test]
fn a_guess_never_starts_a_form() {
    // 房产过户 garbled (访参过户了): the classifier's unsure guess is "declaration"; the guide item is
    // confirmed and answered, no form is opened
    let (_d, a, mut s) = setup();
    let r = say(&a, &mut s, "访参过户了");
    assert!(
        r.text.contains("房产过户") && r.text.ends_with("吗？"),
        "{r:?}"
    );
    let r = say(&a, &mut s, "对");
    assert_eq!(r.flow, "service", "{r:?}");
    assert!(r.receipt.is_none());
}

#[test]
fn an_off_topic_question_still_gets_the_out_of_scope_reply() {
    let (_d, a, mut s) = setup();
    for q in ["明天会下雨吗", "帮我叫个外卖", "讲个笑话吧"] {
        let r = say(&a, &mut s, q);
        assert!(r.text.contains("帮不上忙"), "{q}: {}", r.text);
        assert_eq!(r.flow, "idle", "{q}: {r:?}");
    }
}

#[test]
fn a_dispute_with_danger_goes_straight_to_the_emergency_path() {
    let (_d, a, mut s) = setup();
    let r = say(&a, &mut s, "邻居拿刀威胁要打人，我想找人调解");
    assert_eq!(r.flow, "emergency", "{r:?}");
}

#[test]
fn a_noise_dispute_becomes_a_mediation_case_with_a_number() {
    let (_d, a, mut s) = setup();
    let r = say(&a, &mut s, "楼上天天半夜吵，想找人调解");
    assert_eq!(r.flow, "mediation", "{r:?}");
    let mut last = r;
    for answer in [
        "楼上邻居",
        "5号楼",
        "希望他们晚上小声点",
        "王小明",
        "13812345678",
        "没有",
        "对的",
        "对的",
        "对的",
        "可以",
    ] {
        if last.receipt.is_some() {
            break;
        }
        last = say(&a, &mut s, answer);
    }
    assert!(last.receipt.is_some(), "a case number: {last:?}");
    assert!(
        last.text.contains("回访"),
        "48-hour follow-up promised: {}",
        last.text
    );
}

#[test]
fn silence_reprompts_then_ends_keeping_the_draft_for_staff() {
    let (_d, a, mut s) = setup();
    say(&a, &mut s, "我要办居住登记");
    say(&a, &mut s, "我叫王小明");
    let r1 = a.on_silence(&mut s);
    assert!(!r1.end_session);
    assert!(r1.text.contains("我还在"), "{}", r1.text);
    let r2 = a.on_silence(&mut s);
    assert!(r2.end_session);
    assert!(
        r2.text.contains("保存"),
        "the resident is told the draft is kept: {}",
        r2.text
    );
    let store = a.store.lock().unwrap();
    let drafts = store
        .list(xiaoan_records::RecordKind::parse("draft"), 10, false)
        .unwrap();
    assert_eq!(drafts.len(), 1, "draft kept for staff");
}

#[test]
fn asking_for_more_time_extends_the_time_out() {
    let (_d, a, mut s) = setup();
    say(&a, &mut s, "我要办居住登记");
    let r = say(&a, &mut s, "等一下");
    assert!(r.text.contains("不着急"), "{}", r.text);
    assert!(!a.on_silence(&mut s).end_session);
    assert!(
        !a.on_silence(&mut s).end_session,
        "more time: a second re-prompt instead of ending"
    );
}

#[test]
fn unclear_words_get_one_clarifying_question_not_a_form() {
    let (_d, a, mut s) = setup();
    let r = say(&a, &mut s, "那个");
    assert_ne!(r.flow, "declaration", "{r:?}");
    assert!(r.receipt.is_none());
}

/// "您是想A，还是想B？" answered "对" names neither: the resident is asked which, not
/// taken to mean the first; "不是" means neither; "后面那个" picks the second.
#[test]
fn a_yes_to_an_either_or_question_is_not_taken_as_the_first_choice() {
    // words like what Whisper base heard for the demo's address clip (三 二 的河水, which
    // the n-gram model retrained in session 16 reads as a guide question and finds nothing
    // for); the classifier is unsure of these between two intents
    const UNCLEAR: &str = "三 二 号 河水";
    let (_d, a, mut s) = setup();
    let r = say(&a, &mut s, UNCLEAR);
    assert!(
        r.text.contains("还是想"),
        "an either/or question: {}",
        r.text
    );
    let r = say(&a, &mut s, "对");
    assert!(r.text.contains("还是想"), "asked which: {r:?}");
    assert!(
        r.receipt.is_none() && r.flow == "clarify",
        "nothing started: {r:?}"
    );
    let r = say(&a, &mut s, "对");
    assert!(r.text.contains("换个说法"), "no third time round: {r:?}");
    let (_d, a, mut s) = setup();
    say(&a, &mut s, UNCLEAR);
    let r = say(&a, &mut s, "不是");
    assert!(r.text.contains("再说一遍") && r.flow == "idle", "{r:?}");
    let (_d, a, mut s) = setup();
    let first = say(&a, &mut s, UNCLEAR);
    let r = say(&a, &mut s, "后面那个");
    assert_ne!(r.flow, "clarify", "a pick is acted on: {first:?} -> {r:?}");
}

/// An ID or phone number keyed in while nothing asks for one (the demo, after its
/// declaration was misheard): the resident is told what it looks like and what to say
/// first, the number is not read back, and nothing is started or filed.
#[test]
fn a_number_keyed_in_with_nothing_asking_for_it_is_explained_not_guessed_at() {
    let (_d, a, mut s) = setup();
    let r = say(&a, &mut s, "320503198506123049");
    assert!(
        r.text.contains("身份证号") && r.text.contains("要办什么事"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("3205"), "not read back: {}", r.text);
    assert!(r.receipt.is_none() && r.flow == "idle", "{r:?}");
    let r = say(&a, &mut s, "138 1234 5678");
    assert!(r.text.contains("手机号"), "{}", r.text);
    // inside a form the same digits are the answer
    let (_d, a, mut s) = setup();
    say(&a, &mut s, "我要办居住登记");
    say(&a, &mut s, "我叫王小明");
    let r = say(&a, &mut s, "320503198506123049");
    assert!(!r.text.contains("这像是"), "{}", r.text);
}

#[test]
fn handoff_gives_a_ticket_and_where_to_wait() {
    let (_d, a, mut s) = setup();
    say(&a, &mut s, "社保卡怎么办");
    let r = say(&a, &mut s, "我要找工作人员");
    assert!(r.text.contains("窗口这儿稍等"), "{}", r.text);
    let ticket = r.receipt.expect("ticket");
    let store = a.store.lock().unwrap();
    let d = store.show(&ticket, true).unwrap().expect("ticket stored");
    let body = d.record.to_string();
    assert!(
        body.contains("社保卡怎么办"),
        "the conversation so far is in the ticket"
    );
}

#[test]
fn dialect_switch_on_request_changes_the_session_voice() {
    let (_d, a, mut s) = setup();
    say(&a, &mut s, "我讲广东话得唔得");
    assert_eq!(s.dialect.as_deref(), Some("yue"));
    say(&a, &mut s, "我讲上海话侬听得懂伐");
    assert_eq!(s.dialect.as_deref(), Some("wuu-sh"));
}

#[test]
fn appointments_are_booked_with_a_number() {
    let (_d, a, mut s) = setup();
    // a named weekday, not "tomorrow": tomorrow may be a day the centre is closed
    let r = say(&a, &mut s, "帮我约个下周三上午十点办社保卡");
    let r = if r.receipt.is_none() {
        say(&a, &mut s, "下周三上午十点")
    } else {
        r
    };
    assert!(r.receipt.is_some(), "{r:?}");
    assert!(r.text.contains("约好了"), "{}", r.text);
}

#[test]
fn kiosk_profile_wipes_the_session_so_the_next_resident_hears_nothing_of_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let a = agent_in(dir.path(), "profile = \"kiosk\"\n");
    assert!(a.settings.reset_after_session);
    let mut s = a.new_session();
    say(&a, &mut s, "我要办居住登记");
    say(&a, &mut s, "我叫王小明");
    a.on_silence(&mut s);
    let end = a.on_silence(&mut s);
    assert!(end.end_session);
    let mut next = a.new_session();
    let r = say(&a, &mut next, "再说一遍");
    assert!(!r.text.contains("王小明"), "{}", r.text);
}

#[test]
fn every_reply_is_spoken_text() {
    let (_d, a, mut s) = setup();
    for t in ["你好", "敬老卡", "现在排队要等多久", "明天会下雨吗", "再见"] {
        let r = say(&a, &mut s, t);
        assert!(!r.text.trim().is_empty(), "\"{t}\" gets a spoken reply");
    }
}

#[test]
fn an_alert_the_store_refused_is_not_claimed_and_is_retried_until_it_is_recorded() {
    let (_d, a, mut s) = setup();
    xiaoan::stories::fail_store_writes(&a, true).unwrap();
    let r = say(&a, &mut s, "救命，我摔倒了");
    assert!(!r.text.contains("已经通知"), "never claims it: {}", r.text);
    assert!(
        r.text.contains("还没收到通知") && r.text.contains("120") && r.text.contains("窗口"),
        "the truth and what to do now: {}",
        r.text
    );
    assert!(r.earcon.is_some(), "a chime for staff nearby");
    assert_eq!(r.receipt, None);
    assert_eq!(s.pending_alerts.len(), 1, "kept for retrying");
    // still failing on the next turn: kept, and the resident is not told otherwise
    let r = say(&a, &mut s, "在大厅");
    assert!(
        r.text.contains("大厅") && r.text.contains("还没收到通知"),
        "{}",
        r.text
    );
    assert_eq!(s.pending_alerts.len(), 1);
    // the store works again: the next turn gets the event through, with the place
    xiaoan::stories::fail_store_writes(&a, false).unwrap();
    let r = say(&a, &mut s, "再见");
    assert!(r.text.contains("已经送到工作人员"), "{}", r.text);
    assert!(s.pending_alerts.is_empty());
    let no = r.receipt.expect("the event's number");
    let shown = a.store.lock().unwrap().show(&no, true).unwrap().unwrap();
    assert_eq!(shown.record["wait_at"], "大厅", "{:?}", shown.record);
}

#[test]
fn a_hand_over_the_store_refused_is_retried_at_the_end_of_the_session() {
    let (_d, a, mut s) = setup();
    xiaoan::stories::fail_store_writes(&a, true).unwrap();
    let r = say(&a, &mut s, "我要找工作人员");
    assert!(
        !r.text.contains("我请工作人员来帮您") && r.text.contains("窗口"),
        "{}",
        r.text
    );
    assert_eq!(s.pending_alerts.len(), 1);
    xiaoan::stories::fail_store_writes(&a, false).unwrap();
    // the session ends on a time-out: one last try before it goes
    a.on_silence(&mut s);
    a.on_silence(&mut s);
    assert!(s.ended);
    assert!(s.pending_alerts.is_empty(), "recorded at the end");
    let handoffs = a
        .store
        .lock()
        .unwrap()
        .list(None, 10, false)
        .unwrap()
        .into_iter()
        .filter(|r| r.kind.as_str() == "event")
        .count();
    assert_eq!(handoffs, 1);
}

#[test]
fn stop_is_not_cancel_and_goodbye_mid_form_asks_to_keep_it() {
    let (_d, a, mut s) = setup();
    say(&a, &mut s, "我要办居住登记");
    say(&a, &mut s, "我叫王小明");
    for hush in ["别说了", "停"] {
        let r = say(&a, &mut s, hush);
        assert_eq!(
            r.flow, "declaration",
            "\"{hush}\" keeps the form: {}",
            r.text
        );
        assert!(!r.text.contains("没有提交"), "{}", r.text);
    }
    let r = say(&a, &mut s, "继续");
    assert!(
        r.text.contains("身份证号"),
        "back to the question: {}",
        r.text
    );
    // 取消 asks first; 不 goes on with the form where it was
    let r = say(&a, &mut s, "取消");
    assert!(r.text.contains("确定不办了吗"), "{}", r.text);
    let r = say(&a, &mut s, "不");
    assert!(r.text.contains("身份证号"), "{}", r.text);
    // 再见 is never a value: it asks whether to keep what was filled
    let r = say(&a, &mut s, "再见");
    assert!(r.text.contains("要帮您留"), "{}", r.text);
    let r = say(&a, &mut s, "要");
    assert!(r.end_session && r.text.contains("留着"), "{}", r.text);
    let drafts = a
        .store
        .lock()
        .unwrap()
        .list(xiaoan_records::RecordKind::parse("draft"), 10, true)
        .unwrap();
    assert_eq!(drafts.len(), 1, "the draft is kept for staff");
}

#[test]
fn repeated_slower_says_one_short_acknowledgement_and_the_slowest_once() {
    let (_d, a, mut s) = setup();
    let answer = say(&a, &mut s, "低保怎么申请").text;
    let mut heard = Vec::new();
    for _ in 0..7 {
        heard.push(say(&a, &mut s, "说慢一点").text);
    }
    for h in &heard {
        assert!(h.ends_with(&answer), "the answer again: {h}");
        let prefix = &h[..h.len() - answer.len()];
        assert!(
            prefix.chars().count() <= 9,
            "one short acknowledgement: {h}"
        );
    }
    let slowest = heard.iter().filter(|h| h.contains("已经是最慢了")).count();
    assert_eq!(slowest, 1, "{heard:#?}");
}

#[test]
fn after_a_control_inside_a_form_the_pending_question_is_asked_again() {
    let (_d, a, mut s) = setup();
    say(&a, &mut s, "我要办居住登记");
    say(&a, &mut s, "我叫王小明");
    for c in ["大声一点", "小声一点", "我能说什么"] {
        let r = say(&a, &mut s, c);
        assert!(r.text.contains("身份证号"), "\"{c}\": {}", r.text);
    }
}

#[test]
fn control_characters_never_change_settings() {
    let (_d, a, mut s) = setup();
    say(&a, &mut s, "我要办居住登记");
    say(&a, &mut s, "我叫王小明");
    let (rate, volume, dialect) = (s.rate_wpm, s.volume, s.dialect.clone());
    for junk in [
        "\u{1b}[A\u{1b}[B",
        "\u{7}\u{8}\u{1b}[2~",
        "\u{202e}\u{200b}\u{feff}",
        "\t\r",
    ] {
        let r = say(&a, &mut s, junk);
        assert!(r.text.contains("没听清"), "{junk:?}: {}", r.text);
        assert_eq!(r.flow, "declaration", "the form goes on");
    }
    assert_eq!(
        (s.rate_wpm, s.volume, s.dialect.clone()),
        (rate, volume, dialect)
    );
    let r = say(&a, &mut s, "320503198506123049");
    assert!(r.text.contains("手机号"), "{}", r.text);
}

#[test]
fn chat_skips_a_line_of_invalid_utf8_and_the_form_goes_on() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(xiaoan_tests::xiaoan_bin())
        .args(["chat", "--jsonl"])
        .env("XIAOAN_HOME", home.path())
        .current_dir(home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all("我要办居住登记\n我叫王小明\n".as_bytes())
            .unwrap();
        stdin.write_all(b"\xff\xfe\x80 broken\n").unwrap();
        stdin.write_all("320503198506123049\n".as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "chat exits cleanly");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not UTF-8"), "the skip is named: {err}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[2]["awaiting"], "slot:phone", "{}", lines[2]);
}

#[test]
fn a_hand_over_says_what_happens_next_where_the_resident_is() {
    for (profile, next) in [
        ("robot", "请在原地等，工作人员过来找您"),
        ("window", "您就在窗口这儿稍等"),
        ("kiosk", "请到网格站的服务台"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let a = agent_in(dir.path(), &format!("profile = \"{profile}\"\n"));
        let mut s = a.new_session();
        let r = say(&a, &mut s, "我要找工作人员");
        assert!(r.text.contains(next), "{profile}: {}", r.text);
        assert!(r.text.contains("您的号是"), "{profile}: {}", r.text);
    }
}

#[test]
fn after_three_failed_tries_at_a_number_a_kiosk_offers_its_keypad_and_takes_the_typed_number() {
    let dir = tempfile::tempdir().unwrap();
    let a = agent_in(dir.path(), "profile = \"kiosk\"\n");
    let mut s = a.new_session();
    say(&a, &mut s, "我要开一个居住证明");
    say(&a, &mut s, "我叫王小明");
    let mut last = String::new();
    for _ in 0..3 {
        last = say(&a, &mut s, "一二三").text;
    }
    assert!(last.contains("键盘"), "the keypad is offered: {last}");
    let r = say(&a, &mut s, "320503198506123049");
    assert!(
        r.text.contains("手机号"),
        "the typed ID is taken, next field: {}",
        r.text
    );
    // the robot has no keypad: a person is offered instead
    let dir = tempfile::tempdir().unwrap();
    let a = agent_in(dir.path(), "profile = \"robot\"\n");
    let mut s = a.new_session();
    say(&a, &mut s, "我要开一个居住证明");
    say(&a, &mut s, "我叫王小明");
    for _ in 0..3 {
        last = say(&a, &mut s, "一二三").text;
    }
    assert!(
        !last.contains("键盘") && last.contains("工作人员"),
        "{last}"
    );
}

#[test]
fn numbers_are_read_back_whole_only_at_the_window() {
    let id = "320503198506123049";
    for (profile, whole) in [("window", true), ("robot", false), ("kiosk", false)] {
        let dir = tempfile::tempdir().unwrap();
        let a = agent_in(
            dir.path(),
            &format!("profile = \"{profile}\"\n[dialogue]\nconfirm_each_step = true\n"),
        );
        let mut s = a.new_session();
        say(&a, &mut s, "我要开一个居住证明");
        say(&a, &mut s, "我叫王小明");
        let r = say(&a, &mut s, id);
        let spoken_whole = r.text.contains("三二零五零三");
        assert_eq!(spoken_whole, whole, "{profile}: {}", r.text);
        if !whole {
            assert!(r.text.contains("尾号三零四九"), "{profile}: {}", r.text);
        }
    }
}

#[test]
fn chat_jsonl_masks_the_numbers_a_resident_typed() {
    let bin = xiaoan_tests::xiaoan_bin();
    if !bin.is_file() {
        return xiaoan_testkit::skip(
            "chat_jsonl_masks: the xiaoan binary is not built (run make setup)",
        );
    }
    let d = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(bin)
        .args(["chat", "--jsonl"])
        .env("XIAOAN_HOME", d.path())
        .current_dir(d.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "我的电话是13912345678").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let turn: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(turn["user"], "我的电话是139****5678", "{text}");
}

#[test]
fn a_held_database_lock_never_holds_up_an_emergency_and_the_alert_goes_through_after() {
    let dir = tempfile::tempdir().unwrap();
    let a = agent_in(dir.path(), "");
    let mut s = a.new_session();
    // another process holds the write lock (a backup, a staff tool)
    let other = rusqlite::Connection::open(dir.path().join("records.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let t = std::time::Instant::now();
    let r = say(&a, &mut s, "救命，我家老人摔倒了");
    let waited = t.elapsed();
    // before: 10 s of silence, then "已经通知工作人员"
    assert!(waited < std::time::Duration::from_secs(5), "{waited:?}");
    assert!(!r.text.contains("我已经通知工作人员"), "{}", r.text);
    assert!(
        r.text.contains("120"),
        "guidance is given at once: {}",
        r.text
    );
    other.execute_batch("COMMIT").unwrap();
    let r = say(&a, &mut s, "在三号楼502室");
    assert!(
        r.text.contains("送到") || r.text.contains("收到"),
        "{}",
        r.text
    );
    let events = a
        .store
        .lock()
        .unwrap()
        .list(Some(xiaoan_records::RecordKind::Event), 10, true)
        .unwrap();
    assert_eq!(
        events.len(),
        1,
        "the alert reached the store once: {events:?}"
    );
}
