//! The runtime pipeline (PIPELINE.md): audio → VAD/end-pointer → streaming ASR with the
//! session's adapter → understanding → retrieval. `transcribe`, `demo`, `eval`, `bench`
//! and `listen` all go through [`Recognizer::stream`]; there is no second path.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use xiaoan_audio::{AudioBuf, EndpointConfig, EndpointEvent, Endpointer};
use xiaoan_models::{AsrModel, AsrStream, DecodeOptions, LocalAgreementStream, StreamConfig};

use crate::config::Settings;
use crate::error::{Error, Result};

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
    /// Wall time from the end of the audio to the final transcript.
    pub final_ms: Option<f64>,
    /// Input duration.
    pub audio_s: f64,
    /// Total processing wall time.
    pub elapsed_ms: f64,
}

impl Recognizer {
    /// Load the engine named in the config (`candle` or `whisper`) and the adapters.
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
        let stream_cfg = StreamConfig {
            step_s: settings.config.asr.step_s,
            max_utterance_s: settings.config.audio.endpoint.max_utterance_s,
        };
        let models = settings.home.join("models");
        Ok(Recognizer {
            model,
            base: base_options(settings),
            stream_cfg,
            vad: settings.config.audio.vad.clone(),
            endpoint: settings.config.audio.endpoint.clone(),
            adapters,
            dialect_models,
            silero: Some(models.join("silero-vad").join("silero_vad.onnx")),
            ort_lib: Some(settings.home.join("lib").join("libonnxruntime.so.1.32.0")),
        })
    }

    /// A recogniser over any model (tests, scripted runs).
    pub fn with_model(model: Arc<dyn AsrModel>, settings: &Settings) -> Result<Recognizer> {
        Ok(Recognizer {
            model,
            base: base_options(settings),
            stream_cfg: StreamConfig {
                step_s: settings.config.asr.step_s,
                max_utterance_s: settings.config.audio.endpoint.max_utterance_s,
            },
            vad: settings.config.audio.vad.clone(),
            endpoint: settings.config.audio.endpoint.clone(),
            adapters: crate::adapters::Adapters::load(settings)?,
            dialect_models: std::collections::HashMap::new(),
            silero: None,
            ort_lib: None,
        })
    }

    /// Decoding options with the dialect's adapter applied.
    pub fn options_for(&self, dialect: &str) -> DecodeOptions {
        self.adapters.decode_options(dialect, &self.base)
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

    /// A fresh per-utterance stream for a dialect.
    pub fn new_stream(&self, dialect: &str) -> Box<dyn AsrStream> {
        Box::new(LocalAgreementStream::new(
            self.model_for(dialect),
            self.options_for(dialect),
            self.stream_cfg.clone(),
        ))
    }

    /// Transcribe a whole recording: the VAD cuts it into utterances, each is decoded
    /// once (no re-decoding, since nobody is waiting for partials).
    pub fn transcribe(&self, audio: &AudioBuf, dialect: &str) -> Result<String> {
        let vad =
            xiaoan_audio::vad_by_name(&self.vad, self.silero.as_deref(), self.ort_lib.as_deref())?;
        let opts = self.options_for(dialect);
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

    /// Stream an input through VAD → end-pointer → local-agreement ASR, in real time
    /// (`realtime`: audio is released at the pace it was recorded, decoding competes
    /// with it as on a live device) or as fast as possible. `on_partial` sees every
    /// partial as it is produced.
    pub fn stream(
        &self,
        audio: &AudioBuf,
        dialect: &str,
        realtime: bool,
        on_partial: &mut dyn FnMut(&Partial),
    ) -> Result<StreamOutcome> {
        let sr = audio.sample_rate as f64;
        let chunk = ((FEED_CHUNK_S * sr) as usize).max(1);
        let mut ep = self.endpointer()?;
        let mut stream: Option<Box<dyn AsrStream>> = None;
        let mut utterances = Vec::new();
        let mut partials = Vec::new();
        let mut first_partial_ms = None;
        let mut last_partial = String::new();
        let start = Instant::now();
        let audio_s = audio.duration_s();
        let mut fed = 0usize;
        let mut final_at: Option<Instant> = None;
        let mut audio_end_at: Option<Instant> = None;

        let mut handle = |events: Vec<EndpointEvent>,
                          stream: &mut Option<Box<dyn AsrStream>>,
                          utterances: &mut Vec<String>,
                          at_s: f64|
         -> Result<()> {
            // the index of the last End in this batch: audio before it is decoded once,
            // by `finish`, not first by a partial that nobody would see
            let last_end = events
                .iter()
                .rposition(|e| matches!(e, EndpointEvent::End { .. }));
            for (i, ev) in events.into_iter().enumerate() {
                match ev {
                    EndpointEvent::Start { .. } => {
                        *stream = Some(self.new_stream(dialect));
                    }
                    EndpointEvent::Audio(samples) => {
                        if let Some(st) = stream.as_mut() {
                            st.accept_waveform(&samples);
                            if last_end.is_some_and(|e| e > i) {
                                continue;
                            }
                            if let Some(p) = st.partial()? {
                                if !p.is_empty() && p != last_partial {
                                    if first_partial_ms.is_none() {
                                        first_partial_ms = Some(ms(start.elapsed()));
                                    }
                                    last_partial = p.clone();
                                    let part = Partial { at_s, text: p };
                                    on_partial(&part);
                                    partials.push(part);
                                }
                            }
                        }
                    }
                    EndpointEvent::End { .. } => {
                        if let Some(mut st) = stream.take() {
                            let t = st.finish()?;
                            if !t.text.trim().is_empty() {
                                utterances.push(t.text);
                            }
                            last_partial.clear();
                        }
                    }
                }
            }
            Ok(())
        };

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
            let mut events = ep.push(&audio.samples[fed..end]);
            fed = end;
            if fed == audio.samples.len() {
                audio_end_at = Some(if realtime {
                    (start + Duration::from_secs_f64(audio_s)).max(Instant::now())
                } else {
                    Instant::now()
                });
                // the end of the input ends the utterance: one batch, one final decode
                events.extend(ep.flush());
            }
            handle(events, &mut stream, &mut utterances, fed as f64 / sr)?;
        }
        let events = ep.flush();
        handle(events, &mut stream, &mut utterances, audio_s)?;
        if let Some(mut st) = stream.take() {
            let t = st.finish()?;
            if !t.text.trim().is_empty() {
                utterances.push(t.text);
            }
        }
        final_at.get_or_insert_with(Instant::now);
        let final_ms = match (audio_end_at, final_at) {
            (Some(a), Some(f)) => Some(ms(f.saturating_duration_since(a))),
            _ => None,
        };
        Ok(StreamOutcome {
            text: utterances.join("，"),
            utterances,
            partials,
            first_partial_ms,
            final_ms,
            audio_s,
            elapsed_ms: ms(start.elapsed()),
        })
    }
}

