//! Metrics: CER, dialect and intent accuracy, macro-F1 and confusion, service recall and
//! MRR, latency percentiles, real-time factor, item errors.
//!
//! Definitions (also printed in the reports):
//! - **CER**: Σ character edit distance / Σ reference length, over audio items with a
//!   reference transcript, both sides normalised by [`cer_normalize`]. Text items are not
//!   scored (their transcript is the input).
//! - **Items with an error** (a bad manifest line, a missing file, a failed pipeline, no
//!   prediction) are counted in `errors` and scored as an empty output wherever they have
//!   a reference: failing an item never improves a score.
//! - **Dialect accuracy**: over items with a reference dialect.
//! - **Intent accuracy / macro-F1**: over items with a reference intent; macro-F1 is the
//!   mean F1 over the labels present in the references. Confusion: rows = reference,
//!   columns = predicted (`(none)` when nothing was predicted).
//! - **recall@1 / recall@3 / MRR**: over items with a reference `service_id`; MRR uses the
//!   top 3 only (1/rank, 0 when not in the top 3).
//! - **Latency p50 / p95**: nearest-rank percentiles (the value at rank ⌈p/100 · n⌉ of the
//!   sorted values) over items without error that report the latency.
//! - **RTF**: Σ processing time / Σ audio seconds, over audio items without error that
//!   report `elapsed_ms` (processing time excluding real-time waiting). Wall-clock
//!   `first_partial_ms` / `final_ms` are not used: in a real-time run they include the
//!   pacing of the audio. Absent (`n/a`) when no prediction carries `elapsed_ms`.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::codes;
use crate::manifest::{Manifest, ManifestItem};
use crate::predictions::Prediction;

/// Normalises text for CER as the contract says: Traditional → Simplified, full-width
/// → half-width, punctuation and all white space removed.
pub fn cer_normalize(s: &str) -> String {
    let simplified = zhconv::zhconv(s, zhconv::Variant::ZhHans);
    simplified
        .chars()
        .map(fold_width)
        .filter(|c| !c.is_whitespace() && !is_punctuation(*c))
        .collect()
}

/// Full-width ASCII variants (U+FF01..U+FF5E) and the ideographic space to half-width.
fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Punctuation (and the symbol-like marks that appear in transcripts) in ASCII, Latin-1,
/// General Punctuation, CJK Symbols and Punctuation, and the CJK form blocks.
fn is_punctuation(c: char) -> bool {
    if c.is_ascii_punctuation() {
        return true;
    }
    matches!(c,
        '\u{00A1}' | '\u{00A7}' | '\u{00AB}' | '\u{00B6}' | '\u{00B7}' | '\u{00BB}' | '\u{00BF}'
        | '\u{2010}'..='\u{2027}' | '\u{2030}'..='\u{205E}'
        | '\u{3001}'..='\u{3006}' | '\u{3008}'..='\u{3020}' | '\u{3030}' | '\u{303D}'
        | '\u{30FB}'
        | '\u{FE10}'..='\u{FE19}' | '\u{FE30}'..='\u{FE6B}'
        | '\u{FF5F}'..='\u{FF65}'
    )
}

/// Levenshtein distance (unit-cost insertions, deletions and substitutions).
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    if a.is_empty() {
        return b.len();
    }
    if b.is_empty() {
        return a.len();
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(x != y);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The `p`-th percentile of `values` (`p` from 0 to 100) by the **nearest-rank**
/// definition: the value at 1-based rank ⌈p/100 · n⌉ of the n finite values sorted in
/// ascending order (rank at least 1). No interpolation: the result is always one of the
/// values, so a p95 latency is a latency that some item really had.
///
/// Values that are not finite are left out; `None` when no finite value remains. Every
/// latency percentile of the reports (p50, p95) is computed here; reuse it wherever a
/// figure is to be comparable with them.
///
/// ```
/// use xiaoan_eval::metrics::percentile;
/// let ms = [120.0, 80.0, 300.0, 95.0];
/// assert_eq!(percentile(&ms, 50.0), Some(95.0)); // rank ⌈0.5·4⌉ = 2
/// assert_eq!(percentile(&ms, 95.0), Some(300.0)); // rank ⌈0.95·4⌉ = 4
/// assert_eq!(percentile(&[], 50.0), None);
/// ```
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

/// The median by the same nearest-rank definition as [`percentile`] (its p50): for an
/// even count, the lower of the two middle values, never their mean.
pub fn median(values: &[f64]) -> Option<f64> {
    percentile(values, 50.0)
}

/// Facts about the run that the metrics cannot know.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ReportMeta {
    /// Report title.
    pub title: String,
    /// The machine it ran on (CPU, cores), free text.
    pub machine: String,
    /// The set is synthetic (also set when the manifest marks itself synthetic).
    pub synthetic: bool,
    /// The command line that produced the run.
    pub command: String,
    /// Wall time of the whole run in seconds.
    pub elapsed_s: f64,
}

