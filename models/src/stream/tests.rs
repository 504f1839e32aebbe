use std::sync::{Condvar, Mutex};

use super::*;
use crate::asr::{GradedAsr, ScriptedAsr};

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
        partial_duty: 0.25,
        partial_pad_s: None,
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

/// A recogniser whose decodes wait at a gate the test opens, and that logs when each
/// decode starts, ends or is cancelled: the tests below check the order of events,
/// not how long anything took.
struct Gated {
    inner: ScriptedAsr,
    open: Mutex<bool>,
    opened: Condvar,
    log: Mutex<Vec<String>>,
}

/// How long a decode waits at a gate that never opens before it goes on anyway (it
/// logs `gave up`): only so that a test whose stream blocks fails instead of hanging.
const GATE_GUARD: Duration = Duration::from_secs(10);

impl Gated {
    fn new(inner: ScriptedAsr) -> Arc<Self> {
        Arc::new(Self {
            inner,
            open: Mutex::new(false),
            opened: Condvar::new(),
            log: Mutex::new(Vec::new()),
        })
    }

    fn note(&self, event: String) {
        self.log.lock().unwrap().push(event);
    }

    fn open(&self) -> Instant {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
        Instant::now()
    }

    /// The events so far, oldest first.
    fn events(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl AsrModel for Gated {
    fn name(&self) -> &str {
        "gated"
    }

    fn decode_cancellable(
        &self,
        samples: &[f32],
        opts: &DecodeOptions,
        cancel: &AtomicBool,
    ) -> Result<Transcript> {
        self.note(format!("start {:.1} s", samples.len() as f32 / RATE));
        let waited = Instant::now();
        let mut open = self.open.lock().unwrap();
        while !*open {
            if cancel.load(Ordering::Relaxed) {
                self.note("cancelled".into());
                return Err(Error::Cancelled);
            }
            if waited.elapsed() > GATE_GUARD {
                self.note("gave up".into());
                break;
            }
            open = self
                .opened
                .wait_timeout(open, Duration::from_millis(5))
                .unwrap()
                .0;
        }
        drop(open);
        let t = self.inner.decode_cancellable(samples, opts, cancel);
        self.note("end".into());
        t
    }
}

/// Wait until the stream's background decode, if any, has finished (as later
/// captured frames would give it time to).
fn settle(s: &LocalAgreementStream) {
    while s.job.as_ref().is_some_and(|j| !j.handle.is_finished()) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn background_partials_never_block_and_still_grow() {
    // feeding 3 s of audio while the first decode cannot finish: the feeding must
    // not wait for it (decoding on the caller's thread, the first partial would
    // hold the capture loop until the decode ends)
    let sentence = "我想办理社保卡需要带什么材料";
    let asr = Gated::new(ScriptedAsr::growing(sentence, 3.0));
    let mut s = LocalAgreementStream::new(
        asr.clone(),
        DecodeOptions::default(),
        StreamConfig::default(),
    );
    let mut partials = Vec::new();
    for _ in 0..30 {
        s.accept_waveform(&[0.01; 1600]);
        if let Some(p) = s.partial().unwrap() {
            partials.push(p);
        }
    }
    let during = asr.events();
    assert!(
        during.iter().all(|e| e == "start 0.5 s"),
        "no decode ended while the audio was fed: {during:?}"
    );
    assert!(
        s.job
            .as_ref()
            .is_some_and(|j| j.len == 8000 && !j.handle.is_finished()),
        "the first decode (of 0.5 s) is still running"
    );
    assert!(partials.is_empty(), "no decode has ended: {partials:?}");
    // the decodes land while 3 s more speech arrives
    asr.open();
    for _ in 0..30 {
        settle(&s);
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
    let last = partials.last().cloned().unwrap_or_default();
    let fin = s.finish().unwrap().text;
    assert_eq!(fin, sentence);
    assert!(fin.starts_with(&last), "{last} before {fin}");
    assert!(!asr.events().contains(&"gave up".to_string()));
}

#[test]
fn prepare_final_cancels_a_stale_partial_and_finish_uses_its_own_decode() {
    let asr = Gated::new(ScriptedAsr::growing("我想办社保卡", 2.0));
    let mut s = LocalAgreementStream::new(
        asr.clone(),
        DecodeOptions::default(),
        StreamConfig::default(),
    );
    // 1 s of speech: a partial decode of the first 0.5 s starts and waits at the gate
    for _ in 0..10 {
        s.accept_waveform(&[0.01; 1600]);
        s.partial().unwrap();
    }
    // 2 s more speech fed while the partial runs, then the pause
    s.accept_waveform(&[0.01; 32_000]);
    s.accept_waveform(&[0.0; 3200]);
    s.prepare_final().unwrap();
    let opened = asr.open();
    let t = s.finish().unwrap();
    assert_eq!(
        asr.events(),
        ["start 0.5 s", "cancelled", "start 3.2 s", "end"],
        "the stale partial was cancelled and the final decoded everything once"
    );
    assert_eq!(t.text, "我想办社保卡", "the final heard all 3 s of speech");
    // the timing reported is the final decode's: it ended after the gate opened
    let (started, took) = s.final_timing().expect("timing of the final decode");
    assert!(started + took >= opened);
}

#[test]
fn speech_after_prepare_final_is_not_lost() {
    let asr =
        Arc::new(ScriptedAsr::growing("一二三四五六", 2.0).with_delay(Duration::from_millis(50)));
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

#[test]
fn growth_by_silence_alone_decodes_no_partial() {
    let asr = Arc::new(ScriptedAsr::growing("我想办社保卡", 3.0));
    let mut s = LocalAgreementStream::new(asr.clone(), DecodeOptions::default(), sync_cfg());
    feed(&mut s, 1.0);
    let during_speech = asr.calls();
    assert!(
        during_speech >= 2,
        "{during_speech} decodes of 1 s of speech"
    );
    for _ in 0..10 {
        s.accept_waveform(&[0.0; 1600]);
        assert_eq!(s.partial().unwrap(), None);
    }
    assert_eq!(
        asr.calls(),
        during_speech,
        "a second of pause decoded nothing"
    );
    // speech again: partials resume
    feed(&mut s, 1.0);
    assert!(asr.calls() > during_speech);
}

#[test]
fn a_slow_partial_decode_spaces_out_the_next_ones() {
    let calls = |duty: f32| {
        let asr = Arc::new(
            ScriptedAsr::growing("我想办社保卡", 3.0).with_delay(Duration::from_millis(200)),
        );
        let cfg = StreamConfig {
            partial_duty: duty,
            ..sync_cfg()
        };
        let mut s = LocalAgreementStream::new(asr.clone(), DecodeOptions::default(), cfg);
        feed(&mut s, 3.0);
        let n = asr.calls();
        // whatever was skipped, the final hears the whole utterance
        assert_eq!(s.finish().unwrap().text, "我想办社保卡");
        n
    };
    let every_step = calls(1000.0);
    let paced = calls(0.25);
    assert_eq!(every_step, 6, "a decode every 0.5 s of 3 s");
    assert!(paced < every_step, "paced {paced} against {every_step}");
    assert!(StreamConfig {
        partial_duty: 0.0,
        ..StreamConfig::default()
    }
    .validate()
    .is_err());
}

#[test]
fn the_early_final_text_is_read_without_waiting_and_counts_its_decode_time() {
    let asr = Gated::new(ScriptedAsr::growing("我想办社保卡", 6.0));
    let mut s = LocalAgreementStream::new(
        asr.clone(),
        DecodeOptions::default(),
        StreamConfig::default(),
    );
    s.accept_waveform(&[0.01; 16_000]);
    s.accept_waveform(&[0.0; 3200]);
    s.prepare_final().unwrap();
    let asked = Instant::now();
    assert_eq!(s.early_text().unwrap(), None, "the decode is still running");
    assert!(
        asked.elapsed() < GATE_GUARD,
        "early_text never waits for the decode"
    );
    asr.open();
    settle(&s);
    let early = s.early_text().unwrap();
    assert_eq!(early.as_deref(), Some("我想办社保卡"));
    assert!(s.decode_time() > Duration::ZERO);
    // silence after it keeps it standing; the final is that text, with no new decode
    s.accept_waveform(&[0.0; 1600]);
    assert_eq!(s.early_text().unwrap(), early);
    let starts = asr
        .events()
        .iter()
        .filter(|e| e.starts_with("start"))
        .count();
    assert_eq!(s.finish().unwrap().text, "我想办社保卡");
    let after = asr
        .events()
        .iter()
        .filter(|e| e.starts_with("start"))
        .count();
    assert_eq!(starts, after);
}

#[test]
fn speech_after_the_early_final_makes_its_text_stale() {
    let asr = Arc::new(ScriptedAsr::growing("一二三四五六", 2.0));
    let mut s = background(&asr);
    s.accept_waveform(&[0.01; 16_000]);
    s.accept_waveform(&[0.0; 3200]);
    s.prepare_final().unwrap();
    settle(&s);
    assert!(s.early_text().unwrap().is_some());
    s.accept_waveform(&[0.01; 32_000]);
    assert_eq!(s.early_text().unwrap(), None);
    assert_eq!(s.finish().unwrap().text, "一二三四五六");
}

#[test]
fn pacing_does_not_delay_the_first_partial_a_resident_sees() {
    // after how much audio the first words show, decoding every step and paced
    let first = |duty: f32| {
        let asr = Arc::new(
            ScriptedAsr::growing("我想办社保卡", 3.0).with_delay(Duration::from_millis(200)),
        );
        let cfg = StreamConfig {
            partial_duty: duty,
            ..sync_cfg()
        };
        let mut s = LocalAgreementStream::new(asr, DecodeOptions::default(), cfg);
        (1..=30).find(|_| {
            s.accept_waveform(&[0.01; 1600]);
            s.partial().unwrap().is_some_and(|p| !p.is_empty())
        })
    };
    let every_step = first(1000.0);
    assert!(every_step.is_some(), "partials show within 3 s");
    assert_eq!(first(0.25), every_step);
}

/// A recogniser whose greedy reading mishears one character and whose beam search
/// hears it right, at 3 characters a second.
fn graded(greedy: &str, beam: &str) -> Arc<GradedAsr> {
    Arc::new(GradedAsr::new(greedy, beam, 3.0))
}

fn final_beam() -> DecodeOptions {
    DecodeOptions {
        beam_size: 5,
        ..DecodeOptions::default()
    }
}

#[test]
fn partials_stay_greedy_and_the_final_decodes_with_its_own_beam() {
    let asr = graded(
        "我想办理社保卡需要代什么材料",
        "我想办理社保卡需要带什么材料",
    );
    let mut s = LocalAgreementStream::new(asr.clone(), DecodeOptions::default(), sync_cfg())
        .with_final_options(final_beam());
    let partials = feed(&mut s, 5.0);
    assert!(partials.len() >= 3, "{partials:?}");
    assert!(
        asr.beams().iter().all(|&b| b == 1),
        "every partial greedy: {:?}",
        asr.beams()
    );
    assert!(
        partials.last().unwrap().contains("代"),
        "the partials show the greedy reading: {partials:?}"
    );
    // only the pause after the speech: the last partial is not reused for the final
    s.accept_waveform(&[0.0; 4800]);
    let t = s.finish().unwrap();
    assert_eq!(asr.beams().last(), Some(&5), "{:?}", asr.beams());
    assert_eq!(
        asr.beams().iter().filter(|&&b| b == 5).count(),
        1,
        "one final decode"
    );
    assert_eq!(
        t.text, "我想办理社保卡需要带什么材料",
        "the final's reading stands"
    );
    // finishing again without new audio reuses it
    let n = asr.beams().len();
    assert_eq!(s.finish().unwrap().text, t.text);
    assert_eq!(asr.beams().len(), n);
    // and the next utterance's partials are greedy again
    s.reset();
    feed(&mut s, 1.0);
    assert!(asr.beams()[n..].iter().all(|&b| b == 1));
}

#[test]
fn partials_encode_a_shorter_margin_and_the_final_the_engines_own() {
    let asr = graded("我想办社保卡", "我想办社保卡");
    let cfg = StreamConfig {
        partial_pad_s: Some(2.0),
        ..sync_cfg()
    };
    let mut s = LocalAgreementStream::new(asr.clone(), DecodeOptions::default(), cfg.clone())
        .with_final_options(final_beam());
    feed(&mut s, 2.0);
    s.finish().unwrap();
    let (beams, pads) = (asr.beams(), asr.pads());
    assert!(beams.len() >= 3, "{beams:?}");
    for (b, p) in beams.iter().zip(&pads) {
        // the greedy partials the short margin, the final (beam) the engine's own
        assert_eq!(*p, (*b == 1).then_some(2.0), "{beams:?} {pads:?}");
    }
    // without final options a partial may stand for the final: every decode keeps the
    // engine's margin
    let asr = graded("我想办社保卡", "我想办社保卡");
    let mut s = LocalAgreementStream::new(asr.clone(), DecodeOptions::default(), cfg);
    feed(&mut s, 2.0);
    s.finish().unwrap();
    assert!(asr.pads().iter().all(Option::is_none), "{:?}", asr.pads());
}

#[test]
fn without_final_options_the_last_partial_still_stands_for_the_final() {
    let asr = graded("我想办社保卡", "我想办社保卡");
    let mut s = LocalAgreementStream::new(asr.clone(), DecodeOptions::default(), sync_cfg());
    feed(&mut s, 2.0);
    let n = asr.beams().len();
    s.accept_waveform(&[0.0; 4800]);
    s.finish().unwrap();
    assert_eq!(asr.beams().len(), n, "no extra decode of the same speech");
}

#[test]
fn the_early_final_decodes_with_the_final_options_in_the_background() {
    let asr = graded(
        "我想办理社保卡需要代什么材料",
        "我想办理社保卡需要带什么材料",
    );
    let mut s = LocalAgreementStream::new(
        asr.clone(),
        DecodeOptions::default(),
        StreamConfig::default(),
    )
    .with_final_options(final_beam());
    for _ in 0..50 {
        settle(&s);
        s.accept_waveform(&[0.01; 1600]);
        s.partial().unwrap();
    }
    settle(&s);
    s.accept_waveform(&[0.0; 4800]);
    s.prepare_final().unwrap();
    settle(&s);
    assert_eq!(
        s.early_text().unwrap().as_deref(),
        Some("我想办理社保卡需要带什么材料"),
        "the early final is the beam's reading"
    );
    let n = asr.beams().len();
    assert_eq!(s.finish().unwrap().text, "我想办理社保卡需要带什么材料");
    assert_eq!(asr.beams().len(), n, "finish found the early final ready");
    assert_eq!(asr.beams().iter().filter(|&&b| b == 5).count(), 1);
}
