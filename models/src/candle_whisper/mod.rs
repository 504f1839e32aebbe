//! Whisper on candle (feature `candle`): CPU, f32, greedy decoding with a KV cache.
//!
//! The network is written here (rather than taken from candle-transformers, whose
//! decoder re-runs every earlier token at each step) so that the decoder keeps a
//! self-attention KV cache and the cross-attention keys/values are computed once per
//! utterance and shared by every temperature of the fallback. Weight names are the
//! Hugging Face ones that [`crate::import`] writes. The encoder runs on the audio
//! length (rounded up, see [`ENCODER_PAD_S`]) instead of a zero-padded 30 s window.
//!
//! The parts: `model` (the network), `mel` (the log-mel front end), `search` (greedy,
//! sampled and beam decoding, the temperature fallback) and, with feature `onnx`,
//! `onnx_export` (the encoder as an ONNX graph for ONNX Runtime).

mod mel;
mod model;
#[cfg(feature = "onnx")]
mod onnx_export;
mod search;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use tokenizers::Tokenizer;

use crate::asr::{begin_decode, AsrModel, DecodeOptions, Transcript};
use crate::decoding::{token_budget, BiasTrie};
use crate::error::{Error, Result};
use mel::{window_frames, LogMel, HOP};
use model::Model;
use search::Pass;

/// Zero audio appended after the speech before the encoder runs on a trimmed window, in
/// seconds (the window is then rounded up to whole seconds). Measured on the six
/// espeak-ng fixtures, greedy: 1 s and 2 s of padding made Whisper base call a clear
/// clip "no speech" and loop more (mean Mandarin character share 0.10); 4 s gave 0.23,
/// better than the full 30 s window (0.11) at about a quarter of its encoder cost.
pub const ENCODER_PAD_S: f32 = 4.0;

fn ce(e: candle_core::Error) -> Error {
    Error::Decode(e.to_string())
}

/// The fields of the Hugging Face `config.json` the engine reads.
#[derive(Clone, Debug, serde::Deserialize)]
struct HfConfig {
    num_mel_bins: usize,
    d_model: usize,
    encoder_attention_heads: usize,
    encoder_layers: usize,
    decoder_attention_heads: usize,
    decoder_layers: usize,
    vocab_size: usize,
    max_source_positions: usize,
    max_target_positions: usize,
    #[serde(default)]
    suppress_tokens: Vec<u32>,
    #[serde(default)]
    begin_suppress_tokens: Vec<u32>,
}

/// Special tokens looked up in the tokenizer.
struct Specials {
    sot: u32,
    eot: u32,
    transcribe: u32,
    no_timestamps: u32,
    no_speech: u32,
    start_of_prev: u32,
}

impl Specials {
    /// The special tokens of `tokenizer`; `err` names a missing one.
    fn find(tokenizer: &Tokenizer, err: impl Fn(String) -> Error) -> Result<Self> {
        let id = |t: &str| {
            tokenizer
                .token_to_id(t)
                .ok_or_else(|| err(format!("tokenizer has no {t}")))
        };
        Ok(Self {
            sot: id("<|startoftranscript|>")?,
            eot: id("<|endoftext|>")?,
            transcribe: id("<|transcribe|>")?,
            no_timestamps: id("<|notimestamps|>")?,
            no_speech: id("<|nospeech|>").or_else(|_| id("<|nocaptions|>"))?,
            start_of_prev: id("<|startofprev|>")?,
        })
    }
}

