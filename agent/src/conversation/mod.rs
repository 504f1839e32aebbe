//! The conversation core: one resident session as a transport-free state machine.
//!
//! In: audio frames (16 kHz), keypad keys, typed text, push-to-talk on/off, "played",
//! "stop", "more time", "end", and time ticks. Out: the terminal protocol's [`Event`]s
//! (`docs/terminal-protocol.md`), reply audio sentence by sentence among them. The
//! microphone loop (`live.rs`, `xiaoan listen`) and the WebSocket route of `xiaoan serve`
//! are thin adapters over it; both reach the one dialogue ([`Agent::handle`]).
//!
//! ```text
//!  audio ─► barge-in detector (while a turn plays) ─► stop_audio
//!       └─► Hearing (end-pointer + streaming ASR) ─► speech_start / partial / final
//!  final, text, keys+enter ─► Agent::handle ─► effects (progress, keypad, receipt, …)
//!                                            └─► sentences queued ─► speak_next() ─► reply + audio
//!  tick ─► idle: a check, the spoken offer of more time (idle_warning), then the end
//! ```
//!
//! A reply's sentences are queued, and the adapter calls [`Conversation::speak_next`]
//! between inputs: each call synthesises one sentence, so the first is on its way while
//! the rest are made, and a barge-in that arrives meanwhile drops those not yet made.
//!
//! All calls are blocking (recognition and synthesis run inside them): a server calls
//! them on its blocking pool, never on async threads.

pub mod protocol;
mod reply;
pub mod scheduler;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use xiaoan_audio::Earcon;
use xiaoan_models::{AsrModel, Voice};

use crate::bargein::{active_level_db, BargeIn};
use crate::config::{DialogueSettings, Profile, Settings};
use crate::dialogue::flows::FormStage;
use crate::dialogue::{digits_for_ear, sentences, Agent, DialectSource, Flow, Reply};
use crate::error::Result;
use crate::pipeline::{Heard, Hearing, Recognizer};
use crate::speech::Speech;

use reply::earcon_name;

pub use protocol::{ClientMessage, ErrorCode, Event};
pub use scheduler::{DecodeScheduler, Priority, Scheduled};

use protocol::{mask_keys, MAX_KEYS, SAMPLE_RATE_OUT};

/// Longest session before it is closed (`session_too_long`).
pub const MAX_SESSION: Duration = Duration::from_secs(30 * 60);
/// A turn counts as played this long after its audio's own duration even when the
/// terminal never says `played`.
pub const PLAYED_GRACE: Duration = Duration::from_secs(3);
/// Silence between sentences sent, seconds.
const GAP_S: f32 = 0.15;

/// Said when the resident is first offered more time.
const OFFER_MORE_TIME: &str = "需要多点时间的话，就说“等一下”，或者按屏幕上的“还要时间”。";
/// Said when the resident asks for more time.
const MORE_TIME_GIVEN: &str = "好的，不着急，您想好了再说。";
/// Said when the session reaches its longest length.
const TIME_IS_UP: &str = "这次服务时间到了，谢谢您。需要的话，请重新开始。";

/// Everything sessions share: the agent (dialogue, guide, store), the recogniser, the
/// voice, the settings and the decode scheduler.
pub struct Shared {
    /// The dialogue and its data.
    pub agent: Agent,
    /// The recogniser (each session wraps its engines for the scheduler).
    pub recognizer: Recognizer,
    /// The voice.
    pub speech: Speech,
    /// The resolved settings.
    pub settings: Settings,
    /// Decode slots shared by all sessions.
    pub scheduler: Arc<DecodeScheduler>,
}

impl Shared {
    /// Load the agent (filing into `settings.store_path`), the recogniser and the voice.
    pub fn load(settings: &Settings) -> Result<Shared> {
        let agent = crate::app::build_agent(settings, &settings.store_path)?;
        let recognizer = Recognizer::load(settings)?;
        let speech = Speech::from_settings(settings)?;
        Ok(Shared::new(agent, recognizer, speech, settings.clone()))
    }

