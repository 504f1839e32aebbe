//! Streaming recognition over any [`AsrModel`]: [`AsrStream`] and
//! [`LocalAgreementStream`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::asr::{AsrModel, DecodeOptions, StopReason, Transcript, MAX_DECODE_SECONDS};
use crate::decoding::prefix_edit_distances;
use crate::error::{Error, Result};

/// Samples per second the stream expects (16 kHz mono).
const RATE: f32 = crate::asr::SAMPLE_RATE as f32;

/// Per-utterance streaming state, in sherpa's shape: feed samples with
/// [`accept_waveform`](AsrStream::accept_waveform), poll [`partial`](AsrStream::partial)
/// while the resident speaks, call [`finish`](AsrStream::finish) at the end-point, then
/// [`reset`](AsrStream::reset) for the next utterance.
pub trait AsrStream: Send {
    /// Append 16 kHz mono samples of the current utterance.
    fn accept_waveform(&mut self, samples: &[f32]);
    /// Re-decode if at least `step_s` seconds of new audio arrived (in the background
    /// when the stream decodes off the caller's thread: the result shows up in a later
    /// call). Returns `Some(committed text so far)` when the committed text grew, `None`
    /// otherwise. The committed text only grows: each value starts with the previous one.
    fn partial(&mut self) -> Result<Option<String>>;
    /// The resident has probably stopped: start decoding everything heard so far now,
    /// dropping a partial decode that does not cover it, so that [`finish`](AsrStream::finish)
    /// at the end-point finds the final ready. Audio fed later than this makes that
    /// decode stale (unless it is only silence). A stream without background decoding
    /// does nothing here.
    fn prepare_final(&mut self) -> Result<()> {
        Ok(())
    }
    /// The text of the early final [`prepare_final`](AsrStream::prepare_final) started,
    /// once its decode has finished and it still stands for everything fed (never
    /// waits): what [`finish`](AsrStream::finish) would return now, without a decode.
    /// `None` while it runs, when speech came after it, or when the stream cannot tell;
    /// empty when it heard no words. Lets the caller judge from the words whether the
    /// turn is over.
    fn early_text(&mut self) -> Result<Option<String>> {
        Ok(None)
    }
    /// Decode the whole utterance and return the final transcript.
    fn finish(&mut self) -> Result<Transcript>;
    /// Wall time spent decoding this utterance so far: every partial, the final and
    /// second opinions, cancelled decodes included (the streaming compute: divided by
    /// the audio's duration, the streaming RTF).
    fn decode_time(&self) -> Duration {
        Duration::ZERO
    }
    /// When the decode whose hypothesis the last [`finish`](AsrStream::finish) used
    /// started, and how long it ran.
    fn final_timing(&self) -> Option<(Instant, Duration)> {
        None
    }
    /// Decode the utterance [`finish`](AsrStream::finish) ended once more, whole, with
    /// other options (a second opinion, e.g. beam search with the domain language
    /// model, on words the understanding doubts). `None` when the stream has no audio
    /// or cannot decode again.
    fn second_opinion(&mut self, _opts: &DecodeOptions) -> Result<Option<Transcript>> {
        Ok(None)
    }
    /// Forget the utterance and start afresh.
    fn reset(&mut self);
}

/// Streaming settings (`[asr]` in `xiaoan.toml` carries `step_s`).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamConfig {
    /// Re-decode the growing utterance after this many seconds of new audio. Default 0.5.
    pub step_s: f32,
    /// Longest stretch decoded in one pass; a longer utterance is closed at this length
    /// and continues in a fresh window (text carried over). Default 28 (under Whisper's 30 s).
    pub max_utterance_s: f32,
    /// Decode partials on a worker thread, so that the caller (the capture loop) never
    /// waits for one and the end-point can cancel one that is still running. Default true;
    /// decoding a file as fast as possible turns it off so that every step is decoded.
    pub background: bool,
    /// Decode each step as the continuation of the committed words (the engine reads
    /// them in one pass and generates only the rest; see
    /// [`DecodeOptions::continue_from`]). Fewer decoder steps when much is committed,
    /// but on garbled speech early committed mistakes steer the rest (held-out espeak-ng
    /// Mandarin: CER 0.717 → 0.755), so the default is false.
    pub continue_committed: bool,
    /// Spend at most about this share of the wall time on partial decodes: after a
    /// partial decode that took `t`, the next one waits for `t / partial_duty` seconds
    /// of new audio (and at least `step_s`). A slow machine, or one shared with other
    /// sessions, then decodes partials less often instead of falling behind, and the
    /// final decode finds the worker free. Default 0.25; 1 or more: every `step_s`.
    pub partial_duty: f32,
    /// Seconds of silence the encoder sees after the audio in a partial decode, when the
    /// final decodes with its own options (so a partial never stands for the final).
    /// Shorter than the engine's margin for the final: the encoder's work grows with
    /// its window, and partials are most of a stream's decodes. Default none (the
    /// engine's margin for every decode).
    pub partial_pad_s: Option<f32>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            step_s: 0.5,
            max_utterance_s: 28.0,
            background: true,
            continue_committed: false,
            partial_duty: 0.25,
            partial_pad_s: None,
        }
    }
}

