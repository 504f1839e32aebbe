//! The report's charts as inline SVG: bars per group, latency histograms, and the
//! intent confusion heat map. Styling comes from the page (`class="t"` titles,
//! `class="s"` small labels, `class="na"` missing values).

use std::fmt::Write as _;

use super::esc;
use crate::metrics::Confusion;

/// Where a chart's plot area lies horizontally.
#[derive(Clone, Copy)]
struct Span {
    left: f64,
    width: f64,
}

/// The opening `<svg>` tag (`width` × `height`, `label` for screen readers).
fn open(width: f64, height: f64, label: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{}">"#,
        esc(label)
    )
}

/// The chart's title, top left.
fn title(o: &mut String, text: &str) {
    let _ = write!(o, r#"<text x="4" y="20" class="t">{}</text>"#, esc(text));
}

/// A horizontal axis at height `y` under `span`, with five ticks from 0 to `max`
/// labelled by `tick`, `dy` below the axis.
fn x_axis(o: &mut String, span: Span, y: f64, dy: f64, max: f64, tick: fn(f64) -> String) {
    let Span { left, width } = span;
    let _ = write!(
        o,
        r##"<line x1="{left}" y1="{y}" x2="{}" y2="{y}" stroke="#888"/>"##,
        left + width
    );
    for k in 0..=4 {
        let x = left + width * k as f64 / 4.0;
        let _ = write!(
            o,
            r#"<text x="{x:.1}" y="{}" text-anchor="middle" class="s">{}</text>"#,
            y + dy,
            tick(max * k as f64 / 4.0)
        );
    }
}

/// A horizontal bar chart of values in [0, `max`], one row per group (`n/a` for a group
/// without a value).
pub(super) fn bar_chart(
    title_text: &str,
    rows: &[(String, Option<f64>)],
    max: f64,
    color: &str,
) -> String {
    let span = Span {
        left: 150.0,
        width: 320.0,
    };
    let row_h = 26.0;
    let h = 40.0 + row_h * rows.len() as f64 + 24.0;
    let mut o = open(span.left + span.width + 70.0, h, title_text);
    title(&mut o, title_text);
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 36.0 + row_h * i as f64;
        bar(&mut o, span, y, row_h, label, v.map(|v| (v, max)), color);
    }
    let axis_y = 36.0 + row_h * rows.len() as f64 + 4.0;
    x_axis(&mut o, span, axis_y, 14.0, max, |v| format!("{v:.2}"));
    o.push_str("</svg>");
    o
}

/// One row of a bar chart at height `y`: the label, then the bar and its value
/// (`value` = (value, scale maximum)) or `n/a`.
fn bar(
    o: &mut String,
    span: Span,
    y: f64,
    row_h: f64,
    label: &str,
    value: Option<(f64, f64)>,
    color: &str,
) {
    let left = span.left;
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
        left - 8.0,
        y + 16.0,
        esc(label)
    );
    let Some((v, max)) = value else {
        let _ = write!(
            o,
            r#"<text x="{left}" y="{}" class="na">n/a</text>"#,
            y + 16.0
        );
        return;
    };
    let bw = (v.clamp(0.0, max) / max * span.width).max(1.0);
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

/// Bins of a latency histogram.
const BINS: usize = 20;

/// Counts of `values` in [`BINS`] equal bins from 0 to `max` (the last bin holds `max`).
fn bin_counts(values: &[f64], max: f64) -> [usize; BINS] {
    let mut counts = [0usize; BINS];
    for v in values {
        let b = ((v / max) * BINS as f64).floor() as usize;
        counts[b.min(BINS - 1)] += 1;
    }
    counts
}

/// A histogram of latencies (ms), [`BINS`] equal bins from 0 to the largest value.
/// Values that are negative or not finite are left out.
pub(super) fn histogram(title_text: &str, values: &[f64], color: &str) -> String {
    let span = Span {
        left: 50.0,
        width: 380.0,
    };
    let (height, top) = (150.0, 32.0);
    let mut o = open(
        span.left + span.width + 20.0,
        top + height + 40.0,
        title_text,
    );
    title(&mut o, &format!("{title_text} (n = {})", values.len()));
    let vals: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .collect();
    if vals.is_empty() {
        let _ = write!(
            o,
            r#"<text x="{}" y="{}" class="na">no latency reported</text>"#,
            span.left,
            top + 40.0
        );
        o.push_str("</svg>");
        return o;
    }
    let max = vals.iter().copied().fold(0.0, f64::max).max(1.0);
    let counts = bin_counts(&vals, max);
    let cmax = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bw = span.width / BINS as f64;
    let base = top + height;
    for (i, c) in counts.iter().enumerate() {
        let bh = *c as f64 / cmax * height;
        let (lo, hi) = (
            max * i as f64 / BINS as f64,
            max * (i + 1) as f64 / BINS as f64,
        );
        let _ = write!(
            o,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="{color}"><title>{lo:.0}–{hi:.0} ms: {c}</title></rect>"#,
            span.left + bw * i as f64 + 1.0,
            base - bh,
            bw - 2.0
        );
    }
    x_axis(&mut o, span, base, 16.0, max, |v| format!("{v:.0} ms"));
    count_axis(&mut o, span.left, top, base, cmax as usize);
    o.push_str("</svg>");
    o
}

