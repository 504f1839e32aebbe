//! Speech synthesis: [`TtsEngine`]; the neural Mandarin voice ([`NeuralTts`], feature
//! `onnx`), the espeak-ng program ([`EspeakTts`]) and a silent stand-in ([`SilentTts`]);
//! [`VoiceSet`] speaks each dialect with the voice that is verified intelligible for it.

use std::io::Write;
use std::process::{Command, Stdio};

use xiaoan_audio::AudioBuf;

use crate::error::{Error, Result};

pub mod frontend;
pub mod neural;

/// How a reply is spoken.
#[derive(Clone, Debug)]
pub struct Voice {
    /// The voice asked for: an adapter's `tts_voice`, i.e. an espeak-ng voice name
    /// (`cmn-latn-pinyin` is Mandarin, `yue` Cantonese, `hak` Hakka; see
    /// [`voice_for_dialect`]). [`VoiceSet`] decides which synthesiser speaks it.
    pub name: String,
    /// Speaking rate in words per minute (espeak `-s`). Default 150.
    pub rate_wpm: u32,
    /// Pitch, 0–99 (espeak `-p`). Default 50.
    pub pitch: u8,
    /// Loudness, 0–2 with 1 normal (espeak `-a` 0–200). Default 1.
    pub volume: f32,
}

impl Default for Voice {
    fn default() -> Self {
        Self {
            name: MANDARIN_VOICE.into(),
            rate_wpm: 150,
            pitch: 50,
            volume: 1.0,
        }
    }
}

/// espeak-ng's usable Mandarin voice (reads characters with tones; plain `cmn` spells pinyin).
pub const MANDARIN_VOICE: &str = "cmn-latn-pinyin";

/// The espeak-ng voice for a dialect code of `spec/dialects.tsv`: Cantonese and Hakka
/// have their own voices; the Wu, Min and Sichuanese codes (and anything unknown) are
/// spoken in Mandarin, which every resident of those regions understands.
pub fn voice_for_dialect(code: &str) -> &'static str {
    match code {
        "yue" => "yue",
        "hak" => "hak",
        _ => MANDARIN_VOICE,
    }
}

/// A speech synthesiser. Object-safe and shared (`Arc`) like the recognisers.
pub trait TtsEngine: Send + Sync {
    /// A short name for logs.
    fn name(&self) -> &str;
    /// Speak `text` with `voice`; the audio comes at the engine's own rate.
    fn synthesize(&self, text: &str, voice: &Voice) -> Result<AudioBuf>;

    /// Speak `text` piece by piece: `emit` receives each piece (a phrase between
    /// pauses) as soon as it is made, so playback can start before the rest exists.
    /// Pieces carry no silence between them; the caller adds the pause. Engines that
    /// make a sentence at once emit it whole (the default).
    fn synthesize_each(
        &self,
        text: &str,
        voice: &Voice,
        emit: &mut dyn FnMut(AudioBuf),
    ) -> Result<()> {
        emit(self.synthesize(text, voice)?);
        Ok(())
    }
}

/// Runs the `espeak-ng` program as a separate process (it is GPL: never linked) with
/// `-v VOICE -s RATE -p PITCH -a AMP --stdout`, and parses the WAV it writes. The audio
/// is returned at espeak-ng's own 22 050 Hz.
pub struct EspeakTts {
    program: String,
}

impl EspeakTts {
    /// Find `espeak-ng`; a clear error when it is not installed.
    pub fn new() -> Result<Self> {
        let program = "espeak-ng".to_string();
        match Command::new(&program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(s) if s.success() => Ok(Self { program }),
            Ok(s) => Err(Error::Tts(format!("`espeak-ng --version` failed ({s})"))),
            Err(_) => Err(Error::Tts(
                "espeak-ng is not installed (run `make setup`, or apt-get install espeak-ng)"
                    .into(),
            )),
        }
    }
}