/// A confusion matrix: `matrix[r][c]` counts items with reference `labels[r]` predicted
/// as `labels[c]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// Row and column labels, taxonomy order, then `(none)` if used.
    pub labels: Vec<String>,
    /// Counts, rows = reference, columns = predicted.
    pub matrix: Vec<Vec<usize>>,
}

/// The metrics of one group of items (overall or one dialect).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Metrics {
    /// Items in the group.
    pub n: usize,
    /// Items that could not be processed.
    pub errors: usize,
    /// Character error rate.
    pub cer: Option<f64>,
    /// Items scored for CER.
    pub cer_items: usize,
    /// Σ reference characters (normalised).
    pub ref_chars: usize,
    /// Σ character edits.
    pub char_edits: usize,
    /// Dialect-identification accuracy.
    pub dialect_acc: Option<f64>,
    /// Items with a reference dialect.
    pub dialect_items: usize,
    /// Intent accuracy.
    pub intent_acc: Option<f64>,
    /// Items with a reference intent.
    pub intent_items: usize,
    /// Macro-F1 over the intent labels present in the references.
    pub intent_macro_f1: Option<f64>,
    /// Intent confusion matrix.
    pub confusion: Confusion,
    /// Right service-guide item first.
    pub recall_at_1: Option<f64>,
    /// Right service-guide item in the top 3.
    pub recall_at_3: Option<f64>,
    /// Mean reciprocal rank over the top 3.
    pub mrr: Option<f64>,
    /// Items with a reference service id.
    pub service_items: usize,
    /// First-partial latency, median (ms).
    pub first_partial_p50_ms: Option<f64>,
    /// First-partial latency, 95th percentile (ms).
    pub first_partial_p95_ms: Option<f64>,
    /// End-of-audio → final latency, median (ms).
    pub final_p50_ms: Option<f64>,
    /// End-of-audio → final latency, 95th percentile (ms).
    pub final_p95_ms: Option<f64>,
    /// Items reporting a final latency.
    pub latency_items: usize,
    /// Real-time factor (processing time / audio time).
    pub rtf: Option<f64>,
    /// Σ audio seconds of items without error.
    pub audio_s: f64,
}

/// The metrics of one dialect (the reference dialect; `unknown` when absent).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DialectMetrics {
    /// Dialect code, or `unknown`.
    pub dialect: String,
    /// Chinese name of the dialect, when known.
    pub name_zh: Option<String>,
    /// The metrics.
    pub metrics: Metrics,
}

/// One item that could not be processed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorEntry {
    /// Item id (`line-N` for a line without one).
    pub id: String,
    /// Reference dialect, when known.
    pub dialect: Option<String>,
    /// Why.
    pub reason: String,
}

/// Everything a report shows; `summary.json` is this, serialised.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Report title.
    pub title: String,
    /// A note printed on every report: says "synthetic" for synthetic sets.
    pub label: String,
    /// The set is synthetic (robustness and regressions, not real dialect accuracy).
    pub synthetic: bool,
    /// Machine description.
    pub machine: String,
    /// Command line of the run.
    pub command: String,
    /// Wall time of the whole run (s).
    pub elapsed_s: f64,
    /// When the summary was made (RFC 3339, UTC).
    pub generated_at: String,
    /// The manifest file.
    pub manifest: String,
    /// All items.
    pub overall: Metrics,
    /// Per reference dialect, in `dialects.tsv` order, `unknown` last.
    pub per_dialect: Vec<DialectMetrics>,
    /// First-partial latencies (ms) of all items, for the distribution chart.
    pub first_partial_ms: Vec<f64>,
    /// Final latencies (ms) of all items, for the distribution chart.
    pub final_ms: Vec<f64>,
    /// Items that could not be processed (at most [`MAX_ERROR_ENTRIES`]).
    pub error_list: Vec<ErrorEntry>,
}

