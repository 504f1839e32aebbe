//! The dialogue manager: one state machine per resident session.
//!
//! A turn runs: eyes-free controls (louder, help, more time) → understanding with the
//! session's context → interrupts that win over any flow (`emergency`, `nav.stop`,
//! `handoff.human`) → the current flow, if it is waiting for something → a handler per
//! intent ([`Command`]). Unsure understanding never starts a form: when the words sound
//! like a guide item ([`crate::route`]) it asks whether that item was meant, otherwise
//! one short clarifying question.

pub mod flows;
pub mod reply;
pub mod session;
mod turn;

use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use xiaoan_audio::Earcon;
use xiaoan_intents::{Awaiting, Context, Intent, Understander, Understanding};
use xiaoan_kb::{Guide, Retriever};

pub use flows::Flow;
pub use reply::{control, digits_for_ear, number_for_ear, sentences, Control, Reply};
pub use session::{DialectSource, Session, Turn};

use crate::config::DialogueSettings;
use crate::forms::{Forms, Mediation};
use crate::records;
use crate::store::{AppointmentConfig, Store};

/// Said on the turn after an alert that had failed finally reached the store.
const ALERT_THROUGH: &str = "刚才的求助现在已经送到工作人员那里了。";

/// Confidence a command needs to interrupt a form that is waiting for an answer.
pub const INTERRUPT_CONFIDENCE: f32 = 0.85;
/// A classifier's guess of "emergency" (no emergency words heard) at or above this
/// confidence raises the alarm at once; a weaker one is asked about first. On the
/// synthetic set's speech, true emergencies misheard beyond their words read 0.80 and
/// 0.87, garbled guide questions 0.57 at most (and the demo's garbled answer 0.50).
pub const EMERGENCY_GUESS_ACTS: f32 = 0.6;

/// A reading of "emergency" strong enough to act on without asking (see
/// [`EMERGENCY_GUESS_ACTS`]).
fn strong_emergency_guess(u: &Understanding) -> bool {
    u.intent.intent == Intent::Emergency
        && !u.intent.unsure
        && u.intent.confidence >= EMERGENCY_GUESS_ACTS
}

/// What a recognised intent asks the dialogue to do (mini-redis style command enum).
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Answer from the service guide.
    Ask,
    /// Start a self-declaration.
    Declare,
    /// Start dispute mediation.
    Mediate,
    /// Book, move or cancel an appointment.
    Book,
    /// Tell the queue status.
    Queue,
    /// Hand over to staff.
    Handoff,
    /// Emergency: call for help at once.
    Emergency,
    /// Record a complaint, suggestion or praise.
    Feedback,
    /// Switch dialect.
    SwitchDialect,
    /// Repeat the last reply.
    Repeat,
    /// Speak slower.
    Slower,
    /// Speak faster.
    Faster,
    /// Stop / cancel the current step.
    Stop,
    /// Yes.
    Yes,
    /// No.
    No,
    /// Greeting.
    Greet,
    /// Goodbye.
    Bye,
    /// Something the centre does not handle.
    Unknown,
}

impl From<Intent> for Command {
    fn from(i: Intent) -> Command {
        match i {
            Intent::ServiceQuery => Command::Ask,
            Intent::DeclarationFile => Command::Declare,
            Intent::DisputeMediate => Command::Mediate,
            Intent::AppointmentBook => Command::Book,
            Intent::QueueStatus => Command::Queue,
            Intent::HandoffHuman => Command::Handoff,
            Intent::Emergency => Command::Emergency,
            Intent::FeedbackComplaint => Command::Feedback,
            Intent::DialectSwitch => Command::SwitchDialect,
            Intent::NavRepeat => Command::Repeat,
            Intent::NavSlower => Command::Slower,
            Intent::NavFaster => Command::Faster,
            Intent::NavStop => Command::Stop,
            Intent::ConfirmYes => Command::Yes,
            Intent::ConfirmNo => Command::No,
            Intent::Greeting => Command::Greet,
            Intent::Goodbye => Command::Bye,
            Intent::OutOfScope => Command::Unknown,
        }
    }
}

/// The result of one turn: the reply plus what was understood (for `chat --jsonl`,
/// evaluation and logs).
#[derive(Debug)]
pub struct TurnOutcome {
    /// What the agent says.
    pub reply: Reply,
    /// What was understood of the resident's words.
    pub understanding: Understanding,
}