/// Parse a 16-bit PCM mono WAV as espeak-ng writes it to a pipe (its size fields may
/// be placeholders, so the data chunk runs to the end).
pub(crate) fn parse_wav_pcm16(bytes: &[u8]) -> Result<AudioBuf> {
    let bad = |d: &str| Error::Tts(format!("espeak-ng wrote unreadable audio ({d})"));
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("no RIFF/WAVE header"));
    }
    let mut pos = 12;
    let mut rate = 0u32;
    let mut channels = 1u16;
    let mut bits = 16u16;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            if body + 16 > bytes.len() {
                return Err(bad("short fmt chunk"));
            }
            channels = u16::from_le_bytes([bytes[body + 2], bytes[body + 3]]);
            rate = u32::from_le_bytes([
                bytes[body + 4],
                bytes[body + 5],
                bytes[body + 6],
                bytes[body + 7],
            ]);
            bits = u16::from_le_bytes([bytes[body + 14], bytes[body + 15]]);
        } else if id == b"data" {
            if bits != 16 || channels == 0 || rate == 0 {
                return Err(bad("not 16-bit PCM"));
            }
            let end = if len == 0 || len == 0xFFFF_FFFF || body + len > bytes.len() {
                bytes.len()
            } else {
                body + len
            };
            let ch = channels as usize;
            let frames: Vec<f32> = bytes[body..end]
                .chunks_exact(2 * ch)
                .map(|f| {
                    let sum: f32 = f
                        .chunks_exact(2)
                        .map(|s| i16::from_le_bytes([s[0], s[1]]) as f32 / 32768.0)
                        .sum();
                    sum / ch as f32
                })
                .collect();
            return Ok(AudioBuf {
                samples: frames,
                sample_rate: rate,
            });
        }
        pos = body + len + (len & 1);
    }
    Err(bad("no data chunk"))
}

impl TtsEngine for EspeakTts {
    fn name(&self) -> &str {
        "espeak-ng"
    }

    fn synthesize(&self, text: &str, voice: &Voice) -> Result<AudioBuf> {
        let amp = (voice.volume.clamp(0.0, 2.0) * 100.0).round() as u32;
        let mut child = Command::new(&self.program)
            .args(["-v", &voice.name])
            .args(["-s", &voice.rate_wpm.clamp(80, 450).to_string()])
            .args(["-p", &voice.pitch.min(99).to_string()])
            .args(["-a", &amp.to_string()])
            .arg("--stdout")
            // text on stdin: no quoting issues and nothing shows up in `ps`
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Tts(format!("cannot run espeak-ng: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| Error::Tts(format!("cannot write to espeak-ng: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::Tts(format!("espeak-ng did not finish: {e}")))?;
        if !out.status.success() {
            let msg = String::from_utf8_lossy(&out.stderr);
            return Err(Error::Tts(format!(
                "espeak-ng failed for voice {:?}: {}",
                voice.name,
                msg.lines().next().unwrap_or("no message")
            )));
        }
        parse_wav_pcm16(&out.stdout)
    }
}

/// Which synthesiser speaks a requested voice, and whether that is a stand-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spoken {
    /// The Mandarin voice (neural when loaded, else espeak-ng `cmn-latn-pinyin`).
    Mandarin,
    /// espeak-ng `yue`, with digits it reads wrongly rewritten (see [`cantonese_text`]).
    Cantonese,
    /// A dialect without a verified voice, spoken in Mandarin instead: espeak-ng `hak`
    /// says the English words "Chinese letter" for every Han character, so it is never
    /// used. The dialogue tells the resident once.
    MandarinInstead,
}

/// How [`VoiceSet`] speaks the voice `name` (an adapter's `tts_voice`).
pub fn spoken_as(name: &str) -> Spoken {
    match name {
        "yue" => Spoken::Cantonese,
        MANDARIN_VOICE => Spoken::Mandarin,
        _ => Spoken::MandarinInstead,
    }
}

/// Text for espeak-ng `yue`: it reads 幺 (the Mandarin way of saying 1 in numbers) as
/// "mo1", so every 1 of an ID, phone or receipt number would come out wrong; in
/// Cantonese the digit is 一 (jat1).
pub fn cantonese_text(text: &str) -> String {
    text.replace('幺', "一")
}

