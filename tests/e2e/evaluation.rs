//! A small evaluation run in `make test`: figures are checked against floors measured on
//! this project, so a regression fails CI. The audio items are SYNTHETIC (the neural
//! Mandarin voice, and espeak-ng's as the hard case).

use std::io::Write;

use xiaoan::eval_pipeline::EvalPipeline;
use xiaoan_agent::app::{load_guide, load_retriever};
use xiaoan_agent::pipeline::Recognizer;
use xiaoan_eval::{read_manifest, run, summarize, DialectMode, ReportMeta, RunOptions};
use xiaoan_tests::{installed_home, settings_in};

/// Floors measured on the project's own lines (see the README's evaluation table);
/// set a little below the measured values so that noise does not fail CI.
const TEXT_INTENT_ACC_FLOOR: f64 = 0.85;
const TEXT_RECALL3_FLOOR: f64 = 0.85;

fn lines() -> Vec<(String, String, String, Option<String>)> {
    xiaoan::eval_pipeline::synth_lines()
}

/// Text items through the evaluation pipeline (no recogniser), as `xiaoan eval` runs them.
fn run_text(
    s: &xiaoan_agent::config::Settings,
    m: &xiaoan_eval::Manifest,
) -> Vec<xiaoan_eval::Prediction> {
    let guide = load_guide(s).unwrap();
    let retriever = load_retriever(s, &guide, None).unwrap();
    let understander = xiaoan_intents::Understander::builtin().unwrap();
    let p = EvalPipeline {
        recognizer: None,
        understander: &understander,
        retriever: retriever.as_ref(),
        settings: s,
    };
    let opts = RunOptions {
        mode: DialectMode::Auto,
        realtime: false,
        jobs: 0,
        progress: false,
    };
    run(m, &p, &opts)
}

#[test]
fn text_items_meet_their_floors_and_the_report_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings_in(dir.path(), "");
    let manifest = dir.path().join("text.jsonl");
    let mut f = std::fs::File::create(&manifest).unwrap();
    for (i, (text, dialect, intent, svc)) in lines().iter().enumerate() {
        let mut v = serde_json::json!({"id": format!("t-{i:03}"), "text": text, "dialect": dialect, "intent": intent});
        if let Some(svc) = svc {
            v["service_id"] = serde_json::json!(svc);
        }
        writeln!(f, "{v}").unwrap();
    }
    drop(f);
    let m = read_manifest(&manifest).unwrap();
    let preds = run_text(&s, &m);
    let sum = summarize(
        &m,
        &preds,
        ReportMeta {
            title: "text floors".into(),
            ..ReportMeta::default()
        },
    );
    let o = &sum.overall;
    println!(
        "text items: intent accuracy {:?}, recall@3 {:?}",
        o.intent_acc, o.recall_at_3
    );
    assert!(
        o.intent_acc.unwrap_or(0.0) >= TEXT_INTENT_ACC_FLOOR,
        "{:?}",
        o.intent_acc
    );
    assert!(
        o.recall_at_3.unwrap_or(0.0) >= TEXT_RECALL3_FLOOR,
        "{:?}",
        o.recall_at_3
    );
    let report = dir.path().join("report");
    xiaoan_eval::write_report(&report, &sum).unwrap();
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("<svg"));
}

/// The neural Mandarin voice as a synthetic-set voice (the binary's `eval synth` has its
/// own; the evaluator knows no agent).
struct Neural(xiaoan_agent::speech::Speech);

impl xiaoan_eval::synth::SynthVoice for Neural {
    fn render(
        &self,
        text: &str,
        _dialect: &str,
        rate_wpm: u32,
        pitch: u8,
    ) -> xiaoan_eval::Result<(Vec<f32>, u32)> {
        let v = xiaoan_models::Voice {
            rate_wpm,
            pitch,
            ..xiaoan_models::Voice::default()
        };
        let a = self
            .0
            .render_all(&xiaoan_agent::dialogue::Reply::say(text), &v, false)
            .map_err(|e| xiaoan_eval::Error::Voice(e.to_string()))?;
        Ok((a.samples, a.sample_rate))
    }
    fn describe(&self, _dialect: &str) -> (String, bool) {
        ("the neural Mandarin voice".into(), true)
    }
}

#[test]
fn synthetic_audio_items_run_end_to_end_and_meet_their_floors() {
    let Some(home) = installed_home() else {
        return xiaoan_testkit::skip("evaluation audio: models not installed (run make setup)");
    };
    let dir = tempfile::tempdir().unwrap();
    let voice = xiaoan_eval::synth::EspeakVoice::new(&dir.path().join("tmp.wav"));
    // espeak-ng's Mandarin: the hard case
    audio_floors(&home, &voice, AUDIO_CER_CEILING, AUDIO_RECALL3_FLOOR);
    let neural = match xiaoan_agent::speech::Speech::for_engine("neural", &home, 2) {
        Ok(s) => Neural(s),
        Err(e) => {
            return xiaoan_testkit::skip(&format!("evaluation audio in the neural voice: {e}"));
        }
    };
    audio_floors(&home, &neural, NEURAL_CER_CEILING, NEURAL_RECALL3_FLOOR);
}

