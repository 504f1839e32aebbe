//! The comparison of two runs (`xiaoan eval compare A B`): every metric of every group,
//! with the direction of the change and whether it is better or worse.

use std::fmt::Write as _;

use crate::metrics::{Metrics, Summary};

/// How a metric is read off a group and shown.
struct MetricDef {
    name: &'static str,
    get: fn(&Metrics) -> Option<f64>,
    /// Larger is better.
    higher_better: bool,
    kind: Kind,
}

/// How a metric's values and changes are printed.
#[derive(Clone, Copy)]
enum Kind {
    /// A share in [0, 1]: three decimals.
    Ratio,
    /// Milliseconds, whole.
    Ms,
    /// Any other number: three decimals.
    Plain,
    /// A count, whole.
    Count,
}

/// One compared metric.
const fn def(
    name: &'static str,
    get: fn(&Metrics) -> Option<f64>,
    higher_better: bool,
    kind: Kind,
) -> MetricDef {
    MetricDef {
        name,
        get,
        higher_better,
        kind,
    }
}

/// The compared metrics, in the order they are listed.
const METRICS: &[MetricDef] = &[
    def("CER", |m| m.cer, false, Kind::Ratio),
    def("dialect acc", |m| m.dialect_acc, true, Kind::Ratio),
    def("intent acc", |m| m.intent_acc, true, Kind::Ratio),
    def("intent macro-F1", |m| m.intent_macro_f1, true, Kind::Ratio),
    def("recall@1", |m| m.recall_at_1, true, Kind::Ratio),
    def("recall@3", |m| m.recall_at_3, true, Kind::Ratio),
    def("MRR", |m| m.mrr, true, Kind::Ratio),
    def(
        "first partial p50",
        |m| m.first_partial_p50_ms,
        false,
        Kind::Ms,
    ),
    def(
        "first partial p95",
        |m| m.first_partial_p95_ms,
        false,
        Kind::Ms,
    ),
    def("final p50", |m| m.final_p50_ms, false, Kind::Ms),
    def("final p95", |m| m.final_p95_ms, false, Kind::Ms),
    def("RTF", |m| m.rtf, false, Kind::Plain),
    def("item errors", |m| Some(m.errors as f64), false, Kind::Count),
];

fn fmt_value(v: Option<f64>, kind: Kind) -> String {
    match v {
        None => "n/a".to_string(),
        Some(v) => match kind {
            Kind::Ratio | Kind::Plain => format!("{v:.3}"),
            Kind::Ms => format!("{v:.0} ms"),
            Kind::Count => format!("{v:.0}"),
        },
    }
}

fn fmt_delta(d: f64, kind: Kind) -> String {
    match kind {
        Kind::Ratio | Kind::Plain => format!("{d:+.3}"),
        Kind::Ms => format!("{d:+.0} ms"),
        Kind::Count => format!("{d:+.0}"),
    }
}

/// What a change means for the user of the system.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Verdict {
    Same,
    Better,
    Worse,
    /// Measured in one run only.
    NotComparable,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::Better => "better",
            Verdict::Worse => "WORSE",
            Verdict::NotComparable => "n/a",
        }
    }
}

/// The change of one metric from `a` to `b`: its text (`↓ -0.100`, `=`, `new`, `gone`)
/// and what it means.
fn change(d: &MetricDef, a: Option<f64>, b: Option<f64>) -> (String, Verdict) {
    match (a, b) {
        (Some(x), Some(y)) => {
            let delta = y - x;
            if delta.abs() < 1e-9 {
                return ("=".to_string(), Verdict::Same);
            }
            let arrow = if delta > 0.0 { "↑" } else { "↓" };
            let verdict = if (delta > 0.0) == d.higher_better {
                Verdict::Better
            } else {
                Verdict::Worse
            };
            (format!("{arrow} {}", fmt_delta(delta, d.kind)), verdict)
        }
        (None, Some(_)) => ("new".to_string(), Verdict::NotComparable),
        _ => ("gone".to_string(), Verdict::NotComparable),
    }
}

/// A group of both runs: its name and its metrics in `a` and in `b`.
type GroupPair<'s> = (String, Option<&'s Metrics>, Option<&'s Metrics>);

/// Overall, then every dialect present in either run, in report order.
fn group_pairs<'s>(a: &'s Summary, b: &'s Summary) -> Vec<GroupPair<'s>> {
    let mut codes: Vec<&str> = a
        .per_dialect
        .iter()
        .chain(&b.per_dialect)
        .map(|d| d.dialect.as_str())
        .collect();
    codes.sort_by_key(|c| (crate::codes::dialect_rank(c), c.to_string()));
    codes.dedup();
    let of = |s: &'s Summary, code: &str| {
        s.per_dialect
            .iter()
            .find(|d| d.dialect == code)
            .map(|d| &d.metrics)
    };
    let mut groups = vec![("overall".to_string(), Some(&a.overall), Some(&b.overall))];
    groups.extend(
        codes
            .into_iter()
            .map(|code| (code.to_string(), of(a, code), of(b, code))),
    );
    groups
}

