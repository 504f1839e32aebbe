//! The order in which a turn's words are judged: controls of speech itself, words said
//! aside (a number again, a form command, goodbye), a booked appointment changed, the
//! emergency before anything else, open words read against the guide, commands that
//! break into a flow, the flow's own answer, and last a handler per intent.

use xiaoan_intents::{Awaiting, Understanding};

use super::flows::{self, Flow};
use super::reply::{control, Reply};
use super::session::Session;
use super::{strong_emergency_guess, Agent, Command, INTERRUPT_CONFIDENCE};

/// What the turn's words are, read once before any step acts on them.
pub(super) struct TurnReading {
    /// What the intent asks the dialogue to do.
    cmd: Command,
    /// The words hold a value of the kind the form asks for ("13812345678" to the
    /// phone question): the answer wins over look-alike commands.
    has_value: bool,
    /// No form is being filled: a weak reading may be a misheard guide question.
    open: bool,
    /// A command may break into the flow: nothing is pending, or no form is open and the
    /// command is sure, or it is confident, sure, and holds no value of the kind awaited.
    may_interrupt: bool,
    /// The emergency question ("您是遇到急事了吗") waits for its answer.
    asking_emergency: bool,
}

impl Agent {
    /// The reply to understood words: the first step that takes them answers.
    pub(super) fn respond(&self, s: &mut Session, u: &Understanding) -> Reply {
        if u.normalized.text.trim().is_empty() {
            return Reply::say("我没听清，请再说一遍。").with_earcon(xiaoan_audio::Earcon::Error);
        }
        let r = self.read_turn(s, u);
        self.speech_control(s, u, &r)
            .or_else(|| self.aside(s, u, &r))
            .or_else(|| self.appointment_change(s, u, &r))
            .or_else(|| self.emergency_first(s, u, &r))
            .or_else(|| self.open_words(s, u, &r))
            .or_else(|| self.command_over_flow(s, u, &r))
            .or_else(|| flows::continue_flow(self, s, u))
            .or_else(|| self.let_through(s, u, &r))
            .unwrap_or_else(|| self.dispatch(s, u, r.cmd.clone()))
    }

    /// Read the words against the flow as it is when they arrive. While a form waits
    /// for an answer, the answer wins over look-alike commands: "13812345678" is a
    /// phone number, not "repeat". Only a confident command with no value of the
    /// awaited kind in it interrupts (an emergency always does).
    fn read_turn(&self, s: &Session, u: &Understanding) -> TurnReading {
        let has_value = match s.flow.awaiting(&self.forms, &self.mediation) {
            Awaiting::Slot(k) => u.entities.iter().any(|e| e.kind == k),
            _ => false,
        };
        let open = !s.flow.is_collecting();
        TurnReading {
            cmd: Command::from(u.intent.intent),
            has_value,
            open,
            // with a question of a flow pending (您是想A，还是想B？), an unsure command is
            // no reason to leave it: the words may answer it (后面那个, read as "repeat")
            may_interrupt: (open && (matches!(s.flow, Flow::Idle) || !u.intent.unsure))
                || (u.intent.confidence >= INTERRUPT_CONFIDENCE && !u.intent.unsure && !has_value),
            asking_emergency: matches!(s.flow, Flow::ConfirmEmergency { .. }),
        }
    }

    /// 1. Controls of speech itself (大声一点, 我能说什么), unless the words are a value.
    fn speech_control(&self, s: &mut Session, u: &Understanding, r: &TurnReading) -> Option<Reply> {
        let c = control(&u.normalized.text)?;
        if r.has_value {
            return None;
        }
        self.on_control(s, c)
    }

    /// Words said aside: "回执号是多少" (the number given earlier, again; a form in
    /// progress goes on after it), a form command (还有几个问题, 上一步, 跳过, 手机号再念一遍),
    /// and "再见" in the middle of a form (keep what was filled? never a field's value).
    fn aside(&self, s: &mut Session, u: &Understanding, r: &TurnReading) -> Option<Reply> {
        let text = &u.normalized.text;
        if r.cmd != Command::Emergency {
            if let Some(reply) = self.number_again(s, text) {
                return Some(reply);
            }
            if let Some(reply) = flows::form_command_turn(self, s, u) {
                return Some(reply);
            }
        }
        let bye = flows::says_goodbye(text)
            || (r.cmd == Command::Bye && !u.intent.unsure && !r.has_value);
        if bye {
            flows::confirm_leave(s)
        } else {
            None
        }
    }

