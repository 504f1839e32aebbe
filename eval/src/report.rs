//! Reports: `summary.json`, `report.md`, a self-contained `report.html` with inline SVG
//! charts, and the comparison of two runs.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Error, Result};
use crate::metrics::{Metrics, Summary};

/// Writes `summary.json`, `report.md` and `report.html` into `dir` (created if needed).
pub fn write_report(dir: &Path, summary: &Summary) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let json = serde_json::to_string_pretty(summary).map_err(|e| Error::Json {
        path: dir.join("summary.json"),
        line: 0,
        reason: e.to_string(),
    })?;
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(p, e))
    };
    write("summary.json", &(json + "\n"))?;
    write("report.md", &markdown(summary))?;
    write("report.html", &html(summary))
}

/// Reads a `summary.json` (or the `summary.json` inside a report folder).
pub fn read_summary(path: &Path) -> Result<Summary> {
    let file = if path.is_dir() {
        path.join("summary.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Json {
        path: file,
        line: e.line(),
        reason: e.to_string(),
    })
}

/// How a metric is read off a group and shown.
struct MetricDef {
    name: &'static str,
    get: fn(&Metrics) -> Option<f64>,
    /// Larger is better.
    higher_better: bool,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Ratio,
    Ms,
    Plain,
    Count,
}

const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "CER",
        get: |m| m.cer,
        higher_better: false,
        kind: Kind::Ratio,
    },
    MetricDef {
        name: "dialect acc",
        get: |m| m.dialect_acc,
        higher_better: true,
        kind: Kind::Ratio,
    },
    MetricDef {
        name: "intent acc",
        get: |m| m.intent_acc,
        higher_better: true,
        kind: Kind::Ratio,
    },
    MetricDef {
        name: "intent macro-F1",
        get: |m| m.intent_macro_f1,
        higher_better: true,
        kind: Kind::Ratio,
    },
    MetricDef {
        name: "recall@1",
        get: |m| m.recall_at_1,
        higher_better: true,
        kind: Kind::Ratio,
    },
    MetricDef {
        name: "recall@3",
        get: |m| m.recall_at_3,
        higher_better: true,
        kind: Kind::Ratio,
    },
    MetricDef {
        name: "MRR",
        get: |m| m.mrr,
        higher_better: true,
        kind: Kind::Ratio,
    },
    MetricDef {
        name: "first partial p50",
        get: |m| m.first_partial_p50_ms,
        higher_better: false,
        kind: Kind::Ms,
    },
    MetricDef {
        name: "first partial p95",
        get: |m| m.first_partial_p95_ms,
        higher_better: false,
        kind: Kind::Ms,
    },
    MetricDef {
        name: "final p50",
        get: |m| m.final_p50_ms,
        higher_better: false,
        kind: Kind::Ms,
    },
    MetricDef {
        name: "final p95",
        get: |m| m.final_p95_ms,
        higher_better: false,
        kind: Kind::Ms,
    },
    MetricDef {
        name: "RTF",
        get: |m| m.rtf,
        higher_better: false,
        kind: Kind::Plain,
    },
    MetricDef {
        name: "item errors",
        get: |m| Some(m.errors as f64),
        higher_better: false,
        kind: Kind::Count,
    },
];

fn fmt_value(v: Option<f64>, kind: Kind) -> String {
    match v {
        None => "n/a".to_string(),
        Some(v) => match kind {
            Kind::Ratio => format!("{v:.3}"),
            Kind::Ms => format!("{v:.0} ms"),
            Kind::Plain => format!("{v:.3}"),
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

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "n/a".to_string())
}

fn ms_pair(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (None, None) => "n/a".to_string(),
        _ => format!("{} / {}", opt(a, 0), opt(b, 0)),
    }
}

fn group_name(code: &str, zh: Option<&str>) -> String {
    match zh {
        Some(z) => format!("{z} `{code}`"),
        None => format!("`{code}`"),
    }
}

/// Rows of the headline table: (group, metrics).
fn headline_rows(s: &Summary) -> Vec<(String, &Metrics)> {
    let mut rows = vec![("**overall**".to_string(), &s.overall)];
    for d in &s.per_dialect {
        rows.push((group_name(&d.dialect, d.name_zh.as_deref()), &d.metrics));
    }
    rows
}

const HEADLINE_HEADER: [&str; 12] = [
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
];

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
    ]
}

