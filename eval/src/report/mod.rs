//! Reports: `summary.json`, `report.md`, a self-contained `report.html` with inline SVG
//! charts, and the comparison of two runs.
//!
//! One concept per file: [`markdown`] writes `report.md` and the headline table the
//! command line prints, [`html`] the one-file `report.html`, [`svg`] its charts, and
//! [`compare`] what changed between two runs. This file writes and reads the report
//! folder and holds what the Markdown and HTML reports share: the headline table's
//! groups, columns and cells, and the definitions.

mod compare;
mod html;
mod markdown;
mod svg;

use std::path::Path;

use crate::error::{Error, Result};
use crate::metrics::{Metrics, Summary};

pub use compare::compare;
pub use markdown::headline_markdown;

/// Writes `summary.json`, `report.md` and `report.html` into `dir` (created if needed).
pub fn write_report(dir: &Path, summary: &Summary) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let json_path = dir.join("summary.json");
    let json = serde_json::to_string_pretty(summary).map_err(|e| Error::json(&json_path, 0, e))?;
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(p, e))
    };
    write("summary.json", &(json + "\n"))?;
    write("report.md", &markdown::report(summary))?;
    write("report.html", &html::report(summary))
}

/// Reads a `summary.json` (or the `summary.json` inside a report folder).
pub fn read_summary(path: &Path) -> Result<Summary> {
    let file = if path.is_dir() {
        path.join("summary.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
    serde_json::from_str(&text).map_err(|e| Error::json(&file, e.line(), e))
}

/// One row of the headline table: the whole run or one dialect.
struct Group<'s> {
    /// Dialect code; `None` for the overall row.
    code: Option<&'s str>,
    /// The dialect's Chinese name, when it has one.
    name_zh: Option<&'s str>,
    metrics: &'s Metrics,
}

/// The headline table's rows: overall first, then each dialect in report order.
fn headline_groups(s: &Summary) -> Vec<Group<'_>> {
    let overall = Group {
        code: None,
        name_zh: None,
        metrics: &s.overall,
    };
    let dialects = s.per_dialect.iter().map(|d| Group {
        code: Some(d.dialect.as_str()),
        name_zh: d.name_zh.as_deref(),
        metrics: &d.metrics,
    });
    std::iter::once(overall).chain(dialects).collect()
}

/// Column names of the headline table (the group column first).
const HEADLINE_HEADER: [&str; 13] = [
    "group",
    "items",
    "errors",
    "CER",
    "dialect acc",
    "intent acc",
    "intent F1",
    "R@1",
    "R@3",
    "MRR",
    "first partial p50/p95 ms",
    "final p50/p95 ms",
    "RTF",
];

/// The headline table's cells after the group column.
fn headline_cells(m: &Metrics) -> Vec<String> {
    vec![
        m.n.to_string(),
        m.errors.to_string(),
        opt(m.cer, 3),
        opt(m.dialect_acc, 3),
        opt(m.intent_acc, 3),
        opt(m.intent_macro_f1, 3),
        opt(m.recall_at_1, 3),
        opt(m.recall_at_3, 3),
        opt(m.mrr, 3),
        ms_pair(m.first_partial_p50_ms, m.first_partial_p95_ms),
        ms_pair(m.final_p50_ms, m.final_p95_ms),
        opt(m.rtf, 3),
    ]
}

/// A value with `digits` decimals, or `n/a`.
fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "n/a".to_string())
}

/// `p50 / p95` in whole milliseconds, or `n/a` when neither is known.
fn ms_pair(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (None, None) => "n/a".to_string(),
        _ => format!("{} / {}", opt(a, 0), opt(b, 0)),
    }
}

/// The heading of the item-error list.
fn errors_heading(s: &Summary) -> String {
    format!(
        "Item errors ({} in all; first {} listed)",
        s.overall.errors,
        s.error_list.len()
    )
}

