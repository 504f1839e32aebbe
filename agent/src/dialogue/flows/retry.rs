//! A field the resident cannot get past: the reason after each failed try, and after
//! the third, help instead of the same question a fourth time (a person, with the
//! draft; the keypad for a number; or the other fields first).

use xiaoan_audio::Earcon;
use xiaoan_intents::{Intent, Understanding};

use super::acts::handoff;
use super::form::{ask_next, fields_of, form_turn};
use super::state::{Flow, FormStage, FormState};
use crate::dialogue::reply::Reply;
use crate::dialogue::session::Session;
use crate::dialogue::Agent;
use crate::forms::FieldKind;

const OFFER_HELP: &str = "这一项试了三次还是不行。要我请工作人员来帮您吗？填好的内容会交给他们。不用的话，我们先填别的。";
/// The same where the terminal has a keypad and the field is a number.
const OFFER_KEYPAD: &str = "这一项试了三次还是不行。您可以在键盘上按号码，按完按确认；也可以让我请工作人员来帮您，填好的内容会交给他们。";

/// A failed try at the current field: the reason, and after the third, help instead of
/// the same question a fourth time (a person, with the draft; or the rest first).
pub(super) fn failed_try(
    s: &mut Session,
    mut st: FormState,
    cur: String,
    why: String,
    keypad: bool,
) -> Reply {
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

/// Whether a resident stuck on a field of `kind` can type it: a number, at a terminal
/// with a keypad (the kiosk and the accessible window; the robot has none).
pub(super) fn keypad_for(a: &Agent, kind: FieldKind) -> bool {
    use crate::config::Profile;
    matches!(
        kind,
        FieldKind::IdNumber | FieldKind::Phone | FieldKind::Count
    ) && matches!(a.settings.profile, Profile::Kiosk | Profile::Window)
}

/// The answer to the offer of help after three failed tries: a number typed (or said
/// once more) answers the field; yes calls a person; anything else puts the field off
/// until the rest is done (or, with nothing else to ask, calls a person).
pub(super) fn offer_help_answer(
    a: &Agent,
    s: &mut Session,
    mut st: FormState,
    u: &Understanding,
) -> Reply {
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
    put_off_current(&mut st);
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

/// The field asked now comes back at the end, with fresh tries.
fn put_off_current(st: &mut FormState) {
    if let FormStage::Collect { current: Some(c) } = &st.stage {
        if !st.put_off.contains(c) {
            st.put_off.push(c.clone());
        }
    }
    st.tries = 0;
}
