//! `xiaoan bench dialogue`: end of speech → first audio of the reply, timed the way a
//! resident lives it.
//!
//! * **The conversation** is the demo's (`xiaoan demo`): its clips in order, in one
//!   session, the keypad entries typed in between, so every reply is the one the demo
//!   gives (and is built from what the recogniser heard, right or wrong).
//! * **End of speech** is where the clip's speech ends: the last 10 ms frame within
//!   [`xiaoan_audio::SPEECH_FLOOR_DB`] of the clip's loudest frame. The clip is cut there and followed
//!   by digital silence, so all the silence the end-pointer waits for is waited for
//!   here; the clip's own trailing padding never hides the hang-over.
//! * **Real time**: a capture thread releases the audio in [`FRAME_MS`] frames at the
//!   pace it was recorded, while this thread runs the live loop's [`Hearing`] (the
//!   one `xiaoan listen` runs): end-pointer, partial re-decodes during speech, the final
//!   decode. Frames that queue up behind a slow decode count against the reply: the
//!   clock starts at the wall time the speech ended in the capture stream.
//! * **First audio** is the reply's first sentence synthesised by the TTS engine (the
//!   playback queue takes it at once; later sentences are made while it plays). The
//!   speech cache is cleared before every measured reply; a second pass with the cache
//!   kept (warm) is reported on its own line.
//!
//! Stages: wait (speech end → the final decode starts: the silence the early final
//! waits for, [`EARLY_DECODE_MS`], or the whole hang-over, plus any partial decode
//! still running), the final decode, what is left of the end-pointer's hang-over after
//! it, understanding + dialogue (with retrieval), TTS of the first sentence.

use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::procfs::loadavg;
use anyhow::{Context as _, Result};
use xiaoan_agent::app::build_agent;
use xiaoan_agent::config::Settings;
use xiaoan_agent::dialogue::Agent;
use xiaoan_agent::pipeline::{Heard, Hearing, Recognizer, EARLY_DECODE_MS, EARLY_FINAL_MS};
use xiaoan_agent::speech::{voice_for, Speech};
use xiaoan_agent::turn_end::{Expect, TurnCall};
use xiaoan_audio::SAMPLE_RATE;

use super::{pct, sorted};
use crate::cli::chat::{demo_script, DemoInput};

/// Capture frame, ms (a typical capture callback).
pub(super) const FRAME_MS: u64 = 20;

/// A capture thread releasing `feed` in [`FRAME_MS`] frames at the pace they were
/// recorded, as a microphone would: when it started, the frames, and the thread (it
/// stops early when the receiver is dropped).
pub(super) fn live_capture(
    feed: Vec<f32>,
) -> (
    Instant,
    mpsc::Receiver<Vec<f32>>,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::channel::<Vec<f32>>();
    let frame = (SAMPLE_RATE as u64 * FRAME_MS / 1000) as usize;
    let start = Instant::now();
    let capture = std::thread::spawn(move || {
        for (i, f) in feed.chunks(frame).enumerate() {
            let due = start + Duration::from_millis(FRAME_MS * (i as u64 + 1));
            if let Some(d) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
            if tx.send(f.to_vec()).is_err() {
                return;
            }
        }
    });
    (start, rx, capture)
}
/// Silence fed after the speech at most; no end-point by then counts as a failure.
const MAX_TAIL_S: f64 = 5.0;

/// A stage's label and how to read it from a sample.
type Stage = (&'static str, fn(&Sample) -> f64);

/// One measured reply.
struct Sample {
    clip: String,
    speech_s: f64,
    /// speech end → the final decode starts (silence waited for, decodes queued ahead)
    wait_ms: f64,
    /// the final decode
    final_ms: f64,
    /// the final decode's end → the end-point (the rest of the hang-over)
    hangover_ms: f64,
    early: bool,
    dialogue_ms: f64,
    /// the second decode of doubted words (`None`: not doubted)
    second_ms: Option<f64>,
    tts_ms: f64,
    heard: String,
    /// end-points that came before the end of speech (an utterance split in two)
    splits: usize,
    /// all decode time while the clip was heard (partials, finals, second opinion)
    decode_ms: f64,
    /// audio heard up to the end-point, s
    heard_s: f64,
    /// what the dialogue awaited, and the end of turn's call on the words
    awaits: Expect,
    call: Option<TurnCall>,
}

impl Sample {
    fn total(&self) -> f64 {
        self.wait_ms
            + self.final_ms
            + self.hangover_ms
            + self.second_ms.unwrap_or(0.0)
            + self.dialogue_ms
            + self.tts_ms
    }
}

/// What every measured clip runs through: the live loop's parts.
#[derive(Clone, Copy)]
struct Rig<'a> {
    rec: &'a Recognizer,
    agent: &'a Agent,
    speech: &'a Speech,
    s: &'a Settings,
}

