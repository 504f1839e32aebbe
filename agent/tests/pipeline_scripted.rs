//! The whole loop without any model: recorded speech → VAD and end-pointer → streaming
//! recogniser (the scripted one, which "hears" a given sentence in proportion to the
//! audio it gets) → understanding → dialogue → speech (the silent voice). Every stage
//! but the recogniser's weights and the voice is the one residents meet, so
//! `cargo test` without models still runs a turn end to end.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use xiaoan_agent::config::{Config, Settings};
use xiaoan_agent::dialogue::{Agent, Reply, Session};
use xiaoan_agent::pipeline::{load_audio, Heard, Hearing, Recognizer};
use xiaoan_agent::speech::{voice_for, Speech};
use xiaoan_audio::{AudioBuf, SAMPLE_RATE};
use xiaoan_models::ScriptedAsr;

/// Characters the scripted recogniser hears per second of audio: a whole short
/// sentence within about a second, so the final transcript of an utterance is the
/// sentence and the partials before it are its beginnings.
const CHARS_PER_SECOND: f32 = 8.0;
/// A capture callback's frame, 20 ms.
const FRAME: usize = SAMPLE_RATE as usize / 50;

/// One resident at a terminal, heard through the live loop's stages.
struct Terminal {
    settings: Settings,
    agent: Agent,
    rec: Recognizer,
    speech: Speech,
    session: Session,
    _home: tempfile::TempDir,
}

/// What one spoken turn did at each stage.
struct Turn {
    /// The partial transcripts while the resident spoke.
    partials: Vec<String>,
    /// The final transcript of each utterance the end-pointer closed.
    finals: Vec<String>,
    /// The reply.
    reply: Reply,
    /// The reply as spoken (earcon first, when it has one).
    spoken: AudioBuf,
}

impl Terminal {
    fn new() -> Terminal {
        let home = tempfile::tempdir().expect("a temp folder");
        let text = format!("home = {:?}\n", home.path().display().to_string());
        let settings = Config::parse(&text, "test")
            .expect("test config parses")
            .resolve()
            .expect("test config resolves");
        let mut agent = xiaoan_agent::app::build_agent(&settings, &home.path().join("records.db"))
            .expect("the agent builds without models");
        agent.today = chrono::NaiveDate::from_ymd_opt(2026, 11, 30);
        let rec = Recognizer::with_model(Arc::new(ScriptedAsr::fixed("")), &settings)
            .expect("a recogniser over the scripted engine");
        let speech = Speech::for_engine("silent", home.path(), 1).expect("the silent voice");
        let mut session = agent.new_session();
        agent.greet(&mut session);
        Terminal {
            settings,
            agent,
            rec,
            speech,
            session,
            _home: home,
        }
    }

    /// The resident says `said`, recorded as the fixture `clip`: the audio goes through
    /// the end-pointer in capture-sized frames, then a second of silence.
    fn hear(&mut self, clip: &str, said: &str) -> Turn {
        self.rec.model = Arc::new(ScriptedAsr::growing(said, CHARS_PER_SECOND));
        let audio = load_audio(&self.settings, &fixture(clip)).expect("the clip decodes");
        assert_eq!(audio.sample_rate, SAMPLE_RATE, "the loop runs at 16 kHz");
        let mut feed = audio.samples.clone();
        feed.extend(std::iter::repeat_n(0.0, SAMPLE_RATE as usize));
        let dialect = self.session.dialect_code().to_string();
        let mut hearing = Hearing::with_background(&self.rec, false).expect("the VAD loads");
        let mut partials = Vec::new();
        let mut finals = Vec::new();
        let mut take = |events: Vec<Heard>| {
            for h in events {
                match h {
                    Heard::Started => {}
                    Heard::Partial(p) => partials.push(p),
                    Heard::Final { text, .. } => finals.push(text),
                }
            }
        };
        for frame in feed.chunks(FRAME) {
            take(hearing.push(frame, &dialect).expect("the loop hears"));
        }
        take(hearing.flush(&dialect).expect("the loop ends the input"));
        let heard = finals.last().cloned().unwrap_or_default();
        // as the live loop does: doubted words get a second decode
        let doubted = self.agent.doubts(&self.session, &heard);
        let (read, _) = hearing.reading(&heard, doubted).expect("a second opinion");
        let reply = self.agent.handle(&mut self.session, &read).reply;
        let voice = voice_for(&self.settings, &self.session);
        let spoken = self
            .speech
            .render_all(&reply, &voice, self.agent.settings.earcons)
            .expect("the reply is spoken");
        Turn {
            partials,
            finals,
            reply,
            spoken,
        }
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

#[test]
fn a_spoken_guide_question_is_heard_answered_and_spoken() {
    let mut t = Terminal::new();
    let turn = t.hear("cmn-youdaika.wav", "老年人优待卡怎么办");
    assert_eq!(
        turn.finals,
        ["老年人优待卡怎么办"],
        "one utterance, heard whole"
    );
    assert!(
        !turn.partials.is_empty(),
        "partials while the resident speaks"
    );
    for w in turn.partials.windows(2) {
        assert!(w[1].starts_with(&w[0]), "partials only grow: {w:?}");
    }
    assert_eq!(turn.reply.flow, "service", "{:?}", turn.reply);
    assert!(
        turn.reply.text.contains("优待卡") || turn.reply.text.contains("敬老卡"),
        "{}",
        turn.reply.text
    );
    assert!(
        turn.spoken.duration_s() > 1.0,
        "the answer is spoken: {} s",
        turn.spoken.duration_s()
    );
}

#[test]
fn a_form_goes_on_over_spoken_turns() {
    let mut t = Terminal::new();
    let first = t.hear("cmn-juzhuzheng.wav", "我要办居住登记");
    assert_eq!(first.reply.flow, "declaration", "{:?}", first.reply);
    assert!(
        first.reply.text.contains("叫什么名字"),
        "{}",
        first.reply.text
    );
    let second = t.hear("cmn-shebaoka.wav", "我叫王小明");
    assert_eq!(second.finals, ["我叫王小明"]);
    assert!(
        second.reply.text.contains("身份证号"),
        "the name taken, the next question: {}",
        second.reply.text
    );
    assert_eq!(second.reply.awaiting, "slot:id_number");
}

#[test]
fn a_spoken_emergency_raises_an_alert_and_is_spoken_after_the_chime() {
    let mut t = Terminal::new();
    let turn = t.hear("cmn-tiaojie.wav", "救命，我家老人摔倒了");
    let event = turn.reply.receipt.clone().expect("an alert for staff");
    assert_eq!(turn.reply.flow, "emergency");
    assert!(turn.reply.text.contains("120"), "{}", turn.reply.text);
    let store = t.agent.store.lock().expect("the store");
    assert!(
        store
            .show(&event, false)
            .expect("the store reads")
            .is_some(),
        "the alert is in the store"
    );
    drop(store);
    // the chime before the words: the same reply without it is shorter
    let voice = voice_for(&t.settings, &t.session);
    let words_only = t
        .speech
        .render_all(&turn.reply, &voice, false)
        .expect("spoken");
    assert!(turn.spoken.samples.len() > words_only.samples.len());
}
