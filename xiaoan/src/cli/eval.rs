//! `xiaoan eval`: run a manifest, import public sets, compare runs, run stories,
//! synthesise the project's own (synthetic) set.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use xiaoan::eval_pipeline::EvalPipeline;
use xiaoan_agent::app::{load_guide, load_retriever};
use xiaoan_agent::config::Settings;
use xiaoan_agent::pipeline::Recognizer;
use xiaoan_eval::{DialectMode, RunOptions};

/// `xiaoan eval MANIFEST [...]` or `xiaoan eval <import|compare|stories|synth>`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub action: Option<EvalCmd>,
    /// Manifest (JSON Lines; see the evaluation contract).
    pub manifest: Option<PathBuf>,
    /// Write one prediction per item (JSON Lines, manifest order).
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Write summary.json, report.md and report.html into this folder.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// auto (detect), given (the manifest's dialect), or a code forcing one adapter.
    #[arg(long, default_value = "auto")]
    pub dialect: String,
    /// As fast as possible (throughput) instead of simulated real time (latency).
    #[arg(long)]
    pub fast: bool,
    /// Items at once (default: one per core in --fast, 1 in real time so latencies are
    /// not inflated by contention).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Mark the report as synthetic (rendered speech, not residents).
    #[arg(long)]
    pub synthetic: bool,
}

/// Evaluation helpers.
#[derive(Subcommand, Debug)]
pub enum EvalCmd {
    /// Write a manifest from a public set's layout.
    Import {
        #[command(subcommand)]
        from: ImportCmd,
    },
    /// What got better or worse between two runs (their summary.json or report folders).
    Compare {
        /// Baseline.
        a: PathBuf,
        /// New run.
        b: PathBuf,
    },
    /// Run conversation stories and report task success per flow and per dialect.
    Stories {
        /// Folder of story files.
        #[arg(default_value = "tests/stories")]
        dir: PathBuf,
    },
    /// Render the project's own test utterances (SYNTHETIC: the neural Mandarin voice by default) in several rooms.
    Synth {
        /// Output folder (wav/ and manifest.jsonl).
        out: PathBuf,
        /// Keep it small: one rate, clean and one noise level.
        #[arg(long)]
        small: bool,
        /// The voice: `neural` (the project's Mandarin voice; Cantonese stays espeak-ng
        /// `yue`) or `espeak` (espeak-ng for every dialect: the old, harder set).
        #[arg(long, default_value = "neural")]
        voice: String,
        /// What is said: `project` (the project's synthetic test lines, every rate and
        /// room) or `never-tuned` (Mandarin sentences nothing was trained or tuned on:
        /// the references of `intents/data/speech_heldout.tsv` and every other Mandarin
        /// line of `intents/data/dev-residents.tsv`, each said once, clean, at one of
        /// three rates and pitches in turn).
        #[arg(long, default_value = "project")]
        sentences: String,
    },
}

/// Importers.
#[derive(Subcommand, Debug)]
pub enum ImportCmd {
    /// Kaldi data dir: wav.scp + text [+ utt2dialect].
    Kaldi {
        /// The data folder.
        dir: PathBuf,
        /// Manifest to write.
        #[arg(long, default_value = "manifest.jsonl")]
        out: PathBuf,
    },
    /// Common Voice TSV (validated.tsv, test.tsv ...).
    Commonvoice {
        /// The TSV.
        tsv: PathBuf,
        /// The clips folder.
        #[arg(long)]
        clips: PathBuf,
        /// Dialect code of the set.
        #[arg(long)]
        dialect: String,
        /// Manifest to write.
        #[arg(long, default_value = "manifest.jsonl")]
        out: PathBuf,
    },
}

/// The machine this runs on, for reports.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cores} cores, {cpu}")
}

