//! `xiaoan bench tts`: the configured voice's speed and memory on service sentences.
//!
//! Reported: real-time factor (synthesis time ÷ audio time) per sentence, the time to
//! the first audio of a 15-character sentence as the live loop would get it (the first
//! piece of [`Speech::render`], cold cache), load time and the peak memory the voice
//! adds. Medians and 95th percentiles over repeated runs; nothing asserts a time.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use xiaoan_agent::config::Settings;
use xiaoan_agent::dialogue::Reply;
use xiaoan_agent::pipeline::Recognizer;
use xiaoan_agent::speech::Speech;
use xiaoan_audio::AudioBuf;
use xiaoan_models::Voice;

use super::{pct, peak_rss_mb, sorted};

/// Service sentences of typical lengths (the first is 15 characters).
const SENTENCES: [&str; 6] = [
    "敬老卡在一楼三号窗口可以办理。",
    "好的。",
    "请说一下您的身份证号。",
    "您的回执号是二零二六，幺幺二九，零零幺七，请记好。",
    "办居住证需要带身份证、租房合同和一寸照片，工作日上午九点到下午五点都可以来办。",
    "楼上邻居天天半夜吵闹，我帮您转到纠纷调解，调解员会在三个工作日内联系您。",
];

/// The sentence the first-audio figure is taken on (15 characters, the measure).
const FIRST_AUDIO_SENTENCE: &str = SENTENCES[0];

fn rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Run the benchmark `runs` times over [`SENTENCES`]; with `heard`, measure
/// intelligibility on that file's sentences too.
pub fn run(s: &Settings, runs: usize, heard: Option<&Path>) -> Result<ExitCode> {
    let runs = runs.clamp(1, 100);
    let before = rss_mb().unwrap_or(0.0);
    let t = Instant::now();
    let speech = Speech::from_settings(s)?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let voice = Voice {
        rate_wpm: 150,
        ..Voice::default()
    };
    let mut rtf = Vec::new();
    let mut first = Vec::new();
    println!("bench tts  engine={}", speech.engine_name());
    for sentence in SENTENCES {
        let mut times = Vec::new();
        let mut secs = 0.0;
        for _ in 0..runs {
            speech.clear_cache();
            let t = Instant::now();
            let audio = speech.render_all(&Reply::say(sentence), &voice, false)?;
            let el = t.elapsed().as_secs_f64();
            secs = audio.duration_s();
            times.push(el * 1e3);
            if secs > 0.0 {
                rtf.push(el / secs);
            }
        }
        let times = sorted(times);
        println!(
            "  {:>3} chars  {:>5.2} s audio  synthesis p50 {:>6.1} ms  RTF {:.3}  {}",
            sentence.chars().count(),
            secs,
            pct(&times, 50.0),
            pct(&times, 50.0) / 1e3 / secs.max(1e-9),
            sentence
        );
    }
    for _ in 0..runs.max(5) {
        speech.clear_cache();
        let t = Instant::now();
        let mut at = None;
        speech.render(
            &Reply::say(FIRST_AUDIO_SENTENCE),
            &voice,
            false,
            &mut |_| {
                at.get_or_insert(t.elapsed().as_secs_f64() * 1e3);
            },
        )?;
        if let Some(ms) = at {
            first.push(ms);
        }
    }
    let (rtf, first) = (sorted(rtf), sorted(first));
    let added = peak_rss_mb().map(|p| p - before).unwrap_or(f64::NAN);
    println!(
        "\nbench tts  engine={}  sentences={}  RTF p50 {:.3} p95 {:.3}  first audio ({} chars) p50 {:.0} ms p95 {:.0} ms  load {:.0} ms  added peak RSS {:.0} MB  [{}]",
        speech.engine_name(),
        SENTENCES.len(),
        pct(&rtf, 50.0),
        pct(&rtf, 95.0),
        FIRST_AUDIO_SENTENCE.chars().count(),
        pct(&first, 50.0),
        pct(&first, 95.0),
        load_ms,
        added,
        crate::cli::eval::machine()
    );
    if let Some(file) = heard {
        intelligibility(s, &speech, &voice, file)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Speak every sentence of `file` and let the recogniser (the configured engine,
/// greedy as in the live loop) write down what it hears: the character error rate.
fn intelligibility(s: &Settings, speech: &Speech, voice: &Voice, file: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let rec = Recognizer::load(s)?;
    let (mut errors, mut chars, mut n) = (0usize, 0usize, 0usize);
    let mut worst: Vec<(f64, String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => anyhow::bail!("{}:{}: not JSON: {e}", file.display(), i + 1),
        };
        let Some(sentence) = v.get("text").and_then(|t| t.as_str()) else {
            continue;
        };
        let reference = xiaoan_eval::cer_normalize(sentence);
        if reference.is_empty() {
            continue;
        }
        let a = speech.render_all(&Reply::say(sentence), voice, false)?;
        let a16 = AudioBuf::new(
            xiaoan_audio::resample(&a.samples, a.sample_rate, 16_000)?,
            16_000,
        );
        let got = xiaoan_eval::cer_normalize(&rec.transcribe(&a16, "cmn")?);
        let r: Vec<char> = reference.chars().collect();
        let h: Vec<char> = got.chars().collect();
        let e = xiaoan_eval::edit_distance(&h, &r);
        errors += e;
        chars += r.len();
        n += 1;
        worst.push((e as f64 / r.len() as f64, sentence.to_string(), got));
    }
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (cer, said, got) in worst.iter().take(5) {
        println!("  CER {cer:.2}  {said}  →  {got}");
    }
    println!(
        "bench tts heard  sentences={n}  CER {:.3} (recogniser: {}, greedy; digits written as numerals count as errors)",
        errors as f64 / chars.max(1) as f64,
        s.config.asr.engine
    );
    Ok(())
}
