//! Assembling the stages into a running agent, and the evaluation pipeline that drives
//! exactly the same stages.

use std::path::Path;
use std::sync::Mutex;

use xiaoan_eval::{ManifestItem, Pipeline, Prediction, RunOptions};
use xiaoan_intents::{Context, Understander};
use xiaoan_kb::{Guide, Retriever, TantivyRetriever};

use crate::config::Settings;
use crate::dialogue::Agent;
use crate::error::{Error, Result};
use crate::forms::{Forms, Mediation};
use crate::pipeline::Recognizer;
use crate::store::{AppointmentConfig, Store};

/// The service guide: the configured folder, else the one shipped in the program.
pub fn load_guide(settings: &Settings) -> Result<Guide> {
    Ok(match &settings.config.kb.guide_dir {
        Some(dir) => Guide::load_dir(dir)?,
        None => Guide::builtin()?,
    })
}

/// The retriever over the guide, its index under `XIAOAN_HOME/index` (rebuilt when the
/// guide changed or the index is damaged).
pub fn load_retriever(settings: &Settings, guide: &Guide) -> Result<Box<dyn Retriever>> {
    Ok(Box::new(TantivyRetriever::open_or_build(
        guide,
        &settings.index_dir,
    )?))
}

/// Longest a conversation's write waits for a busy database before it fails and is
/// queued for retry: the resident hears the reply (or the plain failure) without a
/// noticeable pause.
pub const CONVERSATION_WRITE_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// The agent for `settings`, filing into the store at `store_path`.
pub fn build_agent(settings: &Settings, store_path: &Path) -> Result<Agent> {
    let guide = load_guide(settings)?;
    let retriever = load_retriever(settings, &guide)?;
    let forms = Forms::builtin().map_err(|e| Error::Config {
        file: "forms".into(),
        reason: e.to_string(),
    })?;
    let mediation = Mediation::builtin().map_err(|e| Error::Config {
        file: "mediation".into(),
        reason: e.to_string(),
    })?;
    let mut store = Store::open(store_path)?;
    // a resident's emergency is spoken at once: a write that cannot get the database
    // within this wait fails, is said plainly and retried (never a silent pause)
    store.set_busy_timeout(CONVERSATION_WRITE_WAIT)?;
    if let Err(reason) = store.health() {
        // the terminal tells staff at once: filings and alerts cannot be recorded
        eprintln!("xiaoan: WARNING for staff: the records store is not healthy: {reason}");
    }
    let default_dialect = match settings.config.dialect.default.as_str() {
        "auto" => None,
        code => Some(code.to_string()),
    };
    Ok(Agent {
        understander: Understander::builtin()?,
        guide,
        retriever,
        forms,
        mediation,
        store: Mutex::new(store),
        settings: settings.dialogue.clone(),
        default_dialect,
        today: None,
        appointments: AppointmentConfig::default(),
    })
}

pub use crate::route::needs_guide;

/// The evaluation pipeline: the same recogniser, understanding and retriever as the
/// agent, one manifest item at a time.
pub struct EvalPipeline<'a> {
    /// The recogniser (None: the manifest has only text items).
    pub recognizer: Option<&'a Recognizer>,
    /// Understanding.
    pub understander: &'a Understander,
    /// Retrieval.
    pub retriever: &'a dyn Retriever,
    /// Audio limits.
    pub settings: &'a Settings,
}

impl Pipeline for EvalPipeline<'_> {
    fn run_item(
        &self,
        item: &ManifestItem,
        audio_path: Option<&Path>,
        opts: &RunOptions,
    ) -> Prediction {
        let chosen = opts.mode.dialect_for(item).map(str::to_string);
        let mut p = Prediction {
            id: item.id.clone(),
            ..Prediction::default()
        };
        // what was heard (scored against the reference) and what understanding reads
        // (with a second opinion on doubted words)
        let (text, read) = match (audio_path, &item.text) {
            (Some(path), _) => {
                let Some(rec) = self.recognizer else {
                    return Prediction::failed(&item.id, "audio item but no recogniser is loaded");
                };
                let audio = match crate::pipeline::load_audio(self.settings, path) {
                    Ok(a) => a,
                    Err(e) => return Prediction::failed(&item.id, e.to_string()),
                };
                let dialect = chosen.clone().unwrap_or_else(|| "cmn".into());
                // the live loop's judgement: weak words get a second decode
                let ctx = Context {
                    dialect: chosen.clone(),
                    ..Context::default()
                };
                let doubts = |t: &str| {
                    crate::route::doubts(&self.understander.understand(t, &ctx), self.retriever)
                };
                match rec.stream_judged(&audio, &dialect, opts.realtime, &mut |_| {}, &doubts) {
                    Ok(out) => {
                        p.audio_s = Some(round3(out.audio_s));
                        p.first_partial_ms = out.first_partial_ms;
                        p.final_ms = out.final_ms;
                        p.elapsed_ms = Some(out.elapsed_ms);
                        (out.text, out.read_text)
                    }
                    Err(e) => return Prediction::failed(&item.id, e.to_string()),
                }
            }
            (None, Some(t)) => match crate::input::check_utterance(t) {
                Ok(t) => (t.to_string(), t.to_string()),
                Err(e) => return Prediction::failed(&item.id, e.to_string()),
            },
            (None, None) => return Prediction::failed(&item.id, "item has neither audio nor text"),
        };
        let ctx = Context {
            dialect: chosen.clone(),
            ..Context::default()
        };
        let u = self.understander.understand(&read, &ctx);
        p.transcript = Some(text);
        p.dialect = Some(chosen.unwrap_or_else(|| u.dialect.code.to_string()));
        p.intent = Some(u.intent.intent.as_str().to_string());
        p.intent_confidence = Some((u.intent.confidence * 1000.0).round() / 1000.0);
        // the same decision as the dialogue: the classifier's intent, or, when it is
        // unsure and the guide matches strongly, a guessed guide question
        match crate::route::read(&u, self.retriever) {
            Ok(r) => {
                p.intent = Some(r.intent.as_str().to_string());
                p.intent_confidence = Some((r.confidence * 1000.0).round() / 1000.0);
                p.service_ids = r.hits.into_iter().map(|h| h.id).collect();
            }
            Err(e) => p.error = Some(format!("retrieval failed: {e}")),
        }
        p
    }
}

/// The project's synthetic-set lines: (text, dialect, intent, service id).
pub fn synth_lines() -> Vec<(String, String, String, Option<String>)> {
    include_str!("../../eval/data/synth.tsv")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            if f.len() < 3 {
                return None;
            }
            let service = f
                .get(3)
                .map(|x| x.trim())
                .filter(|x| !x.is_empty())
                .map(str::to_string);
            Some((
                f[0].to_string(),
                f[1].to_string(),
                f[2].to_string(),
                service,
            ))
        })
        .collect()
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