/// The voices of a device: the Mandarin voice (the neural one by default) for Mandarin,
/// the Wu, Min and Sichuanese codes and every dialect without a verified voice, and
/// espeak-ng `yue` for Cantonese. See [`spoken_as`].
pub struct VoiceSet {
    mandarin: Box<dyn TtsEngine>,
    cantonese: Option<Box<dyn TtsEngine>>,
    name: String,
}

impl VoiceSet {
    /// Mandarin from `mandarin`; Cantonese from `cantonese` (espeak-ng), or Mandarin
    /// when it is absent.
    pub fn new(mandarin: Box<dyn TtsEngine>, cantonese: Option<Box<dyn TtsEngine>>) -> Self {
        let name = match &cantonese {
            Some(c) => format!("{} + {} (yue)", mandarin.name(), c.name()),
            None => mandarin.name().to_string(),
        };
        Self {
            mandarin,
            cantonese,
            name,
        }
    }
}

impl TtsEngine for VoiceSet {
    fn name(&self) -> &str {
        &self.name
    }

    fn synthesize(&self, text: &str, voice: &Voice) -> Result<AudioBuf> {
        let (engine, text, voice) = self.route(text, voice);
        engine.synthesize(&text, &voice)
    }

    fn synthesize_each(
        &self,
        text: &str,
        voice: &Voice,
        emit: &mut dyn FnMut(AudioBuf),
    ) -> Result<()> {
        let (engine, text, voice) = self.route(text, voice);
        engine.synthesize_each(&text, &voice, emit)
    }
}

impl VoiceSet {
    /// The engine, text and voice that speak `text` in `voice` (see [`spoken_as`]).
    fn route(&self, text: &str, voice: &Voice) -> (&dyn TtsEngine, String, Voice) {
        match (spoken_as(&voice.name), &self.cantonese) {
            (Spoken::Cantonese, Some(yue)) => (yue.as_ref(), cantonese_text(text), voice.clone()),
            _ => {
                let v = Voice {
                    name: MANDARIN_VOICE.into(),
                    ..voice.clone()
                };
                (self.mandarin.as_ref(), text.to_string(), v)
            }
        }
    }
}

/// A synthesiser that returns silence of plausible length (0.25 s per character,
/// at least 0.3 s) at 22 050 Hz. Always compiled; for tests and machines without espeak-ng.
pub struct SilentTts;

/// Sample rate of [`SilentTts`] output (matches espeak-ng).
pub const SILENT_TTS_RATE: u32 = 22_050;

impl TtsEngine for SilentTts {
    fn name(&self) -> &str {
        "silent"
    }

