//! The speech-recognition interface: [`AsrModel`] (loaded once, shared) and the
//! options and results of one decoding pass.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How one decoding pass runs. Defaults follow openai/whisper's `transcribe()`
/// (thresholds and temperature ladder) with a token budget tied to audio length.
#[derive(Clone, Debug)]
pub struct DecodeOptions {
    /// Whisper language token without brackets. Default `"zh"` (Whisper base has no `yue`).
    pub language: String,
    /// Text given to the decoder after `<|startofprev|>` (dialect adapters' prompt).
    /// Default none: Whisper base tends to copy prompt words into its output.
    pub prompt: Option<String>,
    /// Phrases whose token prefixes get a logit boost (contextual biasing). Default empty.
    pub bias_phrases: Vec<String>,
    /// Logit added to a token that continues a bias phrase already begun (half of it for
    /// a phrase's first token). Default 2.0.
    pub bias_boost: f32,
    /// Temperatures tried in order while a result fails the checks below.
    /// Default `[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]` (openai/whisper).
    pub temperatures: Vec<f32>,
    /// A result whose text compresses better than this is a loop: retry hotter. Default 2.4.
    pub compression_ratio_threshold: f32,
    /// A result whose mean token log-probability is below this is retried. Default -1.0.
    pub logprob_threshold: f32,
    /// Above this `<|nospeech|>` probability (and with a poor log-probability) the
    /// segment is silence and gives empty text. Default 0.6.
    pub no_speech_threshold: f32,
    /// Token budget per second of audio (at least 8, at most 224 tokens). Default 10.
    pub max_tokens_per_second: f32,
    /// Hypotheses kept by the beam search at temperature 0 (1: greedy). The candle and
    /// onnx engines decode every beam in one batch (the decoder's products are
    /// memory-bound, so a few beams cost about what one does). Default 1.
    pub beam_size: usize,
    /// A character language model of the service domain, fused into the decoder's
    /// choices (shallow fusion: `log p(token | audio) + lm_weight · log p_lm(chars)`,
    /// candle and onnx engines). Default none.
    pub lm: Option<std::sync::Arc<crate::charlm::CharLm>>,
    /// Weight of the language model's log-probability. Default 0.3.
    pub lm_weight: f32,
    /// Score added per character written while the language model is fused (it
    /// offsets the model's preference for short outputs). Default 0.5.
    pub lm_bonus: f32,
    /// Text the transcript is known to begin with (a stream's committed words): the
    /// decoder reads its tokens as already written, in one pass, and generates only
    /// what follows. The greedy decoder of the candle and onnx engines honours it; the
    /// beam search and whisper.cpp ignore it (the stream keeps committed text either
    /// way). Default none.
    pub continue_from: Option<String>,
    /// Seconds of silence the encoder sees after the audio in this decode, instead of
    /// the engine's own margin (the candle and onnx engines' trimmed window; whisper.cpp
    /// keeps its own). A stream's partials use a shorter one than its final: the
    /// encoder's cost grows with the window, and a partial is a quick guess the final
    /// decodes again. Default none (the engine's).
    pub encoder_pad_s: Option<f32>,
}

impl DecodeOptions {
    /// The temperatures to try, in order: [`DecodeOptions::temperatures`], or greedy
    /// alone when that is empty.
    #[cfg(any(feature = "candle", feature = "whisper"))]
    pub(crate) fn temperature_ladder(&self) -> &[f32] {
        if self.temperatures.is_empty() {
            &[0.0]
        } else {
            &self.temperatures
        }
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            language: "zh".into(),
            prompt: None,
            bias_phrases: Vec::new(),
            bias_boost: 2.0,
            temperatures: vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            compression_ratio_threshold: 2.4,
            logprob_threshold: -1.0,
            no_speech_threshold: 0.6,
            max_tokens_per_second: 10.0,
            beam_size: 1,
            lm: None,
            lm_weight: 0.3,
            lm_bonus: 0.5,
            continue_from: None,
            encoder_pad_s: None,
        }
    }
}