/// The headline table in Markdown (also what the README quotes).
pub fn headline_markdown(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} | RTF |", HEADLINE_HEADER.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(HEADLINE_HEADER.len() + 1));
    for (name, m) in headline_rows(s) {
        let _ = writeln!(
            out,
            "| {name} | {} | {} |",
            headline_cells(m).join(" | "),
            opt(m.rtf, 3)
        );
    }
    out
}

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

fn markdown(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", s.title);
    if s.synthetic {
        let _ = writeln!(out, "> **{}**\n", s.label);
    }
    let _ = writeln!(out, "- manifest: `{}`", s.manifest);
    let _ = writeln!(out, "- generated: {}", s.generated_at);
    if !s.machine.is_empty() {
        let _ = writeln!(out, "- machine: {}", s.machine);
    }
    if !s.command.is_empty() {
        let _ = writeln!(out, "- command: `{}`", s.command);
    }
    if s.elapsed_s > 0.0 {
        let _ = writeln!(out, "- run time: {:.1} s", s.elapsed_s);
    }
    let _ = writeln!(out, "\n## Headline\n");
    out.push_str(&headline_markdown(s));
    let c = &s.overall.confusion;
    if !c.labels.is_empty() {
        let _ = writeln!(
            out,
            "\n## Intent confusion (overall; rows = reference, columns = predicted)\n"
        );
        let _ = writeln!(out, "| reference \\ predicted | {} |", c.labels.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(c.labels.len() + 1));
        for (label, row) in c.labels.iter().zip(&c.matrix) {
            let cells: Vec<String> = row
                .iter()
                .map(|n| {
                    if *n == 0 {
                        "·".to_string()
                    } else {
                        n.to_string()
                    }
                })
                .collect();
            let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
        }
    }
    if !s.error_list.is_empty() {
        let _ = writeln!(
            out,
            "\n## Item errors ({} in all; first {} listed)\n",
            s.overall.errors,
            s.error_list.len()
        );
        for e in &s.error_list {
            let _ = writeln!(
                out,
                "- `{}` ({}): {}",
                e.id,
                e.dialect.as_deref().unwrap_or("unknown"),
                e.reason
            );
        }
    }
    let _ = writeln!(out, "\n## Definitions\n\n{DEFINITIONS}");
    if s.synthetic {
        let _ = writeln!(out, "\n> {}", s.label);
    }
    out
}

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

fn dialect_label(code: &str, zh: Option<&str>) -> String {
    match zh {
        Some(z) => format!("{z} {code}"),
        None => code.to_string(),
    }
}

/// A horizontal bar chart of values in [0, `max`] (one row per group).
fn bar_chart(title: &str, rows: &[(String, Option<f64>)], max: f64, color: &str) -> String {
    let (left, width, row_h) = (150.0, 320.0, 26.0);
    let h = 40.0 + row_h * rows.len() as f64 + 24.0;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{t}">"#,
        w = left + width + 70.0,
        t = esc(title)
    );
    let _ = write!(o, r#"<text x="4" y="20" class="t">{}</text>"#, esc(title));
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 36.0 + row_h * i as f64;
        let _ = write!(
            o,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y + 16.0,
            esc(label)
        );
        match v {
            Some(v) => {
                let bw = (v.clamp(0.0, max) / max * width).max(1.0);
                let _ = write!(
                    o,
                    r#"<rect x="{left}" y="{}" width="{bw:.1}" height="{}" fill="{color}"><title>{}: {v:.3}</title></rect>"#,
                    y + 3.0,
                    row_h - 8.0,
                    esc(label)
                );
                let _ = write!(
                    o,
                    r#"<text x="{:.1}" y="{}">{v:.3}</text>"#,
                    left + bw + 6.0,
                    y + 16.0
                );
            }
            None => {
                let _ = write!(
                    o,
                    r#"<text x="{left}" y="{}" class="na">n/a</text>"#,
                    y + 16.0
                );
            }
        }
    }
    let axis_y = 36.0 + row_h * rows.len() as f64 + 4.0;
    let _ = write!(
        o,
        r##"<line x1="{left}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#888"/>"##,
        left + width
    );
    for k in 0..=4 {
        let x = left + width * k as f64 / 4.0;
        let _ = write!(
            o,
            r#"<text x="{x:.1}" y="{}" text-anchor="middle" class="s">{:.2}</text>"#,
            axis_y + 14.0,
            max * k as f64 / 4.0
        );
    }
    o.push_str("</svg>");
    o
}

