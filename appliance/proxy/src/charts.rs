//! The console's charts, drawn on the server as SVG (no script library, nothing from a CDN):
//! decisions per minute stacked by decision, ranked bars (rules, agents) and the drift
//! histogram. Every mark carries `data-*` attributes with the numbers it draws, and a `<title>`
//! tooltip; every text from the receipts is XML-escaped.

use std::fmt::Write;

use aarmor_engine::overview::{MinuteCounts, Ranked};

/// Decisions in stacking order (bottom first) with their colours.
pub const DECISION_COLOURS: [(&str, &str); 5] = [
    ("ALLOW", "#2e7d32"),
    ("MODIFY", "#1565c0"),
    ("DEFER", "#6a1b9a"),
    ("STEP_UP", "#ef6c00"),
    ("DENY", "#c62828"),
];

/// `s` with the five XML special characters escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not allowed in XML: a name holding one would break the whole chart.
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `s`, with an ellipsis when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn open(svg: &mut String, class: &str, width: u32, height: u32, label: &str) {
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart {class}" viewBox="0 0 {width} {height}" role="img" aria-label="{}">"#,
        escape(label)
    );
}

/// Decisions per minute, one bar per minute stacked by decision.
pub fn decisions_per_minute(per_minute: &[MinuteCounts]) -> String {
    const W: f64 = 720.0;
    const H: f64 = 230.0;
    const LEFT: f64 = 44.0;
    const TOP: f64 = 12.0;
    const BOTTOM: f64 = 190.0;
    let plot_w = W - LEFT - 8.0;
    let max = per_minute
        .iter()
        .map(|m| m.decisions.values().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = plot_w / per_minute.len().max(1) as f64;
    let mut svg = String::new();
    open(
        &mut svg,
        "decisions-per-minute",
        W as u32,
        H as u32,
        "Decisions per minute by decision, last hour",
    );
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{BOTTOM}" x2="{}" y2="{BOTTOM}" stroke="#888"/><text x="{}" y="{}" text-anchor="end" font-size="11" class="y-max">{max}</text><text x="{}" y="{BOTTOM}" text-anchor="end" font-size="11">0</text>"##,
        W - 8.0,
        LEFT - 4.0,
        TOP + 8.0,
        LEFT - 4.0
    );
    for (i, m) in per_minute.iter().enumerate() {
        let x = LEFT + i as f64 * slot + 1.0;
        let mut y = BOTTOM;
        let label = m.minute.get(11..16).unwrap_or(&m.minute);
        for (decision, colour) in DECISION_COLOURS {
            let count = m.decisions.get(decision).copied().unwrap_or(0);
            if count == 0 {
                continue;
            }
            let h = (BOTTOM - TOP) * count as f64 / max as f64;
            y -= h;
            let _ = write!(
                svg,
                r#"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{colour}" data-minute="{}" data-decision="{decision}" data-count="{count}"><title>{label} UTC {decision}: {count}</title></rect>"#,
                (slot - 2.0).max(1.0),
                escape(&m.minute),
            );
        }
        let last = i + 1 == per_minute.len();
        if i % 10 == 0 || last {
            let (tx, anchor) = if last {
                (x + slot - 2.0, "end")
            } else {
                (x, "start")
            };
            let _ = write!(
                svg,
                r##"<text x="{tx:.1}" y="{}" font-size="11" fill="#555" text-anchor="{anchor}">{}</text>"##,
                BOTTOM + 14.0,
                escape(label)
            );
        }
    }
    let mut lx = LEFT;
    for (decision, colour) in DECISION_COLOURS {
        let _ = write!(
            svg,
            r#"<rect x="{lx}" y="{}" width="10" height="10" fill="{colour}"/><text x="{}" y="{}" font-size="11">{decision}</text>"#,
            H - 14.0,
            lx + 14.0,
            H - 5.0
        );
        lx += 90.0;
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars, one per ranked name, longest first.
pub fn ranked_bars(class: &str, label: &str, items: &[Ranked], colour: &str) -> String {
    const W: f64 = 480.0;
    const ROW: f64 = 22.0;
    const BAR_X: f64 = 200.0;
    let height = (ROW * items.len().max(1) as f64 + 8.0) as u32;
    let max = items.iter().map(|r| r.count).max().unwrap_or(0).max(1);
    let mut svg = String::new();
    open(&mut svg, class, W as u32, height, label);
    if items.is_empty() {
        svg.push_str(r##"<text x="4" y="16" font-size="12" fill="#555">No decisions in the last hour</text>"##);
    }
    for (i, r) in items.iter().enumerate() {
        let y = 4.0 + i as f64 * ROW;
        let w = (W - BAR_X - 50.0) * r.count as f64 / max as f64;
        let _ = write!(
            svg,
            r##"<g class="row" data-name="{name}" data-count="{count}"><title>{name}: {count}</title><text x="{}" y="{}" font-size="12" text-anchor="end">{short}</text><rect x="{BAR_X}" y="{y}" width="{w:.1}" height="{}" fill="{colour}"/><text x="{:.1}" y="{}" font-size="12" fill="#333">{count}</text></g>"##,
            BAR_X - 6.0,
            y + 14.0,
            ROW - 6.0,
            BAR_X + w + 4.0,
            y + 14.0,
            name = escape(&r.name),
            short = escape(&cut(&r.name, 30)),
            count = r.count,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The drift histogram: one bar per bucket of width `1 / buckets.len()`, the last open-ended.
pub fn drift_histogram(buckets: &[u64], unknown: u64) -> String {
    const W: f64 = 480.0;
    const H: f64 = 200.0;
    const LEFT: f64 = 36.0;
    const TOP: f64 = 12.0;
    const BOTTOM: f64 = 160.0;
    let n = buckets.len().max(1);
    let slot = (W - LEFT - 8.0) / n as f64;
    let max = buckets.iter().copied().max().unwrap_or(0).max(1);
    let mut svg = String::new();
    open(
        &mut svg,
        "drift-histogram",
        W as u32,
        H as u32,
        "Intent drift of the last hour's decisions",
    );
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{BOTTOM}" x2="{}" y2="{BOTTOM}" stroke="#888"/><text x="{}" y="{}" text-anchor="end" font-size="11">{max}</text>"##,
        W - 8.0,
        LEFT - 4.0,
        TOP + 8.0
    );
    for (i, count) in buckets.iter().enumerate() {
        let lo = i as f64 / n as f64;
        let range = if i + 1 == n {
            format!("≥{lo:.1}")
        } else {
            format!("{lo:.1}–{:.1}", (i + 1) as f64 / n as f64)
        };
        let x = LEFT + i as f64 * slot + 2.0;
        let h = (BOTTOM - TOP) * *count as f64 / max as f64;
        // Low drift is on task (green); high drift strays from the user's request (red).
        let colour = match i * 10 / n {
            0..=3 => "#2e7d32",
            4..=6 => "#ef6c00",
            _ => "#c62828",
        };
        let _ = write!(
            svg,
            r##"<rect class="bucket" x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{colour}" data-range="{range}" data-count="{count}"><title>drift {range}: {count}</title></rect><text x="{:.1}" y="{}" font-size="10" fill="#555" text-anchor="middle">{range}</text>"##,
            BOTTOM - h,
            slot - 4.0,
            x + (slot - 4.0) / 2.0,
            BOTTOM + 14.0,
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{LEFT}" y="{}" font-size="11" fill="#555" class="drift-unknown" data-count="{unknown}">{unknown} decision(s) without drift (no model-based rule needed it)</text>"##,
        H - 8.0
    );
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_names_and_draws_one_mark_per_count() {
        let items = vec![
            Ranked {
                name: "<script>alert(1)</script>".into(),
                count: 3,
            },
            Ranked {
                name: "a&b".into(),
                count: 1,
            },
        ];
        let svg = ranked_bars("top-rules", "Top rules", &items, "#333");
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains(r#"data-name="a&amp;b" data-count="1""#));
        let mut m = MinuteCounts {
            minute: "2026-12-05T10:30".into(),
            ..Default::default()
        };
        m.decisions.insert("DENY".into(), 2);
        m.decisions.insert("ALLOW".into(), 5);
        let svg = decisions_per_minute(&[m]);
        assert_eq!(svg.matches(r#"class="bar""#).count(), 2);
        assert!(svg.contains(r#"data-decision="DENY" data-count="2""#));
        let svg = drift_histogram(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 4], 2);
        assert_eq!(svg.matches(r#"class="bucket""#).count(), 10);
        assert!(svg.contains(r#"data-range="≥0.9" data-count="4""#));
    }
}
