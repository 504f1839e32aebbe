//! The live loop (`xiaoan listen`, feature `mic`): the microphone and the speaker as a
//! thin adapter over the conversation core ([`crate::conversation`]), the same core the
//! terminal WebSocket route runs.
//!
//! Threads: the capture thread (inside `Microphone`) delivers 16 kHz frames; this loop
//! feeds them to the core (end-pointer, streaming recogniser, dialogue) and synthesises
//! one reply sentence at a time between frames, queueing each on the speaker as soon as
//! it is made: the first plays while the rest are being made, and speech over the reply
//! (barge-in, with its echo guard: see [`crate::bargein`]) stops it and drops the rest.

use std::time::{Duration, Instant};

use xiaoan_audio::{AudioBuf, Microphone, Speaker};

use crate::config::Settings;
use crate::conversation::{ClientMessage, Conversation, Event, SessionOptions, Shared};
use crate::error::Result;

/// How long a read waits for the microphone when nothing is left to say.
const IDLE_READ: Duration = Duration::from_millis(200);
/// How long it waits between two sentences of a reply.
const BUSY_READ: Duration = Duration::from_millis(1);

/// Run until the process is stopped.
pub fn run(s: &Settings) -> Result<()> {
    let mut mic = Microphone::open_default()?;
    let speaker = Speaker::open_default()?;
    let shared = Shared::load(s)?;
    // one resident at a time on this device: its decodes need no scheduling
    let quiet = Conversation::quiet_flag();
    let mut conv = Conversation::new(
        &shared,
        &shared.recognizer,
        quiet.clone(),
        SessionOptions::default(),
        Instant::now(),
    )?;
    let mut events = Vec::new();
    conv.start(Instant::now(), &mut |e| events.push(e));
    loop {
        if conv.has_speech() {
            conv.speak_next(Instant::now(), &mut |e| events.push(e))?;
        }
        play(&speaker, events.drain(..));
        let wait = if conv.has_speech() {
            BUSY_READ
        } else {
            IDLE_READ
        };
        if let Some(frame) = mic.read(wait) {
            conv.push_audio(&frame, Instant::now(), &mut |e| events.push(e))?;
        }
        if !speaker.is_playing() && !conv.has_speech() {
            if let Some(turn) = conv.playing_turn() {
                let played = ClientMessage::Played { turn };
                conv.push_message(played, Instant::now(), &mut |e| events.push(e))?;
            }
        }
        conv.tick(Instant::now(), &mut |e| events.push(e));
        play(&speaker, events.drain(..));
        if conv.finished().is_some() {
            // the next resident: a fresh session, greeted when they speak
            conv = Conversation::new(
                &shared,
                &shared.recognizer,
                quiet.clone(),
                SessionOptions::default(),
                Instant::now(),
            )?;
        }
    }
}

/// Act on the core's events: audio to the speaker, words to the terminal's screen.
fn play(speaker: &Speaker, events: impl Iterator<Item = Event>) {
    for e in events {
        match e {
            Event::Audio {
                pcm, sample_rate, ..
            } => speaker.play(&AudioBuf::new(pcm, sample_rate)),
            Event::StopAudio { .. } => speaker.stop(),
            Event::Partial { text } => eprint!("\r… {text}"),
            Event::Final { text, .. } => eprintln!("\r您: {text}"),
            Event::Reply { text, .. } => eprintln!("小安: {text}"),
            Event::Progress { text, label, .. } => eprintln!("（{text}：{label}）"),
            Event::Receipt { number, label, .. } => eprintln!("（{label}：{number}）"),
            Event::Error { message, .. } => eprintln!("（{message}）"),
            _ => {}
        }
    }
}
