//! A repeatable measurement of the encoder: load time, memory the load adds, and the
//! time of one query embedding at a time.

use std::path::Path;
use std::time::Instant;

use super::{SentenceEncoder, TextKind};
use crate::error::Result;

/// Embeddings run before timing (page cache, branch predictors, allocator).
const WARM_UP: usize = 5;

/// What [`bench`] measured.
#[derive(Clone, Debug)]
pub struct BenchReport {
    /// Wall time of [`SentenceEncoder::load`], ms.
    pub load_ms: f64,
    /// Resident memory (`VmRSS`) before the load, KiB (0 where /proc is absent).
    pub rss_before_kib: u64,
    /// Resident memory after the load, KiB.
    pub rss_after_load_kib: u64,
    /// Resident memory after all the embeddings, KiB.
    pub rss_after_run_kib: u64,
    /// Sentences timed.
    pub sentences: usize,
    /// Mean tokens per sentence (prefix, `<s>` and `</s>` included).
    pub mean_tokens: f64,
    /// Median time of one query embedding, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
    /// The instruction set the products ran on.
    pub isa: String,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "load            {:.1} ms", self.load_ms)?;
        writeln!(
            f,
            "resident memory {:.1} MB before load, {:.1} MB after (+{:.1} MB), {:.1} MB after the run",
            self.rss_before_kib as f64 / 1024.0,
            self.rss_after_load_kib as f64 / 1024.0,
            (self.rss_after_load_kib as f64 - self.rss_before_kib as f64) / 1024.0,
            self.rss_after_run_kib as f64 / 1024.0
        )?;
        writeln!(
            f,
            "embed_query     {} sentences, {:.1} tokens on average, {}",
            self.sentences, self.mean_tokens, self.isa
        )?;
        write!(
            f,
            "per sentence    p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
            self.p50_ms, self.p95_ms, self.max_ms
        )
    }
}

/// Resident memory of this process in KiB (`VmRSS` of /proc/self/status), 0 if unknown.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Loads the encoder from `dir` and embeds each of `sentences` as a query, one at a
/// time, timing each.
pub fn bench(dir: &Path, sentences: &[&str]) -> Result<BenchReport> {
    let rss_before_kib = rss_kib();
    let t0 = Instant::now();
    let enc = SentenceEncoder::load(dir)?;
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;
    let rss_after_load_kib = rss_kib();
    for s in sentences.iter().cycle().take(WARM_UP.min(sentences.len())) {
        enc.embed_query(s)?;
    }
    let mut times = Vec::with_capacity(sentences.len());
    let mut tokens = 0usize;
    for s in sentences {
        tokens += enc.token_ids(TextKind::Query, s).len();
        let t = Instant::now();
        let v = enc.embed_query(s)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(v);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| {
        if times.is_empty() {
            0.0
        } else {
            times[((times.len() - 1) as f64 * q).round() as usize]
        }
    };
    Ok(BenchReport {
        load_ms,
        rss_before_kib,
        rss_after_load_kib,
        rss_after_run_kib: rss_kib(),
        sentences: sentences.len(),
        mean_tokens: tokens as f64 / sentences.len().max(1) as f64,
        p50_ms: pick(0.5),
        p95_ms: pick(0.95),
        max_ms: times.last().copied().unwrap_or(0.0),
        isa: format!("{:?}", enc.isa),
    })
}