    fn synthesize(&self, text: &str, voice: &Voice) -> Result<AudioBuf> {
        let chars = text.chars().filter(|c| !c.is_whitespace()).count() as f32;
        // 150 wpm ≈ 4 Chinese characters a second; scale with the rate.
        let secs = (chars * 0.25 * 150.0 / voice.rate_wpm.max(1) as f32).max(0.3);
        Ok(AudioBuf {
            samples: vec![0.0; (secs * SILENT_TTS_RATE as f32) as usize],
            sample_rate: SILENT_TTS_RATE,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_voices() {
        assert_eq!(voice_for_dialect("yue"), "yue");
        assert_eq!(voice_for_dialect("hak"), "hak");
        for c in ["cmn", "wuu-sh", "wuu-sz", "nan", "cmn-sc", "zz"] {
            assert_eq!(voice_for_dialect(c), "cmn-latn-pinyin");
        }
    }

    #[test]
    fn voices_without_a_verified_voice_speak_mandarin() {
        assert_eq!(spoken_as("cmn-latn-pinyin"), Spoken::Mandarin);
        assert_eq!(spoken_as("yue"), Spoken::Cantonese);
        assert_eq!(spoken_as("hak"), Spoken::MandarinInstead);
        assert_eq!(spoken_as("nonsense"), Spoken::MandarinInstead);
        assert_eq!(cantonese_text("回执号幺三幺"), "回执号一三一");
    }

    /// An engine that records the voice and text it was asked for.
    struct Echo(&'static str, std::sync::Mutex<Vec<(String, String)>>);
    impl TtsEngine for Echo {
        fn name(&self) -> &str {
            self.0
        }
        fn synthesize(&self, text: &str, voice: &Voice) -> Result<AudioBuf> {
            if let Ok(mut l) = self.1.lock() {
                l.push((voice.name.clone(), text.to_string()));
            }
            SilentTts.synthesize(text, voice)
        }
    }

    #[test]
    fn the_voice_set_routes_cantonese_to_its_voice_and_hakka_to_mandarin() {
        let cmn = std::sync::Arc::new(Echo("m", Default::default()));
        let yue = std::sync::Arc::new(Echo("y", Default::default()));
        struct Shared(std::sync::Arc<Echo>);
        impl TtsEngine for Shared {
            fn name(&self) -> &str {
                self.0.name()
            }
            fn synthesize(&self, t: &str, v: &Voice) -> Result<AudioBuf> {
                self.0.synthesize(t, v)
            }
        }
        let set = VoiceSet::new(
            Box::new(Shared(cmn.clone())),
            Some(Box::new(Shared(yue.clone()))),
        );
        let v = |n: &str| Voice {
            name: n.into(),
            ..Voice::default()
        };
        set.synthesize("回执号幺二", &v("yue")).unwrap();
        set.synthesize("您好", &v("hak")).unwrap();
        set.synthesize("您好", &v("cmn-latn-pinyin")).unwrap();
        let y = yue.1.lock().unwrap().clone();
        let m = cmn.1.lock().unwrap().clone();
        assert_eq!(y, vec![("yue".to_string(), "回执号一二".to_string())]);
        assert_eq!(m.len(), 2, "Hakka and Mandarin both in Mandarin: {m:?}");
        assert!(m.iter().all(|(n, _)| n == MANDARIN_VOICE));
    }

    #[test]
    fn silent_tts_length_follows_text_and_rate() {
        let v = Voice::default();
        let short = SilentTts.synthesize("好", &v).unwrap();
        let long = SilentTts.synthesize("请带上身份证和户口本", &v).unwrap();
        assert!(long.samples.len() > 3 * short.samples.len());
        let slow = SilentTts
            .synthesize("请带上身份证和户口本", &Voice { rate_wpm: 100, ..v })
            .unwrap();
        assert!(slow.samples.len() > long.samples.len());
        assert!(long.samples.iter().all(|s| *s == 0.0));
    }

    #[test]
    fn wav_parser_rejects_garbage() {
        assert!(parse_wav_pcm16(b"hello world, not audio").is_err());
    }

    #[test]
    fn espeak_speaks_mandarin_and_cantonese() {
        if crate::testing::program_or_skip("espeak-ng").is_none() {
            return;
        }
        let tts = EspeakTts::new().unwrap();
        for voice in ["cmn-latn-pinyin", "yue"] {
            let v = Voice {
                name: voice.into(),
                ..Voice::default()
            };
            let a = tts.synthesize("你好，我想办理社保卡", &v).unwrap();
            assert_eq!(a.sample_rate, 22_050);
            let secs = a.samples.len() as f32 / a.sample_rate as f32;
            assert!((1.0..10.0).contains(&secs), "{voice}: {secs} s");
            let rms =
                (a.samples.iter().map(|s| s * s).sum::<f32>() / a.samples.len() as f32).sqrt();
            assert!(rms > 0.01, "{voice}: near silence");
        }
        let loud = tts
            .synthesize(
                "你好",
                &Voice {
                    volume: 2.0,
                    ..Voice::default()
                },
            )
            .unwrap();
        let quiet = tts
            .synthesize(
                "你好",
                &Voice {
                    volume: 0.5,
                    ..Voice::default()
                },
            )
            .unwrap();
        let peak = |a: &AudioBuf| a.samples.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!(peak(&loud) > 1.5 * peak(&quiet));
    }
}
