//! Scores of an intent model on a labelled set: accuracy, macro-F1, confusion matrix,
//! per-dialect accuracy, dialect identification.

use std::collections::HashMap;
use std::fmt;

use crate::data::Example;
use crate::{Context, Intent, Understander, DIALECTS};

/// One scored item: (gold, predicted, dialect, noisy, dialect guessed, marked).
pub type Prediction = (Intent, Intent, String, bool, String, bool);

/// Scores: accuracy, macro-F1, confusion matrix, per-dialect accuracy.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// Items scored.
    pub n: usize,
    /// Share of items whose top intent is right.
    pub accuracy: f32,
    /// Mean F1 over the intents present (gold or predicted).
    pub macro_f1: f32,
    /// `confusion[gold][predicted]`, indices of [`Intent::ALL`].
    pub confusion: Vec<Vec<u32>>,
    /// (group, items, accuracy) per dialect code, plus `asr` for garbled items.
    pub per_dialect: Vec<(String, usize, f32)>,
    /// Dialect identification accuracy on items whose text carries a dialect marker.
    pub dialect_id_accuracy: f32,
    /// Items in that measure.
    pub dialect_id_n: usize,
}

impl Report {
    /// Builds a report from (gold, predicted, dialect, noisy, dialect guessed, marked).
    #[allow(clippy::needless_range_loop)]
    pub fn from_predictions(items: &[Prediction]) -> Report {
        let k = Intent::ALL.len();
        let mut confusion = vec![vec![0u32; k]; k];
        let mut groups: HashMap<String, (usize, usize)> = HashMap::new();
        let (mut did_ok, mut did_n) = (0usize, 0usize);
        for (g, p, d, noisy, guess, marked) in items {
            confusion[g.index()][p.index()] += 1;
            let ok = (g == p) as usize;
            let e = groups.entry(d.clone()).or_default();
            e.0 += 1;
            e.1 += ok;
            if *noisy {
                let e = groups.entry("asr".into()).or_default();
                e.0 += 1;
                e.1 += ok;
            }
            if d != "cmn" && *marked {
                did_n += 1;
                did_ok += (guess == d) as usize;
            }
        }
        let n = items.len();
        let correct: u32 = (0..k).map(|i| confusion[i][i]).sum();
        let mut f1s = Vec::new();
        for i in 0..k {
            let tp = confusion[i][i] as f32;
            let gold: u32 = confusion[i].iter().sum();
            let pred: u32 = (0..k).map(|r| confusion[r][i]).sum();
            if gold == 0 && pred == 0 {
                continue;
            }
            let prec = if pred > 0 { tp / pred as f32 } else { 0.0 };
            let rec = if gold > 0 { tp / gold as f32 } else { 0.0 };
            f1s.push(if prec + rec > 0.0 {
                2.0 * prec * rec / (prec + rec)
            } else {
                0.0
            });
        }
        let mut per_dialect: Vec<(String, usize, f32)> = groups
            .into_iter()
            .map(|(d, (n, ok))| (d, n, if n > 0 { ok as f32 / n as f32 } else { 0.0 }))
            .collect();
        let order = |d: &str| {
            DIALECTS
                .iter()
                .position(|c| *c == d)
                .unwrap_or(DIALECTS.len())
        };
        per_dialect.sort_by_key(|x| order(&x.0));
        Report {
            n,
            accuracy: if n > 0 {
                correct as f32 / n as f32
            } else {
                0.0
            },
            macro_f1: if f1s.is_empty() {
                0.0
            } else {
                f1s.iter().sum::<f32>() / f1s.len() as f32
            },
            confusion,
            per_dialect,
            dialect_id_accuracy: if did_n > 0 {
                did_ok as f32 / did_n as f32
            } else {
                0.0
            },
            dialect_id_n: did_n,
        }
    }

    /// Accuracy of one group (a dialect code or `asr`).
    pub fn group_accuracy(&self, group: &str) -> Option<f32> {
        self.per_dialect.iter().find(|x| x.0 == group).map(|x| x.2)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "items {}  accuracy {:.3}  macro-F1 {:.3}",
            self.n, self.accuracy, self.macro_f1
        )?;
        writeln!(
            f,
            "dialect identification on marked text: {:.3} ({} items)",
            self.dialect_id_accuracy, self.dialect_id_n
        )?;
        for (d, n, a) in &self.per_dialect {
            writeln!(f, "  {d:<8} {n:>5} items  accuracy {a:.3}")?;
        }
        writeln!(
            f,
            "confusion (rows gold, columns predicted; order of intents.tsv):"
        )?;
        write!(f, "{:>19}", "")?;
        for i in 0..Intent::ALL.len() {
            write!(f, "{:>4}", i + 1)?;
        }
        writeln!(f)?;
        for (i, row) in self.confusion.iter().enumerate() {
            write!(f, "{:>2} {:<16}", i + 1, Intent::ALL[i].as_str())?;
            for c in row {
                if *c == 0 {
                    write!(f, "{:>4}", ".")?;
                } else {
                    write!(f, "{c:>4}")?;
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Scores `u` on `items` (context: nothing awaited, dialect unknown).
pub fn evaluate(u: &Understander, items: &[Example]) -> Report {
    Report::from_predictions(&predictions(u, items))
}

/// What `u` makes of each of `items`, read with no context on a fixed day.
pub(crate) fn predictions(u: &Understander, items: &[Example]) -> Vec<Prediction> {
    let ctx = Context::default();
    let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    items
        .iter()
        .map(|e| {
            let r = u.understand_on(&e.text, &ctx, today);
            (
                e.intent,
                r.intent.intent,
                e.dialect.clone(),
                e.noisy,
                r.dialect.code.to_string(),
                r.dialect.marked,
            )
        })
        .collect()
}