/// Whisper base running on candle (CPU, f32 weights widened from the f16 file).
pub struct CandleWhisper {
    name: String,
    model: Model,
    cfg: HfConfig,
    tokenizer: Tokenizer,
    specials: Specials,
    /// the log-mel front end
    mel: LogMel,
    /// tokens never sampled
    suppress: Vec<u32>,
    /// the UTF-8 bytes each token writes (byte-level BPE), built on first use by the
    /// language model
    token_bytes: std::sync::OnceLock<Vec<Vec<u8>>>,
    /// whether to trim the encoder window to the audio (true) or pad to 30 s
    trim: bool,
    /// zero audio after the speech in a trimmed window, seconds
    pad_s: f32,
    /// the encoder on ONNX Runtime, when chosen ([`CandleWhisper::load_onnx`])
    #[cfg(feature = "onnx")]
    onnx: Option<crate::onnx_encoder::OnnxEncoder>,
}

impl CandleWhisper {
    /// Seconds of zero audio appended before the trimmed encoder window (default
    /// [`ENCODER_PAD_S`]; clamped to 0–30 s).
    pub fn with_encoder_pad(mut self, secs: f32) -> Self {
        self.pad_s = if secs.is_finite() {
            secs.clamp(0.0, 30.0)
        } else {
            ENCODER_PAD_S
        };
        self
    }

    /// Move the encoder to ONNX Runtime (see [`CandleWhisper::load_onnx`]).
    #[cfg(feature = "onnx")]
    fn attach_onnx(mut self, onnxruntime_lib: &Path, threads: usize) -> Result<Self> {
        let graph = self
            .model
            .encoder_onnx(self.cfg.num_mel_bins, self.cfg.encoder_attention_heads)
            .map_err(ce)?;
        self.model.drop_encoder();
        self.onnx = Some(crate::onnx_encoder::OnnxEncoder::new(
            &graph,
            self.cfg.d_model,
            self.cfg.decoder_layers,
            self.cfg.decoder_attention_heads,
            onnxruntime_lib,
            threads,
        )?);
        self.name = "candle-whisper-base+onnx".into();
        Ok(self)
    }

    /// The encoder and the decoder's cross-attention keys and values: on ONNX Runtime
    /// when chosen, else on candle.
    fn encode(&self, mel: &Tensor) -> Result<Vec<(Tensor, Tensor)>> {
        #[cfg(feature = "onnx")]
        if let Some(o) = &self.onnx {
            let t = mel.dim(2).map_err(ce)? / 2;
            let pos = self.model.enc_pos.narrow(0, 0, t).map_err(ce)?;
            return o.encode(mel, &pos);
        }
        let audio = self.model.encode(mel).map_err(ce)?;
        self.model.cross_kv(&audio).map_err(ce)
    }

