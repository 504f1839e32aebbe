//! Explains how single utterances are read: the normalised text, the emergency cue, the
//! dialect guess and the top intents (meaning fused in when the encoder is installed).
//! For development; lines come from the arguments or, one per line, from stdin.
//!
//! `cargo run --release -p xiaoan-intents --example why -- 句子 …`
#[path = "support/e5.rs"]
mod e5;

use std::io::BufRead;
use std::sync::Arc;

use xiaoan_intents::embed::{Cached, Embedder};
use xiaoan_intents::emergency::emergency_cue;
use xiaoan_intents::{identify_dialect, Context, Understander};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut lines: Vec<String> = std::env::args().skip(1).collect();
    if lines.is_empty() {
        lines = std::io::stdin()
            .lock()
            .lines()
            .map_while(Result::ok)
            .collect();
    }
    let mut u = Understander::builtin()?;
    if let Ok(e5) = e5::E5::load() {
        let emb: Arc<dyn Embedder> = Arc::new(Cached::new(Arc::new(e5)));
        u = u.with_embedder(emb)?;
    }
    for t in lines.iter().filter(|l| !l.trim().is_empty()) {
        let r = u.understand(t, &Context::default());
        let cue = emergency_cue(&r.normalized.text, &r.normalized.pinyin);
        let g = identify_dialect(t);
        println!(
            "{t}\n  norm {}\n  cue {cue:?}\n  dialect {} {:?}\n  intent {:?}",
            r.normalized.text,
            g.code,
            &g.scores[..3],
            r.intent.candidates
        );
    }
    Ok(())
}
