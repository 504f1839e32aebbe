//! Multi-turn flows: guide answers with details on request, self-declarations,
//! mediation, appointments; and the one-turn acts (emergency, hand-over, queue, feedback).
//!
//! The form machinery (slots, prompts, validation, correction, read-back, commitment,
//! confirmation, cancel) is shared by declarations and mediation: both are lists of
//! [`FieldDef`]s filled from what the resident says.

use std::collections::BTreeMap;

use xiaoan_audio::Earcon;
use xiaoan_intents::{Awaiting, Entity, EntityKind, Intent, Understanding};
use xiaoan_kb::{spoken_title, ChunkKind, Decision, Hit};

use super::reply::{digits_for_ear, number_for_ear, number_twice, Reply};
use super::session::Session;
use super::{Agent, Command};
use crate::forms::{FieldDef, FieldKind, Forms, Mediation, MediatorOffer};
use crate::records;

/// Where a form is in its life.
#[derive(Clone, Debug, PartialEq)]
pub enum FormStage {
    /// Asking for fields; `current` is the field last asked (None: waiting for a correction).
    Collect {
        /// The field asked last.
        current: Option<String>,
    },
    /// Read back in small parts; waiting for "对" to part `part` (0-based).
    ReadBack {
        /// The part read last.
        part: usize,
    },
    /// The commitment read; waiting for the explicit yes that files.
    Commitment,
}

/// A form being filled: a declaration (`form_id` = catalogue id) or mediation triage.
#[derive(Clone, Debug, PartialEq)]
pub struct FormState {
    /// `birth-registration`, ... or `mediation`.
    pub form_id: String,
    /// Canonical values so far, by field name.
    pub values: BTreeMap<String, String>,
    /// Stage.
    pub stage: FormStage,
    /// Failed tries at the field asked now (after three, help is offered).
    pub tries: u32,
    /// Fields put off after three failed tries: asked again once the rest is done.
    pub put_off: Vec<String>,
    /// The read-back part the next read-back starts from (parts before it were
    /// confirmed).
    pub read_from: usize,
}

/// The flow a session is in.
#[derive(Clone, Debug, PartialEq)]
pub enum Flow {
    /// Nothing pending.
    Idle,
    /// A guide item was answered; `next` is the index of the detail chunk offered.
    Details {
        /// Guide item id.
        item: String,
        /// Next chunk to give on "yes".
        next: usize,
    },
    /// Two guide items were close; waiting for the resident to pick one.
    ClarifyItem {
        /// First candidate id.
        first: String,
        /// Second candidate id.
        second: String,
    },
    /// Unsure words sounded like a guide item ([`crate::route`]); waiting for a yes
    /// (answer it) or a no (ask them to say it again).
    ConfirmItem {
        /// The guide item guessed.
        item: String,
    },
    /// Two intents were close; waiting for the resident to pick one.
    ClarifyIntent {
        /// First candidate.
        first: Intent,
        /// Second candidate.
        second: Intent,
        /// The words that were unclear, to act on once the resident picks.
        text: String,
        /// Asked a second time already (a bare "对" does not pick one).
        again: bool,
    },
    /// Which declaration? Waiting for a form to be named.
    PickForm,
    /// Filling a declaration or the mediation triage.
    Form(FormState),
    /// A mediation case was created and a mediator slot offered.
    MediatorOffer {
        /// Dispute kind id.
        kind: String,
        /// The triage answers.
        values: BTreeMap<String, String>,
        /// The slot offered.
        offer: MediatorOffer,
    },
    /// Booking: the service is known, waiting for a day and time.
    Appointment {
        /// Guide item id.
        service: String,
    },
    /// The words only might mean an emergency (an unsure guess, e.g. on garbled speech):
    /// asked once, rather than alarming staff on noise.
    ConfirmEmergency {
        /// What was said, for the alert if the resident says yes.
        said: String,
        /// The question has been asked again once (the first answer was not clear).
        again: bool,
    },
    /// "取消" in the middle of a form: waiting for "确定不办了吗" to be answered. The
    /// form is kept as it was.
    ConfirmCancel(Box<FormState>),
    /// "再见" in the middle of a form: waiting for whether to keep what was filled.
    ConfirmLeave(Box<FormState>),
    /// Three failed tries at one field: waiting for whether a person should help.
    OfferHelp(Box<FormState>),
    /// A number was given ("要我再念一遍回执号吗？"): waiting for a yes to read it again.
    OfferNumber {
        /// The number.
        number: String,
        /// What it is, as said ("居住登记的回执号").
        what: String,
    },
    /// An emergency was raised: waiting for where the resident is, then staying with
    /// them (silence repeats the key instruction; the session is not ended).
    Emergency {
        /// Which kind, for the guidance.
        kind: EmergencyKind,
        /// The event's number, `None` while it is not recorded (queued for retry).
        ticket: Option<String>,
        /// Where the resident is, once said (empty: they could not say).
        place: Option<String>,
        /// Times the place has been asked.
        asked: u32,
    },
    /// Moving or cancelling a booked appointment.
    ChangeAppointment {
        /// Move or cancel.
        action: ApptChange,
        /// The appointment, once its number is known: (number, service id, when spoken).
        booked: Option<(String, String, String)>,
    },
}

/// What the resident wants done with a booked appointment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApptChange {
    /// Another day or time.
    Move,
    /// Cancel it.
    Cancel,
}

/// Does the resident want to move or cancel an appointment ("预约改到后天", "取消预约")?
/// Needs the appointment named (预约, 约好的, 改约…), so a bare "取消" stays a stop.
pub fn appointment_change(text: &str) -> Option<ApptChange> {
    const ABOUT: [&str; 6] = ["预约", "约好", "约的", "改约", "退约", "那个约"];
    const MOVE: [&str; 12] = [
        "改",
        "换",
        "挪",
        "推迟",
        "推后",
        "往后推",
        "延后",
        "提前",
        "调到",
        "调一下",
        "调个",
        "变更",
    ];
    const CANCEL: [&str; 10] = [
        "取消",
        "不去了",
        "去不了",
        "不要了",
        "退掉",
        "退了",
        "撤销",
        "作废",
        "不约了",
        "退约",
    ];
    if !ABOUT.iter().any(|w| text.contains(w)) {
        return None;
    }
    if MOVE.iter().any(|w| text.contains(w)) {
        Some(ApptChange::Move)
    } else if CANCEL.iter().any(|w| text.contains(w)) {
        Some(ApptChange::Cancel)
    } else {
        None
    }
}

impl Flow {
    /// Short name for `chat --jsonl` and records.
    pub fn name(&self) -> &str {
        match self {
            Flow::Idle => "idle",
            Flow::Details { .. } | Flow::ClarifyItem { .. } => "service",
            Flow::ClarifyIntent { .. }
            | Flow::ConfirmItem { .. }
            | Flow::ConfirmEmergency { .. } => "clarify",
            Flow::PickForm => "declaration",
            Flow::Form(f) if f.form_id == MEDIATION => "mediation",
            Flow::Form(_) => "declaration",
            Flow::MediatorOffer { .. } => "mediation",
            Flow::Appointment { .. } | Flow::ChangeAppointment { .. } => "appointment",
            Flow::Emergency { .. } => "emergency",
            Flow::OfferNumber { .. } => "receipt",
            Flow::ConfirmCancel(f) | Flow::ConfirmLeave(f) | Flow::OfferHelp(f)
                if f.form_id == MEDIATION =>
            {
                "mediation"
            }
            Flow::ConfirmCancel(_) | Flow::ConfirmLeave(_) | Flow::OfferHelp(_) => "declaration",
        }
    }

    /// True while a form is being filled (cancel then files nothing and says so).
    pub fn is_collecting(&self) -> bool {
        matches!(
            self,
            Flow::Form(_)
                | Flow::PickForm
                | Flow::ConfirmCancel(_)
                | Flow::ConfirmLeave(_)
                | Flow::OfferHelp(_)
                | Flow::Appointment { .. }
                | Flow::ChangeAppointment { .. }
        )
    }

    /// What the understanding stage should resolve short answers against.
    pub fn awaiting(&self, forms: &Forms, mediation: &Mediation) -> Awaiting {
        match self {
            Flow::Idle | Flow::PickForm => Awaiting::Nothing,
            Flow::Details { .. } | Flow::MediatorOffer { .. } => Awaiting::YesNo,
            Flow::ClarifyItem { .. } | Flow::ConfirmItem { .. } => Awaiting::YesNo,
            Flow::ClarifyIntent { .. } => Awaiting::Nothing,
            Flow::ConfirmEmergency { .. } => Awaiting::YesNo,
            Flow::ConfirmCancel(_) | Flow::ConfirmLeave(_) | Flow::OfferHelp(_) => Awaiting::YesNo,
            Flow::OfferNumber { .. } => Awaiting::YesNo,
            Flow::Emergency { place: None, .. } => Awaiting::Slot(EntityKind::Address),
            Flow::Emergency { .. } => Awaiting::Nothing,
            Flow::Appointment { .. } => Awaiting::Slot(EntityKind::Date),
            Flow::ChangeAppointment { booked: None, .. } => Awaiting::Nothing,
            Flow::ChangeAppointment {
                action: ApptChange::Move,
                ..
            } => Awaiting::Slot(EntityKind::Date),
            Flow::ChangeAppointment {
                action: ApptChange::Cancel,
                ..
            } => Awaiting::YesNo,
            Flow::Form(f) => match &f.stage {
                FormStage::ReadBack { .. } | FormStage::Commitment => Awaiting::YesNo,
                FormStage::Collect {
                    current: Some(name),
                } if name == DANGER => Awaiting::YesNo,
                FormStage::Collect {
                    current: Some(name),
                } => field_def(forms, mediation, &f.form_id, name)
                    .and_then(|d| entity_kind_of(d.kind))
                    .map(Awaiting::Slot)
                    .unwrap_or(Awaiting::Nothing),
                FormStage::Collect { current: None } => Awaiting::Nothing,
            },
        }
    }

    /// The question pending, to repeat after a time-out or a control.
    pub fn prompt(&self) -> Option<String> {
        match self {
            Flow::Idle => None,
            Flow::Details { .. } => Some("要继续听吗？".into()),
            Flow::ConfirmEmergency { again: false, .. } => Some(CONFIRM_EMERGENCY.into()),
            Flow::ConfirmEmergency { again: true, .. } => Some(CONFIRM_EMERGENCY_AGAIN.into()),
            Flow::ConfirmItem { .. } => Some("您刚才是问这个吗？".into()),
            Flow::Emergency { place: None, .. } => Some(ASK_PLACE.into()),
            Flow::Emergency { kind, .. } => Some(kind.guidance()),
            Flow::ConfirmCancel(_) => Some(CONFIRM_CANCEL.into()),
            Flow::ConfirmLeave(_) => Some(CONFIRM_LEAVE.into()),
            Flow::OfferHelp(_) => Some("要我请工作人员来帮您吗？".into()),
            Flow::OfferNumber { what, .. } => Some(format!("要我再念一遍{what}吗？")),
            Flow::ClarifyItem { .. } | Flow::ClarifyIntent { .. } => {
                Some("您刚才想问哪一个？".into())
            }
            Flow::PickForm => Some(PICK_FORM.into()),
            Flow::Form(f) => Some(match &f.stage {
                FormStage::Collect { .. } => "我们接着填表。".into(),
                FormStage::ReadBack { .. } => "刚才念的这几项对吗？".into(),
                FormStage::Commitment => "您同意这个承诺吗？".into(),
            }),
            Flow::MediatorOffer { .. } => Some("这个调解时间可以吗？".into()),
            Flow::Appointment { .. } => Some("您想约哪天几点？".into()),
            Flow::ChangeAppointment { booked: None, .. } => Some(ASK_APPT_NUMBER.into()),
            Flow::ChangeAppointment {
                action: ApptChange::Move,
                ..
            } => Some("您想改到哪天几点？".into()),
            Flow::ChangeAppointment {
                action: ApptChange::Cancel,
                ..
            } => Some("确定要取消这个预约吗？".into()),
        }
    }

