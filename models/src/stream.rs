//! Streaming recognition over any [`AsrModel`]: [`AsrStream`] and
//! [`LocalAgreementStream`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::asr::{AsrModel, DecodeOptions, StopReason, Transcript, MAX_DECODE_SECONDS};
use crate::error::{Error, Result};

/// Samples per second the stream expects (16 kHz mono).
const RATE: f32 = 16_000.0;

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
    /// Decode the whole utterance and return the final transcript.
    fn finish(&mut self) -> Result<Transcript>;
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
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            step_s: 0.5,
            max_utterance_s: 28.0,
            background: true,
            continue_committed: false,
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
    /// Committed characters of the current window.
    committed: Vec<char>,
    /// Final text of earlier windows of an over-long utterance.
    done: String,
    /// The decode running on a worker thread (background mode).
    job: Option<Job>,
    /// Start and duration of the decode behind `last_transcript`.
    timing: Option<(Instant, Duration)>,
}

/// One decode of `buf[..len]` on a worker thread.
struct Job {
    len: usize,
    cancel: Arc<AtomicBool>,
    started: Instant,
    /// the result and when the decode ended
    handle: JoinHandle<(Result<Transcript>, Instant)>,
}

impl Job {
    /// Wait for the decode; `None` when it was cancelled.
    fn join(self) -> Result<Option<(Transcript, usize, Instant, Duration)>> {
        let Job {
            len,
            started,
            handle,
            ..
        } = self;
        match handle.join() {
            Ok((Ok(t), ended)) => Ok(Some((t, len, started, ended - started))),
            Ok((Err(Error::Cancelled), _)) => Ok(None),
            Ok((Err(e), _)) => Err(e),
            Err(_) => Err(Error::Decode(
                "the recogniser's worker thread failed".into(),
            )),
        }
    }
}

impl LocalAgreementStream {
    /// A stream over `model` decoding with `opts`.
    pub fn new(model: Arc<dyn AsrModel>, opts: DecodeOptions, cfg: StreamConfig) -> Self {
        Self {
            model,
            opts,
            cfg,
            buf: Vec::new(),
            decoded_len: 0,
            last_hyp: None,
            last_transcript: None,
            committed: Vec::new(),
            done: String::new(),
            job: None,
            timing: None,
        }
    }

    fn max_samples(&self) -> usize {
        (self.cfg.max_utterance_s.clamp(1.0, MAX_DECODE_SECONDS) * RATE) as usize
    }

    fn step_samples(&self) -> usize {
        ((self.cfg.step_s.max(0.01)) * RATE) as usize
    }

    fn committed_text(&self) -> String {
        let mut s = self.done.clone();
        s.extend(self.committed.iter());
        s
    }

    /// The options of one step's decode: the committed words as its known beginning.
    fn step_opts(&self) -> DecodeOptions {
        let mut o = self.opts.clone();
        if self.cfg.continue_committed && !self.committed.is_empty() {
            o.continue_from = Some(self.committed.iter().collect());
        }
        o
    }

    /// Decode the current window on this thread and update the agreement.
    fn redecode(&mut self) -> Result<()> {
        let started = Instant::now();
        let t = self.model.decode(&self.buf, &self.step_opts())?;
        self.apply(t, self.buf.len(), started, started.elapsed());
        Ok(())
    }

