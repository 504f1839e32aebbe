//! Choosing the tokens: greedy decoding and sampling ([`CandleWhisper::attempt`]), the
//! batched beam search with an optional fused language model
//! ([`CandleWhisper::attempt_beam`]), and openai/whisper's temperature fallback over
//! them ([`CandleWhisper::fallback`]).

use std::sync::atomic::AtomicBool;

use candle_core::Tensor;
use tokenizers::Tokenizer;

use super::model::DecoderState;
use super::{ce, CandleWhisper};
use crate::asr::{check_cancel, to_simplified, DecodeOptions, StopReason, Transcript};
use crate::decoding::{compression_ratio, find_loop, BiasTrie};
use crate::error::{Error, Result};

/// Most hypotheses of the beam search: the decoder's products take at most this many
/// rows in one pass of the matrix–vector kernel.
const MAX_BEAM: usize = 8;
/// Seed of the sampler used at temperatures above 0 (reproducible results).
pub(super) const SAMPLER_SEED: u64 = 0x5eed_a11c_e0de_2024;

/// What every attempt of one decode shares.
pub(super) struct Pass<'a> {
    /// every decoder layer's cross-attention keys and values of the audio
    pub(super) cross_kv: &'a [(Tensor, Tensor)],
    /// the prompt and start-of-transcript tokens
    pub(super) prefix: &'a [u32],
    /// where `<|startoftranscript|>` is in `prefix`
    pub(super) sot_index: usize,
    /// most text tokens
    pub(super) budget: usize,
    pub(super) bias: &'a BiasTrie,
    /// tokens the transcript is known to begin with (greedy attempts only)
    pub(super) forced: &'a [u32],
    pub(super) opts: &'a DecodeOptions,
    pub(super) cancel: &'a AtomicBool,
}

/// One continuation a beam-search step proposes.
struct Candidate {
    /// the row (live hypothesis) it continues
    parent: usize,
    /// its fused score
    score: f32,
    hyp: Hyp,
    /// whether it ends on end-of-text
    ended: bool,
}

impl CandleWhisper {
    /// openai/whisper's temperature fallback: an attempt per rung of the options'
    /// ladder (the beam search at 0 when asked for), until one is neither silence nor a
    /// failure (a loop, poor log-probability, the token budget); else the attempt with
    /// the best mean log-probability.
    pub(super) fn fallback(&self, pass: &Pass<'_>) -> Result<Transcript> {
        let opts = pass.opts;
        let mut rng = SAMPLER_SEED;
        let mut best: Option<Transcript> = None;
        for &t in opts.temperature_ladder() {
            let r = if t <= 0.0 && (opts.beam_size > 1 || opts.lm.is_some()) {
                self.attempt_beam(pass)?
            } else {
                self.attempt(pass, t, &mut rng)?
            };
            let silent = r.no_speech_prob > opts.no_speech_threshold
                && (r.avg_logprob < opts.logprob_threshold || r.text.is_empty());
            if silent {
                return Ok(Transcript {
                    temperature: t,
                    ..Transcript::no_speech(r.no_speech_prob)
                });
            }
            let failed = compression_ratio(&r.text) > opts.compression_ratio_threshold
                || r.avg_logprob < opts.logprob_threshold
                || r.stop != StopReason::Eot;
            if !failed {
                return Ok(r);
            }
            if best.as_ref().is_none_or(|b| r.avg_logprob > b.avg_logprob) {
                best = Some(r);
            }
        }
        best.ok_or_else(|| Error::Decode("no decoding attempt ran".into()))
    }

    /// The UTF-8 bytes token `id` writes (empty for special tokens).
    fn token_bytes(&self, id: u32) -> &[u8] {
        self.token_bytes
            .get_or_init(|| token_bytes(&self.tokenizer, self.cfg.vocab_size))
            .get(id as usize)
            .map_or(&[], |b| b.as_slice())
    }