    /// What can be said now, for "我能说什么".
    pub fn help(&self) -> Option<String> {
        match self {
            Flow::Idle => None,
            Flow::Details { .. } => Some("现在可以说“要”听下一部分，或者“不用了”。".into()),
            Flow::ConfirmEmergency { .. } => {
                Some("现在请说“是”，我马上叫人；没事就说“没事”。".into())
            }
            Flow::ClarifyItem { .. } | Flow::ClarifyIntent { .. } => {
                Some("现在请说您要问的是哪一个。".into())
            }
            Flow::ConfirmItem { .. } => Some("现在请说“是”或者“不是”。".into()),
            Flow::ConfirmCancel(_) => Some("现在请说“对”就不办了，说“不”就接着填。".into()),
            Flow::ConfirmLeave(_) => Some("现在请说“要”帮您留着，说“不要”就不留。".into()),
            Flow::OfferHelp(_) => {
                Some("现在请说“要”，我请工作人员来；说“不用”，我们先填别的。".into())
            }
            Flow::OfferNumber { .. } => {
                Some("现在说“好”，我再念一遍号码；以后说“回执号是多少”也行。".into())
            }
            Flow::Emergency { .. } => {
                Some("现在可以说您在哪里，比如“3号楼502室”；也可以说“找工作人员”。".into())
            }
            Flow::PickForm => Some(format!("现在请说要办哪一项：{PICK_FORM_LIST}。")),
            Flow::Form(f) => Some(match &f.stage {
                FormStage::Collect { .. } => {
                    "现在请回答刚才的问题；说错了可以说“名字不对，是某某”；还可以说“上一步”“跳过”“还有几个问题”。".into()
                }
                _ => "现在请说“对”或者“不对”。".into(),
            }),
            Flow::MediatorOffer { .. } => Some("现在请说“可以”或者“换个时间”。".into()),
            Flow::Appointment { .. } => Some("现在请说日子和时间，比如“明天上午十点”。".into()),
            Flow::ChangeAppointment { booked: None, .. } => {
                Some("现在请说预约号，一个数字一个数字说。".into())
            }
            Flow::ChangeAppointment {
                action: ApptChange::Move,
                ..
            } => Some("现在请说新的日子和时间，比如“后天下午三点”。".into()),
            Flow::ChangeAppointment {
                action: ApptChange::Cancel,
                ..
            } => Some("现在请说“对”取消，或者“不对”保留。".into()),
        }
    }
}

const MEDIATION: &str = "mediation";
const CONFIRM_CANCEL: &str = "确定不办了吗？说“对”就不办了，说“不”就接着填。";
const CONFIRM_LEAVE: &str = "您要走了吗？刚才填的内容，要帮您留给工作人员吗？";
const CONFIRM_EMERGENCY: &str = "您是遇到急事了吗？要我马上叫工作人员吗？";
const CONFIRM_EMERGENCY_AGAIN: &str = "我没听清。要马上叫人来帮您吗？要就说“是”，不要就说“不是”。";
const ASK_APPT_NUMBER: &str = "请说一下预约号，一个数字一个数字说就行。";
/// Pseudo-field of the mediation triage: "is anyone in danger?" (yes/no).
const DANGER: &str = "_danger";
/// Where the triage keeps the dispute kind id (not a field of the form).
const KIND: &str = "_kind";
const PICK_FORM_LIST: &str = "生育登记、居住登记、房产过户、开证明";
const PICK_FORM: &str = "您要办哪一项？可以办生育登记、居住登记、房产过户，或者开证明。";

fn field_def<'a>(
    forms: &'a Forms,
    mediation: &'a Mediation,
    form_id: &str,
    name: &str,
) -> Option<&'a FieldDef> {
    if form_id == MEDIATION {
        mediation.field(name)
    } else {
        forms.get(form_id).and_then(|f| f.field(name))
    }
}

fn fields_of<'a>(forms: &'a Forms, mediation: &'a Mediation, form_id: &str) -> &'a [FieldDef] {
    if form_id == MEDIATION {
        &mediation.fields
    } else {
        forms
            .get(form_id)
            .map(|f| f.fields.as_slice())
            .unwrap_or(&[])
    }
}

/// The entity kind that fills a field kind (None: the whole answer is the value).
pub fn entity_kind_of(k: FieldKind) -> Option<EntityKind> {
    match k {
        FieldKind::PersonName => Some(EntityKind::PersonName),
        FieldKind::IdNumber => Some(EntityKind::IdNumber),
        FieldKind::Phone => Some(EntityKind::Phone),
        FieldKind::Date => Some(EntityKind::Date),
        FieldKind::Address => Some(EntityKind::Address),
        FieldKind::Count => Some(EntityKind::Count),
        FieldKind::Text | FieldKind::Choice => None,
    }
}

/// The label of an entity kind in `awaiting` strings.
pub fn entity_kind_name(k: EntityKind) -> &'static str {
    match k {
        EntityKind::PersonName => "person_name",
        EntityKind::IdNumber => "id_number",
        EntityKind::Phone => "phone",
        EntityKind::Date => "date",
        EntityKind::Time => "time",
        EntityKind::Address => "address",
        EntityKind::Money => "money",
        EntityKind::Count => "count",
    }
}

/// A dialect named in the resident's words ("我讲上海话").
pub fn dialect_named_in(text: &str) -> Option<&'static str> {
    const NAMES: &[(&str, &str)] = &[
        ("上海话", "wuu-sh"),
        ("上海闲话", "wuu-sh"),
        ("沪语", "wuu-sh"),
        ("上海言话", "wuu-sh"),
        ("苏州话", "wuu-sz"),
        ("苏州闲话", "wuu-sz"),
        ("广东话", "yue"),
        ("粤语", "yue"),
        ("白话", "yue"),
        ("廣東話", "yue"),
        ("广州话", "yue"),
        ("香港话", "yue"),
        ("闽南话", "nan"),
        ("闽南语", "nan"),
        ("台语", "nan"),
        ("福建话", "nan"),
        ("厦门话", "nan"),
        ("四川话", "cmn-sc"),
        ("成都话", "cmn-sc"),
        ("重庆话", "cmn-sc"),
        ("客家话", "hak"),
        ("客话", "hak"),
        ("普通话", "cmn"),
        ("国语", "cmn"),
        ("官话", "cmn"),
    ];
    NAMES
        .iter()
        .find(|(n, _)| text.contains(n))
        .map(|(_, c)| *c)
}

// ------------------------------------------------------------------ one-turn acts

/// Emergency: at once, from any state. Tell the resident help is coming, notify staff
/// (an event in the store), give 120/110 guidance. A form in progress is kept as a
/// draft, never asked about first.
pub fn emergency(a: &Agent, s: &mut Session, u: &Understanding) -> Reply {
    emergency_said(a, s, &u.normalized.original)
}

/// An unsure guess of "emergency" outside a form: one yes/no question first. A resident
/// in danger answers "是" and help is called; noise does not alarm the staff.
pub fn confirm_emergency(s: &mut Session, u: &Understanding) -> Reply {
    s.flow = Flow::ConfirmEmergency {
        said: u.normalized.original.clone(),
        again: false,
    };
    Reply::say(CONFIRM_EMERGENCY)
}

/// The answer to the emergency question. Yes (or a strong reading of emergency) calls
/// help; no ends it; a clear other request drops the question (`None`: handled as
/// usual). An answer that is not clear is asked about once more in plainer words, and
/// if the second is not clear either, staff are asked to come and see the resident (a
/// hand-over ticket, not an alarm): a person checks, and noise never raises the alarm.
fn emergency_answer(
    a: &Agent,
    s: &mut Session,
    said: String,
    again: bool,
    u: &Understanding,
) -> Option<Reply> {
    let i = &u.intent;
    if i.intent == Intent::ConfirmYes || super::strong_emergency_guess(u) {
        return Some(emergency_said(
            a,
            s,
            &format!("{said}（确认：{}）", u.normalized.original),
        ));
    }
    if i.intent == Intent::ConfirmNo {
        s.flow = Flow::Idle;
        return Some(Reply::say("好的，没事就好。您想办什么事？"));
    }
    // the line under which a reading counts as weak (as for a second opinion)
    let clear = !i.unsure && i.confidence >= crate::route::SECOND_OPINION_BELOW;
    if clear && i.intent != Intent::Emergency {
        s.flow = Flow::Idle;
        return None;
    }
    if !again {
        s.flow = Flow::ConfirmEmergency { said, again: true };
        return Some(Reply::say(CONFIRM_EMERGENCY_AGAIN));
    }
    Some(check_on_resident(
        a,
        s,
        "我还是没听清楚。我请工作人员过来看看您，请您在这里稍等。",
    ))
}

/// No clear answer to the emergency question (twice unclear, or silence): a hand-over
/// ticket asking staff to come over, and the resident is told to stay where they are.
pub(crate) fn check_on_resident(a: &Agent, s: &mut Session, text: &str) -> Reply {
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

/// The national psychological assistance hotline 12356 (全国统一心理援助热线, run by
/// the National Health Commission since 2025), read digit by digit.
pub const CRISIS_LINE: &str = "12356";

impl EmergencyKind {
    /// The kind named in the words (normalised or as said).
    pub fn of(text: &str) -> EmergencyKind {
        let has = |ws: &[&str]| ws.iter().any(|w| text.contains(w));
        if has(&[
            "不想活",
            "想不开",
            "自杀",
            "轻生",
            "寻死",
            "想死",
            "跳楼",
            "割腕",
            "活不下去",
        ]) {
            EmergencyKind::SelfHarm
        } else if has(&[
            "着火", "著火", "失火", "火灾", "冒烟", "火烛", "火燭", "煤气", "燃气", "119",
        ]) {
            EmergencyKind::Fire
        } else if has(&[
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
        ]) {
            EmergencyKind::Violence
        } else if has(&[
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
        ]) {
            EmergencyKind::Medical
        } else {
            EmergencyKind::General
        }
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

const ASK_PLACE: &str = "您能告诉我在哪里吗？比如“3号楼502室”，或者“就在门口”。";

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
    let mut r = Reply::say(text).with_earcon(Earcon::Error);
    r.flow = "emergency".into();
    if let Some(no) = &ticket {
        s.last_number = Some((no.clone(), "求助".into()));
    }
    r.receipt = ticket;
    r
}

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
    let t = &u.normalized.text;
    if PLACES.iter().any(|p| t.contains(p)) {
        return place_words(&u.normalized.original);
    }
    None
}

fn place_words(original: &str) -> Option<String> {
    let mut t: &str = original.trim();
    for p in [
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
    ] {
        if let Some(rest) = t.strip_prefix(p) {
            t = rest;
            break;
        }
    }
    let t = t.trim_matches(|c: char| "。，,.！!？? 了呢啊呀".contains(c));
    (!t.is_empty()).then(|| t.to_string())
}

/// After an emergency: the place, then staying with the resident.
fn emergency_follow_up(
    a: &Agent,
    s: &mut Session,
    kind: EmergencyKind,
    ticket: Option<String>,
    place: Option<String>,
    asked: u32,
    u: &Understanding,
) -> Option<Reply> {
    // more said about the emergency (他流了好多血): the guidance for it, same event
    let now_kind = match EmergencyKind::of(&u.normalized.text) {
        EmergencyKind::General => kind,
        k => k,
    };
    if now_kind != kind {
        if let Some(no) = &ticket {
            let note = format!("又说：【{}】{}", now_kind.label(), u.normalized.original);
            records::emergency_note(a, s, no, &note);
        }
    }
    let found = if place.is_none() { place_in(u) } else { None };
    if let Some(p) = found {
        let stored = records::emergency_place(a, s, ticket.as_deref(), &p);
        let guidance = now_kind.guidance();
        let text = match (stored, &ticket) {
            (Ok(()), _) => format!(
                "好的，在{p}。我已经告诉工作人员了，他们马上过来。{guidance}我在这儿陪着您，有事就跟我说。"
            ),
            (Err(_), Some(_)) => format!(
                "好的，在{p}，我记下了。工作人员已经收到求助，但地点还没送过去，我一直在重试。{guidance}"
            ),
            (Err(_), None) => format!("好的，在{p}，我记下了。{}", not_notified(&guidance)),
        };
        s.flow = Flow::Emergency {
            kind: now_kind,
            ticket,
            place: Some(p),
            asked,
        };
        let mut r = Reply::say(text);
        r.flow = "emergency".into();
        return Some(r);
    }
    let intent = u.intent.intent;
    let about_it = intent == Intent::Emergency || now_kind != kind;
    let said = plain(&u.normalized.text);
    // "好" / "嗯" / "是": heard, not a new request; the emergency goes on
    let ack = matches!(intent, Intent::ConfirmYes | Intent::ConfirmNo)
        || said.is_empty()
        || FILLERS.contains(&said.as_str());
    let cannot_say = intent == Intent::ConfirmNo || is_skip(&u.normalized.text);
    // never claimed before it is true: staff come only once the alert is recorded
    let staff = if ticket.is_some() {
        "工作人员马上到。"
    } else {
        "工作人员还没收到通知，我一直在重试，请您也自己打电话求助。"
    };
    if place.is_none() && (about_it || ack || cannot_say) {
        // no place in the words: say what to do, ask again (never a fourth time)
        let again = asked < 3 && !cannot_say;
        let ask = if again {
            ASK_PLACE.to_string()
        } else if ticket.is_some() {
            "说不清楚也没关系，工作人员会找到您。".to_string()
        } else {
            format!("说不清楚也没关系。{staff}")
        };
        s.flow = Flow::Emergency {
            kind: now_kind,
            ticket,
            place: if again { None } else { Some(String::new()) },
            asked: asked + 1,
        };
        let mut r = Reply::say(format!("{}{ask}", now_kind.guidance()));
        r.flow = "emergency".into();
        return Some(r);
    }
    if about_it || ack {
        s.flow = Flow::Emergency {
            kind: now_kind,
            ticket,
            place,
            asked,
        };
        let guidance = if about_it {
            now_kind.guidance()
        } else {
            String::new()
        };
        let mut r = Reply::say(format!("我在这儿陪着您。{staff}{guidance}"));
        r.flow = "emergency".into();
        return Some(r);
    }
    // something else: handled as usual (the event stays with staff)
    s.flow = Flow::Idle;
    None
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

/// Hand over to staff: a ticket with the conversation so far, and where to wait.
pub fn handoff(a: &Agent, s: &mut Session) -> Reply {
    let next = what_happens_next(a.settings.profile);
    ticket_for_staff(a, s, |ticket| match ticket {
        Some(no) => format!(
            "好的，我请工作人员来帮您。{next}您的号是{}。",
            number_for_ear(no)
        ),
        None => format!("好的，我请工作人员来帮您。{next}"),
    })
}

/// Where staff find a resident who asked for a person (written on the ticket).
fn wait_at(profile: crate::config::Profile) -> &'static str {
    use crate::config::Profile;
    match profile {
        Profile::Robot => "大厅，小安机器人旁",
        Profile::Window => "无障碍服务专窗",
        Profile::Kiosk => "网格站服务台",
    }
}

/// What a resident does after a hand-over, where this terminal stands: the robot's
/// resident is found where they are, the window's is already at the desk, a kiosk's
/// goes to the grid station's desk.
pub fn what_happens_next(profile: crate::config::Profile) -> &'static str {
    use crate::config::Profile;
    match profile {
        Profile::Robot => "请在原地等，工作人员过来找您。",
        Profile::Window => "您就在窗口这儿稍等，工作人员马上来。",
        Profile::Kiosk => "请到网格站的服务台，把号告诉工作人员。",
    }
}