impl StreamConfig {
    /// Check the ranges: `step_s` in (0, 10], `max_utterance_s` in [1, 30].
    pub fn validate(&self) -> Result<()> {
        if !(self.step_s > 0.0 && self.step_s <= 10.0) {
            return Err(Error::Config(format!(
                "asr step_s = {} (must be > 0 and at most 10)",
                self.step_s
            )));
        }
        if !(1.0..=MAX_DECODE_SECONDS).contains(&self.max_utterance_s) {
            return Err(Error::Config(format!(
                "max_utterance_s = {} (must be between 1 and {MAX_DECODE_SECONDS})",
                self.max_utterance_s
            )));
        }
        if !(self.partial_duty > 0.0 && self.partial_duty.is_finite()) {
            return Err(Error::Config(format!(
                "asr partial_duty = {} (must be above 0)",
                self.partial_duty
            )));
        }
        Ok(())
    }
}

/// Local-agreement streaming over any [`AsrModel`] (Macháček et al.'s LocalAgreement-2,
/// character level): every `step_s` seconds of new audio the whole utterance so far is
/// decoded again, and the longest common prefix of the last two hypotheses is
/// committed. A later hypothesis that disagrees with committed text never takes it
/// back, so partials only grow. The stream is VAD-gated by its caller: it is fed the
/// audio of one utterance, as the end-pointer delimits it.
pub struct LocalAgreementStream {
    model: Arc<dyn AsrModel>,
    opts: DecodeOptions,
    /// Options of the final decode when they differ from the partials' (e.g. beam
    /// search with the domain language model): `None` decodes the final like a partial.
    final_opts: Option<DecodeOptions>,
    cfg: StreamConfig,
    /// Audio of the current window.
    buf: Vec<f32>,
    /// Samples in `buf` when it was last decoded.
    decoded_len: usize,
    /// The last hypothesis of the current window (characters).
    last_hyp: Option<Vec<char>>,
    /// The last full transcript of the current window, reused by `finish` when no
    /// audio arrived since.
    last_transcript: Option<Transcript>,
    /// Whether `last_transcript` came from a decode with the final's options.
    last_final: bool,
    /// Committed characters of the current window.
    committed: Vec<char>,
    /// Final text of earlier windows of an over-long utterance.
    done: String,
    /// The decode running on a worker thread (background mode).
    job: Option<Job>,
    /// Start and duration of the decode behind `last_transcript`.
    timing: Option<(Instant, Duration)>,
    /// All decode time of the utterance so far (cancelled decodes included).
    busy: Duration,
    /// How long the last partial decode took (paces the next, `partial_duty`).
    last_took: Duration,
}

/// One decode of `buf[..len]` on a worker thread.
struct Job {
    len: usize,
    /// decoding with the final's options
    fin: bool,
    cancel: Arc<AtomicBool>,
    started: Instant,
    /// the result and when the decode ended
    handle: JoinHandle<(Result<Transcript>, Instant)>,
}

impl Job {
    /// Wait for the decode; `None` when it was cancelled. The time the worker spent
    /// comes back either way.
    fn join(self) -> (Result<Option<(Transcript, Decoded)>>, Duration) {
        let Job {
            len,
            fin,
            started,
            handle,
            ..
        } = self;
        match handle.join() {
            Ok((Ok(t), ended)) => {
                let took = ended.saturating_duration_since(started);
                let d = Decoded {
                    len,
                    fin,
                    started,
                    took,
                };
                (Ok(Some((t, d))), took)
            }
            Ok((Err(Error::Cancelled), ended)) => {
                (Ok(None), ended.saturating_duration_since(started))
            }
            Ok((Err(e), ended)) => (Err(e), ended.saturating_duration_since(started)),
            Err(_) => (
                Err(Error::Decode(
                    "the recogniser's worker thread failed".into(),
                )),
                Duration::ZERO,
            ),
        }
    }
}

