//! The whisper.cpp engine (feature `whisper`, through whisper-rs): Whisper base from the
//! ggml file that [`crate::ggml::write_ggml`] writes, greedy decoding on the CPU.
//!
//! Safeguards, with the same meaning as the candle engine's ([`DecodeOptions`]):
//! * language from the options (`zh`), no timestamps, one segment, no carried context;
//! * the decoding prompt as whisper.cpp's initial prompt;
//! * contextual biasing through whisper.cpp's logits-filter callback ([`BiasTrie`]: a
//!   phrase's next token is boosted while its prefix is being decoded; every phrase in
//!   its written, Simplified and Traditional forms);
//! * temperature fallback as openai/whisper does it: each rung of `temperatures` is one
//!   whisper.cpp pass (greedy at 0, sampling above); an attempt is retried hotter when it
//!   loops, compresses too well (`compression_ratio_threshold`) or has a mean
//!   log-probability below `logprob_threshold`, unless the segment is silence; the
//!   encoder runs on the trimmed context, so a retry costs little;
//! * a token budget tied to the audio length (`max_tokens_per_second`, 8..=224 tokens);
//! * no-speech: `<|nospeech|>` probability above the threshold with a poor mean
//!   log-probability gives empty text;
//! * repetition loops: the logits filter ends a pass (forces `<|endoftext|>`) as soon as
//!   a unit has repeated three times ([`find_loop`]), and the loop is cut back to one copy;
//! * Simplified output ([`to_simplified`]).
//!
//! whisper.cpp's own logging is silenced (whisper-rs' logging hooks, no backend).

use std::ffi::{c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
    WhisperSysContext, WhisperSysState, WhisperTokenData,
};

use crate::adapters::phrase_variants;
use crate::asr::{begin_decode, check_cancel, SAMPLE_RATE};
use crate::decoding::{compression_ratio, find_loop, token_budget, BiasTrie};
use crate::error::{Error, Result};
use crate::{to_simplified, AsrModel, DecodeOptions, StopReason, Transcript};

/// whisper.cpp refuses input shorter than 1 s (`whisper_full`: "input is too short");
/// shorter utterances are padded with silence to this many samples (1.05 s).
const MIN_SAMPLES: usize = 16_800;
/// Encoder positions per second of audio (Whisper: 1500 positions for 30 s).
const AUDIO_CTX_PER_SECOND: f32 = 50.0;
/// Full encoder context (Whisper `n_audio_ctx`).
const FULL_AUDIO_CTX: usize = 1500;
/// Seconds of silence the encoder sees after the audio when the context is trimmed
/// (default of [`WhisperCpp::with_encoder_margin`]). The encoder's cost grows linearly
/// with its context (about 1.4 ms per position at f16 on this 2-core machine, 50
/// positions a second), so on a 2 s utterance this margin is most of the work — but
/// Whisper was trained on speech followed by silence up to 30 s, and less of it makes
/// it hear worse. Measured: on the 82 clips of the synthetic set, Mandarin CER barely
/// moved (0.778 with 5 s, 0.798 with 3 s, 0.800 with 2 s, 0.782 with 1 s; CER near 0.8
/// scores garbage alike), while on the Mandarin fixtures the share of spoken characters
/// heard fell from 0.20 (5 s) to 0.07 (2 s): 老年人优待卡怎么办 went from 老年人又太可真么唤
/// to 慑念辰曰太可僧抹唤, and one clip became "no speech". The key words are what
/// understanding needs, so 5 s stays.
pub const ENCODER_MARGIN_S: f32 = 5.0;
/// Most tokens one bias phrase may have.
const MAX_PHRASE_TOKENS: usize = 32;

/// Whisper base run by whisper.cpp.
pub struct WhisperCpp {
    ctx: WhisperContext,
    path: PathBuf,
    name: String,
    threads: usize,
    trim_audio_ctx: bool,
    /// encoder positions kept after the audio when trimming
    margin_ctx: usize,
    states: Mutex<Vec<WhisperState>>,
    /// Per token id below `<|endoftext|>`: true for punctuation/space-only tokens.
    punct: Vec<bool>,
    eot: u32,
}

impl std::fmt::Debug for WhisperCpp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperCpp")
            .field("path", &self.path)
            .field("threads", &self.threads)
            .field("trim_audio_ctx", &self.trim_audio_ctx)
            .finish()
    }
}

