//! `xiaoan chat`, `xiaoan demo`, `xiaoan listen`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde_json::json;
use xiaoan_agent::app::build_agent;
use xiaoan_agent::config::Settings;
use xiaoan_agent::dialogue::{Agent, DialectSource, Reply, Session};
use xiaoan_agent::pipeline::Recognizer;
use xiaoan_agent::speech::Speech;

pub use xiaoan_agent::speech::voice_for;

fn session_with(agent: &Agent, dialect: Option<String>) -> Session {
    let mut session = agent.new_session();
    if let Some(d) = dialect {
        session.dialect = Some(d);
        session.dialect_source = DialectSource::Resident;
    }
    session
}

/// Text conversation in the terminal, or one JSON object per turn with `--jsonl`.
pub fn chat(s: &Settings, jsonl: bool, dialect: Option<String>) -> Result<ExitCode> {
    let agent = build_agent(s, &s.store_path)?;
    let mut session = session_with(&agent, dialect);
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    if !jsonl {
        let r = agent.greet(&mut session);
        writeln!(out, "小安: {}", r.text)?;
        write!(out, "您: ")?;
        out.flush()?;
    }
    let mut input = stdin.lock();
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match input.read_until(b'\n', &mut raw) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                // a broken pipe: say so, keep the session's records
                eprintln!("xiaoan: cannot read input: {e}");
                return Ok(ExitCode::FAILURE);
            }
        }
        // a line that is not UTF-8 text (a stray byte from a terminal or a keypad) is
        // skipped with a message; the session and any half-filled form go on
        let Ok(line) = std::str::from_utf8(&raw) else {
            eprintln!("xiaoan: skipped a line that is not UTF-8 text");
            if !jsonl {
                writeln!(out, "小安: 这一行我没读懂，请再输入一次。")?;
                write!(out, "您: ")?;
                out.flush()?;
            }
            continue;
        };
        // a line past the length cap is named on stderr and skipped like an empty one
        let text = xiaoan_agent::input::check_utterance(line.trim()).unwrap_or_else(|e| {
            eprintln!("xiaoan: {e}; the line was skipped");
            ""
        });
        if text.is_empty() {
            if !jsonl {
                write!(out, "您: ")?;
                out.flush()?;
            }
            continue;
        }
        let t = agent.handle(&mut session, text);
        if jsonl {
            // the reading acted on (as `xiaoan eval` scores it: a weak guess decided by
            // the guide reads as the guide question), beside the classifier's own
            let u = &t.understanding;
            let round = |x: f32| (f64::from(x) * 1000.0).round() / 1000.0;
            let (intent, confidence, guessed) =
                match xiaoan_agent::route::read(u, agent.retriever.as_ref()) {
                    Ok(r) => (r.intent, r.confidence, r.guessed),
                    Err(_) => (u.intent.intent, u.intent.confidence, false),
                };
            writeln!(
                out,
                "{}",
                json!({
                    // what was typed, masked like logs (ID and phone numbers, names)
                    "user": xiaoan_records::mask::text(text),
                    "dialect": session.dialect_code(),
                    "intent": intent.as_str(),
                    "confidence": round(confidence),
                    "guessed_from_guide": guessed,
                    "classifier": {
                        "intent": u.intent.intent.as_str(),
                        "confidence": round(u.intent.confidence),
                        "unsure": u.intent.unsure,
                    },
                    "reply": t.reply.text,
                    "flow": t.reply.flow,
                    "awaiting": t.reply.awaiting,
                    "receipt": t.reply.receipt,
                })
            )?;
        } else {
            writeln!(out, "小安: {}", t.reply.text)?;
        }
        out.flush()?;
        if t.reply.end_session {
            if agent.settings.reset_after_session {
                // staff alerts the store has not taken yet go on being retried
                let pending = std::mem::take(&mut session.pending_alerts);
                session = session_with(&agent, None);
                session.pending_alerts = pending;
            } else {
                break;
            }
        }
        if !jsonl {
            write!(out, "您: ")?;
            out.flush()?;
        }
    }
    // the end of input ends the session: a last try at any alert not recorded yet (each
    // one still failing is logged at error level)
    xiaoan_agent::records::flush_alerts(&agent, &mut session);
    Ok(ExitCode::SUCCESS)
}

