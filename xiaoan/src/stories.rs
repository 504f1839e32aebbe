//! Conversation stories (`xiaoan eval stories`, and the flow tests): each story runs in a
//! fresh agent with its own records store, and the last record it filed is checked.
//!
//! A user line `<silence>` stands for the resident saying nothing until the time-out.

use std::collections::BTreeMap;

use xiaoan_eval::stories::{ObservedRecord, Story, StoryOutcome, StoryRunner, TurnObservation};

use xiaoan_agent::config::Settings;
use xiaoan_agent::dialogue::{Agent, DialectSource};

/// The user line that stands for silence until the time-out.
pub const SILENCE: &str = "<silence>";
/// The user line after which every write to the records store fails (a full disk, a
/// broken file), until [`STORE_RECOVERS`].
pub const STORE_FAILS: &str = "<store-fails>";
/// The user line after which the records store works again.
pub const STORE_RECOVERS: &str = "<store-recovers>";
/// The agent's store, or a plain error when a panic elsewhere poisoned its lock.
fn store_of(
    agent: &Agent,
) -> xiaoan_agent::Result<std::sync::MutexGuard<'_, xiaoan_records::Store>> {
    agent.store.lock().map_err(|_| xiaoan_agent::Error::Config {
        file: "store".into(),
        reason: "lock poisoned".into(),
    })
}

/// Make every write to the agent's records store fail (`true`) or work again (`false`),
/// as a broken disk would: a trigger on the evidence chain, which every write appends
/// to, aborts the write's transaction. For tests and stories only.
pub fn fail_store_writes(agent: &Agent, fail: bool) -> xiaoan_agent::Result<()> {
    store_of(agent)?.simulate_write_failures(fail)?;
    Ok(())
}

/// Runs stories against the real dialogue manager.
pub struct Runner<'a> {
    /// Configuration (profile, guide).
    pub settings: &'a Settings,
}

fn flatten(v: &serde_json::Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(obj) = v.as_object() {
        for (k, x) in obj {
            match x {
                serde_json::Value::String(s) => {
                    out.insert(k.clone(), s.clone());
                }
                serde_json::Value::Number(n) => {
                    out.insert(k.clone(), n.to_string());
                }
                serde_json::Value::Bool(b) => {
                    out.insert(k.clone(), b.to_string());
                }
                serde_json::Value::Array(items) => {
                    for it in items {
                        if let (Some(n), Some(val)) = (
                            it.get("name").and_then(|n| n.as_str()),
                            it.get("value").and_then(|n| n.as_str()),
                        ) {
                            out.insert(n.to_string(), val.to_string());
                        }
                    }
                }
                serde_json::Value::Object(_) => {
                    for (k2, v2) in flatten(x) {
                        out.entry(k2).or_insert(v2);
                    }
                }
                serde_json::Value::Null => {}
            }
        }
    }
    out
}

impl StoryRunner for Runner<'_> {
    fn run(&self, story: &Story) -> StoryOutcome {
        let dir = match tempdir() {
            Ok(d) => d,
            Err(e) => return StoryOutcome::failed(story, format!("no temp dir: {e}")),
        };
        let result = (|| -> xiaoan_agent::Result<StoryOutcome> {
            let mut agent = xiaoan_agent::app::build_agent(self.settings, &dir.join("story.db"))?;
            agent.today = chrono::NaiveDate::from_ymd_opt(2026, 11, 30);
            // the store's clock agrees with the fixed today (a booking for "tomorrow"
            // must not be in the real clock's past)
            agent.appointments.now = agent.today.and_then(|d| d.and_hms_opt(8, 0, 0));
            let mut session = agent.new_session();
            if let Some(d) = &story.dialect {
                if d != "cmn" {
                    session.dialect = Some(d.clone());
                    session.dialect_source = DialectSource::Resident;
                }
            }
            agent.greet(&mut session);
            let mut turns = Vec::new();
            let mut last_receipt = None;
            for t in &story.turns {
                let directive = t.user.trim();
                if directive == STORE_FAILS || directive == STORE_RECOVERS {
                    fail_store_writes(&agent, directive == STORE_FAILS)?;
                    turns.push(TurnObservation {
                        user: t.user.clone(),
                        intent: None,
                        reply: String::new(),
                    });
                    continue;
                }
                let (reply, intent) = if directive == SILENCE {
                    (agent.on_silence(&mut session), None)
                } else {
                    let o = agent.handle(&mut session, &t.user);
                    (
                        o.reply,
                        Some(o.understanding.intent.intent.as_str().to_string()),
                    )
                };
                if let Some(r) = &reply.receipt {
                    last_receipt = Some(r.clone());
                }
                turns.push(TurnObservation {
                    user: t.user.clone(),
                    intent,
                    reply: reply.text.clone(),
                });
            }
            let record = match &last_receipt {
                Some(no) => {
                    let store = store_of(&agent)?;
                    store.show(no, true)?.map(|d| {
                        let mut fields = flatten(&d.record);
                        // staff notes on the record (an emergency's place) under `history`
                        let notes: Vec<&str> =
                            d.history.iter().map(|h| h.detail.as_str()).collect();
                        fields.insert("history".into(), notes.join("；"));
                        ObservedRecord {
                            kind: d.summary.kind.as_str().to_string(),
                            fields,
                        }
                    })
                }
                None => None,
            };
            Ok(StoryOutcome::judge(story, turns, record.as_ref()))
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result.unwrap_or_else(|e| StoryOutcome::failed(story, e.to_string()))
    }
}

fn tempdir() -> std::io::Result<std::path::PathBuf> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "xiaoan-story-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
