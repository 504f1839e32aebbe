//! The runtime pipeline (PIPELINE.md): audio → VAD/end-pointer → streaming ASR with the
//! session's adapter → understanding → retrieval. `transcribe`, `demo`, `eval`, `bench`
//! and `listen` all go through [`Recognizer::stream`]; there is no second path.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use xiaoan_audio::{AudioBuf, EndpointConfig, Endpointer};
use xiaoan_models::{AsrModel, AsrStream, DecodeOptions, LocalAgreementStream, StreamConfig};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::turn_end::{
    Expect, TextJudge, TurnCall, TurnJudge, MAX_HANGOVER_MS, UNSURE_HANGOVER_MS,
};

mod hearing;

pub use hearing::{Heard, Hearing, EARLY_DECODE_MS, EARLY_FINAL_MS};

/// How much audio is fed per step when simulating a live stream (a typical capture
/// callback size).
pub const FEED_CHUNK_S: f64 = 0.1;

/// A loaded recogniser plus everything needed to run it on a stream: the VAD and
/// end-pointer settings, the streaming step, and the dialect adapters.
pub struct Recognizer {
    /// The engine, loaded once and shared.
    pub model: Arc<dyn AsrModel>,
    /// Decoding options before a dialect adapter is applied.
    pub base: DecodeOptions,
    /// Options of each utterance's final decode when `[asr.final]` makes them differ
    /// from `base` (partials keep `base`), before a dialect adapter; `None`: the same.
    pub final_opts: Option<DecodeOptions>,
    /// Options of the second opinion on doubted words (beam search with the domain
    /// language model), before a dialect adapter; `None` when off.
    pub second: Option<DecodeOptions>,
    /// Streaming (local agreement) settings.
    pub stream_cfg: StreamConfig,
    /// VAD backend name.
    pub vad: String,
    /// End-pointer settings.
    pub endpoint: EndpointConfig,
    /// Dialect adapters, one per code.
    pub adapters: crate::adapters::Adapters,
    /// The engine with a dialect adapter's LoRA deltas merged, for each adapter that
    /// carries them (others use `model`).
    pub dialect_models: std::collections::HashMap<String, Arc<dyn AsrModel>>,
    silero: Option<std::path::PathBuf>,
    ort_lib: Option<std::path::PathBuf>,
}

/// One partial result while streaming.
#[derive(Clone, Debug, Serialize)]
pub struct Partial {
    /// Audio time (seconds from the start of the stream) when it was produced.
    pub at_s: f64,
    /// The committed text so far of the current utterance.
    pub text: String,
}

/// What streaming one input produced.
#[derive(Clone, Debug, Serialize)]
pub struct StreamOutcome {
    /// The final transcript (utterances joined).
    pub text: String,
    /// The final text of each utterance.
    pub utterances: Vec<String>,
    /// Partials in order.
    pub partials: Vec<Partial>,
    /// Wall time from the start of streaming to the first partial.
    pub first_partial_ms: Option<f64>,
    /// Wall time from the end of the audio to the final transcript (the predictions
    /// format's `final_ms`). A clip's trailing padding counts as audio here.
    pub final_ms: Option<f64>,
    /// Wall time from the end of the speech (where the sound stops, before any trailing
    /// padding: [`AudioBuf::speech_end`]) to the moment the final transcript's decode
    /// finished: how long a resident who stopped talking waits for the recogniser. The
    /// live loop still waits for its end-point (the hang-over) before acting on it;
    /// `xiaoan bench dialogue` times that too.
    pub after_speech_ms: Option<f64>,
    /// Input duration.
    pub audio_s: f64,
    /// Total processing wall time.
    pub elapsed_ms: f64,
    /// What the second decodes of doubted utterances heard, in order.
    pub second_opinions: Vec<String>,
    /// The text understanding reads: the final transcript, with each doubted
    /// utterance's second opinion joined to it ([`crate::route::join_hypotheses`]).
    pub read_text: String,
    /// All decode time while streaming (partials, finals, second opinions, cancelled
    /// decodes), ms: divided by `audio_s`, the streaming compute RTF.
    pub decode_ms: f64,
}