/// Shared by every session of a terminal: models, guide, store. Cheap sessions are made
/// from it.
pub struct Agent {
    /// Text understanding (shared with the end-of-turn judge, [`Agent::turn_judge`]).
    pub understander: Arc<Understander>,
    /// The service guide.
    pub guide: Guide,
    /// Retrieval over the guide.
    pub retriever: Box<dyn Retriever>,
    /// Declaration forms.
    pub forms: Forms,
    /// The mediation triage and mediator slots.
    pub mediation: Mediation,
    /// Appointment slots and capacities.
    pub appointments: AppointmentConfig,
    /// Records (filings, cases, events) with the evidence chain.
    pub store: Mutex<Store>,
    /// Conversation settings from the profile and config.
    pub settings: DialogueSettings,
    /// The configured dialect (`None` = identify automatically).
    pub default_dialect: Option<String>,
    /// Fixed "today" for reproducible tests and stories; `None` = the clock.
    pub today: Option<NaiveDate>,
}

impl Agent {
    /// A new session with the profile's speech settings.
    pub fn new_session(&self) -> Session {
        Session::new(
            self.settings.rate_wpm,
            self.settings.volume,
            self.default_dialect.clone(),
        )
    }

    /// The end-of-turn judge for this terminal's sessions: the text rules with this
    /// agent's own intent reading (the meaning model included when one is loaded), so
    /// the end of a turn reads the words as the dialogue will.
    pub fn turn_judge(&self) -> Arc<dyn crate::turn_end::TurnJudge> {
        Arc::new(crate::turn_end::TextJudge::with_understander(
            self.understander.clone(),
        ))
    }

    /// What the end of the session's next turn is judged against: what the dialogue
    /// awaits now, and whether a question of a flow (a form's field, where it
    /// happened) is being answered.
    pub fn expect(&self, s: &Session) -> crate::turn_end::Expect {
        let ctx = self.context(s);
        crate::turn_end::Expect::for_turn(
            &ctx.awaiting,
            ctx.awaiting != Awaiting::Nothing || s.flow.is_collecting(),
        )
    }

    /// Today's date for resolving "明天" and deadlines.
    pub fn today(&self) -> NaiveDate {
        self.today
            .unwrap_or_else(|| chrono::Local::now().date_naive())
    }

    /// The greeting that opens a session.
    pub fn greet(&self, s: &mut Session) -> Reply {
        let r = Reply::say(
            "您好，我是小安。您想办什么事，直接说就行。不知道怎么说，可以问我“我能说什么”。",
        )
        .with_earcon(Earcon::Listening);
        self.finish(s, r)
    }

    /// The resident said nothing for a while.
    pub fn on_silence(&self, s: &mut Session) -> Reply {
        s.silence_prompts += 1;
        let through = records::retry_alerts(self, s);
        let told = match through.first() {
            Some(no) => {
                self.emergency_recorded(s, no);
                ALERT_THROUGH
            }
            None => "",
        };
        // after an emergency the session stays open: the key instruction again
        if let Some(text) = flows::emergency_still_here(s) {
            let mut r = Reply::say(format!("{told}{text}")).with_earcon(Earcon::Listening);
            r.receipt = through.first().cloned();
            return self.finish_keep_silence(s, r);
        }
        let limit = if s.more_time { 3 } else { 2 };
        if s.silence_prompts >= limit {
            let mut r = if matches!(s.flow, Flow::ConfirmEmergency { .. }) {
                // asked about an emergency and no answer at all: someone must look
                flows::check_on_resident(
                    self,
                    s,
                    "没听到您回答。我请工作人员过来看看您，请您在这里稍等。",
                )
            } else {
                // end of session: keep any half-filled form for staff, and say so
                Reply::say(match flows::save_draft_on_timeout(self, s) {
                    Some(no) => format!(
                        "您好像走开了，这次先到这里。刚才填的内容已经帮您保存，编号{}，工作人员可以接着帮您办。",
                        reply::number_for_ear(&no)
                    ),
                    None => "您好像走开了，这次先到这里。需要时再叫我。".to_string(),
                })
            };
            r.text = format!("{told}{}", r.text);
            r.end_session = true;
            s.ended = true;
            s.flow = Flow::Idle;
            records::flush_alerts(self, s);
            return self.finish(s, r);
        }
        let text = match s.flow.prompt() {
            Some(p) => format!("我还在。{p}"),
            None => "我还在听。您想办什么事？".to_string(),
        };
        let r = Reply::say(format!("{told}{text}")).with_earcon(Earcon::Listening);
        self.finish_keep_silence(s, r)
    }

