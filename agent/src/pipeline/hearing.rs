//! Hearing a live turn: the end-pointer, the streaming recogniser on a worker thread,
//! the early final decode during the hang-over, and the end of turn judged from the words
//! ([`crate::turn_end`]).

use std::time::{Duration, Instant};

use xiaoan_audio::{EndpointEvent, Endpointer};
use xiaoan_models::AsrStream;

use super::*;

/// Trailing silence after which the words may end the turn, in ms, while the
/// end-pointer is still waiting out its longer hang-over (`trailing_silence_ms`): the
/// judge reads the early final no sooner. 200 ms is about the gap people leave between
/// turns, and longer than the gap between two sentences said one after the other
/// (150 ms ended a turn in that gap, `agent/tests/turn_end_scripted.rs`).
pub const EARLY_FINAL_MS: u32 = 200;

/// Trailing silence after which the final decode starts, in ms: earlier than
/// [`EARLY_FINAL_MS`], so that the decode (about 180 ms with the final's beam on 2
/// cores) runs while the end of turn is still being waited for, not after it. The
/// decode runs in the background and is dropped if speech resumes, so a resident who
/// merely paused costs CPU time, not words.
pub const EARLY_DECODE_MS: u32 = 80;

/// What [`Hearing::push`] reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Heard {
    /// Speech started (the end-pointer confirmed an onset).
    Started,
    /// The committed text of the current utterance grew.
    Partial(String),
    /// The utterance ended: its final transcript (may be empty: no words).
    Final {
        /// The final text.
        text: String,
        /// When the decode that produced `text` started (during the hang-over when
        /// `early`, else at the end-point).
        decode_started: Instant,
        /// How long that decode took, ms.
        decode_ms: f64,
        /// True when the decode behind `text` started before the end-point (the early
        /// final made during the hang-over, or a partial that already heard it all).
        early: bool,
        /// Audio time of the end-point, seconds since the hearing started.
        at_s: f64,
    },
}

/// The listening half of a live turn, shared by `xiaoan listen`, `xiaoan bench
/// dialogue` and file streaming, so the benchmarks measure the loop residents meet.
///
/// Captured frames go through the end-pointer into a streaming recogniser (partials
/// while the resident speaks, decoded on a worker thread so that capture never waits).
/// The end-pointer closes an utterance only after `trailing_silence_ms` of silence;
/// waiting that long before starting the final decode would add the decode to the
/// hang-over. So once [`EARLY_DECODE_MS`] of silence has followed speech, the stream is
/// told to decode everything heard so far at once (a partial still decoding older
/// audio is cancelled), and further silence is held back from the recogniser. From
/// [`EARLY_FINAL_MS`] of silence on, the judge reads that decode's words as soon as
/// they are ready and may end the turn there; when the end-point comes the final is
/// ready or nearly so. If speech resumes first, the held-back audio is fed and
/// streaming carries on as if nothing happened.
pub struct Hearing<'a> {
    rec: &'a Recognizer,
    ep: Endpointer,
    stream: Option<Box<dyn AsrStream>>,
    /// the stream of the utterance that ended last (and its dialect), kept for a
    /// second opinion
    last: Option<(Box<dyn AsrStream>, String)>,
    /// decode partials on a worker thread (see [`Recognizer::new_stream`])
    background: bool,
    /// audio of the current utterance not yet fed (silence after the early final)
    held: Vec<f32>,
    /// samples of silence since the last speech frame of the current utterance
    quiet: usize,
    /// the early final was asked for and only silence came since
    early: bool,
    /// what the dialogue awaits (the end of turn reads the words against it)
    expect: Expect,
    /// judges the end of turn from the early final's words; `None`: the fixed hang-over
    judge: Option<Arc<dyn TurnJudge>>,
    /// the judge's call in the current pause, once made (`Incomplete` while the
    /// early final's words are awaited: the hang-over is held at the cap)
    call: Option<TurnCall>,
    /// the early final's words are awaited for the judge
    judging: bool,
    /// the judge's call that ended (or lengthened) the utterance that ended last
    last_call: Option<TurnCall>,
    /// decode time of utterances no longer held
    spent: Duration,
}