    /// The loop-detection key of token `id`: its raw text, `None` for punctuation and
    /// spaces.
    fn token_key(&self, id: u32) -> Option<String> {
        let text = self.tokenizer.decode(&[id], false).unwrap_or_default();
        let is_punct = !text.contains('\u{fffd}')
            && text.chars().all(|c| {
                c.is_whitespace()
                    || c.is_ascii_punctuation()
                    || "、，。！？：；…“”‘’（）《》·—～".contains(c)
            });
        if is_punct {
            return None;
        }
        let raw = self.tokenizer.id_to_token(id).unwrap_or_default();
        Some(raw.trim_start_matches('Ġ').to_string())
    }

    /// Run `prefix` (the pass's prompt and start-of-transcript tokens, perhaps with the
    /// forced ones): the decoder state after them,
    /// the `<|nospeech|>` probability, and the logits of the first text token.
    fn start(&self, pass: &Pass<'_>, prefix: &[u32]) -> Result<(DecoderState, f32, Vec<f32>)> {
        let mut st = DecoderState::new(pass.cross_kv, self.model.dec_blocks.len());
        let hidden = self.model.decode_step(prefix, &mut st).map_err(ce)?;
        let sot_logits = self.model.logits(&hidden, pass.sot_index).map_err(ce)?;
        let no_speech_prob = softmax_at(&sot_logits, self.specials.no_speech as usize);
        let logits = self.model.logits(&hidden, prefix.len() - 1).map_err(ce)?;
        Ok((st, no_speech_prob, logits))
    }

    /// Rule out the tokens never written (and, for the first text token, the ones that
    /// may not begin a transcript).
    fn suppress_in(&self, logits: &mut [f32], first: bool) {
        let begin: &[u32] = if first {
            &self.cfg.begin_suppress_tokens
        } else {
            &[]
        };
        for &t in self.suppress.iter().chain(begin) {
            if let Some(l) = logits.get_mut(t as usize) {
                *l = f32::NEG_INFINITY;
            }
        }
    }

    /// One decoding attempt at temperature 0 by beam search (`opts.beam_size`
    /// hypotheses, decoded as one batch), with the language model of `opts` fused into
    /// every choice when there is one. As openai/whisper's beam search: each hypothesis
    /// proposes its `beam + 1` likeliest next tokens, the best `beam` unfinished
    /// continuations go on, finished ones (end of text, a loop cut, the token budget)
    /// are collected until there are `beam` of them, and the winner is the finished
    /// hypothesis with the best score per token. A loop ends its hypothesis at the cut.
    pub(super) fn attempt_beam(&self, pass: &Pass<'_>) -> Result<Transcript> {
        let opts = pass.opts;
        let beam = opts.beam_size.clamp(1, MAX_BEAM);
        let (mut st, no_speech_prob, first) = self.start(pass, pass.prefix)?;
        let mut rows = vec![first];
        let mut live = vec![Hyp::new()];
        let mut finished: Vec<(Hyp, StopReason)> = Vec::new();
        loop {
            let cands = self.expand(&live, &mut rows, beam, pass);
            let at_end = st.pos + 1 >= self.cfg.max_target_positions;
            let (next, parents) = select(cands, beam, pass.budget, at_end, &mut finished);
            if finished.len() >= beam || next.is_empty() {
                break;
            }
            check_cancel(pass.cancel)?;
            self.model.reorder(&mut st, &parents).map_err(ce)?;
            let last: Vec<u32> = next
                .iter()
                .filter_map(|h| h.tokens.last().copied())
                .collect();
            let hidden = self
                .model
                .decode_rows(&last, next.len(), &mut st)
                .map_err(ce)?;
            rows = self.model.logits_rows(&hidden).map_err(ce)?;
            live = next;
        }
        self.best_of(finished, opts, no_speech_prob)
    }