/// A hand-over ticket (the conversation so far, any half-filled form kept as a draft)
/// and the reply `say` words for it. When the ticket did not reach the store, the
/// resident hears that instead, and what to do.
fn ticket_for_staff(a: &Agent, s: &mut Session, say: impl FnOnce(Option<&str>) -> String) -> Reply {
    let _ = save_draft(a, s, "handoff");
    s.flow = Flow::Idle;
    match records::handoff(a, s, wait_at(a.settings.profile)) {
        Ok(no) => {
            let mut r = Reply::say(say(Some(&no))).with_earcon(Earcon::Done);
            r.flow = "handoff".into();
            s.last_number = Some((no.clone(), "找工作人员的号".into()));
            r.receipt = Some(no);
            r
        }
        Err(_) => {
            let mut r = Reply::say(
                "对不起，系统出了问题，工作人员还没收到通知，我会接着重试。请您直接到最近的窗口找工作人员，或者请旁边的人帮您叫一下。",
            )
            .with_earcon(Earcon::Error);
            r.flow = "handoff".into();
            r
        }
    }
}

/// Queue status from the store.
pub fn queue_status(a: &Agent, _s: &mut Session) -> Reply {
    let (waiting, minutes) = records::queue(a);
    if waiting == 0 {
        Reply::say("现在不用排队，可以直接去窗口办。")
    } else {
        Reply::say(format!(
            "现在前面还有{waiting}位，大概要等{minutes}分钟。要我帮您取个号吗？可以说“找工作人员”。"
        ))
    }
}

/// Complaint, suggestion or praise (随手拍, 服务评价): recorded with a number.
pub fn feedback(a: &Agent, s: &mut Session, u: &Understanding) -> Reply {
    let no = records::feedback(a, s, &u.normalized.original);
    let mut r = Reply::say(match &no {
        Some(n) => format!(
            "谢谢您，已经记下了，编号{}。工作人员会在三个工作日内处理，并给您回个话。",
            number_for_ear(n)
        ),
        None => "谢谢您，已经记下了。工作人员会尽快处理。".to_string(),
    })
    .with_earcon(Earcon::Done);
    r.receipt = no;
    r
}

/// Unsure words that sound like a guide item ([`crate::route::read`] guessed it): one
/// short yes/no question naming the item, e.g. "您是想问“老年人优待卡”吗？". Nothing is
/// answered or started until the resident says yes.
pub fn confirm_item(s: &mut Session, hit: &Hit) -> Reply {
    s.flow = Flow::ConfirmItem {
        item: hit.id.clone(),
    };
    Reply::say(format!("您是想问“{}”吗？", spoken_title(&hit.title)))
}

/// Unsure: one short question naming the two likeliest meanings.
pub fn clarify_intent(s: &mut Session, u: &Understanding) -> Reply {
    let c = &u.intent.candidates;
    let first = c.first().map(|x| x.0).unwrap_or(u.intent.intent);
    let second = c
        .iter()
        .map(|x| x.0)
        .find(|i| *i != first)
        .unwrap_or(Intent::HandoffHuman);
    s.flow = Flow::ClarifyIntent {
        first,
        second,
        text: u.normalized.original.clone(),
        again: false,
    };
    Reply::say(format!(
        "我没太听明白。您是想{}，还是想{}？",
        intent_phrase(first),
        intent_phrase(second)
    ))
}

/// The words are only an ID or phone number (keyed in on the kiosk, or said) while no
/// form asks for one: a reply that says what it looks like (never reading it back: it
/// is personal data) and what to say first.
pub fn number_without_a_question(u: &Understanding) -> Option<Reply> {
    let digits: String = u
        .normalized
        .text
        .chars()
        .filter(|c| !c.is_whitespace() && !"-，,。.".contains(*c))
        .collect();
    let only = |kind: EntityKind| {
        u.entities
            .iter()
            .any(|e| e.kind == kind && e.value.eq_ignore_ascii_case(&digits))
    };
    let what = if only(EntityKind::IdNumber) {
        "身份证号"
    } else if only(EntityKind::Phone) {
        "手机号"
    } else {
        return None;
    };
    Some(Reply::say(format!(
        "这像是{what}。请先告诉我要办什么事，比如“开居住证明”，到要填的时候我再请您输入。"
    )))
}

/// "前面那个" / "第一个" → 0, "后面那个" / "第二个" → 1.
fn ordinal_pick(text: &str) -> Option<usize> {
    if ["前面", "第一", "头一个", "前一个"]
        .iter()
        .any(|w| text.contains(w))
    {
        Some(0)
    } else if ["后面", "第二", "后一个", "后头"]
        .iter()
        .any(|w| text.contains(w))
    {
        Some(1)
    } else {
        None
    }
}

fn intent_phrase(i: Intent) -> &'static str {
    match i {
        Intent::ServiceQuery => "问怎么办事",
        Intent::DeclarationFile => "现在就登记",
        Intent::DisputeMediate => "找人调解纠纷",
        Intent::AppointmentBook => "预约时间",
        Intent::QueueStatus => "问排队",
        Intent::HandoffHuman => "找工作人员",
        Intent::Emergency => "叫人帮忙",
        Intent::FeedbackComplaint => "反映问题",
        Intent::DialectSwitch => "换成家乡话说",
        Intent::NavRepeat => "让我再说一遍",
        Intent::NavSlower => "让我说慢点",
        Intent::NavFaster => "让我说快点",
        Intent::NavStop => "停下来",
        Intent::ConfirmYes => "说“对”",
        Intent::ConfirmNo => "说“不对”",
        Intent::Greeting => "打个招呼",
        Intent::Goodbye => "结束",
        Intent::OutOfScope => "问别的事",
    }
}

// ------------------------------------------------------------------ the guide

/// Answer from the guide: the spoken summary, then an offer of details.
pub fn answer_question(a: &Agent, s: &mut Session, u: &Understanding) -> Reply {
    let hits = a
        .retriever
        .search(&u.normalized.text, 3)
        .unwrap_or_default();
    match xiaoan_kb::decide(&hits) {
        Decision::Answer(hit) => answer_item(a, s, &hit.id),
        Decision::Clarify {
            first,
            second,
            question,
        } => {
            s.flow = Flow::ClarifyItem {
                first: first.id,
                second: second.id,
            };
            Reply::say(question)
        }
        Decision::NotFound => {
            Reply::say("这个我没找到。您可以换个说法，比如“敬老卡怎么办”，或者说“找工作人员”。")
        }
    }
}

fn answer_item(a: &Agent, s: &mut Session, id: &str) -> Reply {
    match a.guide.item(id) {
        Some(item) => {
            let chunks = item.chunks();
            s.flow = if chunks.is_empty() {
                Flow::Idle
            } else {
                Flow::Details {
                    item: id.to_string(),
                    next: 0,
                }
            };
            let mut r = Reply::say(item.first_answer());
            r.flow = "service".into();
            r
        }
        None => Reply::say("这个我没找到，您可以说“找工作人员”。"),
    }
}

fn next_chunk(a: &Agent, s: &mut Session, item_id: &str, next: usize) -> Reply {
    let Some(item) = a.guide.item(item_id) else {
        s.flow = Flow::Idle;
        return Reply::say("好的。还有别的要问吗？");
    };
    let chunks = item.chunks();
    match chunks.get(next) {
        Some(c) => {
            let more = next + 1 < chunks.len();
            s.flow = if more {
                Flow::Details {
                    item: item_id.to_string(),
                    next: next + 1,
                }
            } else {
                Flow::Idle
            };
            let tail = if more {
                c.offer.clone()
            } else {
                "就这些。还有别的要问吗？".to_string()
            };
            let mut r = Reply::say(format!("{}{}", c.text, tail));
            r.flow = "service".into();
            r
        }
        None => {
            s.flow = Flow::Idle;
            Reply::say("就这些。还有别的要问吗？")
        }
    }
}

// ------------------------------------------------------------------ flow continuation

/// Continue the current flow with this turn, if it is waiting for something. `None`:
/// the turn is not an answer to the flow, handle it as a new request.
pub fn continue_flow(a: &Agent, s: &mut Session, u: &Understanding) -> Option<Reply> {
    let intent = u.intent.intent;
    match s.flow.clone() {
        Flow::Idle => None,
        Flow::Details { item, next } => match intent {
            Intent::ConfirmYes => Some(next_chunk(a, s, &item, next)),
            Intent::ConfirmNo => {
                s.flow = Flow::Idle;
                Some(Reply::say("好的。还有别的要问吗？"))
            }
            _ => {
                // a question naming another service ("社保卡丢了咋个办" after 居住证明):
                // a new question, answered as one
                if names_other_item(a, &item, &u.normalized.text) {
                    s.flow = Flow::Idle;
                    return None;
                }
                // "材料呢" / "在哪办" about the same item: jump to that chunk
                if let Some(k) = asked_chunk(&u.normalized.text) {
                    if let Some(item_ref) = a.guide.item(&item) {
                        if let Some(i) = item_ref.chunks().iter().position(|c| c.kind == k) {
                            return Some(next_chunk(a, s, &item, i));
                        }
                    }
                }
                s.flow = Flow::Idle;
                None
            }
        },
        Flow::ClarifyItem { first, second } => {
            let pick = pick_between(a, &u.normalized.text, &first, &second);
            s.flow = Flow::Idle;
            match pick {
                Some(id) => Some(answer_item(a, s, &id)),
                None if intent == Intent::ConfirmYes => Some(answer_item(a, s, &first)),
                None => None,
            }
        }
        Flow::ConfirmItem { item } => {
            s.flow = Flow::Idle;
            match intent {
                Intent::ConfirmYes => Some(answer_item(a, s, &item)),
                Intent::ConfirmNo => {
                    Some(Reply::say("好的，是我没听清。请您再说一遍，想问什么事？"))
                }
                // something else (often the question said again): handled as usual
                _ => None,
            }
        }
        Flow::ClarifyIntent {
            first,
            second,
            text,
            again,
        } => {
            s.flow = Flow::Idle;
            let chosen = match intent {
                Intent::ConfirmYes if again => {
                    return Some(Reply::say(
                        "我还是没弄明白。您可以换个说法再说一遍，或者说“找工作人员”。",
                    ))
                }
                // "对" to "A, or B?" says neither which: ask which, naming both again
                Intent::ConfirmYes => {
                    let r = Reply::say(format!(
                        "您是想{}，还是想{}？说前面一个或者后面一个都行。",
                        intent_phrase(first),
                        intent_phrase(second)
                    ));
                    s.flow = Flow::ClarifyIntent {
                        first,
                        second,
                        text,
                        again: true,
                    };
                    return Some(r);
                }
                // "不是": neither
                Intent::ConfirmNo => {
                    return Some(Reply::say("好的，是我没听明白。请您再说一遍，想办什么事？"))
                }
                i if i == first || i == second => Some(i),
                _ => ordinal_pick(&u.normalized.text).map(|k| if k == 0 { first } else { second }),
            };
            chosen.map(|i| {
                // act on the original words with the intent the resident picked
                let mut u2 = a.understander.understand_on(
                    &text,
                    &xiaoan_intents::Context::default(),
                    a.today(),
                );
                u2.intent.intent = i;
                u2.intent.unsure = false;
                a.dispatch(s, &u2, Command::from(i))
            })
        }
        Flow::PickForm => {
            let id = form_named_in(a, &u.normalized.text);
            match id {
                Some(id) => Some(begin_form(a, s, &id, u)),
                None if matches!(intent, Intent::ConfirmNo) => {
                    s.flow = Flow::Idle;
                    Some(Reply::say("好的，不办了。还有别的事吗？"))
                }
                None => {
                    s.flow = Flow::Idle;
                    None
                }
            }
        }
        Flow::Form(st) => Some(form_turn(a, s, st, u)),
        Flow::MediatorOffer {
            kind,
            values,
            offer,
        } => Some(mediator_offer_answer(a, s, kind, values, offer, u)),
        Flow::Appointment { service } => Some(appointment_turn(a, s, &service, u)),
        Flow::ConfirmEmergency { said, again } => emergency_answer(a, s, said, again, u),
        Flow::Emergency {
            kind,
            ticket,
            place,
            asked,
        } => emergency_follow_up(a, s, kind, ticket, place, asked, u),
        Flow::ConfirmCancel(st) => cancel_answer(a, s, *st, u),
        Flow::ConfirmLeave(st) => Some(leave_answer(a, s, *st, u)),
        Flow::OfferHelp(st) => Some(offer_help_answer(a, s, *st, u)),
        Flow::OfferNumber { number, what } => match intent {
            Intent::ConfirmYes => {
                s.flow = Flow::Idle;
                Some(Reply::say(format!(
                    "{}还要办别的吗？",
                    number_twice(&what, &number)
                )))
            }
            Intent::ConfirmNo => {
                s.flow = Flow::Idle;
                Some(Reply::say("好的。还要办别的吗？"))
            }
            _ => {
                s.flow = Flow::Idle;
                None
            }
        },
        Flow::ChangeAppointment { action, booked } => {
            Some(change_appointment_turn(a, s, action, booked, u))
        }
    }
}