/// Decoding options from the config, before a dialect adapter is applied.
fn base_options(settings: &Settings) -> DecodeOptions {
    DecodeOptions {
        temperatures: settings.config.asr.temperatures.clone(),
        ..DecodeOptions::default()
    }
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
            Ok(Arc::new(xiaoan_models::CandleWhisper::load_with_lora(
                &dir,
                Some(&l),
            )?))
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
            Ok(Arc::new(xiaoan_models::WhisperCpp::load(
                &ggml,
                settings.config.asr.threads,
            )?))
        }
        // an engine not built in: the same clear error as without an adapter
        _ => load_model(settings, engine),
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
                Ok(Arc::new(m))
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
                Ok(Arc::new(m))
            }
            #[cfg(not(feature = "whisper"))]
            {
                Err(Error::Config {
                    file: "xiaoan.toml".into(),
                    reason: "asr.engine = \"whisper\" but this build has no whisper.cpp engine: rebuild with `--features whisper`".into(),
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

/// Trailing silence after which the final decode starts, in ms, while the end-pointer
/// is still waiting out its longer hang-over (`trailing_silence_ms`). 300 ms: longer
/// than the gaps between syllables of espeak-ng's Mandarin (about 120 ms plus a soft
/// onset) and of careful speakers, so speech rarely resumes after it (and when it
/// does, nothing is lost but the decode).
pub const EARLY_FINAL_MS: u32 = 300;

/// Partial re-decodes are skipped while the loop runs more than this far behind the
/// audio (ms): a partial decode of the whole utterance costs more than the step it
/// covers on a small machine, and a backlog would delay the end-point itself.
pub const PARTIAL_MAX_LAG_MS: u64 = 150;

/// What [`Hearing::push`] reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Heard {
    /// Speech started (the end-pointer confirmed an onset).
    Started,
    /// The committed text of the current utterance grew.
    Partial(String),
    /// The utterance ended: its final transcript (may be empty: no words).
    Final {
        /// The final text.
        text: String,
        /// When the decode that produced `text` started (during the hang-over when
        /// `early`, else at the end-point).
        decode_started: Instant,
        /// How long that decode took, ms.
        decode_ms: f64,
        /// True when the early final decode (made during the hang-over) was used.
        early: bool,
        /// Audio time of the end-point, seconds since the hearing started.
        at_s: f64,
    },
}

/// The listening half of a live turn, shared by `xiaoan listen` and
/// `xiaoan bench dialogue` so the benchmark measures the loop residents meet.
///
/// Captured frames go through the end-pointer into a streaming recogniser (partials
/// while the resident speaks). The end-pointer closes an utterance only after
/// `trailing_silence_ms` of silence; waiting that long before starting the final
/// decode would add the decode to the hang-over. So once [`EARLY_FINAL_MS`] of
/// silence has followed speech, the final decode runs at once on the audio so far,
/// and further silence is held back from the recogniser; when the end-point comes the
/// final is already there. If speech resumes first, the held-back audio is fed and
/// streaming carries on as if nothing happened.
pub struct Hearing<'a> {
    rec: &'a Recognizer,
    ep: Endpointer,
    stream: Option<Box<dyn AsrStream>>,
    /// audio of the current utterance not yet fed (silence after the early final)
    held: Vec<f32>,
    /// samples of silence since the last speech frame of the current utterance
    quiet: usize,
    /// the early final decode (text, start, ms), valid while `held` is all that came
    /// after it
    early: Option<(String, Instant, f64)>,
    /// wall time of the first frame and samples pushed since: how far behind we are
    clock: Option<(Instant, u64)>,
}

impl<'a> Hearing<'a> {
    /// Listen with `rec`'s end-pointer settings.
    pub fn new(rec: &'a Recognizer) -> Result<Hearing<'a>> {
        Ok(Hearing {
            rec,
            ep: rec.endpointer()?,
            stream: None,
            held: Vec::new(),
            quiet: 0,
            early: None,
            clock: None,
        })
    }

    /// How far the loop runs behind the audio it was given, ms.
    fn lag_ms(&self) -> u64 {
        match self.clock {
            Some((t0, n)) => {
                let audio = Duration::from_secs_f64(n as f64 / xiaoan_audio::SAMPLE_RATE as f64);
                t0.elapsed().saturating_sub(audio).as_millis() as u64
            }
            None => 0,
        }
    }

    /// The end-pointer (thresholds, probability meter).
    pub fn endpointer(&self) -> &Endpointer {
        &self.ep
    }

    /// Forget the current utterance and the end-pointer's state (after a barge-in).
    pub fn reset(&mut self) {
        self.ep.reset();
        self.stream = None;
        self.held.clear();
        self.quiet = 0;
        self.early = None;
        self.clock = None;
    }

    /// Feed captured 16 kHz frames; `dialect` picks the adapter for an utterance that
    /// starts here. Partial and final decodes run inside this call.
    pub fn push(&mut self, frame: &[f32], dialect: &str) -> Result<Vec<Heard>> {
        let mut out = Vec::new();
        let (t0, n) = *self.clock.get_or_insert((Instant::now(), 0));
        self.clock = Some((t0, n + frame.len() as u64));
        let lagging = self.lag_ms() > PARTIAL_MAX_LAG_MS;
        let events = self.ep.push(frame);
        let silent = self.ep.last_probability() < self.ep.threshold();
        let early_samples =
            (EARLY_FINAL_MS as u64 * xiaoan_audio::SAMPLE_RATE as u64 / 1000) as usize;
        for ev in events {
            match ev {
                EndpointEvent::Start { .. } => {
                    self.stream = Some(self.rec.new_stream(dialect));
                    self.held.clear();
                    self.quiet = 0;
                    self.early = None;
                    out.push(Heard::Started);
                }
                EndpointEvent::Audio(samples) => {
                    let Some(st) = self.stream.as_mut() else {
                        continue;
                    };
                    if silent {
                        self.quiet += samples.len();
                    } else {
                        self.quiet = 0;
                    }
                    if self.early.is_some() && silent {
                        self.held.extend_from_slice(&samples);
                        continue;
                    }
                    if !self.held.is_empty() || self.early.is_some() {
                        // speech resumed after the early final: it no longer stands
                        st.accept_waveform(&std::mem::take(&mut self.held));
                        self.early = None;
                    }
                    st.accept_waveform(&samples);
                    if self.quiet == 0 && !lagging {
                        if let Some(p) = st.partial()? {
                            out.push(Heard::Partial(p));
                        }
                    } else if self.quiet >= early_samples {
                        let t0 = Instant::now();
                        let text = st.finish()?.text;
                        self.early = Some((text, t0, ms(t0.elapsed())));
                    }
                }
                EndpointEvent::End { at_s, .. } => {
                    if let Some(mut st) = self.stream.take() {
                        let (text, decode_started, decode_ms, early) = match self.early.take() {
                            Some((t, t0, d)) => (t, t0, d, true),
                            None => {
                                let t0 = Instant::now();
                                let text = st.finish()?.text;
                                (text, t0, ms(t0.elapsed()), false)
                            }
                        };
                        out.push(Heard::Final {
                            text,
                            decode_started,
                            decode_ms,
                            early,
                            at_s,
                        });
                    }
                    self.held.clear();
                    self.quiet = 0;
                }
            }
        }
        Ok(out)
    }
}