/// What one decode covered: `buf[..len]`, with the final's options or not, when it
/// started and how long it ran.
struct Decoded {
    len: usize,
    fin: bool,
    started: Instant,
    took: Duration,
}

impl LocalAgreementStream {
    /// A stream over `model` decoding with `opts` (partials and final alike).
    pub fn new(model: Arc<dyn AsrModel>, opts: DecodeOptions, cfg: StreamConfig) -> Self {
        Self {
            model,
            opts,
            final_opts: None,
            cfg,
            buf: Vec::new(),
            decoded_len: 0,
            last_hyp: None,
            last_transcript: None,
            last_final: false,
            committed: Vec::new(),
            done: String::new(),
            job: None,
            timing: None,
            busy: Duration::ZERO,
            last_took: Duration::ZERO,
        }
    }

    /// Decode the final of each utterance with `opts` instead (e.g. beam search with the
    /// domain language model), while partials keep the quick options given to
    /// [`new`](Self::new). The final's hypothesis then stands whole: its reading replaces
    /// the committed words where the two differ. A partial never stands for the final,
    /// even when only the pause came after it.
    pub fn with_final_options(mut self, opts: DecodeOptions) -> Self {
        self.final_opts = Some(opts);
        self
    }

    fn max_samples(&self) -> usize {
        (self.cfg.max_utterance_s.clamp(1.0, MAX_DECODE_SECONDS) * RATE) as usize
    }

    fn step_samples(&self) -> usize {
        ((self.cfg.step_s.max(0.01)) * RATE) as usize
    }

    /// New audio the next partial decode waits for: `step_s`, or more after a slow
    /// partial decode (`partial_duty`). Not paced before the first words are committed
    /// (two agreeing decodes): the first partial a resident sees comes no later.
    fn next_step_samples(&self) -> usize {
        if self.committed.is_empty() && self.done.is_empty() {
            return self.step_samples();
        }
        let paced = self.last_took.as_secs_f32() / self.cfg.partial_duty.max(0.01);
        self.step_samples().max((paced.min(10.0) * RATE) as usize)
    }

    fn committed_text(&self) -> String {
        let mut s = self.done.clone();
        s.extend(self.committed.iter());
        s
    }

    /// The options of one step's decode (`fin`: the final's): the committed words as
    /// its known beginning.
    fn step_opts(&self, fin: bool) -> DecodeOptions {
        let mut o = match (&self.final_opts, fin) {
            (Some(f), true) => f.clone(),
            _ => self.opts.clone(),
        };
        if self.cfg.continue_committed && !self.committed.is_empty() {
            o.continue_from = Some(self.committed.iter().collect());
        }
        if !fin && self.final_opts.is_some() && self.cfg.partial_pad_s.is_some() {
            o.encoder_pad_s = self.cfg.partial_pad_s;
        }
        o
    }

    /// Whether a decode (`fin`: with the final's options) can stand for the final.
    fn final_grade(&self, fin: bool) -> bool {
        fin || self.final_opts.is_none()
    }

    /// Decode the current window on this thread (`fin`: with the final's options) and
    /// update the agreement.
    fn redecode(&mut self, fin: bool) -> Result<()> {
        let started = Instant::now();
        let t = self.model.decode(&self.buf, &self.step_opts(fin));
        let took = started.elapsed();
        self.busy += took;
        let d = Decoded {
            len: self.buf.len(),
            fin,
            started,
            took,
        };
        self.apply(t?, d);
        Ok(())
    }

    /// Start decoding the current window on a worker thread (`fin`: with the final's
    /// options).
    fn start_job(&mut self, fin: bool) {
        let cancel = Arc::new(AtomicBool::new(false));
        let (model, opts, audio) = (self.model.clone(), self.step_opts(fin), self.buf.clone());
        let flag = cancel.clone();
        let handle = std::thread::spawn(move || {
            let r = model.decode_cancellable(&audio, &opts, &flag);
            (r, Instant::now())
        });
        self.job = Some(Job {
            len: self.buf.len(),
            fin,
            cancel,
            started: Instant::now(),
            handle,
        });
    }

    /// Take the worker's result when it is done (or wait for it: `wait`).
    fn collect(&mut self, wait: bool) -> Result<()> {
        if !self
            .job
            .as_ref()
            .is_some_and(|j| wait || j.handle.is_finished())
        {
            return Ok(());
        }
        if let Some(job) = self.job.take() {
            let (r, spent) = job.join();
            self.busy += spent;
            if let Some((t, d)) = r? {
                self.apply(t, d);
            }
        }
        Ok(())
    }