/// A guide item's title and aliases (none for an unknown id).
fn item_names(a: &Agent, id: &str) -> Vec<String> {
    a.guide
        .item(id)
        .map(|i| {
            let mut v = vec![i.title.clone()];
            v.extend(i.aliases.iter().cloned());
            v
        })
        .unwrap_or_default()
}

/// Do the words name a guide item other than `item` (its title or an alias, or a strong
/// retrieval hit)?
fn names_other_item(a: &Agent, item: &str, text: &str) -> bool {
    let names = |id: &str| item_names(a, id);
    if names(item)
        .iter()
        .any(|n| n.chars().count() >= 2 && text.contains(n.as_str()))
    {
        return false;
    }
    let Ok(hits) = a.retriever.search(text, 1) else {
        return false;
    };
    hits.first().is_some_and(|h| {
        h.id != item
            && (h.confidence >= 0.5
                || names(&h.id)
                    .iter()
                    .any(|n| n.chars().count() >= 2 && text.contains(n.as_str())))
    })
}

fn asked_chunk(text: &str) -> Option<ChunkKind> {
    if ["材料", "带什么", "要带", "证件"]
        .iter()
        .any(|w| text.contains(w))
    {
        Some(ChunkKind::Materials)
    } else if ["步骤", "流程", "怎么办", "咋办"]
        .iter()
        .any(|w| text.contains(w))
    {
        Some(ChunkKind::Steps)
    } else if ["在哪", "哪里", "几点", "时间", "地址", "窗口"]
        .iter()
        .any(|w| text.contains(w))
    {
        Some(ChunkKind::WhereWhen)
    } else {
        None
    }
}

fn pick_between(a: &Agent, text: &str, first: &str, second: &str) -> Option<String> {
    let names = |id: &str| item_names(a, id);
    let score = |id: &str| {
        names(id)
            .iter()
            .filter(|n| !n.is_empty() && (text.contains(n.as_str()) || n.contains(text)))
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
    };
    let (f, sc) = (score(first), score(second));
    if f == 0 && sc == 0 {
        if text.contains("第一") || text.contains("前面") {
            return Some(first.to_string());
        }
        if text.contains("第二") || text.contains("后面") {
            return Some(second.to_string());
        }
        return None;
    }
    Some(if f >= sc { first } else { second }.to_string())
}

// ------------------------------------------------------------------ declarations

fn form_named_in(a: &Agent, text: &str) -> Option<String> {
    const WORDS: &[(&str, &str)] = &[
        ("生育", "birth-registration"),
        ("生小孩", "birth-registration"),
        ("生孩子", "birth-registration"),
        ("出生", "birth-registration"),
        ("生bb", "birth-registration"),
        ("居住登记", "residence-registration"),
        ("暂住", "residence-registration"),
        ("外来人员", "residence-registration"),
        ("租房登记", "residence-registration"),
        ("过户", "property-transfer"),
        ("房产", "property-transfer"),
        ("房子转", "property-transfer"),
        ("证明", "certificate-issuance"),
        ("开证明", "certificate-issuance"),
    ];
    for (w, id) in WORDS {
        if text.contains(w) && a.forms.get(id).is_some() {
            return Some((*id).to_string());
        }
    }
    for f in a.forms.iter() {
        if text.contains(f.title.as_str()) {
            return Some(f.id.clone());
        }
    }
    // a guide hit on a form's item
    let hits = a.retriever.search(text, 1).ok()?;
    let top = hits.first()?;
    if top.confidence >= 0.5 && a.forms.get(&top.id).is_some() {
        return Some(top.id.clone());
    }
    None
}

/// Start a self-declaration: find which form, pre-fill what the first sentence already
/// said, ask the first missing field.
pub fn start_declaration(a: &Agent, s: &mut Session, u: &Understanding) -> Reply {
    match form_named_in(a, &u.normalized.text) {
        Some(id) => begin_form(a, s, &id, u),
        None => {
            s.flow = Flow::PickForm;
            let mut r = Reply::say(PICK_FORM);
            r.flow = "declaration".into();
            r
        }
    }
}

fn begin_form(a: &Agent, s: &mut Session, id: &str, u: &Understanding) -> Reply {
    let intro = a.forms.get(id).map(|f| f.intro.clone()).unwrap_or_default();
    let mut st = FormState {
        form_id: id.to_string(),
        values: BTreeMap::new(),
        stage: FormStage::Collect { current: None },
        tries: 0,
        put_off: Vec::new(),
        read_from: 0,
    };
    let (_filled, _errs) = fill_from_entities(a, &mut st, &u.entities, None);
    let r = ask_next(a, s, st, String::new());
    Reply::say(format!("{intro}{}", r.text)).with_flow_of(&r)
}

/// Words that someone will not do what they owe (不肯退, 唔肯还, 赖账) or that name a
/// quarrel: with a known dispute kind in the same sentence, the resident wants the
/// dispute settled, whatever a weak classifier reading says.
pub fn sounds_like_dispute(a: &Agent, u: &Understanding) -> bool {
    const CUES: &[&str] = &[
        "不肯",
        "唔肯",
        "勿肯",
        "弗肯",
        "毋肯",
        "不给",
        "唔俾",
        "唔畀",
        "不还",
        "唔还",
        "不退",
        "唔退",
        "赖账",
        "扣着",
        "扣住",
        "欺负",
        "闹矛盾",
        "有矛盾",
        "纠纷",
        "吵架",
        "点算",
        "點算",
        "怎么办",
        "咋办",
        "咋个办",
        "怎么搞",
    ];
    let t = &u.normalized.text;
    let o = &u.normalized.original;
    let cue = CUES.iter().any(|w| t.contains(w) || o.contains(w));
    let refusal = CUES[..14].iter().any(|w| t.contains(w) || o.contains(w))
        || ["纠纷", "闹矛盾", "有矛盾", "吵架"]
            .iter()
            .any(|w| t.contains(w));
    let kind = a.mediation.classify(t);
    let kind_o = a.mediation.classify(o);
    let known = kind.id != "other" || kind_o.id != "other";
    cue && refusal && known
}

/// Start mediation: classify the dispute from the first sentence, check for danger.
pub fn start_mediation(a: &Agent, s: &mut Session, u: &Understanding) -> Reply {
    let text = &u.normalized.original;
    if a.mediation.is_danger(text) || a.mediation.is_danger(&u.normalized.text) {
        return emergency(a, s, u);
    }
    let mut st = FormState {
        form_id: MEDIATION.into(),
        values: BTreeMap::new(),
        stage: FormStage::Collect { current: None },
        tries: 0,
        put_off: Vec::new(),
        read_from: 0,
    };
    let mut kind = a.mediation.classify(&u.normalized.text);
    if kind.id == "other" {
        kind = a.mediation.classify(&u.normalized.original);
    }
    st.values.insert(KIND.into(), kind.id.clone());
    // the first sentence is usually what happened
    if u.normalized.text.chars().count() >= 6 {
        st.values.insert(
            "what_happened".into(),
            u.normalized.original.trim().to_string(),
        );
    }
    let intro = a.mediation.intro.clone();
    let r = ask_next(a, s, st, String::new());
    Reply::say(format!("{intro}{}", r.text)).with_flow_of(&r)
}

trait WithFlow {
    fn with_flow_of(self, other: &Reply) -> Reply;
}
impl WithFlow for Reply {
    fn with_flow_of(mut self, other: &Reply) -> Reply {
        self.flow = other.flow.clone();
        self.awaiting = other.awaiting.clone();
        self.earcon = other.earcon;
        self.receipt = other.receipt.clone();
        self
    }
}

/// Fill fields from entities; the field asked last gets the first matching entity.
/// Returns (fields filled, spoken validation errors).
fn fill_from_entities(
    a: &Agent,
    st: &mut FormState,
    entities: &[Entity],
    current: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let fields = fields_of(&a.forms, &a.mediation, &st.form_id).to_vec();
    let mut filled = Vec::new();
    let mut errors = Vec::new();
    let mut used = vec![false; entities.len()];
    // order: the current field first, then the rest in asking order
    let mut order: Vec<&FieldDef> = Vec::new();
    if let Some(c) = current {
        if let Some(f) = fields.iter().find(|f| f.name == c) {
            order.push(f);
        }
    }
    order.extend(fields.iter().filter(|f| Some(f.name.as_str()) != current));
    for f in order {
        let is_current = Some(f.name.as_str()) == current;
        if st.values.contains_key(&f.name) && !is_current {
            continue;
        }
        let Some(want) = entity_kind_of(f.kind) else {
            continue;
        };
        let Some(i) = entities
            .iter()
            .enumerate()
            .position(|(i, e)| !used[i] && e.kind == want)
        else {
            continue;
        };
        used[i] = true;
        match validate(a, &st.form_id, &f.name, &entities[i].value) {
            Ok(v) => {
                st.values.insert(f.name.clone(), v);
                filled.push(f.name.clone());
            }
            Err(e) => errors.push(e),
        }
    }
    (filled, errors)
}

fn validate(a: &Agent, form_id: &str, field: &str, value: &str) -> Result<String, String> {
    match field_def(&a.forms, &a.mediation, form_id, field) {
        Some(d) => d.validate_on(value, a.today()),
        None => Err("这一项表里没有。".into()),
    }
}

fn ask_next(a: &Agent, s: &mut Session, st: FormState, prefix: String) -> Reply {
    let fields = fields_of(&a.forms, &a.mediation, &st.form_id);
    let open = |f: &FieldDef| !st.values.contains_key(&f.name) && !st.put_off.contains(&f.name);
    let next = fields
        .iter()
        .find(|f| f.required && open(f))
        .or_else(|| {
            // optional fields are asked once, in order, unless already answered or skipped
            fields.iter().find(|f| !f.required && open(f))
        })
        // the fields put off after three tries, last
        .or_else(|| fields.iter().find(|f| !st.values.contains_key(&f.name)));
    match next {
        Some(f) => {
            let ask = f.ask.clone();
            let name = f.name.clone();
            let mut st = st;
            st.put_off.retain(|n| *n != name);
            let again = matches!(&st.stage, FormStage::Collect { current: Some(c) } if *c == name);
            if !again {
                st.tries = 0;
            }
            let progress = progress(fields, &name);
            st.stage = FormStage::Collect {
                current: Some(name),
            };
            s.flow = Flow::Form(st);
            let mut r = Reply::say(format!("{prefix}{progress}{ask}"));
            r.flow = s.flow.name().to_string();
            r
        }
        None if st.form_id == MEDIATION && !st.values.contains_key(DANGER) => {
            let q = a.mediation.danger_question.clone();
            let mut st = st;
            st.stage = FormStage::Collect {
                current: Some(DANGER.into()),
            };
            s.flow = Flow::Form(st);
            let mut r = Reply::say(format!("{prefix}{q}"));
            r.flow = "mediation".into();
            r.awaiting = "yes_no".into();
            r
        }
        None => read_back(a, s, st, prefix),
    }
}

/// Where the resident is in the form: "第3项，共7项：".
fn progress(fields: &[FieldDef], name: &str) -> String {
    match fields.iter().position(|f| f.name == name) {
        Some(i) if fields.len() > 1 => format!("第{}项，共{}项：", i + 1, fields.len()),
        _ => String::new(),
    }
}

