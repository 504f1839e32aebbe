//! Times understanding plus retrieval per utterance with the sentence encoder (the
//! frozen held-out lines as utterances), and states the memory that meaning adds: the
//! process's resident memory before and after loading the encoder, the meaning model and
//! the guide's dense index.
//!
//! `cargo run --release -p xiaoan-kb --example bench_understanding [-- ROUNDS]`
use std::sync::Arc;

use xiaoan_intents::embed::Cached;
use xiaoan_intents::Understander;
use xiaoan_kb::fused::FusedRetriever;
use xiaoan_kb::scoring::{resident_kib, time_utterances};
use xiaoan_kb::{Guide, TantivyRetriever};

#[path = "../../intents/examples/support/e5.rs"]
mod e5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2);
    let lines = xiaoan_intents::score::frozen_v2()?;
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    let guide = Guide::builtin()?;
    let u0 = Understander::builtin()?;
    let r0 = TantivyRetriever::in_ram(&guide)?;
    let t0 = time_utterances(&u0, &r0, &texts, rounds);
    let before = resident_kib();
    println!("without meaning: {t0}");
    // the encoder as the binary loads it: no vector cache of the examples
    let enc = e5::E5::load_uncached()?;
    let emb: Arc<dyn xiaoan_intents::embed::Embedder> = Arc::new(Cached::new(enc));
    let u = Understander::builtin()?.with_embedder(emb.clone())?;
    let r = FusedRetriever::in_ram(&guide, emb)?;
    let after = resident_kib();
    let t = time_utterances(&u, &r, &texts, rounds);
    println!("with meaning:    {t}");
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "resident memory: {:.1} MB before the encoder, {:.1} MB after (encoder, meaning model, {} guide passages embedded): +{:.1} MB",
            b as f64 / 1024.0,
            a as f64 / 1024.0,
            r.dense().len(),
            (a as f64 - b as f64) / 1024.0
        );
    }
    Ok(())
}