    /// One turn: the resident's words (a final transcript or typed text) in, a reply out.
    pub fn handle(&self, s: &mut Session, text: &str) -> TurnOutcome {
        s.silence_prompts = 0;
        // control and invisible formatting characters (escape sequences, bidi marks) are
        // not words: they never reach understanding, so they never change a setting
        let cleaned = without_control_chars(text);
        let text = cleaned.as_str();
        s.transcript.push(Turn {
            who: "resident",
            text: text.to_string(),
        });
        let u = self
            .understander
            .understand_on(text, &self.context(s), self.today());
        self.adopt_dialect(s, &u);
        let through = records::retry_alerts(self, s);
        let mut reply = self.respond(s, &u);
        if let Some(no) = through.first() {
            reply.text = format!("{ALERT_THROUGH}{}", reply.text);
            reply.receipt.get_or_insert_with(|| no.clone());
            self.emergency_recorded(s, no);
        }
        if reply.end_session {
            records::flush_alerts(self, s);
        }
        let reply = self.finish(s, reply);
        TurnOutcome {
            reply,
            understanding: u,
        }
    }

    /// Would these words, heard in this session now, be worth a second decode of the
    /// audio ([`crate::route::doubts`])? Only while nothing in particular is awaited: a
    /// slot value or a yes/no is judged against the question asked.
    pub fn doubts(&self, s: &Session, text: &str) -> bool {
        let ctx = self.context(s);
        if ctx.awaiting != Awaiting::Nothing || s.flow.is_collecting() {
            return false;
        }
        let u = self.understander.understand_on(text, &ctx, self.today());
        crate::route::doubts(&u, self.retriever.as_ref())
    }

    /// What understanding reads the words against: what the flow awaits, the dialect.
    fn context(&self, s: &Session) -> Context {
        Context {
            awaiting: s.flow.awaiting(&self.forms, &self.mediation),
            dialect: s.dialect.clone(),
        }
    }

    /// An emergency that had failed is now recorded as `no`: the open emergency flow
    /// carries its number (a place said later goes to it).
    fn emergency_recorded(&self, s: &mut Session, no: &str) {
        if let Flow::Emergency { ticket, .. } = &mut s.flow {
            if ticket.is_none() {
                *ticket = Some(no.to_string());
            }
        }
        s.last_number = Some((no.to_string(), "求助".into()));
    }

    fn adopt_dialect(&self, s: &mut Session, u: &Understanding) {
        // the first utterance that carries dialect markers picks the session's dialect,
        // unless the resident or the kiosk chose one
        if matches!(s.dialect_source, DialectSource::Auto) && u.dialect.marked {
            s.dialect = Some(u.dialect.code.to_string());
            s.dialect_source = DialectSource::Identified;
        }
    }

    fn on_control(&self, s: &mut Session, c: Control) -> Option<Reply> {
        // after louder, quieter or help, the question the resident was answering again
        Some(match c {
            Control::Louder => {
                s.volume = (s.volume + session::VOLUME_STEP).min(session::VOLUME_MAX);
                self.keep_flow_and_ask(s, "好的，我大声一点。")
            }
            Control::Quieter => {
                s.volume = (s.volume - session::VOLUME_STEP).max(session::VOLUME_MIN);
                self.keep_flow_and_ask(s, "好的，我小声一点。")
            }
            Control::Help => self.keep_flow_and_ask(s, &self.help_text(s)),
            Control::MoreTime => {
                s.more_time = true;
                self.keep_flow(s, "好的，不着急，您想好了再说。")
            }
            Control::Resume => match flows::pending_question(self, s) {
                Some(q) => self.keep_flow(s, &format!("好的。{q}")),
                None => return None,
            },
        })
    }