const HEADER: [&str; 6] = ["metric", "group", "A", "B", "change", "verdict"];

/// One table row per metric measured in either run of each group, with its verdict.
fn rows(groups: &[GroupPair]) -> Vec<([String; 6], Verdict)> {
    let mut rows = Vec::new();
    for (group, ma, mb) in groups {
        for d in METRICS {
            let va = ma.and_then(|m| (d.get)(m));
            let vb = mb.and_then(|m| (d.get)(m));
            if va.is_none() && vb.is_none() {
                continue;
            }
            let (text, verdict) = change(d, va, vb);
            let cells = [
                d.name.to_string(),
                group.clone(),
                fmt_value(va, d.kind),
                fmt_value(vb, d.kind),
                text,
                verdict.word().to_string(),
            ];
            rows.push((cells, verdict));
        }
    }
    rows
}

/// The rows under the header in aligned columns (the values and changes right-aligned).
fn table(rows: &[[String; 6]]) -> String {
    let header = HEADER.map(String::from);
    let mut widths = [0usize; 6];
    for r in std::iter::once(&header).chain(rows) {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String; 6]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            let pad = " ".repeat(w.saturating_sub(c.chars().count()));
            if (2..=4).contains(&i) {
                let _ = write!(l, "{pad}{c}  ");
            } else {
                let _ = write!(l, "{c}{pad}  ");
            }
        }
        l.trim_end().to_string() + "\n"
    };
    std::iter::once(&header).chain(rows).map(line).collect()
}

/// `A: title (date)`, marked when the run is synthetic.
fn run_line(tag: &str, s: &Summary) -> String {
    let mark = if s.synthetic { " [synthetic]" } else { "" };
    format!("{tag}: {} ({}){mark}\n", s.title, s.generated_at)
}

/// What got better or worse from run `a` to run `b`, per metric and group (overall and
/// each dialect present in either), as a text table. Direction-aware: for CER, latency,
/// RTF and errors lower is better.
pub fn compare(a: &Summary, b: &Summary) -> String {
    let rows = rows(&group_pairs(a, b));
    let count = |v: Verdict| rows.iter().filter(|(_, x)| *x == v).count();
    let mut out = run_line("A", a) + &run_line("B", b);
    if a.synthetic || b.synthetic {
        let _ = writeln!(out, "note: {}", crate::metrics::SYNTHETIC_LABEL);
    }
    let _ = writeln!(
        out,
        "{} better, {} worse (CER, latency, RTF and errors: lower is better)\n",
        count(Verdict::Better),
        count(Verdict::Worse)
    );
    let cells: Vec<[String; 6]> = rows.into_iter().map(|(c, _)| c).collect();
    out + &table(&cells)
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::*;

    #[test]
    fn compare_is_direction_aware() {
        let a = sample(0.40, 0.50, 300.0, false);
        let b = sample(0.30, 0.40, 200.0, false);
        let text = compare(&a, &b);
        let row = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name) && l.contains("overall"))
                .unwrap()
                .to_string()
        };
        assert!(
            row("CER ").contains("↓ -0.100") && row("CER ").ends_with("better"),
            "{text}"
        );
        assert!(
            row("intent acc").contains("↓ -0.100") && row("intent acc").ends_with("WORSE"),
            "{text}"
        );
        assert!(
            row("final p50").contains("-100 ms") && row("final p50").ends_with("better"),
            "{text}"
        );
        assert!(text.contains("yue"));
        let same = compare(&a, &a);
        assert!(same.contains("0 better, 0 worse"), "{same}");
    }

    #[test]
    fn a_dialect_in_one_run_only_is_new_or_gone() {
        let a = sample(0.4, 0.5, 300.0, false);
        let mut b = a.clone();
        b.per_dialect.retain(|d| d.dialect != "yue");
        let gone = compare(&a, &b);
        let yue_cer = |t: &str| {
            t.lines()
                .find(|l| l.starts_with("CER ") && l.contains("yue"))
                .map(str::to_string)
        };
        assert!(
            yue_cer(&gone).is_some_and(|l| l.contains("gone") && l.ends_with("n/a")),
            "{gone}"
        );
        assert!(yue_cer(&compare(&b, &a)).is_some_and(|l| l.contains("new")));
    }

    #[test]
    fn values_are_right_aligned_under_their_column() {
        let a = sample(0.4, 0.5, 300.0, false);
        let text = compare(&a, &sample(0.35, 0.5, 1234.0, true));
        assert!(
            text.contains("note: "),
            "a synthetic run is flagged: {text}"
        );
        let table: Vec<Vec<char>> = text
            .lines()
            .skip_while(|l| !l.starts_with("metric"))
            .map(|l| l.chars().collect())
            .collect();
        let b_end = table[0].iter().position(|c| *c == 'B').unwrap() + 1;
        assert!(table.len() > 10, "{text}");
        for row in &table {
            assert!(row[b_end - 1] != ' ' && row[b_end] == ' ', "{text}");
        }
        assert!(text
            .lines()
            .any(|l| l.starts_with("final p50") && l.contains(" 1234 ms ")));
    }
}