    /// The continuations of every live hypothesis (row `i` of `rows` holds the logits
    /// after hypothesis `i`): its `beam + 1` likeliest next tokens, each scored.
    fn expand(
        &self,
        live: &[Hyp],
        rows: &mut [Vec<f32>],
        beam: usize,
        pass: &Pass<'_>,
    ) -> Vec<Candidate> {
        let opts = pass.opts;
        let eot = self.specials.eot;
        let mut cands = Vec::new();
        for (parent, (h, logits)) in live.iter().zip(rows.iter_mut()).enumerate() {
            self.suppress_in(logits, h.tokens.is_empty());
            pass.bias.apply(&h.tokens, logits);
            let m = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let lz = m + logits.iter().map(|x| (x - m).exp()).sum::<f32>().ln();
            for (t, l) in top_k(logits, beam + 1) {
                let lp = l - lz;
                let mut hyp = h.clone();
                if t == eot {
                    hyp.end(lp, opts);
                } else {
                    let bytes: &[u8] = match opts.lm {
                        Some(_) => self.token_bytes(t),
                        None => &[],
                    };
                    hyp.push(t, self.token_key(t), bytes, lp, opts);
                }
                cands.push(Candidate {
                    parent,
                    score: hyp.score(opts),
                    hyp,
                    ended: t == eot,
                });
            }
        }
        cands
    }

    /// The transcript of the finished hypothesis with the best score per token.
    fn best_of(
        &self,
        finished: Vec<(Hyp, StopReason)>,
        opts: &DecodeOptions,
        no_speech_prob: f32,
    ) -> Result<Transcript> {
        let per_token = |h: &Hyp| h.score(opts) / (h.tokens.len() + 1) as f32;
        let (best, stop) = finished
            .into_iter()
            .max_by(|a, b| per_token(&a.0).total_cmp(&per_token(&b.0)))
            .ok_or_else(|| Error::Decode("beam search finished nothing".into()))?;
        Ok(Transcript {
            text: self.text_of(&best.tokens)?,
            avg_logprob: best.acoustic / (best.tokens.len() + 1) as f32,
            tokens: best.tokens,
            no_speech_prob,
            temperature: 0.0,
            stop,
        })
    }

    /// The Simplified text of text tokens.
    fn text_of(&self, tokens: &[u32]) -> Result<String> {
        let text = self
            .tokenizer
            .decode(tokens, true)
            .map_err(|e| Error::Decode(e.to_string()))?;
        Ok(to_simplified(text.trim()))
    }

    /// One decoding attempt at `temperature` (greedy at 0, else sampled with `rng`),
    /// continuing the pass's forced tokens.
    pub(super) fn attempt(
        &self,
        pass: &Pass<'_>,
        temperature: f32,
        rng: &mut u64,
    ) -> Result<Transcript> {
        let forced = pass.forced;
        // the words already known are read with the prompt, in one pass
        let mut lead = pass.prefix.to_vec();
        lead.extend_from_slice(forced);
        let (mut st, no_speech_prob, mut logits) = self.start(pass, &lead)?;
        let mut tokens: Vec<u32> = forced.to_vec();
        let mut keys: Vec<Option<String>> = forced.iter().map(|t| self.token_key(*t)).collect();
        let mut sum_logprob = 0f32;
        let stop;
        let max_pos = self.cfg.max_target_positions;
        loop {
            self.suppress_in(&mut logits, tokens.is_empty());
            pass.bias.apply(&tokens, &mut logits);
            let next = if temperature <= 0.0 {
                argmax(&logits)
            } else {
                sample(&logits, temperature, rng)
            };
            sum_logprob += log_softmax_at(&logits, next);
            if next == self.specials.eot {
                stop = StopReason::Eot;
                break;
            }
            tokens.push(next);
            keys.push(self.token_key(next));
            if let Some(cut) = find_loop(&keys) {
                tokens.truncate(cut);
                stop = StopReason::Repetition;
                break;
            }
            if tokens.len() >= pass.budget || st.pos + 1 >= max_pos {
                stop = StopReason::TokenBudget;
                break;
            }
            check_cancel(pass.cancel)?;
            let h = self.model.decode_step(&[next], &mut st).map_err(ce)?;
            logits = self.model.logits(&h, 0).map_err(ce)?;
        }
        Ok(Transcript {
            text: self.text_of(&tokens)?,
            // per generated token, the end of text included (the forced ones have none)
            avg_logprob: sum_logprob
                / (tokens.len() + 1).saturating_sub(forced.len()).max(1) as f32,
            tokens,
            no_speech_prob,
            temperature,
            stop,
        })
    }
}