fn audio_floors(
    home: &std::path::Path,
    voice: &dyn xiaoan_eval::synth::SynthVoice,
    cer_ceiling: f64,
    recall3_floor: f64,
) {
    let dir = tempfile::tempdir().unwrap();
    let s = settings_in(home, "");
    let utts: Vec<_> = lines()
        .into_iter()
        .filter(|(_, d, i, _)| d == "cmn" && i == "service.query")
        .take(6)
        .enumerate()
        .map(
            |(i, (text, dialect, intent, svc))| xiaoan_eval::synth::SynthUtterance {
                id: format!("a-{i:02}"),
                text,
                dialect,
                intent: Some(intent),
                service_id: svc,
            },
        )
        .collect();
    let opts = xiaoan_eval::synth::SynthOptions {
        rates_wpm: vec![150],
        pitches: vec![50],
        conditions: vec![xiaoan_eval::synth::Condition::Clean],
        rate_per_utterance: false,
        seed: 7,
    };
    let manifest = match xiaoan_eval::synth::render(dir.path(), &utts, &opts, voice) {
        Ok(m) => m,
        Err(e) => {
            return xiaoan_testkit::skip(&format!(
                "evaluation audio: cannot render with espeak-ng: {e}"
            ));
        }
    };
    let m = read_manifest(&manifest).unwrap();
    let rec = Recognizer::load(&s).unwrap();
    let guide = load_guide(&s).unwrap();
    let idx = settings_in(dir.path(), "");
    let retriever = load_retriever(&idx, &guide, None).unwrap();
    let understander = xiaoan_intents::Understander::builtin().unwrap();
    let p = EvalPipeline {
        recognizer: Some(&rec),
        understander: &understander,
        retriever: retriever.as_ref(),
        settings: &s,
    };
    let opts = RunOptions {
        mode: DialectMode::Given,
        realtime: false,
        jobs: 1,
        progress: false,
    };
    let preds = run(&m, &p, &opts);
    assert!(preds.iter().all(|p| p.error.is_none()), "{preds:?}");
    let sum = summarize(
        &m,
        &preds,
        ReportMeta {
            title: "audio floors".into(),
            synthetic: true,
            ..ReportMeta::default()
        },
    );
    let o = &sum.overall;
    let name = voice.describe("cmn").0;
    println!(
        "SYNTHETIC audio ({name}): CER {:?}, intent accuracy {:?}, recall@3 {:?}",
        o.cer, o.intent_acc, o.recall_at_3
    );
    assert!(sum.synthetic, "labelled synthetic");
    assert!(
        o.cer.unwrap_or(1.0) <= cer_ceiling,
        "{name}: CER {:?}",
        o.cer
    );
    assert!(
        o.recall_at_3.unwrap_or(0.0) >= recall3_floor,
        "{name}: recall@3 {:?}",
        o.recall_at_3
    );
}

/// Measured on these six clips with the candle engine (see README); Whisper base on
/// espeak-ng audio is poor, these catch regressions, not targets.
const AUDIO_CER_CEILING: f64 = 0.95;
const AUDIO_RECALL3_FLOOR: f64 = 0.3;
/// The same six questions in the neural voice: measured CER 0.22, intent accuracy
/// 1.0, recall@3 1.0 (espeak-ng: 0.80, 0.83, 0.67).
const NEURAL_CER_CEILING: f64 = 0.4;
const NEURAL_RECALL3_FLOOR: f64 = 0.8;

#[test]
fn misheard_service_questions_get_service_ids_and_off_topic_ones_none() {
    // what `xiaoan eval` predicts on recogniser-like text: an unsure reading that sounds
    // like a guide item becomes `service.query` with its ids; an off-topic question stays
    // `out_of_scope` with none (the spec: empty when the intent needs none)
    let dir = tempfile::tempdir().unwrap();
    let s = settings_in(dir.path(), "");
    let manifest = dir.path().join("m.jsonl");
    std::fs::write(
        &manifest,
        concat!(
            r#"{"id": "g-1", "text": "门禁刷怖慨了", "intent": "service.query", "service_id": "smart-security"}"#,
            "\n",
            r#"{"id": "o-1", "text": "明天会下雨吗", "intent": "out_of_scope"}"#,
            "\n",
            r#"{"id": "n-1", "text": "再说一遍", "intent": "nav.repeat"}"#,
            "\n",
        ),
    )
    .unwrap();
    let m = read_manifest(&manifest).unwrap();
    let preds = run_text(&s, &m);
    let got: Vec<(&str, Option<&str>)> = preds
        .iter()
        .map(|p| {
            (
                p.intent.as_deref().unwrap_or("-"),
                p.service_ids.first().map(String::as_str),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("service.query", Some("smart-security")),
            ("out_of_scope", None),
            ("nav.repeat", None)
        ],
        "{preds:?}"
    );
    assert!(preds[1].service_ids.is_empty() && preds[2].service_ids.is_empty());
}