/// Run one clip through the live loop; `None` when no end-point came.
fn measure_clip(
    rig: Rig,
    session: &mut xiaoan_agent::dialogue::Session,
    path: &Path,
    dialect: &str,
    cold: bool,
) -> Result<Option<Sample>> {
    let Rig {
        rec,
        agent,
        speech,
        s,
    } = rig;
    let audio = xiaoan_agent::pipeline::load_audio(s, path)?;
    let end = audio.speech_end();
    let mut feed = audio.samples[..end].to_vec();
    feed.extend(std::iter::repeat_n(
        0.0,
        (MAX_TAIL_S * SAMPLE_RATE as f64) as usize,
    ));
    let speech_s = end as f64 / SAMPLE_RATE as f64;
    let dialect = session
        .dialect
        .clone()
        .unwrap_or_else(|| dialect.to_string());
    // the judge and what the dialogue awaits, as the conversation core sets them
    let mut hearing = Hearing::new(rec)?;
    hearing.set_judge(Some(agent.turn_judge()));
    let awaits = agent.expect(session);
    hearing.expect(awaits);

    let (start, rx, capture) = live_capture(feed);
    let speech_end_at = start + Duration::from_secs_f64(speech_s);
    let mut splits = 0;
    let mut result = None;
    'frames: for f in rx.iter() {
        for h in hearing.push(&f, &dialect)? {
            let Heard::Final {
                text,
                decode_started,
                decode_ms,
                early,
                at_s,
            } = h
            else {
                continue;
            };
            let final_at = Instant::now();
            if at_s < speech_s {
                // an end-point inside the speech: the live loop would answer it
                splits += 1;
                agent.handle(session, &text);
                continue;
            }
            let wait_ms = ms(decode_started.saturating_duration_since(speech_end_at));
            let hangover_ms =
                (ms(final_at.saturating_duration_since(decode_started)) - decode_ms).max(0.0);
            if cold {
                speech.clear_cache();
            }
            // as the live loop does: doubted words are decoded once more
            let t0 = Instant::now();
            let doubted = agent.doubts(session, &text);
            let (text, _) = hearing.reading(&text, doubted)?;
            let second_ms = doubted.then(|| ms(t0.elapsed()));
            let t0 = Instant::now();
            let turn = agent.handle(session, &text);
            let dialogue_ms = ms(t0.elapsed());
            let t1 = Instant::now();
            let voice = voice_for(s, session);
            // until the first piece is ready to play (the rest is made while it plays)
            let mut first_ms = None;
            if let Some(first) = Speech::first_sentence(&turn.reply) {
                speech.sentence_each(&first, &voice, &mut |_| {
                    first_ms.get_or_insert_with(|| ms(t1.elapsed()));
                })?;
            }
            let tts_ms = first_ms.unwrap_or_else(|| ms(t1.elapsed()));
            result = Some(Sample {
                clip: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                speech_s,
                wait_ms,
                final_ms: decode_ms,
                hangover_ms,
                early,
                dialogue_ms,
                second_ms,
                tts_ms,
                heard: text,
                splits,
                decode_ms: ms(hearing.decode_time()),
                heard_s: speech_s + ms(final_at.saturating_duration_since(speech_end_at)) / 1000.0,
                awaits,
                call: hearing.last_call(),
            });
            break 'frames;
        }
    }
    drop(rx);
    let _ = capture.join();
    Ok(result)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Replay the demo conversation once; one sample per clip.
fn pass(
    rec: &Recognizer,
    speech: &Speech,
    s: &Settings,
    db: &Path,
    cold: bool,
) -> Result<(Vec<Sample>, Vec<String>)> {
    let _ = std::fs::remove_file(db);
    let agent = build_agent(s, db)?;
    let mut session = agent.new_session();
    agent.greet(&mut session);
    let mut samples = Vec::new();
    let mut missed = Vec::new();
    for input in demo_script() {
        match input {
            DemoInput::Typed(t) => {
                agent.handle(&mut session, &t);
            }
            DemoInput::Clip { path, dialect } => {
                match measure_clip(
                    Rig {
                        rec,
                        agent: &agent,
                        speech,
                        s,
                    },
                    &mut session,
                    &path,
                    &dialect,
                    cold,
                )
                .with_context(|| format!("measuring {}", path.display()))?
                {
                    Some(x) => samples.push(x),
                    None => missed.push(path.display().to_string()),
                }
            }
        }
    }
    Ok((samples, missed))
}

