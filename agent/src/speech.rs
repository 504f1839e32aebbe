//! Speech output: replies become audio sentence by sentence, so the first sentence can
//! play while the rest are synthesised; frequent prompts are cached.

use std::collections::HashMap;
use std::sync::Mutex;

use xiaoan_audio::{earcon, AudioBuf, Earcon};
use xiaoan_models::{TtsEngine, Voice};

use crate::config::Settings;
use crate::dialogue::{sentences, Reply, Session};
use crate::error::Result;

/// Most cached sentences kept (prompts, greetings, short confirmations).
const CACHE_LIMIT: usize = 256;
/// Only sentences up to this many characters are cached (long answers rarely repeat).
const CACHE_MAX_CHARS: usize = 40;
/// Silence between sentences, seconds.
const GAP_S: f64 = 0.15;

/// A TTS engine with a sentence cache.
pub struct Speech {
    tts: Box<dyn TtsEngine>,
    /// (voice, rate, pitch, sentence) → its pieces at volume 1
    cache: Mutex<HashMap<(String, u32, u8, String), Vec<AudioBuf>>>,
}

impl Speech {
    /// Wrap an engine.
    pub fn new(tts: Box<dyn TtsEngine>) -> Speech {
        Speech {
            tts,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The voices the settings name (`tts.engine`): see [`Speech::for_engine`].
    pub fn from_settings(s: &Settings) -> Result<Speech> {
        Self::for_engine(&s.config.tts.engine, &s.home, s.config.asr.threads)
    }

    /// The voices of engine `engine` with the models under `home`: `neural` (the neural
    /// Mandarin voice, on `threads` threads), `espeak` or `silent`. With `neural` and
    /// `espeak`, Cantonese is espeak-ng `yue` when espeak-ng is installed, and every
    /// other dialect is spoken in Mandarin ([`xiaoan_models::VoiceSet`]).
    pub fn for_engine(engine: &str, home: &std::path::Path, threads: usize) -> Result<Speech> {
        use xiaoan_models::{EspeakTts, SilentTts, VoiceSet};
        let cantonese = || {
            EspeakTts::new()
                .ok()
                .map(|e| Box::new(e) as Box<dyn TtsEngine>)
        };
        let tts: Box<dyn TtsEngine> = match engine {
            "silent" => Box::new(SilentTts),
            "espeak" => Box::new(VoiceSet::new(Box::new(EspeakTts::new()?), cantonese())),
            _ => Box::new(VoiceSet::new(neural_voice(home, threads)?, cantonese())),
        };
        Ok(Speech::new(tts))
    }

    /// The engine's name, for logs and reports.
    pub fn engine_name(&self) -> &str {
        self.tts.name()
    }

    /// Forget every cached sentence (benchmarks measure replies with a cold cache).
    pub fn clear_cache(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }

    /// Synthesize one sentence (cached when short): `emit` receives its pieces (the
    /// phrases between its pauses) as soon as each is made.
    pub fn sentence_each(
        &self,
        text: &str,
        voice: &Voice,
        emit: &mut dyn FnMut(AudioBuf),
    ) -> Result<()> {
        let key = (
            voice.name.clone(),
            voice.rate_wpm,
            voice.pitch,
            text.to_string(),
        );
        let cacheable = text.chars().count() <= CACHE_MAX_CHARS;
        if cacheable {
            if let Ok(c) = self.cache.lock() {
                if let Some(pieces) = c.get(&key) {
                    for a in pieces {
                        emit(scale(a.clone(), voice.volume));
                    }
                    return Ok(());
                }
            }
        }
        let mut plain = voice.clone();
        plain.volume = 1.0;
        let mut made = Vec::new();
        self.tts.synthesize_each(text, &plain, &mut |a| {
            if cacheable {
                made.push(a.clone());
            }
            emit(scale(a, voice.volume));
        })?;
        if cacheable {
            if let Ok(mut c) = self.cache.lock() {
                if c.len() >= CACHE_LIMIT {
                    c.clear();
                }
                c.insert(key, made);
            }
        }
        Ok(())
    }

    /// One sentence as one buffer (its pieces joined with the short gap).
    pub fn sentence(&self, text: &str, voice: &Voice) -> Result<AudioBuf> {
        let mut parts = Vec::new();
        self.sentence_each(text, voice, &mut |a| parts.push(a))?;
        Ok(concat(parts))
    }

    /// Render a reply sentence by sentence; `sink` receives each piece as soon as it is
    /// ready (earcon first, then each phrase of each sentence), so playback can start
    /// before the rest is synthesised.
    pub fn render(
        &self,
        reply: &Reply,
        voice: &Voice,
        earcons: bool,
        sink: &mut dyn FnMut(AudioBuf),
    ) -> Result<()> {
        if earcons {
            if let Some(e) = reply.earcon {
                sink(earcon(e, xiaoan_audio::SAMPLE_RATE));
            }
        }
        for s in sentences(&reply.text) {
            self.sentence_each(&xiaoan_kb::speakable(&s), voice, sink)?;
        }
        Ok(())
    }

    /// Speak a reply into a playback queue: `play` receives the earcon, then each
    /// sentence followed by the short gap, as soon as that sentence is synthesised, so
    /// the first sentence plays while the rest are being made. Returns the number of
    /// pieces queued.
    pub fn speak(
        &self,
        reply: &Reply,
        voice: &Voice,
        earcons: bool,
        play: &mut dyn FnMut(AudioBuf),
    ) -> Result<usize> {
        let mut n = 0;
        self.render(reply, voice, earcons, &mut |mut a| {
            let gap = (GAP_S * a.sample_rate as f64) as usize;
            a.samples.extend(std::iter::repeat_n(0.0, gap));
            n += 1;
            play(a);
        })?;
        Ok(n)
    }

    /// The reply's first sentence as it will be spoken (after [`xiaoan_kb::speakable`]),
    /// or `None` for a reply without words.
    pub fn first_sentence(reply: &Reply) -> Option<String> {
        sentences(&reply.text)
            .into_iter()
            .next()
            .map(|s| xiaoan_kb::speakable(&s))
    }

    /// A whole reply as one buffer (for WAV files), at the TTS engine's rate.
    pub fn render_all(&self, reply: &Reply, voice: &Voice, earcons: bool) -> Result<AudioBuf> {
        let mut parts: Vec<AudioBuf> = Vec::new();
        self.render(reply, voice, earcons, &mut |a| parts.push(a))?;
        Ok(concat(parts))
    }
}

#[cfg(feature = "onnx")]
fn neural_voice(home: &std::path::Path, threads: usize) -> Result<Box<dyn TtsEngine>> {
    let v = xiaoan_models::NeuralTts::load(
        &xiaoan_models::voice_dir(home),
        &xiaoan_models::ort_lib(home),
        threads,
    )?;
    Ok(Box::new(v))
}

#[cfg(not(feature = "onnx"))]
fn neural_voice(_home: &std::path::Path, _threads: usize) -> Result<Box<dyn TtsEngine>> {
    Err(xiaoan_models::Error::Disabled("onnx").into())
}

/// An earcon alone (listening cue and the like).
pub fn cue(e: Earcon) -> AudioBuf {
    earcon(e, xiaoan_audio::SAMPLE_RATE)
}

fn scale(mut a: AudioBuf, volume: f32) -> AudioBuf {
    if (volume - 1.0).abs() > f32::EPSILON {
        for x in a.samples.iter_mut() {
            *x = (*x * volume).clamp(-1.0, 1.0);
        }
    }
    a
}

/// Join buffers at the first one's rate (others resampled), with short gaps.
pub fn concat(parts: Vec<AudioBuf>) -> AudioBuf {
    let rate = parts
        .iter()
        .map(|p| p.sample_rate)
        .max()
        .unwrap_or(xiaoan_audio::SAMPLE_RATE);
    let gap = vec![0.0; (GAP_S * rate as f64) as usize];
    let mut out = Vec::new();
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(&gap);
        }
        if p.sample_rate == rate {
            out.extend(p.samples);
        } else if let Ok(r) = xiaoan_audio::resample(&p.samples, p.sample_rate, rate) {
            out.extend(r);
        }
    }
    AudioBuf::new(out, rate)
}

/// The voice for a session: the dialect adapter's espeak-ng voice at the session's rate
/// and volume.
pub fn voice_for(s: &Settings, session: &Session) -> Voice {
    let v = crate::adapters::Adapters::load(s)
        .ok()
        .map(|a| a.tts_voice(session.dialect_code()))
        .unwrap_or_else(|| xiaoan_models::voice_for_dialect(session.dialect_code()).to_string());
    Voice {
        name: v,
        rate_wpm: session.rate_wpm,
        pitch: s.config.tts.pitch,
        volume: session.volume,
    }
}