    fn help_text(&self, s: &Session) -> String {
        match s.flow.help() {
            Some(h) => format!("{h}也可以说“再说一遍”“说慢一点”“取消”“找工作人员”。"),
            None => "您可以问办事的问题，比如“敬老卡怎么办”；可以说“我要登记”“我要调解”“我要预约”“现在排队要多久”；也可以说“再说一遍”“说慢一点”“找工作人员”。".to_string(),
        }
    }

    /// `text` in the flow as it is, then the question pending again.
    fn keep_flow_and_ask(&self, s: &Session, text: &str) -> Reply {
        let mut r = self.keep_flow(s, text);
        if let Some(p) = flows::pending_question(self, s) {
            r.text.push_str(&p);
        }
        r
    }

    fn keep_flow(&self, s: &Session, text: &str) -> Reply {
        let mut r = Reply::say(text);
        r.flow = s.flow.name().to_string();
        r.awaiting = awaiting_label(&s.flow.awaiting(&self.forms, &self.mediation));
        r
    }

    fn repeat(&self, s: &mut Session) -> Reply {
        match &s.last_reply {
            Some(last) => {
                let mut r = last.clone();
                r.receipt = None; // a repeat files nothing new
                r.earcon = None;
                r
            }
            None => Reply::say("我还没说什么呢。您想办什么事？"),
        }
    }

    fn rate(&self, s: &mut Session, faster: bool) -> Reply {
        let at_limit = if faster {
            s.rate_wpm >= session::RATE_MAX
        } else {
            s.rate_wpm <= session::RATE_MIN
        };
        let limit_note = if faster { RATE_FASTEST } else { RATE_SLOWEST };
        // the answer itself, without what earlier rate requests put in front of it
        let answer = s
            .last_reply
            .as_ref()
            .map(|l| strip_rate_notes(&l.text).to_string())
            .unwrap_or_default();
        // told already in this session (and the rate has stayed at the limit since)
        let said_limit = s
            .transcript
            .iter()
            .rev()
            .filter(|t| t.who == "xiaoan")
            .take_while(|t| !t.text.starts_with(RATE_SLOWER) && !t.text.starts_with(RATE_FASTER))
            .any(|t| t.text.starts_with(limit_note));
        let text = if at_limit {
            // "已经是最慢了" once; asked again, only the answer at that rate
            if said_limit {
                ""
            } else {
                limit_note
            }
        } else if faster {
            s.rate_wpm = (s.rate_wpm + session::RATE_STEP).min(session::RATE_MAX);
            RATE_FASTER
        } else {
            s.rate_wpm = s
                .rate_wpm
                .saturating_sub(session::RATE_STEP)
                .max(session::RATE_MIN);
            RATE_SLOWER
        };
        // say the last answer again at the new rate, so the resident hears the difference
        match &s.last_reply {
            Some(last) if !answer.is_empty() => {
                let mut r = last.clone();
                r.text = format!("{text}{answer}");
                r.receipt = None;
                r.earcon = None;
                r
            }
            _ => self.keep_flow(s, if text.is_empty() { limit_note } else { text }),
        }
    }

    /// "别说了", "停": the speech stops (the device cuts playback on barge-in); nothing
    /// is dropped, and "继续" picks up where it was.
    fn hush(&self, s: &mut Session) -> Reply {
        if s.flow.is_collecting() || s.flow.prompt().is_some() {
            self.keep_flow(s, "好的，我先不说了。要接着办，就说“继续”。")
        } else {
            Reply::say("好的。")
        }
    }

    fn stop(&self, s: &mut Session) -> Reply {
        let was = std::mem::replace(&mut s.flow, Flow::Idle);
        if matches!(was, Flow::ChangeAppointment { .. }) {
            Reply::say("好的，预约没有改动。")
        } else if was.is_collecting() {
            Reply::say("好的，已经取消了，什么都没有提交。还要办别的吗？")
        } else {
            Reply::say("好的。")
        }
    }