/// Run the command.
pub fn eval(s: &Settings, args: EvalArgs) -> Result<ExitCode> {
    match args.action {
        Some(EvalCmd::Import { from }) => import(from),
        Some(EvalCmd::Compare { a, b }) => {
            let a = load_summary(&a)?;
            let b = load_summary(&b)?;
            println!("{}", xiaoan_eval::compare(&a, &b));
            Ok(ExitCode::SUCCESS)
        }
        Some(EvalCmd::Stories { dir }) => crate::cli::bench::stories(s, &dir),
        Some(EvalCmd::Synth {
            out,
            small,
            voice,
            sentences,
        }) => synth(s, &out, small, &voice, &sentences),
        None => {
            let Some(manifest) = args.manifest else {
                anyhow::bail!("give a manifest: xiaoan eval MANIFEST [--predictions OUT.jsonl] [--report DIR]");
            };
            run(
                s,
                &manifest,
                args.predictions,
                args.report,
                &args.dialect,
                args.fast,
                args.jobs,
                args.synthetic,
            )
        }
    }
}

/// `xiaoan eval synth`: the project's utterances in the chosen voice and rooms.
fn synth(s: &Settings, out: &Path, small: bool, voice: &str, sentences: &str) -> Result<ExitCode> {
    use xiaoan_eval::synth::{Condition, EspeakVoice, SynthOptions, SynthVoice};
    let utts = match sentences {
        "project" => synth_utterances(),
        "never-tuned" => never_tuned_utterances(),
        other => anyhow::bail!("unknown sentences \"{other}\" (project or never-tuned)"),
    };
    let opts = if sentences == "never-tuned" {
        // the pace and pitch spread of `bench wake`, one clip per sentence
        SynthOptions {
            rates_wpm: vec![120, 150, 185],
            pitches: vec![30, 50, 70],
            conditions: vec![Condition::Clean],
            rate_per_utterance: true,
            seed: 7,
        }
    } else if small {
        SynthOptions {
            rates_wpm: vec![150],
            pitches: vec![50],
            conditions: vec![Condition::Clean, Condition::Noise(10.0)],
            rate_per_utterance: false,
            seed: 7,
        }
    } else {
        SynthOptions {
            rates_wpm: vec![130, 170],
            pitches: vec![50, 40, 60],
            conditions: vec![
                Condition::Clean,
                Condition::Reverb,
                Condition::Noise(15.0),
                Condition::Noise(10.0),
                Condition::Phone,
            ],
            rate_per_utterance: false,
            seed: 7,
        }
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let espeak = EspeakVoice::new(&out.join(".espeak-tmp.wav"));
    let neural;
    let v: &dyn SynthVoice = match voice {
        "espeak" => &espeak,
        "neural" => {
            neural = crate::cli::say::SessionVoices::load(s)?;
            &neural
        }
        other => anyhow::bail!("unknown voice \"{other}\" (neural or espeak)"),
    };
    let m = xiaoan_eval::synth::render(out, &utts, &opts, v)?;
    println!(
        "SYNTHETIC set ({} voice, not real residents' speech) written: {}",
        voice,
        m.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn load_summary(p: &Path) -> Result<xiaoan_eval::Summary> {
    let file = if p.is_dir() {
        p.join("summary.json")
    } else {
        p.to_path_buf()
    };
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a summary.json", file.display()))
}

fn import(from: ImportCmd) -> Result<ExitCode> {
    let (items, out) = match from {
        ImportCmd::Kaldi { dir, out } => (xiaoan_eval::import::kaldi(&dir)?, out),
        ImportCmd::Commonvoice {
            tsv,
            clips,
            dialect,
            out,
        } => (
            xiaoan_eval::import::commonvoice(&tsv, &clips, &dialect)?,
            out,
        ),
    };
    xiaoan_eval::import::write_manifest(&out, &items)?;
    println!("{} items written to {}", items.len(), out.display());
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
fn run(
    s: &Settings,
    manifest_path: &Path,
    predictions: Option<PathBuf>,
    report: Option<PathBuf>,
    dialect: &str,
    fast: bool,
    jobs: Option<usize>,
    synthetic: bool,
) -> Result<ExitCode> {
    let mode: DialectMode = dialect.parse()?;
    let manifest = xiaoan_eval::read_manifest(manifest_path)?;
    let has_audio = manifest
        .items
        .iter()
        .any(|i| matches!(i, Ok(it) if it.audio.is_some()));
    let rec = if has_audio {
        Some(Recognizer::load(s)?)
    } else {
        None
    };
    let guide = load_guide(s)?;
    let encoder = xiaoan_agent::app::load_encoder(s)?;
    let retriever = load_retriever(s, &guide, encoder.clone())?;
    let understander = xiaoan_agent::embedder::understander(encoder)?;
    let pipeline = EvalPipeline {
        recognizer: rec.as_ref(),
        understander: &understander,
        retriever: retriever.as_ref(),
        settings: s,
    };
    let jobs = jobs.unwrap_or(if fast || !has_audio { 0 } else { 1 });
    let opts = RunOptions {
        mode,
        realtime: !fast,
        jobs,
        progress: true,
    };
    let started = Instant::now();
    let preds = xiaoan_eval::run(&manifest, &pipeline, &opts);
    let elapsed_s = started.elapsed().as_secs_f64();
    if let Some(p) = &predictions {
        xiaoan_eval::write_predictions(p, &preds)?;
        eprintln!("predictions: {}", p.display());
    }
    let synthetic = synthetic || manifest.synthetic;
    let meta = xiaoan_eval::ReportMeta {
        title: format!("Xiao'an evaluation: {}", manifest_path.display()),
        machine: machine(),
        synthetic,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        elapsed_s,
    };
    let summary = xiaoan_eval::summarize(&manifest, &preds, meta);
    println!("{}", xiaoan_eval::headline_markdown(&summary));
    if let Some(dir) = &report {
        xiaoan_eval::write_report(dir, &summary)?;
        eprintln!("report: {}/report.html", dir.display());
    }
    let failures = xiaoan_eval::Failures::of(&preds);
    if failures.too_many() {
        eprintln!("xiaoan: eval FAILED: {}", failures.message());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The project's own test utterances for the synthetic set: the held-out intent lines
/// that name a guide item, in the dialects espeak-ng can voice.
fn synth_utterances() -> Vec<xiaoan_eval::synth::SynthUtterance> {
    xiaoan::eval_pipeline::synth_lines()
        .into_iter()
        .enumerate()
        .map(
            |(i, (text, dialect, intent, service))| xiaoan_eval::synth::SynthUtterance {
                id: format!("syn-{:03}", i + 1),
                text,
                dialect,
                intent: Some(intent),
                service_id: service,
            },
        )
        .collect()
}

/// Mandarin sentences never trained or tuned on, for the natural-speech test set
/// (`eval synth --sentences never-tuned`): the references of the speech held-out set
/// (written for that test only; neither the intent training lines nor the domain
/// language model hold them) and every other Mandarin line of the residents'
/// development set (written without seeing the frozen set; the language model does not
/// read it). Ids: `ho-NN` and `dev-NNN` (the line's rank among the Mandarin ones).
fn never_tuned_utterances() -> Vec<xiaoan_eval::synth::SynthUtterance> {
    const HELDOUT: &str = include_str!("../../../intents/data/speech_heldout.tsv");
    const DEV: &str = include_str!("../../../intents/data/dev-residents.tsv");
    let rows = |text: &'static str| {
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split('\t').map(str::trim).collect::<Vec<_>>())
    };
    let service = |s: Option<&&str>| {
        s.filter(|s| !s.is_empty() && **s != "-")
            .map(|s| s.to_string())
    };
    let mut out: Vec<xiaoan_eval::synth::SynthUtterance> = Vec::new();
    // transcript, intent, dialect, asr, reference text, rendering, service id
    for r in rows(HELDOUT).filter(|r| r.len() >= 5 && r[2] == "cmn") {
        if out.iter().any(|u| u.text == r[4]) {
            continue; // each sentence was rendered at two rates there
        }
        out.push(xiaoan_eval::synth::SynthUtterance {
            id: format!("ho-{:02}", out.len() + 1),
            text: r[4].to_string(),
            dialect: "cmn".into(),
            intent: Some(r[1].to_string()),
            service_id: service(r.get(6)),
        });
    }
    // text, intent, dialect, service id, note
    for (i, r) in rows(DEV)
        .filter(|r| r.len() >= 3 && r[2] == "cmn")
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
    {
        out.push(xiaoan_eval::synth::SynthUtterance {
            id: format!("dev-{:03}", i + 1),
            text: r[0].to_string(),
            dialect: "cmn".into(),
            intent: Some(r[1].to_string()),
            service_id: service(r.get(3)),
        });
    }
    out
}
