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

use super::reply::{digits_for_ear, Reply};
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
    /// Everything read back; waiting for "对".
    ReadBack,
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
        }
    }

    /// True while a form is being filled (cancel then files nothing and says so).
    pub fn is_collecting(&self) -> bool {
        matches!(
            self,
            Flow::Form(_)
                | Flow::PickForm
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
                FormStage::ReadBack | FormStage::Commitment => Awaiting::YesNo,
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
            Flow::ClarifyItem { .. } | Flow::ClarifyIntent { .. } => {
                Some("您刚才想问哪一个？".into())
            }
            Flow::PickForm => Some(PICK_FORM.into()),
            Flow::Form(f) => Some(match &f.stage {
                FormStage::Collect { .. } => "我们接着填表。".into(),
                FormStage::ReadBack => "刚才念的内容对吗？".into(),
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
            Flow::PickForm => Some(format!("现在请说要办哪一项：{PICK_FORM_LIST}。")),
            Flow::Form(f) => Some(match &f.stage {
                FormStage::Collect { .. } => {
                    "现在请回答刚才的问题；说错了可以说“名字不对，是某某”。".into()
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

fn emergency_said(a: &Agent, s: &mut Session, said: &str) -> Reply {
    let _ = save_draft(a, s, "emergency");
    s.flow = Flow::Idle;
    let event = records::emergency(a, s, said);
    let mut r = Reply::say(
        "别着急，我已经通知工作人员，马上过来。如果有人受伤或者病得厉害，请马上打120；有危险请打110。您能告诉我在哪里吗？",
    )
    .with_earcon(Earcon::Error);
    r.flow = "emergency".into();
    r.receipt = event;
    r
}

/// Hand over to staff: a ticket with the conversation so far, and where to wait.
pub fn handoff(a: &Agent, s: &mut Session) -> Reply {
    ticket_for_staff(a, s, |ticket| match ticket {
        Some(no) => format!(
            "好的，我请工作人员来帮您。请到一楼的无障碍服务专窗稍等，有座位。您的号是{}。",
            digits_for_ear(no, 4)
        ),
        None => "好的，我请工作人员来帮您。请到一楼的无障碍服务专窗稍等，有座位。".to_string(),
    })
}

/// A hand-over ticket (the conversation so far, any half-filled form kept as a draft)
/// and the reply `say` words for it.
fn ticket_for_staff(a: &Agent, s: &mut Session, say: impl FnOnce(Option<&str>) -> String) -> Reply {
    let _ = save_draft(a, s, "handoff");
    s.flow = Flow::Idle;
    let ticket = records::handoff(a, s);
    let mut r = Reply::say(say(ticket.as_deref())).with_earcon(Earcon::Done);
    r.flow = "handoff".into();
    r.receipt = ticket;
    r
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
            digits_for_ear(n, 4)
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
        } => match intent {
            Intent::ConfirmYes => Some(open_case(a, s, &kind, &values, Some(offer))),
            Intent::ConfirmNo => Some(open_case(a, s, &kind, &values, None)),
            _ => None,
        },
        Flow::Appointment { service } => Some(appointment_turn(a, s, &service, u)),
        Flow::ConfirmEmergency { said, again } => emergency_answer(a, s, said, again, u),
        Flow::ChangeAppointment { action, booked } => {
            Some(change_appointment_turn(a, s, action, booked, u))
        }
    }
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
    let names = |id: &str| -> Vec<String> {
        a.guide
            .item(id)
            .map(|i| {
                let mut v = vec![i.title.clone()];
                v.extend(i.aliases.iter().cloned());
                v
            })
            .unwrap_or_default()
    };
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
    };
    let (_filled, _errs) = fill_from_entities(a, &mut st, &u.entities, None);
    let r = ask_next(a, s, st, String::new());
    Reply::say(format!("{intro}{}", r.text)).with_flow_of(&r)
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
    };
    let kind = a.mediation.classify(&u.normalized.text);
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
    let next = fields
        .iter()
        .find(|f| f.required && !st.values.contains_key(&f.name))
        .or_else(|| {
            // optional fields are asked once, in order, unless already answered or skipped
            fields
                .iter()
                .find(|f| !f.required && !st.values.contains_key(&f.name))
        });
    match next {
        Some(f) => {
            let ask = f.ask.clone();
            let name = f.name.clone();
            let mut st = st;
            st.stage = FormStage::Collect {
                current: Some(name),
            };
            s.flow = Flow::Form(st);
            let mut r = Reply::say(format!("{prefix}{ask}"));
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

fn spoken_value(kind: FieldKind, v: &str) -> String {
    match kind {
        FieldKind::IdNumber => digits_for_ear(v, 6),
        FieldKind::Phone => digits_for_ear(v, 4),
        FieldKind::Date => spoken_date(v),
        _ => v.to_string(),
    }
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

fn read_back(a: &Agent, s: &mut Session, mut st: FormState, prefix: String) -> Reply {
    let fields = fields_of(&a.forms, &a.mediation, &st.form_id);
    let lines: Vec<String> = fields
        .iter()
        .filter_map(|f| {
            st.values
                .get(&f.name)
                .filter(|v| !v.is_empty())
                .map(|v| f.read_back(&spoken_value(f.kind, v)))
        })
        .collect();
    let kind = st
        .values
        .get(KIND)
        .and_then(|k| a.mediation.kind(k))
        .filter(|k| k.id != "other")
        .map(|k| format!("{}纠纷；", k.name))
        .unwrap_or_default();
    st.stage = FormStage::ReadBack;
    s.flow = Flow::Form(st);
    let mut r = Reply::say(format!(
        "{prefix}我念一遍：{kind}{}。都对吗？",
        lines.join("；")
    ));
    r.flow = s.flow.name().to_string();
    r.awaiting = "yes_no".into();
    r
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

fn form_turn(a: &Agent, s: &mut Session, mut st: FormState, u: &Understanding) -> Reply {
    let intent = u.intent.intent;
    let text = u.normalized.text.clone();
    if st.form_id == MEDIATION
        && (a.mediation.is_danger(&u.normalized.original) || a.mediation.is_danger(&text))
    {
        return emergency(a, s, u);
    }
    match st.stage.clone() {
        FormStage::Commitment => {
            match intent {
                Intent::ConfirmYes => file(a, s, st),
                Intent::ConfirmNo => {
                    s.flow = Flow::Idle;
                    Reply::say("好的，没有提交。不同意承诺的话，可以带齐材料到窗口办，或者说“找工作人员”。")
                }
                _ => {
                    s.flow = Flow::Form(st);
                    Reply::say("请说“同意”或者“不同意”。")
                }
            }
        }
        FormStage::ReadBack => match intent {
            Intent::ConfirmYes => {
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
                let mut r = Reply::say(format!("最后念一下承诺：{commitment}您同意吗？"));
                r.flow = "declaration".into();
                r
            }
            _ => {
                // a "no" with the correction in it ("不对，电话是……"), or a bare "no"
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
            let (filled, errors) = fill_from_entities(a, &mut st, &u.entities, Some(&cur));
            if !filled.contains(&cur) {
                if let Some(e) = errors.into_iter().next() {
                    st.stage = FormStage::Collect { current: Some(cur) };
                    s.flow = Flow::Form(st);
                    return Reply::say(e).with_earcon(Earcon::Error);
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
                    Err(e) => {
                        st.stage = FormStage::Collect { current: Some(cur) };
                        s.flow = Flow::Form(st);
                        return Reply::say(e).with_earcon(Earcon::Error);
                    }
                }
            }
            let prefix = if a.settings.confirm_each_step {
                let v = st.values.get(&cur).cloned().unwrap_or_default();
                format!("好的，{}。", def.read_back(&spoken_value(def.kind, &v)))
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
            let said = def.read_back(&spoken_value(def.kind, &v));
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
            let mut r = Reply::say(format!(
                "已经提交了。回执号是{}。{}要我再念一遍回执号吗？",
                digits_for_ear(&receipt, 4),
                owed_text
            ))
            .with_earcon(Earcon::Done);
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
            let mut r = Reply::say(format!(
                "已经登记了调解，案件编号{}。{when}两天内我们会给您回访电话。",
                digits_for_ear(&case, 4)
            ))
            .with_earcon(Earcon::Done);
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

/// Keep a half-filled form for staff (time-out, emergency, hand-over). Returns the draft
/// number when something was kept.
pub fn save_draft(a: &Agent, s: &Session, reason: &str) -> Option<String> {
    match &s.flow {
        Flow::Form(st) if !st.values.is_empty() => {
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
            let mut r = Reply::say(format!(
                "约好了：{when}。预约号{}。到时候直接到窗口报预约号就行。",
                digits_for_ear(&number, 4)
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
            digits_for_ear(number, 4)
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
                digits_for_ear(number, 4)
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
