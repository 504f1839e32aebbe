//! The end-pointer: turns a stream of 16 kHz samples into utterances.
//!
//! Samples of any chunk size go in; the end-pointer cuts them into the VAD's
//! frames and runs a small state machine:
//!
//! * **idle** — frames go into a pre-roll ring (`pre_roll_ms`);
//! * **candidate** — a frame scored ≥ `threshold`; speech is confirmed once
//!   `min_speech_ms` of speech frames accumulate (gaps up to [`CANDIDATE_GAP_MS`]
//!   allowed). Clicks and coughs shorter than that never start an utterance;
//! * **speech** — [`EndpointEvent::Start`] (time of the first speech frame) and the
//!   buffered audio (pre-roll included) were emitted; every further frame is
//!   emitted as [`EndpointEvent::Audio`]. `trailing_silence_ms` of non-speech ends
//!   the utterance ([`EndReason::Silence`]); so does reaching `max_utterance_s`
//!   ([`EndReason::MaxLength`], the next frames may start a new one at once).
//!
//! Times are seconds from the first sample pushed (or from the last [`Endpointer::reset`]).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::{AudioBuf, Error, Result, Vad, SAMPLE_RATE};

/// Longest pause inside a candidate onset (ms) before it is dropped as noise.
pub const CANDIDATE_GAP_MS: u32 = 200;

/// End-pointing settings (the `[audio.endpoint]` section of `xiaoan.toml`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointConfig {
    /// VAD probability at or above which a frame counts as speech. Default 0.5
    /// (earshot's and Silero's suggested value). Raise it during playback to keep
    /// the speaker's own voice from triggering barge-in.
    pub threshold: f32,
    /// Speech needed before an utterance starts, in ms. Default 250: shorter
    /// clicks, knocks and coughs are ignored. This is also the delay before
    /// [`EndpointEvent::Start`] is reported.
    pub min_speech_ms: u32,
    /// Non-speech that ends an utterance, in ms. Default 600: long enough for the
    /// pauses older speakers make between phrases, short enough to answer promptly.
    pub trailing_silence_ms: u32,
    /// Longest utterance in seconds; longer speech is cut here. Default 20
    /// (well inside Whisper's 30 s window).
    pub max_utterance_s: f32,
    /// Audio kept from before the speech onset, in ms. Default 300: soft initial
    /// consonants the VAD scores low are not clipped.
    pub pre_roll_ms: u32,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            min_speech_ms: 250,
            trailing_silence_ms: 600,
            max_utterance_s: 20.0,
            pre_roll_ms: 300,
        }
    }
}

impl EndpointConfig {
    /// Check the ranges: threshold in (0, 1], max utterance ≥ 1 s and ≤ 1 hour,
    /// min speech ≤ 10 s, trailing silence 50 ms–30 s, pre-roll ≤ 5 s.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return bad(format!(
                "endpoint threshold {} must be in (0, 1]",
                self.threshold
            ));
        }
        if !(self.max_utterance_s >= 1.0 && self.max_utterance_s <= 3600.0) {
            return bad(format!(
                "max_utterance_s {} must be between 1 and 3600 seconds",
                self.max_utterance_s
            ));
        }
        if self.min_speech_ms > 10_000 {
            return bad(format!(
                "min_speech_ms {} is above 10000",
                self.min_speech_ms
            ));
        }
        if !(50..=30_000).contains(&self.trailing_silence_ms) {
            return bad(format!(
                "trailing_silence_ms {} must be between 50 and 30000",
                self.trailing_silence_ms
            ));
        }
        if self.pre_roll_ms > 5_000 {
            return bad(format!("pre_roll_ms {} is above 5000", self.pre_roll_ms));
        }
        Ok(())
    }
}

/// Why an utterance ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// `trailing_silence_ms` of non-speech.
    Silence,
    /// The utterance reached `max_utterance_s`.
    MaxLength,
    /// The stream ended ([`Endpointer::flush`]).
    Flush,
    /// The caller ended it during the hang-over ([`Endpointer::end_now`]), e.g. because
    /// the words heard so far make a complete turn.
    Judged,
}

