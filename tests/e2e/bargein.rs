//! Barge-in on real (synthetic) speech: the resident talks over a reply.

use std::process::Command;

use xiaoan_agent::bargein::BargeIn;
use xiaoan_audio::{AudioBuf, EarshotVad};

fn espeak(text: &str, voice: &str) -> Option<AudioBuf> {
    let dir = tempfile::tempdir().ok()?;
    let wav = dir.path().join("s.wav");
    let ok = Command::new("espeak-ng")
        .args(["-v", voice, "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    xiaoan_audio::load(&wav, &xiaoan_audio::DecodeOptions::default()).ok()
}

fn gain(x: &[f32], db: f32) -> Vec<f32> {
    let g = 10f32.powf(db / 20.0);
    x.iter().map(|v| v * g).collect()
}

#[test]
fn speech_over_playback_stops_it_within_200_ms_and_the_echo_alone_does_not() {
    let (Some(reply), Some(resident)) = (
        espeak(
            "您好，我是小安，请问您想办什么事，可以直接说",
            "cmn-latn-pinyin",
        ),
        espeak("我要找工作人员", "cmn-latn-pinyin"),
    ) else {
        return xiaoan_testkit::skip("barge-in: espeak-ng not installed (run make setup)");
    };
    let sr = 16_000usize;
    let reply_db = xiaoan_agent::bargein::active_level_db(&reply.samples);
    // the microphone hears the reply attenuated by the coupling
    let echo = gain(&reply.samples, xiaoan_agent::bargein::ECHO_COUPLING_DB);
    let mut b = BargeIn::new(Box::new(EarshotVad::new()), 0.5);
    let mut stopped = None;
    for chunk in echo.chunks(sr / 10) {
        if let Some(at) = b.push(chunk, Some(reply_db)) {
            stopped = Some(at);
            break;
        }
    }
    assert_eq!(stopped, None, "the reply's own echo must not stop it");

    // now the resident starts speaking 1.0 s into the reply, at conversational level
    let onset = sr;
    let lead = resident
        .samples
        .iter()
        .position(|v| v.abs() > 0.02)
        .unwrap_or(0);
    let mut mic = echo.clone();
    mic.resize(mic.len().max(onset + resident.samples.len()), 0.0);
    for (i, v) in resident.samples.iter().enumerate() {
        mic[onset + i] += v;
    }
    let speech_onset = onset + lead;
    let mut b = BargeIn::new(Box::new(EarshotVad::new()), 0.5);
    let mut at = None;
    for chunk in mic.chunks(sr / 10) {
        if let Some(x) = b.push(chunk, Some(reply_db)) {
            at = Some(x);
            break;
        }
    }
    let at = at.expect("speech over the reply is detected");
    let delay_ms = (at as f64 - speech_onset as f64) / sr as f64 * 1000.0;
    assert!(at >= onset, "not before the resident spoke");
    assert!(
        delay_ms <= 200.0,
        "stopped {delay_ms:.0} ms after the onset"
    );
}