impl Recognizer {
    /// Load the engine named in the config (`onnx`, `whisper` or `candle`) and the adapters.
    pub fn load(settings: &Settings) -> Result<Recognizer> {
        Self::load_engine(settings, &settings.config.asr.engine)
    }

    /// Load a given engine (for benchmarks that compare engines).
    pub fn load_engine(settings: &Settings, engine: &str) -> Result<Recognizer> {
        let model = load_model(settings, engine)?;
        let adapters = crate::adapters::Adapters::load(settings)?;
        let mut dialect_models = std::collections::HashMap::new();
        for (code, lora) in adapters.lora_files() {
            let m = load_model_with_lora(settings, engine, &code, &lora)?;
            dialect_models.insert(code, m);
        }
        let models = settings.home.join("models");
        let options = decode_options(settings)?;
        Ok(Recognizer {
            dialect_models,
            silero: Some(models.join("silero-vad").join("silero_vad.onnx")),
            ort_lib: Some(xiaoan_models::ort_lib(&settings.home)),
            ..Self::assemble(model, options, adapters, settings)
        })
    }

    /// A recogniser over any model (tests, scripted runs).
    pub fn with_model(model: Arc<dyn AsrModel>, settings: &Settings) -> Result<Recognizer> {
        let options = decode_options(settings)?;
        let adapters = crate::adapters::Adapters::load(settings)?;
        Ok(Self::assemble(model, options, adapters, settings))
    }

    /// A recogniser of `model` with the config's streaming, VAD and end-pointer
    /// settings; no LoRA-merged dialect engines, and the VAD's model files not named
    /// (the `earshot` VAD needs none).
    fn assemble(
        model: Arc<dyn AsrModel>,
        Options { base, fin, second }: Options,
        adapters: crate::adapters::Adapters,
        settings: &Settings,
    ) -> Recognizer {
        Recognizer {
            model,
            base,
            final_opts: fin,
            second,
            stream_cfg: stream_config(settings),
            vad: settings.config.audio.vad.clone(),
            endpoint: settings.config.audio.endpoint.clone(),
            adapters,
            dialect_models: std::collections::HashMap::new(),
            silero: None,
            ort_lib: None,
        }
    }

    /// The same recogniser with every engine passed through `wrap` (the terminal server
    /// puts each session's decodes through its shared scheduler this way).
    pub fn with_models(&self, wrap: &dyn Fn(Arc<dyn AsrModel>) -> Arc<dyn AsrModel>) -> Recognizer {
        Recognizer {
            model: wrap(self.model.clone()),
            base: self.base.clone(),
            final_opts: self.final_opts.clone(),
            second: self.second.clone(),
            stream_cfg: self.stream_cfg.clone(),
            vad: self.vad.clone(),
            endpoint: self.endpoint.clone(),
            adapters: self.adapters.clone(),
            dialect_models: self
                .dialect_models
                .iter()
                .map(|(k, m)| (k.clone(), wrap(m.clone())))
                .collect(),
            silero: self.silero.clone(),
            ort_lib: self.ort_lib.clone(),
        }
    }

    /// Decoding options with the dialect's adapter applied (the partials').
    pub fn options_for(&self, dialect: &str) -> DecodeOptions {
        self.adapters.decode_options(dialect, &self.base)
    }

    /// The final decode's options with the dialect's adapter applied.
    pub fn final_options_for(&self, dialect: &str) -> DecodeOptions {
        self.adapters
            .decode_options(dialect, self.final_opts.as_ref().unwrap_or(&self.base))
    }

