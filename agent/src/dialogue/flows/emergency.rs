//! Emergencies: raised at once from any state (staff alerted, the guidance that fits the
//! kind said), asked about first when only a weak guess says so, and then staying with
//! the resident: where they are, more about it, the key instruction again.

use xiaoan_audio::Earcon;
use xiaoan_intents::{EntityKind, Intent, Understanding};

use super::acts::ticket_for_staff;
use super::cancel::save_draft;
use super::state::Flow;
use super::values::{is_skip, plain, without_lead, FILLERS};
use crate::dialogue::reply::{digits_for_ear, Reply};
use crate::dialogue::session::Session;
use crate::dialogue::Agent;
use crate::records;

const CONFIRM_EMERGENCY: &str = "您是遇到急事了吗？要我马上叫工作人员吗？";
const CONFIRM_EMERGENCY_AGAIN: &str = "我没听清。要马上叫人来帮您吗？要就说“是”，不要就说“不是”。";
pub(super) const ASK_PLACE: &str = "您能告诉我在哪里吗？比如“3号楼502室”，或者“就在门口”。";

/// The emergency question, first time and asked again (plainer).
pub(super) fn confirm_question(again: bool) -> &'static str {
    if again {
        CONFIRM_EMERGENCY_AGAIN
    } else {
        CONFIRM_EMERGENCY
    }
}

/// Emergency: at once, from any state. Tell the resident help is coming, notify staff
/// (an event in the store), give 120/110 guidance. A form in progress is kept as a
/// draft, never asked about first.
pub fn emergency(a: &Agent, s: &mut Session, u: &Understanding) -> Reply {
    emergency_said(a, s, &u.normalized.original)
}

/// An unsure guess of "emergency" outside a form, or a guess without emergency words
/// while a form is being filled (most likely its answer misheard: 孩子上学用 heard as
/// 孩子上血用): one yes/no question first. A resident in danger answers "是" and help is
/// called; noise does not alarm the staff, and a form in progress is taken up again.
pub fn confirm_emergency(s: &mut Session, u: &Understanding) -> Reply {
    let resume = s
        .flow
        .is_collecting()
        .then(|| Box::new(std::mem::replace(&mut s.flow, Flow::Idle)));
    s.flow = Flow::ConfirmEmergency {
        said: u.normalized.original.clone(),
        again: false,
        resume,
    };
    Reply::say(CONFIRM_EMERGENCY)
}

/// Back to the form the emergency question broke into (nothing when there was none).
fn take_up_again(s: &mut Session, resume: Option<Box<Flow>>) {
    s.flow = resume.map_or(Flow::Idle, |f| *f);
}

/// The answer to the emergency question. Yes (or a strong reading of emergency) calls
/// help; no ends it; a clear other request drops the question (`None`: handled as
/// usual). An answer that is not clear is asked about once more in plainer words, and
/// if the second is not clear either, staff are asked to come and see the resident (a
/// hand-over ticket, not an alarm): a person checks, and noise never raises the alarm.
pub(super) fn emergency_answer(
    a: &Agent,
    s: &mut Session,
    said: String,
    again: bool,
    resume: Option<Box<Flow>>,
    u: &Understanding,
) -> Option<Reply> {
    let i = &u.intent;
    if i.intent == Intent::ConfirmYes || crate::dialogue::strong_emergency_guess(u) {
        // a form in progress is kept as a draft, as for any emergency
        take_up_again(s, resume);
        return Some(emergency_said(
            a,
            s,
            &format!("{said}（确认：{}）", u.normalized.original),
        ));
    }
    if i.intent == Intent::ConfirmNo {
        take_up_again(s, resume);
        const FINE: &str = "好的，没事就好。";
        return Some(match &s.flow {
            // the form's own question again, where it was
            Flow::Form(st) => {
                let st = st.clone();
                super::form::ask_next(a, s, st, FINE.into())
            }
            f => Reply::say(match f.prompt() {
                Some(q) => format!("{FINE}{q}"),
                None => format!("{FINE}您想办什么事？"),
            }),
        });
    }
    // the line under which a reading counts as weak (as for a second opinion)
    let clear = !i.unsure && i.confidence >= crate::route::SECOND_OPINION_BELOW;
    if clear && i.intent != Intent::Emergency {
        // something else said clearly: handled as usual, or, when a form was broken
        // into, as the form's answer (the field said again, 孩子上学用)
        let form = resume.is_some();
        take_up_again(s, resume);
        return if form {
            super::continue_flow(a, s, u)
        } else {
            None
        };
    }
    if !again {
        s.flow = Flow::ConfirmEmergency {
            said,
            again: true,
            resume,
        };
        return Some(Reply::say(CONFIRM_EMERGENCY_AGAIN));
    }
    take_up_again(s, resume);
    Some(check_on_resident(
        a,
        s,
        "我还是没听清楚。我请工作人员过来看看您，请您在这里稍等。",
    ))
}