    /// Load the converted model from `dir` (`model.safetensors`, `config.json`,
    /// `tokenizer.json`, `mel_filters.safetensors`, as [`crate::import`] writes them).
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with_lora(dir, None)
    }

    /// [`CandleWhisper::load`] with a dialect adapter's LoRA deltas merged into the
    /// weights (`W += alpha/rank · B·A` on each target) before the model is built.
    pub fn load_with_lora(dir: &Path, lora: Option<&crate::lora::LoraAdapter>) -> Result<Self> {
        Self::load_inner(dir, lora, false)
    }

    /// The `onnx` engine: the encoder (and the decoder's cross-attention keys and
    /// values) on ONNX Runtime, loaded from `onnxruntime_lib`, on `threads` CPU threads;
    /// the decoder on candle with f16 projections (half the bytes per generated token,
    /// which bound its speed here). The graph is
    /// built in memory from the same weights, LoRA deltas included. Named
    /// `candle-whisper-base+onnx`.
    #[cfg(feature = "onnx")]
    pub fn load_onnx(
        dir: &Path,
        lora: Option<&crate::lora::LoraAdapter>,
        onnxruntime_lib: &Path,
        threads: usize,
    ) -> Result<Self> {
        Self::load_inner(dir, lora, true)?.attach_onnx(onnxruntime_lib, threads)
    }

    fn load_inner(
        dir: &Path,
        lora: Option<&crate::lora::LoraAdapter>,
        half_decoder: bool,
    ) -> Result<Self> {
        let need = |f: &str| {
            let p = dir.join(f);
            if p.is_file() {
                Ok(p)
            } else {
                Err(Error::NotInstalled { path: p })
            }
        };
        let weights = need("model.safetensors")?;
        let cfg_path = need("config.json")?;
        let tok_path = need("tokenizer.json")?;
        let mel_path = need("mel_filters.safetensors")?;
        let load_err = |d: String| Error::LoadModel {
            path: dir.to_path_buf(),
            detail: d,
        };
        let cfg: HfConfig =
            serde_json::from_slice(&std::fs::read(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?)
                .map_err(|e| load_err(format!("config.json: {e}")))?;
        let vb = var_builder(&weights, lora, load_err)?;
        let model = Model::load(&cfg, vb, half_decoder)
            .and_then(Model::with_logits_table)
            .map_err(|e| load_err(e.to_string()))?;
        let tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| load_err(format!("tokenizer.json: {e}")))?;
        let specials = Specials::find(&tokenizer, load_err)?;
        let mel = LogMel::new(load_filters(&mel_path, cfg.num_mel_bins).map_err(load_err)?)
            .map_err(ce)?;
        let suppress = suppressed(&cfg, &specials);
        Ok(Self {
            name: "candle-whisper-base".into(),
            model,
            cfg,
            tokenizer,
            specials,
            mel,
            suppress,
            token_bytes: std::sync::OnceLock::new(),
            trim: true,
            pad_s: ENCODER_PAD_S,
            #[cfg(feature = "onnx")]
            onnx: None,
        })
    }

    /// Log-mel spectrogram (1, n_mels, frames) of `samples` (see [`LogMel::compute`]).
    fn log_mel(&self, samples: &[f32], frames: usize) -> Result<Tensor> {
        self.mel.compute(samples, frames).map_err(ce)
    }

    /// Frames of the encoder window for `n` samples (with the margin of `opts` when it
    /// sets one).
    fn frames_for(&self, n: usize, opts: &DecodeOptions) -> usize {
        let pad = opts
            .encoder_pad_s
            .filter(|p| p.is_finite())
            .map_or(self.pad_s, |p| p.clamp(0.0, 30.0));
        window_frames(n, self.trim.then_some(pad))
    }

    /// The tokens before the transcript: the prompt after `<|startofprev|>` when there
    /// is one, then start-of-transcript, language, task and no-timestamps; and where
    /// start-of-transcript is.
    fn prefix(&self, opts: &DecodeOptions) -> Result<(Vec<u32>, usize)> {
        let lang = format!("<|{}|>", opts.language);
        let lang_id = self
            .tokenizer
            .token_to_id(&lang)
            .ok_or_else(|| Error::Config(format!("Whisper has no language token {lang}")))?;
        let mut p = Vec::new();
        if let Some(prompt) = opts.prompt.as_deref().filter(|s| !s.trim().is_empty()) {
            let ids = self.tokens(prompt.trim())?;
            // openai/whisper keeps the last n_text_ctx/2 - 1 prompt tokens
            let keep = self.cfg.max_target_positions / 2 - 1;
            p.push(self.specials.start_of_prev);
            p.extend_from_slice(&ids[ids.len().saturating_sub(keep)..]);
        }
        let sot_index = p.len();
        p.extend([
            self.specials.sot,
            lang_id,
            self.specials.transcribe,
            self.specials.no_timestamps,
        ]);
        Ok((p, sot_index))
    }

    /// The tokens of `text`.
    fn tokens(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| Error::Decode(e.to_string()))
    }

    /// The bias phrases of `opts` as token sequences (a phrase the tokenizer refuses is
    /// left out).
    fn bias_trie(&self, opts: &DecodeOptions) -> BiasTrie {
        let phrases = opts
            .bias_phrases
            .iter()
            .filter_map(|p| self.tokens(p).ok())
            .collect();
        BiasTrie::new(phrases, opts.bias_boost)
    }

    /// The tokens of the text the transcript is known to begin with
    /// ([`DecodeOptions::continue_from`]).
    fn forced(&self, opts: &DecodeOptions) -> Result<Vec<u32>> {
        match opts.continue_from.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() => self.tokens(t),
            _ => Ok(Vec::new()),
        }
    }
}