/// Why decoding stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The model wrote `<|endoftext|>`.
    Eot,
    /// A repetition loop was found and cut off.
    Repetition,
    /// The token budget for this much audio ran out.
    TokenBudget,
    /// The segment holds no speech; the text is empty.
    NoSpeech,
}

/// The result of one decoding pass.
#[derive(Clone, Debug)]
pub struct Transcript {
    /// The text, in Simplified Chinese.
    pub text: String,
    /// The text tokens (no special tokens).
    pub tokens: Vec<u32>,
    /// Mean log-probability of the tokens (openai/whisper's `avg_logprob`).
    pub avg_logprob: f32,
    /// Probability of `<|nospeech|>` at the first step.
    pub no_speech_prob: f32,
    /// The temperature of the attempt that was kept.
    pub temperature: f32,
    /// Why decoding stopped.
    pub stop: StopReason,
}

impl Transcript {
    /// An empty transcript for a segment without speech.
    pub fn no_speech(no_speech_prob: f32) -> Self {
        Self {
            text: String::new(),
            tokens: Vec::new(),
            avg_logprob: 0.0,
            no_speech_prob,
            temperature: 0.0,
            stop: StopReason::NoSpeech,
        }
    }

    /// A transcript carrying only text (scripted engines, tests).
    pub fn from_text(text: &str) -> Self {
        Self {
            text: to_simplified(text),
            tokens: Vec::new(),
            avg_logprob: 0.0,
            no_speech_prob: 0.0,
            temperature: 0.0,
            stop: if text.is_empty() {
                StopReason::NoSpeech
            } else {
                StopReason::Eot
            },
        }
    }
}

/// A loaded recogniser, shared across sessions (`Arc`). `decode()` is one full pass
/// over 16 kHz mono samples (at most 30 s).
///
/// Loading Whisper takes a second and a few hundred MB, so it happens once; a
/// decoding pass keeps its working state (KV caches) on its own stack, so one model
/// serves many sessions at once (whisper-rs' context/state split).
pub trait AsrModel: Send + Sync {
    /// A short name for logs and reports, e.g. `candle-whisper-base`.
    fn name(&self) -> &str;
    /// Recognise one utterance.
    fn decode(&self, samples: &[f32], opts: &DecodeOptions) -> Result<Transcript> {
        self.decode_cancellable(samples, opts, &AtomicBool::new(false))
    }
    /// Recognise one utterance, giving up with [`Error::Cancelled`] soon after `cancel`
    /// becomes true (streaming drops a partial decode that the end-point made useless).
    fn decode_cancellable(
        &self,
        samples: &[f32],
        opts: &DecodeOptions,
        cancel: &AtomicBool,
    ) -> Result<Transcript>;

    /// How likely each of `texts` is as the start of what `samples` say: the summed
    /// log-probability of its tokens, read by the decoder as if it had written them
    /// (teacher forcing, from the same audio, without `opts`' bias phrases; the text in
    /// Simplified or Traditional characters, whichever is likelier, since the script is
    /// not something heard). For verifying a few candidate readings against each other
    /// (a likelihood ratio); `None` when the engine cannot score (then callers keep to
    /// the text).
    fn score_texts(
        &self,
        samples: &[f32],
        opts: &DecodeOptions,
        texts: &[String],
    ) -> Result<Option<Vec<f32>>> {
        let _ = (samples, opts, texts);
        Ok(None)
    }
}

/// [`Error::Cancelled`] when `cancel` is set.
pub(crate) fn check_cancel(cancel: &AtomicBool) -> Result<()> {
    if cancel.load(Ordering::Relaxed) {
        Err(Error::Cancelled)
    } else {
        Ok(())
    }
}

/// Traditional → Simplified Chinese (zhconv, `zh-Hans`); other text passes unchanged.
pub fn to_simplified(text: &str) -> String {
    zhconv::zhconv(text, zhconv::Variant::ZhHans)
}

/// Longest audio one decoding pass takes, in seconds (Whisper's 30 s window).
pub const MAX_DECODE_SECONDS: f32 = 30.0;