/// No clear answer to the emergency question (twice unclear, or silence): a hand-over
/// ticket asking staff to come over, and the resident is told to stay where they are.
pub(crate) fn check_on_resident(a: &Agent, s: &mut Session, text: &str) -> Reply {
    // a form the question broke into is kept for staff as a draft
    if let Flow::ConfirmEmergency { resume, .. } = &mut s.flow {
        let resume = resume.take();
        take_up_again(s, resume);
    }
    ticket_for_staff(a, s, |_| text.to_string())
}

/// What kind of emergency the words name, for the guidance that fits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmergencyKind {
    /// Fire, smoke, gas: get out, call 119.
    Fire,
    /// Someone hurt or taken ill: call 120.
    Medical,
    /// Violence or a threat, or someone lost: call 110.
    Violence,
    /// Someone may harm themselves: the crisis line, and stay with them.
    SelfHarm,
    /// Not clear which: 120 for the hurt or ill, 110 for danger.
    General,
}

/// The words that name each kind, in the order they are checked (words of self-harm
/// first: "不想活了" is never read as anything else).
const KIND_WORDS: &[(EmergencyKind, &[&str])] = &[
    (
        EmergencyKind::SelfHarm,
        &[
            "不想活",
            "想不开",
            "自杀",
            "轻生",
            "寻死",
            "想死",
            "跳楼",
            "割腕",
            "活不下去",
        ],
    ),
    (
        EmergencyKind::Fire,
        &[
            "着火", "著火", "失火", "火灾", "冒烟", "火烛", "火燭", "煤气", "燃气", "119",
        ],
    ),
    (
        EmergencyKind::Violence,
        &[
            "打人",
            "被人打",
            "打我",
            "砍",
            "拿刀",
            "动刀",
            "抢",
            "威胁",
            "家暴",
            "小偷",
            "偷",
            "走丢",
            "报警",
            "110",
        ],
    ),
    (
        EmergencyKind::Medical,
        &[
            "摔",
            "跌",
            "起不来",
            "站不起来",
            "爬不起来",
            "晕",
            "昏",
            "叫不醒",
            "血",
            "喘",
            "呼吸",
            "心脏",
            "胸口",
            "中风",
            "触电",
            "溺水",
            "烫伤",
            "伤",
            "说不出话",
            "说不了话",
            "不行了",
            "不省人事",
            "救护车",
            "120",
            "疼",
            "痛",
            "病",
        ],
    ),
];

/// The national psychological assistance hotline 12356 (全国统一心理援助热线, run by
/// the National Health Commission since 2025), read digit by digit.
pub const CRISIS_LINE: &str = "12356";

impl EmergencyKind {
    /// The kind named in the words (normalised or as said).
    pub fn of(text: &str) -> EmergencyKind {
        KIND_WORDS
            .iter()
            .find(|(_, words)| words.iter().any(|w| text.contains(w)))
            .map(|(kind, _)| *kind)
            .unwrap_or(EmergencyKind::General)
    }

