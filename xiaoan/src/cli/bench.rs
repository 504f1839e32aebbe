//! `xiaoan bench asr|kb|dialogue|tts|serve|wake|store` and the story runner of `xiaoan eval stories`.
//!
//! Benchmarks report medians and percentiles over repeated work, with the machine they
//! ran on; nothing here asserts a time.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use xiaoan_agent::config::Settings;
use xiaoan_agent::pipeline::Recognizer;

use crate::BenchCmd;

mod dialogue;
mod procfs;
mod serve;
mod store;
mod tts;
mod turns;
mod wake;

/// nearest-rank percentile of a sorted slice
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// Peak resident memory of this process so far (VmHWM), in MB.
pub fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Run a benchmark.
pub fn bench(s: &Settings, what: BenchCmd) -> Result<ExitCode> {
    match what {
        BenchCmd::Kb => {
            let mut out = std::io::stdout();
            xiaoan_kb::bench::run(&mut out)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCmd::Asr {
            manifest,
            engines,
            no_bias,
            prompt,
            score,
            label,
        } => match score {
            Some(p) => score_predictions(&manifest, &p, &label),
            None => bench_asr(
                s,
                &manifest,
                engines,
                AdapterParts {
                    bias: !no_bias,
                    prompt,
                },
            ),
        },
        BenchCmd::Dialogue => dialogue::run(s),
        BenchCmd::Turns { fixed } => turns::run(s, fixed),
        BenchCmd::Tts { runs, heard } => tts::run(s, runs, heard.as_deref()),
        BenchCmd::Serve {
            sessions,
            turns,
            url,
            tokens,
            ca,
            server_pid,
        } => serve::run(
            s,
            serve::Args {
                sessions,
                turns,
                url,
                tokens,
                ca,
                server_pid,
            },
        ),
        BenchCmd::Wake {
            seed,
            addressed,
            babble_minutes,
            write,
        } => wake::run(s, seed, addressed, babble_minutes, write.as_deref()),
        BenchCmd::Store { runs, filings, url } => store::run(runs, filings, url.as_deref()),
    }
}

fn compiled_engines() -> Vec<String> {
    let mut v = Vec::new();
    if cfg!(feature = "candle") {
        v.push("candle".to_string());
    }
    if cfg!(feature = "whisper") {
        v.push("whisper".to_string());
    }
    if cfg!(feature = "onnx") {
        v.push("onnx".to_string());
    }
    v
}

/// The `--config FILE` this process was given, for the child processes.
fn config_arg() -> Option<std::ffi::OsString> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().enumerate().find_map(|(i, a)| {
        if a == "--config" {
            args.get(i + 1).map(Into::into)
        } else {
            a.strip_prefix("--config=").map(Into::into)
        }
    })
}

/// Which parts of the dialect adapters a benchmark run decodes with.
#[derive(Clone, Copy, Debug)]
pub struct AdapterParts {
    /// false: the bias lists are emptied (`--no-bias`).
    pub bias: bool,
    /// true: the adapters' prompts are used even where switched off (`--prompt`).
    pub prompt: bool,
}

impl AdapterParts {
    fn describe(&self) -> String {
        format!(
            "bias {}, prompt {}",
            if self.bias { "on" } else { "off" },
            if self.prompt { "on" } else { "as configured" }
        )
    }
}

/// Character errors and reference characters, overall and per dialect.
#[derive(Default)]
struct CerTally {
    by_dialect: std::collections::BTreeMap<String, (usize, usize)>,
}

impl CerTally {
    fn add(&mut self, dialect: &str, reference: &str, hyp: &str) {
        let a: Vec<char> = xiaoan_eval::cer_normalize(reference).chars().collect();
        let b: Vec<char> = xiaoan_eval::cer_normalize(hyp).chars().collect();
        let e = self.by_dialect.entry(dialect.to_string()).or_default();
        e.0 += xiaoan_eval::edit_distance(&a, &b);
        e.1 += a.len();
    }