/// How many error entries a summary keeps.
pub const MAX_ERROR_ENTRIES: usize = 50;

/// The note on synthetic reports.
pub const SYNTHETIC_LABEL: &str = "SYNTHETIC set (espeak-ng renderings with added noise): it measures robustness and regressions, not real dialect accuracy.";

/// One manifest entry joined with its prediction.
struct Scored<'a> {
    item: Option<&'a ManifestItem>,
    /// `None` when the item has an error (scored as empty output).
    pred: Option<&'a Prediction>,
}

/// Scores predictions against the manifest's references, dated now.
///
/// Predictions are matched to items by id; an item without a prediction counts as an
/// error. See the module documentation for every definition.
pub fn summarize(manifest: &Manifest, preds: &[Prediction], meta: ReportMeta) -> Summary {
    summarize_at(manifest, preds, meta, chrono::Utc::now())
}

/// [`summarize`] with the time the summary is dated by (`generated_at`) given, so that
/// the same inputs give the same summary.
pub fn summarize_at(
    manifest: &Manifest,
    preds: &[Prediction],
    meta: ReportMeta,
    generated_at: chrono::DateTime<chrono::Utc>,
) -> Summary {
    let by_id: HashMap<&str, &Prediction> = preds.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut groups: BTreeMap<(usize, String), Vec<Scored>> = BTreeMap::new();
    let mut all: Vec<Scored> = Vec::new();
    let mut error_list = Vec::new();
    let mut first_partial = Vec::new();
    let mut finals = Vec::new();
    for entry in &manifest.items {
        let (scored, dialect, error) = match entry {
            Err(e) => (
                Scored {
                    item: None,
                    pred: None,
                },
                e.dialect.clone(),
                Some((e.prediction_id(), e.to_string())),
            ),
            Ok(item) => {
                let pred = by_id.get(item.id.as_str()).copied();
                let error = match pred {
                    None => Some((item.id.clone(), "no prediction for this item".to_string())),
                    Some(p) => p.error.as_ref().map(|r| (item.id.clone(), r.clone())),
                };
                let pred = if error.is_some() { None } else { pred };
                if let Some(p) = pred {
                    first_partial.extend(p.first_partial_ms.filter(|x| x.is_finite()));
                    finals.extend(p.final_ms.filter(|x| x.is_finite()));
                }
                (
                    Scored {
                        item: Some(item),
                        pred,
                    },
                    item.dialect.clone(),
                    error,
                )
            }
        };
        if let Some((id, reason)) = error {
            if error_list.len() < MAX_ERROR_ENTRIES {
                error_list.push(ErrorEntry {
                    id,
                    dialect: dialect.clone(),
                    reason,
                });
            }
        }
        let key = dialect.unwrap_or_else(|| "unknown".to_string());
        groups
            .entry((codes::dialect_rank(&key), key))
            .or_default()
            .push(Scored {
                item: scored.item,
                pred: scored.pred,
            });
        all.push(scored);
    }
    let per_dialect = groups
        .into_iter()
        .map(|((_, code), items)| DialectMetrics {
            name_zh: codes::dialect_name_zh(&code).map(str::to_string),
            dialect: code,
            metrics: score(&items),
        })
        .collect();
    let synthetic = meta.synthetic || manifest.synthetic;
    Summary {
        title: if meta.title.is_empty() {
            "Xiao'an evaluation".to_string()
        } else {
            meta.title
        },
        label: if synthetic {
            SYNTHETIC_LABEL.to_string()
        } else {
            String::new()
        },
        synthetic,
        machine: meta.machine,
        command: meta.command,
        elapsed_s: meta.elapsed_s,
        generated_at: generated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        manifest: manifest.path.display().to_string(),
        overall: score(&all),
        per_dialect,
        first_partial_ms: first_partial,
        final_ms: finals,
        error_list,
    }
}

const NONE_LABEL: &str = "(none)";