    /// What to do now, in a sentence or two.
    pub fn guidance(self) -> String {
        match self {
            EmergencyKind::Fire => {
                "着火了先出去，别坐电梯，走楼梯，出去以后马上打119。".to_string()
            }
            EmergencyKind::Medical => "有人受伤或者病了，请马上打120。".to_string(),
            EmergencyKind::Violence => "先到安全的地方，马上打110报警。".to_string(),
            EmergencyKind::SelfHarm => format!(
                "您不是一个人，我在这儿陪着您。心理援助热线是{}，现在就能打，有人听您说。有危险请马上打120或者110。",
                digits_for_ear(CRISIS_LINE, 5)
            ),
            EmergencyKind::General => {
                "如果有人受伤或者病得厉害，请马上打120；有危险请打110。".to_string()
            }
        }
    }

    /// Short label written on the event for staff.
    fn label(self) -> &'static str {
        match self {
            EmergencyKind::Fire => "火情",
            EmergencyKind::Medical => "受伤或急病",
            EmergencyKind::Violence => "人身危险",
            EmergencyKind::SelfHarm => "自伤风险",
            EmergencyKind::General => "紧急求助",
        }
    }
}

/// Said when a staff alert did not reach the store: the truth, and what to do now.
fn not_notified(guidance: &str) -> String {
    format!(
        "系统出了问题，工作人员还没收到通知，我会一直重试。请您现在就自己求助：{guidance}也可以大声叫附近的人，或者到最近的窗口找工作人员。"
    )
}

/// A reply of the emergency flow.
fn emergency_reply(text: String) -> Reply {
    let mut r = Reply::say(text);
    r.flow = "emergency".into();
    r
}

/// Raise the alarm for `said`: any form kept as a draft, the event recorded, the
/// guidance for its kind, and where the resident is asked. When the store refuses the
/// event, the resident hears that staff do not know yet, and what to do themselves.
fn emergency_said(a: &Agent, s: &mut Session, said: &str) -> Reply {
    let _ = save_draft(a, s, "emergency");
    let kind = EmergencyKind::of(said);
    let event = records::emergency(a, s, &format!("【{}】{said}", kind.label()));
    let guidance = kind.guidance();
    let text = match &event {
        Ok(_) => format!("别着急，我已经通知工作人员，马上过来。{guidance}{ASK_PLACE}"),
        Err(_) => format!("别着急。{}{ASK_PLACE}", not_notified(&guidance)),
    };
    let ticket = event.ok();
    s.flow = Flow::Emergency {
        kind,
        ticket: ticket.clone(),
        place: None,
        asked: 1,
    };
    // the error earcon doubles as the staff chime on devices with a speaker
    let mut r = emergency_reply(text).with_earcon(Earcon::Error);
    if let Some(no) = &ticket {
        s.last_number = Some((no.clone(), "求助".into()));
    }
    r.receipt = ticket;
    r
}

/// Words that say where someone is (门口, 3号楼, 厕所…), in the dialects too.
const PLACES: &[&str] = &[
    "门口",
    "大厅",
    "楼",
    "室",
    "号",
    "家",
    "屋",
    "房间",
    "厕所",
    "卫生间",
    "洗手间",
    "厨房",
    "电梯",
    "楼梯",
    "走廊",
    "院子",
    "小区",
    "路",
    "街",
    "广场",
    "公园",
    "窗口",
    "停车场",
    "车库",
    "这里",
    "这儿",
    "这边",
    "外面",
    "里面",
    "门外",
    "阳台",
    "菜场",
    "超市",
    "食堂",
    "活动室",
    "花园",
    "门口头",
    "屋企",
    "呢度",
    "大堂",
    "門口",
    "樓",
    "屋里厢",
    "搿搭",
];

/// Where the resident says they are ("在3号楼502室", "就在门口", "在大厅"), if the words
/// are a place.
pub fn place_in(u: &Understanding) -> Option<String> {
    if let Some(e) = u.entities.iter().find(|e| e.kind == EntityKind::Address) {
        // the whole answer when it holds more than the address (幸福路8号3号楼502室)
        let whole = place_words(&u.normalized.original);
        return Some(match whole {
            Some(w) if w.contains(e.value.as_str()) => w,
            _ => e.value.clone(),
        });
    }
    let t = &u.normalized.text;
    if PLACES.iter().any(|p| t.contains(p)) {
        return place_words(&u.normalized.original);
    }
    None
}

