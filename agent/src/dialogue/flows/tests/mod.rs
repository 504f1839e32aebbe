//! The flows as a resident meets them, without any model: an [`Agent`] assembled as
//! `app::build_agent` assembles it (built-in guide, forms, intent model), on a store in
//! a temporary folder, "today" fixed to Monday 2026-11-30, driven turn by turn with
//! text. Each test asserts what the resident hears and what the store then holds.

mod acts;
mod appointment;
mod emergency;
mod form;
mod guide;
mod mediation;

use std::sync::Mutex;

use tempfile::TempDir;
use xiaoan_intents::{Context, Intent, Understander};
use xiaoan_kb::{Guide, TantivyRetriever};

use crate::config::Config;
use crate::dialogue::{Agent, Reply, Session};
use crate::forms::{Forms, Mediation};
use crate::store::{AppointmentConfig, RecordDetail, RecordKind, RecordSummary, Store};

/// One resident at one terminal: the agent, its store, and the session.
struct Visit {
    a: Agent,
    s: Session,
    _dir: TempDir,
}

impl Visit {
    /// A visit at a terminal of `profile` (`robot`, `kiosk` or `window`).
    fn at(profile: &str) -> Visit {
        let dir = tempfile::tempdir().expect("a temp folder");
        let text = format!(
            "home = {:?}\nprofile = \"{profile}\"\n",
            dir.path().display().to_string()
        );
        let settings = Config::parse(&text, "test")
            .expect("test config parses")
            .resolve()
            .expect("test config resolves");
        let guide = Guide::builtin().expect("the built-in guide");
        let retriever = TantivyRetriever::open_or_build(&guide, &settings.index_dir)
            .expect("the guide's index");
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 30);
        let a = Agent {
            understander: std::sync::Arc::new(
                Understander::builtin().expect("the built-in intent model"),
            ),
            guide,
            retriever: Box::new(retriever),
            forms: Forms::builtin().expect("the built-in forms"),
            mediation: Mediation::builtin().expect("the built-in mediation triage"),
            // the store's clock agrees with the fixed today: "明天" is not in its past
            appointments: AppointmentConfig {
                now: today.and_then(|d| d.and_hms_opt(8, 0, 0)),
                ..AppointmentConfig::default()
            },
            store: Mutex::new(Store::open(&dir.path().join("records.db")).expect("a store")),
            settings: settings.dialogue.clone(),
            default_dialect: None,
            today,
        };
        let mut s = a.new_session();
        a.greet(&mut s);
        Visit { a, s, _dir: dir }
    }

    /// A visit at the robot in the hall (the default profile).
    fn new() -> Visit {
        Visit::at("robot")
    }

    /// The resident says `text`.
    fn say(&mut self, text: &str) -> Reply {
        self.a.handle(&mut self.s, text).reply
    }

    /// The resident says each of `texts` in turn; the last reply.
    fn say_all(&mut self, texts: &[&str]) -> Reply {
        let mut last = None;
        for t in texts {
            last = Some(self.say(t));
        }
        last.expect("something was said")
    }

    /// The current flow's answer to words read as `intent` (unsure, weakly), whatever
    /// the classifier makes of them: how a flow treats a reading, tested apart from the
    /// reading. `None`: the flow let the words through.
    fn unclear(&mut self, text: &str, intent: Intent) -> Option<Reply> {
        let ctx = Context::default();
        let mut u = self
            .a
            .understander
            .understand_on(text, &ctx, self.a.today());
        u.intent.intent = intent;
        u.intent.unsure = true;
        u.intent.confidence = 0.1;
        super::continue_flow(&self.a, &mut self.s, &u)
    }

    /// The classifier's guess of `intent` at `confidence` on `text` (confident, no
    /// emergency words needed), answered by the whole turn as the dialogue would.
    fn guessed(&mut self, text: &str, intent: Intent, confidence: f32) -> Reply {
        let ctx = Context::default();
        let mut u = self
            .a
            .understander
            .understand_on(text, &ctx, self.a.today());
        u.intent.intent = intent;
        u.intent.unsure = false;
        u.intent.confidence = confidence;
        let r = self.a.respond(&mut self.s, &u);
        self.a.finish(&mut self.s, r)
    }

    /// The resident says nothing for a while.
    fn silence(&mut self) -> Reply {
        self.a.on_silence(&mut self.s)
    }

    /// Every write to the store fails (`true`, as a broken disk would) or works again.
    fn store_fails(&self, fail: bool) {
        let store = self.a.store.lock().expect("the store");
        store
            .simulate_write_failures(fail)
            .expect("the store's trigger");
    }

    /// The records of one kind, newest first, unmasked.
    fn records(&self, kind: &str) -> Vec<RecordSummary> {
        let kind = RecordKind::parse(kind).expect("a record kind");
        let store = self.a.store.lock().expect("the store");
        store.list(Some(kind), 50, true).expect("the store lists")
    }

    /// Emergency alerts raised (the events staff see as 紧急求助; hand-over tickets
    /// are events too).
    fn alarms(&self) -> usize {
        self.records("event")
            .iter()
            .filter(|e| e.title == "紧急求助")
            .count()
    }

    /// One record by number, unmasked, with its history.
    fn record(&self, number: &str) -> Option<RecordDetail> {
        let store = self.a.store.lock().expect("the store");
        store.show(number, true).expect("the store shows")
    }
}

/// The reply says each of `words`.
#[track_caller]
fn hears(r: &Reply, words: &[&str]) {
    for w in words {
        assert!(r.text.contains(w), "\"{w}\" not in: {}", r.text);
    }
}

/// The record's content as one JSON text, for what it holds.
fn content(d: &RecordDetail) -> String {
    d.record.to_string()
}