fn ratio(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

fn score(items: &[Scored]) -> Metrics {
    let mut m = Metrics {
        n: items.len(),
        ..Default::default()
    };
    let mut dialect_ok = 0;
    let mut intent_pairs: Vec<(&str, &str)> = Vec::new();
    let (mut r1, mut r3, mut rr) = (0usize, 0usize, 0f64);
    let (mut fp, mut fin) = (Vec::new(), Vec::new());
    let (mut proc_s, mut proc_audio_s, mut any_elapsed) = (0f64, 0f64, false);
    for s in items {
        let pred = s.pred;
        if pred.is_none() {
            m.errors += 1;
        }
        let Some(item) = s.item else { continue };
        if let (Some(reference), true) = (&item.transcript, item.audio.is_some()) {
            let r: Vec<char> = cer_normalize(reference).chars().collect();
            if !r.is_empty() {
                let h: Vec<char> = pred
                    .and_then(|p| p.transcript.as_deref())
                    .map(cer_normalize)
                    .unwrap_or_default()
                    .chars()
                    .collect();
                m.char_edits += edit_distance(&r, &h);
                m.ref_chars += r.len();
                m.cer_items += 1;
            }
        }
        if let Some(d) = &item.dialect {
            m.dialect_items += 1;
            if pred.and_then(|p| p.dialect.as_deref()) == Some(d.as_str()) {
                dialect_ok += 1;
            }
        }
        if let Some(i) = &item.intent {
            let hyp = pred.and_then(|p| p.intent.as_deref()).unwrap_or(NONE_LABEL);
            intent_pairs.push((i.as_str(), hyp));
        }
        if let Some(sid) = &item.service_id {
            m.service_items += 1;
            let rank = pred.and_then(|p| p.service_ids.iter().take(3).position(|x| x == sid));
            if let Some(rank) = rank {
                r3 += 1;
                if rank == 0 {
                    r1 += 1;
                }
                rr += 1.0 / (rank + 1) as f64;
            }
        }
        if let Some(p) = pred {
            fp.extend(p.first_partial_ms.filter(|x| x.is_finite()));
            fin.extend(p.final_ms.filter(|x| x.is_finite()));
            if item.audio.is_some() {
                let a = p.audio_s.filter(|x| x.is_finite() && *x > 0.0);
                m.audio_s += a.unwrap_or(0.0);
                if let (Some(a), Some(e)) = (a, p.elapsed_ms.filter(|x| x.is_finite() && *x >= 0.0))
                {
                    any_elapsed = true;
                    proc_s += e / 1000.0;
                    proc_audio_s += a;
                }
            }
        }
    }
    m.cer = ratio(m.char_edits, m.ref_chars);
    m.dialect_acc = ratio(dialect_ok, m.dialect_items);
    m.intent_items = intent_pairs.len();
    m.intent_acc = ratio(
        intent_pairs.iter().filter(|(r, h)| r == h).count(),
        m.intent_items,
    );
    m.intent_macro_f1 = macro_f1(&intent_pairs);
    m.confusion = confusion(&intent_pairs);
    m.recall_at_1 = ratio(r1, m.service_items);
    m.recall_at_3 = ratio(r3, m.service_items);
    m.mrr = (m.service_items > 0).then(|| rr / m.service_items as f64);
    m.first_partial_p50_ms = percentile(&fp, 50.0);
    m.first_partial_p95_ms = percentile(&fp, 95.0);
    m.final_p50_ms = percentile(&fin, 50.0);
    m.final_p95_ms = percentile(&fin, 95.0);
    m.latency_items = fin.len();
    m.rtf = (any_elapsed && proc_audio_s > 0.0).then(|| proc_s / proc_audio_s);
    m
}

/// Mean F1 over the labels present in the references (`pairs` = (reference, predicted)).
pub fn macro_f1(pairs: &[(&str, &str)]) -> Option<f64> {
    let mut labels: Vec<&str> = pairs.iter().map(|(r, _)| *r).collect();
    labels.sort_unstable();
    labels.dedup();
    if labels.is_empty() {
        return None;
    }
    let total: f64 = labels
        .iter()
        .map(|l| {
            let tp = pairs.iter().filter(|(r, h)| r == l && h == l).count() as f64;
            let pred = pairs.iter().filter(|(_, h)| h == l).count() as f64;
            let gold = pairs.iter().filter(|(r, _)| r == l).count() as f64;
            if tp == 0.0 {
                0.0
            } else {
                let (p, r) = (tp / pred, tp / gold);
                2.0 * p * r / (p + r)
            }
        })
        .sum();
    Some(total / labels.len() as f64)
}

fn confusion(pairs: &[(&str, &str)]) -> Confusion {
    let mut labels: Vec<&str> = pairs
        .iter()
        .flat_map(|(r, h)| [*r, *h])
        .filter(|l| *l != NONE_LABEL)
        .collect();
    labels.sort_by(|a, b| {
        codes::intent_rank(a)
            .cmp(&codes::intent_rank(b))
            .then(a.cmp(b))
    });
    labels.dedup();
    if pairs.iter().any(|(_, h)| *h == NONE_LABEL) {
        labels.push(NONE_LABEL);
    }
    let idx: HashMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (*l, i)).collect();
    let mut matrix = vec![vec![0usize; labels.len()]; labels.len()];
    for (r, h) in pairs {
        if let (Some(&i), Some(&j)) = (idx.get(r), idx.get(h)) {
            matrix[i][j] += 1;
        }
    }
    Confusion {
        labels: labels.into_iter().map(str::to_string).collect(),
        matrix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalisation_follows_the_contract() {
        assert_eq!(cer_normalize("我想頒離責抱卡。"), "我想颁离责抱卡");
        assert_eq!(cer_normalize("ＡＢＣ１２３，你 好！"), "ABC123你好");
        assert_eq!(cer_normalize("「社保卡」…… 怎么办？"), "社保卡怎么办");
        assert_eq!(cer_normalize("3号楼·502室\u{3000}\t"), "3号楼502室");
    }

    #[test]
    fn edit_distance_known_values() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(edit_distance(&c("kitten"), &c("sitting")), 3);
        assert_eq!(edit_distance(&c("社保卡"), &c("社保")), 1);
        assert_eq!(edit_distance(&c(""), &c("abc")), 3);
    }

    proptest! {
        #[test]
        fn edit_distance_is_a_metric_with_length_bounds(
            a in proptest::collection::vec(0u8..4, 0..24),
            b in proptest::collection::vec(0u8..4, 0..24),
            c in proptest::collection::vec(0u8..4, 0..24),
        ) {
            let ab = edit_distance(&a, &b);
            prop_assert_eq!(ab, edit_distance(&b, &a));
            prop_assert_eq!(edit_distance(&a, &a), 0);
            prop_assert!(ab <= edit_distance(&a, &c) + edit_distance(&c, &b));
            prop_assert!(a.len().abs_diff(b.len()) <= ab);
            prop_assert!(ab <= a.len().max(b.len()));
            prop_assert_eq!(ab == 0, a == b);
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(10.0));
        assert_eq!(percentile(&v, 95.0), Some(19.0));
        assert_eq!(percentile(&v, 100.0), Some(20.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0), "rank is at least 1");
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[f64::NAN, 3.0, f64::INFINITY], 95.0), Some(3.0));
        assert_eq!(
            median(&[4.0, 1.0, 3.0, 2.0]),
            Some(2.0),
            "the lower middle value"
        );
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
    }

    #[test]
    fn macro_f1_by_hand() {
        // a: tp 1, predicted 1, gold 2 -> F1 2/3; b: tp 1, predicted 2, gold 1 -> F1 2/3.
        let pairs = [("a", "a"), ("a", "b"), ("b", "b")];
        assert!((macro_f1(&pairs).unwrap() - 2.0 / 3.0).abs() < 1e-12);
        // a label only predicted (c) is not averaged in, but costs b its recall.
        let pairs = [("a", "a"), ("b", "c"), ("b", "b")];
        assert!((macro_f1(&pairs).unwrap() - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
    }

    fn manifest(lines: &str) -> (tempfile::TempDir, Manifest) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.jsonl");
        std::fs::write(&p, lines).unwrap();
        let m = crate::read_manifest(&p).unwrap();
        (dir, m)
    }

    #[test]
    fn summary_scores_each_metric_and_counts_errors_per_dialect() {
        let (_d, m) = manifest(concat!(
            "{\"id\":\"a\",\"audio\":\"a.wav\",\"dialect\":\"yue\",\"transcript\":\"我要辦社保卡\",\"intent\":\"service.query\",\"service_id\":\"social-security-card\"}\n",
            "{\"id\":\"b\",\"audio\":\"b.wav\",\"dialect\":\"yue\",\"transcript\":\"排队要多久\",\"intent\":\"queue.status\",\"service_id\":\"appointment\"}\n",
            "{\"id\":\"c\",\"text\":\"再说一遍\",\"dialect\":\"cmn\",\"transcript\":\"再说一遍\",\"intent\":\"nav.repeat\"}\n",
            "{\"id\":\"d\",\"audio\":\"d.wav\",\"dialect\":\"cmn\",\"transcript\":\"你好\",\"intent\":\"greeting\"}\n",
            "{\"id\":\"e\",\"text\":\"x\",\"dialect\":\"hak\",\"intent\":\"bogus\"}\n",
        ));
        let preds = vec![
            Prediction {
                id: "a".into(),
                transcript: Some("我要办社保卡。".into()),
                dialect: Some("yue".into()),
                intent: Some("service.query".into()),
                service_ids: vec!["social-security-card".into(), "x".into()],
                audio_s: Some(2.0),
                first_partial_ms: Some(600.0),
                final_ms: Some(100.0),
                elapsed_ms: Some(400.0),
                ..Default::default()
            },
            Prediction {
                id: "b".into(),
                transcript: Some("排队多久".into()),
                dialect: Some("cmn".into()),
                intent: Some("service.query".into()),
                service_ids: vec!["x".into(), "y".into(), "appointment".into()],
                audio_s: Some(3.0),
                first_partial_ms: Some(800.0),
                final_ms: Some(300.0),
                elapsed_ms: Some(600.0),
                ..Default::default()
            },
            Prediction {
                id: "c".into(),
                transcript: Some("再说一遍".into()),
                intent: Some("nav.repeat".into()),
                ..Default::default()
            },
            Prediction::failed("d", "bad audio"),
        ];
        let s = summarize(&m, &preds, ReportMeta::default());
        let o = &s.overall;
        assert_eq!((o.n, o.errors), (5, 2));
        // a: 0 edits / 6; b: 1 / 5; d (error): 2 / 2; c is a text item, not scored.
        assert_eq!((o.char_edits, o.ref_chars, o.cer_items), (3, 13, 3));
        assert_eq!(o.dialect_acc, Some(1.0 / 4.0));
        assert_eq!(o.intent_items, 4);
        assert_eq!(o.intent_acc, Some(0.5));
        assert_eq!(o.recall_at_1, Some(0.5));
        assert_eq!(o.recall_at_3, Some(1.0));
        assert!((o.mrr.unwrap() - (1.0 + 1.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(o.final_p50_ms, Some(100.0));
        assert_eq!(o.final_p95_ms, Some(300.0));
        assert!((o.rtf.unwrap() - 0.2).abs() < 1e-12);
        assert!(o.confusion.labels.contains(&"(none)".to_string()));
        let codes: Vec<&str> = s.per_dialect.iter().map(|d| d.dialect.as_str()).collect();
        assert_eq!(codes, ["cmn", "yue", "hak"]);
        assert_eq!(s.per_dialect[0].metrics.errors, 1);
        assert_eq!(
            s.per_dialect[2].metrics.errors, 1,
            "the bad-intent line counts under its dialect"
        );
        assert_eq!(s.per_dialect[1].metrics.cer_items, 2);
        assert_eq!(s.error_list.len(), 2);
        assert!(!s.synthetic && s.label.is_empty());
        let syn = summarize(
            &m,
            &preds,
            ReportMeta {
                synthetic: true,
                ..Default::default()
            },
        );
        assert!(syn.label.contains("SYNTHETIC"));
    }

    #[test]
    fn a_summary_is_dated_by_the_time_given() {
        let (_d, m) = manifest("{\"id\":\"a\",\"text\":\"你好\",\"intent\":\"greeting\"}\n");
        let at = chrono::DateTime::parse_from_rfc3339("2024-05-06T07:08:09+08:00")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let s = summarize_at(&m, &[], ReportMeta::default(), at);
        assert_eq!(s.generated_at, "2024-05-05T23:08:09Z");
    }

    #[test]
    fn missing_prediction_counts_as_error() {
        let (_d, m) = manifest("{\"id\":\"a\",\"text\":\"你好\",\"intent\":\"greeting\"}\n");
        let s = summarize(&m, &[], ReportMeta::default());
        assert_eq!(s.overall.errors, 1);
        assert_eq!(s.overall.intent_acc, Some(0.0));
        assert_eq!(s.overall.rtf, None);
    }
}