/// The weights in `path`, memory-mapped, or read and with `lora` merged; `load_err`
/// makes the error of a file candle cannot read.
fn var_builder(
    path: &Path,
    lora: Option<&crate::lora::LoraAdapter>,
    load_err: impl Fn(String) -> Error,
) -> Result<VarBuilder<'static>> {
    let dev = Device::Cpu;
    let err = |e: candle_core::Error| load_err(e.to_string());
    match lora {
        // SAFETY: the file is memory-mapped read-only; the set-up writes it once (renamed
        // into place) and nothing modifies it while the program runs.
        None => {
            unsafe { VarBuilder::from_mmaped_safetensors(&[path], DType::F32, &dev) }.map_err(err)
        }
        Some(l) => {
            let mut tensors = candle_core::safetensors::load(path, &dev).map_err(err)?;
            crate::lora::merge_lora_candle(&mut tensors, l)?;
            Ok(VarBuilder::from_tensors(tensors, DType::F32, &dev))
        }
    }
}

/// The filterbank `mel_{n_mels}` of the mel filters file.
fn load_filters(path: &Path, n_mels: usize) -> std::result::Result<Tensor, String> {
    let mels = candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| e.to_string())?;
    mels.get(&format!("mel_{n_mels}"))
        .cloned()
        .ok_or_else(|| format!("mel_filters.safetensors has no mel_{n_mels}"))
}

/// The tokens never written: the configuration's, and everything special after
/// end-of-text (language, task, timestamp tokens).
fn suppressed(cfg: &HfConfig, specials: &Specials) -> Vec<u32> {
    let mut suppress = cfg.suppress_tokens.clone();
    suppress.extend(specials.eot + 1..cfg.vocab_size as u32);
    suppress.sort_unstable();
    suppress.dedup();
    suppress
}

impl AsrModel for CandleWhisper {
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
        if samples.len() < HOP {
            return Ok(Transcript::no_speech(1.0));
        }
        let mel = self.log_mel(samples, self.frames_for(samples.len(), opts))?;
        let cross_kv = self.encode(&mel)?;
        crate::asr::check_cancel(cancel)?;
        let (prefix, sot_index) = self.prefix(opts)?;
        let bias = self.bias_trie(opts);
        let forced = self.forced(opts)?;
        self.fallback(&Pass {
            cross_kv: &cross_kv,
            prefix: &prefix,
            sot_index,
            budget: token_budget(secs, opts.max_tokens_per_second),
            bias: &bias,
            forced: &forced,
            opts,
            cancel,
        })
    }

    fn score_texts(
        &self,
        samples: &[f32],
        opts: &DecodeOptions,
        texts: &[String],
    ) -> Result<Option<Vec<f32>>> {
        begin_decode(samples, &AtomicBool::new(false))?;
        if samples.len() < HOP {
            return Ok(Some(vec![f32::NEG_INFINITY; texts.len()]));
        }
        let mel = self.log_mel(samples, self.frames_for(samples.len(), opts))?;
        let cross_kv = self.encode(&mel)?;
        let (prefix, _) = self.prefix(opts)?;
        let mut out = Vec::with_capacity(texts.len());
        for text in texts {
            let simplified = text.trim();
            let traditional = zhconv::zhconv(simplified, zhconv::Variant::ZhHant);
            let mut best = self.forced_logprob(&cross_kv, &prefix, &self.tokens(simplified)?)?;
            if traditional != simplified {
                let t = self.forced_logprob(&cross_kv, &prefix, &self.tokens(&traditional)?)?;
                best = best.max(t);
            }
            out.push(best);
        }
        Ok(Some(out))
    }
}