/// Samples per second of the audio every recogniser takes (openai/whisper
/// `SAMPLE_RATE`; 16 kHz mono).
pub(crate) const SAMPLE_RATE: usize = 16_000;

/// Check that `samples` can be decoded: finite and no longer than the window. Returns
/// their length in seconds.
pub(crate) fn check_samples(samples: &[f32]) -> Result<f32> {
    let secs = samples.len() as f32 / SAMPLE_RATE as f32;
    if secs > MAX_DECODE_SECONDS + 0.01 {
        return Err(Error::BadAudio(format!(
            "{secs:.1} s is longer than one {MAX_DECODE_SECONDS} s window (split it into utterances first)"
        )));
    }
    if samples.iter().any(|s| !s.is_finite()) {
        return Err(Error::BadAudio(
            "the samples contain NaN or infinity".into(),
        ));
    }
    Ok(secs)
}

/// What every engine checks before it decodes: the samples can be decoded
/// ([`check_samples`]) and the decode is not cancelled. Returns the audio's length in
/// seconds.
#[cfg(any(feature = "candle", feature = "whisper"))]
pub(crate) fn begin_decode(samples: &[f32], cancel: &AtomicBool) -> Result<f32> {
    let secs = check_samples(samples)?;
    check_cancel(cancel)?;
    Ok(secs)
}

enum Script {
    /// Each call returns the next text; the last one repeats.
    Sequence(Vec<String>),
    /// The prefix of a sentence in proportion to the audio length.
    Growing {
        text: Vec<char>,
        chars_per_second: f32,
    },
}

/// A recogniser that returns scripted transcripts, for tests and evaluation
/// plumbing. Always compiled.
pub struct ScriptedAsr {
    script: Script,
    /// How long each decode takes (it checks for cancellation every millisecond).
    delay: Duration,
    /// Decodes given up on request.
    cancelled: Mutex<usize>,
    /// The `continue_from` of every decode, in order (one entry per call).
    continued: Mutex<Vec<Option<String>>>,
}

impl ScriptedAsr {
    /// Return `texts` one per `decode` call, repeating the last (empty text when none).
    pub fn sequence<S: Into<String>>(texts: impl IntoIterator<Item = S>) -> Self {
        Self {
            script: Script::Sequence(texts.into_iter().map(Into::into).collect()),
            delay: Duration::ZERO,
            cancelled: Mutex::new(0),
            continued: Mutex::new(Vec::new()),
        }
    }

    /// Always return `text`.
    pub fn fixed(text: &str) -> Self {
        Self::sequence([text])
    }

    /// Return the first `chars_per_second × seconds` characters of `text`, the way a
    /// real recogniser hears more of a sentence as more of it arrives.
    pub fn growing(text: &str, chars_per_second: f32) -> Self {
        Self {
            script: Script::Growing {
                text: text.chars().collect(),
                chars_per_second,
            },
            delay: Duration::ZERO,
            cancelled: Mutex::new(0),
            continued: Mutex::new(Vec::new()),
        }
    }

    /// Make every decode take `delay`, like a real recogniser on a small machine.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// How many decodes were cancelled before they finished.
    pub fn cancelled(&self) -> usize {
        self.cancelled.lock().map(|c| *c).unwrap_or(0)
    }

    /// The known beginning (`DecodeOptions::continue_from`) each decode was given.
    pub fn continued_from(&self) -> Vec<Option<String>> {
        self.continued.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// How many times `decode` ran.
    pub fn calls(&self) -> usize {
        self.continued.lock().map(|c| c.len()).unwrap_or(0)
    }
}

impl AsrModel for ScriptedAsr {
    fn name(&self) -> &str {
        "scripted"
    }

