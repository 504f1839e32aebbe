//! Multi-turn flows: guide answers with details on request, self-declarations,
//! mediation, appointments; and the one-turn acts (emergency, hand-over, queue, feedback).
//!
//! The form machinery (slots, prompts, validation, correction, read-back, commitment,
//! confirmation, cancel) is shared by declarations and mediation: both are lists of
//! [`FieldDef`](crate::forms::FieldDef)s filled from what the resident says.
//!
//! One concept a file: `state` (the [`Flow`] a session is in, what it waits for, the
//! question it asked); `guide` (answers from the service guide, details on request);
//! `clarify` (unsure words, one short question); the form machinery in `form` (the
//! questions and answers), `values` (what an answer means for a field), `navigation`
//! (上一步, 跳过, 还有几个问题), `retry` (three failed tries), `readback` (reading it
//! back, corrections), `filing` (the commitment and the filing) and `cancel` (cancel,
//! leave, drafts); the flows `mediation`, `appointment` and `emergency`; `acts`
//! (hand-over, queue, feedback, dialect names) and `receipt` (numbers read again).

mod acts;
mod appointment;
mod cancel;
mod clarify;
mod emergency;
mod filing;
mod form;
mod guide;
mod mediation;
mod navigation;
mod readback;
mod receipt;
mod retry;
mod state;
mod values;

#[cfg(test)]
mod tests;

use xiaoan_intents::Understanding;

use super::reply::Reply;
use super::session::Session;
use super::Agent;

pub use acts::{dialect_named_in, feedback, handoff, queue_status, what_happens_next};
pub use appointment::{
    appointment_change, appointment_number_in, start_appointment, start_change_appointment,
    ApptChange,
};
pub use cancel::{
    confirm_cancel, confirm_leave, save_draft, save_draft_on_timeout, says_cancel, says_goodbye,
};
pub use clarify::{clarify_intent, number_without_a_question};
pub(crate) use emergency::{check_on_resident, emergency_still_here};
pub use emergency::{confirm_emergency, emergency, place_in, EmergencyKind, CRISIS_LINE};
pub use form::{entity_kind_name, entity_kind_of, pending_question, start_declaration};
pub use guide::{answer_question, confirm_item};
pub use mediation::{sounds_like_dispute, start_mediation};
pub use navigation::form_command_turn;
pub use receipt::number_asked;
pub use state::{Flow, FormStage, FormState};

/// Continue the current flow with this turn, if it is waiting for something. `None`:
/// the turn is not an answer to the flow, handle it as a new request.
pub fn continue_flow(a: &Agent, s: &mut Session, u: &Understanding) -> Option<Reply> {
    match s.flow.clone() {
        Flow::Idle => None,
        Flow::Details { item, next } => guide::details_turn(a, s, &item, next, u),
        Flow::ClarifyItem { first, second } => guide::clarify_item_turn(a, s, &first, &second, u),
        Flow::ConfirmItem { item } => guide::confirm_item_turn(a, s, &item, u),
        Flow::ClarifyIntent {
            first,
            second,
            text,
            again,
        } => clarify::clarify_intent_turn(a, s, (first, second), text, again, u),
        Flow::PickForm => form::pick_form_turn(a, s, u),
        Flow::Form(st) => Some(form::form_turn(a, s, st, u)),
        Flow::MediatorOffer {
            kind,
            values,
            offer,
        } => Some(mediation::mediator_offer_answer(
            a, s, kind, values, offer, u,
        )),
        Flow::Appointment { service } => Some(appointment::appointment_turn(a, s, &service, u)),
        Flow::ConfirmEmergency {
            said,
            again,
            resume,
        } => emergency::emergency_answer(a, s, said, again, resume, u),
        Flow::Emergency {
            kind,
            ticket,
            place,
            asked,
        } => {
            let alert = emergency::Alert {
                kind,
                ticket,
                place,
                asked,
            };
            emergency::emergency_follow_up(a, s, alert, u)
        }
        Flow::ConfirmCancel(st) => cancel::cancel_answer(a, s, *st, u),
        Flow::ConfirmLeave(st) => Some(cancel::leave_answer(a, s, *st, u)),
        Flow::OfferHelp(st) => Some(retry::offer_help_answer(a, s, *st, u)),
        Flow::OfferNumber { number, what } => receipt::offer_number_turn(s, &number, &what, u),
        Flow::ChangeAppointment { action, booked } => Some(appointment::change_appointment_turn(
            a, s, action, booked, u,
        )),
    }
}
