//! `xiaoan say`: speak a text with the voice a session in that dialect would hear.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use xiaoan_agent::config::Settings;
use xiaoan_agent::dialogue::Reply;
use xiaoan_agent::speech::Speech;
use xiaoan_models::Voice;

/// Longest text `say` takes, in characters (about four minutes of speech).
pub const MAX_SAY_CHARS: usize = 1_000;

/// What to say and how.
pub struct SayArgs<'a> {
    /// The text (Chinese, as a reply would carry it).
    pub text: &'a str,
    /// Dialect code of the voice (default Mandarin).
    pub dialect: &'a str,
    /// Speaking rate in words per minute (default: the profile's).
    pub rate: Option<u32>,
    /// Pitch 0–99 (default: the config's).
    pub pitch: Option<u8>,
    /// Write a 16-bit WAV here instead of playing.
    pub out: Option<&'a Path>,
}

/// Speak `a.text` into a WAV file, or on the speaker.
pub fn say(s: &Settings, a: SayArgs<'_>) -> Result<ExitCode> {
    let n = a.text.chars().count();
    if a.text.trim().is_empty() {
        anyhow::bail!("nothing to say: give a text, e.g. xiaoan say \"您好\"");
    }
    if n > MAX_SAY_CHARS {
        anyhow::bail!("the text has {n} characters; say takes at most {MAX_SAY_CHARS}");
    }
    if !xiaoan_eval::codes::is_dialect(a.dialect) {
        anyhow::bail!("unknown dialect \"{}\" (see spec/dialects.tsv)", a.dialect);
    }
    let voices = SessionVoices::load(s)?;
    let voice = voices.voice(
        a.dialect,
        a.rate.unwrap_or(s.dialogue.rate_wpm),
        a.pitch.unwrap_or(s.config.tts.pitch),
    );
    let speech = &voices.speech;
    let audio = speech.render_all(&Reply::say(a.text), &voice, false)?;
    match a.out {
        Some(path) => {
            xiaoan_audio::write_wav(path, &audio)
                .with_context(|| format!("writing {}", path.display()))?;
            println!(
                "{}: {:.2} s at {} Hz ({})",
                path.display(),
                audio.duration_s(),
                audio.sample_rate,
                speech.engine_name()
            );
        }
        None => play(&audio)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The voices sessions speak with, as the settings configure them (engine, dialect
/// adapters' voices, volume); also the voice of `xiaoan eval synth`.
pub struct SessionVoices {
    /// The synthesiser.
    pub speech: Speech,
    adapters: Option<xiaoan_agent::adapters::Adapters>,
    volume: f32,
}

impl SessionVoices {
    /// Load the configured engine.
    pub fn load(s: &Settings) -> Result<Self> {
        Ok(Self {
            speech: Speech::from_settings(s)?,
            adapters: xiaoan_agent::adapters::Adapters::load(s).ok(),
            volume: s.dialogue.volume,
        })
    }

    /// The voice of a session in `dialect` at `rate_wpm` and `pitch` (0–99).
    pub fn voice(&self, dialect: &str, rate_wpm: u32, pitch: u8) -> Voice {
        Voice {
            name: match &self.adapters {
                Some(a) => a.tts_voice(dialect),
                None => xiaoan_models::voice_for_dialect(dialect).to_string(),
            },
            rate_wpm,
            pitch: pitch.min(99),
            volume: self.volume,
        }
    }
}

impl xiaoan_eval::synth::SynthVoice for SessionVoices {
    fn render(
        &self,
        text: &str,
        dialect: &str,
        rate_wpm: u32,
        pitch: u8,
    ) -> xiaoan_eval::Result<(Vec<f32>, u32)> {
        let v = Voice {
            volume: 1.0,
            ..self.voice(dialect, rate_wpm, pitch)
        };
        let a = self
            .speech
            .render_all(&Reply::say(text), &v, false)
            .map_err(|e| xiaoan_eval::Error::Voice(e.to_string()))?;
        Ok((a.samples, a.sample_rate))
    }

    fn describe(&self, dialect: &str) -> (String, bool) {
        use xiaoan_models::Spoken;
        match xiaoan_models::spoken_as(&self.voice(dialect, 150, 50).name) {
            Spoken::Cantonese => ("espeak-ng voice yue".into(), dialect == "yue"),
            _ => (
                format!("Mandarin voice: {}", self.speech.engine_name()),
                dialect == "cmn",
            ),
        }
    }
}

#[cfg(feature = "mic")]
fn play(audio: &xiaoan_audio::AudioBuf) -> Result<()> {
    let speaker = xiaoan_audio::Speaker::open_default()
        .context("cannot play (use --out FILE.wav to write the speech instead)")?;
    speaker.play(audio);
    while speaker.is_playing() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

#[cfg(not(feature = "mic"))]
fn play(_audio: &xiaoan_audio::AudioBuf) -> Result<()> {
    anyhow::bail!(
        "this build has no speaker support (feature `mic`): use --out FILE.wav to write the speech"
    )
}