impl CandleWhisper {
    /// The summed log-probability of `tokens` after `prefix`, the decoder reading them
    /// in one pass over the audio's `cross_kv` (the never-written tokens ruled out, no
    /// bias).
    pub(super) fn forced_logprob(
        &self,
        cross_kv: &[(Tensor, Tensor)],
        prefix: &[u32],
        tokens: &[u32],
    ) -> Result<f32> {
        if tokens.is_empty() {
            return Ok(0.0);
        }
        let mut st = DecoderState::new(cross_kv, self.model.dec_blocks.len());
        let mut seq = prefix.to_vec();
        seq.extend_from_slice(tokens);
        let hidden = self.model.decode_step(&seq, &mut st).map_err(ce)?;
        let mut sum = 0f32;
        for (i, &t) in tokens.iter().enumerate() {
            let mut logits = self
                .model
                .logits(&hidden, prefix.len() - 1 + i)
                .map_err(ce)?;
            self.suppress_in(&mut logits, i == 0);
            sum += log_softmax_at(&logits, t);
        }
        Ok(sum)
    }
}

/// One beam step's choice among `cands`, best score first: finished continuations
/// (end of text, a loop cut back, the token budget or the last position `at_end`) go
/// to `finished` while it holds fewer than `beam`; the best `beam` others go on.
/// Returns them and the rows they continue.
fn select(
    mut cands: Vec<Candidate>,
    beam: usize,
    budget: usize,
    at_end: bool,
    finished: &mut Vec<(Hyp, StopReason)>,
) -> (Vec<Hyp>, Vec<u32>) {
    // stable: equal scores keep the order they were proposed in
    cands.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut next: Vec<Hyp> = Vec::new();
    let mut parents: Vec<u32> = Vec::new();
    let mut finish = |h: Hyp, why: StopReason| {
        if finished.len() < beam {
            finished.push((h, why));
        }
    };
    for Candidate {
        parent,
        mut hyp,
        ended,
        ..
    } in cands
    {
        if ended {
            finish(hyp, StopReason::Eot);
        } else if next.len() < beam {
            if let Some(cut) = find_loop(&hyp.keys) {
                hyp.tokens.truncate(cut);
                finish(hyp, StopReason::Repetition);
            } else if hyp.tokens.len() >= budget || at_end {
                finish(hyp, StopReason::TokenBudget);
            } else {
                next.push(hyp);
                parents.push(parent as u32);
            }
        }
    }
    (next, parents)
}

/// The bytes every token id writes: Whisper's byte-level BPE spells each byte as one
/// printable character ([`crate::byte_level`]); special tokens write none.
fn token_bytes(tok: &Tokenizer, vocab: usize) -> Vec<Vec<u8>> {
    let decode = crate::byte_level::byte_decoder();
    (0..vocab as u32)
        .map(|id| match tok.id_to_token(id) {
            Some(t) if !t.starts_with("<|") => {
                t.chars().filter_map(|c| decode.get(&c).copied()).collect()
            }
            _ => Vec::new(),
        })
        .collect()
}

/// Language-model score of a broken character (bytes that never became one): twice as
/// unlikely as an unseen character.
fn broken_char_lp() -> f32 {
    -2.0 * crate::charlm::BASE_VOCAB.ln()
}

/// One hypothesis of the beam search.
#[derive(Clone, Debug)]
struct Hyp {
    tokens: Vec<u32>,
    keys: Vec<Option<String>>,
    /// sum of the recogniser's token log-probabilities
    acoustic: f32,
    /// sum of the language model's log-probabilities of the characters written
    lm: f32,
    /// characters the language model scored
    chars: usize,
    /// the language model's history (Simplified characters, sentence start first)
    history: Vec<char>,
    /// bytes of a character not yet complete (a token may end mid-character)
    pending: Vec<u8>,
}

