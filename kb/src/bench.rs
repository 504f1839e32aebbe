//! `xiaoan bench kb`: index build time and search latency, on the shipped 47-item guide
//! and on a generated 100,000-item guide (to show how retrieval scales).

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::guide::{Guide, Item};
use crate::retrieve::{Retriever, TantivyRetriever};

/// Items of the generated large guide.
pub const LARGE_GUIDE_ITEMS: usize = 100_000;
/// Queries timed per guide (each run once after a warm-up pass).
const ROUNDS: usize = 5;

/// Queries of the kinds residents ask: colloquial, dialect-mapped, garbled.
const QUERIES: &[&str] = &[
    "我妈想办个老人卡",
    "身份证丢了怎么补",
    "我想办理頒離責抱卡",
    "申請低報",
    "敬老咖怎么办",
    "楼上漏水找谁调解",
    "公积金能取出来付房租吗",
    "养了条狗要登记吗",
    "医保今年什么时候交",
    "老房子想装电梯",
    "没工作了去哪登记",
    "社区食堂在哪里",
];

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn time_queries(r: &dyn Retriever, rounds: usize) -> Result<Vec<Duration>> {
    for q in QUERIES {
        r.search(q, 3)?;
    }
    let mut times = Vec::with_capacity(rounds * QUERIES.len());
    for _ in 0..rounds {
        for q in QUERIES {
            let t = Instant::now();
            let hits = r.search(q, 3)?;
            times.push(t.elapsed());
            std::hint::black_box(hits);
        }
    }
    times.sort();
    Ok(times)
}

/// A guide of `n` items made by recombining the real items' words, so that
/// term statistics look like a large real guide.
pub fn generated_guide(base: &Guide, n: usize) -> Guide {
    let mut items = Vec::with_capacity(n);
    let m = base.items.len().max(1);
    for i in 0..n {
        let a = &base.items[i % m];
        let b = &base.items[(i / m + i * 7 + 3) % m];
        let mut it: Item = a.clone();
        it.id = format!("gen-{i:06}");
        it.title = format!("{}{}", a.title, b.category);
        it.aliases = a
            .aliases
            .iter()
            .take(3)
            .map(|x| format!("{x}{}", i % 97))
            .chain(b.aliases.iter().take(2).cloned())
            .collect();
        it.dialect_aliases = b.dialect_aliases.iter().take(2).cloned().collect();
        it.materials = a
            .materials
            .iter()
            .chain(b.materials.iter().take(1))
            .cloned()
            .collect();
        it.steps = b.steps.clone();
        it.summary = format!("{}{}", b.title, a.summary);
        it.related = Vec::new();
        items.push(it);
    }
    Guide {
        items,
        centre: base.centre.clone(),
    }
}

/// Runs the benchmark and writes a report to `out`.
pub fn run(out: &mut dyn std::io::Write) -> Result<()> {
    let t = Instant::now();
    let guide = Guide::builtin()?;
    let load = t.elapsed();
    writeln!(
        out,
        "kb bench ({} queries x {ROUNDS} rounds, k=3, one thread)",
        QUERIES.len()
    )?;
    writeln!(
        out,
        "guide load (47 items, embedded): {:.1} ms",
        load.as_secs_f64() * 1e3
    )?;

    let t = Instant::now();
    let small = TantivyRetriever::in_ram(&guide)?;
    let build_small = t.elapsed();
    let times = time_queries(&small, ROUNDS * 20)?;
    report(
        out,
        &format!("{} items", guide.items.len()),
        build_small,
        &times,
    )?;

    let tmp = std::env::temp_dir().join(format!("xiaoan-kb-bench-{}", std::process::id()));
    let t = Instant::now();
    let on_disk = TantivyRetriever::open_or_build(&guide, &tmp)?;
    let build_disk = t.elapsed();
    drop(on_disk);
    let t = Instant::now();
    let reopened = TantivyRetriever::open_or_build(&guide, &tmp)?;
    let reopen = t.elapsed();
    let times = time_queries(&reopened, ROUNDS * 20)?;
    writeln!(
        out,
        "on disk: build {:.0} ms, reopen (fingerprint unchanged) {:.0} ms",
        build_disk.as_secs_f64() * 1e3,
        reopen.as_secs_f64() * 1e3
    )?;
    report(out, "47 items, on disk", Duration::ZERO, &times)?;
    drop(reopened);
    let _ = std::fs::remove_dir_all(&tmp);

    let t = Instant::now();
    let large = generated_guide(&guide, LARGE_GUIDE_ITEMS);
    let gen = t.elapsed();
    writeln!(
        out,
        "generated {} items in {:.0} ms",
        large.items.len(),
        gen.as_secs_f64() * 1e3
    )?;
    let t = Instant::now();
    let big = TantivyRetriever::in_ram(&large)?;
    let build_big = t.elapsed();
    let times = time_queries(&big, ROUNDS)?;
    report(
        out,
        &format!("{} items", large.items.len()),
        build_big,
        &times,
    )?;
    Ok(())
}

fn report(
    out: &mut dyn std::io::Write,
    what: &str,
    build: Duration,
    sorted: &[Duration],
) -> Result<()> {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    if build > Duration::ZERO {
        write!(out, "{what}: index build {:.0} ms; ", ms(build))?;
    } else {
        write!(out, "{what}: ")?;
    }
    writeln!(
        out,
        "search p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms (n={})",
        ms(percentile(sorted, 0.50)),
        ms(percentile(sorted, 0.99)),
        ms(sorted.last().copied().unwrap_or_default()),
        sorted.len()
    )?;
    Ok(())
}
