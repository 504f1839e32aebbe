//! The conversation core without any model: typed turns, keys, ticks and the terminal's
//! messages in, the protocol's events out (a silent voice; a recogniser that is never
//! reached because no audio is sent).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use xiaoan_intents::Understander;
use xiaoan_kb::{Guide, TantivyRetriever};
use xiaoan_models::{SilentTts, Transcript};

use super::*;
use crate::config::Config;
use crate::forms::{Forms, Mediation};
use crate::store::{AppointmentConfig, Store};

/// An engine that hears the same words in everything (never reached by these tests).
struct Fixed;

impl AsrModel for Fixed {
    fn name(&self) -> &str {
        "fixed"
    }
    fn decode_cancellable(
        &self,
        _samples: &[f32],
        _opts: &xiaoan_models::DecodeOptions,
        _cancel: &AtomicBool,
    ) -> xiaoan_models::Result<Transcript> {
        Ok(Transcript::from_text("你好"))
    }
}

/// A kiosk's shared parts over a store in a temporary folder.
fn shared(profile: &str) -> (Shared, TempDir) {
    let dir = tempfile::tempdir().expect("a temp folder");
    let text = format!(
        "home = {:?}\nprofile = \"{profile}\"\n[tts]\nengine = \"silent\"\n",
        dir.path().display().to_string()
    );
    let settings = Config::parse(&text, "test")
        .expect("test config parses")
        .resolve()
        .expect("test config resolves");
    let guide = Guide::builtin().expect("the built-in guide");
    let retriever =
        TantivyRetriever::open_or_build(&guide, &settings.index_dir).expect("the guide's index");
    let agent = Agent {
        understander: std::sync::Arc::new(
            Understander::builtin().expect("the built-in intent model"),
        ),
        guide,
        retriever: Box::new(retriever),
        forms: Forms::builtin().expect("the built-in forms"),
        mediation: Mediation::builtin().expect("the built-in mediation triage"),
        appointments: AppointmentConfig::default(),
        store: Mutex::new(Store::open(&dir.path().join("records.db")).expect("a store")),
        settings: settings.dialogue.clone(),
        default_dialect: None,
        today: None,
    };
    let rec = Recognizer::with_model(Arc::new(Fixed), &settings).expect("a recogniser");
    let speech = Speech::new(Box::new(SilentTts));
    (Shared::new(agent, rec, speech, settings), dir)
}

/// Drives one conversation and keeps every event.
struct Terminal<'a> {
    conv: Conversation<'a>,
    events: Vec<Event>,
    now: Instant,
}

impl<'a> Terminal<'a> {
    fn open(shared: &'a Shared, rec: &'a Recognizer) -> Terminal<'a> {
        let now = Instant::now();
        let mut conv = Conversation::new(
            shared,
            rec,
            Conversation::quiet_flag(),
            SessionOptions::default(),
            now,
        )
        .expect("a conversation");
        let mut events = Vec::new();
        conv.start(now, &mut |e| events.push(e));
        let mut t = Terminal { conv, events, now };
        t.speak_all();
        t
    }

    /// Let every queued sentence be made, and the terminal say it played them.
    fn speak_all(&mut self) {
        while self.conv.has_speech() {
            let now = self.now;
            let events = &mut self.events;
            self.conv
                .speak_next(now, &mut |e| events.push(e))
                .expect("speech");
        }
        if let Some(turn) = self.conv.playing_turn() {
            self.send(ClientMessage::Played { turn });
        }
    }

    fn send(&mut self, m: ClientMessage) {
        let now = self.now;
        let events = &mut self.events;
        self.conv
            .push_message(m, now, &mut |e| events.push(e))
            .expect("a message");
    }

    /// Type `text` and hear the whole reply; the events of this turn.
    fn type_text(&mut self, text: &str) -> Vec<Event> {
        let from = self.events.len();
        self.send(ClientMessage::Text { text: text.into() });
        self.speak_all();
        self.events[from..].to_vec()
    }

    /// Press each key of `keys`, then enter; the events from the first key on.
    fn keys(&mut self, keys: &str) -> Vec<Event> {
        let from = self.events.len();
        for k in keys.chars() {
            self.send(ClientMessage::Key { key: k.to_string() });
        }
        self.send(ClientMessage::Key {
            key: "enter".into(),
        });
        self.speak_all();
        self.events[from..].to_vec()
    }

    /// Time passes without a word.
    fn wait(&mut self, secs: f32) -> Vec<Event> {
        let from = self.events.len();
        self.now += Duration::from_secs_f32(secs);
        let now = self.now;
        let events = &mut self.events;
        self.conv.tick(now, &mut |e| events.push(e));
        self.speak_all();
        self.events[from..].to_vec()
    }
}