    /// Start decoding the current window on a worker thread.
    fn start_job(&mut self) {
        let cancel = Arc::new(AtomicBool::new(false));
        let (model, opts, audio) = (self.model.clone(), self.step_opts(), self.buf.clone());
        let flag = cancel.clone();
        let handle = std::thread::spawn(move || {
            let r = model.decode_cancellable(&audio, &opts, &flag);
            (r, Instant::now())
        });
        self.job = Some(Job {
            len: self.buf.len(),
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
            if let Some((t, len, started, took)) = job.join()? {
                self.apply(t, len, started, took);
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
        self.decoded_len == self.buf.len()
            || (!t.text.trim().is_empty() && self.covers(self.decoded_len))
    }

    /// A hypothesis of `buf[..len]` arrived: update the agreement.
    fn apply(&mut self, t: Transcript, len: usize, started: Instant, took: Duration) {
        if len > self.buf.len() {
            return; // the window was closed meanwhile
        }
        self.decoded_len = len;
        self.timing = Some((started, took));
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
            self.redecode()?;
        }
        let mut t = match &self.last_transcript {
            Some(t) => t.clone(),
            None => return Err(Error::Decode("no hypothesis after decoding".into())),
        };
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
    // prev[j] = edit distance between committed[..i] and hyp[..j]
    let mut prev: Vec<usize> = (0..=hyp.len()).collect();
    for (i, c) in committed.iter().enumerate() {
        let mut cur = vec![i + 1; hyp.len() + 1];
        for (j, h) in hyp.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(c != h))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    let best = prev.iter().copied().min().unwrap_or(0);
    prev.iter().rposition(|&d| d == best).unwrap_or(0)
}

impl AsrStream for LocalAgreementStream {
    fn accept_waveform(&mut self, samples: &[f32]) {
        self.buf.extend_from_slice(samples);
    }

    fn partial(&mut self) -> Result<Option<String>> {
        let before = self.committed_text();
        self.collect(false)?;
        if self.buf.len() > self.max_samples() {
            let rest = self.buf.split_off(self.max_samples());
            self.close_window()?;
            self.buf = rest;
        }
        if self.buf.len() >= self.decoded_len + self.step_samples() {
            if !self.cfg.background {
                self.redecode()?;
            } else if self.job.is_none() {
                self.start_job();
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
        if let Some(len) = self.job.as_ref().map(|j| j.len) {
            if self.covers(len) {
                return Ok(()); // the running decode already hears everything
            }
            self.cancel_job()?;
        }
        if self.last_stands() {
            return Ok(());
        }
        self.start_job();
        Ok(())
    }

    fn final_timing(&self) -> Option<(Instant, Duration)> {
        self.timing
    }

    fn finish(&mut self) -> Result<Transcript> {
        if let Some(len) = self.job.as_ref().map(|j| j.len) {
            if self.covers(len) {
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
        let mut t = self.model.decode(&self.buf, opts)?;
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
        self.buf.clear();
        self.decoded_len = 0;
        self.last_hyp = None;
        self.last_transcript = None;
        self.committed.clear();
        self.done.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asr::ScriptedAsr;

    /// Every step decoded on the caller's thread, as `--fast` file decoding does.
    fn sync_cfg() -> StreamConfig {
        StreamConfig {
            background: false,
            ..StreamConfig::default()
        }
    }

    fn stream(asr: ScriptedAsr) -> LocalAgreementStream {
        LocalAgreementStream::new(Arc::new(asr), DecodeOptions::default(), sync_cfg())
    }

    /// Feed `secs` of audio in 0.1 s chunks, collecting every partial.
    fn feed(s: &mut LocalAgreementStream, secs: f32) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..(secs * 10.0).round() as usize {
            s.accept_waveform(&[0.01; 1600]);
            if let Some(p) = s.partial().unwrap() {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn partials_grow_and_finish_gives_the_whole_sentence() {
        let sentence = "我想办理社保卡需要带什么材料";
        let mut s = stream(ScriptedAsr::growing(sentence, 3.0));
        let partials = feed(&mut s, 5.0);
        assert!(
            partials.len() >= 3,
            "expected several partials, got {partials:?}"
        );
        for w in partials.windows(2) {
            assert!(
                w[1].starts_with(&w[0]) && w[1].len() > w[0].len(),
                "flicker: {w:?}"
            );
        }
        let last = partials.last().unwrap();
        assert!(sentence.starts_with(last.as_str()));
        // 5 s at 3 characters a second covers all 14 characters.
        assert_eq!(s.finish().unwrap().text, sentence);
    }

    #[test]
    fn a_second_opinion_decodes_the_whole_utterance_once_more() {
        let sentence = "我想办理社保卡需要带什么材料";
        let asr = Arc::new(ScriptedAsr::growing(sentence, 3.0));
        let mut s = LocalAgreementStream::new(asr.clone(), DecodeOptions::default(), sync_cfg());
        assert!(s
            .second_opinion(&DecodeOptions::default())
            .unwrap()
            .is_none());
        feed(&mut s, 5.0);
        s.finish().unwrap();
        let before = asr.calls();
        let beam = DecodeOptions {
            beam_size: 5,
            ..DecodeOptions::default()
        };
        let t = s
            .second_opinion(&beam)
            .unwrap()
            .expect("the utterance is still there");
        assert_eq!(t.text, sentence);
        assert_eq!(asr.calls(), before + 1);
        assert_eq!(
            asr.continued_from().last(),
            Some(&None),
            "an independent decode: not told what the first one committed"
        );
        s.reset();
        assert!(
            s.second_opinion(&beam).unwrap().is_none(),
            "nothing after a reset"
        );
    }

    #[test]
    fn a_final_after_only_silence_reuses_the_last_decode_and_speech_is_decoded_again() {
        let asr = Arc::new(ScriptedAsr::sequence(["我想", "我想办", "我想办社保卡"]));
        let mut s = LocalAgreementStream::new(asr.clone(), DecodeOptions::default(), sync_cfg());
        feed(&mut s, 1.0); // speech at 0.01 amplitude: two decodes at 0.5 s steps
        let before = asr.calls();
        assert!(before >= 2, "partials decoded: {before}");
        s.accept_waveform(&vec![0.0; 4800]); // 0.3 s of silence after the speech
        let t = s.finish().unwrap();
        assert_eq!(asr.calls(), before, "no second decode of the same speech");
        assert!(t.text.starts_with("我想"), "{}", t.text);

        // speech after the last decode is never skipped
        let asr = Arc::new(ScriptedAsr::sequence(["我想", "我想办", "我想办社保卡"]));
        let mut s = LocalAgreementStream::new(asr.clone(), DecodeOptions::default(), sync_cfg());
        feed(&mut s, 1.0);
        let before = asr.calls();
        s.accept_waveform(&[0.01; 3200]); // 0.2 s more speech
        s.accept_waveform(&vec![0.0; 4800]);
        let t = s.finish().unwrap();
        assert_eq!(asr.calls(), before + 1, "the new speech is decoded");
        assert_eq!(t.text, "我想办社保卡");
    }

    #[test]
    fn disagreeing_hypotheses_never_flicker() {
        // The recogniser changes its mind about the second character.
        let script = [
            "我想",
            "我想办",
            "我像办理",
            "我想办理社",
            "我想办理社保",
            "我想办理社保卡",
        ];
        let mut s = stream(ScriptedAsr::sequence(script));
        let partials = feed(&mut s, 3.0);
        let mut shown = String::new();
        for p in &partials {
            assert!(p.starts_with(&shown), "{p} does not extend {shown}");
            shown = p.clone();
        }
        assert!(shown.starts_with("我"));
        assert!(
            !shown.contains('像'),
            "a text seen once was committed: {shown}"
        );
        let fin = s.finish().unwrap();
        assert_eq!(fin.text, "我想办理社保卡");
        assert!(fin.text.starts_with(&shown));
    }

    #[test]
    fn a_final_hypothesis_that_changes_committed_text_keeps_its_tail() {
        // "我想办" is committed; the last pass hears the first character differently
        // but also the rest of the sentence, which must not be lost.
        let script = ["我想", "我想办", "我想办", "我像办理社保卡"];
        let mut s = stream(ScriptedAsr::sequence(script));
        let partials = feed(&mut s, 2.0);
        assert_eq!(partials.last().map(String::as_str), Some("我想办"));
        s.accept_waveform(&[0.01; 1600]);
        assert_eq!(s.finish().unwrap().text, "我想办理社保卡");
        assert_eq!(aligned_end(&['漏'], &['喽', ' ', '翻']), 1);
        assert_eq!(aligned_end(&['甲', '乙'], &['甲', '丙', '乙', '丁']), 3);
        assert_eq!(aligned_end(&[], &['甲']), 0);
    }

    #[test]
    fn finish_without_new_audio_does_not_decode_again() {
        let asr = Arc::new(ScriptedAsr::growing("一二三四五六七八九十", 4.0));
        let mut s = LocalAgreementStream::new(asr.clone(), DecodeOptions::default(), sync_cfg());
        feed(&mut s, 1.0);
        let calls = asr.calls();
        let t = s.finish().unwrap();
        assert_eq!(
            asr.calls(),
            calls,
            "finish re-decoded audio it had already seen"
        );
        assert_eq!(t.text, "一二三四");
    }

    #[test]
    fn reset_forgets_the_utterance() {
        let mut s = stream(ScriptedAsr::growing("一二三四五六七八九十", 4.0));
        feed(&mut s, 2.0);
        s.reset();
        assert_eq!(s.finish().unwrap().stop, StopReason::NoSpeech);
        let p = feed(&mut s, 1.0);
        assert!(
            p.iter().all(|p| "一二三四".starts_with(p.as_str())),
            "{p:?}"
        );
    }

    /// Once words are committed, each decode is asked to continue them (and only then);
    /// switched off, no decode is.
    #[test]
    fn decodes_continue_the_committed_words() {
        // the final text, and the known beginning each decode was given
        let run = |continue_committed: bool| {
            let asr = Arc::new(ScriptedAsr::growing("甲乙丙丁戊己庚辛", 2.0));
            let cfg = StreamConfig {
                continue_committed,
                ..sync_cfg()
            };
            let mut s = LocalAgreementStream::new(asr.clone(), DecodeOptions::default(), cfg);
            feed(&mut s, 3.0);
            (s.finish().unwrap().text, asr.continued_from())
        };
        let (text, asked) = run(true);
        assert_eq!(text, "甲乙丙丁戊己");
        assert_eq!(
            asked.first(),
            Some(&None),
            "nothing committed before the first"
        );
        let given: Vec<&String> = asked.iter().flatten().collect();
        assert!(given.len() >= 3, "{asked:?}");
        for g in &given {
            assert!(text.starts_with(g.as_str()), "{g} is committed text");
        }
        assert!(
            given.windows(2).all(|w| w[1].starts_with(w[0].as_str())),
            "{given:?}"
        );
        let (text, asked) = run(false);
        assert_eq!(text, "甲乙丙丁戊己");
        assert!(asked.iter().all(Option::is_none));
    }

    #[test]
    fn over_long_utterance_continues_in_a_new_window() {
        let cfg = StreamConfig {
            step_s: 0.5,
            max_utterance_s: 2.0,
            background: false,
            continue_committed: true,
        };
        let mut s = LocalAgreementStream::new(
            Arc::new(ScriptedAsr::growing("甲乙丙丁戊己庚辛", 1.0)),
            DecodeOptions::default(),
            cfg,
        );
        let partials = feed(&mut s, 3.0);
        for w in partials.windows(2) {
            assert!(w[1].starts_with(&w[0]), "flicker: {w:?}");
        }
        // first window: 2 s -> "甲乙"; second window: 1 s -> "甲"
        assert_eq!(s.finish().unwrap().text, "甲乙甲");
    }

    #[test]
    fn config_ranges_are_checked() {
        assert!(sync_cfg().validate().is_ok());
        assert!(StreamConfig {
            step_s: 0.0,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(StreamConfig {
            max_utterance_s: 40.0,
            ..Default::default()
        }
        .validate()
        .is_err());
        let c: StreamConfig = toml::from_str("step_s = 0.25").unwrap();
        assert_eq!(c.step_s, 0.25);
        assert!(toml::from_str::<StreamConfig>("stepp = 1").is_err());
    }

    fn background(asr: &Arc<ScriptedAsr>) -> LocalAgreementStream {
        LocalAgreementStream::new(
            asr.clone(),
            DecodeOptions::default(),
            StreamConfig::default(),
        )
    }

    #[test]
    fn background_partials_never_block_and_still_grow() {
        // each decode takes 1 s; feeding 3 s of audio must not wait for one (decoding on
        // the caller's thread, the first partial alone would hold it up for 1 s)
        let sentence = "我想办理社保卡需要带什么材料";
        let asr =
            Arc::new(ScriptedAsr::growing(sentence, 3.0).with_delay(Duration::from_millis(1000)));
        let mut s = background(&asr);
        let t0 = Instant::now();
        let mut partials = Vec::new();
        for _ in 0..30 {
            s.accept_waveform(&[0.01; 1600]);
            if let Some(p) = s.partial().unwrap() {
                partials.push(p);
            }
        }
        let fed_in = t0.elapsed();
        assert!(
            fed_in < Duration::from_millis(900),
            "feeding waited for decodes: {fed_in:?}"
        );
        // let the running decodes land, as the next captured frames would
        for _ in 0..30 {
            // 3 s more speech as it arrives
            std::thread::sleep(Duration::from_millis(100));
            s.accept_waveform(&[0.01; 1600]);
            if let Some(p) = s.partial().unwrap() {
                partials.push(p);
            }
        }
        assert!(
            !partials.is_empty(),
            "no partial from the background decodes"
        );
        for w in partials.windows(2) {
            assert!(w[1].starts_with(&w[0]), "flicker: {w:?}");
        }
        assert_eq!(s.finish().unwrap().text, sentence);
    }

    #[test]
    fn prepare_final_cancels_a_stale_partial_and_finish_uses_its_own_decode() {
        let asr = Arc::new(
            ScriptedAsr::growing("我想办社保卡", 2.0).with_delay(Duration::from_millis(400)),
        );
        let mut s = background(&asr);
        // 1 s of speech: a partial decode of the first 0.5 s starts and is still running
        for _ in 0..10 {
            s.accept_waveform(&[0.01; 1600]);
            s.partial().unwrap();
        }
        // 2 s more speech fed while the partial runs, then the pause
        s.accept_waveform(&[0.01; 32_000]);
        s.accept_waveform(&[0.0; 3200]);
        s.prepare_final().unwrap();
        let t = s.finish().unwrap();
        assert_eq!(asr.cancelled(), 1, "the stale partial was cancelled");
        assert_eq!(t.text, "我想办社保卡", "the final heard all 3 s of speech");
        let (started, took) = s.final_timing().expect("timing of the final decode");
        assert!(took >= Duration::from_millis(400) && started.elapsed() >= took);
    }

    #[test]
    fn speech_after_prepare_final_is_not_lost() {
        let asr = Arc::new(
            ScriptedAsr::growing("一二三四五六", 2.0).with_delay(Duration::from_millis(50)),
        );
        let mut s = background(&asr);
        s.accept_waveform(&[0.01; 16_000]);
        s.accept_waveform(&[0.0; 3200]);
        s.prepare_final().unwrap();
        // the resident goes on speaking: the early final no longer stands
        s.accept_waveform(&[0.01; 32_000]);
        assert_eq!(s.finish().unwrap().text, "一二三四五六");
    }

    #[test]
    fn a_decode_that_heard_nothing_does_not_stand_for_the_pause_after_speech() {
        // Whisper's no-speech call moves with the window's length: the decodes during the
        // speech said "nothing", the whole window says the sentence
        let asr = Arc::new(ScriptedAsr::sequence(["", "", "我想办社保卡"]));
        let mut s = LocalAgreementStream::new(asr.clone(), DecodeOptions::default(), sync_cfg());
        feed(&mut s, 1.0);
        assert_eq!(asr.calls(), 2);
        s.accept_waveform(&[0.0; 4800]); // the pause
        assert_eq!(s.finish().unwrap().text, "我想办社保卡");
    }
}
