//! Measures the shared decision of `xiaoan_agent::route` (the classifier's intent, or a
//! guessed guide question when it is unsure and the guide matches strongly) against the
//! classifier alone, the way `xiaoan eval` scores them: intent accuracy, and recall@3 of
//! the reference guide item among the predicted `service_ids` (empty when the intent
//! needs none), and recall@3 when the guide is searched on every transcript (the
//! ceiling of any gate).
//!
//! `target/release/examples/speech_routing [--errors]` — `--errors` lists every item whose
//! reading the guide changed (except on the speech held-out set, which is report-only).
//!
//! Sets: the speech transcript sets of `xiaoan-intents` (dev: tune here; held-out: report
//! only), the text held-out set and the synthetic set's lines as typed (typed
//! understanding must not regress; `xiaoan eval` on text items), the guide's own
//! questions (`kb/data/queries.tsv`) garbled by the noise model, and the text held-out
//! lines that are *not* guide questions garbled the same way (guesses there are false
//! alarms).
use xiaoan_agent::route::{self, needs_guide};
use xiaoan_intents::train::{self, Example};
use xiaoan_intents::{Context, Intent, Understander};
use xiaoan_kb::{Guide, Retriever, TantivyRetriever};

#[derive(Default)]
struct Tally {
    n: usize,
    with_item: usize,
    acc: [usize; 2],
    r3: [usize; 2],
    /// found in the top 3 when every transcript is searched, whatever its intent
    r3_ungated: usize,
    guesses: usize,
    false_guesses: usize,
}

fn score(
    name: &str,
    u: &Understander,
    r: &dyn Retriever,
    items: &[Example],
    errors: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut t = Tally::default();
    let mut changed = Vec::new();
    for e in items {
        let ctx = Context {
            dialect: Some(e.dialect.clone()),
            ..Context::default()
        };
        let un = u.understand(&e.text, &ctx);
        // before: the classifier alone, guide searched only for intents that need it
        let before_ids: Vec<String> =
            if needs_guide(un.intent.intent) && !un.normalized.text.is_empty() {
                r.search(&un.normalized.text, route::TOP_K)?
                    .into_iter()
                    .map(|h| h.id)
                    .collect()
            } else {
                Vec::new()
            };
        // after: the shared decision
        let reading = route::read(&un, r)?;
        let after_ids: Vec<&str> = reading.hits.iter().map(|h| h.id.as_str()).collect();
        t.n += 1;
        t.acc[0] += usize::from(un.intent.intent == e.intent);
        t.acc[1] += usize::from(reading.intent == e.intent);
        if reading.guessed {
            t.guesses += 1;
            if e.intent != Intent::ServiceQuery {
                t.false_guesses += 1;
            }
        }
        if let Some(want) = &e.service {
            t.with_item += 1;
            t.r3[0] += usize::from(before_ids.iter().any(|id| id == want));
            t.r3[1] += usize::from(after_ids.contains(&want.as_str()));
            if !un.normalized.text.is_empty() {
                let any = r.search(&un.normalized.text, route::TOP_K)?;
                t.r3_ungated += usize::from(any.iter().any(|h| &h.id == want));
            }
        }
        if reading.guessed {
            changed.push(format!(
                "   {} {:<18} -> guess {:<26} ({:.2}) want {:<18} {:<26} {}",
                if reading.intent == e.intent {
                    "ok"
                } else {
                    "XX"
                },
                un.intent.intent.as_str(),
                after_ids.first().copied().unwrap_or("-"),
                reading.confidence,
                e.intent.as_str(),
                e.service.as_deref().unwrap_or("-"),
                e.text
            ));
        }
    }
    let f = |k: usize, n: usize| k as f64 / n.max(1) as f64;
    print!(
        "== {name}: {} items, intent accuracy {:.3} -> {:.3}",
        t.n,
        f(t.acc[0], t.n),
        f(t.acc[1], t.n)
    );
    if t.with_item > 0 {
        print!(
            "; {} with a guide item, recall@3 {:.3} -> {:.3} (every transcript searched: {:.3})",
            t.with_item,
            f(t.r3[0], t.with_item),
            f(t.r3[1], t.with_item),
            f(t.r3_ungated, t.with_item)
        );
    }
    println!(
        "; guesses {} ({} on words that are not a guide question)",
        t.guesses, t.false_guesses
    );
    if errors {
        for c in changed {
            println!("{c}");
        }
    }
    Ok(())
}

/// Lines of `kb/data/queries.tsv`: (question, item id).
fn queries() -> Vec<(&'static str, &'static str)> {
    include_str!("../../kb/data/queries.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("query\t") && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?, f.next()?))
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let errors = args.iter().any(|a| a == "--errors");
    let u = Understander::builtin()?;
    let guide = Guide::builtin()?;
    let r = TantivyRetriever::in_ram(&guide)?;
    score(
        "speech dev (synthetic set transcripts)",
        &u,
        &r,
        &train::speech_dev(),
        errors,
    )?;
    // report only: never tuned on, so its items are not listed
    score("speech held-out", &u, &r, &train::speech_heldout(), false)?;
    score("text held-out (typed)", &u, &r, &train::heldout(), errors)?;
    let synth: Vec<Example> = xiaoan::eval_pipeline::synth_lines()
        .into_iter()
        .filter_map(|(text, dialect, intent, service)| {
            Some(Example {
                text,
                intent: Intent::parse(&intent)?,
                dialect,
                noisy: false,
                service,
            })
        })
        .collect();
    score("synthetic set lines (typed)", &u, &r, &synth, errors)?;
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(7);
    for rate in [0.45, 0.6, 0.75] {
        let mut garbled = Vec::new();
        for _ in 0..3 {
            for (q, id) in queries() {
                garbled.push(Example {
                    text: train::noisy(q, rate, &mut rng),
                    intent: Intent::ServiceQuery,
                    dialect: "cmn".into(),
                    noisy: true,
                    service: Some(id.to_string()),
                });
            }
        }
        score(
            &format!("guide questions garbled at {rate}"),
            &u,
            &r,
            &garbled,
            false,
        )?;
        let others: Vec<Example> = train::heldout()
            .into_iter()
            .filter(|e| e.intent != Intent::ServiceQuery)
            .flat_map(|e| {
                (0..3)
                    .map(|_| Example {
                        text: train::noisy(&e.text, rate, &mut rng),
                        noisy: true,
                        ..e.clone()
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        score(
            &format!("other held-out lines garbled at {rate}"),
            &u,
            &r,
            &others,
            errors,
        )?;
    }
    Ok(())
}
