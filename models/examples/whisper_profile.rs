//! Where the time of one whisper.cpp decode goes, and what the engine's knobs do to it.
//!
//! ```sh
//! cargo run --release --all-features --example whisper_profile -- tests/fixtures/cmn-juzhuzheng.wav
//! ```
//!
//! For each variant (weight type, flash attention, encoder context margin) it times, as
//! the median of a few runs: the log-mel spectrogram alone, a pass that stops after one
//! token (mel + encoder + the prompt step), and a whole greedy pass; the difference per
//! generated token is the decoder's cost. Wall time and process CPU time are both shown
//! (the CPU time is steadier when other work shares the machine). Needs the imported
//! model (`make setup`); writes a q5_0 file next to the others when there is none.

use std::path::{Path, PathBuf};
use std::time::Instant;

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

/// Process CPU time (user + system) in ms, from /proc (10 ms ticks).
fn cpu_ms() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // fields 14 and 15 of stat; `after` starts at field 3
    (t(11) + t(12)) * 10.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

struct Run {
    wall: f64,
    cpu: f64,
    tokens: usize,
    text: String,
}

fn full(
    ctx: &WhisperContext,
    audio: &[f32],
    audio_ctx: Option<i32>,
    max_tokens: i32,
    threads: i32,
) -> Run {
    let mut state = ctx.create_state().expect("state");
    let mut p = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    p.set_n_threads(threads);
    p.set_language(Some("zh"));
    p.set_no_context(true);
    p.set_no_timestamps(true);
    p.set_single_segment(true);
    p.set_print_special(false);
    p.set_print_progress(false);
    p.set_print_realtime(false);
    p.set_print_timestamps(false);
    p.set_suppress_blank(true);
    p.set_suppress_nst(true);
    p.set_max_tokens(max_tokens);
    p.set_temperature(0.0);
    p.set_temperature_inc(0.0);
    if let Some(a) = audio_ctx {
        p.set_audio_ctx(a);
    }
    let c0 = cpu_ms();
    let t0 = Instant::now();
    state.full(p, audio).expect("full");
    let wall = t0.elapsed().as_secs_f64() * 1000.0;
    let cpu = cpu_ms() - c0;
    let mut tokens = 0;
    let mut text = String::new();
    for seg in state.as_iter() {
        tokens += seg.n_tokens() as usize;
        text.push_str(&seg.to_str_lossy().unwrap_or_default());
    }
    Run {
        wall,
        cpu,
        tokens,
        text,
    }
}

fn main() {
    whisper_rs::install_logging_hooks();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let clip = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("tests/fixtures/cmn-juzhuzheng.wav"));
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|x| x.parse().ok())
        .unwrap_or(3);
    let threads: i32 = std::env::var("THREADS")
        .ok()
        .and_then(|x| x.parse().ok())
        .unwrap_or(2);
    let audio = xiaoan_audio::load(&clip, &xiaoan_audio::DecodeOptions::default())
        .expect("audio")
        .samples;
    let secs = audio.len() as f32 / 16_000.0;
    let dir = xiaoan_models::whisper_dir(&xiaoan_models::xiaoan_home());
    let q5 = dir.join("ggml-base-q5_0.bin");
    if !q5.is_file() {
        xiaoan_models::ggml::write_ggml(&dir, &q5, xiaoan_models::ggml::GgmlType::Q5_0, None)
            .expect("q5_0");
    }
    let types: Vec<String> = std::env::var("TYPES")
        .unwrap_or_else(|_| "f16,q8_0,q5_0".into())
        .split(',')
        .map(String::from)
        .collect();
    let margins: Vec<i32> = std::env::var("MARGINS")
        .unwrap_or_else(|_| "250,128,64".into())
        .split(',')
        .filter_map(|x| x.parse().ok())
        .collect();
    println!(
        "clip {} ({secs:.2} s), {threads} threads, median of {reps}",
        clip.display()
    );
    println!("type  flash margin audio_ctx | mel ms | enc+1 wall/cpu ms | full wall/cpu ms | tokens | per token ms | text");
    for t in &types {
        for flash in [false, true] {
            let path: PathBuf = dir.join(format!("ggml-base-{t}.bin"));
            let mut cp = WhisperContextParameters::default();
            cp.use_gpu(false);
            cp.flash_attn(flash);
            let ctx = WhisperContext::new_with_params(Path::new(&path), cp).expect("load");
            // mel alone
            let mut mel = Vec::new();
            for _ in 0..reps {
                let mut st = ctx.create_state().expect("state");
                let t0 = Instant::now();
                st.pcm_to_mel(&audio, threads as usize).expect("mel");
                mel.push(t0.elapsed().as_secs_f64() * 1000.0);
            }
            let mel = median(mel);
            let base = (secs * 50.0).ceil() as i32;
            let mut variants: Vec<Option<i32>> =
                margins.iter().map(|m| Some((base + m).min(1500))).collect();
            variants.push(None);
            for actx in variants {
                let _ = full(&ctx, &audio, actx, 1, threads); // warm
                let one: Vec<Run> = (0..reps)
                    .map(|_| full(&ctx, &audio, actx, 1, threads))
                    .collect();
                let all: Vec<Run> = (0..reps)
                    .map(|_| full(&ctx, &audio, actx, 64, threads))
                    .collect();
                let ow = median(one.iter().map(|r| r.wall).collect());
                let oc = median(one.iter().map(|r| r.cpu).collect());
                let aw = median(all.iter().map(|r| r.wall).collect());
                let ac = median(all.iter().map(|r| r.cpu).collect());
                let n = all[0].tokens;
                let per = (aw - ow) / (n.saturating_sub(1).max(1)) as f64;
                println!(
                    "{t:<5} {flash:<5} {:>6} {:>9} | {mel:6.1} | {ow:7.0} / {oc:5.0} | {aw:7.0} / {ac:5.0} | {n:>6} | {per:12.1} | {}",
                    actx.map_or("full".into(), |a| (a - base).to_string()),
                    actx.unwrap_or(1500),
                    all[0].text.trim()
                );
            }
        }
    }
}
