//! Scores the service guide on recogniser transcripts of synthetic speech (the transcript
//! sets of `xiaoan-intents`, whose lines name the guide item meant), listing the misses.
//!
//! `target/release/examples/speech_recall [--errors] [--queries]`, with the committed intent model
//! (`cargo run --release -p xiaoan-intents --example speech` scores the intents alone).
//!
//! Recall@3 follows the evaluation pipeline (`xiaoan eval`, `--dialect given`): the
//! transcript is understood in its given dialect, and the guide is searched with the
//! normalised text only when the predicted intent is one that a guide item answers; an
//! item with a reference service counts as found when that id is among the top three.
//! This is the classifier's gate alone: the agent also searches when the classifier is
//! unsure (`xiaoan_agent::route`), measured by `agent/examples/speech_routing.rs`.
use xiaoan_intents::train::{self, Example};
use xiaoan_intents::{Context, Intent, Understander};
use xiaoan_kb::{Guide, Retriever, TantivyRetriever};

/// Intents whose answer comes from a guide item (as `xiaoan_agent::app::needs_guide`).
fn needs_guide(i: Intent) -> bool {
    matches!(
        i,
        Intent::ServiceQuery
            | Intent::DeclarationFile
            | Intent::DisputeMediate
            | Intent::AppointmentBook
            | Intent::FeedbackComplaint
    )
}

fn recall(
    name: &str,
    u: &Understander,
    r: &dyn Retriever,
    items: &[Example],
    errors: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let (mut n, mut r1, mut r3, mut any3) = (0usize, 0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for e in items {
        let Some(want) = &e.service else { continue };
        n += 1;
        let ctx = Context {
            dialect: Some(e.dialect.clone()),
            ..Context::default()
        };
        let un = u.understand(&e.text, &ctx);
        let mut hits = if un.normalized.text.is_empty() {
            Vec::new()
        } else {
            r.search(&un.normalized.text, 3)?
        };
        if hits.iter().any(|h| &h.id == want) {
            any3 += 1;
        }
        if !needs_guide(un.intent.intent) {
            hits.clear();
        }
        match hits.iter().position(|h| &h.id == want) {
            Some(0) => {
                r1 += 1;
                r3 += 1;
            }
            Some(_) => r3 += 1,
            None => misses.push(format!(
                "   XX {want:<26} {:<18} {:?} {}",
                un.intent.intent.as_str(),
                hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
                e.text
            )),
        }
    }
    let ratio = |k: usize| k as f64 / n.max(1) as f64;
    println!(
        "== {name}: {n} items with a guide item, recall@1 {:.3}, recall@3 {:.3} \
         (searched whatever the intent: recall@3 {:.3})",
        ratio(r1),
        ratio(r3),
        ratio(any3)
    );
    if errors {
        for m in misses {
            println!("{m}");
        }
    }
    Ok(())
}

/// The guide's own test questions (`kb/data/queries.tsv`), as typed and garbled by the
/// noise model: retrieval alone, whatever the intent (a development measure: the noise
/// model is not Whisper).
fn garbled_queries(r: &dyn Retriever) -> Result<(), Box<dyn std::error::Error>> {
    let text = include_str!("../data/queries.tsv");
    let rows: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("query\t"))
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?, f.next()?))
        })
        .collect();
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(7);
    for rate in [0.0, 0.45, 0.6, 0.75] {
        let (mut r1, mut r3, mut n) = (0usize, 0usize, 0usize);
        for _ in 0..if rate > 0.0 { 3 } else { 1 } {
            for (q, want) in &rows {
                let q = train::noisy(q, rate, &mut rng);
                let hits = r.search(&q, 3)?;
                n += 1;
                match hits.iter().position(|h| h.id == *want) {
                    Some(0) => {
                        r1 += 1;
                        r3 += 1;
                    }
                    Some(_) => r3 += 1,
                    None => {}
                }
            }
        }
        println!(
            "== guide questions garbled at {rate}: {n} queries, recall@1 {:.3}, recall@3 {:.3}",
            r1 as f64 / n as f64,
            r3 as f64 / n as f64
        );
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let errors = args.iter().any(|a| a == "--errors");
    let u = Understander::builtin()?;
    let guide = Guide::builtin()?;
    let retriever = TantivyRetriever::in_ram(&guide)?;
    let dev = train::speech_dev();
    let held = train::speech_heldout();
    recall(
        "speech dev (synthetic set transcripts)",
        &u,
        &retriever,
        &dev,
        errors,
    )?;
    recall("speech held-out", &u, &retriever, &held, errors)?;
    if args.iter().any(|a| a == "--queries") {
        garbled_queries(&retriever)?;
    }
    Ok(())
}