/// How each metric is defined, one `- ` line each (Markdown list; the HTML report
/// turns each line into a list item).
const DEFINITIONS: &str = "\
- CER: character edit distance / reference length, summed over audio items with a reference transcript; both sides \
converted Traditional→Simplified, full-width→half-width, punctuation and spaces removed. Text items are not scored for CER.
- Items with an error are counted under `errors` and scored as empty output wherever they have a reference.
- Dialect accuracy over items with a reference dialect; intent accuracy and macro-F1 (mean F1 over the labels present \
in the references) over items with a reference intent.
- recall@1 / recall@3 / MRR over items with a reference service id; MRR counts the top 3 only.
- Latency p50/p95: nearest-rank percentiles (value at rank ⌈p/100·n⌉ of the sorted values). First partial: from the \
start of real-time streaming to the first partial result; final: from the end of the audio to the final transcript.
- RTF: total processing time (`elapsed_ms`, excluding real-time pacing) / total audio seconds; n/a when not reported.
";

/// Escapes text for HTML and SVG.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::metrics::ReportMeta;

    /// A two-item run (one Cantonese audio item, one Mandarin text item) whose overall
    /// CER and intent accuracy are then set to `cer` and `intent`.
    pub(crate) fn sample(cer: f64, intent: f64, final_ms: f64, synthetic: bool) -> Summary {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.jsonl");
        std::fs::write(
            &p,
            "{\"id\":\"a\",\"audio\":\"a.wav\",\"dialect\":\"yue\",\"transcript\":\"社保卡\",\"intent\":\"service.query\"}\n{\"id\":\"b\",\"text\":\"救命\",\"dialect\":\"cmn\",\"intent\":\"emergency\"}\n",
        )
        .unwrap();
        let m = crate::read_manifest(&p).unwrap();
        let preds = vec![
            crate::Prediction {
                id: "a".into(),
                transcript: Some("社保".into()),
                dialect: Some("yue".into()),
                intent: Some("emergency".into()),
                final_ms: Some(final_ms),
                first_partial_ms: Some(500.0),
                ..Default::default()
            },
            crate::Prediction {
                id: "b".into(),
                intent: Some("emergency".into()),
                ..Default::default()
            },
        ];
        let meta = ReportMeta {
            title: "测试 run".into(),
            synthetic,
            ..Default::default()
        };
        let mut s = crate::summarize(&m, &preds, meta);
        s.overall.cer = Some(cer);
        s.overall.intent_acc = Some(intent);
        s
    }

    #[test]
    fn report_files_are_written_self_contained_and_labelled() {
        let s = sample(0.4, 0.5, 180.0, true);
        let dir = tempfile::tempdir().unwrap();
        write_report(dir.path(), &s).unwrap();
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert_eq!(
            html.matches("<svg").count(),
            5,
            "CER bars, intent bars, two histograms, heat map"
        );
        assert!(html.contains("粤语 yue"), "Chinese dialect names appear");
        assert!(
            !html.contains("src=\"http")
                && !html.contains("href=\"http")
                && !html.contains("<script")
        );
        assert!(html.contains("SYNTHETIC"));
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(md.contains("| **overall** | 2 | 0 | 0.400 |"), "{md}");
        assert!(md.contains("SYNTHETIC"));
        let back = read_summary(dir.path()).unwrap();
        assert_eq!(back.overall.cer, Some(0.4));
        assert_eq!(back.per_dialect.len(), 2);
        let plain = sample(0.4, 0.5, 180.0, false);
        write_report(dir.path(), &plain).unwrap();
        assert!(!std::fs::read_to_string(dir.path().join("report.html"))
            .unwrap()
            .contains("SYNTHETIC"));
    }

    #[test]
    fn a_broken_summary_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("summary.json");
        std::fs::write(&p, "{\n  \"title\": 3\n}\n").unwrap();
        let e = read_summary(dir.path()).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:2:", p.display())), "{e}");
    }
}