impl Hyp {
    fn new() -> Self {
        Hyp {
            tokens: Vec::new(),
            keys: Vec::new(),
            acoustic: 0.0,
            lm: 0.0,
            chars: 0,
            history: crate::charlm::CharLm::start(),
            pending: Vec::new(),
        }
    }

    /// The fused score: recogniser + weighted language model + the per-character bonus.
    fn score(&self, opts: &DecodeOptions) -> f32 {
        match &opts.lm {
            Some(_) => self.acoustic + opts.lm_weight * self.lm + opts.lm_bonus * self.chars as f32,
            None => self.acoustic,
        }
    }

    /// End the hypothesis on end-of-text (log-probability `lp`): the language model scores
    /// the sentence end, and bytes still waiting for their character count as broken.
    fn end(&mut self, lp: f32, opts: &DecodeOptions) {
        self.acoustic += lp;
        let Some(lm) = &opts.lm else {
            return;
        };
        self.lm += lm.end_logprob(&self.history);
        if !self.pending.is_empty() {
            self.pending.clear();
            self.lm += broken_char_lp();
        }
    }

    /// Append `token` (its bytes `bytes`, log-probability `lp`), scoring the characters
    /// it completes with the language model.
    fn push(
        &mut self,
        token: u32,
        key: Option<String>,
        bytes: &[u8],
        lp: f32,
        opts: &DecodeOptions,
    ) {
        self.tokens.push(token);
        self.keys.push(key);
        self.acoustic += lp;
        let Some(lm) = &opts.lm else {
            return;
        };
        self.pending.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        let text = String::from_utf8_lossy(&self.pending[..valid]).into_owned();
        self.pending.drain(..valid);
        if self.pending.len() >= 4 {
            // not the start of any character: drop it, and score it as a very unlikely
            // character (the decoder would print U+FFFD)
            self.pending.clear();
            self.lm += broken_char_lp();
        }
        let (l, n) = lm.extend(&mut self.history, &text);
        self.lm += l;
        self.chars += n;
    }
}

/// The `k` largest entries of `v` as (index, value), largest first.
fn top_k(v: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    for (i, &x) in v.iter().enumerate() {
        if x == f32::NEG_INFINITY || (best.len() == k && x <= best[k - 1].1) {
            continue;
        }
        let at = best.partition_point(|(_, y)| *y >= x);
        best.insert(at, (i as u32, x));
        best.truncate(k);
    }
    best
}

/// The index of the largest entry of `v` (the first of equal ones).
pub(super) fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best as u32
}

/// log softmax(v)[i].
fn log_softmax_at(v: &[f32], i: u32) -> f32 {
    let m = v.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let z: f32 = v.iter().map(|x| (x - m).exp()).sum();
    v.get(i as usize)
        .map(|x| x - m - z.ln())
        .unwrap_or(f32::NEG_INFINITY)
}

/// softmax(v)[i].
fn softmax_at(v: &[f32], i: usize) -> f32 {
    log_softmax_at(v, i as u32).exp()
}

/// A token drawn from softmax(v / temperature) with the xorshift generator `rng`.
fn sample(v: &[f32], temperature: f32, rng: &mut u64) -> u32 {
    let m = v.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let w: Vec<f32> = v.iter().map(|x| ((x - m) / temperature).exp()).collect();
    let total: f32 = w.iter().sum();
    // xorshift64*
    *rng ^= *rng >> 12;
    *rng ^= *rng << 25;
    *rng ^= *rng >> 27;
    let r = (rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32 * total;
    let mut acc = 0.0;
    for (i, x) in w.iter().enumerate() {
        acc += x;
        if acc >= r && *x > 0.0 {
            return i as u32;
        }
    }
    argmax(v)
}