/// The filled fields read back in parts a listener can take in: at most three short
/// fields a part (an ID number counts as two).
fn read_parts(a: &Agent, st: &FormState) -> Vec<Vec<(String, String)>> {
    let fields = fields_of(&a.forms, &a.mediation, &st.form_id);
    let mut parts: Vec<Vec<(String, String)>> = Vec::new();
    let mut weight = 0;
    for f in fields {
        let Some(v) = st.values.get(&f.name).filter(|v| !v.is_empty()) else {
            continue;
        };
        let w = match f.kind {
            FieldKind::IdNumber => 2,
            FieldKind::Text if v.chars().count() > 15 => 2,
            _ => 1,
        };
        if parts.is_empty() || weight + w > 3 {
            parts.push(Vec::new());
            weight = 0;
        }
        weight += w;
        if let Some(p) = parts.last_mut() {
            p.push((f.name.clone(), f.read_back(&spoken_value(a, f.kind, v))));
        }
    }
    parts
}

/// The read-back part that holds field `name`.
fn part_of(a: &Agent, st: &FormState, name: &str) -> usize {
    read_parts(a, st)
        .iter()
        .position(|p| p.iter().any(|(n, _)| n == name))
        .unwrap_or(0)
}

fn read_back(a: &Agent, s: &mut Session, mut st: FormState, prefix: String) -> Reply {
    let parts = read_parts(a, &st);
    let part = st.read_from.min(parts.len().saturating_sub(1));
    let lines: Vec<String> = parts
        .get(part)
        .map(|p| p.iter().map(|(_, l)| l.clone()).collect())
        .unwrap_or_default();
    let kind = st
        .values
        .get(KIND)
        .and_then(|k| a.mediation.kind(k))
        .filter(|k| k.id != "other" && part == 0)
        .map(|k| format!("{}纠纷；", k.name))
        .unwrap_or_default();
    let head = match (parts.len(), part) {
        (0 | 1, _) => "我念一遍：".to_string(),
        (n, 0) => format!("我念一遍，分{n}次念，每次您说对不对。第1次："),
        (_, k) => format!("第{}次：", k + 1),
    };
    let ask = if parts.len() <= 1 {
        "都对吗？"
    } else {
        "对吗？"
    };
    st.stage = FormStage::ReadBack { part };
    s.flow = Flow::Form(st);
    let mut r = Reply::say(format!("{prefix}{head}{kind}{}。{ask}", lines.join("；")));
    r.flow = s.flow.name().to_string();
    r.awaiting = "yes_no".into();
    r
}

/// A field's value as it is read back aloud. ID and phone numbers are read whole only
/// at the accessible window (a headset); in the hall and at kiosks, where others hear,
/// only their last four digits.
fn spoken_value(a: &Agent, kind: FieldKind, v: &str) -> String {
    let public = !matches!(a.settings.profile, crate::config::Profile::Window);
    match kind {
        FieldKind::IdNumber | FieldKind::Phone if public => last_four(v),
        FieldKind::IdNumber => digits_for_ear(v, 6),
        FieldKind::Phone => digits_for_ear(v, 4),
        FieldKind::Date => spoken_date(v),
        _ => v.to_string(),
    }
}

/// "尾号" and the last four characters of a number, digit by digit.
fn last_four(v: &str) -> String {
    let chars: Vec<char> = v.chars().filter(|c| !c.is_whitespace()).collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("尾号{}", digits_for_ear(&tail, 4))
}

fn spoken_date(iso: &str) -> String {
    match chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d") {
        Ok(d) => {
            use chrono::Datelike;
            format!("{}年{}月{}日", d.year(), d.month(), d.day())
        }
        Err(_) => iso.to_string(),
    }
}

/// A correction such as "名字不对，是王小明" or "电话错了": which field it names.
fn corrected_field(a: &Agent, form_id: &str, text: &str) -> Option<String> {
    let fields = fields_of(&a.forms, &a.mediation, form_id);
    // the longest label (or a telling part of it) mentioned in the text
    let mut best: Option<(usize, String)> = None;
    for f in fields {
        let mut keys = vec![f.label.clone()];
        keys.extend(label_keys(f));
        for k in keys {
            if !k.is_empty() && text.contains(k.as_str()) {
                let n = k.chars().count();
                if best.as_ref().is_none_or(|(m, _)| n > *m) {
                    best = Some((n, f.name.clone()));
                }
            }
        }
    }
    best.map(|(_, n)| n)
}

fn label_keys(f: &FieldDef) -> Vec<String> {
    let mut v = Vec::new();
    let l = &f.label;
    for (needle, key) in [
        ("姓名", "名字"),
        ("身份证", "身份证"),
        ("电话", "电话"),
        ("手机", "手机"),
        ("日期", "日子"),
        ("地址", "地址"),
        ("住址", "地址"),
    ] {
        if l.contains(needle) {
            v.push(key.to_string());
        }
    }
    // the resident's own words for the field's kind (电话 for 手机号, 住址 for 居住地址),
    // when the form has one field of that kind
    let own = match f.kind {
        FieldKind::Phone => &["电话", "手机", "号码", "联系方式"][..],
        FieldKind::IdNumber => &["身份证", "证件号"][..],
        FieldKind::Address => &["地址", "住址", "住在哪"][..],
        FieldKind::Date => &["日子", "日期", "哪天"][..],
        _ => &[][..],
    };
    v.extend(own.iter().map(|k| k.to_string()));
    // "母亲姓名" also answers to "母亲名字" and "妈妈的名字"
    if l.contains("母亲") {
        v.push(l.replace("母亲", "妈妈").replace("姓名", "名字"));
        v.push(l.replace("姓名", "名字"));
    }
    if l.contains("父亲") {
        v.push(l.replace("父亲", "爸爸").replace("姓名", "名字"));
        v.push(l.replace("姓名", "名字"));
    }
    v
}

/// "Nothing to say" for an optional field: 没有, 还没起, 不知道, 跳过 ...
fn is_skip(text: &str) -> bool {
    text.chars().count() <= 6
        && [
            "没有",
            "还没",
            "没起",
            "不知道",
            "不清楚",
            "不用",
            "跳过",
            "暂时没",
            "无",
            "冇",
            "莫得",
        ]
        .iter()
        .any(|w| text.contains(w))
}

