//! The state a session's flow is in: which flow, what it waits for, and the question
//! it has asked (repeated after a pause or a control, explained on "我能说什么").

use std::collections::BTreeMap;

use xiaoan_intents::{Awaiting, EntityKind, Intent};

use super::appointment::{self, ApptChange};
use super::cancel::{CONFIRM_CANCEL, CONFIRM_LEAVE};
use super::emergency::{self, EmergencyKind, ASK_PLACE};
use super::form::{entity_kind_of, field_def, PICK_FORM, PICK_FORM_LIST};
use super::mediation::{DANGER, MEDIATION};
use crate::forms::{Forms, Mediation, MediatorOffer};

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
        /// The form (or other question) the guess broke into: taken up again where it
        /// was when the answer is no, kept as a draft when help is called.
        resume: Option<Box<Flow>>,
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

impl FormState {
    /// A form with nothing filled yet, before its first question.
    pub(super) fn new(form_id: &str) -> FormState {
        FormState {
            form_id: form_id.to_string(),
            values: BTreeMap::new(),
            stage: FormStage::Collect { current: None },
            tries: 0,
            put_off: Vec::new(),
            read_from: 0,
        }
    }

    /// Whether the resident has filled anything yet (the triage's own `_` entries,
    /// such as the dispute kind, do not count).
    pub(super) fn has_answers(&self) -> bool {
        !self.values.keys().all(|k| k.starts_with('_'))
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

    /// The form held in the flow: being filled, or asked about (cancel, leave, help).
    pub(super) fn open_form(&self) -> Option<&FormState> {
        match self {
            Flow::Form(st) => Some(st),
            Flow::ConfirmCancel(st) | Flow::ConfirmLeave(st) | Flow::OfferHelp(st) => {
                Some(st.as_ref())
            }
            _ => None,
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
            Flow::Idle | Flow::PickForm | Flow::ClarifyIntent { .. } => Awaiting::Nothing,
            Flow::Details { .. }
            | Flow::MediatorOffer { .. }
            | Flow::ClarifyItem { .. }
            | Flow::ConfirmItem { .. }
            | Flow::ConfirmEmergency { .. }
            | Flow::ConfirmCancel(_)
            | Flow::ConfirmLeave(_)
            | Flow::OfferHelp(_)
            | Flow::OfferNumber { .. } => Awaiting::YesNo,
            Flow::Emergency { place: None, .. } => Awaiting::Slot(EntityKind::Address),
            Flow::Emergency { .. } => Awaiting::Nothing,
            Flow::Appointment { .. } => Awaiting::Slot(EntityKind::Date),
            Flow::ChangeAppointment { action, booked } => {
                appointment::change_awaiting(*action, booked.is_some())
            }
            Flow::Form(f) => form_awaiting(f, forms, mediation),
        }
    }

    /// The question pending, to repeat after a time-out or a control.
    pub fn prompt(&self) -> Option<String> {
        self.asking().map(|(question, _)| question)
    }

    /// What can be said now, for "我能说什么".
    pub fn help(&self) -> Option<String> {
        self.asking().map(|(_, help)| help)
    }

    /// The question pending and what can be said to it (the one table behind
    /// [`Flow::prompt`] and [`Flow::help`]); `None` while nothing is asked.
    fn asking(&self) -> Option<(String, String)> {
        let (question, help): (String, &str) = match self {
            Flow::Idle => return None,
            Flow::Details { .. } => (
                "要继续听吗？".into(),
                "现在可以说“要”听下一部分，或者“不用了”。",
            ),
            Flow::ConfirmEmergency { again, .. } => (
                emergency::confirm_question(*again).into(),
                "现在请说“是”，我马上叫人；没事就说“没事”。",
            ),
            Flow::ConfirmItem { .. } => ("您刚才是问这个吗？".into(), "现在请说“是”或者“不是”。"),
            Flow::Emergency { kind, place, .. } => (
                emergency_question(*kind, place.is_none()),
                "现在可以说您在哪里，比如“3号楼502室”；也可以说“找工作人员”。",
            ),
            Flow::ConfirmCancel(_) => (
                CONFIRM_CANCEL.into(),
                "现在请说“对”就不办了，说“不”就接着填。",
            ),
            Flow::ConfirmLeave(_) => (
                CONFIRM_LEAVE.into(),
                "现在请说“要”帮您留着，说“不要”就不留。",
            ),
            Flow::OfferHelp(_) => (
                "要我请工作人员来帮您吗？".into(),
                "现在请说“要”，我请工作人员来；说“不用”，我们先填别的。",
            ),
            Flow::OfferNumber { what, .. } => (
                format!("要我再念一遍{what}吗？"),
                "现在说“好”，我再念一遍号码；以后说“回执号是多少”也行。",
            ),
            Flow::ClarifyItem { .. } | Flow::ClarifyIntent { .. } => {
                ("您刚才想问哪一个？".into(), "现在请说您要问的是哪一个。")
            }
            Flow::PickForm => {
                return Some((
                    PICK_FORM.into(),
                    format!("现在请说要办哪一项：{PICK_FORM_LIST}。"),
                ))
            }
            Flow::Form(f) => form_asking(&f.stage),
            Flow::MediatorOffer { .. } => (
                "这个调解时间可以吗？".into(),
                "现在请说“可以”或者“换个时间”。",
            ),
            Flow::Appointment { .. } => (
                "您想约哪天几点？".into(),
                "现在请说日子和时间，比如“明天上午十点”。",
            ),
            Flow::ChangeAppointment { action, booked } => {
                let (question, help) = appointment::change_asking(*action, booked.is_some());
                (question.into(), help)
            }
        };
        Some((question, help.to_string()))
    }
}

/// What a form waits for at its stage: a yes/no for the read-back, the commitment and
/// the danger question, else the entity kind of the field asked.
fn form_awaiting(f: &FormState, forms: &Forms, mediation: &Mediation) -> Awaiting {
    match &f.stage {
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
    }
}

/// A form's pending question and what can be said to it, by stage.
fn form_asking(stage: &FormStage) -> (String, &'static str) {
    const YES_OR_NO: &str = "现在请说“对”或者“不对”。";
    match stage {
        FormStage::Collect { .. } => (
            "我们接着填表。".into(),
            "现在请回答刚才的问题；说错了可以说“名字不对，是某某”；还可以说“上一步”“跳过”“还有几个问题”。",
        ),
        FormStage::ReadBack { .. } => ("刚才念的这几项对吗？".into(), YES_OR_NO),
        FormStage::Commitment => ("您同意这个承诺吗？".into(), YES_OR_NO),
    }
}

/// After an emergency: where the resident is, until it is known; then what to do.
fn emergency_question(kind: EmergencyKind, no_place: bool) -> String {
    if no_place {
        ASK_PLACE.into()
    } else {
        kind.guidance()
    }
}