    /// Assemble from parts (tests, benchmarks).
    pub fn new(agent: Agent, recognizer: Recognizer, speech: Speech, settings: Settings) -> Shared {
        let scheduler = Arc::new(DecodeScheduler::for_machine(settings.config.asr.threads));
        Shared {
            agent,
            recognizer,
            speech,
            settings,
            scheduler,
        }
    }

    /// A recogniser for one session, its decodes going through the scheduler; `quiet`
    /// is the session's flag ([`Conversation::quiet_flag`]). Call it on the thread that
    /// runs the session.
    pub fn session_recognizer(&self, quiet: Arc<AtomicBool>) -> Recognizer {
        let sched = self.scheduler.clone();
        self.recognizer.with_models(&|m: Arc<dyn AsrModel>| {
            Arc::new(Scheduled::new(m, sched.clone(), quiet.clone())) as Arc<dyn AsrModel>
        })
    }
}

/// How a session starts.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// The terminal's profile (its timings, speaking rate and volume); `None`: the
    /// configured one.
    pub profile: Option<Profile>,
    /// A dialect code chosen by the terminal; `None`: the configured default.
    pub dialect: Option<String>,
    /// The registered terminal the session is held on (a kiosk on `/ws/terminal`), when
    /// it is not this process: its id leads the session id (`gs-3/s…`), which every
    /// record of the session carries, so staff see which kiosk a filing came from.
    pub device: Option<String>,
}

/// The keypad's expectation while a number is asked.
#[derive(Clone, Debug, PartialEq)]
struct KeypadWant {
    expect: &'static str,
    length: Option<usize>,
}

/// One item of speech not yet synthesised.
enum Pending {
    Earcon(Earcon),
    Sentence { n: u32, text: String, last: bool },
}

/// Why a session finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// A normal end (`bye` was emitted): close with 1000.
    Normal,
    /// Ended by an error (its event was emitted): close with the code's close code.
    Error(ErrorCode),
}

/// The turn being played by the terminal.
#[derive(Clone, Copy, Debug)]
struct Playing {
    turn: u32,
    level_db: f32,
    /// when its audio ends, as sent (real time)
    ends: Instant,
}

/// One resident session (see the module documentation).
pub struct Conversation<'a> {
    shared: &'a Shared,
    hearing: Hearing<'a>,
    barge: BargeIn,
    session: crate::dialogue::Session,
    dialogue: DialogueSettings,
    quiet: Arc<AtomicBool>,
    turn: u32,
    queue: VecDeque<Pending>,
    voice: Voice,
    /// the reply turn being played, until `played` (or its duration and the grace)
    playing: Option<Playing>,
    /// sent audio ends here (turns queue behind each other at the terminal)
    audio_until: Instant,
    keys: String,
    keypad: Option<KeypadWant>,
    progress: Option<(String, String)>,
    in_utterance: bool,
    /// samples of silence since the last speech frame
    silent_run: usize,
    talk: bool,
    started: Instant,
    /// silence is measured from here (last activity, or the end of playback)
    quiet_since: Instant,
    offered: bool,
    /// close after the queued speech is sent
    closing: Option<Finish>,
    finished: Option<Finish>,
    /// the wake word's gate (robot profile): frames pass only once it is engaged
    wake: Option<crate::wake::WakeGate>,
}

