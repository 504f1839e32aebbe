use super::*;
use crate::resample::tests::sine;
use crate::{EarshotVad, EnergyVad};

fn sil(s: f64) -> Vec<f32> {
    vec![0.0; (s * 16_000.0) as usize]
}

fn tone(s: f64) -> Vec<f32> {
    sine(220.0, 16_000, (s * 16_000.0) as usize, 0.3)
}

fn cat(parts: &[Vec<f32>]) -> AudioBuf {
    AudioBuf::new(parts.concat(), 16_000)
}

#[test]
fn defaults_are_documented_values_and_valid() {
    let c = EndpointConfig::default();
    assert_eq!(
        (
            c.threshold,
            c.min_speech_ms,
            c.trailing_silence_ms,
            c.max_utterance_s,
            c.pre_roll_ms
        ),
        (0.5, 250, 600, 20.0, 300)
    );
    c.validate().unwrap();
    let bad = EndpointConfig {
        threshold: 1.5,
        ..Default::default()
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("threshold 1.5"));
}

#[test]
fn one_burst_gives_one_utterance_with_sensible_bounds() {
    let buf = cat(&[sil(1.0), tone(1.5), sil(1.5)]);
    let u = split_utterances(&buf, Box::new(EnergyVad::new()), &EndpointConfig::default());
    assert_eq!(
        u.len(),
        1,
        "{:?}",
        u.iter().map(|u| (u.start_s, u.end_s)).collect::<Vec<_>>()
    );
    assert!((u[0].start_s - 1.0).abs() < 0.05, "start {}", u[0].start_s);
    // end = speech end + trailing silence (0.6 s)
    assert!((u[0].end_s - 3.1).abs() < 0.1, "end {}", u[0].end_s);
    // audio = pre-roll + speech + trailing silence
    let d = u[0].audio.duration_s();
    assert!((d - (0.3 + 1.5 + 0.6)).abs() < 0.1, "duration {d}");
}

#[test]
fn events_are_ordered_and_audio_matches_bounds() {
    let buf = cat(&[sil(0.5), tone(1.0), sil(1.0)]);
    let mut ep = Endpointer::new(Box::new(EnergyVad::new()), EndpointConfig::default());
    let mut evs = Vec::new();
    for c in buf.samples.chunks(777) {
        evs.extend(ep.push(c));
        if matches!(evs.last(), Some(EndpointEvent::Audio(_))) {
            assert!(ep.in_speech());
        }
    }
    evs.extend(ep.flush());
    assert!(matches!(evs.first(), Some(EndpointEvent::Start { .. })));
    assert!(matches!(
        evs.last(),
        Some(EndpointEvent::End {
            reason: EndReason::Silence,
            ..
        })
    ));
    let n: usize = evs
        .iter()
        .map(|e| match e {
            EndpointEvent::Audio(a) => a.len(),
            _ => 0,
        })
        .sum();
    let (s, e) = match (&evs[0], evs.last().unwrap()) {
        (EndpointEvent::Start { at_s: s }, EndpointEvent::End { at_s: e, .. }) => (*s, *e),
        _ => unreachable!(),
    };
    // audio covers [start - pre_roll, end]
    assert!(((n as f64 / 16_000.0) - (e - s + 0.3)).abs() < 0.03);
}

/// Feed `buf` in 20 ms chunks; `on_chunk` may act on the end-pointer after each.
fn run(
    ep: &mut Endpointer,
    buf: &AudioBuf,
    mut on_chunk: impl FnMut(&mut Endpointer) -> Vec<EndpointEvent>,
) -> Vec<EndpointEvent> {
    let mut evs = Vec::new();
    for c in buf.samples.chunks(320) {
        evs.extend(ep.push(c));
        evs.extend(on_chunk(ep));
    }
    evs.extend(ep.flush());
    evs
}

