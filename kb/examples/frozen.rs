//! Scores understanding and guide retrieval together on the frozen held-out set, the
//! older held-out lines and the recogniser transcripts: the guide item meant in the top
//! three, searched as the dialogue searches (the normalised text). With the sentence
//! encoder installed: meaning fused into both; `--lexical` scores the term-and-sound
//! retriever and the n-gram model alone (the system before meaning).
//!
//! `cargo run --release -p xiaoan-kb --example frozen [-- --lexical]`
#[path = "../../intents/examples/support/e5.rs"]
mod e5;

use std::sync::Arc;

use xiaoan_intents::embed::{Cached, Embedder};
use xiaoan_intents::score::{self, Line};
use xiaoan_intents::Understander;
use xiaoan_kb::fused::FusedRetriever;
use xiaoan_kb::{Guide, Retriever, TantivyRetriever};

fn show(name: &str, u: &Understander, r: &dyn Retriever, lines: &[Line]) {
    let f = |x: &xiaoan_intents::Understanding| -> Vec<String> {
        r.search(&x.normalized.text, 3)
            .map(|h| h.into_iter().map(|h| h.id).collect())
            .unwrap_or_default()
    };
    let s = score::score(u, lines, Some(&f));
    println!("== {name} ({} lines)\n{s}\n", lines.len());
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guide = Guide::builtin()?;
    let lexical = std::env::args().any(|a| a == "--lexical");
    let (u, r): (Understander, Box<dyn Retriever>) = if lexical {
        (
            Understander::builtin()?,
            Box::new(TantivyRetriever::in_ram(&guide)?),
        )
    } else {
        let e5 = Arc::new(e5::E5::load()?);
        let emb: Arc<dyn Embedder> = Arc::new(Cached::new(e5.clone()));
        let u = Understander::builtin()?.with_embedder(emb.clone())?;
        let r = FusedRetriever::in_ram(&guide, emb)?;
        e5.save();
        (u, Box::new(r))
    };
    show("frozen held-out v2", &u, r.as_ref(), &score::frozen_v2()?);
    show("old held-out", &u, r.as_ref(), &score::old_heldout());
    show(
        "speech held-out transcripts",
        &u,
        r.as_ref(),
        &score::speech_heldout(),
    );
    Ok(())
}