impl<'a> Hearing<'a> {
    /// Listen with `rec`'s end-pointer settings, partials decoded in the background.
    pub fn new(rec: &'a Recognizer) -> Result<Hearing<'a>> {
        Self::with_background(rec, true)
    }

    /// Listen; `background: false` decodes every partial inside [`push`](Self::push)
    /// (a file decoded as fast as possible, where nobody waits for the next frame).
    pub fn with_background(rec: &'a Recognizer, background: bool) -> Result<Hearing<'a>> {
        Ok(Hearing {
            rec,
            ep: rec.endpointer()?,
            stream: None,
            last: None,
            background,
            held: Vec::new(),
            quiet: 0,
            early: false,
            expect: Expect::Free,
            judge: Some(Arc::new(TextJudge::builtin())),
            call: None,
            judging: false,
            last_call: None,
            spent: Duration::ZERO,
        })
    }

    /// What the dialogue awaits now (set after every reply, e.g. from its `awaiting`
    /// the session with [`crate::dialogue::Agent::expect`]): an awaited ID number's turn waits for all
    /// 18 digits, a yes/no question's ends on a short 是的.
    pub fn expect(&mut self, e: Expect) {
        self.expect = e;
    }

    /// Judge the end of turn with `judge` (`None`: always the configured hang-over, as
    /// before the judge existed; the default is [`TextJudge::builtin`]).
    pub fn set_judge(&mut self, judge: Option<Arc<dyn TurnJudge>>) {
        self.judge = judge;
    }

    /// The judge's call on the utterance that ended last (`None`: not judged, e.g. its
    /// early final was not ready before the end-point).
    pub fn last_call(&self) -> Option<TurnCall> {
        self.last_call
    }

    /// All decode time so far (partials, finals, second opinions, cancelled decodes):
    /// the streaming compute.
    pub fn decode_time(&self) -> Duration {
        self.spent
            + self
                .stream
                .as_ref()
                .map_or(Duration::ZERO, |s| s.decode_time())
            + self
                .last
                .as_ref()
                .map_or(Duration::ZERO, |(s, _)| s.decode_time())
    }

    /// Back to the configured hang-over, the judge's call forgotten.
    fn unjudge(&mut self) {
        self.judging = false;
        self.call = None;
        self.ep
            .set_trailing_silence_ms(self.rec.endpoint.trailing_silence_ms);
    }

    /// Keep the decode time of a stream that is let go.
    fn retire(&mut self, st: Option<Box<dyn AsrStream>>) {
        if let Some(st) = st {
            self.spent += st.decode_time();
        }
    }

    /// The end-pointer (thresholds, probability meter).
    pub fn endpointer(&self) -> &Endpointer {
        &self.ep
    }

    /// Forget the current utterance and the end-pointer's state (after a barge-in).
    pub fn reset(&mut self) {
        self.ep.reset();
        let (st, last) = (self.stream.take(), self.last.take());
        self.retire(st);
        self.retire(last.map(|(s, _)| s));
        self.unjudge();
        self.held.clear();
        self.quiet = 0;
        self.early = false;
    }

    /// Feed captured 16 kHz frames; `dialect` picks the adapter for an utterance that
    /// starts here. Only the final decode at an end-point is waited for here (and
    /// usually it has already run during the hang-over).
    pub fn push(&mut self, frame: &[f32], dialect: &str) -> Result<Vec<Heard>> {
        let events = self.ep.push(frame);
        self.handle(events, self.silent_now(), dialect)
    }

    /// The input ended: close an utterance still open (its final transcript).
    pub fn flush(&mut self, dialect: &str) -> Result<Vec<Heard>> {
        // the tail is as silent as the last frame pushed: silence held back after the
        // early final stays held, and no partial starts on it
        let silent = self.silent_now();
        let events = self.ep.flush();
        self.handle(events, silent, dialect)
    }

    /// What understanding reads for `heard`, the final text of the utterance that
    /// ended last: `heard` itself, or, when it is `doubted` ([`crate::route::doubts`]),
    /// `heard` joined with a second opinion on the utterance
    /// ([`crate::route::join_hypotheses`]), which is returned too.
    pub fn reading(&mut self, heard: &str, doubted: bool) -> Result<(String, Option<String>)> {
        if doubted {
            if let Some(other) = self.second_opinion()? {
                return Ok((crate::route::join_hypotheses(heard, &other), Some(other)));
            }
        }
        Ok((heard.to_string(), None))
    }

    /// A second opinion on the utterance that ended last: decoded again, whole, with
    /// the recogniser's second-opinion options. `None` when second opinions are off,
    /// no utterance has ended, or the second decode heard nothing.
    fn second_opinion(&mut self) -> Result<Option<String>> {
        let Some((st, dialect)) = self.last.as_mut() else {
            return Ok(None);
        };
        let Some(opts) = self.rec.second_options_for(dialect) else {
            return Ok(None);
        };
        Ok(st
            .second_opinion(&opts)?
            .map(|t| t.text)
            .filter(|t| !t.trim().is_empty()))
    }

    /// Whether the end-pointer's last frame was below its speech threshold.
    fn silent_now(&self) -> bool {
        self.ep.last_probability() < self.ep.threshold()
    }

    fn handle(
        &mut self,
        events: Vec<EndpointEvent>,
        silent: bool,
        dialect: &str,
    ) -> Result<Vec<Heard>> {
        let mut out = Vec::new();
        let mut end_now = false;
        let samples_of = |ms: u32| (ms as u64 * xiaoan_audio::SAMPLE_RATE as u64 / 1000) as usize;
        let (decode_samples, judge_samples) =
            (samples_of(EARLY_DECODE_MS), samples_of(EARLY_FINAL_MS));
        for ev in events {
            match ev {
                EndpointEvent::Start { .. } => {
                    let old = self
                        .stream
                        .replace(self.rec.new_stream(dialect, self.background));
                    self.retire(old);
                    let last = self.last.take();
                    self.retire(last.map(|(s, _)| s));
                    self.unjudge();
                    self.last_call = None;
                    self.held.clear();
                    self.quiet = 0;
                    self.early = false;
                    out.push(Heard::Started);
                }
                EndpointEvent::Audio(samples) => {
                    let Some(st) = self.stream.as_mut() else {
                        continue;
                    };
                    if silent {
                        self.quiet += samples.len();
                    } else {
                        self.quiet = 0;
                    }
                    if self.early && silent {
                        self.held.extend_from_slice(&samples);
                        if self.judging && self.quiet >= judge_samples {
                            if let Some(judge) = &self.judge {
                                if let Some(text) = st.early_text()? {
                                    let call = judge.judge(&text, self.expect);
                                    self.call = Some(call);
                                    self.judging = false;
                                    match call {
                                        TurnCall::Complete => end_now = true,
                                        TurnCall::Incomplete => {}
                                        TurnCall::Unsure => self.ep.set_trailing_silence_ms(
                                            UNSURE_HANGOVER_MS
                                                .max(self.rec.endpoint.trailing_silence_ms),
                                        ),
                                    }
                                }
                            }
                        }
                        continue;
                    }
                    if self.early {
                        // speech resumed after the early final: it no longer stands
                        st.accept_waveform(&std::mem::take(&mut self.held));
                        self.early = false;
                        self.judging = false;
                        self.call = None;
                        self.ep
                            .set_trailing_silence_ms(self.rec.endpoint.trailing_silence_ms);
                    }
                    st.accept_waveform(&samples);
                    if self.quiet >= decode_samples {
                        st.prepare_final()?;
                        self.early = true;
                        if self.judge.is_some() && self.background && self.call.is_none() {
                            // the end-point waits (up to the cap) for the judge to read
                            // the words: the final needs this decode anyway, so holding
                            // the end-point until it is read costs no time
                            self.call = Some(TurnCall::Incomplete);
                            self.judging = true;
                            self.ep.set_trailing_silence_ms(
                                MAX_HANGOVER_MS.max(self.rec.endpoint.trailing_silence_ms),
                            );
                        }
                    } else if self.quiet == 0 || self.background {
                        if let Some(p) = st.partial()? {
                            out.push(Heard::Partial(p));
                        }
                    }
                }
                EndpointEvent::End { at_s, .. } => {
                    if let Some(mut st) = self.stream.take() {
                        let called = Instant::now();
                        let mut text = st.finish()?.text;
                        if text.trim().is_empty() && !self.held.is_empty() {
                            // The end-pointer heard speech and Whisper heard none: its
                            // no-speech call moves with the window's length, so it gets
                            // the utterance as the end-pointer closed it, pause and all.
                            st.accept_waveform(&std::mem::take(&mut self.held));
                            text = st.finish()?.text;
                        }
                        let (decode_started, took) =
                            st.final_timing().unwrap_or((called, called.elapsed()));
                        out.push(Heard::Final {
                            text,
                            decode_started,
                            decode_ms: ms(took),
                            early: decode_started < called,
                            at_s,
                        });
                        let old = self.last.replace((st, dialect.to_string()));
                        self.retire(old.map(|(s, _)| s));
                    }
                    self.held.clear();
                    self.quiet = 0;
                    self.early = false;
                    // not judged when the words were not ready before the end-point
                    self.last_call = self.call.filter(|_| !self.judging);
                    self.unjudge();
                }
            }
        }
        if end_now {
            // the words make a complete turn: the rest of the hang-over is not waited for
            let events = self.ep.end_now();
            out.extend(self.handle(events, silent, dialect)?);
        }
        Ok(out)
    }
}
