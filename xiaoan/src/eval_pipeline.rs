//! The evaluation pipeline: the agent's own recogniser, understanding and retriever,
//! driven by `xiaoan-eval` one manifest item at a time, and the project's synthetic-set
//! lines.

use std::path::Path;

use xiaoan_agent::config::Settings;
use xiaoan_agent::pipeline::Recognizer;
use xiaoan_eval::{ManifestItem, Pipeline, Prediction, RunOptions};
use xiaoan_intents::{Context, Understander};
use xiaoan_kb::Retriever;

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
                let audio = match xiaoan_agent::pipeline::load_audio(self.settings, path) {
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
                    xiaoan_agent::route::doubts(
                        &self.understander.understand(t, &ctx),
                        self.retriever,
                    )
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
            (None, Some(t)) => match xiaoan_agent::input::check_utterance(t) {
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
        match xiaoan_agent::route::read(&u, self.retriever) {
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