fn line(name: &str, v: Vec<f64>) -> String {
    let v = sorted(v);
    format!(
        "  {name:<26} p50 {:>6.0} ms   p95 {:>6.0} ms",
        pct(&v, 50.0),
        pct(&v, 95.0)
    )
}

/// `xiaoan bench dialogue`.
pub fn run(s: &Settings) -> Result<ExitCode> {
    let rec = Recognizer::load(s)?;
    let speech = Speech::from_settings(s)?;
    let dir = std::env::temp_dir().join(format!("xiaoan-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("bench.db");
    let ep = &s.config.audio.endpoint;
    println!(
        "bench dialogue: end of speech → first audio of the reply, the demo conversation replayed in real time ({FRAME_MS} ms capture frames)"
    );
    println!(
        "  engine {} ({} threads, {}), VAD {}, hang-over {} ms, early final decoded after {} ms and judged after {} ms, partial step {} s, TTS {}",
        s.config.asr.engine,
        s.config.asr.threads,
        s.config.asr.ggml_type,
        s.config.audio.vad,
        ep.trailing_silence_ms,
        EARLY_DECODE_MS,
        EARLY_FINAL_MS,
        s.config.asr.step_s,
        s.config.tts.engine
    );
    println!(
        "  machine: {}; load average before: {}",
        crate::cli::eval::machine(),
        loadavg()
    );
    let (cold, missed) = pass(&rec, &speech, s, &db, true)?;
    let (warm, _) = pass(&rec, &speech, s, &db, false)?;
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "\n  {:<24} {:>6} {:>9} {:>10} {:>9} {:>9} {:>8} {:>8}  {:<8} {:<10} heard",
        "clip (cold cache)",
        "speech",
        "wait",
        "ASR final",
        "hang-over",
        "dialogue",
        "TTS 1st",
        "total",
        "awaits",
        "call"
    );
    for x in &cold {
        println!(
            "  {:<24} {:>5.2}s {:>6.0} ms {:>6.0} ms{} {:>6.0} ms {:>6.1} ms {:>5.0} ms {:>5.0} ms  {:<8} {:<10} {}{}{}",
            x.clip,
            x.speech_s,
            x.wait_ms,
            x.final_ms,
            if x.early { "*" } else { " " },
            x.hangover_ms,
            x.dialogue_ms,
            x.tts_ms,
            x.total(),
            x.awaits.to_string(),
            x.call.map_or("-".to_string(), |c| c.to_string()),
            x.heard,
            match x.second_ms {
                Some(t) => format!("  (doubted: decoded again, {t:.0} ms)"),
                None => String::new(),
            },
            if x.splits > 0 {
                format!("  ({} early end-point(s) inside the speech)", x.splits)
            } else {
                String::new()
            }
        );
    }
    println!("  wait: speech end → the final decode starts (silence, and decodes queued ahead); hang-over: what is left of it after the decode");
    println!("  (* the early final decode, made during the hang-over, stood)");
    for m in &missed {
        println!("  NO END-POINT within {MAX_TAIL_S} s of silence: {m}");
    }
    println!("\n  stage (cold cache, {} replies)", cold.len());
    let stages: [Stage; 5] = [
        ("wait for the final decode", |x| x.wait_ms),
        ("ASR final decode", |x| x.final_ms),
        ("rest of the hang-over", |x| x.hangover_ms),
        ("understand + dialogue", |x| x.dialogue_ms),
        ("TTS first sentence", |x| x.tts_ms),
    ];
    for (label, of) in stages {
        println!("{}", line(label, cold.iter().map(of).collect()));
    }
    let second: Vec<f64> = cold.iter().filter_map(|x| x.second_ms).collect();
    if !second.is_empty() {
        let n = second.len();
        println!("{}", line(&format!("second opinion ({n} doubted)"), second));
    }
    let (busy, heard) = cold.iter().fold((0.0, 0.0), |(b, h), x| {
        (b + x.decode_ms / 1000.0, h + x.heard_s)
    });
    println!(
        "  streaming compute RTF {:.3} (all decode time {busy:.1} s ÷ audio heard {heard:.1} s)",
        busy / heard.max(1e-3)
    );
    let total = |v: &[Sample]| sorted(v.iter().map(Sample::total).collect());
    let (c, w) = (total(&cold), total(&warm));
    println!(
        "\nbench dialogue  clips={}  end of speech → first reply audio: p50 {:.0} ms  p95 {:.0} ms (cold speech cache); warm cache p50 {:.0} ms  p95 {:.0} ms  [{}; load average after: {}]",
        cold.len(),
        pct(&c, 50.0),
        pct(&c, 95.0),
        pct(&w, 50.0),
        pct(&w, 95.0),
        crate::cli::eval::machine(),
        loadavg()
    );
    Ok(if missed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
