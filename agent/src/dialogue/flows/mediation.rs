//! Dispute mediation: the dispute told in the resident's words, the triage form (with
//! "is anyone in danger?"), a mediator's slot offered, and the case opened.

use std::collections::BTreeMap;

use xiaoan_audio::Earcon;
use xiaoan_intents::{Intent, Understanding};

use super::emergency::emergency;
use super::form::ask_next;
use super::receipt::number_given;
use super::state::{Flow, FormStage, FormState};
use super::values::plain;
use crate::dialogue::reply::{number_for_ear, number_twice, Reply};
use crate::dialogue::session::Session;
use crate::dialogue::Agent;
use crate::forms::MediatorOffer;
use crate::records;

/// The form id of the mediation triage (a declaration's is its catalogue id).
pub(super) const MEDIATION: &str = "mediation";
/// Pseudo-field of the mediation triage: "is anyone in danger?" (yes/no).
pub(super) const DANGER: &str = "_danger";
/// Where the triage keeps the dispute kind id (not a field of the form).
pub(super) const KIND: &str = "_kind";

/// Whether the words say someone is in danger (拿刀, 要打起来了): the alarm, not a case.
pub(super) fn names_danger(a: &Agent, u: &Understanding) -> bool {
    a.mediation.is_danger(&u.normalized.original) || a.mediation.is_danger(&u.normalized.text)
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
    if names_danger(a, u) {
        return emergency(a, s, u);
    }
    let mut st = FormState::new(MEDIATION);
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
    ask_next(a, s, st, a.mediation.intro.clone())
}

/// The triage's last question: is anyone in danger now?
pub(super) fn ask_danger(a: &Agent, s: &mut Session, mut st: FormState, prefix: String) -> Reply {
    st.stage = FormStage::Collect {
        current: Some(DANGER.into()),
    };
    s.flow = Flow::Form(st);
    let mut r = Reply::say(format!("{prefix}{}", a.mediation.danger_question));
    r.flow = "mediation".into();
    r.awaiting = "yes_no".into();
    r
}

/// The answer to the danger question: yes raises the alarm at once, no goes on to the
/// read-back, anything else asks again.
pub(super) fn danger_turn(
    a: &Agent,
    s: &mut Session,
    mut st: FormState,
    u: &Understanding,
) -> Reply {
    match u.intent.intent {
        Intent::ConfirmYes | Intent::Emergency => emergency(a, s, u),
        Intent::ConfirmNo => {
            st.values.insert(DANGER.into(), "no".into());
            ask_next(a, s, st, "好的。".into())
        }
        _ => {
            s.flow = Flow::Form(st);
            Reply::say("请说“有”或者“没有”：现在有没有人有危险？")
        }
    }
}

/// The triage read back and confirmed: a mediator's next free slot offered, or (none
/// free) the case opened for the mediator to call.
pub(super) fn offer_mediator(a: &Agent, s: &mut Session, st: FormState) -> Reply {
    let kind = st
        .values
        .get(KIND)
        .cloned()
        .unwrap_or_else(|| "other".into());
    match records::mediator_offer(a) {
        Some(offer) => {
            let text = format!(
                "调解员最近有空的时间是{}，在{}。这个时间可以吗？",
                crate::store::spoken_time(offer.start),
                offer.place
            );
            offer_reply(s, kind, st.values, offer, text)
        }
        None => open_case(a, s, &kind, &st.values.clone(), None),
    }
}

/// A mediator's slot offered in `text`; the session waits for whether it suits.
fn offer_reply(
    s: &mut Session,
    kind: String,
    values: BTreeMap<String, String>,
    offer: MediatorOffer,
    text: String,
) -> Reply {
    s.flow = Flow::MediatorOffer {
        kind,
        values,
        offer,
    };
    let mut r = Reply::say(text);
    r.flow = "mediation".into();
    r.awaiting = "yes_no".into();
    r
}

/// What the resident said to a slot offered.
enum SlotAnswer {
    /// Yes: book it.
    Take,
    /// "换个时间", "不行": the next free slot.
    Another,
    /// "都不行", or anything else: the case without a slot; the mediator calls.
    NoneFits,
}

/// Read the answer to a slot offered.
fn slot_answer(u: &Understanding) -> SlotAnswer {
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
        SlotAnswer::Take
    } else if !none_fit && (another || u.intent.intent == Intent::ConfirmNo) {
        SlotAnswer::Another
    } else {
        SlotAnswer::NoneFits
    }
}

/// The answer to a mediator slot. Yes books it; "换个时间" / "唔得" / "不行" offers the
/// next free slot; "都不行" (or no other slot) opens the case without one, and the
/// mediator calls. The case is filed whatever is said: it is never lost to an answer
/// that is not about the slot.
pub(super) fn mediator_offer_answer(
    a: &Agent,
    s: &mut Session,
    kind: String,
    values: BTreeMap<String, String>,
    offer: MediatorOffer,
    u: &Understanding,
) -> Reply {
    match slot_answer(u) {
        SlotAnswer::Take => open_case(a, s, &kind, &values, Some(offer)),
        SlotAnswer::Another => match records::mediator_offer_after(a, offer.start) {
            Some(next) => {
                let text = format!(
                    "好的，换一个：{}，在{}。这个时间可以吗？都不行的话，说“都不行”，调解员会打电话跟您约。",
                    crate::store::spoken_time(next.start),
                    next.place
                );
                offer_reply(s, kind, values, next, text)
            }
            None => open_case(a, s, &kind, &values, None),
        },
        SlotAnswer::NoneFits => open_case(a, s, &kind, &values, None),
    }
}

/// The case opened (with the slot taken, if any): its number twice and the follow-up.
/// When the store refuses, the triage is kept as a draft for staff and the resident
/// hears so.
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
            r.flow = "mediation".into();
            number_given(s, r, case, what)
        }
        Err(records::NotFiled) => {
            s.flow = Flow::Idle;
            // only what the store really kept is promised
            let text = match records::draft(a, s, MEDIATION, values, "store_error") {
                Some(no) => format!(
                    "登记的时候出了问题，调解没有登记上。您说的内容留给工作人员了，编号{}。请到窗口找工作人员，或者说“找工作人员”。",
                    number_for_ear(&no)
                ),
                None => "登记的时候出了问题，调解没有登记上，您说的内容也没能保存。请到窗口找工作人员，或者说“找工作人员”。".to_string(),
            };
            Reply::say(text).with_earcon(Earcon::Error)
        }
    }
}