    /// The number given earlier in the session, read again; inside a form, followed by
    /// the question pending instead of "还要办别的吗".
    fn number_again(&self, s: &Session, text: &str) -> Option<Reply> {
        let mut reply = flows::number_asked(s, text)?;
        if s.flow.is_collecting() {
            reply.text = format!(
                "{}{}",
                reply.text.trim_end_matches("还要办别的吗？"),
                flows::pending_question(self, s).unwrap_or_default()
            );
        }
        Some(reply)
    }

    /// Moving or cancelling a booked appointment ("预约改到后天", "取消预约"): not a
    /// stop, and not inside a form, where "取消" ends the form.
    fn appointment_change(
        &self,
        s: &mut Session,
        u: &Understanding,
        r: &TurnReading,
    ) -> Option<Reply> {
        if r.cmd == Command::Emergency || matches!(s.flow, Flow::Form(_) | Flow::PickForm) {
            return None;
        }
        let pending = match &s.flow {
            Flow::ChangeAppointment {
                action,
                booked: Some(_),
            } => Some(*action),
            _ => None,
        };
        match (flows::appointment_change(&u.normalized.text), pending) {
            // "取消（预约）" answering "确定要取消吗" is a yes, not a stop
            (Some(change), Some(p)) if change == p => flows::continue_flow(self, s, u),
            (None, Some(flows::ApptChange::Cancel)) if r.cmd == Command::Stop => {
                flows::continue_flow(self, s, u)
            }
            (Some(change), _) => Some(flows::start_change_appointment(self, s, change, u)),
            _ => None,
        }
    }

    /// 2. What wins over any flow, at any step: after an emergency, where the resident
    /// is and more about it go to the same event (a second alarm is not raised for the
    /// same call); words of an emergency; the answer to the emergency question (before
    /// any other reading of the words); and the answer to a mediator slot offered (it
    /// goes to the case, never lost to a guess).
    fn emergency_first(
        &self,
        s: &mut Session,
        u: &Understanding,
        r: &TurnReading,
    ) -> Option<Reply> {
        if matches!(s.flow, Flow::Emergency { .. }) {
            if let Some(reply) = flows::continue_flow(self, s, u) {
                return Some(reply);
            }
        }
        if r.cmd == Command::Emergency {
            if let Some(reply) = self.emergency_heard(s, u, r.asking_emergency) {
                return Some(reply);
            }
        }
        if r.asking_emergency || matches!(s.flow, Flow::MediatorOffer { .. }) {
            return flows::continue_flow(self, s, u);
        }
        None
    }

    /// Words read as an emergency. Words that name one (摔倒, 救命, …) raise the alarm at
    /// once, anywhere. Only the classifier's guess: inside a form a confident one is
    /// asked about first, the form kept to go back to (an answer misheard, 孩子上学用 as
    /// 孩子上血用, must not call staff), and an unsure one does not break into the
    /// answer; elsewhere a strong guess acts and a weak one is asked about first, and
    /// the answer to that question is judged by the question's own rules (`None`).
    fn emergency_heard(&self, s: &mut Session, u: &Understanding, asking: bool) -> Option<Reply> {
        if xiaoan_intents::names_emergency(&u.normalized) {
            return Some(flows::emergency(self, s, u));
        }
        if s.flow.is_collecting() {
            return (!u.intent.unsure).then(|| flows::confirm_emergency(s, u));
        }
        if asking {
            return None;
        }
        Some(if strong_emergency_guess(u) {
            flows::emergency(self, s, u)
        } else {
            flows::confirm_emergency(s, u)
        })
    }