impl WhisperCpp {
    /// Loads a ggml model file (written by `xiaoan models import`) to run on at most
    /// `threads` CPU threads (0: all cores); fewer while other work keeps cores busy
    /// ([`threads_now`]).
    pub fn load(ggml_path: &Path, threads: usize) -> Result<Self> {
        if !ggml_path.is_file() {
            return Err(Error::NotInstalled {
                path: ggml_path.to_path_buf(),
            });
        }
        whisper_rs::install_logging_hooks();
        let mut params = WhisperContextParameters::default();
        params.use_gpu(false);
        let ctx =
            WhisperContext::new_with_params(ggml_path, params).map_err(|e| Error::LoadModel {
                path: ggml_path.to_path_buf(),
                detail: format!("whisper.cpp could not load it ({e})"),
            })?;
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            threads
        };
        let stem = ggml_path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("ggml");
        let eot = u32::try_from(ctx.token_eot()).unwrap_or(0);
        let punct = (0..eot)
            .map(|id| {
                ctx.token_to_bytes(id as i32)
                    .map_or(true, |b| loop_key(b).is_none())
            })
            .collect();
        Ok(Self {
            ctx,
            path: ggml_path.to_path_buf(),
            name: format!("whisper.cpp:{stem}"),
            threads,
            trim_audio_ctx: true,
            margin_ctx: (ENCODER_MARGIN_S * AUDIO_CTX_PER_SECOND) as usize,
            states: Mutex::new(Vec::new()),
            punct,
            eot,
        })
    }

    /// Whether the encoder runs only over the audio actually given (plus a margin)
    /// instead of always 30 s. Default on: several times faster on short utterances.
    pub fn with_trimmed_audio_ctx(mut self, on: bool) -> Self {
        self.trim_audio_ctx = on;
        self
    }

    /// Seconds of silence the trimmed encoder context keeps after the audio
    /// (default [`ENCODER_MARGIN_S`]; clamped to 0–30 s).
    pub fn with_encoder_margin(mut self, secs: f32) -> Self {
        let secs = if secs.is_finite() {
            secs.clamp(0.0, 30.0)
        } else {
            ENCODER_MARGIN_S
        };
        self.margin_ctx = (secs * AUDIO_CTX_PER_SECOND).round() as usize;
        self
    }

    /// The ggml file this engine runs.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Token sequences of the bias phrases in whisper.cpp's vocabulary.
    fn bias_for(&self, opts: &DecodeOptions) -> BiasTrie {
        if opts.bias_phrases.is_empty() || opts.bias_boost <= 0.0 {
            return BiasTrie::default();
        }
        let mut seqs = Vec::new();
        for p in &opts.bias_phrases {
            for v in phrase_variants(p.trim()) {
                if let Ok(t) = self.ctx.tokenize(&v, MAX_PHRASE_TOKENS) {
                    seqs.push(
                        t.into_iter()
                            .filter_map(|x| u32::try_from(x).ok())
                            .collect(),
                    );
                }
            }
        }
        BiasTrie::new(seqs, opts.bias_boost)
    }

    fn take_state(&self) -> Result<WhisperState> {
        if let Some(s) = self.states.lock().ok().and_then(|mut v| v.pop()) {
            return Ok(s);
        }
        self.ctx.create_state().map_err(|e| {
            Error::Decode(format!(
                "whisper.cpp could not create a decoding state ({e})"
            ))
        })
    }

    fn give_back(&self, s: WhisperState) {
        if let Ok(mut v) = self.states.lock() {
            v.push(s);
        }
    }
}

/// How many threads to decode with now: at most `max`, and only as many as there are
/// cores not already busy with other runnable work (`procs_running` in `/proc/stat`,
/// which counts the calling thread too).
///
/// whisper.cpp's threads meet at a barrier after every operation; when another process
/// holds one of the two cores, the thread waiting there burns its time slice and every
/// decoder step pays for it. Measured on this 2-core machine while other builds and
/// evaluations ran (`xiaoan bench asr`, whisper.cpp f16): 2 threads RTF p50 2.1, 1 thread
/// 0.38, the same transcripts.
fn threads_now(max: usize) -> usize {
    if max <= 1 {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let others = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("procs_running "))
                .and_then(|n| n.trim().parse::<usize>().ok())
        })
        .map_or(0, |n| n.saturating_sub(1));
    max.min(cores.saturating_sub(others)).max(1)
}