    /// The second opinion's decoding options with the dialect's adapter applied (`None`
    /// when second opinions are off).
    pub fn second_options_for(&self, dialect: &str) -> Option<DecodeOptions> {
        let second = self.second.as_ref()?;
        if self
            .final_opts
            .as_ref()
            .is_some_and(|f| same_search(f, second))
        {
            return None; // the final already was that reading
        }
        Some(self.adapters.decode_options(dialect, second))
    }

    /// How the final decode searches, for reports: `greedy`, or e.g. `beam5+lm0.3`
    /// (with `+ladder` for a temperature fallback, `+prompt` for a prompt).
    pub fn final_search(&self) -> String {
        let f = self.final_opts.as_ref().unwrap_or(&self.base);
        let mut d = if f.beam_size > 1 {
            format!("beam{}", f.beam_size)
        } else {
            "greedy".to_string()
        };
        if f.lm.is_some() {
            d.push_str(&format!("+lm{}", f.lm_weight));
        }
        if f.temperatures.len() > 1 {
            d.push_str("+ladder");
        }
        if f.prompt.as_deref().is_some_and(|p| !p.trim().is_empty()) {
            d.push_str("+prompt");
        }
        d
    }

    /// A new end-pointer with the configured VAD.
    pub fn endpointer(&self) -> Result<Endpointer> {
        let vad =
            xiaoan_audio::vad_by_name(&self.vad, self.silero.as_deref(), self.ort_lib.as_deref())?;
        Ok(Endpointer::new(vad, self.endpoint.clone()))
    }

    /// The engine for a dialect: its adapter's LoRA-merged model, else the shared one.
    pub fn model_for(&self, dialect: &str) -> Arc<dyn AsrModel> {
        self.dialect_models
            .get(dialect)
            .cloned()
            .unwrap_or_else(|| self.model.clone())
    }

    /// A fresh per-utterance stream for a dialect; `background`: partials decode on a
    /// worker thread (the live loop: capture never waits for a decode), else every step
    /// on the caller's thread (a file decoded as fast as possible shows every partial).
    pub fn new_stream(&self, dialect: &str, background: bool) -> Box<dyn AsrStream> {
        let s = LocalAgreementStream::new(
            self.model_for(dialect),
            self.options_for(dialect),
            StreamConfig {
                background,
                ..self.stream_cfg.clone()
            },
        );
        Box::new(match &self.final_opts {
            Some(_) => s.with_final_options(self.final_options_for(dialect)),
            None => s,
        })
    }

    /// Transcribe a whole recording: the VAD cuts it into utterances, each is decoded
    /// once, as a final (no re-decoding, since nobody is waiting for partials).
    pub fn transcribe(&self, audio: &AudioBuf, dialect: &str) -> Result<String> {
        let vad =
            xiaoan_audio::vad_by_name(&self.vad, self.silero.as_deref(), self.ort_lib.as_deref())?;
        let opts = self.final_options_for(dialect);
        let model = self.model_for(dialect);
        let mut parts = Vec::new();
        for u in xiaoan_audio::split_utterances(audio, vad, &self.endpoint) {
            let t = model.decode(&u.audio.samples, &opts)?;
            if !t.text.trim().is_empty() {
                parts.push(t.text);
            }
        }
        Ok(parts.join("，"))
    }

    /// Stream an input through the live loop ([`Hearing`]: VAD → end-pointer →
    /// local-agreement ASR), in real time (`realtime`: audio is released at the pace it
    /// was recorded, partials decode in the background as on a live device) or as fast
    /// as possible (every partial decoded in turn). `on_partial` sees every partial as
    /// it is produced.
    pub fn stream(
        &self,
        audio: &AudioBuf,
        dialect: &str,
        realtime: bool,
        on_partial: &mut dyn FnMut(&Partial),
    ) -> Result<StreamOutcome> {
        self.stream_judged(audio, dialect, realtime, on_partial, &|_| false)
    }

