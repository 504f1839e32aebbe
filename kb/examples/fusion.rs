//! Fits the fusion of terms-and-sound with meaning ([`xiaoan_kb::fused`]) on the
//! retrieval development questions (`kb/data/queries.tsv`), the residents' development
//! lines (`intents/data/dev-residents.tsv`) and off-topic probes: for each
//! weight and floor, recall at 1 and 3 and how many off-topic questions would be
//! answered.
//!
//! `cargo run --release -p xiaoan-kb --example fusion`
#[path = "../../intents/examples/support/e5.rs"]
mod e5;

use std::sync::Arc;

use xiaoan_intents::embed::Cached;
use xiaoan_kb::fused::FusedRetriever;
use xiaoan_kb::Guide;

/// Every item's (term-and-sound score, similarity) for one question.
type Parts = Vec<(f32, f32)>;
/// A ranking of items from their parts.
type Rank<'a> = &'a dyn Fn(&[(f32, f32)]) -> Vec<(usize, f32)>;

const QUERIES: &str = include_str!("../data/queries.tsv");
/// Questions the centre does not handle.
const OFF_TOPIC: &[&str] = &[
    "今天天气怎么样",
    "讲个笑话吧",
    "hello",
    "你叫什么名字",
    "附近有什么好吃的",
    "明天会下雨吗",
    "帮我叫个外卖",
    "手机怎么下载游戏",
    "股票怎么买",
    "你会唱歌吗",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guide = Guide::builtin()?;
    let emb = Arc::new(e5::E5::load()?);
    let r = FusedRetriever::in_ram(&guide, Arc::new(Cached::new(emb.clone())))?;
    let ids: Vec<&str> = guide.items.iter().map(|i| i.id.as_str()).collect();
    let rows: Vec<(String, usize, String)> = QUERIES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("query\t") && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let want = f.get(1)?.trim();
            let i = ids.iter().position(|x| *x == want)?;
            Some((f[0].to_string(), i, f.get(2).unwrap_or(&"").to_string()))
        })
        .collect();
    let parts: Vec<Vec<(f32, f32)>> = rows
        .iter()
        .map(|(q, _, _)| r.parts(&xiaoan_intents::normalize(q).text))
        .collect::<Result<_, _>>()?;
    let off: Vec<Vec<(f32, f32)>> = OFF_TOPIC
        .iter()
        .map(|q| r.parts(&xiaoan_intents::normalize(q).text))
        .collect::<Result<_, _>>()?;
    // the residents' descriptions in two halves: one half embedded as passages, the
    // other asked as questions, and the other way round
    let mut asked: Vec<(usize, Vec<(f32, f32)>)> = Vec::new();
    for half in 0..2 {
        let dense = xiaoan_kb::dense::DenseIndex::build_with(&guide, emb.as_ref(), &|it| {
            let asks = xiaoan_kb::dense::asks(&it.id);
            let mut p: Vec<String> = xiaoan_kb::dense::passages(it)
                .into_iter()
                .filter(|t| !asks.contains(&t.as_str()))
                .collect();
            p.extend(
                asks.iter()
                    .enumerate()
                    .filter(|(k, _)| k % 2 != half)
                    .map(|(_, t)| t.to_string()),
            );
            p
        })?;
        let rh = FusedRetriever::new(
            &guide,
            xiaoan_kb::TantivyRetriever::in_ram(&guide)?,
            dense,
            Arc::new(Cached::new(emb.clone())),
        );
        for (gi, it) in guide.items.iter().enumerate() {
            for (k, q) in xiaoan_kb::dense::asks(&it.id).iter().enumerate() {
                if k % 2 == half {
                    asked.push((gi, rh.parts(&xiaoan_intents::normalize(q).text)?));
                }
            }
        }
    }
    // recogniser transcripts of the project's synthetic set (a development set)
    let mut heard: Vec<(usize, Vec<(f32, f32)>)> = Vec::new();
    for e in xiaoan_intents::train::speech_dev() {
        if let Some(gi) = e
            .service
            .as_ref()
            .and_then(|s| ids.iter().position(|x| x == s))
        {
            heard.push((gi, r.parts(&xiaoan_intents::normalize(&e.text).text)?));
        }
    }
    // the residents' development lines written for issue #19 (intents/data/dev-residents.tsv)
    let mut dev: Vec<(usize, Vec<(f32, f32)>)> = Vec::new();
    let dev_tsv = include_str!("../../intents/data/dev-residents.tsv");
    for l in xiaoan_intents::score::parse_lines("dev-residents.tsv", dev_tsv)? {
        if let Some(gi) = l
            .guide
            .as_ref()
            .and_then(|g| ids.iter().position(|x| x == g))
        {
            dev.push((gi, r.parts(&xiaoan_intents::normalize(&l.text).text)?));
        }
    }
    emb.save();
    let rank = |p: &[(f32, f32)], w: f32, fl: f32| -> Vec<(usize, f32)> {
        let mut s: Vec<(usize, f32)> = p
            .iter()
            .map(|(l, d)| l + w * (d - fl).max(0.0))
            .enumerate()
            .filter(|x| x.1 > 0.0)
            .collect();
        s.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        s
    };
    let rrf = |p: &[(f32, f32)], k: f32, wd: f32| -> Vec<(usize, f32)> {
        let mut lex: Vec<usize> = (0..p.len()).filter(|&i| p[i].0 > 0.0).collect();
        lex.sort_by(|&a, &b| p[b].0.total_cmp(&p[a].0).then(a.cmp(&b)));
        let mut den: Vec<usize> = (0..p.len()).collect();
        den.sort_by(|&a, &b| p[b].1.total_cmp(&p[a].1).then(a.cmp(&b)));
        let mut sc = vec![0f32; p.len()];
        for (r, &i) in lex.iter().enumerate() {
            sc[i] += 1.0 / (k + r as f32 + 1.0);
        }
        for (r, &i) in den.iter().enumerate() {
            sc[i] += wd / (k + r as f32 + 1.0);
        }
        let mut s: Vec<(usize, f32)> = sc.into_iter().enumerate().collect();
        s.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        s
    };
    let at3 = |set: &[(usize, Parts)], f: Rank| -> (f32, f32) {
        let (mut a1, mut a3) = (0, 0);
        for (gold, p) in set {
            let s = f(p);
            let pos = s.iter().position(|x| x.0 == *gold);
            a1 += (pos == Some(0)) as usize;
            a3 += pos.is_some_and(|p| p < 3) as usize;
        }
        (a1 as f32 / set.len() as f32, a3 as f32 / set.len() as f32)
    };
    let q: Vec<(usize, Vec<(f32, f32)>)> = rows
        .iter()
        .zip(&parts)
        .map(|((_, g, _), p)| (*g, p.clone()))
        .collect();
    println!("{} speech dev transcripts with a guide item", heard.len());
    for k in [5.0f32, 10.0, 30.0, 60.0] {
        for wd in [0.5f32, 1.0, 1.5, 2.0] {
            let f = |p: &[(f32, f32)]| rrf(p, k, wd);
            let (a1, a3) = at3(&asked, &f);
            let (h1, h3) = at3(&heard, &f);
            let (q1, q3) = at3(&q, &f);
            let (d1, d3) = at3(&dev, &f);
            println!("rrf k {k:>3} wd {wd:.1}: asks {a1:.3} {a3:.3} | heard {h1:.3} {h3:.3} | queries {q1:.3} {q3:.3} | dev {d1:.3} {d3:.3}");
        }
    }
    for w in [0.0f32, 100.0, 200.0, 400.0, 800.0, 1200.0, 1500.0, 2000.0] {
        for fl in [0.84f32, 0.86, 0.87, 0.88, 0.89] {
            let f = |p: &[(f32, f32)]| rank(p, w, fl);
            let (a1, a3) = at3(&asked, &f);
            let (h1, h3) = at3(&heard, &f);
            let (q1, q3) = at3(&q, &f);
            let (d1, d3) = at3(&dev, &f);
            println!("lin w {w:>5} fl {fl:.2}: asks {a1:.3} {a3:.3} | heard {h1:.3} {h3:.3} | queries {q1:.3} {q3:.3} | dev {d1:.3} {d3:.3}");
        }
    }
    let rel = |p: &[(f32, f32)], w: f32, d: f32| -> Vec<(usize, f32)> {
        let mut sims: Vec<f32> = p.iter().map(|x| x.1).collect();
        sims.sort_by(f32::total_cmp);
        let med = sims[sims.len() / 2];
        let mut s: Vec<(usize, f32)> = p
            .iter()
            .map(|(l, x)| l + w * (x - med - d).max(0.0))
            .enumerate()
            .filter(|x| x.1 > 0.0)
            .collect();
        s.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        s
    };
    for w in [200.0f32, 400.0, 800.0, 1500.0] {
        for d in [0.0f32, 0.02, 0.04, 0.06] {
            let f = |p: &[(f32, f32)]| rel(p, w, d);
            let (a1, a3) = at3(&asked, &f);
            let (h1, h3) = at3(&heard, &f);
            let (q1, q3) = at3(&q, &f);
            let (d1, d3) = at3(&dev, &f);
            println!("rel w {w:>5} d {d:.2}: asks {a1:.3} {a3:.3} | heard {h1:.3} {h3:.3} | queries {q1:.3} {q3:.3} | dev {d1:.3} {d3:.3}");
        }
    }
    if !std::env::args().any(|a| a == "--grid") {
        return Ok(());
    }
    println!("{} queries, {} off-topic", rows.len(), OFF_TOPIC.len());
    for w in [200.0f32, 400.0, 800.0, 1500.0, 3000.0] {
        for fl in [0.84f32, 0.86, 0.88, 0.9, 0.92] {
            let (mut r1, mut r3) = (0, 0);
            let mut kinds: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
            for ((_, gold, kind), p) in rows.iter().zip(&parts) {
                let s = rank(p, w, fl);
                let pos = s.iter().position(|x| x.0 == *gold);
                r1 += (pos == Some(0)) as usize;
                r3 += pos.is_some_and(|p| p < 3) as usize;
                let e = kinds.entry(kind.as_str()).or_default();
                e.0 += 1;
                e.1 += pos.is_some_and(|p| p < 3) as usize;
            }
            let answered = off
                .iter()
                .filter(|p| {
                    let s = rank(p, w, fl);
                    let scores: Vec<f32> = s.iter().map(|x| x.1).collect();
                    scores.first().is_some_and(|t| *t >= xiaoan_kb::MIN_SCORE)
                        && scores
                            .get(1)
                            .is_none_or(|s2| *s2 < xiaoan_kb::CLOSE_RATIO * scores[0])
                })
                .count();
            let (mut a1, mut a3) = (0, 0);
            for (gold, p) in &asked {
                let s = rank(p, w, fl);
                let pos = s.iter().position(|x| x.0 == *gold);
                a1 += (pos == Some(0)) as usize;
                a3 += pos.is_some_and(|p| p < 3) as usize;
            }
            let na = asked.len() as f32;
            let n = rows.len() as f32;
            let k: Vec<String> = kinds
                .iter()
                .map(|(k, (n, h))| format!("{k} {:.3}", *h as f32 / *n as f32))
                .collect();
            println!(
                "w {w:>5} floor {fl:.2}: asks r@1 {:.3} r@3 {:.3} | queries r@1 {:.3} r@3 {:.3} off-topic over MIN_SCORE {answered}  [{}]",
                a1 as f32 / na,
                a3 as f32 / na,
                r1 as f32 / n,
                r3 as f32 / n,
                k.join(", ")
            );
        }
    }
    Ok(())
}
