//! Scoring understanding on held-out sets: the frozen set written independently of the
//! training lines (`data/frozen/heldout-v2.tsv`), the project's older held-out lines and
//! the recogniser transcripts.
//!
//! [`score`] reads every line once with a given [`Understander`] and, when a guide
//! retriever is given (the `kb` crate passes one: this crate does not know the guide),
//! looks the item up too; it reports intent accuracy overall and per dialect, emergency
//! recall, emergencies read into lines that are not, whether the right guide item is in
//! the top three, dialect identification per dialect, and the time per utterance.
//!
//! The frozen set is only ever scored: never trained on, never used to tune a rule, a
//! lexicon or a threshold (its README).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::{Context, Intent, Understander, Understanding, DIALECTS};

/// The frozen held-out set (`data/frozen/heldout-v2.tsv`, 503 lines; sha256 in its folder).
const FROZEN_V2_TSV: &str = include_str!("../data/frozen/heldout-v2.tsv");

/// Styles of the frozen set that describe a resident's situation or need in their own
/// words (`need`, `elderly`, `half`, `complaint`, `colloquial`): the lines where an
/// emergency must never be read unless the label says so.
pub const NEED_STYLES: [&str; 5] = ["need", "elderly", "half", "complaint", "colloquial"];

/// One scored line.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// What the resident says (or what the recogniser wrote).
    pub text: String,
    /// The intent meant.
    pub intent: Intent,
    /// Its dialect code (one of [`DIALECTS`]).
    pub dialect: String,
    /// The guide item needed, when one is.
    pub guide: Option<String>,
    /// How it is phrased (`need`, `question`, `half`, … in the frozen set; `asr` for
    /// transcripts; empty when unknown).
    pub style: String,
}

/// The frozen held-out set, parsed (line-numbered errors on a malformed line).
pub fn frozen_v2() -> Result<Vec<Line>> {
    parse_lines("data/frozen/heldout-v2.tsv", FROZEN_V2_TSV)
}

/// Lines in the frozen set's format (5 tab-separated columns: text, intent, dialect,
/// guide id or `-`, style; `# ` comments), e.g. a development set; `name` is the file
/// named in an error.
pub fn parse_lines(name: &str, text: &str) -> Result<Vec<Line>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let err = |reason: String| Error::Data {
            file: name.to_string(),
            line: i + 1,
            reason,
        };
        let cols: Vec<&str> = raw.split('\t').collect();
        if cols.len() != 5 {
            return Err(err(format!("expected 5 columns, got {}", cols.len())));
        }
        let intent =
            Intent::parse(cols[1]).ok_or_else(|| err(format!("unknown intent {:?}", cols[1])))?;
        let dialect = cols[2].trim();
        if !DIALECTS.contains(&dialect) {
            return Err(err(format!("unknown dialect {dialect:?}")));
        }
        let guide = match cols[3].trim() {
            "-" | "" => None,
            g => Some(g.to_string()),
        };
        out.push(Line {
            text: cols[0].trim().to_string(),
            intent,
            dialect: dialect.to_string(),
            guide,
            style: cols[4].trim().to_string(),
        });
    }
    Ok(out)
}

/// The project's older held-out lines (`data/heldout.tsv`), as [`Line`]s.
pub fn old_heldout() -> Vec<Line> {
    from_examples(&crate::train::heldout())
}

/// The recogniser transcripts written for that test only (`data/speech_heldout.tsv`),
/// with the guide item each means where it has one.
pub fn speech_heldout() -> Vec<Line> {
    from_examples(&crate::train::speech_heldout())
}

fn from_examples(items: &[crate::train::Example]) -> Vec<Line> {
    items
        .iter()
        .map(|e| Line {
            text: e.text.clone(),
            intent: e.intent,
            dialect: e.dialect.clone(),
            guide: e.service.clone(),
            style: if e.noisy { "asr".into() } else { String::new() },
        })
        .collect()
}

/// Hits over items: (items, right).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Count {
    /// Items counted.
    pub n: usize,
    /// Items that were right (or, for a failure count, that failed).
    pub hit: usize,
}

impl Count {
    fn add(&mut self, ok: bool) {
        self.n += 1;
        self.hit += ok as usize;
    }

    /// `hit / n` (0 when nothing was counted).
    pub fn rate(&self) -> f32 {
        if self.n == 0 {
            0.0
        } else {
            self.hit as f32 / self.n as f32
        }
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3} ({}/{})", self.rate(), self.hit, self.n)
    }
}