/// The place in the words, without the words around it ("在3号楼502室" → "3号楼502室").
fn place_words(original: &str) -> Option<String> {
    const LEADS: &[&str] = &[
        "我们就在",
        "我就在",
        "我们在",
        "他们在",
        "我在",
        "他在",
        "她在",
        "人在",
        "就在",
        "在",
        "我哋喺",
        "我喺",
        "佢喺",
        "就喺",
        "喺",
        "我辣",
        "辣",
    ];
    let t = without_lead(original.trim(), LEADS)
        .trim_matches(|c: char| "。，,.！!？? 了呢啊呀".contains(c));
    (!t.is_empty()).then(|| t.to_string())
}

/// An emergency raised in this session, as [`Flow::Emergency`] holds it.
pub(super) struct Alert {
    /// Which kind, for the guidance.
    pub(super) kind: EmergencyKind,
    /// The event's number, `None` while it is not recorded.
    pub(super) ticket: Option<String>,
    /// Where the resident is, once said (empty: they could not say).
    pub(super) place: Option<String>,
    /// Times the place has been asked.
    pub(super) asked: u32,
}

impl Alert {
    /// The flow that stays with the resident.
    fn into_flow(self) -> Flow {
        Flow::Emergency {
            kind: self.kind,
            ticket: self.ticket,
            place: self.place,
            asked: self.asked,
        }
    }

    /// What the resident hears about staff: never claimed before it is true (staff come
    /// only once the alert is recorded).
    fn staff(&self) -> &'static str {
        if self.ticket.is_some() {
            "工作人员马上到。"
        } else {
            "工作人员还没收到通知，我一直在重试，请您也自己打电话求助。"
        }
    }
}

/// After an emergency: the place, then staying with the resident. `None`: the words
/// are about something else, handled as usual (the event stays with staff).
pub(super) fn emergency_follow_up(
    a: &Agent,
    s: &mut Session,
    alert: Alert,
    u: &Understanding,
) -> Option<Reply> {
    let now_kind = kind_now(a, s, &alert, u);
    if alert.place.is_none() {
        if let Some(p) = place_in(u) {
            return Some(place_given(a, s, alert, now_kind, p));
        }
    }
    let intent = u.intent.intent;
    let about_it = intent == Intent::Emergency || now_kind != alert.kind;
    let said = plain(&u.normalized.text);
    // "好" / "嗯" / "是": heard, not a new request; the emergency goes on
    let ack = matches!(intent, Intent::ConfirmYes | Intent::ConfirmNo)
        || said.is_empty()
        || FILLERS.contains(&said.as_str());
    let cannot_say = intent == Intent::ConfirmNo || is_skip(&u.normalized.text);
    if alert.place.is_none() && (about_it || ack || cannot_say) {
        return Some(ask_place_again(s, alert, now_kind, cannot_say));
    }
    if about_it || ack {
        return Some(stay_with(s, alert, now_kind, about_it));
    }
    s.flow = Flow::Idle;
    None
}

/// The kind of emergency now: more said about it (他流了好多血) may name another kind,
/// which is noted on the same event; words naming none keep the kind.
fn kind_now(a: &Agent, s: &mut Session, alert: &Alert, u: &Understanding) -> EmergencyKind {
    let now_kind = match EmergencyKind::of(&u.normalized.text) {
        EmergencyKind::General => alert.kind,
        k => k,
    };
    if now_kind != alert.kind {
        if let Some(no) = &alert.ticket {
            let note = format!("又说：【{}】{}", now_kind.label(), u.normalized.original);
            records::emergency_note(a, s, no, &note);
        }
    }
    now_kind
}

