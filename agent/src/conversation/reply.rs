//! A reply on its way out: its effects as protocol events (form progress, keypad,
//! receipt, hand-over, emergency, earcons) and its speech queued sentence by sentence,
//! then sent as audio frames.

use std::time::Instant;

use xiaoan_audio::{AudioBuf, Earcon};
use xiaoan_intents::{Awaiting, EntityKind, Intent};

use super::*;

impl Conversation<'_> {
    /// Emit a reply's effects (progress, keypad, receipt, hand-over, emergency) and
    /// queue its speech as a new turn.
    pub(super) fn queue_reply(
        &mut self,
        r: &Reply,
        intent: Option<Intent>,
        flow_before: &str,
        now: Instant,
        out: &mut dyn FnMut(Event),
    ) {
        self.quiet_since = now;
        self.voice = crate::speech::voice_for(&self.shared.settings, &self.session);
        // the end of the next turn is judged against what this reply asks for (an ID
        // number waits for its 18 digits, a yes/no question ends on 是的)
        let agent = &self.shared.agent;
        self.hearing.expect(agent.expect(&self.session));
        self.effects(r, intent, flow_before, out);
        self.turn += 1;
        self.queue.clear();
        if self.dialogue.earcons {
            if let Some(e) = r.earcon {
                self.queue.push_back(Pending::Earcon(e));
            }
        }
        let parts = sentences(&r.text);
        let n = parts.len();
        for (i, text) in parts.into_iter().enumerate() {
            self.queue.push_back(Pending::Sentence {
                n: i as u32 + 1,
                text,
                last: i + 1 == n,
            });
        }
        if r.end_session && self.closing.is_none() {
            self.closing = Some(Finish::Normal);
        }
        if self.queue.is_empty() {
            // nothing to say (an empty reply): the turn is over at once
            match self.closing.take() {
                Some(Finish::Normal) => {
                    out(Event::Bye);
                    self.finished = Some(Finish::Normal);
                }
                Some(Finish::Error(code)) => {
                    out(code.event());
                    self.finished = Some(Finish::Error(code));
                }
                None => out(Event::Listening),
            }
        }
    }

    pub(super) fn effects(
        &mut self,
        r: &Reply,
        intent: Option<Intent>,
        flow_before: &str,
        out: &mut dyn FnMut(Event),
    ) {
        let flow_after = self.session.flow.name().to_string();
        // a hand-over reply says so in its flow (an answer a form took as a value does not)
        let handover = r.flow == "handoff";
        if handover {
            out(Event::Handover {
                number: r.receipt.clone(),
            });
        }
        if flow_after == "emergency" && flow_before != "emergency" {
            let number = match &self.session.flow {
                Flow::Emergency { ticket, .. } => ticket.clone(),
                _ => None,
            };
            out(Event::Emergency { number });
        }
        if let Some(number) = &r.receipt {
            let label = self
                .session
                .last_number
                .as_ref()
                .filter(|(n, _)| n == number)
                .map(|(_, what)| what.clone())
                .unwrap_or_else(|| "编号".to_string());
            out(Event::Receipt {
                kind: if handover {
                    "handover"
                } else {
                    receipt_kind(intent, &r.flow, flow_before, &flow_after)
                }
                .to_string(),
                number: number.clone(),
                label,
            });
        }
        // the form's progress, once for each field asked
        let asked = self.field_asked();
        if asked
            .as_ref()
            .map(|(id, name, ..)| (id.clone(), name.clone()))
            != self.progress
        {
            self.progress = asked
                .as_ref()
                .map(|(id, name, ..)| (id.clone(), name.clone()));
            if let Some((_, _, field, of, label)) = asked {
                out(Event::Progress {
                    field,
                    of,
                    label,
                    text: format!("第{field}项，共{of}项"),
                });
            }
        }
        let want = self.keypad_want();
        if want != self.keypad {
            out(match &want {
                Some(w) => Event::Keypad {
                    open: true,
                    expect: Some(w.expect.to_string()),
                    length: w.length,
                },
                None => Event::Keypad {
                    open: false,
                    expect: None,
                    length: None,
                },
            });
            if want.is_none() {
                self.keys.clear();
            }
            self.keypad = want;
        }
    }

    /// The form field being asked: (form, field, its number from 1, fields, label).
    pub(super) fn field_asked(&self) -> Option<(String, String, usize, usize, String)> {
        let Flow::Form(st) = &self.session.flow else {
            return None;
        };
        let FormStage::Collect {
            current: Some(name),
        } = &st.stage
        else {
            return None;
        };
        let agent = &self.shared.agent;
        let fields = if st.form_id == "mediation" {
            agent.mediation.fields.as_slice()
        } else {
            agent.forms.get(&st.form_id)?.fields.as_slice()
        };
        let i = fields.iter().position(|f| &f.name == name)?;
        Some((
            st.form_id.clone(),
            name.clone(),
            i + 1,
            fields.len(),
            fields[i].label.clone(),
        ))
    }

    pub(super) fn keypad_want(&self) -> Option<KeypadWant> {
        let agent = &self.shared.agent;
        match self.session.flow.awaiting(&agent.forms, &agent.mediation) {
            Awaiting::Slot(EntityKind::IdNumber) => Some(KeypadWant {
                expect: "id_number",
                length: Some(18),
            }),
            Awaiting::Slot(EntityKind::Phone) => Some(KeypadWant {
                expect: "phone",
                length: Some(11),
            }),
            Awaiting::Slot(EntityKind::Count) => Some(KeypadWant {
                expect: "digits",
                length: None,
            }),
            _ => None,
        }
    }

    /// Emit one piece of audio of `turn`, resampled to the protocol's rate; `reply`:
    /// it is part of a reply turn (listened to for barge-in while it plays).
    pub(super) fn send_audio(
        &mut self,
        turn: u32,
        sentence: u32,
        buf: AudioBuf,
        reply: bool,
        now: Instant,
        out: &mut dyn FnMut(Event),
    ) {
        let mut pcm = if buf.sample_rate == SAMPLE_RATE_OUT {
            buf.samples
        } else {
            xiaoan_audio::resample(&buf.samples, buf.sample_rate, SAMPLE_RATE_OUT)
                .unwrap_or_default()
        };
        if reply {
            pcm.extend(std::iter::repeat_n(
                0.0,
                (GAP_S * SAMPLE_RATE_OUT as f32) as usize,
            ));
        }
        let dur = Duration::from_secs_f64(pcm.len() as f64 / SAMPLE_RATE_OUT as f64);
        self.audio_until = self.audio_until.max(now) + dur;
        if reply {
            let level = active_level_db(&pcm);
            self.playing = Some(match self.playing {
                Some(p) if p.turn == turn => Playing {
                    turn,
                    level_db: p.level_db.max(level),
                    ends: self.audio_until,
                },
                _ => Playing {
                    turn,
                    level_db: level,
                    ends: self.audio_until,
                },
            });
        }
        out(Event::Audio {
            turn,
            sentence,
            samples: pcm.len(),
            sample_rate: SAMPLE_RATE_OUT,
            pcm,
        });
    }
}

/// What a receipt is for: the flow it was filed in, else the act.
fn receipt_kind(
    intent: Option<Intent>,
    reply_flow: &str,
    before: &str,
    after: &str,
) -> &'static str {
    for f in [reply_flow, before, after] {
        for k in ["declaration", "mediation", "appointment", "emergency"] {
            if f == k {
                return k;
            }
        }
    }
    match intent {
        Some(Intent::Emergency) => "emergency",
        Some(Intent::FeedbackComplaint) => "feedback",
        _ => "record",
    }
}

pub(super) fn earcon_name(e: Earcon) -> &'static str {
    match e {
        Earcon::Listening => "listening",
        Earcon::Working => "working",
        Earcon::Done => "done",
        Earcon::Error => "error",
    }
}