/// The vertical count axis of a histogram, from 0 at `base` up to `most` at `top`.
fn count_axis(o: &mut String, left: f64, top: f64, base: f64, most: usize) {
    let _ = write!(
        o,
        r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#888"/>"##
    );
    let x = left - 4.0;
    let _ = write!(
        o,
        r#"<text x="{x}" y="{}" text-anchor="end" class="s">{most}</text>"#,
        top + 10.0
    );
    let _ = write!(
        o,
        r#"<text x="{x}" y="{base}" text-anchor="end" class="s">0</text>"#
    );
}

/// Side of one heat-map cell.
const CELL: f64 = 30.0;

/// The intent confusion matrix as a heat map: row-normalised shading (green on the
/// diagonal, red off it), counts in the cells.
pub(super) fn heat_map(c: &Confusion) -> String {
    let n = c.labels.len() as f64;
    let (left, top) = (150.0, 130.0);
    let width = left + CELL * n + 90.0; // room for the last rotated column label
    let mut o = open(width, top + CELL * n + 20.0, "intent confusion matrix");
    title(
        &mut o,
        "Intent confusion (rows: reference, columns: predicted)",
    );
    for (j, l) in c.labels.iter().enumerate() {
        let x = left + CELL * j as f64 + CELL / 2.0;
        let _ = write!(
            o,
            r#"<text transform="translate({x:.1},{}) rotate(-55)" class="s">{}</text>"#,
            top - 6.0,
            esc(l)
        );
    }
    for (i, row) in c.matrix.iter().enumerate().take(c.labels.len()) {
        heat_row(&mut o, c, i, row, (left, top + CELL * i as f64));
    }
    o.push_str("</svg>");
    o
}

/// Row `i` of the heat map (reference label `c.labels[i]`), its cells from `(x0, y)`.
fn heat_row(o: &mut String, c: &Confusion, i: usize, row: &[usize], (x0, y): (f64, f64)) {
    let label = esc(&c.labels[i]);
    let _ = write!(
        o,
        r#"<text x="{}" y="{:.1}" text-anchor="end" class="s">{label}</text>"#,
        x0 - 6.0,
        y + CELL / 2.0 + 4.0
    );
    let total: usize = row.iter().sum();
    for (j, (v, predicted)) in row.iter().zip(&c.labels).enumerate() {
        let x = x0 + CELL * j as f64;
        let fill = cell_fill(i == j, *v, total);
        let _ = write!(
            o,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{CELL}" height="{CELL}" fill="{fill}" stroke="#fff"><title>{label} → {}: {v}</title></rect>"##,
            esc(predicted)
        );
        if *v > 0 {
            let _ = write!(
                o,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="s">{v}</text>"#,
                x + CELL / 2.0,
                y + CELL / 2.0 + 4.0
            );
        }
    }
}

/// A cell's colour: green for agreement, red for confusion, deeper as the cell takes a
/// larger share of its row's `total`.
fn cell_fill(diagonal: bool, count: usize, total: usize) -> String {
    let share = if total > 0 {
        count as f64 / total as f64
    } else {
        0.0
    };
    if diagonal {
        format!("rgba(30,120,60,{:.3})", 0.08 + 0.92 * share)
    } else if count == 0 {
        "rgba(200,50,40,0.030)".to_string()
    } else {
        format!("rgba(200,50,40,{:.3})", 0.15 + 0.85 * share)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_maximum_and_missing_values_say_n_a() {
        let rows = vec![("a".to_string(), Some(0.5)), ("b".to_string(), None)];
        let svg = bar_chart("t", &rows, 1.0, "#000");
        assert!(
            svg.contains(r#"width="160.0""#),
            "half of the 320 px plot: {svg}"
        );
        assert!(svg.contains(r#"class="na">n/a</text>"#), "{svg}");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
    }

    #[test]
    fn histogram_counts_every_valid_latency_once() {
        let counts = bin_counts(&[0.0, 10.0, 99.0, 100.0], 100.0);
        assert_eq!(counts.iter().sum::<usize>(), 4);
        assert_eq!((counts[0], counts[2], counts[BINS - 1]), (1, 1, 2));
        let svg = histogram("lat", &[f64::NAN, -1.0], "#000");
        assert!(svg.contains("no latency reported"), "{svg}");
    }

    #[test]
    fn heat_map_cells_deepen_with_their_share_of_the_row() {
        assert_eq!(cell_fill(true, 3, 3), "rgba(30,120,60,1.000)");
        assert_eq!(cell_fill(false, 0, 3), "rgba(200,50,40,0.030)");
        assert_eq!(cell_fill(false, 0, 0), "rgba(200,50,40,0.030)");
        assert_eq!(cell_fill(true, 1, 4), "rgba(30,120,60,0.310)");
        assert_eq!(cell_fill(false, 2, 2), "rgba(200,50,40,1.000)");
    }
}