    /// Open words (no form is being filled): a dispute in words the classifier does not
    /// know well (房东唔肯退押金，點算); a number keyed in (or said) with nothing asking
    /// for it, said what it is taken for rather than guessed at; 3. unsure words that
    /// sound like a guide item, confirmed before acting on a weak guess of anything else
    /// (the same decision as `xiaoan eval`).
    fn open_words(&self, s: &mut Session, u: &Understanding, r: &TurnReading) -> Option<Reply> {
        if !r.open {
            return None;
        }
        if !matches!(r.cmd, Command::Mediate | Command::Emergency)
            && flows::sounds_like_dispute(self, u)
        {
            return Some(flows::start_mediation(self, s, u));
        }
        flows::number_without_a_question(u).or_else(|| self.confirm_guess(s, u))
    }

    /// Commands that break into a flow (when they may): "取消" ends a form only after
    /// "确定不办了吗" and "别说了" only stops the speech; a hand-over, repeat, slower,
    /// faster.
    fn command_over_flow(
        &self,
        s: &mut Session,
        u: &Understanding,
        r: &TurnReading,
    ) -> Option<Reply> {
        if !r.may_interrupt {
            return None;
        }
        Some(match r.cmd {
            Command::Stop if flows::says_cancel(&u.normalized.text) => {
                flows::confirm_cancel(s).unwrap_or_else(|| self.stop(s))
            }
            Command::Stop => self.hush(s),
            Command::Handoff if !u.intent.unsure => flows::handoff(self, s),
            Command::Repeat => self.repeat(s),
            Command::Slower => self.rate(s, false),
            Command::Faster => self.rate(s, true),
            _ => return None,
        })
    }

    /// 5. Words the flow let through (not an answer to its question): inside a form,
    /// the guide's evidence as for open words; 6. unsure words get one short clarifying
    /// question, never a guess that starts a form.
    fn let_through(&self, s: &mut Session, u: &Understanding, r: &TurnReading) -> Option<Reply> {
        if !r.open {
            if let Some(reply) = self.confirm_guess(s, u) {
                return Some(reply);
            }
        }
        u.intent.unsure.then(|| flows::clarify_intent(s, u))
    }

    /// The classifier is unsure and the guide has a strong match ([`crate::route::read`]):
    /// ask "您是想问“老年人优待卡”吗？" instead of acting on the weak guess.
    fn confirm_guess(&self, s: &mut Session, u: &Understanding) -> Option<Reply> {
        if !crate::route::may_guess(u) {
            return None;
        }
        let reading = crate::route::read(u, self.retriever.as_ref()).ok()?;
        reading.guess().map(|hit| flows::confirm_item(s, hit))
    }

    /// Handle a command outside any flow.
    pub(crate) fn dispatch(&self, s: &mut Session, u: &Understanding, cmd: Command) -> Reply {
        match cmd {
            Command::Ask => flows::answer_question(self, s, u),
            Command::Declare => flows::start_declaration(self, s, u),
            Command::Mediate => flows::start_mediation(self, s, u),
            Command::Book => flows::start_appointment(self, s, u),
            Command::Queue => flows::queue_status(self, s),
            Command::Handoff => flows::handoff(self, s),
            Command::Emergency => flows::emergency(self, s, u),
            Command::Feedback => flows::feedback(self, s, u),
            Command::SwitchDialect => self.switch_dialect(s, u),
            Command::Repeat => self.repeat(s),
            Command::Slower => self.rate(s, false),
            Command::Faster => self.rate(s, true),
            Command::Stop => self.stop(s),
            Command::Yes | Command::No => {
                Reply::say("好的。您想办什么事？可以直接说，比如“敬老卡怎么办”。")
            }
            Command::Greet => Reply::say("您好，我是小安。您想办什么事？"),
            Command::Bye => {
                let mut r = Reply::say("好的，再见，您慢走。");
                r.end_session = true;
                s.ended = true;
                r
            }
            Command::Unknown => Reply::say(
                "这个我帮不上忙。我可以回答社区办事的问题，帮您登记、调解纠纷、预约，或者找工作人员。",
            ),
        }
    }
}
