//! `xiaoan bench asr|kb|dialogue` and the story runner of `xiaoan eval stories`.
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
        BenchCmd::Asr { manifest, engines } => bench_asr(s, &manifest, engines),
        BenchCmd::Dialogue => dialogue::run(s),
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
    v
}

fn bench_asr(s: &Settings, manifest: &Path, engines: Vec<String>) -> Result<ExitCode> {
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
            cmd.arg("bench")
                .arg("asr")
                .arg(manifest)
                .arg("--engines")
                .arg(e);
            let st = cmd
                .status()
                .with_context(|| format!("running the {e} engine"))?;
            if !st.success() {
                eprintln!("xiaoan: the {e} engine's run failed");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let engine = &engines[0];
    let m = xiaoan_eval::read_manifest(manifest)?;
    let rec = Recognizer::load_engine(s, engine)?;
    let mut rtf = Vec::new();
    let mut first = Vec::new();
    let mut fin = Vec::new();
    let mut errs = 0usize;
    let mut ref_chars = 0usize;
    let mut n = 0usize;
    let mut audio_total = 0.0;
    for item in m.items.iter().flatten() {
        let Some(path) = m.audio_path(item) else {
            continue;
        };
        let audio = match xiaoan_agent::pipeline::load_audio(s, &path) {
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
        if let Some(x) = out.final_ms {
            fin.push(x);
        }
        if let Some(r) = &item.transcript {
            let a: Vec<char> = xiaoan_eval::cer_normalize(r).chars().collect();
            let b: Vec<char> = xiaoan_eval::cer_normalize(&text).chars().collect();
            errs += xiaoan_eval::edit_distance(&a, &b);
            ref_chars += a.len();
        }
        n += 1;
    }
    let rtf = sorted(rtf);
    let first = sorted(first);
    let fin = sorted(fin);
    let cer = if ref_chars > 0 {
        format!("{:.3}", errs as f64 / ref_chars as f64)
    } else {
        "-".into()
    };
    println!(
        "bench asr  engine={engine:<7} clips={n} audio={audio_total:.1}s  RTF p50 {:.3} p95 {:.3}  first-partial p50 {:.0} ms p95 {:.0} ms  final p50 {:.0} ms p95 {:.0} ms  peak RSS {:.0} MB  CER {cer}  [{}]",
        pct(&rtf, 50.0),
        pct(&rtf, 95.0),
        pct(&first, 50.0),
        pct(&first, 95.0),
        pct(&fin, 50.0),
        pct(&fin, 95.0),
        peak_rss_mb().unwrap_or(f64::NAN),
        crate::cli::eval::machine()
    );
    Ok(ExitCode::SUCCESS)
}

/// `xiaoan eval stories DIR`: run each story through a fresh agent and report task
/// success per flow and per dialect.
pub fn stories(s: &Settings, dir: &Path) -> Result<ExitCode> {
    let stories = xiaoan_eval::stories::load_dir(dir)?;
    let runner = xiaoan_agent::stories::Runner { settings: s };
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