    /// `CER 0.810 (cmn 0.781, yue 0.900)`, or `CER -` without references.
    fn describe(&self) -> String {
        let (errs, chars) = self
            .by_dialect
            .values()
            .fold((0, 0), |(e, c), (e2, c2)| (e + e2, c + c2));
        if chars == 0 {
            return "CER -".into();
        }
        let parts: Vec<String> = self
            .by_dialect
            .iter()
            .filter(|(_, (_, c))| *c > 0)
            .map(|(d, (e, c))| format!("{d} {:.3}", *e as f64 / *c as f64))
            .collect();
        format!(
            "CER {:.3} ({})",
            errs as f64 / chars as f64,
            parts.join(", ")
        )
    }
}

fn bench_asr(
    s: &Settings,
    manifest: &Path,
    engines: Vec<String>,
    parts: AdapterParts,
) -> Result<ExitCode> {
    let engines = if engines.is_empty() {
        compiled_engines()
    } else {
        engines
    };
    if engines.len() > 1 {
        // one child process per engine, so each one's peak memory is its own
        let exe = std::env::current_exe()?;
        for e in &engines {
            let mut cmd = std::process::Command::new(&exe);
            if let Some(c) = config_arg() {
                cmd.arg("--config").arg(c);
            }
            cmd.arg("bench")
                .arg("asr")
                .arg(manifest)
                .arg("--engines")
                .arg(e);
            if !parts.bias {
                cmd.arg("--no-bias");
            }
            if parts.prompt {
                cmd.arg("--prompt");
            }
            let st = cmd
                .status()
                .with_context(|| format!("running the {e} engine"))?;
            if !st.success() {
                eprintln!("xiaoan: the {e} engine's run failed");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    // `whisper:q8_0`: the whisper.cpp engine on that weight type
    let (engine, ggml_type) = match engines[0].split_once(':') {
        Some((e, t)) => (e.to_string(), Some(t.to_string())),
        None => (engines[0].clone(), None),
    };
    let mut s = s.clone();
    if let Some(t) = &ggml_type {
        s.config.asr.ggml_type = t.clone();
    }
    let label = if engine == "whisper" {
        format!("whisper:{}", s.config.asr.ggml_type)
    } else {
        engine.clone()
    };
    let m = xiaoan_eval::read_manifest(manifest)?;
    let mut rec = Recognizer::load_engine(&s, &engine)?;
    rec.adapters
        .set_parts(parts.prompt.then_some(true), parts.bias);
    // the final decode's search when it is not the partials' greedy one
    let label = match rec.final_search().as_str() {
        "greedy" => label,
        f => format!("{label}/{f}"),
    };
    let mut rtf = Vec::new();
    let mut first = Vec::new();
    let mut fin = Vec::new();
    let mut cer = CerTally::default();
    let mut cer_streamed = CerTally::default();
    let (mut busy_ms, mut streamed_s) = (0.0, 0.0);
    let mut n = 0usize;
    let mut audio_total = 0.0;
    for item in m.items.iter().flatten() {
        let Some(path) = m.audio_path(item) else {
            continue;
        };
        let audio = match xiaoan_agent::pipeline::load_audio(&s, &path) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("xiaoan: {e}");
                continue;
            }
        };
        let dialect = item.dialect.clone().unwrap_or_else(|| "cmn".into());
        // throughput: one decode per utterance
        let t0 = Instant::now();
        let text = rec.transcribe(&audio, &dialect)?;
        let dt = t0.elapsed().as_secs_f64();
        rtf.push(dt / audio.duration_s().max(1e-3));
        audio_total += audio.duration_s();
        // latency: the same audio streamed in real time
        let out = rec.stream(&audio, &dialect, true, &mut |_| {})?;
        if let Some(x) = out.first_partial_ms {
            first.push(x);
        }
        if let Some(x) = out.after_speech_ms {
            fin.push(x);
        }
        busy_ms += out.decode_ms;
        streamed_s += out.audio_s;
        if let Some(r) = &item.transcript {
            cer.add(&dialect, r, &text);
            cer_streamed.add(&dialect, r, &out.text);
        }
        if std::env::var_os("XIAOAN_BENCH_VERBOSE").is_some() {
            eprintln!(
                "  {label} {}: {:.0} ms [{text}] streamed [{}] final {:?} ms after speech, {:?} ms after the clip",
                item.id,
                dt * 1000.0,
                out.text,
                out.after_speech_ms,
                out.final_ms
            );
        }
        n += 1;
    }
    let rtf = sorted(rtf);
    let first = sorted(first);
    let fin = sorted(fin);
    println!(
        "bench asr  engine={label:<13} clips={n} audio={audio_total:.1}s  RTF p50 {:.3} p95 {:.3}  first-partial p50 {:.0} ms p95 {:.0} ms  end of speech → final p50 {:.0} ms p95 {:.0} ms  peak RSS {:.0} MB  {}  streaming: compute RTF {:.3}, {}  [{}; {}]",
        pct(&rtf, 50.0),
        pct(&rtf, 95.0),
        pct(&first, 50.0),
        pct(&first, 95.0),
        pct(&fin, 50.0),
        pct(&fin, 95.0),
        peak_rss_mb().unwrap_or(f64::NAN),
        cer.describe(),
        busy_ms / 1000.0 / streamed_s.max(1e-3),
        cer_streamed.describe(),
        parts.describe(),
        crate::cli::eval::machine()
    );
    Ok(ExitCode::SUCCESS)
}

/// `xiaoan bench asr MANIFEST --score PREDICTIONS`: another system's transcripts and
/// processing times, scored exactly as ours are (the same CER normalisation and edit
/// distance, RTF per clip from `elapsed_ms` / `audio_s`).
fn score_predictions(manifest: &Path, predictions: &Path, label: &str) -> Result<ExitCode> {
    let m = xiaoan_eval::read_manifest(manifest)?;
    let preds = xiaoan_eval::read_predictions(predictions)?;
    let by_id: std::collections::HashMap<&str, &xiaoan_eval::Prediction> =
        preds.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut rtf = Vec::new();
    let mut cer = CerTally::default();
    let mut n = 0usize;
    let mut missing = 0usize;
    let mut audio_total = 0.0;
    for item in m.items.iter().flatten() {
        if item.audio.is_none() {
            continue;
        }
        let dialect = item.dialect.clone().unwrap_or_else(|| "cmn".into());
        let p = by_id.get(item.id.as_str()).filter(|p| p.error.is_none());
        if p.is_none() {
            missing += 1;
        }
        if let Some((e, a)) = p.and_then(|p| p.elapsed_ms.zip(p.audio_s)) {
            rtf.push(e / 1000.0 / a.max(1e-3));
            audio_total += a;
        }
        if let Some(r) = &item.transcript {
            // a missing or failed item scores as empty output, as in `xiaoan eval`
            let text = p.and_then(|p| p.transcript.as_deref()).unwrap_or("");
            cer.add(&dialect, r, text);
        }
        n += 1;
    }
    let rtf = sorted(rtf);
    println!(
        "bench asr  engine={label:<13} clips={n} audio={audio_total:.1}s  RTF p50 {:.3} p95 {:.3}  {}  missing/failed {missing}  [scored from {}; {}]",
        pct(&rtf, 50.0),
        pct(&rtf, 95.0),
        cer.describe(),
        predictions.display(),
        crate::cli::eval::machine()
    );
    Ok(ExitCode::SUCCESS)
}

/// `xiaoan eval stories DIR`: run each story through a fresh agent and report task
/// success per flow and per dialect.
pub fn stories(s: &Settings, dir: &Path) -> Result<ExitCode> {
    let stories = xiaoan_eval::stories::load_dir(dir)?;
    let runner = xiaoan::stories::Runner { settings: s };
    let outcomes: Vec<_> = stories
        .iter()
        .map(|st| xiaoan_eval::stories::StoryRunner::run(&runner, st))
        .collect();
    for o in outcomes.iter().filter(|o| !o.passed) {
        println!("FAILED {} ({}, {}):", o.name, o.flow, o.dialect);
        for f in &o.failures {
            println!("    {f}");
        }
    }
    let report = xiaoan_eval::stories::report(&outcomes);
    println!("{}", report.table());
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