    fn decode_cancellable(
        &self,
        samples: &[f32],
        opts: &DecodeOptions,
        cancel: &AtomicBool,
    ) -> Result<Transcript> {
        let secs = check_samples(samples)?;
        let n = {
            let mut c = self
                .continued
                .lock()
                .map_err(|_| Error::Decode("scripted engine poisoned".into()))?;
            c.push(opts.continue_from.clone());
            c.len() - 1
        };
        let t0 = Instant::now();
        while t0.elapsed() < self.delay {
            if check_cancel(cancel).is_err() {
                if let Ok(mut c) = self.cancelled.lock() {
                    *c += 1;
                }
                return Err(Error::Cancelled);
            }
            std::thread::sleep(Duration::from_millis(1).min(self.delay));
        }
        let text: String = match &self.script {
            Script::Sequence(v) => v.get(n).or(v.last()).cloned().unwrap_or_default(),
            Script::Growing {
                text,
                chars_per_second,
            } => {
                let k = ((secs * chars_per_second).floor() as usize).min(text.len());
                text[..k].iter().collect()
            }
        };
        Ok(Transcript::from_text(&text))
    }
}

/// A scripted recogniser whose greedy decodes hear one text and whose searching
/// decodes (a beam) another, the way a harder search hears a misheard word right; it
/// keeps the search of every decode. For tests of which decodes search. Always compiled.
pub struct GradedAsr {
    greedy: ScriptedAsr,
    beam: ScriptedAsr,
    searches: Mutex<Vec<(usize, bool)>>,
    pads: Mutex<Vec<Option<f32>>>,
}

impl GradedAsr {
    /// Greedy decodes grow into `greedy`, beam decodes into `beam`, at
    /// `chars_per_second` (see [`ScriptedAsr::growing`]).
    pub fn new(greedy: &str, beam: &str, chars_per_second: f32) -> Self {
        Self {
            greedy: ScriptedAsr::growing(greedy, chars_per_second),
            beam: ScriptedAsr::growing(beam, chars_per_second),
            searches: Mutex::new(Vec::new()),
            pads: Mutex::new(Vec::new()),
        }
    }

    /// The encoder margin asked for by every decode, in order.
    pub fn pads(&self) -> Vec<Option<f32>> {
        self.pads.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// (beam size, language model fused) of every decode, in order.
    pub fn searches(&self) -> Vec<(usize, bool)> {
        self.searches.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The beam size of every decode, in order.
    pub fn beams(&self) -> Vec<usize> {
        self.searches().into_iter().map(|(b, _)| b).collect()
    }
}

impl AsrModel for GradedAsr {
    fn name(&self) -> &str {
        "graded"
    }

    fn decode_cancellable(
        &self,
        samples: &[f32],
        opts: &DecodeOptions,
        cancel: &AtomicBool,
    ) -> Result<Transcript> {
        if let Ok(mut s) = self.searches.lock() {
            s.push((opts.beam_size, opts.lm.is_some()));
        }
        if let Ok(mut p) = self.pads.lock() {
            p.push(opts.encoder_pad_s);
        }
        if opts.beam_size > 1 {
            self.beam.decode_cancellable(samples, opts, cancel)
        } else {
            self.greedy.decode_cancellable(samples, opts, cancel)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplified_conversion_changes_traditional_only() {
        assert_eq!(
            to_simplified("我想問下點樣辦長者卡"),
            "我想问下点样办长者卡"
        );
        assert_eq!(to_simplified("我想办理社保卡"), "我想办理社保卡");
    }

    #[test]
    fn scripted_sequence_repeats_last() {
        let asr = ScriptedAsr::sequence(["一", "一二"]);
        let o = DecodeOptions::default();
        assert_eq!(asr.decode(&[0.0; 160], &o).unwrap().text, "一");
        assert_eq!(asr.decode(&[0.0; 160], &o).unwrap().text, "一二");
        assert_eq!(asr.decode(&[0.0; 160], &o).unwrap().text, "一二");
        assert_eq!(asr.calls(), 3);
    }

    #[test]
    fn decode_refuses_nan_and_overlong_audio() {
        let asr = ScriptedAsr::fixed("x");
        let o = DecodeOptions::default();
        assert!(matches!(
            asr.decode(&[f32::NAN], &o),
            Err(Error::BadAudio(_))
        ));
        assert!(matches!(
            asr.decode(&vec![0.0; 16_000 * 31], &o),
            Err(Error::BadAudio(_))
        ));
    }
}
