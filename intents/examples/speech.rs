//! Scores the intent model on recogniser transcripts (and the text held-out set), listing
//! the items it gets wrong.
//!
//! `target/release/examples/speech [--builtin] [--errors]`: without `--builtin` a model is
//! trained in memory with the fixed seed (what `xiaoan intents train` would write).
use xiaoan_intents::train::{self, Example, SEED};
use xiaoan_intents::{Context, Understander};

fn show(name: &str, u: &Understander, items: &[Example], errors: bool) {
    let r = train::evaluate(u, items);
    println!(
        "== {name}: {} items, accuracy {:.3}, macro-F1 {:.3}",
        r.n, r.accuracy, r.macro_f1
    );
    for (d, n, a) in &r.per_dialect {
        println!("   {d:<8} {n:>4} items  accuracy {a:.3}");
    }
    if errors {
        let ctx = Context::default();
        for e in items {
            let got = u.understand(&e.text, &ctx).intent;
            if got.intent != e.intent {
                println!(
                    "   XX {:<18} {:<18} {:.2} {}",
                    e.intent.as_str(),
                    got.intent.as_str(),
                    got.confidence,
                    e.text
                );
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let errors = args.iter().any(|a| a == "--errors");
    let u = if args.iter().any(|a| a == "--builtin") {
        Understander::builtin()?
    } else {
        let t = std::time::Instant::now();
        let seed = args
            .iter()
            .position(|a| a == "--seed")
            .and_then(|i| args.get(i + 1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(SEED);
        let m = train::train(seed)?;
        println!("trained in {:.2} s", t.elapsed().as_secs_f32());
        Understander::from_model(m)
    };
    show("text held-out", &u, &train::heldout(), errors);
    show(
        "speech dev (synthetic set transcripts)",
        &u,
        &train::speech_dev(),
        errors,
    );
    show("speech held-out", &u, &train::speech_heldout(), errors);
    Ok(())
}
