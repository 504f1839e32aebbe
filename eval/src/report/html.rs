//! `report.html`: one self-contained page (inline style and SVG charts, no scripts, no
//! links to fetch), so that it opens the same on a machine without a network.

use std::fmt::Write as _;

use super::svg;
use super::{
    errors_heading, esc, headline_cells, headline_groups, Group, DEFINITIONS, HEADLINE_HEADER,
};
use crate::metrics::Summary;

/// The page's style: CJK fonts first, tables and charts side by side.
const STYLE: &str = r#"body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; }
.banner { background: #fff3cd; border: 2px solid #d39e00; padding: 0.8em 1em; font-weight: bold; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5em; }
svg text { font-size: 12px; fill: #222; }
svg text.t { font-size: 14px; font-weight: bold; }
svg text.s { font-size: 11px; }
svg text.na { fill: #999; }
.meta { color: #555; font-size: 14px; }
"#;

/// The whole `report.html`.
pub(super) fn report(s: &Summary) -> String {
    let title = esc(&s.title);
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
    );
    o.push_str(&synthetic_banner(s));
    o.push_str(&run_facts(s));
    let groups = headline_groups(s);
    o.push_str(&headline_table(&groups));
    o.push_str(&charts(s, &groups));
    if !s.error_list.is_empty() {
        o.push_str(&error_list(s));
    }
    o.push_str(&definitions());
    o.push_str(&synthetic_banner(s));
    o.push_str("</body></html>\n");
    o
}

/// The warning that the set is synthetic (empty for a real set).
fn synthetic_banner(s: &Summary) -> String {
    if s.synthetic {
        format!("<p class=\"banner\">{}</p>\n", esc(&s.label))
    } else {
        String::new()
    }
}

/// The line under the title: manifest, date, and what is known of machine, command and
/// run time.
fn run_facts(s: &Summary) -> String {
    let mut o = format!(
        "<p class=\"meta\">manifest: <code>{}</code> · generated {}\n",
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
    o.push_str("</p>\n");
    o
}

/// `overall`, `粤语 yue`, or the bare code when a dialect has no Chinese name (plain
/// text: also the charts' row labels).
fn group_label(g: &Group) -> String {
    match (g.code, g.name_zh) {
        (None, _) => "overall".to_string(),
        (Some(code), Some(zh)) => format!("{zh} {code}"),
        (Some(code), None) => code.to_string(),
    }
}

fn headline_table(groups: &[Group]) -> String {
    let mut o = String::from("<h2>Headline</h2>\n<table><tr>");
    for h in HEADLINE_HEADER {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    o.push_str("</tr>\n");
    for g in groups {
        let _ = write!(o, "<tr><td>{}</td>", esc(&group_label(g)));
        for c in headline_cells(g.metrics) {
            let _ = write!(o, "<td>{}</td>", esc(&c));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
    o
}

/// CER and intent accuracy per group, the two latency histograms, and the confusion
/// heat map when any item has a reference intent.
fn charts(s: &Summary, groups: &[Group]) -> String {
    let bars = |get: fn(&crate::Metrics) -> Option<f64>| -> Vec<(String, Option<f64>)> {
        groups
            .iter()
            .map(|g| (group_label(g), get(g.metrics)))
            .collect()
    };
    let cer = bars(|m| m.cer);
    let cer_max = cer.iter().filter_map(|r| r.1).fold(1.0, f64::max);
    let mut o = String::from("<h2>Charts</h2>\n<div class=\"charts\">\n");
    o.push_str(&svg::bar_chart(
        "CER per dialect (lower is better)",
        &cer,
        cer_max,
        "#c0392b",
    ));
    o.push_str(&svg::bar_chart(
        "Intent accuracy per dialect (higher is better)",
        &bars(|m| m.intent_acc),
        1.0,
        "#2471a3",
    ));
    o.push_str(&svg::histogram(
        "Final latency, end of audio → final transcript",
        &s.final_ms,
        "#7d3c98",
    ));
    o.push_str(&svg::histogram(
        "First-partial latency",
        &s.first_partial_ms,
        "#148f77",
    ));
    if !s.overall.confusion.labels.is_empty() {
        o.push_str(&svg::heat_map(&s.overall.confusion));
    }
    o.push_str("</div>\n");
    o
}

fn error_list(s: &Summary) -> String {
    let mut o = format!("<h2>{}</h2>\n<ul>\n", errors_heading(s));
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
    o
}

fn definitions() -> String {
    let mut o = String::from("<h2>Definitions</h2>\n<ul>\n");
    for line in DEFINITIONS.lines() {
        let _ = writeln!(o, "<li>{}</li>", esc(line.trim_start_matches("- ")));
    }
    o.push_str("</ul>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::*;
    use crate::metrics::{DialectMetrics, ErrorEntry};

    #[test]
    fn labels_and_reasons_are_escaped() {
        let mut s = sample(0.1, 0.1, 1.0, false);
        s.per_dialect.push(DialectMetrics {
            dialect: "<x>".into(),
            name_zh: None,
            metrics: Default::default(),
        });
        s.error_list.push(ErrorEntry {
            id: "e&1".into(),
            dialect: None,
            reason: "bad <b>".into(),
        });
        let h = report(&s);
        assert!(
            h.contains("&lt;x&gt;") && !h.contains("<x>"),
            "dialect label"
        );
        assert!(
            h.contains("<code>e&amp;1</code> (unknown): bad &lt;b&gt;"),
            "{h}"
        );
    }

    #[test]
    fn the_headline_table_has_as_many_cells_as_columns() {
        let s = sample(0.1, 0.1, 1.0, false);
        let table = headline_table(&headline_groups(&s));
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("<tr>")).collect();
        assert_eq!(rows.len(), 3, "overall and two dialects:\n{table}");
        for r in rows {
            assert_eq!(r.matches("<td>").count(), HEADLINE_HEADER.len(), "{r}");
        }
    }
}