/// What the logits callback sees: the bias, the loop detector's punctuation table.
struct Hook<'a> {
    bias: BiasTrie,
    punct: &'a [bool],
    n_vocab: usize,
    eot: u32,
}

impl Hook<'_> {
    /// The loop-detection keys of `history` (token ids; `None` for punctuation).
    fn keys(&self, history: &[u32]) -> Vec<Option<u32>> {
        history
            .iter()
            .map(|&t| {
                if self.punct.get(t as usize).copied().unwrap_or(true) {
                    None
                } else {
                    Some(t)
                }
            })
            .collect()
    }

    /// Adjusts the next-token logits after `history`.
    fn filter(&self, history: &[u32], logits: &mut [f32]) {
        if find_loop(&self.keys(history)).is_some() {
            // A loop has completed: end the text now.
            for (i, l) in logits.iter_mut().enumerate() {
                if i != self.eot as usize {
                    *l = f32::NEG_INFINITY;
                }
            }
            return;
        }
        self.bias.apply(history, logits);
    }
}

/// whisper.cpp's abort callback: true once the decode's cancel flag is set.
unsafe extern "C" fn abort_callback(user_data: *mut c_void) -> bool {
    // SAFETY: `user_data` is the `&AtomicBool` set in `attempt`, alive during `full()`.
    let flag = unsafe { &*(user_data as *const AtomicBool) };
    flag.load(Ordering::Relaxed)
}