fn ends(evs: &[EndpointEvent]) -> Vec<(f64, EndReason)> {
    evs.iter()
        .filter_map(|e| match e {
            EndpointEvent::End { at_s, reason } => Some((*at_s, *reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn end_now_closes_the_utterance_during_the_pause_and_nothing_outside_one() {
    let buf = cat(&[sil(0.5), tone(1.0), sil(1.5)]);
    let mut ep = Endpointer::new(Box::new(EnergyVad::new()), EndpointConfig::default());
    assert!(ep.end_now().is_empty(), "no utterance yet");
    let evs = run(&mut ep, &buf, |ep| {
        if ep.silence_ms() >= 200 {
            ep.end_now()
        } else {
            Vec::new()
        }
    });
    let e = ends(&evs);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].1, EndReason::Judged);
    // 200 ms after the tone (1.5 s), well before the 600 ms hang-over (2.1 s)
    assert!(e[0].0 > 1.6 && e[0].0 < 1.85, "ended at {}", e[0].0);
}

#[test]
fn a_longer_hang_over_keeps_a_paused_utterance_whole() {
    // speech, a 0.9 s pause, speech: the default 600 ms hang-over cuts it in two
    let buf = cat(&[sil(0.5), tone(1.0), sil(0.9), tone(1.0), sil(2.0)]);
    let mut ep = Endpointer::new(Box::new(EnergyVad::new()), EndpointConfig::default());
    assert_eq!(ends(&run(&mut ep, &buf, |_| Vec::new())).len(), 2);
    let mut ep = Endpointer::new(Box::new(EnergyVad::new()), EndpointConfig::default());
    let evs = run(&mut ep, &buf, |ep| {
        if ep.silence_ms() >= 200 {
            ep.set_trailing_silence_ms(1500);
        }
        Vec::new()
    });
    let e = ends(&evs);
    assert_eq!(e.len(), 1, "{e:?}");
    // the second burst ends at 3.4 s; then the longer hang-over
    assert!((e[0].0 - 4.9).abs() < 0.1, "ended at {}", e[0].0);
}

#[test]
fn clicks_shorter_than_min_speech_give_nothing() {
    let mut parts = vec![sil(0.5)];
    for _ in 0..5 {
        parts.push(tone(0.08));
        parts.push(sil(0.7));
    }
    let u = split_utterances(
        &cat(&parts),
        Box::new(EnergyVad::new()),
        &EndpointConfig::default(),
    );
    assert!(u.is_empty(), "{} utterances from clicks", u.len());
}

#[test]
fn max_length_splits_long_speech() {
    let cfg = EndpointConfig {
        max_utterance_s: 5.0,
        ..Default::default()
    };
    // 12 s of continuous loud sound (the energy floor learns it only after ~15 s)
    let n = 12 * 16_000;
    let speech: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            0.3 * (2.0 * std::f32::consts::PI * 180.0 * t).sin()
        })
        .collect();
    let buf = cat(&[sil(0.5), speech, sil(1.0)]);
    let u = split_utterances(&buf, Box::new(EnergyVad::new()), &cfg);
    let reasons: Vec<f64> = u.iter().map(|u| u.audio.duration_s()).collect();
    assert_eq!(u.len(), 3, "{reasons:?}");
    assert!(u[0].audio.duration_s() <= 5.0 + 0.05);
    assert!(u[1].audio.duration_s() <= 5.0 + 0.05);
    // nothing lost between the pieces
    assert!((u[1].start_s - u[0].end_s).abs() < 0.05);
}

#[test]
fn raising_the_threshold_ignores_quieter_sound() {
    // a faint sound about 12 dB above the quiet-room floor: speech at the
    // default threshold, ignored at 0.9 (as during playback)
    let faint = sine(220.0, 16_000, 16_000, 0.006);
    let buf = cat(&[sil(0.5), faint, sil(1.0)]);
    let run = |t: Option<f32>| {
        let mut ep = Endpointer::new(Box::new(EnergyVad::new()), EndpointConfig::default());
        if let Some(t) = t {
            ep.set_threshold(t);
            assert_eq!(ep.threshold(), t);
        }
        let mut evs = ep.push(&buf.samples);
        evs.extend(ep.flush());
        evs.iter()
            .filter(|e| matches!(e, EndpointEvent::Start { .. }))
            .count()
    };
    assert_eq!(
        run(None),
        1,
        "the faint sound is speech at the default threshold"
    );
    assert_eq!(run(Some(0.9)), 0, "and ignored at 0.9");
}

#[test]
fn start_is_reported_within_min_speech_of_onset() {
    // barge-in: how long after the onset does the caller learn of speech?
    let buf = cat(&[sil(1.0), tone(1.0), sil(1.0)]);
    for (min_ms, bound) in [(250u32, 0.28), (150, 0.2)] {
        let mut ep = Endpointer::new(Box::new(EnergyVad::new()), EndpointConfig::default());
        ep.set_min_speech_ms(min_ms);
        let mut told_at = None;
        for c in buf.samples.chunks(320) {
            let evs = ep.push(c);
            if told_at.is_none() && evs.iter().any(|e| matches!(e, EndpointEvent::Start { .. })) {
                told_at = Some(ep.time_s());
            }
        }
        let lag = told_at.expect("speech start reported") - 1.0;
        assert!(
            lag > 0.0 && lag <= bound,
            "min_speech {min_ms} ms: Start {lag:.3} s after onset"
        );
    }
}

fn summary(buf: &[f32], chunks: &[usize]) -> Vec<(u8, f64, usize)> {
    // (kind, time, audio samples) per event, independent of how input was chunked
    let mut ep = Endpointer::new(Box::new(EnergyVad::new()), EndpointConfig::default());
    let mut evs = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < buf.len() {
        let n = chunks[i % chunks.len()].min(buf.len() - pos);
        evs.extend(ep.push(&buf[pos..pos + n]));
        pos += n;
        i += 1;
    }
    evs.extend(ep.flush());
    let mut out: Vec<(u8, f64, usize)> = Vec::new();
    for e in evs {
        match e {
            EndpointEvent::Start { at_s } => out.push((0, at_s, 0)),
            EndpointEvent::Audio(a) => match out.last_mut() {
                Some((1, _, n)) => *n += a.len(),
                _ => out.push((1, 0.0, a.len())),
            },
            EndpointEvent::End { at_s, .. } => out.push((2, at_s, 0)),
        }
    }
    out
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]

    #[test]
    fn chunking_does_not_change_the_utterances(
        chunks in proptest::collection::vec(1usize..5_000, 1..8),
        burst in 0.3f64..2.0,
        gap in 0.7f64..2.0,
    ) {
        let buf = [sil(0.5), tone(burst), sil(gap), tone(0.5), sil(1.0)].concat();
        let whole = summary(&buf, &[buf.len()]);
        let chunked = summary(&buf, &chunks);
        proptest::prop_assert_eq!(&whole, &chunked);
        // two bursts separated by more than the trailing silence: two utterances
        let starts = whole.iter().filter(|e| e.0 == 0).count();
        proptest::prop_assert_eq!(starts, 2);
    }
}