/// What the end-pointer reports.
#[derive(Clone, Debug, PartialEq)]
pub enum EndpointEvent {
    /// Speech confirmed; `at_s` is the time of its first speech frame.
    Start {
        /// Seconds from the start of the stream.
        at_s: f64,
    },
    /// Samples of the current utterance, in order, pre-roll included; the
    /// concatenation of all `Audio` events between `Start` and `End` is the utterance.
    Audio(Vec<f32>),
    /// The utterance ended; `at_s` is the time just after its last sample (the
    /// trailing silence that closed it is part of the utterance).
    End {
        /// Seconds from the start of the stream.
        at_s: f64,
        /// Why it ended.
        reason: EndReason,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Candidate,
    Speech,
}

/// Streaming end-pointer over a [`Vad`]. Input must be 16 kHz mono.
pub struct Endpointer {
    vad: Box<dyn Vad>,
    cfg: EndpointConfig,
    frame: usize,
    /// samples waiting for a full frame
    pending: Vec<f32>,
    /// samples consumed into frames so far (time base)
    consumed: u64,
    state: State,
    pre_roll: VecDeque<f32>,
    /// candidate audio (pre-roll + frames since onset)
    cand: Vec<f32>,
    cand_onset: u64,
    cand_voiced: usize,
    cand_gap: usize,
    /// samples in the current utterance (from its first emitted sample)
    utt_len: usize,
    silence_run: usize,
    last_p: f32,
}

fn ms_to_samples(ms: u32) -> usize {
    (ms as u64 * SAMPLE_RATE as u64 / 1000) as usize
}

impl Endpointer {
    /// An end-pointer over `vad` with settings `cfg` (out-of-range values are
    /// clamped to the ranges of [`EndpointConfig::validate`]).
    pub fn new(vad: Box<dyn Vad>, cfg: EndpointConfig) -> Self {
        let mut cfg = cfg;
        cfg.threshold = if cfg.threshold.is_finite() {
            cfg.threshold.clamp(0.01, 1.0)
        } else {
            0.5
        };
        cfg.max_utterance_s = if cfg.max_utterance_s.is_finite() {
            cfg.max_utterance_s.clamp(1.0, 3600.0)
        } else {
            20.0
        };
        cfg.min_speech_ms = cfg.min_speech_ms.min(10_000);
        cfg.trailing_silence_ms = cfg.trailing_silence_ms.clamp(50, 30_000);
        cfg.pre_roll_ms = cfg.pre_roll_ms.min(5_000);
        let frame = vad.frame_samples().max(1);
        Self {
            vad,
            frame,
            pending: Vec::with_capacity(frame),
            consumed: 0,
            state: State::Idle,
            pre_roll: VecDeque::with_capacity(ms_to_samples(cfg.pre_roll_ms) + frame),
            cand: Vec::new(),
            cand_onset: 0,
            cand_voiced: 0,
            cand_gap: 0,
            utt_len: 0,
            silence_run: 0,
            last_p: 0.0,
            cfg,
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &EndpointConfig {
        &self.cfg
    }

    /// Change the speech threshold (e.g. raise it while the speaker plays).
    pub fn set_threshold(&mut self, t: f32) {
        if t.is_finite() {
            self.cfg.threshold = t.clamp(0.01, 1.0);
        }
    }

    /// Change the speech needed before `Start` (ms, at most 10 s). Lowering it
    /// during playback makes barge-in faster: `Start` comes `min_speech_ms` after
    /// the onset, so 150 ms leaves time to stop the speaker within 200 ms.
    pub fn set_min_speech_ms(&mut self, ms: u32) {
        self.cfg.min_speech_ms = ms.min(10_000);
    }

    /// Change the non-speech that ends an utterance (ms, clamped to 50 ms–30 s), from
    /// the next frame on: a caller that judges the words heard so far incomplete
    /// lengthens the hang-over of this pause, and sets it back when speech resumes.
    pub fn set_trailing_silence_ms(&mut self, ms: u32) {
        self.cfg.trailing_silence_ms = ms.clamp(50, 30_000);
    }

    /// Non-speech heard since the last speech frame of the current utterance, in ms
    /// (0 outside an utterance).
    pub fn silence_ms(&self) -> u32 {
        if self.state == State::Speech {
            (self.silence_run as u64 * 1000 / SAMPLE_RATE as u64) as u32
        } else {
            0
        }
    }

    /// End the current utterance at once ([`EndReason::Judged`]), without waiting for
    /// the rest of the hang-over: the caller judged the turn complete. Frames still
    /// pending (less than one VAD frame) are emitted with it. Nothing happens outside an
    /// utterance.
    pub fn end_now(&mut self) -> Vec<EndpointEvent> {
        if self.state != State::Speech {
            return Vec::new();
        }
        let mut events = Vec::new();
        let tail = std::mem::take(&mut self.pending);
        self.consumed += tail.len() as u64;
        if !tail.is_empty() {
            events.push(EndpointEvent::Audio(tail));
        }
        events.push(EndpointEvent::End {
            at_s: self.t(self.consumed),
            reason: EndReason::Judged,
        });
        self.go_idle();
        events
    }

    /// The speech threshold in use.
    pub fn threshold(&self) -> f32 {
        self.cfg.threshold
    }

    /// True between a `Start` and its `End`.
    pub fn in_speech(&self) -> bool {
        self.state == State::Speech
    }

    /// VAD probability of the most recent frame (for meters and barge-in hints).
    pub fn last_probability(&self) -> f32 {
        self.last_p
    }

    /// Seconds of audio consumed so far.
    pub fn time_s(&self) -> f64 {
        self.consumed as f64 / SAMPLE_RATE as f64
    }

    /// Forget everything, including the time base and the VAD state.
    pub fn reset(&mut self) {
        self.vad.reset();
        self.pending.clear();
        self.consumed = 0;
        self.go_idle();
        self.pre_roll.clear();
        self.last_p = 0.0;
    }

    fn go_idle(&mut self) {
        self.state = State::Idle;
        self.cand.clear();
        self.cand_voiced = 0;
        self.cand_gap = 0;
        self.utt_len = 0;
        self.silence_run = 0;
    }

    fn t(&self, samples: u64) -> f64 {
        samples as f64 / SAMPLE_RATE as f64
    }

    /// Feed 16 kHz mono samples (any amount); returns the events they caused, in order.
    pub fn push(&mut self, samples: &[f32]) -> Vec<EndpointEvent> {
        let mut events = Vec::new();
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (self.frame - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == self.frame {
                let frame = std::mem::take(&mut self.pending);
                self.process_frame(&frame, &mut events);
                self.pending = frame;
                self.pending.clear();
            }
        }
        coalesce(events)
    }

    /// End of stream: an utterance in progress ends with [`EndReason::Flush`]
    /// (with the last partial frame); an unconfirmed onset is dropped.
    pub fn flush(&mut self) -> Vec<EndpointEvent> {
        let mut events = Vec::new();
        let tail = std::mem::take(&mut self.pending);
        self.consumed += tail.len() as u64;
        if self.state == State::Speech {
            if !tail.is_empty() {
                events.push(EndpointEvent::Audio(tail));
            }
            events.push(EndpointEvent::End {
                at_s: self.t(self.consumed),
                reason: EndReason::Flush,
            });
        }
        self.go_idle();
        self.pre_roll.clear();
        coalesce(events)
    }

    fn push_pre_roll(&mut self, frame: &[f32]) {
        let cap = ms_to_samples(self.cfg.pre_roll_ms);
        if cap == 0 {
            return;
        }
        self.pre_roll.extend(frame.iter().copied());
        while self.pre_roll.len() > cap {
            self.pre_roll.pop_front();
        }
    }

    fn process_frame(&mut self, frame: &[f32], events: &mut Vec<EndpointEvent>) {
        let p = self.vad.speech_probability(frame);
        let p = if p.is_finite() { p } else { 0.0 };
        self.last_p = p;
        let speech = p >= self.cfg.threshold;
        let start = self.consumed;
        self.consumed += frame.len() as u64;
        match self.state {
            State::Idle => {
                if speech {
                    self.state = State::Candidate;
                    self.cand.clear();
                    self.cand.extend(self.pre_roll.drain(..));
                    self.cand.extend_from_slice(frame);
                    self.cand_onset = start;
                    self.cand_voiced = frame.len();
                    self.cand_gap = 0;
                    self.confirm_if_ready(events);
                } else {
                    self.push_pre_roll(frame);
                }
            }
            State::Candidate => {
                self.cand.extend_from_slice(frame);
                if speech {
                    self.cand_voiced += frame.len();
                    self.cand_gap = 0;
                    self.confirm_if_ready(events);
                } else {
                    self.cand_gap += frame.len();
                    if self.cand_gap >= ms_to_samples(CANDIDATE_GAP_MS) {
                        // a click: back to idle, the tail becomes pre-roll
                        let cand = std::mem::take(&mut self.cand);
                        self.go_idle();
                        self.push_pre_roll(&cand);
                        self.cand = cand;
                        self.cand.clear();
                    }
                }
            }
            State::Speech => {
                events.push(EndpointEvent::Audio(frame.to_vec()));
                self.utt_len += frame.len();
                if speech {
                    self.silence_run = 0;
                } else {
                    self.silence_run += frame.len();
                }
                self.check_end(events);
            }
        }
    }

    fn confirm_if_ready(&mut self, events: &mut Vec<EndpointEvent>) {
        if self.cand_voiced >= ms_to_samples(self.cfg.min_speech_ms).max(1) {
            self.state = State::Speech;
            events.push(EndpointEvent::Start {
                at_s: self.t(self.cand_onset),
            });
            let audio = std::mem::take(&mut self.cand);
            self.utt_len = audio.len();
            // trailing non-speech frames of the candidate count as silence
            self.silence_run = self.cand_gap;
            events.push(EndpointEvent::Audio(audio));
            self.check_end(events);
        }
    }

    fn check_end(&mut self, events: &mut Vec<EndpointEvent>) {
        let max = (self.cfg.max_utterance_s as f64 * SAMPLE_RATE as f64) as usize;
        let reason = if self.silence_run >= ms_to_samples(self.cfg.trailing_silence_ms) {
            Some(EndReason::Silence)
        } else if self.utt_len >= max {
            Some(EndReason::MaxLength)
        } else {
            None
        };
        if let Some(reason) = reason {
            events.push(EndpointEvent::End {
                at_s: self.t(self.consumed),
                reason,
            });
            self.go_idle();
        }
    }
}

/// Merge consecutive `Audio` events.
fn coalesce(events: Vec<EndpointEvent>) -> Vec<EndpointEvent> {
    let mut out: Vec<EndpointEvent> = Vec::with_capacity(events.len());
    for ev in events {
        match (out.last_mut(), ev) {
            (Some(EndpointEvent::Audio(a)), EndpointEvent::Audio(b)) => a.extend_from_slice(&b),
            (_, ev) => out.push(ev),
        }
    }
    out
}

/// One utterance cut from a longer recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Utterance {
    /// Speech onset, seconds from the start of the recording.
    pub start_s: f64,
    /// End of the utterance's audio, seconds from the start of the recording.
    pub end_s: f64,
    /// The utterance's 16 kHz audio (pre-roll and trailing silence included).
    pub audio: AudioBuf,
}

/// Cut a recording into utterances with `vad` and `cfg` (for long files).
/// Audio at another rate is resampled to 16 kHz first; a buffer that cannot be
/// resampled (rate 0) gives no utterances.
pub fn split_utterances(buf: &AudioBuf, vad: Box<dyn Vad>, cfg: &EndpointConfig) -> Vec<Utterance> {
    let owned;
    let samples: &[f32] = if buf.sample_rate == SAMPLE_RATE {
        &buf.samples
    } else {
        match crate::resample(&buf.samples, buf.sample_rate, SAMPLE_RATE) {
            Ok(s) => {
                owned = s;
                &owned
            }
            Err(_) => return Vec::new(),
        }
    };
    let mut ep = Endpointer::new(vad, cfg.clone());
    let mut out = Vec::new();
    let mut cur: Option<(f64, Vec<f32>)> = None;
    let mut handle = |events: Vec<EndpointEvent>, out: &mut Vec<Utterance>| {
        for ev in events {
            match ev {
                EndpointEvent::Start { at_s } => cur = Some((at_s, Vec::new())),
                EndpointEvent::Audio(a) => {
                    if let Some((_, v)) = cur.as_mut() {
                        v.extend_from_slice(&a);
                    }
                }
                EndpointEvent::End { at_s, .. } => {
                    if let Some((start_s, v)) = cur.take() {
                        out.push(Utterance {
                            start_s,
                            end_s: at_s,
                            audio: AudioBuf::new(v, SAMPLE_RATE),
                        });
                    }
                }
            }
        }
    };
    for chunk in samples.chunks(SAMPLE_RATE as usize) {
        let ev = ep.push(chunk);
        handle(ev, &mut out);
    }
    let ev = ep.flush();
    handle(ev, &mut out);
    out
}

#[cfg(test)]
mod tests;