/// The resident said where they are: it goes to the event, and they hear who is coming.
fn place_given(
    a: &Agent,
    s: &mut Session,
    alert: Alert,
    now_kind: EmergencyKind,
    p: String,
) -> Reply {
    let stored = records::emergency_place(a, s, alert.ticket.as_deref(), &p);
    let guidance = now_kind.guidance();
    let text = match (stored, &alert.ticket) {
        (Ok(()), _) => format!(
            "好的，在{p}。我已经告诉工作人员了，他们马上过来。{guidance}我在这儿陪着您，有事就跟我说。"
        ),
        (Err(_), Some(_)) => format!(
            "好的，在{p}，我记下了。工作人员已经收到求助，但地点还没送过去，我一直在重试。{guidance}"
        ),
        (Err(_), None) => format!("好的，在{p}，我记下了。{}", not_notified(&guidance)),
    };
    s.flow = Alert {
        kind: now_kind,
        place: Some(p),
        ..alert
    }
    .into_flow();
    emergency_reply(text)
}

/// No place in the words: what to do, and the place asked again (never a fourth time;
/// not at all once the resident says they cannot say).
fn ask_place_again(
    s: &mut Session,
    alert: Alert,
    now_kind: EmergencyKind,
    cannot_say: bool,
) -> Reply {
    let again = alert.asked < 3 && !cannot_say;
    let ask = if again {
        ASK_PLACE.to_string()
    } else if alert.ticket.is_some() {
        "说不清楚也没关系，工作人员会找到您。".to_string()
    } else {
        format!("说不清楚也没关系。{}", alert.staff())
    };
    s.flow = Alert {
        kind: now_kind,
        place: if again { None } else { Some(String::new()) },
        asked: alert.asked + 1,
        ..alert
    }
    .into_flow();
    emergency_reply(format!("{}{ask}", now_kind.guidance()))
}

/// Heard, or more about the emergency: staying with the resident (with the guidance
/// again when they spoke about it).
fn stay_with(s: &mut Session, alert: Alert, now_kind: EmergencyKind, about_it: bool) -> Reply {
    let guidance = if about_it {
        now_kind.guidance()
    } else {
        String::new()
    };
    let text = format!("我在这儿陪着您。{}{guidance}", alert.staff());
    s.flow = Alert {
        kind: now_kind,
        ..alert
    }
    .into_flow();
    emergency_reply(text)
}

/// Said when the resident falls silent after an emergency: the key instruction again;
/// the session stays open.
pub(crate) fn emergency_still_here(s: &Session) -> Option<String> {
    let Flow::Emergency {
        kind,
        ticket,
        place,
        ..
    } = &s.flow
    else {
        return None;
    };
    let staff = if ticket.is_some() {
        "工作人员马上到。"
    } else {
        "工作人员还没收到通知，我一直在重试。"
    };
    let ask = if place.is_none() { ASK_PLACE } else { "" };
    Some(format!("我还在这儿陪着您。{staff}{}{ask}", kind.guidance()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_of_emergency_decides_the_number_to_call() {
        assert_eq!(EmergencyKind::of("着火了快来人"), EmergencyKind::Fire);
        assert!(EmergencyKind::Fire.guidance().contains("119"));
        assert_eq!(EmergencyKind::of("我家老人摔倒了"), EmergencyKind::Medical);
        assert!(EmergencyKind::Medical.guidance().contains("120"));
        assert_eq!(EmergencyKind::of("有人打我"), EmergencyKind::Violence);
        assert!(EmergencyKind::Violence.guidance().contains("110"));
        assert_eq!(EmergencyKind::of("我不想活了"), EmergencyKind::SelfHarm);
        assert!(EmergencyKind::SelfHarm.guidance().contains("幺二三五六"));
    }

    #[test]
    fn a_place_is_taken_without_the_words_around_it() {
        assert_eq!(place_words("在3号楼502室").as_deref(), Some("3号楼502室"));
        assert_eq!(place_words("就在门口。").as_deref(), Some("门口"));
        assert_eq!(place_words("喺大堂").as_deref(), Some("大堂"));
        assert_eq!(place_words("在"), None);
    }
}