fn is_correction(text: &str) -> bool {
    [
        "不对",
        "错了",
        "说错",
        "改成",
        "改一下",
        "不是",
        "勿对",
        "唔啱",
        "唔係",
        "毋着",
        "莫对",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// A name said in a sentence the entity extractor did not catch ("孩子妈妈叫李芳",
/// "卖方是刘洋"): the words after the last 叫/是/姓名/名字.
fn name_in(text: &str) -> Option<String> {
    let cut = ["叫做", "叫", "是", "姓名", "名字"]
        .iter()
        .filter_map(|m| text.rfind(m).map(|i| i + m.len()))
        .max()?;
    let rest: String = text[cut..]
        .chars()
        .filter(|c| !c.is_ascii_punctuation() && !"，。！？、 ".contains(*c))
        .collect();
    (!rest.is_empty()).then_some(rest)
}

/// The value a free-text or choice field takes from an answer.
fn free_value(def: &FieldDef, u: &Understanding) -> String {
    if def.kind == FieldKind::PersonName {
        if let Some(n) = name_in(&u.normalized.text) {
            return n;
        }
    }
    if def.kind == FieldKind::Choice {
        let t = &u.normalized.text;
        for c in &def.choices {
            if t.contains(c.value.as_str()) || c.also.iter().any(|x| t.contains(x.as_str())) {
                return c.value.clone();
            }
        }
    }
    u.normalized.original.trim().to_string()
}

/// Fillers and commands that are never a field's value: the question is asked again.
const FILLERS: &[&str] = &[
    "好的",
    "好",
    "嗯",
    "嗯嗯",
    "对",
    "对的",
    "是",
    "是的",
    "行",
    "可以",
    "我承诺",
    "承诺",
    "同意",
    "我同意",
    "等一下",
    "等等",
    "再说一遍",
    "再说一次",
    "还有几个问题",
    "什么",
    "啥",
    "啊",
    "哦",
    "喂",
    "你好",
    "谢谢",
    "知道了",
    "明白",
    "好了",
    "ok",
    "没问题",
    "好个",
    "对个",
    "係",
    "得",
    "要得",
    "中",
];

fn plain(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// Commands inside a form: where am I (还有几个问题), back one (上一步), skip (跳过),
/// one field read again (手机号再念一遍). `Err` gives the form back when the words are
/// none of these.
fn form_command(
    a: &Agent,
    s: &mut Session,
    mut st: FormState,
    u: &Understanding,
) -> Result<Reply, FormState> {
    let t = plain(&u.normalized.text);
    let short = t.chars().count() <= 10;
    let has = |ws: &[&str]| ws.iter().any(|w| t.contains(w));
    let fields = fields_of(&a.forms, &a.mediation, &st.form_id);
    let current = match &st.stage {
        FormStage::Collect { current } => current.clone(),
        _ => None,
    };
    if short
        && has(&[
            "还有几个",
            "还有多少",
            "还剩几",
            "还剩多少",
            "还要多久",
            "还有几项",
            "第几项",
            "几个问题",
            "还有几条",
            "仲有几多",
            "仲有几",
            "还有几只",
            "还有好多个",
            "还有好多",
            "还剩好多",
            "仲有多少",
            "多少条问题",
            "多少个问题",
            "几多条",
        ])
    {
        let left = fields
            .iter()
            .filter(|f| !st.values.contains_key(&f.name))
            .count();
        let say = match (left, &current) {
            (0, _) => "问题都问完了，就差您确认。".to_string(),
            (n, Some(c)) => format!("算上这一项，还有{n}个问题。{}", progress(fields, c)),
            (n, None) => format!("还有{n}个问题。"),
        };
        return Ok(resume_form(a, s, st, &say));
    }
    if short
        && has(&[
            "上一步",
            "上一个",
            "上一项",
            "上一题",
            "返回",
            "退回",
            "回到上",
        ])
    {
        let idx = current
            .as_ref()
            .and_then(|c| fields.iter().position(|f| f.name == *c))
            .unwrap_or(fields.len());
        let prev = fields[..idx]
            .iter()
            .rev()
            .find(|f| st.values.contains_key(&f.name))
            .cloned();
        return Ok(match prev {
            Some(f) => {
                st.values.remove(&f.name);
                st.tries = 0;
                st.read_from = 0;
                st.stage = FormStage::Collect {
                    current: Some(f.name.clone()),
                };
                s.flow = Flow::Form(st);
                let mut r = Reply::say(format!(
                    "好的，回到上一项。{}{}",
                    progress(fields, &f.name),
                    f.ask
                ));
                r.flow = s.flow.name().to_string();
                r
            }
            None => resume_form(a, s, st, "这已经是第一项了。"),
        });
    }
    if let Some(cur) = current.as_ref().filter(|c| *c != DANGER) {
        if short
            && (t.starts_with("跳过") || t.starts_with("先跳过") || t == "下一个" || t == "下一项")
        {
            let Some(def) = field_def(&a.forms, &a.mediation, &st.form_id, cur).cloned() else {
                return Err(st);
            };
            if !def.required {
                st.values.insert(def.name.clone(), String::new());
                return Ok(ask_next(a, s, st, "好的，这项先空着。".into()));
            }
            let others = fields
                .iter()
                .any(|f| f.name != *cur && !st.values.contains_key(&f.name));
            if others {
                st.put_off.push(cur.clone());
                return Ok(ask_next(
                    a,
                    s,
                    st,
                    "好的，这一项必须填，我们最后再说。".into(),
                ));
            }
            return Ok(resume_form(a, s, st, "这一项必须填，不能跳过。"));
        }
    }
    // "名字怎么写" / "是哪个字": a name spelled back character by character
    if has(&["怎么写", "哪个字", "哪几个字", "什么字", "咋写", "点写"]) {
        let named = corrected_field(a, &st.form_id, &u.normalized.text);
        let field = named
            .as_deref()
            .and_then(|n| field_def(&a.forms, &a.mediation, &st.form_id, n))
            .filter(|d| st.values.get(&d.name).is_some_and(|v| !v.is_empty()))
            .or_else(|| {
                fields.iter().find(|f| {
                    f.kind == FieldKind::PersonName
                        && st.values.get(&f.name).is_some_and(|v| !v.is_empty())
                })
            })
            .cloned();
        if let Some(def) = field {
            let v = st.values.get(&def.name).cloned().unwrap_or_default();
            let said = format!("{}是{v}：{}。", def.label, spell_out(&v));
            return Ok(resume_form(a, s, st, &said));
        }
    }
    if has(&[
        "再念",
        "念一下",
        "念一遍",
        "是多少",
        "多少来着",
        "再说一下",
        "再说一遍",
        "是什么来着",
        "再讲一遍",
        "读一遍",
        "再读",
    ]) {
        if let Some(name) = corrected_field(a, &st.form_id, &u.normalized.text) {
            if let Some(def) = field_def(&a.forms, &a.mediation, &st.form_id, &name) {
                let said = match st.values.get(&name).filter(|v| !v.is_empty()) {
                    Some(v) => format!("{}。", def.read_back(&spoken_value(a, def.kind, v))),
                    None => format!("{}还没填。", def.label),
                };
                return Ok(resume_form(a, s, st, &said));
            }
        }
    }
    Err(st)
}

/// A form command (还有几个问题, 上一步, 跳过, 手机号再念一遍) while a form is open:
/// before the generic commands, which would read "再念一遍" as "repeat the last reply".
pub fn form_command_turn(a: &Agent, s: &mut Session, u: &Understanding) -> Option<Reply> {
    let Flow::Form(st) = s.flow.clone() else {
        return None;
    };
    match form_command(a, s, st, u) {
        Ok(r) => Some(r),
        Err(st) => {
            s.flow = Flow::Form(st);
            None
        }
    }
}

/// Common characters of names and the words people use to say which one is meant.
const CHAR_WORDS: &[(char, &str)] = &[
    ('王', "三横一竖王"),
    ('李', "木子李"),
    ('张', "弓长张"),
    ('刘', "文刀刘"),
    ('陈', "耳东陈"),
    ('杨', "木易杨"),
    ('赵', "走肖赵"),
    ('黄', "草头黄"),
    ('周', "周末的周"),
    ('吴', "口天吴"),
    ('徐', "双人徐"),
    ('孙', "子小孙"),
    ('胡', "古月胡"),
    ('朱', "朱红的朱"),
    ('高', "高低的高"),
    ('林', "双木林"),
    ('何', "人可何"),
    ('郭', "城郭的郭"),
    ('马', "马上的马"),
    ('罗', "罗马的罗"),
    ('梁', "梁山的梁"),
    ('宋', "宋朝的宋"),
    ('郑', "郑重的郑"),
    ('谢', "谢谢的谢"),
    ('韩', "韩国的韩"),
    ('唐', "唐朝的唐"),
    ('冯', "两点水一个马的冯"),
    ('于', "于是的于"),
    ('董', "董事的董"),
    ('曹', "曹操的曹"),
    ('许', "言午许"),
    ('沈', "三点水的沈"),
    ('曾', "曾经的曾"),
    ('吕', "双口吕"),
    ('蒋', "草头蒋"),
    ('蔡', "蔡伦的蔡"),
    ('潘', "三点水的潘"),
    ('叶', "树叶的叶"),
    ('杜', "木土杜"),
    ('魏', "魏国的魏"),
    ('程', "程度的程"),
    ('苏', "江苏的苏"),
    ('丁', "甲乙丙丁的丁"),
    ('钱', "金钱的钱"),
    ('方', "方向的方"),
    ('石', "石头的石"),
    ('小', "大小的小"),
    ('大', "大小的大"),
    ('明', "明天的明"),
    ('红', "红色的红"),
    ('华', "中华的华"),
    ('伟', "伟大的伟"),
    ('玮', "王字旁的玮"),
    ('芳', "芬芳的芳"),
    ('敏', "敏捷的敏"),
    ('静', "安静的静"),
    ('丽', "美丽的丽"),
    ('强', "强大的强"),
    ('磊', "三个石头的磊"),
    ('军', "军人的军"),
    ('洋', "海洋的洋"),
    ('勇', "勇敢的勇"),
    ('艳', "鲜艳的艳"),
    ('杰', "杰出的杰"),
    ('娟', "女字旁的娟"),
    ('涛', "波涛的涛"),
    ('超', "超过的超"),
    ('秀', "优秀的秀"),
    ('霞', "彩霞的霞"),
    ('平', "平安的平"),
    ('刚', "刚才的刚"),
    ('晓', "春眠不觉晓的晓"),
    ('春', "春天的春"),
    ('文', "文化的文"),
    ('家', "家庭的家"),
    ('国', "国家的国"),
    ('建', "建设的建"),
    ('志', "志气的志"),
    ('英', "英雄的英"),
    ('玉', "玉石的玉"),
    ('兰', "兰花的兰"),
    ('梅', "梅花的梅"),
    ('雪', "下雪的雪"),
    ('海', "大海的海"),
    ('东', "东西的东"),
    ('亮', "明亮的亮"),
    ('新', "新旧的新"),
    ('宇', "宇宙的宇"),
    ('浩', "浩大的浩"),
    ('天', "天空的天"),
    ('佳', "佳节的佳"),
    ('欣', "欣赏的欣"),
    ('思', "思想的思"),
    ('晨', "早晨的晨"),
    ('阳', "太阳的阳"),
    ('辉', "光辉的辉"),
    ('鹏', "大鹏的鹏"),
    ('飞', "飞机的飞"),
    ('云', "白云的云"),
    ('凤', "凤凰的凤"),
    ('琳', "王字旁的琳"),
    ('婷', "女字旁的婷"),
    ('燕', "燕子的燕"),
    ('慧', "智慧的慧"),
    ('宁', "安宁的宁"),
    ('安', "平安的安"),
    ('福', "幸福的福"),
    ('德', "道德的德"),
    ('成', "成功的成"),
    ('民', "人民的民"),
    ('峰', "山峰的峰"),
    ('斌', "文武斌"),
    ('波', "波浪的波"),
    ('健', "健康的健"),
    ('俊', "英俊的俊"),
    ('秋', "秋天的秋"),
    ('冬', "冬天的冬"),
    ('夏', "夏天的夏"),
    ('月', "月亮的月"),
    ('星', "星星的星"),
    ('金', "金子的金"),
    ('珍', "珍珠的珍"),
    ('珠', "珍珠的珠"),
    ('美', "美丽的美"),
    ('玲', "王字旁的玲"),
    ('萍', "浮萍的萍"),
    ('颖', "聪颖的颖"),
    ('洁', "整洁的洁"),
    ('宏', "宏大的宏"),
];

/// A name spelled for the ear: "王小明" → "王，三横一竖王；小，大小的小；明，明天的明".
fn spell_out(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match CHAR_WORDS.iter().find(|(k, _)| *k == c) {
            Some((_, w)) => format!("{c}，{w}"),
            None => c.to_string(),
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// A failed try at the current field: the reason, and after the third, help instead of
/// the same question a fourth time (a person, with the draft; or the rest first).
fn failed_try(s: &mut Session, mut st: FormState, cur: String, why: String, keypad: bool) -> Reply {
    st.tries += 1;
    st.stage = FormStage::Collect { current: Some(cur) };
    if st.tries >= 3 {
        s.flow = Flow::OfferHelp(Box::new(st));
        let offer = if keypad { OFFER_KEYPAD } else { OFFER_HELP };
        let mut r = Reply::say(format!("{why}{offer}")).with_earcon(Earcon::Error);
        r.flow = s.flow.name().to_string();
        return r;
    }
    s.flow = Flow::Form(st);
    Reply::say(why).with_earcon(Earcon::Error)
}

const OFFER_HELP: &str = "这一项试了三次还是不行。要我请工作人员来帮您吗？填好的内容会交给他们。不用的话，我们先填别的。";
/// The same where the terminal has a keypad and the field is a number.
const OFFER_KEYPAD: &str = "这一项试了三次还是不行。您可以在键盘上按号码，按完按确认；也可以让我请工作人员来帮您，填好的内容会交给他们。";

/// Whether a resident stuck on a field of `kind` can type it: a number, at a terminal
/// with a keypad (the kiosk and the accessible window; the robot has none).
fn keypad_for(a: &Agent, kind: FieldKind) -> bool {
    use crate::config::Profile;
    matches!(
        kind,
        FieldKind::IdNumber | FieldKind::Phone | FieldKind::Count
    ) && matches!(a.settings.profile, Profile::Kiosk | Profile::Window)
}

/// The answer to the offer of help after three failed tries.
fn offer_help_answer(a: &Agent, s: &mut Session, mut st: FormState, u: &Understanding) -> Reply {
    // the number typed on the keypad (or said once more): an answer to the field
    let digits = u
        .normalized
        .text
        .chars()
        .filter(char::is_ascii_digit)
        .count();
    if digits >= 6 {
        st.tries = 0;
        return form_turn(a, s, st, u);
    }
    if u.intent.intent == Intent::ConfirmYes || u.intent.intent == Intent::HandoffHuman {
        s.flow = Flow::Form(st);
        return handoff(a, s);
    }
    // anything else: the other fields first; this one comes back at the end
    if let FormStage::Collect { current: Some(c) } = &st.stage {
        if !st.put_off.contains(c) {
            st.put_off.push(c.clone());
        }
    }
    st.tries = 0;
    let fields = fields_of(&a.forms, &a.mediation, &st.form_id);
    let others = fields
        .iter()
        .any(|f| !st.values.contains_key(&f.name) && !st.put_off.contains(&f.name));
    if !others {
        // nothing else to ask: the draft goes to staff rather than a fourth try
        s.flow = Flow::Form(st);
        return handoff(a, s);
    }
    st.stage = FormStage::Collect { current: None };
    ask_next(a, s, st, "好的，这一项我们最后再说。".into())
}

/// A date as the resident means it: "上个月十五号", "这个月三号", and a day said without
/// a year ("十月一号") in the past when the field must be in the past.
fn meant_date(u: &Understanding, today: chrono::NaiveDate, past: bool) -> Option<String> {
    use chrono::{Datelike, Months};
    let text = xiaoan_intents::numerals_to_digits(&u.normalized.text);
    let day_after = |key: &str| -> Option<u32> {
        let rest = &text[text.find(key)? + key.len()..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let n: u32 = digits.parse().ok()?;
        let after = &rest[digits.len()..];
        (after.starts_with('号') || after.starts_with('日')).then_some(n)
    };
    for (key, back) in [("上个月", 1u32), ("上月", 1), ("这个月", 0), ("本月", 0)] {
        if let Some(d) = day_after(key) {
            let month = today.checked_sub_months(Months::new(back))?;
            return chrono::NaiveDate::from_ymd_opt(month.year(), month.month(), d)
                .map(|d| d.format("%Y-%m-%d").to_string());
        }
    }
    let e = u.entities.iter().find(|e| e.kind == EntityKind::Date)?;
    let d = chrono::NaiveDate::parse_from_str(&e.value, "%Y-%m-%d").ok()?;
    if past && d > today && !u.normalized.original.contains('年') {
        let earlier = d.with_year(d.year() - 1)?;
        if earlier <= today {
            return Some(earlier.format("%Y-%m-%d").to_string());
        }
    }
    None
}

/// An address said whole ("我住在幸福路8号3号楼502室"): the whole of it, not only the
/// building and room the extractor found.
fn whole_address(u: &Understanding, found: &str) -> Option<String> {
    let mut t = u.normalized.original.trim();
    for p in [
        "我现在住在",
        "我住在",
        "现在住在",
        "住在",
        "我家在",
        "家在",
        "地址是",
        "在",
    ] {
        if let Some(rest) = t.strip_prefix(p) {
            t = rest;
            break;
        }
    }
    let t: String = t
        .trim_matches(|c: char| "。，,.！!？? ".contains(c))
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    (t.len() > found.len() && t.contains(found) && !t.contains('，') && !t.contains(','))
        .then_some(t)
}

fn form_turn(a: &Agent, s: &mut Session, st: FormState, u: &Understanding) -> Reply {
    let intent = u.intent.intent;
    let text = u.normalized.text.clone();
    if st.form_id == MEDIATION
        && (a.mediation.is_danger(&u.normalized.original) || a.mediation.is_danger(&text))
    {
        return emergency(a, s, u);
    }
    let mut st = match form_command(a, s, st, u) {
        Ok(r) => return r,
        Err(st) => st,
    };
    match st.stage.clone() {
        FormStage::Commitment => {
            match intent {
                Intent::ConfirmYes => file(a, s, st),
                Intent::ConfirmNo => {
                    // a finished form is never dropped on one word: kept for staff
                    let kept = records::draft(a, s, &st.form_id, &st.values, "not_agreed");
                    s.flow = Flow::Idle;
                    Reply::say(match kept {
                        Some(no) => format!(
                            "好的，没有提交。填好的内容留给工作人员了，编号{}。不同意承诺的话，可以带齐材料到窗口办，或者说“找工作人员”。",
                            number_for_ear(&no)
                        ),
                        None => "好的，没有提交。不同意承诺的话，可以带齐材料到窗口办，或者说“找工作人员”。".to_string(),
                    })
                }
                _ => {
                    s.flow = Flow::Form(st);
                    Reply::say("请说“同意”或者“不同意”。")
                }
            }
        }
        FormStage::ReadBack { part } => match intent {
            Intent::ConfirmYes => {
                let parts = read_parts(a, &st).len();
                if part + 1 < parts {
                    st.read_from = part + 1;
                    return read_back(a, s, st, "好的。".into());
                }
                st.read_from = 0;
                if st.form_id == MEDIATION {
                    return file(a, s, st);
                }
                let commitment = a
                    .forms
                    .get(&st.form_id)
                    .map(|f| f.commitment.clone())
                    .unwrap_or_default();
                st.stage = FormStage::Commitment;
                s.flow = Flow::Form(st);
                let mut r = Reply::say(format!(
                    "最后念一下承诺：{commitment}您同意吗？同意就说“同意”或者“我承诺”。"
                ));
                r.flow = "declaration".into();
                r
            }
            _ => {
                // a "no" with the correction in it ("不对，电话是……"), or a bare "no"
                st.read_from = part;
                let target = corrected_field(a, &st.form_id, &text);
                if let Some(name) = target {
                    return correct(a, s, st, &name, u);
                }
                st.stage = FormStage::Collect { current: None };
                s.flow = Flow::Form(st);
                Reply::say("哪一项不对？直接说就行，比如“电话是一三八……”。")
            }
        },
        FormStage::Collect { current } => {
            // a correction of an earlier field
            if is_correction(&text) || current.is_none() {
                if let Some(name) = corrected_field(a, &st.form_id, &text) {
                    if current.as_deref() != Some(name.as_str()) || current.is_none() {
                        return correct(a, s, st, &name, u);
                    }
                }
            }
            let Some(cur) = current else {
                // "对" to "哪一项不对": nothing to change after all, back to the read-back
                if intent == Intent::ConfirmYes {
                    return read_back(a, s, st, "好的。".into());
                }
                st.tries += 1;
                if st.tries >= 3 {
                    st.tries = 0;
                    return read_back(
                        a,
                        s,
                        st,
                        "我没听出是哪一项。我再念一遍，错的那一项您直接说新的，比如“电话是幺三八……”。".into(),
                    );
                }
                s.flow = Flow::Form(st);
                return Reply::say("哪一项要改？请说项目名字，比如“电话是……”。");
            };
            if cur == DANGER {
                return match intent {
                    Intent::ConfirmYes | Intent::Emergency => emergency(a, s, u),
                    Intent::ConfirmNo => {
                        st.values.insert(DANGER.into(), "no".into());
                        ask_next(a, s, st, "好的。".into())
                    }
                    _ => {
                        s.flow = Flow::Form(st);
                        Reply::say("请说“有”或者“没有”：现在有没有人有危险？")
                    }
                };
            }
            let Some(def) = field_def(&a.forms, &a.mediation, &st.form_id, &cur).cloned() else {
                s.flow = Flow::Idle;
                return Reply::say("这张表出了问题，我请工作人员来帮您。");
            };
            if !def.required && (matches!(intent, Intent::ConfirmNo) || is_skip(&text)) {
                st.values.insert(def.name.clone(), String::new());
                return ask_next(a, s, st, "好的，这项先空着。".into());
            }
            // cancel words never become a value, whatever the classifier made of them
            if says_cancel(&text) && text.chars().count() <= 8 {
                st.stage = FormStage::Collect {
                    current: Some(cur.clone()),
                };
                s.flow = Flow::Form(st.clone());
                if let Some(r) = confirm_cancel(s) {
                    return r;
                }
            }
            // a filler or a command is never a value: the question again, plainly
            let said = plain(&text);
            let said_raw = plain(&u.normalized.original);
            if said.is_empty()
                || FILLERS.contains(&said.as_str())
                || FILLERS.contains(&said_raw.as_str())
                || says_goodbye(&text)
            {
                st.stage = FormStage::Collect {
                    current: Some(cur.clone()),
                };
                return resume_form(a, s, st, &format!("请直接说{}。", def.label));
            }
            // dates as people mean them (上个月十五号; 十月一号 in the past)
            let mut entities = u.entities.clone();
            if def.kind == FieldKind::Date {
                if let Some(d) = meant_date(u, a.today(), def.not_future) {
                    entities.retain(|e| e.kind != EntityKind::Date);
                    entities.insert(
                        0,
                        Entity {
                            kind: EntityKind::Date,
                            value: d,
                            text: text.clone(),
                            role: None,
                        },
                    );
                }
            }
            let (filled, errors) = fill_from_entities(a, &mut st, &entities, Some(&cur));
            if filled.contains(&cur) && def.kind == FieldKind::Address {
                let found = st.values.get(&cur).cloned().unwrap_or_default();
                if let Some(w) = whole_address(u, &found) {
                    if let Ok(v) = validate(a, &st.form_id, &cur, &w) {
                        st.values.insert(cur.clone(), v);
                    }
                }
            }
            if !filled.contains(&cur) {
                if let Some(e) = errors.into_iter().next() {
                    return failed_try(s, st, cur, e, keypad_for(a, def.kind));
                }
                // free text, choices, or a value the entity extractor did not catch
                let raw = if entity_kind_of(def.kind).is_some() && def.kind != FieldKind::PersonName
                {
                    u.normalized.text.clone()
                } else {
                    free_value(&def, u)
                };
                match validate(a, &st.form_id, &cur, &raw) {
                    Ok(v) => {
                        st.values.insert(cur.clone(), v);
                    }
                    Err(e) => return failed_try(s, st, cur, e, keypad_for(a, def.kind)),
                }
            }
            let prefix = if a.settings.confirm_each_step {
                let v = st.values.get(&cur).cloned().unwrap_or_default();
                format!("好的，{}。", def.read_back(&spoken_value(a, def.kind, &v)))
            } else {
                "好的。".to_string()
            };
            ask_next(a, s, st, prefix)
        }
    }
}

fn correct(a: &Agent, s: &mut Session, mut st: FormState, name: &str, u: &Understanding) -> Reply {
    let Some(def) = field_def(&a.forms, &a.mediation, &st.form_id, name).cloned() else {
        s.flow = Flow::Form(st);
        return Reply::say("哪一项要改？");
    };
    // the new value: for a name, the words after 是/叫; else an entity of the field's
    // kind; else the words after "是"
    let by_words = || {
        let t = &u.normalized.original;
        t.rfind('是')
            .map(|i| {
                t[i + '是'.len_utf8()..]
                    .trim()
                    .trim_matches(|c: char| "。，,.！!".contains(c))
                    .to_string()
            })
            .filter(|v| !v.is_empty())
    };
    let value = if def.kind == FieldKind::PersonName {
        name_in(&u.normalized.text).or_else(by_words)
    } else {
        entity_kind_of(def.kind)
            .and_then(|k| {
                u.entities
                    .iter()
                    .find(|e| e.kind == k)
                    .map(|e| e.value.clone())
            })
            .or_else(by_words)
    };
    match value.map(|v| validate(a, &st.form_id, name, &v)) {
        Some(Ok(v)) => {
            st.values.insert(name.to_string(), v.clone());
            st.read_from = part_of(a, &st, name);
            let said = def.read_back(&spoken_value(a, def.kind, &v));
            ask_next(a, s, st, format!("改好了，{said}。"))
        }
        Some(Err(e)) => {
            st.stage = FormStage::Collect {
                current: Some(name.to_string()),
            };
            s.flow = Flow::Form(st);
            Reply::say(e).with_earcon(Earcon::Error)
        }
        None => {
            st.values.remove(name);
            st.stage = FormStage::Collect {
                current: Some(name.to_string()),
            };
            let ask = def.ask.clone();
            s.flow = Flow::Form(st);
            Reply::say(format!("好的，重新说一下。{ask}"))
        }
    }
}

fn file(a: &Agent, s: &mut Session, st: FormState) -> Reply {
    if st.form_id == MEDIATION {
        let kind = st
            .values
            .get(KIND)
            .cloned()
            .unwrap_or_else(|| "other".into());
        return match records::mediator_offer(a) {
            Some(offer) => {
                let when = crate::store::spoken_time(offer.start);
                let text = format!(
                    "调解员最近有空的时间是{when}，在{}。这个时间可以吗？",
                    offer.place
                );
                s.flow = Flow::MediatorOffer {
                    kind,
                    values: st.values,
                    offer,
                };
                let mut r = Reply::say(text);
                r.flow = "mediation".into();
                r.awaiting = "yes_no".into();
                r
            }
            None => open_case(a, s, &kind, &st.values.clone(), None),
        };
    }
    match records::file_declaration(a, s, &st.form_id, &st.values) {
        Ok(receipt) => {
            s.flow = Flow::Idle;
            let owed = a
                .forms
                .get(&st.form_id)
                .map(|f| f.materials_owed(a.today()))
                .unwrap_or_default();
            let owed_text = if owed.is_empty() {
                String::new()
            } else {
                let items: Vec<String> = owed
                    .iter()
                    .map(|m| {
                        format!(
                            "{}，{}前补交",
                            m.name,
                            spoken_date(&m.due.format("%Y-%m-%d").to_string())
                        )
                    })
                    .collect();
                format!("还需要补交：{}。", items.join("；"))
            };
            let title = a
                .forms
                .get(&st.form_id)
                .map(|f| f.title.clone())
                .unwrap_or_default();
            let what = format!("{title}的回执号");
            let mut r = Reply::say(format!(
                "已经提交了。{}以后查进度、补交材料都要用这个号，请记下来。{}要我再念一遍回执号吗？",
                number_twice(&what, &receipt),
                owed_text
            ))
            .with_earcon(Earcon::Done);
            s.last_number = Some((receipt.clone(), what.clone()));
            s.flow = Flow::OfferNumber {
                number: receipt.clone(),
                what,
            };
            r.receipt = Some(receipt);
            r.flow = "declaration".into();
            r
        }
        Err(_) => {
            // nothing half-written: the store rolls the transaction back
            s.flow = Flow::Form(st);
            Reply::say("提交的时候出了问题，没有提交成功，您说的内容都还在。请再说一次“同意”，或者说“找工作人员”。")
                .with_earcon(Earcon::Error)
        }
    }
}

/// The answer to a mediator slot. Yes books it; "换个时间" / "唔得" / "不行" offers the
/// next free slot; "都不行" (or no other slot) opens the case without one, and the
/// mediator calls. The case is filed whatever is said: it is never lost to an answer
/// that is not about the slot.
fn mediator_offer_answer(
    a: &Agent,
    s: &mut Session,
    kind: String,
    values: BTreeMap<String, String>,
    offer: MediatorOffer,
    u: &Understanding,
) -> Reply {
    let t = plain(&u.normalized.text);
    let t_raw = plain(&u.normalized.original);
    let has = |ws: &[&str]| ws.iter().any(|w| t.contains(w) || t_raw.contains(w));
    let none_fit = has(&[
        "都不行",
        "都没空",
        "都唔得",
        "全部唔得",
        "都不方便",
        "打电话约",
    ]);
    let another = has(&[
        "换个",
        "换一个",
        "改个",
        "别的时间",
        "其他时间",
        "另外",
        "唔得",
        "不行",
        "没空",
        "冇时间",
        "冇空",
        "唔方便",
        "不方便",
        "晚一点",
        "早一点",
        "再晚",
        "下个",
        "第二个",
    ]);
    if u.intent.intent == Intent::ConfirmYes && !another && !none_fit {
        return open_case(a, s, &kind, &values, Some(offer));
    }
    if !none_fit && (another || u.intent.intent == Intent::ConfirmNo) {
        if let Some(next) = records::mediator_offer_after(a, offer.start) {
            let when = crate::store::spoken_time(next.start);
            let text = format!(
                "好的，换一个：{when}，在{}。这个时间可以吗？都不行的话，说“都不行”，调解员会打电话跟您约。",
                next.place
            );
            s.flow = Flow::MediatorOffer {
                kind,
                values,
                offer: next,
            };
            let mut r = Reply::say(text);
            r.flow = "mediation".into();
            r.awaiting = "yes_no".into();
            return r;
        }
    }
    open_case(a, s, &kind, &values, None)
}

fn open_case(
    a: &Agent,
    s: &mut Session,
    kind: &str,
    values: &BTreeMap<String, String>,
    offer: Option<MediatorOffer>,
) -> Reply {
    let booked = offer.clone();
    match records::mediation_case(a, s, kind, values, offer) {
        Ok(case) => {
            s.flow = Flow::Idle;
            let when = match booked {
                Some(o) => format!(
                    "调解时间约在{}，地点{}。",
                    crate::store::spoken_time(o.start),
                    o.place
                ),
                None => "调解员会打电话跟您约时间。".to_string(),
            };
            let what = "调解的案件编号".to_string();
            let mut r = Reply::say(format!(
                "已经登记了调解。{}{when}两天内我们会给您回访电话。要我再念一遍案件编号吗？",
                number_twice(&what, &case)
            ))
            .with_earcon(Earcon::Done);
            s.last_number = Some((case.clone(), what.clone()));
            s.flow = Flow::OfferNumber {
                number: case.clone(),
                what,
            };
            r.receipt = Some(case);
            r.flow = "mediation".into();
            r
        }
        Err(records::NotFiled) => {
            s.flow = Flow::Idle;
            let _ = records::draft(a, s, MEDIATION, values, "store_error");
            Reply::say("登记的时候出了问题。您说的内容已经留给工作人员，我请他们来帮您。")
                .with_earcon(Earcon::Error)
        }
    }
}

// ------------------------------------------------------------------ stop, cancel, leave

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
    let Flow::Form(st) = &s.flow else {
        return None;
    };
    if st.values.keys().all(|k| k.starts_with('_')) {
        return None; // nothing filled yet: nothing to lose
    }
    s.flow = Flow::ConfirmCancel(Box::new(st.clone()));
    let mut r = Reply::say(CONFIRM_CANCEL);
    r.flow = s.flow.name().to_string();
    Some(r)
}

/// "再见" during a form: ask whether to keep what was filled.
pub fn confirm_leave(s: &mut Session) -> Option<Reply> {
    let Flow::Form(st) = &s.flow else {
        return None;
    };
    if st.values.keys().all(|k| k.starts_with('_')) {
        return None;
    }
    s.flow = Flow::ConfirmLeave(Box::new(st.clone()));
    let mut r = Reply::say(CONFIRM_LEAVE);
    r.flow = s.flow.name().to_string();
    Some(r)
}

/// Back to the form where it was: the pending question again.
fn resume_form(a: &Agent, s: &mut Session, st: FormState, prefix: &str) -> Reply {
    s.flow = Flow::Form(st);
    let q = pending_question(a, s).unwrap_or_default();
    let mut r = Reply::say(format!("{prefix}{q}"));
    r.flow = s.flow.name().to_string();
    r
}

/// The answer to "确定不办了吗". Yes: the form ends, kept as a draft for staff. No (or
/// anything unclear): back to the form. A clear new request: the resident has moved on;
/// the form is kept as a draft and the request handled as usual (`None`).
fn cancel_answer(a: &Agent, s: &mut Session, st: FormState, u: &Understanding) -> Option<Reply> {
    let i = &u.intent;
    let yes = i.intent == Intent::ConfirmYes
        || (says_cancel(&u.normalized.text) && !u.normalized.text.contains("不取消"));
    let moved_on = !yes
        && !i.unsure
        && i.confidence >= super::INTERRUPT_CONFIDENCE
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
    if yes {
        let kept = records::draft(a, s, &st.form_id, &st.values, "cancelled");
        s.flow = Flow::Idle;
        return Some(Reply::say(match kept {
            Some(no) => format!(
                "好的，不办了，什么都没有提交。刚才填的内容留给工作人员了，编号{}，下次可以接着办。还要办别的吗？",
                number_for_ear(&no)
            ),
            None => "好的，不办了，什么都没有提交。还要办别的吗？".to_string(),
        }));
    }
    Some(resume_form(a, s, st, "好的，接着办。"))
}

fn leave_answer(a: &Agent, s: &mut Session, st: FormState, u: &Understanding) -> Reply {
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

/// "回执号是多少" / "再念一遍回执号": the last number given in this session, read
/// again (twice, with what it is for).
pub fn number_asked(s: &Session, text: &str) -> Option<Reply> {
    let t = plain(text);
    let names = [
        "回执",
        "编号",
        "案件号",
        "预约号",
        "单号",
        "号码",
        "取的号",
        "我的号",
    ];
    let asks = [
        "多少",
        "再念",
        "再说",
        "念一下",
        "几号",
        "再读",
        "念一遍",
        "说一遍",
        "几多",
        "讲一遍",
        "再讲",
        "是啥",
        "是什么",
        "忘了",
        "记不住",
    ];
    if t.chars().count() > 14
        || !names.iter().any(|w| t.contains(w))
        || !asks.iter().any(|w| t.contains(w))
        || ["手机", "电话", "身份证"].iter().any(|w| t.contains(w))
    {
        return None;
    }
    Some(match &s.last_number {
        Some((no, what)) => Reply::say(format!("{}还要办别的吗？", number_twice(what, no))),
        None => Reply::say("这次还没有给您编号。办完一件事，我会把回执号念给您。"),
    })
}

/// The question the resident is being asked now, in full (the field's own question
/// for a form), to repeat after a control or a pause.
pub fn pending_question(a: &Agent, s: &Session) -> Option<String> {
    match &s.flow {
        Flow::Form(st) => match &st.stage {
            FormStage::Collect {
                current: Some(name),
            } if name == DANGER => Some(a.mediation.danger_question.clone()),
            FormStage::Collect {
                current: Some(name),
            } => field_def(&a.forms, &a.mediation, &st.form_id, name).map(|d| d.ask.clone()),
            _ => s.flow.prompt(),
        },
        other => other.prompt(),
    }
}

/// Keep a half-filled form for staff (time-out, emergency, hand-over). Returns the draft
/// number when something was kept.
pub fn save_draft(a: &Agent, s: &Session, reason: &str) -> Option<String> {
    match &s.flow {
        Flow::Form(st) if !st.values.is_empty() => {
            records::draft(a, s, &st.form_id, &st.values, reason)
        }
        Flow::ConfirmCancel(st) | Flow::ConfirmLeave(st) | Flow::OfferHelp(st)
            if !st.values.is_empty() =>
        {
            records::draft(a, s, &st.form_id, &st.values, reason)
        }
        _ => None,
    }
}

/// On a time-out that ends the session.
pub fn save_draft_on_timeout(a: &Agent, s: &Session) -> Option<String> {
    save_draft(a, s, "timeout")
}

// ------------------------------------------------------------------ appointments

/// Start booking: which service (from the guide) and when (from the words).
pub fn start_appointment(a: &Agent, s: &mut Session, u: &Understanding) -> Reply {
    let service = a
        .retriever
        .search(&u.normalized.text, 1)
        .ok()
        .and_then(|h| h.into_iter().next())
        .filter(|h| h.confidence >= 0.3)
        .map(|h| h.id)
        .unwrap_or_else(|| "appointment".to_string());
    s.flow = Flow::Appointment {
        service: service.clone(),
    };
    if u.entities
        .iter()
        .any(|e| e.kind == EntityKind::Date || e.kind == EntityKind::Time)
    {
        return appointment_turn(a, s, &service, u);
    }
    let title = a
        .guide
        .item(&service)
        .map(|i| i.title.clone())
        .unwrap_or_else(|| "办事".into());
    let mut r = Reply::say(format!("好的，帮您约{title}。您想约哪天几点？"));
    r.flow = "appointment".into();
    r
}

/// The day (ISO) and time (HH:MM) said in an utterance, if any.
fn said_date_time(u: &Understanding) -> (Option<String>, Option<String>) {
    let first = |k: EntityKind| {
        u.entities
            .iter()
            .find(|e| e.kind == k)
            .map(|e| e.value.clone())
    };
    (first(EntityKind::Date), first(EntityKind::Time))
}

fn appointment_turn(a: &Agent, s: &mut Session, service: &str, u: &Understanding) -> Reply {
    if matches!(u.intent.intent, Intent::ConfirmNo) {
        s.flow = Flow::Idle;
        return Reply::say("好的，不约了。");
    }
    let (date, time) = said_date_time(u);
    match records::book(a, s, service, date.as_deref(), time.as_deref()) {
        records::BookOutcome::Booked { number, when } => {
            s.flow = Flow::Idle;
            s.last_appointment = Some(number.clone());
            s.last_number = Some((number.clone(), "预约号".into()));
            let mut r = Reply::say(format!(
                "约好了：{when}。{}到时候直接到窗口报预约号就行。",
                number_twice("预约号", &number)
            ))
            .with_earcon(Earcon::Done);
            r.receipt = Some(number);
            r
        }
        records::BookOutcome::Full { alternative } => {
            s.flow = Flow::Appointment {
                service: service.to_string(),
            };
            Reply::say(match alternative {
                Some(t) => {
                    format!("那个时间约满了。最近能约的是{t}，可以吗？可以的话请直接说这个时间。")
                }
                None => "那个时间约满了，请换一天。".to_string(),
            })
        }
        records::BookOutcome::NeedTime => {
            s.flow = Flow::Appointment {
                service: service.to_string(),
            };
            Reply::say("您想约哪天几点？比如“明天上午十点”。")
        }
        records::BookOutcome::Failed => {
            s.flow = Flow::Idle;
            Reply::say("预约系统出了点问题，我请工作人员帮您约。").with_earcon(Earcon::Error)
        }
    }
}

/// Start moving or cancelling an appointment: the number said now, or the one booked in
/// this session; otherwise ask for it.
pub fn start_change_appointment(
    a: &Agent,
    s: &mut Session,
    action: ApptChange,
    u: &Understanding,
) -> Reply {
    let number = appointment_number_in(&u.normalized.text).or_else(|| s.last_appointment.clone());
    s.flow = Flow::ChangeAppointment {
        action,
        booked: None,
    };
    match number {
        Some(n) => change_with_number(a, s, action, &n, u),
        None => {
            let mut r = Reply::say(ASK_APPT_NUMBER);
            r.flow = "appointment".into();
            r
        }
    }
}

fn change_appointment_turn(
    a: &Agent,
    s: &mut Session,
    action: ApptChange,
    booked: Option<(String, String, String)>,
    u: &Understanding,
) -> Reply {
    let Some((number, service, when)) = booked else {
        return match appointment_number_in(&u.normalized.text) {
            Some(n) => change_with_number(a, s, action, &n, u),
            None if u.intent.intent == Intent::ConfirmNo => {
                s.flow = Flow::Idle;
                Reply::say("好的，预约没有改动。")
            }
            None => Reply::say(format!("没听到预约号。{ASK_APPT_NUMBER}")),
        };
    };
    match action {
        ApptChange::Move => move_to_said_time(a, s, &number, &service, &when, u),
        ApptChange::Cancel => match u.intent.intent {
            _ if said_cancel(&u.normalized.text) => cancel_now(a, s, &number, &when),
            Intent::ConfirmYes => cancel_now(a, s, &number, &when),
            Intent::ConfirmNo => {
                s.flow = Flow::Idle;
                Reply::say(format!("好的，不取消，{when}的预约还在。"))
            }
            _ => Reply::say(format!("您{when}的预约，要取消吗？请说“对”或者“不对”。")),
        },
    }
}

/// "取消" / "取消吧" / "取消预约" answering "要取消吗": a yes. "不取消" is not.
fn said_cancel(text: &str) -> bool {
    text.contains("取消") && !text.contains("不取消") && !text.contains("别取消")
}

fn cancel_now(a: &Agent, s: &mut Session, number: &str, when: &str) -> Reply {
    s.flow = Flow::Idle;
    match records::cancel_appointment(a, number) {
        Some(true) => {
            if s.last_appointment.as_deref() == Some(number) {
                s.last_appointment = None;
            }
            Reply::say(format!("好的，{when}的预约已经取消了。")).with_earcon(Earcon::Done)
        }
        Some(false) => Reply::say("这个预约已经不在了，可能之前取消过。"),
        None => Reply::say("预约系统出了点问题，没有取消成功。我请工作人员帮您。")
            .with_earcon(Earcon::Error),
    }
}

/// The number is known: look it up, then move (now, if a time was said) or ask.
fn change_with_number(
    a: &Agent,
    s: &mut Session,
    action: ApptChange,
    number: &str,
    u: &Understanding,
) -> Reply {
    let Some((service, when)) = records::booked_appointment(a, number) else {
        s.flow = Flow::ChangeAppointment {
            action,
            booked: None,
        };
        return Reply::say(format!(
            "没有找到预约号{}的预约。请再说一遍预约号，或者说“找工作人员”。",
            number_for_ear(number)
        ));
    };
    s.flow = Flow::ChangeAppointment {
        action,
        booked: Some((number.to_string(), service.clone(), when.clone())),
    };
    match action {
        ApptChange::Move => {
            if u.entities
                .iter()
                .any(|e| e.kind == EntityKind::Date || e.kind == EntityKind::Time)
            {
                move_to_said_time(a, s, number, &service, &when, u)
            } else {
                Reply::say(format!("您的预约是{when}。想改到哪天几点？"))
            }
        }
        ApptChange::Cancel => Reply::say(format!("您{when}的预约，确定要取消吗？")),
    }
}

fn move_to_said_time(
    a: &Agent,
    s: &mut Session,
    number: &str,
    service: &str,
    when: &str,
    u: &Understanding,
) -> Reply {
    if u.intent.intent == Intent::ConfirmNo {
        s.flow = Flow::Idle;
        return Reply::say(format!("好的，不改了，还是{when}。"));
    }
    let (date, time) = said_date_time(u);
    match records::move_appointment(a, number, service, date.as_deref(), time.as_deref()) {
        records::BookOutcome::Booked { when: new, .. } => {
            s.flow = Flow::Idle;
            let mut r = Reply::say(format!(
                "改好了，改到{new}。预约号不变，还是{}。",
                number_for_ear(number)
            ))
            .with_earcon(Earcon::Done);
            r.receipt = Some(number.to_string());
            r
        }
        records::BookOutcome::Full { alternative } => Reply::say(match alternative {
            Some(t) => format!("那个时间约不了。最近能约的是{t}，要改到这个时间，请直接说出来。"),
            None => "那个时间约不了，请换一天。".to_string(),
        }),
        records::BookOutcome::NeedTime => Reply::say(format!(
            "您的预约是{when}。想改到哪天几点？比如“后天下午三点”。"
        )),
        records::BookOutcome::Failed => {
            s.flow = Flow::Idle;
            Reply::say("预约系统出了点问题，没有改成。我请工作人员帮您。")
                .with_earcon(Earcon::Error)
        }
    }
}

/// An appointment number said in the words: ten digits (the normaliser has turned spoken
/// digits into Arabic ones).
pub fn appointment_number_in(text: &str) -> Option<String> {
    // spoken in groups ("二六一一，二九零零，零零零二"): the pauses are not part of it
    let joined: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, ',' | '，' | '、' | '-' | '.' | '。'))
        .collect();
    joined
        .split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 10)
        .map(str::to_string)
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

    #[test]
    fn names_are_spelled_character_by_character() {
        assert_eq!(
            spell_out("赵晓红"),
            "赵，走肖赵；晓，春眠不觉晓的晓；红，红色的红"
        );
        assert_eq!(spell_out("龘"), "龘");
    }
}
