//! Trains the intent model with the fixed seed, writes `model/intent-model.bin`, and prints
//! cross-validation, held-out scores and timing.
//!
//! `cargo run --release -p xiaoan-intents --example train [-- OUT.bin] [--no-cv]`
use std::path::PathBuf;

use xiaoan_intents::train::{self, SEED};
use xiaoan_intents::{bench, Understander};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/model/intent-model.bin"
            ))
        });
    train::check_data()?;
    let t = std::time::Instant::now();
    let model = train::write_model(&out, SEED)?;
    println!(
        "trained in {:.2} s, temperature {:.2}, wrote {}",
        t.elapsed().as_secs_f32(),
        model.temperature(),
        out.display()
    );
    let u = Understander::from_model(model);
    let held = train::heldout();
    println!("== held-out ({} items, never trained on)", held.len());
    println!("{}", train::evaluate(&u, &held));
    // The held-out set again, garbled by the homophone noise model (a fixed seed).
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(7);
    let garbled: Vec<train::Example> = held
        .iter()
        .map(|e| train::Example {
            text: train::noisy(&e.text, train::NOISE_RATE, &mut rng),
            noisy: true,
            ..e.clone()
        })
        .collect();
    let g = train::evaluate(&u, &garbled);
    println!(
        "== held-out garbled by the noise model (rate {}): accuracy {:.3}, macro-F1 {:.3}",
        train::NOISE_RATE,
        g.accuracy,
        g.macro_f1
    );
    let texts: Vec<&str> = held.iter().map(|e| e.text.as_str()).collect();
    println!("{}", bench(&u, &texts, 20));
    if !args.iter().any(|a| a == "--no-cv") {
        println!("== 5-fold cross-validation (clean + one noisy copy per example)");
        println!("{}", train::cross_validate(5, SEED));
    }
    Ok(())
}
