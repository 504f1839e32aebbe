//! Trains the meaning model (logistic regression on multilingual-e5-small embeddings,
//! fused with the n-gram model) with the installed encoder, prints how it does on the
//! residents' lines out of fold, and writes `model/intent-meaning.bin`.
//!
//! `cargo run --release -p xiaoan-intents --example meaning [-- OUT.bin] [--em]`
#[path = "support/e5.rs"]
mod e5;

use std::path::PathBuf;

use xiaoan_intents::meaning;
use xiaoan_intents::{Intent, Understander};

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|x| x.0)
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let out = args
        .iter()
        .skip(1)
        .find(|a| a.ends_with(".bin"))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/model/intent-meaning.bin"
            ))
        });
    let emb = e5::E5::load()?;
    let u = Understander::builtin()?;
    let mut hp = meaning::Hyper::default();
    if let Some(v) = arg("--l2") {
        hp.l2 = v.parse()?;
    }
    if let Some(v) = arg("--steps") {
        hp.steps = v.parse()?;
    }
    if let Some(v) = arg("--lr") {
        hp.learning_rate = v.parse()?;
    }
    if let Some(v) = arg("--noisy-weight") {
        hp.noisy_weight = v.parse()?;
    }
    if let Some(v) = arg("--floor") {
        hp.class_floor = v.parse()?;
    }
    println!("{hp:?}");
    let t = std::time::Instant::now();
    let (m, oof) = meaning::train_meaning(&emb, u.model(), hp)?;
    emb.save();
    println!(
        "trained in {:.1} s: ngram weight {:.2}, meaning weight {:.2}, temperature {:.2}",
        t.elapsed().as_secs_f32(),
        m.ngram_weight,
        m.meaning_weight,
        m.temperature
    );
    let rows = meaning::rows()?;
    let em = Intent::Emergency.index();
    let mut pairs: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    for noisy in [false, true] {
        let (mut n, mut ng, mut me, mut fu) = (0, 0, 0, 0);
        let (mut em_n, mut em_hit, mut fa) = (0, 0, 0);
        for (i, z, _) in &oof.rows {
            let r = &rows[*i];
            if r.noisy != noisy {
                continue;
            }
            let p = oof.ngram[*i].clone();
            let f = m.fuse_scores(&p, z);
            let g = r.intent.index();
            n += 1;
            ng += (argmax(&p) == g) as usize;
            me += (argmax(z) == g) as usize;
            fu += (argmax(&f) == g) as usize;
            let rule = xiaoan_intents::names_emergency(&r.normalized);
            if args.iter().any(|a| a == "--em") && !noisy && (rule || g == em || argmax(&f) == em) {
                println!(
                    "EM gold={} rule={} p_em={:.3} p_ng={:.3} argmax={} {}",
                    (g == em) as u8,
                    rule as u8,
                    f[em],
                    p[em],
                    Intent::ALL[argmax(&f)].as_str(),
                    r.normalized.original
                );
            }
            if !noisy && argmax(&f) != g {
                *pairs
                    .entry((Intent::ALL[g].as_str(), Intent::ALL[argmax(&f)].as_str()))
                    .or_insert(0) += 1;
                if args.iter().any(|a| a == "--errors") {
                    println!(
                        "ERR {} -> {} {}",
                        Intent::ALL[g].as_str(),
                        Intent::ALL[argmax(&f)].as_str(),
                        r.normalized.original
                    );
                }
            }
            if g == em {
                em_n += 1;
                em_hit += (argmax(&f) == em) as usize;
            } else {
                fa += (argmax(&f) == em) as usize;
            }
        }
        let nf = n as f32;
        println!(
            "residents' lines out of fold ({}{n}): n-gram {:.3}, meaning {:.3}, fused {:.3}; emergency (argmax) recall {em_hit}/{em_n}, false {fa}",
            if noisy { "garbled copies, " } else { "" },
            ng as f32 / nf,
            me as f32 / nf,
            fu as f32 / nf,
        );
    }
    // the emergency policy on the residents' lines out of fold, over its two thresholds
    if args.iter().any(|a| a == "--em") {
        let mut cases = Vec::new();
        for (i, z, _) in &oof.rows {
            let r = &rows[*i];
            let p = oof.ngram[*i].clone();
            let f = m.fuse_scores(&p, z);
            let cue =
                xiaoan_intents::emergency::emergency_cue(&r.normalized.text, &r.normalized.pinyin);
            cases.push((
                r.noisy,
                r.intent == Intent::Emergency,
                cue,
                f[em],
                argmax(&f) == em,
                r.normalized.original.clone(),
            ));
        }
        for weak_min in [0.01f32, 0.02, 0.05, 0.1, 0.2] {
            for cls_min in [0.3f32, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] {
                let mut line = format!("weak {weak_min:.2} cls {cls_min:.1}:");
                for noisy in [false, true] {
                    let (mut miss, mut fa) = (0, 0);
                    for (nz, gold, cue, pe, top, _) in &cases {
                        if *nz != noisy {
                            continue;
                        }
                        let rule =
                            cue.hit && !cue.settled && (!cue.weak || cue.urgent || *pe >= weak_min);
                        let said = rule || (*top && *pe >= if cue.settled { 0.9 } else { cls_min });
                        if *gold && !said {
                            miss += 1;
                        }
                        if !*gold && said {
                            fa += 1;
                        }
                    }
                    line += &format!(
                        "  {} missed {miss:>2} false {fa:>2}",
                        if noisy { "garbled" } else { "clean" }
                    );
                }
                println!("{line}");
            }
        }
        for (nz, gold, cue, pe, top, t) in &cases {
            let call = xiaoan_intents::emergency::emergency_call(cue, *pe);
            let rule = call == xiaoan_intents::emergency::EmergencyCall::Rule;
            let said =
                rule || (*top && call == xiaoan_intents::emergency::EmergencyCall::Classifier);
            if !nz && *gold != said {
                println!(
                    "EMX gold={} said={} rule={} {:?} p_em={pe:.3} {t}",
                    *gold as u8, said as u8, rule as u8, cue
                );
            }
        }
    }
    if args.iter().any(|a| a == "--knn") {
        use xiaoan_intents::embed::Embedder;
        let x: Vec<Vec<f32>> = rows
            .iter()
            .map(|r| emb.embed_query(&r.normalized.text))
            .collect::<Result<_, _>>()?;
        let fold = meaning::folds(
            rows.iter()
                .filter_map(|r| r.resident)
                .max()
                .map_or(0, |m| m + 1),
        );
        for k in [5usize, 10, 20] {
            for tau in [0.02f32, 0.05] {
                for lam in [0.0f32, 0.3, 0.6, 1.0] {
                    let (mut n, mut ok) = (0, 0);
                    for (i, z, f) in &oof.rows {
                        let r = &rows[*i];
                        if r.noisy {
                            continue;
                        }
                        let mut sims: Vec<(f32, usize)> = rows
                            .iter()
                            .enumerate()
                            .filter(|(_, o)| !o.noisy && o.resident.is_none_or(|q| fold[q] != *f))
                            .map(|(j, o)| {
                                (xiaoan_intents::embed::dot(&x[*i], &x[j]), o.intent.index())
                            })
                            .collect();
                        sims.sort_by(|a, b| b.0.total_cmp(&a.0));
                        let mut kp = vec![1e-3f32; 18];
                        for (s, c) in sims.iter().take(k) {
                            kp[*c] += ((s - sims[0].0) / tau).exp();
                        }
                        let t: f32 = kp.iter().sum();
                        let p = oof.ngram[*i].clone();
                        let fz = m.fuse_scores(&p, z);
                        let comb: Vec<f32> = fz
                            .iter()
                            .zip(&kp)
                            .map(|(a, b)| a.max(1e-9).ln() + lam * (b / t).ln())
                            .collect();
                        n += 1;
                        ok += (argmax(&comb) == r.intent.index()) as usize;
                    }
                    println!(
                        "knn k {k} tau {tau} lambda {lam}: {:.3}",
                        ok as f32 / n as f32
                    );
                }
            }
        }
    }
    if args.iter().any(|a| a == "--unsure") {
        // how the unsure rule (top below a confidence, or two close candidates) would
        // split right and wrong readings of the residents' lines out of fold
        let mut tops = Vec::new();
        for (i, z, _) in &oof.rows {
            let r = &rows[*i];
            let p = oof.ngram[*i].clone();
            let f = m.fuse_scores(&p, z);
            let mut sorted = f.clone();
            sorted.sort_by(|a, b| b.total_cmp(a));
            tops.push((
                r.noisy,
                argmax(&f) == r.intent.index(),
                sorted[0],
                sorted[0] - sorted[1],
            ));
        }
        for below in [0.45f32, 0.55, 0.65, 0.75, 0.85] {
            for margin in [0.12f32, 0.25, 0.4] {
                let mut line = format!("unsure below {below:.2} margin {margin:.2}:");
                for noisy in [false, true] {
                    let (mut w, mut wu, mut r, mut ru) = (0, 0, 0, 0);
                    for (nz, ok, top, gap) in &tops {
                        if *nz != noisy {
                            continue;
                        }
                        let unsure = *top < below || *gap < margin;
                        if *ok {
                            r += 1;
                            ru += unsure as usize;
                        } else {
                            w += 1;
                            wu += unsure as usize;
                        }
                    }
                    line += &format!(
                        "  {}: wrong {:.2} right {:.2}",
                        if noisy { "garbled" } else { "clean" },
                        wu as f32 / w as f32,
                        ru as f32 / r as f32
                    );
                }
                println!("{line}");
            }
        }
    }
    let mut pv: Vec<_> = pairs.into_iter().collect();
    pv.sort_by_key(|x| std::cmp::Reverse(x.1));
    for ((g, p), c) in pv.iter().take(15) {
        println!("  {c:>3} {g} -> {p}");
    }
    std::fs::write(&out, m.to_bytes())?;
    println!("wrote {} ({} bytes)", out.display(), m.to_bytes().len());
    Ok(())
}