    /// Stop the worker's decode (a result it already had still counts).
    fn cancel_job(&mut self) -> Result<()> {
        if let Some(job) = &self.job {
            job.cancel.store(true, Ordering::Relaxed);
        }
        self.collect(true)
    }

    /// Whether a decode of `buf[..len]` stands for the whole window now.
    fn covers(&self, len: usize) -> bool {
        len == self.buf.len() || (len < self.buf.len() && self.only_silence_after(len))
    }

    /// Whether the last hypothesis can be the window's final without another decode: it
    /// covers the window, and if it heard nothing it decoded the window exactly —
    /// Whisper's no-speech call moves with the window's length, and the end-pointer did
    /// hear speech, so all but the pause is not enough then.
    fn last_stands(&self) -> bool {
        let Some(t) = &self.last_transcript else {
            return false;
        };
        if !self.final_grade(self.last_final) {
            return false; // a partial's quick reading, the final decodes with its own options
        }
        self.decoded_len == self.buf.len()
            || (!t.text.trim().is_empty() && self.covers(self.decoded_len))
    }

    /// A hypothesis of `buf[..d.len]` arrived: update the agreement.
    fn apply(&mut self, t: Transcript, d: Decoded) {
        if d.len > self.buf.len() {
            return; // the window was closed meanwhile
        }
        self.decoded_len = d.len;
        self.last_final = d.fin;
        self.timing = Some((d.started, d.took));
        let hyp: Vec<char> = t.text.chars().collect();
        if let Some(prev) = &self.last_hyp {
            let lcp = prev.iter().zip(&hyp).take_while(|(a, b)| a == b).count();
            if lcp > self.committed.len() && hyp[..self.committed.len()] == self.committed[..] {
                self.committed = hyp[..lcp].to_vec();
            }
        }
        self.last_hyp = Some(hyp);
        self.last_transcript = Some(t);
    }

    /// Close the current window of an over-long utterance: its full text becomes done.
    fn close_window(&mut self) -> Result<()> {
        self.cancel_job()?;
        let t = self.final_of_window()?;
        self.done.push_str(&t.text);
        self.buf.clear();
        self.decoded_len = 0;
        self.last_hyp = None;
        self.last_transcript = None;
        self.last_final = false;
        self.committed.clear();
        Ok(())
    }

    /// True when the audio after `buf[..len]` is only the pause after speech: its
    /// level is at least 20 dB below that of `buf[..len]` (or below -50 dBFS). A
    /// hypothesis of `buf[..len]` then already heard everything, and the final need not
    /// decode it again — at the end of an utterance that saves a whole decode.
    fn only_silence_after(&self, len: usize) -> bool {
        let (heard, tail) = self.buf.split_at(len.min(self.buf.len()));
        if tail.is_empty() {
            return true;
        }
        if heard.is_empty() {
            return false;
        }
        let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
        // the loudest 100 ms of the tail, so one syllable at its end is not averaged away
        let win = (0.1 * RATE) as usize;
        let tail_peak = tail.chunks(win.max(1)).map(rms).fold(0.0f32, f32::max);
        let heard_level = rms(heard);
        tail_peak < 0.1 * heard_level || tail_peak < 0.003
    }

    /// The final transcript of the current window: the committed text followed by the
    /// rest of the latest full hypothesis when it agrees with what was committed.
    fn final_of_window(&mut self) -> Result<Transcript> {
        if self.buf.is_empty() {
            return Ok(Transcript::no_speech(1.0));
        }
        if !self.last_stands() {
            self.redecode(true)?;
        }
        let mut t = match &self.last_transcript {
            Some(t) => t.clone(),
            None => return Err(Error::Decode("no hypothesis after decoding".into())),
        };
        if self.final_opts.is_some() {
            return Ok(t); // the final's own reading stands whole
        }
        let hyp: Vec<char> = t.text.chars().collect();
        if !hyp.starts_with(&self.committed) {
            // The model changed its mind about committed text: keep what was shown,
            // then what the latest hypothesis heard after it (dropping that tail lost
            // the end of the sentence whenever one early character changed).
            let rest = &hyp[aligned_end(&self.committed, &hyp)..];
            t.text = self.committed.iter().chain(rest).collect();
        }
        Ok(t)
    }
}

impl Drop for LocalAgreementStream {
    fn drop(&mut self) {
        if let Some(job) = &self.job {
            job.cancel.store(true, Ordering::Relaxed);
        }
    }
}

/// Where `committed` ends inside `hyp`: the end `j` of the prefix `hyp[..j]` closest to
/// `committed` in edit distance (the longest such prefix on a tie, so that a character
/// the hypothesis dropped is not heard twice).
fn aligned_end(committed: &[char], hyp: &[char]) -> usize {
    let d = prefix_edit_distances(committed, hyp);
    let best = d.iter().copied().min().unwrap_or(0);
    d.iter().rposition(|&x| x == best).unwrap_or(0)
}