impl<'a> Conversation<'a> {
    /// A new session over `shared`, hearing with `recognizer` (usually
    /// [`Shared::session_recognizer`] with [`Conversation::quiet_flag`]'s flag; the shared
    /// recogniser itself for a single-session terminal).
    pub fn new(
        shared: &'a Shared,
        recognizer: &'a Recognizer,
        quiet: Arc<AtomicBool>,
        opts: SessionOptions,
        now: Instant,
    ) -> Result<Conversation<'a>> {
        let agent = &shared.agent;
        let dialogue = match opts.profile {
            Some(p) if p != agent.settings.profile => DialogueSettings::for_profile(p),
            _ => agent.settings.clone(),
        };
        let mut session = agent.new_session();
        session.rate_wpm = dialogue.rate_wpm;
        session.volume = dialogue.volume;
        if let Some(d) = opts.dialect {
            session.dialect = Some(d);
            session.dialect_source = DialectSource::Configured;
        }
        if let Some(device) = opts.device.as_deref().filter(|d| !d.is_empty()) {
            session.id = format!("{device}/{}", session.id);
        }
        let mut hearing = Hearing::new(recognizer)?;
        hearing.set_judge(Some(agent.turn_judge()));
        let barge = BargeIn::new(
            xiaoan_audio::vad_by_name(&shared.settings.config.audio.vad, None, None)?,
            hearing.endpointer().threshold(),
        );
        let voice = crate::speech::voice_for(&shared.settings, &session);
        let wake =
            crate::wake::WakeGate::for_profile(&shared.settings, recognizer, dialogue.profile)?;
        Ok(Conversation {
            shared,
            hearing,
            barge,
            session,
            dialogue,
            quiet,
            turn: 0,
            queue: VecDeque::new(),
            voice,
            playing: None,
            audio_until: now,
            keys: String::new(),
            keypad: None,
            progress: None,
            in_utterance: false,
            silent_run: 0,
            talk: false,
            started: now,
            quiet_since: now,
            offered: false,
            closing: None,
            finished: None,
            wake,
        })
    }

    /// A fresh "the resident has gone quiet" flag for [`Shared::session_recognizer`].
    pub fn quiet_flag() -> Arc<AtomicBool> {
        Arc::new(AtomicBool::new(false))
    }

    /// The dialogue session's id.
    pub fn session_id(&self) -> &str {
        &self.session.id
    }

    /// The dialogue session (read-only: tests, logs).
    pub fn session(&self) -> &crate::dialogue::Session {
        &self.session
    }

    /// How the session finished, once it has (the adapter closes then).
    pub fn finished(&self) -> Option<Finish> {
        self.finished
    }

    /// Sentences wait to be synthesised: call [`speak_next`](Self::speak_next).
    pub fn has_speech(&self) -> bool {
        !self.queue.is_empty()
    }

    /// The turn being played, if any.
    pub fn playing_turn(&self) -> Option<u32> {
        self.playing.map(|p| p.turn)
    }

    /// Open the session: the greeting.
    pub fn start(&mut self, now: Instant, out: &mut dyn FnMut(Event)) {
        if self.wake.as_ref().is_some_and(|w| !w.is_engaged()) {
            return; // no greeting to an empty hall: the robot waits for its name
        }
        let greet = self.shared.agent.greet(&mut self.session);
        self.quiet_since = now;
        self.queue_reply(&greet, None, "idle", now, out);
    }

    /// Captured audio, 16 kHz mono.
    pub fn push_audio(
        &mut self,
        frame: &[f32],
        now: Instant,
        out: &mut dyn FnMut(Event),
    ) -> Result<()> {
        if self.finished.is_some() || !self.wake_gate(frame, now, out)? {
            return Ok(());
        }
        self.expire_playing(now);
        if let Some(p) = self.playing {
            // while a reply plays only the barge-in detector listens: its echo must not
            // become a turn
            if !self.dialogue.barge_in {
                return Ok(());
            }
            if self.barge.push(frame, Some(p.level_db)).is_none() {
                return Ok(());
            }
            self.stop_playing(out);
            self.hearing.reset();
            self.in_utterance = false;
        }
        let heard = self.hearing.push(frame, self.session.dialect_code())?;
        self.on_heard(heard, now, out)?;
        // the resident has gone quiet once the early final is near: a decode started now
        // is the one they will wait for
        let ep = self.hearing.endpointer();
        if ep.last_probability() < ep.threshold() {
            self.silent_run += frame.len();
        } else {
            self.silent_run = 0;
        }
        let near = crate::pipeline::EARLY_DECODE_MS as usize * 3 / 4 * 16;
        self.quiet.store(self.silent_run >= near, Ordering::Relaxed);
        Ok(())
    }

    /// A JSON message from the terminal (not `hello`: the adapter handles that).
    pub fn push_message(
        &mut self,
        msg: ClientMessage,
        now: Instant,
        out: &mut dyn FnMut(Event),
    ) -> Result<()> {
        if self.finished.is_some() {
            return Ok(());
        }
        self.expire_playing(now);
        match msg {
            ClientMessage::Hello { .. } => out(ErrorCode::BadMessage.event()),
            ClientMessage::Talk { on: true } => {
                if let Some(w) = self.wake.as_mut() {
                    w.touch(); // the button wakes the robot
                    self.started = now;
                }
                self.activity(now);
                self.stop_playing(out);
                self.hearing.reset();
                self.in_utterance = false;
                self.talk = true;
            }
            ClientMessage::Talk { on: false } => {
                self.activity(now);
                if self.talk {
                    self.talk = false;
                    self.quiet.store(true, Ordering::Relaxed);
                    let heard = self.hearing.flush(self.session.dialect_code())?;
                    self.on_heard(heard, now, out)?;
                }
            }
            ClientMessage::Key { key } => self.key(&key, now, out)?,
            ClientMessage::Text { text } => {
                self.activity(now);
                match crate::input::check_utterance(&text) {
                    Ok(t) if !t.trim().is_empty() => self.respond(t, now, out),
                    Ok(_) => {}
                    Err(_) => out(ErrorCode::BadMessage.event()),
                }
            }
            ClientMessage::Stop => {
                self.activity(now);
                if self.stop_playing(out) {
                    out(Event::Listening);
                }
            }
            ClientMessage::Played { turn } => {
                if self.playing.is_some_and(|p| p.turn == turn) {
                    self.playing = None;
                    self.barge.reset();
                    self.quiet_since = now;
                    if let Some(w) = self.wake.as_mut() {
                        w.activity();
                    }
                }
            }
            ClientMessage::MoreTime => {
                self.activity(now);
                self.session.more_time = true;
                self.session.silence_prompts = 0;
                self.stop_playing(out);
                let r = Reply::say(MORE_TIME_GIVEN);
                self.queue_reply(&r, None, "idle", now, out);
            }
            ClientMessage::End => {
                self.queue.clear();
                crate::records::flush_alerts(&self.shared.agent, &mut self.session);
                out(Event::Bye);
                self.finished = Some(Finish::Normal);
            }
        }
        Ok(())
    }

    /// Time passes: silence checks, the offer of more time, the session's length.
    pub fn tick(&mut self, now: Instant, out: &mut dyn FnMut(Event)) {
        if self.finished.is_some() || self.closing.is_some() {
            return;
        }
        if self.wake.as_ref().is_some_and(|w| !w.is_engaged()) {
            return; // waiting for the name: no checks on an empty hall
        }
        self.expire_playing(now);
        if now.duration_since(self.started) >= MAX_SESSION {
            self.stop_playing(out);
            let text = match crate::dialogue::flows::save_draft_on_timeout(
                &self.shared.agent,
                &self.session,
            ) {
                Some(no) => format!(
                    "{TIME_IS_UP}刚才填的内容已经保存，编号{}。",
                    crate::dialogue::number_for_ear(&no)
                ),
                None => TIME_IS_UP.to_string(),
            };
            crate::records::flush_alerts(&self.shared.agent, &mut self.session);
            self.queue_reply(&Reply::say(text), None, "idle", now, out);
            self.closing = Some(Finish::Error(ErrorCode::SessionTooLong));
            return;
        }
        if self.playing.is_some() || self.has_speech() || self.in_utterance || self.talk {
            return;
        }
        let wait = self.silence_wait();
        if now.duration_since(self.quiet_since) < wait {
            return;
        }
        self.quiet_since = now;
        let mut r = self.shared.agent.on_silence(&mut self.session);
        if r.end_session {
            self.queue_reply(&r, None, "idle", now, out);
            self.closing = Some(Finish::Error(ErrorCode::Idle));
            return;
        }
        if matches!(self.session.flow, Flow::Emergency { .. }) {
            // after an emergency the session stays open: the key instruction, nothing else
            self.queue_reply(&r, None, "emergency", now, out);
            return;
        }
        out(Event::IdleWarning {
            seconds: wait.as_secs_f32().round() as u32,
        });
        if !self.offered {
            // once a spell of silence: how to get more time
            self.offered = true;
            r.text.push_str(OFFER_MORE_TIME);
        }
        self.queue_reply(&r, None, "idle", now, out);
    }

    /// Synthesise the next queued sentence and emit it (`reply` then `audio`). Returns
    /// whether more are queued. After the last one: `listening`, or the end.
    pub fn speak_next(&mut self, now: Instant, out: &mut dyn FnMut(Event)) -> Result<bool> {
        let Some(item) = self.queue.pop_front() else {
            return Ok(false);
        };
        let turn = self.turn;
        let (sentence, buf) = match item {
            Pending::Earcon(e) => {
                out(Event::Earcon {
                    turn,
                    name: earcon_name(e).into(),
                });
                (0, crate::speech::cue(e))
            }
            Pending::Sentence { n, text, last } => {
                out(Event::Reply {
                    turn,
                    sentence: n,
                    text: text.clone(),
                    last,
                });
                let spoken = xiaoan_kb::speakable(&text);
                (n, self.shared.speech.sentence(&spoken, &self.voice)?)
            }
        };
        self.send_audio(turn, sentence, buf, true, now, out);
        if !self.queue.is_empty() {
            return Ok(true);
        }
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
        Ok(false)
    }

    /// How long silence lasts before 小安 checks on the resident.
    fn silence_wait(&self) -> Duration {
        let base = self.dialogue.reprompt_after_s.max(1.0);
        let s = if self.session.more_time { 2.0 } else { 1.0 } * base;
        Duration::from_secs_f32(s)
    }

    fn activity(&mut self, now: Instant) {
        self.quiet_since = now;
        self.offered = false;
        if let Some(w) = self.wake.as_mut() {
            w.activity();
        }
    }

    /// The wake gate (`crate::wake`), when the profile has one: `false` while it waits
    /// for the name (the frame goes no further). On the name, the utterance so far goes
    /// to the recogniser; after the quiet spell, a soft cue and the session ends (the
    /// next one waits for the name again).
    fn wake_gate(
        &mut self,
        frame: &[f32],
        now: Instant,
        out: &mut dyn FnMut(Event),
    ) -> Result<bool> {
        let Some(gate) = self.wake.as_mut() else {
            return Ok(true);
        };
        match gate.push(frame)? {
            Some(crate::wake::WakeEvent::Woke {
                audio, speaking, ..
            }) => {
                self.started = now;
                self.activity(now);
                if !speaking && self.dialogue.earcons {
                    self.queue.push_back(Pending::Earcon(Earcon::Listening));
                }
                let heard = self.hearing.push(&audio, self.session.dialect_code())?;
                self.on_heard(heard, now, out)?;
                Ok(false)
            }
            Some(crate::wake::WakeEvent::Slept) => {
                out(Event::Earcon {
                    turn: self.turn,
                    name: "sleep".into(),
                });
                self.send_audio(self.turn, 0, crate::wake::sleep_cue(), false, now, out);
                self.queue.clear();
                crate::records::flush_alerts(&self.shared.agent, &mut self.session);
                out(Event::Bye);
                self.finished = Some(Finish::Normal);
                Ok(false)
            }
            None => Ok(self.wake.as_ref().is_some_and(|w| w.is_engaged())),
        }
    }

    /// A played turn whose terminal never said so is over after its duration and the grace.
    fn expire_playing(&mut self, now: Instant) {
        if let Some(p) = self.playing {
            if now >= p.ends + PLAYED_GRACE {
                self.playing = None;
                self.barge.reset();
                self.quiet_since = self.quiet_since.max(p.ends);
            }
        }
    }

    /// Stop the turn being played and drop its unsent sentences; `stop_audio` when
    /// something was playing or queued. Returns whether it was.
    fn stop_playing(&mut self, out: &mut dyn FnMut(Event)) -> bool {
        let was = self.playing.is_some() || !self.queue.is_empty();
        if was {
            out(Event::StopAudio { turn: self.turn });
        }
        self.playing = None;
        self.queue.clear();
        self.barge.reset();
        self.audio_until = Instant::now().min(self.audio_until);
        was
    }

    fn on_heard(
        &mut self,
        heard: Vec<Heard>,
        now: Instant,
        out: &mut dyn FnMut(Event),
    ) -> Result<()> {
        for h in heard {
            match h {
                Heard::Started => {
                    self.in_utterance = true;
                    self.activity(now);
                    out(Event::SpeechStart);
                }
                Heard::Partial(text) => out(Event::Partial { text }),
                Heard::Final { text, .. } => {
                    self.in_utterance = false;
                    self.activity(now);
                    let doubted = self.shared.agent.doubts(&self.session, &text);
                    let (mut read, _) = self.hearing.reading(&text, doubted)?;
                    if self.wake.is_some() {
                        read = crate::wake::request_after_name(&read); // 小安，… → …
                    }
                    if read.trim().is_empty() {
                        out(Event::Listening);
                        continue;
                    }
                    out(Event::Final {
                        text: text.clone(),
                        dialect: self.session.dialect_code().to_string(),
                    });
                    self.respond(&read, now, out);
                }
            }
        }
        Ok(())
    }

    /// A keypad key.
    fn key(&mut self, key: &str, now: Instant, out: &mut dyn FnMut(Event)) -> Result<()> {
        self.activity(now);
        let spoken = match key {
            "back" => {
                self.keys.pop();
                "删除".to_string()
            }
            "clear" => {
                self.keys.clear();
                "清除".to_string()
            }
            "enter" => {
                let typed = std::mem::take(&mut self.keys);
                if typed.is_empty() {
                    return Ok(());
                }
                self.respond(&typed, now, out);
                return Ok(());
            }
            k if k.len() == 1 && (k.as_bytes()[0].is_ascii_digit() || k == "X") => {
                if self.keys.len() < MAX_KEYS {
                    self.keys.push_str(k);
                }
                digits_for_ear(k, 1)
            }
            _ => {
                out(ErrorCode::BadMessage.event());
                return Ok(());
            }
        };
        // the resident is acting: a reply still playing gives way
        self.stop_playing(out);
        self.turn += 1;
        out(Event::Key {
            key: key.to_string(),
            entered_masked: mask_keys(&self.keys),
            turn: self.turn,
        });
        let echo = self.shared.speech.sentence(&spoken, &self.voice)?;
        self.send_audio(self.turn, 1, echo, false, now, out);
        Ok(())
    }

    /// One turn of the dialogue on the resident's words.
    fn respond(&mut self, text: &str, now: Instant, out: &mut dyn FnMut(Event)) {
        self.stop_playing(out);
        let before = self.session.flow.name().to_string();
        let turn = self.shared.agent.handle(&mut self.session, text);
        let intent = turn.understanding.intent.intent;
        self.queue_reply(&turn.reply, Some(intent), &before, now, out);
    }
}

/// The profile named by a terminal (`kiosk`, `window`, `robot`).
pub fn profile_named(name: &str) -> Option<Profile> {
    match name {
        "kiosk" => Some(Profile::Kiosk),
        "window" => Some(Profile::Window),
        "robot" => Some(Profile::Robot),
        _ => None,
    }
}

/// A dialect a terminal may choose: `auto` (`Ok(None)`) or a code of the contract.
pub fn dialect_named(code: &str) -> std::result::Result<Option<String>, ()> {
    if code == "auto" || code.is_empty() {
        return Ok(None);
    }
    if xiaoan_intents::DIALECTS.contains(&code) {
        Ok(Some(code.to_string()))
    } else {
        Err(())
    }
}

#[cfg(test)]
mod tests;