/// A histogram of latencies (ms), 20 equal bins from 0 to the largest value.
fn histogram(title: &str, values: &[f64], color: &str) -> String {
    let (left, width, height, top) = (50.0, 380.0, 150.0, 32.0);
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{t}">"#,
        w = left + width + 20.0,
        h = top + height + 40.0,
        t = esc(title)
    );
    let _ = write!(
        o,
        r#"<text x="4" y="20" class="t">{} (n = {})</text>"#,
        esc(title),
        values.len()
    );
    let vals: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .collect();
    if vals.is_empty() {
        let _ = write!(
            o,
            r#"<text x="{left}" y="{}" class="na">no latency reported</text>"#,
            top + 40.0
        );
        o.push_str("</svg>");
        return o;
    }
    const BINS: usize = 20;
    let max = vals.iter().copied().fold(0.0, f64::max).max(1.0);
    let mut counts = [0usize; BINS];
    for v in &vals {
        let b = ((v / max) * BINS as f64).floor() as usize;
        counts[b.min(BINS - 1)] += 1;
    }
    let cmax = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bw = width / BINS as f64;
    for (i, c) in counts.iter().enumerate() {
        let bh = *c as f64 / cmax * height;
        let (lo, hi) = (
            max * i as f64 / BINS as f64,
            max * (i + 1) as f64 / BINS as f64,
        );
        let _ = write!(
            o,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="{color}"><title>{lo:.0}–{hi:.0} ms: {c}</title></rect>"#,
            left + bw * i as f64 + 1.0,
            top + height - bh,
            bw - 2.0
        );
    }
    let base = top + height;
    let _ = write!(
        o,
        r##"<line x1="{left}" y1="{base}" x2="{}" y2="{base}" stroke="#888"/>"##,
        left + width
    );
    let _ = write!(
        o,
        r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#888"/>"##
    );
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="end" class="s">{}</text>"#,
        left - 4.0,
        top + 10.0,
        cmax as usize
    );
    let _ = write!(
        o,
        r#"<text x="{}" y="{base}" text-anchor="end" class="s">0</text>"#,
        left - 4.0
    );
    for k in 0..=4 {
        let x = left + width * k as f64 / 4.0;
        let _ = write!(
            o,
            r#"<text x="{x:.1}" y="{}" text-anchor="middle" class="s">{:.0} ms</text>"#,
            base + 16.0,
            max * k as f64 / 4.0
        );
    }
    o.push_str("</svg>");
    o
}

/// The intent confusion matrix as a heat map (row-normalised shading, counts in cells).
fn heat_map(s: &Summary) -> String {
    let c = &s.overall.confusion;
    let n = c.labels.len();
    let cell = 30.0;
    let (left, top) = (150.0, 130.0);
    let size_w = left + cell * n as f64 + 90.0; // room for the last rotated column label
    let size_h = top + cell * n as f64 + 20.0;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{size_w}" height="{size_h}" viewBox="0 0 {size_w} {size_h}" role="img" aria-label="intent confusion matrix">"#
    );
    let _ = write!(
        o,
        r#"<text x="4" y="20" class="t">Intent confusion (rows: reference, columns: predicted)</text>"#
    );
    for (j, l) in c.labels.iter().enumerate() {
        let x = left + cell * j as f64 + cell / 2.0;
        let _ = write!(
            o,
            r#"<text transform="translate({x:.1},{}) rotate(-55)" class="s">{}</text>"#,
            top - 6.0,
            esc(l)
        );
    }
    for (i, (l, row)) in c.labels.iter().zip(&c.matrix).enumerate() {
        let y = top + cell * i as f64;
        let _ = write!(
            o,
            r#"<text x="{}" y="{:.1}" text-anchor="end" class="s">{}</text>"#,
            left - 6.0,
            y + cell / 2.0 + 4.0,
            esc(l)
        );
        let total: usize = row.iter().sum();
        for (j, v) in row.iter().enumerate() {
            let x = left + cell * j as f64;
            let share = if total > 0 {
                *v as f64 / total as f64
            } else {
                0.0
            };
            let fill = if i == j {
                format!("rgba(30,120,60,{:.3})", 0.08 + 0.92 * share)
            } else {
                format!(
                    "rgba(200,50,40,{:.3})",
                    if *v == 0 { 0.03 } else { 0.15 + 0.85 * share }
                )
            };
            let _ = write!(
                o,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{cell}" height="{cell}" fill="{fill}" stroke="#fff"><title>{} → {}: {v}</title></rect>"##,
                esc(l),
                esc(&c.labels[j])
            );
            if *v > 0 {
                let _ = write!(
                    o,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="s">{v}</text>"#,
                    x + cell / 2.0,
                    y + cell / 2.0 + 4.0
                );
            }
        }
    }
    o.push_str("</svg>");
    o
}