/// The scores of one set.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Scorecard {
    /// Intent right, all lines.
    pub intent: Count,
    /// Intent right, per dialect code (in [`DIALECTS`] order).
    pub intent_by_dialect: BTreeMap<String, Count>,
    /// Intent right, per style.
    pub intent_by_style: BTreeMap<String, Count>,
    /// Emergency lines read as an emergency (recall).
    pub emergency_recall: Count,
    /// Non-emergency lines read as an emergency (`hit` = false alarms).
    pub false_emergency: Count,
    /// The same on the non-emergency lines of [`NEED_STYLES`].
    pub false_emergency_needs: Count,
    /// Lines with a guide item: the item among the top three retrieved (when a retriever
    /// was given).
    pub guide_top3: Count,
    /// The same, top one.
    pub guide_top1: Count,
    /// Dialect identified right, per dialect code (Mandarin: stays Mandarin).
    pub dialect_id: BTreeMap<String, Count>,
    /// Dialect identified right on all dialect (non-Mandarin) lines.
    pub dialect_id_marked: Count,
    /// Right readings marked unsure (`hit`): the dialogue asks before acting on them.
    pub unsure_when_right: Count,
    /// Wrong readings marked unsure (`hit`): caught by a clarifying question.
    pub unsure_when_wrong: Count,
    /// Time per line of understanding plus retrieval, microseconds: p50, p95.
    pub time_us: (f64, f64),
    /// Lines read wrong: (text, gold, predicted).
    #[serde(skip)]
    pub errors: Vec<(String, Intent, Intent)>,
    /// Lines whose guide item was not in the top three: (text, gold id, top ids).
    #[serde(skip)]
    pub guide_misses: Vec<(String, String, Vec<String>)>,
}

impl Scorecard {
    /// Intent accuracy of one dialect, when the set has lines in it.
    pub fn dialect_accuracy(&self, d: &str) -> Option<f32> {
        self.intent_by_dialect.get(d).map(Count::rate)
    }

    /// The lowest intent accuracy over the dialects other than Mandarin.
    pub fn worst_dialect(&self) -> Option<(&str, f32)> {
        self.intent_by_dialect
            .iter()
            .filter(|(d, _)| d.as_str() != "cmn")
            .map(|(d, c)| (d.as_str(), c.rate()))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }
}

impl fmt::Display for Scorecard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "intent accuracy          {}", self.intent)?;
        for d in DIALECTS {
            if let Some(c) = self.intent_by_dialect.get(d) {
                writeln!(f, "  {d:<8}               {c}")?;
            }
        }
        for (s, c) in &self.intent_by_style {
            writeln!(f, "  style {s:<12}     {c}")?;
        }
        writeln!(
            f,
            "marked unsure            {} of wrong readings, {} of right ones",
            self.unsure_when_wrong, self.unsure_when_right
        )?;
        writeln!(f, "emergency recall         {}", self.emergency_recall)?;
        writeln!(
            f,
            "false emergencies        {} of non-emergency lines; {} of need lines",
            self.false_emergency.hit, self.false_emergency_needs.hit
        )?;
        writeln!(
            f,
            "  (non-emergency lines {}, need-style non-emergency lines {})",
            self.false_emergency.n, self.false_emergency_needs.n
        )?;
        if self.guide_top3.n > 0 {
            writeln!(f, "guide item in top 3      {}", self.guide_top3)?;
            writeln!(f, "guide item top 1         {}", self.guide_top1)?;
        }
        writeln!(f, "dialect id, dialect text {}", self.dialect_id_marked)?;
        for d in DIALECTS {
            if let Some(c) = self.dialect_id.get(d) {
                writeln!(f, "  {d:<8}               {c}")?;
            }
        }
        write!(
            f,
            "time per utterance       p50 {:.2} ms, p95 {:.2} ms",
            self.time_us.0 / 1e3,
            self.time_us.1 / 1e3
        )
    }
}

/// A guide retriever as the scorer sees it: the ids of the best items for an
/// understood utterance, best first.
pub type Retrieve<'a> = &'a dyn Fn(&Understanding) -> Vec<String>;