/// What 小安 said in these events.
fn said(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Reply { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_sentence_comes_as_its_text_then_its_audio_and_then_listening() {
    let (shared, _dir) = shared("kiosk");
    let mut t = Terminal::open(&shared, &shared.recognizer);
    let ev = t.type_text("敬老卡怎么办");
    let replies: Vec<usize> = (0..ev.len())
        .filter(|i| matches!(ev[*i], Event::Reply { .. }))
        .collect();
    assert!(!replies.is_empty(), "{ev:?}");
    for i in &replies {
        match (&ev[*i], ev.get(i + 1)) {
            (
                Event::Reply { turn, sentence, .. },
                Some(Event::Audio {
                    turn: t2,
                    sentence: s2,
                    samples,
                    sample_rate,
                    pcm,
                }),
            ) => {
                assert_eq!((turn, sentence), (t2, s2));
                assert_eq!(*sample_rate, protocol::SAMPLE_RATE_OUT);
                assert_eq!(*samples, pcm.len());
                assert!(*samples > 0);
            }
            other => panic!("a reply sentence without its audio: {other:?}"),
        }
    }
    let last = replies.last().copied().unwrap_or(0);
    assert!(matches!(ev[last], Event::Reply { last: true, .. }));
    assert_eq!(ev.last(), Some(&Event::Listening), "{ev:?}");
    assert!(
        said(&ev).contains("敬老卡") || said(&ev).contains("优待"),
        "{}",
        said(&ev)
    );
}

#[test]
fn a_declaration_shows_progress_opens_the_keypad_and_ends_in_a_receipt() {
    let (shared, _dir) = shared("kiosk");
    let mut t = Terminal::open(&shared, &shared.recognizer);
    let ev = t.type_text("我要办居住登记");
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Progress { field: 1, of, text, .. } if *of > 1 && text.starts_with("第1项，共"))),
        "{ev:?}"
    );
    let ev = t.type_text("我叫王小明");
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Progress { field: 2, .. })),
        "{ev:?}"
    );
    assert!(
        ev.contains(&Event::Keypad {
            open: true,
            expect: Some("id_number".into()),
            length: Some(18)
        }),
        "{ev:?}"
    );
    // the ID typed on the keypad: each key echoed, masked, spoken
    let ev = t.keys("320503198506123049");
    let masks: Vec<&str> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Key { entered_masked, .. } => Some(entered_masked.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(masks.len(), 18, "{ev:?}");
    assert_eq!(masks[17], "**************3049");
    // never more than four characters of the number on the screen
    assert!(
        masks
            .iter()
            .all(|m| m.chars().filter(|c| *c != '*').count() <= 4),
        "{masks:?}"
    );
    assert!(
        ev.contains(&Event::Keypad {
            open: true,
            expect: Some("phone".into()),
            length: Some(11)
        }),
        "the phone is asked next: {ev:?}"
    );
    let ev = t.keys("13812345678");
    assert!(
        ev.contains(&Event::Keypad {
            open: false,
            expect: None,
            length: None
        }),
        "{ev:?}"
    );
    for answer in ["3号楼502室", "2026年10月1日", "租的", "没有"] {
        t.type_text(answer);
    }
    let mut receipt = None;
    for _ in 0..6 {
        let ev = t.type_text("对");
        receipt = ev.iter().find_map(|e| match e {
            Event::Receipt {
                kind,
                number,
                label,
            } => Some((kind.clone(), number.clone(), label.clone())),
            _ => None,
        });
        if receipt.is_some() {
            break;
        }
    }
    let (kind, number, label) = receipt.expect("a receipt after the agreement");
    assert_eq!(kind, "declaration");
    assert!(label.contains("回执"), "{label}");
    let store = shared.agent.store.lock().unwrap();
    let filed = store.show(&number, false).expect("the store reads");
    assert!(filed.is_some(), "the receipt {number} is in the store");
}

#[test]
fn an_idle_resident_is_offered_more_time_aloud_before_the_session_ends() {
    let (shared, _dir) = shared("kiosk");
    let mut t = Terminal::open(&shared, &shared.recognizer);
    let wait = shared.agent.settings.reprompt_after_s;
    assert!(t.wait(wait * 0.5).is_empty(), "nothing before the time-out");
    let ev = t.wait(wait * 0.6);
    assert!(
        ev.iter().any(|e| matches!(e, Event::IdleWarning { .. })),
        "{ev:?}"
    );
    assert!(
        said(&ev).contains("等一下"),
        "the offer is spoken: {}",
        said(&ev)
    );
    assert!(t.conv.finished().is_none());
    // asked for more time: the next check comes later and the session goes on
    t.send(ClientMessage::MoreTime);
    t.speak_all();
    assert!(t.wait(wait * 1.5).is_empty(), "more time doubles the wait");
    let mut end = Vec::new();
    for _ in 0..4 {
        end = t.wait(wait * 2.1);
        if t.conv.finished().is_some() {
            break;
        }
    }
    assert_eq!(t.conv.finished(), Some(Finish::Error(ErrorCode::Idle)));
    assert!(
        end.iter().any(|e| matches!(
            e,
            Event::Error {
                code: ErrorCode::Idle,
                ..
            }
        )),
        "{end:?}"
    );
}

#[test]
fn stop_drops_the_rest_of_the_reply_and_a_bad_key_is_refused() {
    let (shared, _dir) = shared("kiosk");
    let mut t = Terminal::open(&shared, &shared.recognizer);
    t.send(ClientMessage::Text {
        text: "我能说什么".into(),
    });
    // one sentence made, then the resident stops it
    let now = t.now;
    let events = &mut t.events;
    t.conv.speak_next(now, &mut |e| events.push(e)).unwrap();
    assert!(t.conv.has_speech(), "the help has more than one sentence");
    let from = t.events.len();
    t.send(ClientMessage::Stop);
    t.speak_all();
    let after = &t.events[from..];
    assert!(
        matches!(after.first(), Some(Event::StopAudio { .. })),
        "{after:?}"
    );
    assert!(
        !after.iter().any(|e| matches!(e, Event::Reply { .. })),
        "{after:?}"
    );
    let from = t.events.len();
    t.send(ClientMessage::Key { key: "7z".into() });
    assert!(matches!(
        t.events[from..].first(),
        Some(Event::Error {
            code: ErrorCode::BadMessage,
            ..
        })
    ));
    assert!(t.conv.finished().is_none());
    let from = t.events.len();
    t.send(ClientMessage::End);
    assert_eq!(&t.events[from..], &[Event::Bye]);
    assert_eq!(t.conv.finished(), Some(Finish::Normal));
}