    fn switch_dialect(&self, s: &mut Session, u: &Understanding) -> Reply {
        let wanted = flows::dialect_named_in(&u.normalized.original)
            .or_else(|| flows::dialect_named_in(&u.normalized.text));
        match wanted {
            Some(code) => {
                s.dialect = Some(code.to_string());
                s.dialect_source = DialectSource::Resident;
                Reply::say(match code {
                    "wuu-sh" => "好的，侬讲上海话好了，我听得懂。",
                    "wuu-sz" => "好的，倷讲苏州话好哉。",
                    "yue" => "好呀，你讲广东话啦，我听得明。",
                    "nan" => "好，你讲闽南话就好。",
                    "cmn-sc" => "要得，你说四川话嘛。",
                    "hak" => "好，你讲客家话就好。",
                    _ => "好的，我们说普通话。",
                })
            }
            None => Reply::say(
                "您想说哪种话？普通话、上海话、苏州话、广东话、闽南话、四川话、客家话都可以。",
            ),
        }
    }

    /// Record the reply in the session (for repeat and hand-over) and fill in the flow
    /// fields.
    pub(crate) fn finish(&self, s: &mut Session, mut r: Reply) -> Reply {
        s.silence_prompts = 0;
        self.finish_keep_silence_inner(s, &mut r);
        r
    }

    fn finish_keep_silence(&self, s: &mut Session, mut r: Reply) -> Reply {
        self.finish_keep_silence_inner(s, &mut r);
        r
    }

    fn finish_keep_silence_inner(&self, s: &mut Session, r: &mut Reply) {
        if r.flow == "idle" {
            r.flow = s.flow.name().to_string();
        }
        if r.awaiting == "nothing" {
            r.awaiting = awaiting_label(&s.flow.awaiting(&self.forms, &self.mediation));
        }
        if !self.settings.earcons {
            r.earcon = None;
        }
        // a repeat says exactly the same again; the one-off note waits for new words
        let repeated = s.last_reply.as_ref().is_some_and(|l| l.text == r.text);
        // kept for "再说一遍" without the one-off note below
        s.last_reply = Some(r.clone());
        if !s.told_mandarin_voice
            && !repeated
            && !r.text.is_empty()
            && !has_own_voice(s.dialect_code())
        {
            // once: the resident is understood in their dialect but answered in Mandarin
            s.told_mandarin_voice = true;
            r.text = format!("{MANDARIN_VOICE_NOTE}{}", r.text);
        }
        s.transcript.push(Turn {
            who: "xiaoan",
            text: r.text.clone(),
        });
    }
}

/// `text` without control characters and invisible format characters.
fn without_control_chars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // an escape sequence ("\x1b[A") goes whole
            if chars.peek() == Some(&'[') {
                chars.next();
                for n in chars.by_ref() {
                    if n.is_ascii_alphabetic() || n == '~' {
                        break;
                    }
                }
            }
            continue;
        }
        let invisible = matches!(
            c,
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
        );
        if !c.is_control() && !invisible {
            out.push(c);
        }
    }
    out
}

const RATE_SLOWER: &str = "好的，我说慢一点。";
const RATE_FASTER: &str = "好的，我说快一点。";
const RATE_SLOWEST: &str = "已经是最慢了。";
const RATE_FASTEST: &str = "已经是最快了。";

/// A reply without the acknowledgements of rate requests in front of it.
fn strip_rate_notes(mut text: &str) -> &str {
    loop {
        let before = text;
        for note in [RATE_SLOWER, RATE_FASTER, RATE_SLOWEST, RATE_FASTEST] {
            text = text.strip_prefix(note).unwrap_or(text);
        }
        if text == before {
            return text;
        }
    }
}

/// Said once to a resident whose dialect has no verified voice (every dialect but
/// Mandarin and Cantonese): replies come in Mandarin.
pub const MANDARIN_VOICE_NOTE: &str = "我用普通话回答您。";

/// Whether replies in `dialect` are spoken in that dialect's own voice: Mandarin and
/// Cantonese (espeak-ng `yue`); see [`xiaoan_models::spoken_as`].
fn has_own_voice(dialect: &str) -> bool {
    matches!(dialect, "cmn" | "yue")
}

/// The label used in `chat --jsonl` for what the dialogue waits for.
pub fn awaiting_label(a: &Awaiting) -> String {
    match a {
        Awaiting::Nothing => "nothing".into(),
        Awaiting::YesNo => "yes_no".into(),
        Awaiting::Slot(k) => format!("slot:{}", flows::entity_kind_name(*k)),
    }
}