/// Scores `u` (and `retrieve`, when given) on `lines`: context "nothing awaited, dialect
/// unknown", dates against a fixed day.
pub fn score(u: &Understander, lines: &[Line], retrieve: Option<Retrieve<'_>>) -> Scorecard {
    let ctx = Context::default();
    let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    let mut s = Scorecard::default();
    let mut times = Vec::with_capacity(lines.len());
    for l in lines {
        let t = Instant::now();
        let r = u.understand_on(&l.text, &ctx, today);
        let ids = match (retrieve, &l.guide) {
            (Some(f), Some(_)) => f(&r),
            _ => Vec::new(),
        };
        times.push(t.elapsed().as_secs_f64() * 1e6);
        let got = r.intent.intent;
        let ok = got == l.intent;
        s.intent.add(ok);
        s.intent_by_dialect
            .entry(l.dialect.clone())
            .or_default()
            .add(ok);
        if !l.style.is_empty() {
            s.intent_by_style
                .entry(l.style.clone())
                .or_default()
                .add(ok);
        }
        if !ok {
            s.errors.push((l.text.clone(), l.intent, got));
            s.unsure_when_wrong.add(r.intent.unsure);
        } else {
            s.unsure_when_right.add(r.intent.unsure);
        }
        let alarm = got == Intent::Emergency;
        if l.intent == Intent::Emergency {
            s.emergency_recall.add(alarm);
        } else {
            s.false_emergency.add(alarm);
            if NEED_STYLES.contains(&l.style.as_str()) {
                s.false_emergency_needs.add(alarm);
            }
        }
        if let (Some(_), Some(g)) = (retrieve, &l.guide) {
            let pos = ids.iter().position(|i| i == g);
            s.guide_top3.add(pos.is_some_and(|p| p < 3));
            s.guide_top1.add(pos == Some(0));
            if pos.is_none_or(|p| p >= 3) {
                s.guide_misses
                    .push((l.text.clone(), g.clone(), ids.into_iter().take(3).collect()));
            }
        }
        let did = r.dialect.code == l.dialect;
        s.dialect_id.entry(l.dialect.clone()).or_default().add(did);
        if l.dialect != "cmn" {
            s.dialect_id_marked.add(did);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    s.time_us = (percentile(&times, 0.5), percentile(&times, 0.95));
    s
}

/// The `p` quantile of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_encoder;

    #[test]
    fn frozen_set_parses_with_its_documented_counts() {
        let lines = frozen_v2().unwrap();
        assert_eq!(lines.len(), 503);
        let count = |f: &dyn Fn(&Line) -> bool| lines.iter().filter(|l| f(l)).count();
        assert_eq!(count(&|l| l.intent == Intent::Emergency), 37);
        assert_eq!(count(&|l| l.dialect == "cmn"), 195);
        assert!(
            count(&|l| l.intent != Intent::Emergency && NEED_STYLES.contains(&l.style.as_str()))
                >= 200
        );
        let ids: std::collections::HashSet<_> =
            lines.iter().filter_map(|l| l.guide.clone()).collect();
        assert_eq!(ids.len(), 47);
    }

    #[test]
    fn frozen_set_understanding() {
        // Issue #19's targets on the frozen set: intent accuracy >= 0.95 overall, >= 0.93
        // Mandarin, >= 0.90 every dialect; emergency recall 1.0 and no emergency read
        // into the >= 200 non-emergency need lines; dialect identification >= 0.9 on
        // every dialect. Asserted where met; where not, the floor measured with the
        // committed models (see each line), so that a regression fails.
        // Before meaning (n-gram model and rules alone): overall 0.636, Mandarin 0.590,
        // emergency recall 0.865, 31 emergencies read into need lines.
        let lines = frozen_v2().unwrap();
        let ngram = score(&Understander::builtin().unwrap(), &lines, None);
        println!("== n-gram model alone\n{ngram}\n");
        assert!(ngram.intent.rate() >= 0.6, "{}", ngram.intent);
        let Some(u) = test_encoder::understander("frozen_set_understanding") else {
            return;
        };
        let s = score(&u, &lines, None);
        println!("== with meaning\n{s}");
        // the targets, all met: measured 0.984 overall, 0.979 Mandarin (0.970 / 0.969 in
        // session 15; 0.938 / 0.908 before the n-gram model learned the residents' lines)
        assert!(s.intent.rate() >= 0.95, "overall {}", s.intent);
        assert!(s.dialect_accuracy("cmn").unwrap() >= 0.93, "Mandarin");
        // every dialect >= 0.90: met (lowest Hakka 0.977)
        for d in DIALECTS.iter().skip(1) {
            let a = s.dialect_accuracy(d).unwrap();
            assert!(a >= 0.90, "{d}: {a}");
        }
        // emergency recall 1.0: met (37/37)
        assert_eq!(
            s.emergency_recall.hit, s.emergency_recall.n,
            "{}",
            s.emergency_recall
        );
        // no emergency read into a need line: met (0 of 252; 0 of all 466 non-emergency)
        assert!(s.false_emergency_needs.n >= 200);
        assert_eq!(
            s.false_emergency_needs.hit, 0,
            "{}",
            s.false_emergency_needs
        );
        assert_eq!(s.false_emergency.hit, 0, "{}", s.false_emergency);
        // dialect identification >= 0.9 in every dialect: met (Sichuanese 0.921, 58 of 63;
        // 0.873 in session 15, 0.794 before its markers); a marker-free Mandarin line stays
        // Mandarin (195 of 195)
        for d in DIALECTS.iter().skip(1) {
            let a = s.dialect_id[*d].rate();
            assert!(a >= 0.9, "dialect id {d}: {a}");
        }
        assert!(
            s.dialect_id["cmn"].rate() >= 0.99,
            "Mandarin stays Mandarin"
        );
    }

    #[test]
    fn older_sets_keep_their_scores_with_meaning() {
        let Some(u) = test_encoder::understander("older_sets_keep_their_scores_with_meaning")
        else {
            return;
        };
        // measured 0.995 (n-gram model alone 0.982)
        let old = score(&u, &old_heldout(), None);
        assert!(old.intent.rate() >= 0.98, "{}", old.intent);
        assert_eq!(old.emergency_recall.hit, old.emergency_recall.n);
        // recogniser transcripts of espeak-ng speech: measured 0.697 (alone 0.605)
        let speech = score(&u, &speech_heldout(), None);
        assert!(speech.intent.rate() >= 0.65, "{}", speech.intent);
        assert_eq!(speech.emergency_recall.hit, speech.emergency_recall.n);
    }
}
