//! Scores understanding and guide retrieval on development lines (the old held-out set
//! and `intents/data/dev-residents.tsv`, written without seeing the frozen set) and lists
//! what goes wrong: intents, guide items not in the top three, dialects misidentified.
//! For calibration; the frozen set is scored only by the `frozen` example.
//!
//! `cargo run --release -p xiaoan-kb --example dev [-- --lexical] [-- FILE.tsv]`
#[path = "../../intents/examples/support/e5.rs"]
mod e5;

use std::sync::Arc;

use xiaoan_intents::embed::{Cached, Embedder};
use xiaoan_intents::score::{self, Line};
use xiaoan_intents::{identify_dialect, Understander};
use xiaoan_kb::fused::FusedRetriever;
use xiaoan_kb::{Guide, Retriever, TantivyRetriever};

fn show(name: &str, u: &Understander, r: &dyn Retriever, lines: &[Line]) {
    let f = |x: &xiaoan_intents::Understanding| -> Vec<String> {
        r.search(&x.normalized.text, 3)
            .map(|h| h.into_iter().map(|h| h.id).collect())
            .unwrap_or_default()
    };
    let s = score::score(u, lines, Some(&f));
    println!("== {name} ({} lines)\n{s}", lines.len());
    for (t, gold, got) in &s.errors {
        println!("  intent  {t}  {gold:?} -> {got:?}");
    }
    for (t, gold, top) in &s.guide_misses {
        println!("  guide   {t}  {gold} -> {top:?}");
    }
    for l in lines {
        let g = identify_dialect(&l.text);
        if g.code != l.dialect {
            println!("  dialect {}  {} -> {}", l.text, l.dialect, g.code);
        }
    }
    println!();
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let lexical = args.iter().any(|a| a == "--lexical");
    let file = args
        .iter()
        .find(|a| a.ends_with(".tsv"))
        .cloned()
        .unwrap_or_else(|| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../intents/data/dev-residents.tsv"
            )
            .to_string()
        });
    let guide = Guide::builtin()?;
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
    let text = std::fs::read_to_string(&file)?;
    show("old held-out", &u, r.as_ref(), &score::old_heldout());
    show(&file, &u, r.as_ref(), &score::parse_lines(&file, &text)?);
    Ok(())
}