/// whisper.cpp's logits filter callback. Never panics (a panic cannot cross the C
/// boundary); null pointers make it do nothing.
unsafe extern "C" fn logits_filter_callback(
    _ctx: *mut WhisperSysContext,
    _state: *mut WhisperSysState,
    tokens: *const WhisperTokenData,
    n_tokens: c_int,
    logits: *mut f32,
    user_data: *mut c_void,
) {
    if user_data.is_null() || logits.is_null() {
        return;
    }
    // SAFETY: user_data points to the Hook that outlives the `full()` call.
    let hook = unsafe { &*(user_data as *const Hook<'_>) };
    let history: Vec<u32> = if tokens.is_null() || n_tokens <= 0 {
        Vec::new()
    } else {
        // SAFETY: whisper.cpp passes n_tokens valid token records.
        unsafe { std::slice::from_raw_parts(tokens, n_tokens as usize) }
            .iter()
            .filter_map(|t| u32::try_from(t.id).ok())
            .filter(|&id| id < hook.eot)
            .collect()
    };
    // SAFETY: the logits buffer holds n_vocab values.
    let logits = unsafe { std::slice::from_raw_parts_mut(logits, hook.n_vocab) };
    hook.filter(&history, logits);
}

/// A loop the token budget interrupted: two equal units of at least two content tokens
/// followed by the start of a third (`None` keys, punctuation, are skipped). Returns where
/// to cut to keep one copy. Only used when the budget ran out — a sentence that really
/// says something twice ends with `<|endoftext|>`.
fn budget_loop_cut<K: PartialEq>(keys: &[Option<K>]) -> Option<usize> {
    let idx = crate::decoding::content_positions(keys);
    let m = idx.len();
    let key = |j: usize| keys[idx[j]].as_ref();
    let mut best: Option<usize> = None;
    for n in 2..=m / 2 {
        for r in 0..n {
            let Some(s) = m.checked_sub(2 * n + r) else {
                break;
            };
            let two = (0..n).all(|i| key(s + i) == key(s + n + i));
            let tail = (0..r).all(|i| key(s + 2 * n + i) == key(s + i));
            if two && tail {
                // The earliest cut keeps the least of the loop.
                let cut = idx[s + n - 1] + 1;
                best = Some(best.map_or(cut, |b| b.min(cut)));
            }
        }
    }
    best
}

/// One whisper.cpp pass at one temperature.
struct Attempt {
    tokens: Vec<u32>,
    avg_logprob: f32,
    no_speech_prob: f32,
    temperature: f32,
    looped: bool,
    hit_budget: bool,
}

/// The loop-detection key of a token: its bytes without surrounding spaces (a token may
/// hold part of a character, so bytes, not text), `None` for punctuation and spaces (so
/// "证、证、证" is one unit repeated).
fn loop_key(bytes: &[u8]) -> Option<Vec<u8>> {
    let t = bytes.trim_ascii();
    match std::str::from_utf8(t) {
        Ok(s)
            if s.chars()
                .all(|c| c.is_ascii_punctuation() || is_cjk_punct(c)) =>
        {
            None
        }
        _ => Some(t.to_vec()),
    }
}

/// CJK and full-width punctuation.
fn is_cjk_punct(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303F}' | '\u{FF01}'..='\u{FF0F}' | '\u{FF1A}'..='\u{FF20}' | '…' | '—' | '·')
}

impl AsrModel for WhisperCpp {
    fn name(&self) -> &str {
        &self.name
    }

    fn decode_cancellable(
        &self,
        samples: &[f32],
        opts: &DecodeOptions,
        cancel: &AtomicBool,
    ) -> Result<Transcript> {
        let secs = begin_decode(samples, cancel)?;
        if samples.iter().all(|s| *s == 0.0) {
            return Ok(Transcript::no_speech(1.0));
        }
        let mut audio: Vec<f32> = samples.to_vec();
        if audio.len() < MIN_SAMPLES {
            audio.resize(MIN_SAMPLES, 0.0);
        }
        let budget = token_budget(secs, opts.max_tokens_per_second);
        let hook = Hook {
            bias: self.bias_for(opts),
            punct: &self.punct,
            n_vocab: usize::try_from(self.ctx.n_vocab()).unwrap_or(0),
            eot: self.eot,
        };
        let mut state = self.take_state()?;
        let mut best: Option<Attempt> = None;
        for &t in opts.temperature_ladder() {
            let a = match self.attempt(&mut state, &audio, opts, t.max(0.0), budget, &hook, cancel)
            {
                Ok(a) => a,
                Err(e) => {
                    self.give_back(state);
                    return Err(e);
                }
            };
            let silent = a.no_speech_prob > opts.no_speech_threshold;
            let text = self.bytes_of(&a.tokens);
            let needs_fallback = !silent
                && (a.looped
                    || compression_ratio(&String::from_utf8_lossy(&text))
                        > opts.compression_ratio_threshold
                    || a.avg_logprob < opts.logprob_threshold);
            let better = best
                .as_ref()
                .is_none_or(|b| !a.looped && (b.looped || a.avg_logprob > b.avg_logprob));
            let done = !needs_fallback;
            if done || better {
                best = Some(a);
            }
            if done {
                break;
            }
        }
        self.give_back(state);
        let Some(mut a) = best else {
            return Ok(Transcript::no_speech(0.0));
        };
        if a.tokens.is_empty()
            || (a.no_speech_prob > opts.no_speech_threshold
                && a.avg_logprob < opts.logprob_threshold)
        {
            return Ok(Transcript::no_speech(a.no_speech_prob));
        }
        let mut stop = if a.hit_budget {
            StopReason::TokenBudget
        } else {
            StopReason::Eot
        };
        let keys = hook.keys(&a.tokens);
        let cut = find_loop(&keys).or_else(|| {
            if a.hit_budget {
                budget_loop_cut(&keys)
            } else {
                None
            }
        });
        if let Some(cut) = cut {
            a.tokens.truncate(cut);
            stop = StopReason::Repetition;
        } else if a.looped {
            stop = StopReason::Repetition;
        }
        let text = to_simplified(String::from_utf8_lossy(&self.bytes_of(&a.tokens)).trim());
        Ok(Transcript {
            text,
            tokens: a.tokens,
            avg_logprob: a.avg_logprob,
            no_speech_prob: a.no_speech_prob,
            temperature: a.temperature,
            stop,
        })
    }
}

impl WhisperCpp {
    /// The raw bytes of text tokens.
    fn bytes_of(&self, tokens: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        for &t in tokens {
            if let Ok(b) = self.ctx.token_to_bytes(t as i32) {
                out.extend_from_slice(b);
            }
        }
        out
    }

    /// P(`<|nospeech|>`) at the `<|startoftranscript|>` position, as openai/whisper
    /// computes it, from the encoder output `full()` left in `state` (one decoder step).
    /// whisper.cpp's own figure is taken after `<|notimestamps|>`, where it is always ~0.
    fn no_speech_prob(&self, state: &mut WhisperState) -> f32 {
        let sot = self.ctx.token_sot();
        let nosp = self.ctx.token_nosp();
        if state.decode(&[sot], 0, 1).is_err() {
            return 0.0;
        }
        let Ok(logits) = state.get_logits() else {
            return 0.0;
        };
        let Some(&x) = usize::try_from(nosp).ok().and_then(|i| logits.get(i)) else {
            return 0.0;
        };
        let max = logits
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = logits
            .iter()
            .filter(|v| v.is_finite())
            .map(|v| (v - max).exp())
            .sum();
        if sum > 0.0 && x.is_finite() {
            (x - max).exp() / sum
        } else {
            0.0
        }
    }

    /// One whisper.cpp pass at temperature `t` (no fallback inside whisper.cpp).
    #[allow(clippy::too_many_arguments)]
    fn attempt(
        &self,
        state: &mut WhisperState,
        audio: &[f32],
        opts: &DecodeOptions,
        t: f32,
        budget: usize,
        hook: &Hook<'_>,
        cancel: &AtomicBool,
    ) -> Result<Attempt> {
        check_cancel(cancel)?;
        let strategy = if t <= 0.0 && opts.beam_size > 1 {
            SamplingStrategy::BeamSearch {
                beam_size: opts.beam_size.min(8) as c_int,
                patience: -1.0,
            }
        } else {
            SamplingStrategy::Greedy { best_of: 1 }
        };
        let mut params = FullParams::new(strategy);
        params.set_n_threads(threads_now(self.threads) as c_int);
        params.set_language(Some(opts.language.as_str()));
        params.set_translate(false);
        params.set_no_context(true);
        params.set_no_timestamps(true);
        params.set_single_segment(true);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        params.set_suppress_blank(true);
        params.set_suppress_nst(true);
        params.set_max_tokens(budget as c_int);
        params.set_temperature(t);
        params.set_temperature_inc(0.0);
        params.set_no_speech_thold(opts.no_speech_threshold);
        if let Some(p) = opts
            .prompt
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            params.set_initial_prompt(p);
        }
        if self.trim_audio_ctx {
            let ctx =
                (audio.len() as f32 / SAMPLE_RATE as f32 * AUDIO_CTX_PER_SECOND).ceil() as usize;
            params.set_audio_ctx((ctx + self.margin_ctx).min(FULL_AUDIO_CTX) as c_int);
        }
        if hook.n_vocab > 0 {
            // SAFETY: `hook` outlives `full()`; the callback only reads it.
            unsafe {
                params.set_filter_logits_callback(Some(logits_filter_callback));
                params.set_filter_logits_callback_user_data(hook as *const Hook<'_> as *mut c_void);
            }
        }
        // SAFETY: `cancel` outlives `full()`; the callback only reads the flag.
        // whisper.cpp checks it after the encoder and after each decoder step (not
        // inside the encoder: a cancelled decode still finishes its encoder pass).
        unsafe {
            params.set_abort_callback(Some(abort_callback));
            params.set_abort_callback_user_data(cancel as *const AtomicBool as *mut c_void);
        }
        let run = state.full(params, audio);
        check_cancel(cancel)?;
        run.map_err(|e| Error::Decode(format!("whisper.cpp failed ({e})")))?;
        let mut tokens: Vec<u32> = Vec::new();
        let mut logprob_sum = 0.0f32;
        let mut n_generated = 0usize;
        let no_speech_prob = self.no_speech_prob(state);
        for seg in state.as_iter() {
            for i in 0..seg.n_tokens() {
                let Some(tok) = seg.get_token(i) else {
                    continue;
                };
                let data = tok.token_data();
                let Ok(id) = u32::try_from(data.id) else {
                    continue;
                };
                n_generated += 1;
                if id >= self.eot {
                    continue;
                }
                tokens.push(id);
                logprob_sum += data.plog;
            }
        }
        let avg_logprob = if tokens.is_empty() {
            0.0
        } else {
            logprob_sum / tokens.len() as f32
        };
        let looped = find_loop(&hook.keys(&tokens)).is_some();
        Ok(Attempt {
            hit_budget: tokens.len() >= budget || n_generated > budget,
            tokens,
            avg_logprob,
            no_speech_prob,
            temperature: t,
            looped,
        })
    }
}

#[cfg(test)]
mod tests;
