//! Scores understanding (intent, emergencies, dialect) on the frozen held-out set, the
//! older held-out lines and the recogniser transcripts: with the n-gram model alone and,
//! when the sentence encoder is installed, with meaning fused in. Retrieval is scored by
//! the `kb` crate's `frozen` example, which passes its retriever to the same scorer.
//!
//! `cargo run --release -p xiaoan-intents --example frozen_intents [-- --ngram-only]`
#[path = "support/e5.rs"]
mod e5;

use std::sync::Arc;

use xiaoan_intents::embed::Cached;
use xiaoan_intents::score::{self, Line};
use xiaoan_intents::Understander;

fn show(name: &str, u: &Understander, lines: &[Line]) {
    let s = score::score(u, lines, None);
    println!("== {name} ({} lines)\n{s}\n", lines.len());
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut u = Understander::builtin()?;
    let mut enc = None;
    if !std::env::args().any(|a| a == "--ngram-only") {
        let e = Arc::new(e5::E5::load()?);
        u = u.with_embedder(Arc::new(Cached::new(e.clone())))?;
        enc = Some(e);
    }
    println!("reads meaning: {}", u.reads_meaning());
    show("frozen held-out v2", &u, &score::frozen_v2()?);
    show("old held-out", &u, &score::old_heldout());
    show("speech held-out transcripts", &u, &score::speech_heldout());
    if let Some(e) = enc {
        e.save();
    }
    Ok(())
}
