//! The live loop (`xiaoan listen`, feature `mic`): microphone → end-pointer → streaming
//! ASR → dialogue → speech, with barge-in.
//!
//! Threads: the capture thread (inside `Microphone`) delivers 16 kHz frames; this loop
//! runs the end-pointer and the recogniser ([`Hearing`], the same loop
//! `xiaoan bench dialogue` measures); playback runs on the speaker's own thread, and
//! each sentence of a reply is queued as soon as it is synthesised.
//!
//! Barge-in and its echo guard: see [`crate::bargein`].

use std::time::{Duration, Instant};

use xiaoan_audio::{Microphone, Speaker};

use crate::app::build_agent;
use crate::bargein::{active_level_db, BargeIn};
use crate::config::Settings;
use crate::dialogue::Reply;
use crate::error::Result;
use crate::pipeline::{Heard, Hearing, Recognizer};
use crate::speech::Speech;

/// Run until the process is stopped.
pub fn run(s: &Settings) -> Result<()> {
    let mut mic = Microphone::open_default()?;
    let mut speaker = Speaker::open_default()?;
    let rec = Recognizer::load(s)?;
    let speech = Speech::from_settings(s)?;
    let agent = build_agent(s, &s.store_path)?;
    let mut session = agent.new_session();
    let mut hearing = Hearing::new(&rec)?;
    let mut barge = BargeIn::new(
        xiaoan_audio::vad_by_name(&s.config.audio.vad, None, None)?,
        hearing.endpointer().threshold(),
    );
    let mut last_heard = Instant::now();

    // each sentence is queued as soon as it is synthesised: the first plays while the
    // rest are being made
    let speak =
        |speaker: &mut Speaker, session: &crate::dialogue::Session, r: &Reply| -> Result<f32> {
            eprintln!("小安: {}", r.text);
            let voice = crate::speech::voice_for(s, session);
            let mut level = -120.0f32;
            speech.speak(r, &voice, s.dialogue.earcons, &mut |a| {
                level = level.max(active_level_db(&a.samples));
                speaker.play(&a);
            })?;
            Ok(level)
        };

    let greet = agent.greet(&mut session);
    let mut playing_level_db = speak(&mut speaker, &session, &greet)?;
    loop {
        let Some(frame) = mic.read(Duration::from_millis(200)) else {
            continue;
        };
        if speaker.is_playing() {
            // while a reply plays only the barge-in detector listens: the echo of the
            // reply must not become a turn
            if s.dialogue.barge_in && barge.push(&frame, Some(playing_level_db)).is_some() {
                speaker.stop();
                barge.reset();
                hearing.reset();
            } else {
                continue;
            }
        }
        for heard in hearing.push(&frame, session.dialect_code())? {
            match heard {
                Heard::Started => {}
                Heard::Partial(p) => eprint!("\r… {p}"),
                Heard::Final { text, .. } => {
                    eprintln!();
                    // weak words: the utterance decoded again, both read together
                    let (text, _) = hearing.reading(&text, agent.doubts(&session, &text))?;
                    if text.trim().is_empty() {
                        continue;
                    }
                    last_heard = Instant::now();
                    eprintln!("您: {text}");
                    let out = agent.handle(&mut session, &text);
                    playing_level_db = speak(&mut speaker, &session, &out.reply)?;
                    if out.reply.end_session {
                        session = agent.new_session();
                    }
                }
            }
        }
        let wait = if session.more_time { 2.0 } else { 1.0 } * agent.settings.reprompt_after_s;
        if !speaker.is_playing() && last_heard.elapsed().as_secs_f32() > wait {
            last_heard = Instant::now();
            let r = agent.on_silence(&mut session);
            playing_level_db = speak(&mut speaker, &session, &r)?;
            if r.end_session {
                session = agent.new_session();
            }
        }
    }
}