    /// [`stream`](Self::stream), asking for a second opinion on every utterance whose
    /// final text `doubts` (the understanding's judgement, [`crate::route::doubts`]):
    /// understanding then reads both hypotheses joined
    /// ([`StreamOutcome::read_text`]), as in the live loop.
    pub fn stream_judged(
        &self,
        audio: &AudioBuf,
        dialect: &str,
        realtime: bool,
        on_partial: &mut dyn FnMut(&Partial),
        doubts: &dyn Fn(&str) -> bool,
    ) -> Result<StreamOutcome> {
        let mut second_opinions = Vec::new();
        let mut read = Vec::new();
        let sr = audio.sample_rate as f64;
        let chunk = ((FEED_CHUNK_S * sr) as usize).max(1);
        let mut hearing = Hearing::with_background(self, realtime)?;
        let mut utterances = Vec::new();
        let mut partials = Vec::new();
        let mut first_partial_ms = None;
        let start = Instant::now();
        let audio_s = audio.duration_s();
        let mut fed = 0usize;
        let speech_end = audio.speech_end();
        let mut speech_end_at: Option<Instant> = None;
        let mut final_ready_at: Option<Instant> = None;
        let mut audio_end_at: Option<Instant> = None;
        while fed < audio.samples.len() {
            if realtime {
                // release only the audio that has "arrived" by now
                let due = start + Duration::from_secs_f64((fed + chunk) as f64 / sr);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
            let end = (fed + chunk).min(audio.samples.len());
            if end >= speech_end && speech_end_at.is_none() {
                // the last speech sample reaches the recogniser: in real time at the
                // moment it was spoken, else as it is fed (before any decode it starts)
                speech_end_at = Some(if realtime {
                    start + Duration::from_secs_f64(speech_end as f64 / sr)
                } else {
                    Instant::now()
                });
            }
            let mut heard = hearing.push(&audio.samples[fed..end], dialect)?;
            fed = end;
            if fed == audio.samples.len() {
                audio_end_at = Some(if realtime {
                    (start + Duration::from_secs_f64(audio_s)).max(Instant::now())
                } else {
                    Instant::now()
                });
                // the end of the input ends the utterance
                heard.extend(hearing.flush(dialect)?);
            }
            for h in heard {
                match h {
                    Heard::Started => {}
                    Heard::Partial(text) => {
                        first_partial_ms.get_or_insert_with(|| ms(start.elapsed()));
                        let part = Partial {
                            at_s: fed as f64 / sr,
                            text,
                        };
                        on_partial(&part);
                        partials.push(part);
                    }
                    Heard::Final {
                        text,
                        decode_started,
                        decode_ms,
                        ..
                    } => {
                        final_ready_at =
                            Some(decode_started + Duration::from_secs_f64(decode_ms / 1000.0));
                        let (both, other) = hearing.reading(&text, doubts(&text))?;
                        second_opinions.extend(other);
                        if !text.trim().is_empty() {
                            utterances.push(text);
                        }
                        if !both.trim().is_empty() {
                            read.push(both);
                        }
                    }
                }
            }
        }
        let final_ms = audio_end_at.map(|a| ms(Instant::now().saturating_duration_since(a)));
        let after_speech_ms = match (speech_end_at, final_ready_at) {
            (Some(spoken), Some(ready)) => Some(ms(ready.saturating_duration_since(spoken))),
            _ => None,
        };
        Ok(StreamOutcome {
            text: utterances.join("，"),
            utterances,
            partials,
            first_partial_ms,
            final_ms,
            after_speech_ms,
            audio_s,
            elapsed_ms: ms(start.elapsed()),
            decode_ms: ms(hearing.decode_time()),
            second_opinions,
            read_text: read.join("，"),
        })
    }
}

/// Streaming settings from the config (the caller of `new_stream` picks `background`).
fn stream_config(settings: &Settings) -> StreamConfig {
    StreamConfig {
        step_s: settings.config.asr.step_s,
        max_utterance_s: settings.config.audio.endpoint.max_utterance_s,
        continue_committed: settings.config.asr.continue_committed,
        partial_duty: settings.config.asr.partial_duty,
        partial_pad_s: Some(settings.config.asr.partial_margin_s),
        ..StreamConfig::default()
    }
}

/// Decoding options from the config, before a dialect adapter is applied.
struct Options {
    /// every decode's (the partials')
    base: DecodeOptions,
    /// the final decode's, when `[asr.final]` makes them differ
    fin: Option<DecodeOptions>,
    /// the second opinion's, when enabled
    second: Option<DecodeOptions>,
}

/// The options of every decode, of the final one, and of the second opinion.
fn decode_options(settings: &Settings) -> Result<Options> {
    let asr = &settings.config.asr;
    let second = &asr.second_opinion;
    let fc = &asr.final_decode;
    let final_lm_weight = fc.lm_weight.unwrap_or(asr.lm_weight);
    // one model serves every decode
    let lm = if asr.lm_weight > 0.0
        || final_lm_weight > 0.0
        || (second.enabled && second.lm_weight > 0.0)
    {
        Some(Arc::new(domain_lm(settings)?))
    } else {
        None
    };
    let base = DecodeOptions {
        temperatures: asr.temperatures.clone(),
        beam_size: asr.beam_size,
        lm: lm.clone().filter(|_| asr.lm_weight > 0.0),
        lm_weight: asr.lm_weight,
        lm_bonus: asr.lm_bonus,
        no_speech_threshold: asr.no_speech_threshold,
        ..DecodeOptions::default()
    };
    let prompt = match fc.prompt.as_deref().map(str::trim) {
        Some("guide") => Some(guide_prompt(&crate::app::load_guide(settings)?)),
        Some(p) if !p.is_empty() => Some(p.to_string()),
        _ => None,
    };
    let fin = DecodeOptions {
        temperatures: fc
            .temperatures
            .clone()
            .unwrap_or_else(|| asr.temperatures.clone()),
        beam_size: fc.beam_size.unwrap_or(asr.beam_size),
        lm: lm.clone().filter(|_| final_lm_weight > 0.0),
        lm_weight: final_lm_weight,
        lm_bonus: fc.lm_bonus.unwrap_or(asr.lm_bonus),
        prompt: prompt.or_else(|| base.prompt.clone()),
        ..base.clone()
    };
    let differs = fin.temperatures != base.temperatures
        || fin.beam_size != base.beam_size
        || fin.lm.is_some() != base.lm.is_some()
        || (fin.lm.is_some() && (fin.lm_weight, fin.lm_bonus) != (base.lm_weight, base.lm_bonus))
        || fin.prompt != base.prompt;
    let second = second.enabled.then(|| DecodeOptions {
        temperatures: vec![0.0],
        beam_size: second.beam_size,
        lm: lm.filter(|_| second.lm_weight > 0.0),
        lm_weight: second.lm_weight,
        ..base.clone()
    });
    Ok(Options {
        base,
        fin: differs.then_some(fin),
        second,
    })
}

/// Whether two decodes search alike (beam, language model, prompt): a second opinion
/// with the final's own search would only repeat it.
fn same_search(a: &DecodeOptions, b: &DecodeOptions) -> bool {
    a.beam_size == b.beam_size
        && a.lm.is_some() == b.lm.is_some()
        && (a.lm.is_none() || (a.lm_weight, a.lm_bonus) == (b.lm_weight, b.lm_bonus))
        && a.prompt == b.prompt
}

/// Longest decoding prompt made of the guide's titles, in characters (Whisper reads
/// at most half its 448-token context as a prompt; a short one costs little time).
const GUIDE_PROMPT_CHARS: usize = 60;

/// The service guide's vocabulary as a decoding prompt: item titles in the guide's
/// order, joined by enumeration commas, up to [`GUIDE_PROMPT_CHARS`] characters.
fn guide_prompt(guide: &xiaoan_kb::Guide) -> String {
    let mut p = String::new();
    for it in &guide.items {
        let add = it.title.chars().count() + usize::from(!p.is_empty());
        if p.chars().count() + add > GUIDE_PROMPT_CHARS {
            break;
        }
        if !p.is_empty() {
            p.push('、');
        }
        p.push_str(&it.title);
    }
    p
}

/// The service-domain character language model: trained on what residents say and
/// what the centre offers, all of it the project's own text: the intent training lines
/// (every dialect's written forms) and the service guide in use (titles, the names
/// residents use, summaries, materials, steps).
fn domain_lm(settings: &Settings) -> Result<xiaoan_models::charlm::CharLm> {
    let guide = crate::app::load_guide(settings)?;
    let mut lines: Vec<String> = xiaoan_intents::train::examples()
        .iter()
        .map(|e| e.text.clone())
        .collect();
    for it in &guide.items {
        lines.push(it.title.clone());
        lines.extend(it.aliases.iter().cloned());
        lines.extend(it.dialect_aliases.iter().cloned());
        lines.extend(it.materials.iter().cloned());
        lines.extend(it.steps.iter().cloned());
        for s in [&it.summary, &it.eligibility] {
            lines.extend(
                s.split(['。', '；', '！', '？'])
                    .filter(|x| !x.trim().is_empty())
                    .map(str::to_string),
            );
        }
    }
    Ok(xiaoan_models::charlm::CharLm::train(&lines))
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

/// Load an ASR engine with one dialect adapter's LoRA deltas merged: candle merges them
/// at load; whisper.cpp reads the dialect's own file, which `xiaoan models import` wrote
/// with the deltas merged.
pub fn load_model_with_lora(
    settings: &Settings,
    engine: &str,
    dialect: &str,
    lora: &Path,
) -> Result<Arc<dyn AsrModel>> {
    match engine {
        #[cfg(feature = "candle")]
        "candle" => {
            let dir = xiaoan_models::whisper_dir(&settings.home);
            let l = xiaoan_models::lora::LoraAdapter::load(lora)?;
            Ok(Arc::new(candle_margin(
                xiaoan_models::CandleWhisper::load_with_lora(&dir, Some(&l))?,
                settings,
            )))
        }
        #[cfg(feature = "whisper")]
        "whisper" => {
            let ggml = crate::adapters::ggml_path_for(settings, Some(dialect));
            if !ggml.is_file() {
                return Err(Error::NotInstalled {
                    what: format!("the whisper.cpp model with the {dialect} adapter's LoRA merged"),
                    path: ggml.display().to_string(),
                });
            }
            Ok(Arc::new(whisper_margin(
                xiaoan_models::WhisperCpp::load(&ggml, settings.config.asr.threads)?,
                settings,
            )))
        }
        #[cfg(feature = "onnx")]
        "onnx" => {
            let l = xiaoan_models::lora::LoraAdapter::load(lora)?;
            Ok(Arc::new(candle_margin(
                load_onnx(settings, Some(&l))?,
                settings,
            )))
        }
        // an engine not built in: the same clear error as without an adapter
        _ => load_model(settings, engine),
    }
}

/// `asr.encoder_margin_s` applied to the candle engine (unset: its own default).
#[cfg(feature = "candle")]
fn candle_margin(
    m: xiaoan_models::CandleWhisper,
    settings: &Settings,
) -> xiaoan_models::CandleWhisper {
    match settings.config.asr.encoder_margin_s {
        Some(s) => m.with_encoder_pad(s),
        None => m,
    }
}

/// The `onnx` engine: Whisper's encoder on ONNX Runtime (the library the set-up unpacks
/// for the Silero VAD), the decoder on candle.
#[cfg(feature = "onnx")]
fn load_onnx(
    settings: &Settings,
    lora: Option<&xiaoan_models::lora::LoraAdapter>,
) -> Result<xiaoan_models::CandleWhisper> {
    let lib = xiaoan_models::ort_lib(&settings.home);
    if !lib.is_file() {
        return Err(Error::NotInstalled {
            what: "the ONNX Runtime library (asr.engine = \"onnx\")".into(),
            path: lib.display().to_string(),
        });
    }
    let dir = xiaoan_models::whisper_dir(&settings.home);
    if !dir.join("model.safetensors").is_file() {
        return Err(Error::NotInstalled {
            what: "the Whisper model (candle, ONNX Runtime encoder)".into(),
            path: dir.display().to_string(),
        });
    }
    Ok(xiaoan_models::CandleWhisper::load_onnx(
        &dir,
        lora,
        &lib,
        settings.config.asr.threads,
    )?)
}

/// `asr.encoder_margin_s` applied to the whisper.cpp engine (unset: its own default).
#[cfg(feature = "whisper")]
fn whisper_margin(m: xiaoan_models::WhisperCpp, settings: &Settings) -> xiaoan_models::WhisperCpp {
    match settings.config.asr.encoder_margin_s {
        Some(s) => m.with_encoder_margin(s),
        None => m,
    }
}

/// Load an ASR engine by name from the imported model files.
pub fn load_model(settings: &Settings, engine: &str) -> Result<Arc<dyn AsrModel>> {
    let dir = xiaoan_models::whisper_dir(&settings.home);
    match engine {
        "candle" => {
            #[cfg(feature = "candle")]
            {
                if !dir.join("model.safetensors").is_file() {
                    return Err(Error::NotInstalled {
                        what: "the Whisper model (candle)".into(),
                        path: dir.display().to_string(),
                    });
                }
                let m = xiaoan_models::CandleWhisper::load(&dir)?;
                Ok(Arc::new(candle_margin(m, settings)))
            }
            #[cfg(not(feature = "candle"))]
            {
                Err(Error::Config {
                    file: "xiaoan.toml".into(),
                    reason: "asr.engine = \"candle\" but this build has no candle engine: rebuild with `--features candle`".into(),
                })
            }
        }
        "whisper" => {
            #[cfg(feature = "whisper")]
            {
                let ggml = crate::adapters::ggml_path(settings);
                if !ggml.is_file() {
                    return Err(Error::NotInstalled {
                        what: "the whisper.cpp model file".into(),
                        path: ggml.display().to_string(),
                    });
                }
                let m = xiaoan_models::WhisperCpp::load(&ggml, settings.config.asr.threads)?;
                Ok(Arc::new(whisper_margin(m, settings)))
            }
            #[cfg(not(feature = "whisper"))]
            {
                Err(Error::Config {
                    file: "xiaoan.toml".into(),
                    reason: "asr.engine = \"whisper\" but this build has no whisper.cpp engine: rebuild with `--features whisper`".into(),
                })
            }
        }
        "onnx" => {
            #[cfg(feature = "onnx")]
            {
                Ok(Arc::new(candle_margin(
                    load_onnx(settings, None)?,
                    settings,
                )))
            }
            #[cfg(not(feature = "onnx"))]
            {
                Err(Error::Config {
                    file: "xiaoan.toml".into(),
                    reason: "asr.engine = \"onnx\" but this build has no ONNX Runtime encoder: rebuild with `--features onnx`".into(),
                })
            }
        }
        other => Err(Error::Config {
            file: "xiaoan.toml".into(),
            reason: format!("asr.engine: unknown engine \"{other}\""),
        }),
    }
}

/// Decode an audio file with the configured limits.
pub fn load_audio(settings: &Settings, path: &Path) -> Result<AudioBuf> {
    let opts = xiaoan_audio::DecodeOptions {
        max_seconds: settings.config.audio.max_seconds,
    };
    Ok(xiaoan_audio::load(path, &opts)?)
}