/// What a demo turn feeds in: a bundled clip (heard by the recogniser), or digits
/// typed on the kiosk's keypad (ID and phone numbers, as residents may prefer).
enum Input {
    /// The clip's file and what is said in it (`scripts/make-demo.sh` renders it), shown
    /// beside what the recogniser heard; the agent only ever gets what was heard.
    Clip(&'static str, &'static str),
    Typed(&'static str),
}

/// One scripted turn of the demo.
struct DemoTurn {
    input: Input,
    dialect: &'static str,
    note: &'static str,
}

const fn clip(
    c: &'static str,
    said: &'static str,
    dialect: &'static str,
    note: &'static str,
) -> DemoTurn {
    DemoTurn {
        input: Input::Clip(c, said),
        dialect,
        note,
    }
}

/// The demo script. The clips are rendered by `scripts/make-demo.sh` (the neural
/// Mandarin voice; espeak-ng `yue` for the Cantonese turn).
const DEMO: &[DemoTurn] = &[
    clip("01-hello.wav", "你好小安", "cmn", "greeting"),
    clip(
        "02-senior-card.wav",
        "老年人优待卡怎么办",
        "cmn",
        "a question answered from the guide",
    ),
    clip("03-repeat.wav", "再说一遍", "cmn", "repeat"),
    clip("04-slower.wav", "说慢一点", "cmn", "slower"),
    clip(
        "05-yue-senior-card.wav",
        "我想問下長者卡點樣辦",
        "yue",
        "the same question in Cantonese (espeak-ng yue, which Whisper base does not hear: a known gap)",
    ),
    clip(
        "06-certificate.wav",
        "我要开一个居住证明",
        "cmn",
        "a declaration (告知承诺制), by voice",
    ),
    clip("07-name.wav", "我叫王小明", "cmn", ""),
    DemoTurn {
        input: Input::Typed("320503198506123049"),
        dialect: "cmn",
        note: "ID number typed on the keypad",
    },
    DemoTurn {
        input: Input::Typed("138 1234 5678"),
        dialect: "cmn",
        note: "phone typed on the keypad",
    },
    clip("08-kind.wav", "我要居住证明", "cmn", ""),
    clip("09-purpose.wav", "孩子上学用", "cmn", ""),
    clip("10-address.wav", "三号楼五零二室", "cmn", ""),
    clip(
        "11-yes.wav",
        "对，没错",
        "cmn",
        "the read-back comes in parts, each confirmed",
    ),
    clip("11-yes.wav", "对，没错", "cmn", ""),
    clip("11-yes.wav", "对，没错", "cmn", "read-back confirmed"),
    clip("12-agree.wav", "同意", "cmn", "commitment agreed: filed"),
    clip(
        "13-dispute.wav",
        "楼上天天半夜吵，想找人调解",
        "cmn",
        "a dispute routed to mediation",
    ),
];

/// One input of the demo conversation (for `bench dialogue`).
pub enum DemoInput {
    /// A bundled clip and the dialect the demo hears it in.
    Clip {
        /// The WAV file.
        path: PathBuf,
        /// Dialect code.
        dialect: String,
    },
    /// Text typed on the keypad.
    Typed(String),
}

/// The demo conversation's inputs in order (for `bench dialogue`, which replays it).
pub fn demo_script() -> Vec<DemoInput> {
    let dir = demo_dir();
    DEMO.iter()
        .map(|t| match t.input {
            Input::Clip(c, _) => DemoInput::Clip {
                path: dir.join(c),
                dialect: t.dialect.to_string(),
            },
            Input::Typed(x) => DemoInput::Typed(x.to_string()),
        })
        .collect()
}

/// The folder of bundled demo clips.
fn demo_dir() -> PathBuf {
    for c in [
        "tests/fixtures/demo",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/demo"),
    ] {
        let p = PathBuf::from(c);
        if p.is_dir() {
            return p;
        }
    }
    PathBuf::from("tests/fixtures/demo")
}

/// A scripted conversation from bundled audio: every turn is heard by the recogniser,
/// understood and answered by the agent; each reply is written as WAV.
pub fn demo(s: &Settings, out: &Path) -> Result<ExitCode> {
    let rec = Recognizer::load(s)?;
    let speech = Speech::from_settings(s)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    // the demo files into its own store, never into the centre's records
    let store = out.join("demo-records.db");
    let _ = std::fs::remove_file(&store);
    let agent = build_agent(s, &store)?;
    let mut session = agent.new_session();
    let clips = demo_dir();
    if !clips.join("01-hello.wav").is_file() {
        anyhow::bail!(
            "the demo clips are missing from {}: run `bash scripts/make-demo.sh`",
            clips.display()
        );
    }
    println!(
        "Xiao'an demo: {} turns from {}\n",
        DEMO.len(),
        clips.display()
    );
    let greet = agent.greet(&mut session);
    say(s, &speech, &session, &greet, &out.join("00-greeting.wav"))?;
    for (i, turn) in DEMO.iter().enumerate() {
        if !turn.note.is_empty() {
            println!("── {}", turn.note);
        }
        let heard = match turn.input {
            Input::Clip(c, said) => {
                let audio = xiaoan_agent::pipeline::load_audio(s, &clips.join(c))?;
                let dialect = session
                    .dialect
                    .clone()
                    .unwrap_or_else(|| turn.dialect.to_string());
                // as the live loop hears it: weak words are decoded a second time
                let doubts = |t: &str| agent.doubts(&session, t);
                let out = rec.stream_judged(&audio, &dialect, false, &mut |_| {}, &doubts)?;
                println!("居民 ({c}, {:.1}s) 说: {said}", audio.duration_s());
                println!("        小安听到: {}", out.text);
                for other in &out.second_opinions {
                    println!("        [doubted; decoded again: {other}]");
                }
                out.read_text
            }
            Input::Typed(t) => {
                println!("居民 (keypad): {t}");
                t.to_string()
            }
        };
        let t = agent.handle(&mut session, &heard);
        let wav = out.join(format!("{:02}-reply.wav", i + 1));
        say(s, &speech, &session, &t.reply, &wav)?;
        if let Some(r) = &t.reply.receipt {
            println!("        [filed: {r}]");
        }
    }
    println!("\nReplies written to {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn say(s: &Settings, speech: &Speech, session: &Session, r: &Reply, wav: &Path) -> Result<()> {
    println!("小安: {}   [{}]", r.text, wav.display());
    let voice = voice_for(s, session);
    let audio = speech.render_all(r, &voice, s.dialogue.earcons)?;
    xiaoan_audio::write_wav(wav, &audio)?;
    Ok(())
}

/// The live loop: microphone → recogniser → agent → speaker, with barge-in.
#[cfg(feature = "mic")]
pub fn listen(s: &Settings) -> Result<ExitCode> {
    xiaoan_agent::live::run(s)?;
    Ok(ExitCode::SUCCESS)
}

/// The live loop needs the `mic` feature.
#[cfg(not(feature = "mic"))]
pub fn listen(_s: &Settings) -> Result<ExitCode> {
    anyhow::bail!(
        "this build has no microphone support: rebuild with `cargo build --release --features mic`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the demo prints as said is what `scripts/make-demo.sh` renders into each
    /// clip, so the printed "said / heard" pair shows the recogniser's real errors.
    #[test]
    fn the_demo_shows_what_each_clip_really_says() {
        let script = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/make-demo.sh"),
        )
        .expect("make-demo.sh");
        // a clip may be played more than once (the read-back's parts are each confirmed)
        let mut clips = std::collections::BTreeSet::new();
        for t in DEMO {
            if let Input::Clip(c, said) = t.input {
                clips.insert(c);
                let line = script
                    .lines()
                    .find(|l| l.starts_with("render") && l.contains(c))
                    .unwrap_or_else(|| panic!("{c} is not rendered by make-demo.sh"));
                assert!(line.ends_with(&format!("\"{said}\"")), "{c}: {line}");
            }
        }
        assert_eq!(clips.len(), 13);
    }
}
