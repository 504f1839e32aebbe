//! `report.md`, and the headline table that `xiaoan eval` prints and the README quotes.

use std::fmt::Write as _;

use super::{errors_heading, headline_cells, headline_groups, Group, DEFINITIONS, HEADLINE_HEADER};
use crate::metrics::{Confusion, Summary};

/// The headline table in Markdown (also what the README quotes).
pub fn headline_markdown(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", HEADLINE_HEADER.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(HEADLINE_HEADER.len()));
    for g in headline_groups(s) {
        let cells = headline_cells(g.metrics).join(" | ");
        let _ = writeln!(out, "| {} | {cells} |", group_label(&g));
    }
    out
}

/// `**overall**`, `粤语 \`yue\``, or the bare code when a dialect has no Chinese name.
fn group_label(g: &Group) -> String {
    match (g.code, g.name_zh) {
        (None, _) => "**overall**".to_string(),
        (Some(code), Some(zh)) => format!("{zh} `{code}`"),
        (Some(code), None) => format!("`{code}`"),
    }
}

/// The whole `report.md`.
pub(super) fn report(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", s.title);
    if s.synthetic {
        let _ = writeln!(out, "> **{}**\n", s.label);
    }
    out.push_str(&run_facts(s));
    let _ = writeln!(out, "\n## Headline\n");
    out.push_str(&headline_markdown(s));
    if !s.overall.confusion.labels.is_empty() {
        out.push_str(&confusion_table(&s.overall.confusion));
    }
    if !s.error_list.is_empty() {
        out.push_str(&error_list(s));
    }
    let _ = writeln!(out, "\n## Definitions\n\n{DEFINITIONS}");
    if s.synthetic {
        let _ = writeln!(out, "\n> {}", s.label);
    }
    out
}

/// The list under the title: manifest, date, and what is known of machine, command and
/// run time.
fn run_facts(s: &Summary) -> String {
    let mut out = String::new();
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
    out
}

/// The intent confusion matrix as a table, `·` for zero.
fn confusion_table(c: &Confusion) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Intent confusion (overall; rows = reference, columns = predicted)\n"
    );
    let _ = writeln!(out, "| reference \\ predicted | {} |", c.labels.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(c.labels.len() + 1));
    for (label, row) in c.labels.iter().zip(&c.matrix) {
        let cells: Vec<String> = row
            .iter()
            .map(|n| match n {
                0 => "·".to_string(),
                n => n.to_string(),
            })
            .collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    }
    out
}

/// The listed item errors with their dialect and reason.
fn error_list(s: &Summary) -> String {
    let mut out = format!("\n## {}\n\n", errors_heading(s));
    for e in &s.error_list {
        let dialect = e.dialect.as_deref().unwrap_or("unknown");
        let _ = writeln!(out, "- `{}` ({dialect}): {}", e.id, e.reason);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::*;

    #[test]
    fn the_headline_has_one_row_per_group_under_a_full_header() {
        let s = sample(0.25, 0.5, 180.0, false);
        let table = headline_markdown(&s);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines.len(),
            2 + 3,
            "header, rule, overall, cmn, yue:\n{table}"
        );
        let columns = |l: &str| l.matches('|').count();
        assert!(
            lines.iter().all(|l| columns(l) == columns(lines[0])),
            "{table}"
        );
        assert!(
            lines[2].starts_with("| **overall** | 2 | 0 | 0.250 |"),
            "{table}"
        );
        assert!(
            lines[4].starts_with("| 粤语 `yue` | 1 | 0 | 0.333 |"),
            "{table}"
        );
    }

    #[test]
    fn confusion_rows_are_references_and_zeros_are_dots() {
        let s = sample(0.1, 0.5, 180.0, false);
        let md = report(&s);
        assert!(
            md.contains("| reference \\ predicted | service.query | emergency |"),
            "{md}"
        );
        assert!(md.contains("| service.query | · | 1 |"), "{md}");
        assert!(md.contains("| emergency | · | 1 |"), "{md}");
    }
}
