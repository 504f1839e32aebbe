//! Understanding and retrieval scored together, and timed: what `xiaoan bench` and the
//! evaluation call for issue #19.
//!
//! [`score_sets`] reads the frozen held-out set, the older held-out lines and the
//! recogniser transcripts with an [`Understander`] and looks every guide question up the
//! way the dialogue does (the normalised text, top three); [`time_utterances`] times the
//! two together per utterance (the sentence encoder included when the understander and
//! the retriever use one); [`resident_kib`] reads the process's resident memory, to state
//! what loading the encoder and the dense index adds.

use std::time::Instant;

use xiaoan_intents::score::{self, percentile, Line, Scorecard};
use xiaoan_intents::{Context, Understander, Understanding};

use crate::error::Result;
use crate::retrieve::Retriever;

/// Guide items looked at per question (the dialogue's top three).
pub const TOP_K: usize = 3;

/// The ids of the best guide items for an understood utterance, as the dialogue searches.
pub fn retrieve_ids(r: &dyn Retriever, u: &Understanding) -> Vec<String> {
    r.search(&u.normalized.text, TOP_K)
        .map(|h| h.into_iter().map(|h| h.id).collect())
        .unwrap_or_default()
}

/// Scorecards of the frozen held-out set, the older held-out lines and the recogniser
/// transcripts, in that order, each with its name.
pub fn score_sets(u: &Understander, r: &dyn Retriever) -> Result<Vec<(&'static str, Scorecard)>> {
    let f = |x: &Understanding| retrieve_ids(r, x);
    let sets: [(&'static str, Vec<Line>); 3] = [
        ("frozen held-out v2", score::frozen_v2()?),
        ("old held-out", score::old_heldout()),
        ("speech held-out transcripts", score::speech_heldout()),
    ];
    Ok(sets
        .into_iter()
        .map(|(name, lines)| (name, score::score(u, &lines, Some(&f))))
        .collect())
}

/// Time per utterance of understanding plus retrieval.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Latency {
    /// Utterances timed.
    pub n: usize,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile, milliseconds.
    pub p95_ms: f64,
    /// Mean, milliseconds.
    pub mean_ms: f64,
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "understanding + retrieval: {} utterances, p50 {:.2} ms, p95 {:.2} ms, mean {:.2} ms per utterance",
            self.n, self.p50_ms, self.p95_ms, self.mean_ms
        )
    }
}

/// Times understanding plus retrieval of each of `texts` (`rounds` passes after one
/// warm-up pass). With more texts than the encoder's cache holds, every utterance is
/// embedded afresh once (for its intent) and served from the cache for the search, as in
/// the dialogue.
pub fn time_utterances(
    u: &Understander,
    r: &dyn Retriever,
    texts: &[&str],
    rounds: usize,
) -> Latency {
    let ctx = Context::default();
    let run = |t: &str| {
        let x = u.understand(t, &ctx);
        std::hint::black_box(retrieve_ids(r, &x));
    };
    for t in texts {
        run(t);
    }
    let mut times = Vec::with_capacity(texts.len() * rounds.max(1));
    for _ in 0..rounds.max(1) {
        for t in texts {
            let s = Instant::now();
            run(t);
            times.push(s.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    let n = times.len();
    Latency {
        n,
        p50_ms: percentile(&times, 0.5),
        p95_ms: percentile(&times, 0.95),
        mean_ms: if n == 0 {
            0.0
        } else {
            times.iter().sum::<f64>() / n as f64
        },
    }
}

/// The process's resident memory (`VmRSS`), KiB; `None` where `/proc` is not available.
pub fn resident_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
