//! Dialect adapters' LoRA deltas reach the running recogniser: candle merges them at
//! load, whisper.cpp reads the dialect's own ggml file written with them merged. A zero
//! adapter changes nothing a resident would hear transcribed; a strong one changes it.

use std::path::{Path, PathBuf};

use xiaoan_agent::pipeline::Recognizer;
use xiaoan_models::lora::{write_lora, LoraEntry};
use xiaoan_tests::{installed_home, repo, settings_in};

const D: usize = 512; // Whisper base's width
const RANK: usize = 4;

/// A pseudo-random sequence in [-1, 1) (no dependency for a test's noise).
fn noise(seed: u64, n: usize) -> Vec<f32> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// The project's adapters copied into `dir`, the Mandarin one naming `lora.safetensors`
/// with B scaled by `strength` (0 = a zero adapter).
fn adapters_with_lora(dir: &Path, strength: f32) -> PathBuf {
    let src = repo().join("models/adapters");
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        let to = dir.join(e.file_name());
        std::fs::create_dir_all(&to).unwrap();
        let text = std::fs::read_to_string(e.path().join("adapter.toml")).unwrap();
        let text = if e.file_name() == "cmn" {
            text.replacen("\n[names]", "\nlora = \"lora.safetensors\"\n[names]", 1)
        } else {
            text
        };
        std::fs::write(to.join("adapter.toml"), text).unwrap();
    }
    let entries: Vec<LoraEntry> = (0..6)
        .flat_map(|layer| {
            ["q_proj", "v_proj"].map(|p| LoraEntry {
                name: format!("model.decoder.layers.{layer}.self_attn.{p}.weight"),
                a: noise(layer as u64 * 2 + 1, RANK * D),
                b: noise(layer as u64 * 2 + 2, D * RANK)
                    .into_iter()
                    .map(|v| v * strength)
                    .collect(),
                out: D,
                inp: D,
            })
        })
        .collect();
    write_lora(
        &dir.join("cmn/lora.safetensors"),
        &entries,
        RANK,
        RANK as f32,
    )
    .unwrap();
    dir.to_path_buf()
}

/// A data folder whose model files are the installed ones (linked, not copied).
fn home_linked_to(installed: &Path, dir: &Path) -> PathBuf {
    let from = xiaoan_models::whisper_dir(installed);
    let to = xiaoan_models::whisper_dir(dir);
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(&from).unwrap() {
        let e = e.unwrap();
        std::os::unix::fs::symlink(e.path(), to.join(e.file_name())).unwrap();
    }
    // the ONNX Runtime library (the onnx engine's encoder)
    let lib = installed.join("lib");
    if lib.is_dir() {
        std::os::unix::fs::symlink(&lib, dir.join("lib")).unwrap();
    }
    dir.to_path_buf()
}

#[test]
fn lora_adapters_reach_every_engine_zero_changes_nothing_strong_changes_the_text() {
    let Some(installed) = installed_home() else {
        return xiaoan_testkit::skip("lora: models not installed (run make setup)");
    };
    let clip = repo().join("tests/fixtures/cmn-youdaika.wav");
    let tmp = tempfile::tempdir().unwrap();
    let home = home_linked_to(&installed, &tmp.path().join("home"));

    // onnx: its encoder graph is built from the merged weights
    for engine in ["candle", "whisper", "onnx"] {
        let base_s = settings_in(&home, &format!("[asr]\nengine = \"{engine}\"\n"));
        let base = Recognizer::load(&base_s).expect("base recogniser loads");
        let audio = xiaoan_agent::pipeline::load_audio(&base_s, &clip).unwrap();
        let heard = base.transcribe(&audio, "cmn").unwrap();
        assert!(
            !heard.is_empty(),
            "{engine}: the base model hears something"
        );

        for (strength, name) in [(0.0f32, "zero"), (1.0, "strong")] {
            let ad = tmp.path().join(format!("adapters-{engine}-{name}"));
            std::fs::create_dir_all(&ad).unwrap();
            adapters_with_lora(&ad, strength);
            let s = settings_in(
                &home,
                &format!(
                    "[asr]\nengine = \"{engine}\"\nadapters_dir = {:?}\n",
                    ad.display().to_string()
                ),
            );
            if engine == "whisper" {
                // what `xiaoan models import` does for an adapter with LoRA
                let lora = xiaoan_models::lora::LoraAdapter::load(&ad.join("cmn/lora.safetensors"))
                    .unwrap();
                let out = xiaoan_agent::adapters::ggml_path_for(&s, Some("cmn"));
                let _ = std::fs::remove_file(&out);
                xiaoan_models::ggml::write_ggml(
                    &xiaoan_models::whisper_dir(&home),
                    &out,
                    xiaoan_models::ggml::GgmlType::F16,
                    Some(&lora),
                )
                .unwrap();
            }
            let rec = Recognizer::load(&s).expect("recogniser with the adapter loads");
            assert!(
                rec.dialect_models.contains_key("cmn"),
                "{engine}: the cmn model is the adapter's"
            );
            let with = rec.transcribe(&audio, "cmn").unwrap();
            if strength == 0.0 {
                assert_eq!(with, heard, "{engine}: a zero adapter changes nothing");
            } else {
                assert_ne!(
                    with, heard,
                    "{engine}: a strong adapter changes what is heard"
                );
            }
            // dialects without LoRA keep the shared model
            assert!(!rec.dialect_models.contains_key("yue"));
        }
    }
}