impl AsrStream for LocalAgreementStream {
    fn accept_waveform(&mut self, samples: &[f32]) {
        self.buf.extend_from_slice(samples);
    }

    fn partial(&mut self) -> Result<Option<String>> {
        let before = self.committed_text();
        if self.job.as_ref().is_some_and(|j| j.handle.is_finished()) {
            let busy = self.busy;
            self.collect(false)?;
            self.last_took = self.busy.saturating_sub(busy);
        }
        if self.buf.len() > self.max_samples() {
            let rest = self.buf.split_off(self.max_samples());
            self.close_window()?;
            self.buf = rest;
        }
        // a partial only when enough new audio came and some of it is speech (growth
        // by silence alone changes no words: the final decodes it when it comes)
        if self.buf.len() >= self.decoded_len + self.next_step_samples()
            && (self.decoded_len == 0 || !self.only_silence_after(self.decoded_len))
        {
            if !self.cfg.background {
                self.redecode(false)?;
                self.last_took = self.timing.map(|(_, d)| d).unwrap_or_default();
            } else if self.job.is_none() {
                self.start_job(false);
            }
        }
        let now = self.committed_text();
        Ok((now.chars().count() > before.chars().count()).then_some(now))
    }

    fn prepare_final(&mut self) -> Result<()> {
        if !self.cfg.background || self.buf.is_empty() || self.buf.len() > self.max_samples() {
            return Ok(());
        }
        self.collect(false)?;
        if let Some((len, fin)) = self.job.as_ref().map(|j| (j.len, j.fin)) {
            if self.covers(len) && self.final_grade(fin) {
                return Ok(()); // the running decode already hears everything
            }
            self.cancel_job()?;
        }
        if self.last_stands() {
            return Ok(());
        }
        self.start_job(true);
        Ok(())
    }

    fn final_timing(&self) -> Option<(Instant, Duration)> {
        self.timing
    }

    fn early_text(&mut self) -> Result<Option<String>> {
        self.collect(false)?;
        if self.job.is_some() || self.buf.is_empty() {
            return Ok(None);
        }
        if !self.last_stands() {
            // a decode that covers all but the pause and heard nothing: no words to
            // judge (the final decodes the whole window again)
            let heard_nothing = self.last_transcript.as_ref().is_some_and(|t| {
                t.text.trim().is_empty() && self.only_silence_after(self.decoded_len)
            });
            return Ok(heard_nothing.then(String::new));
        }
        // the last hypothesis stands: no decode here
        let t = self.final_of_window()?;
        Ok(Some(format!("{}{}", self.done, t.text)))
    }

    fn decode_time(&self) -> Duration {
        self.busy
    }

    fn finish(&mut self) -> Result<Transcript> {
        if let Some((len, fin)) = self.job.as_ref().map(|j| (j.len, j.fin)) {
            if self.covers(len) && self.final_grade(fin) {
                self.collect(true)?;
            } else {
                self.cancel_job()?;
            }
        }
        if self.buf.len() > self.max_samples() {
            let rest = self.buf.split_off(self.max_samples());
            self.close_window()?;
            self.buf = rest;
        }
        let mut t = self.final_of_window()?;
        if !self.done.is_empty() {
            t.text = format!("{}{}", self.done, t.text);
            if t.stop == StopReason::NoSpeech {
                t.stop = StopReason::Eot;
            }
        }
        Ok(t)
    }

    fn second_opinion(&mut self, opts: &DecodeOptions) -> Result<Option<Transcript>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        // the worker's partial, if any, is stale once the utterance is final
        self.cancel_job()?;
        let started = Instant::now();
        let t = self.model.decode(&self.buf, opts);
        self.busy += started.elapsed();
        let mut t = t?;
        if !self.done.is_empty() {
            t.text = format!("{}{}", self.done, t.text);
        }
        Ok(Some(t))
    }

    fn reset(&mut self) {
        if let Some(job) = self.job.take() {
            // the worker notices within a decoder step and its result is dropped
            job.cancel.store(true, Ordering::Relaxed);
        }
        self.timing = None;
        self.busy = Duration::ZERO;
        self.last_took = Duration::ZERO;
        self.buf.clear();
        self.decoded_len = 0;
        self.last_hyp = None;
        self.last_transcript = None;
        self.last_final = false;
        self.committed.clear();
        self.done.clear();
    }
}

#[cfg(test)]
mod tests;