#[test]
fn earshot_finds_espeak_speech() {
    let Some(speech) = crate::decode::tests::espeak("你好，我想办社保卡") else {
        return xiaoan_testkit::skip(
            "earshot_finds_espeak_speech: espeak-ng not installed (run make setup)",
        );
    };
    let len = speech.duration_s();
    let buf = cat(&[sil(1.0), speech.samples.clone(), sil(1.5)]);
    let u = split_utterances(
        &buf,
        Box::new(EarshotVad::new()),
        &EndpointConfig::default(),
    );
    let spans: Vec<(f64, f64)> = u.iter().map(|u| (u.start_s, u.end_s)).collect();
    println!("espeak {len:.2} s of speech at 1.0 s; earshot utterances {spans:?}");
    assert!(!u.is_empty(), "earshot heard nothing in espeak-ng speech");
    assert!(
        u[0].start_s >= 0.9 && u[0].start_s < 1.5,
        "starts at {}",
        u[0].start_s
    );
    let last = u.last().unwrap();
    assert!(
        last.end_s > 1.0 + len * 0.7 && last.end_s < 1.0 + len + 1.0,
        "ends at {}",
        last.end_s
    );
    let covered: f64 = u.iter().map(|u| u.audio.duration_s()).sum();
    assert!(
        covered > len * 0.7,
        "utterances cover {covered:.2} of {len:.2} s"
    );
}

#[test]
fn flush_ends_an_open_utterance() {
    let mut ep = Endpointer::new(Box::new(EnergyVad::new()), EndpointConfig::default());
    let mut evs = ep.push(&[sil(0.5), tone(1.0)].concat());
    assert!(ep.in_speech());
    evs.extend(ep.flush());
    assert!(
        matches!(evs.last(), Some(EndpointEvent::End { reason: EndReason::Flush, at_s }) if (*at_s - 1.5).abs() < 0.01)
    );
    assert!(!ep.in_speech());
}

#[test]
fn earshot_endpointer_ignores_pure_silence() {
    let buf = cat(&[sil(3.0)]);
    let u = split_utterances(
        &buf,
        Box::new(EarshotVad::new()),
        &EndpointConfig::default(),
    );
    assert!(u.is_empty());
}

#[test]
fn config_deserialises_with_defaults_and_rejects_unknown_keys() {
    // a partial section keeps the other defaults; a misspelt key is refused
    let c: EndpointConfig =
        serde::Deserialize::deserialize(serde::de::value::MapDeserializer::<
            _,
            serde::de::value::Error,
        >::new(vec![("min_speech_ms", 100u32)].into_iter()))
        .unwrap();
    assert_eq!(c.min_speech_ms, 100);
    assert_eq!(c.trailing_silence_ms, 600);
    let bad: std::result::Result<EndpointConfig, _> =
        serde::Deserialize::deserialize(serde::de::value::MapDeserializer::<
            _,
            serde::de::value::Error,
        >::new(vec![("min_speach_ms", 100u32)].into_iter()));
    assert!(bad.is_err());
}