fn html(s: &Summary) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 14px; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
th {{ background: #f2f2f2; }}
.banner {{ background: #fff3cd; border: 2px solid #d39e00; padding: 0.8em 1em; font-weight: bold; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 1.5em; }}
svg text {{ font-size: 12px; fill: #222; }}
svg text.t {{ font-size: 14px; font-weight: bold; }}
svg text.s {{ font-size: 11px; }}
svg text.na {{ fill: #999; }}
.meta {{ color: #555; font-size: 14px; }}
</style></head><body>
"#,
        title = esc(&s.title)
    );
    let _ = writeln!(o, "<h1>{}</h1>", esc(&s.title));
    if s.synthetic {
        let _ = writeln!(o, r#"<p class="banner">{}</p>"#, esc(&s.label));
    }
    let _ = writeln!(
        o,
        r#"<p class="meta">manifest: <code>{}</code> · generated {}"#,
        esc(&s.manifest),
        esc(&s.generated_at)
    );
    if !s.machine.is_empty() {
        let _ = write!(o, " · machine: {}", esc(&s.machine));
    }
    if !s.command.is_empty() {
        let _ = write!(o, "<br>command: <code>{}</code>", esc(&s.command));
    }
    if s.elapsed_s > 0.0 {
        let _ = write!(o, " · run time {:.1} s", s.elapsed_s);
    }
    o.push_str("</p>\n<h2>Headline</h2>\n<table><tr>");
    for h in HEADLINE_HEADER.iter().chain(std::iter::once(&"RTF")) {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    o.push_str("</tr>\n");
    let mut rows = vec![("overall".to_string(), &s.overall)];
    for d in &s.per_dialect {
        rows.push((dialect_label(&d.dialect, d.name_zh.as_deref()), &d.metrics));
    }
    for (name, m) in &rows {
        let _ = write!(o, "<tr><td>{}</td>", esc(name));
        for c in headline_cells(m)
            .into_iter()
            .chain(std::iter::once(opt(m.rtf, 3)))
        {
            let _ = write!(o, "<td>{}</td>", esc(&c));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n<h2>Charts</h2>\n<div class=\"charts\">\n");
    let cer_rows: Vec<(String, Option<f64>)> =
        rows.iter().map(|(n, m)| (n.clone(), m.cer)).collect();
    let cer_max = cer_rows.iter().filter_map(|r| r.1).fold(1.0, f64::max);
    o.push_str(&bar_chart(
        "CER per dialect (lower is better)",
        &cer_rows,
        cer_max,
        "#c0392b",
    ));
    let int_rows: Vec<(String, Option<f64>)> = rows
        .iter()
        .map(|(n, m)| (n.clone(), m.intent_acc))
        .collect();
    o.push_str(&bar_chart(
        "Intent accuracy per dialect (higher is better)",
        &int_rows,
        1.0,
        "#2471a3",
    ));
    o.push_str(&histogram(
        "Final latency, end of audio → final transcript",
        &s.final_ms,
        "#7d3c98",
    ));
    o.push_str(&histogram(
        "First-partial latency",
        &s.first_partial_ms,
        "#148f77",
    ));
    if !s.overall.confusion.labels.is_empty() {
        o.push_str(&heat_map(s));
    }
    o.push_str("</div>\n");
    if !s.error_list.is_empty() {
        let _ = writeln!(
            o,
            "<h2>Item errors ({} in all; first {} listed)</h2>\n<ul>",
            s.overall.errors,
            s.error_list.len()
        );
        for e in &s.error_list {
            let _ = writeln!(
                o,
                "<li><code>{}</code> ({}): {}</li>",
                esc(&e.id),
                esc(e.dialect.as_deref().unwrap_or("unknown")),
                esc(&e.reason)
            );
        }
        o.push_str("</ul>\n");
    }
    o.push_str("<h2>Definitions</h2>\n<ul>\n");
    for line in DEFINITIONS.lines() {
        let _ = writeln!(o, "<li>{}</li>", esc(line.trim_start_matches("- ")));
    }
    o.push_str("</ul>\n");
    if s.synthetic {
        let _ = writeln!(o, r#"<p class="banner">{}</p>"#, esc(&s.label));
    }
    o.push_str("</body></html>\n");
    o
}

fn group_metrics<'s>(s: &'s Summary, code: &str) -> Option<&'s Metrics> {
    s.per_dialect
        .iter()
        .find(|d| d.dialect == code)
        .map(|d| &d.metrics)
}

/// What got better or worse from run `a` to run `b`, per metric and group (overall and
/// each dialect present in either), as a text table. Direction-aware: for CER, latency,
/// RTF and errors lower is better.
pub fn compare(a: &Summary, b: &Summary) -> String {
    let mut groups: Vec<(String, Option<&Metrics>, Option<&Metrics>)> =
        vec![("overall".to_string(), Some(&a.overall), Some(&b.overall))];
    let mut codes: Vec<&str> = a
        .per_dialect
        .iter()
        .chain(&b.per_dialect)
        .map(|d| d.dialect.as_str())
        .collect();
    codes.sort_by_key(|c| (crate::codes::dialect_rank(c), c.to_string()));
    codes.dedup();
    for code in codes {
        groups.push((
            code.to_string(),
            group_metrics(a, code),
            group_metrics(b, code),
        ));
    }
    let mut rows: Vec<[String; 6]> = Vec::new();
    let (mut better, mut worse) = (0, 0);
    for (group, ma, mb) in &groups {
        for def in METRICS {
            let va = ma.and_then(|m| (def.get)(m));
            let vb = mb.and_then(|m| (def.get)(m));
            if va.is_none() && vb.is_none() {
                continue;
            }
            let (change, verdict) = match (va, vb) {
                (Some(x), Some(y)) => {
                    let d = y - x;
                    if d.abs() < 1e-9 {
                        ("=".to_string(), "same")
                    } else {
                        let arrow = if d > 0.0 { "↑" } else { "↓" };
                        let good = (d > 0.0) == def.higher_better;
                        if good {
                            better += 1;
                        } else {
                            worse += 1;
                        }
                        (
                            format!("{arrow} {}", fmt_delta(d, def.kind)),
                            if good { "better" } else { "WORSE" },
                        )
                    }
                }
                (None, Some(_)) => ("new".to_string(), "n/a"),
                _ => ("gone".to_string(), "n/a"),
            };
            rows.push([
                def.name.to_string(),
                group.clone(),
                fmt_value(va, def.kind),
                fmt_value(vb, def.kind),
                change,
                verdict.to_string(),
            ]);
        }
    }
    let header = ["metric", "group", "A", "B", "change", "verdict"];
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "A: {} ({}){}",
        a.title,
        a.generated_at,
        if a.synthetic { " [synthetic]" } else { "" }
    );
    let _ = writeln!(
        out,
        "B: {} ({}){}",
        b.title,
        b.generated_at,
        if b.synthetic { " [synthetic]" } else { "" }
    );
    if a.synthetic || b.synthetic {
        let _ = writeln!(out, "note: {}", crate::metrics::SYNTHETIC_LABEL);
    }
    let _ = writeln!(
        out,
        "{better} better, {worse} worse (CER, latency, RTF and errors: lower is better)\n"
    );
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w.saturating_sub(c.chars().count());
            if (2..=4).contains(&i) {
                l.push_str(&" ".repeat(pad));
                l.push_str(c);
            } else {
                l.push_str(c);
                l.push_str(&" ".repeat(pad));
            }
            l.push_str("  ");
        }
        l.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(&header.map(String::from)));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{DialectMetrics, ReportMeta};

    fn sample(cer: f64, intent: f64, final_p50: f64, synthetic: bool) -> Summary {
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
                final_ms: Some(final_p50),
                first_partial_ms: Some(500.0),
                ..Default::default()
            },
            crate::Prediction {
                id: "b".into(),
                intent: Some("emergency".into()),
                ..Default::default()
            },
        ];
        let mut s = summarize_for_test(&m, &preds, synthetic);
        s.overall.cer = Some(cer);
        s.overall.intent_acc = Some(intent);
        s
    }

    fn summarize_for_test(
        m: &crate::Manifest,
        p: &[crate::Prediction],
        synthetic: bool,
    ) -> Summary {
        crate::summarize(
            m,
            p,
            ReportMeta {
                title: "测试 run".into(),
                synthetic,
                ..Default::default()
            },
        )
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
    fn heat_map_escapes_labels() {
        let mut s = sample(0.1, 0.1, 1.0, false);
        s.per_dialect.push(DialectMetrics {
            dialect: "<x>".into(),
            name_zh: None,
            metrics: Default::default(),
        });
        let h = html(&s);
        assert!(h.contains("&lt;x&gt;") && !h.contains("<x>"));
    }
}
