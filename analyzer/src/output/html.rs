//! `--format html` and `report.html`: one self-contained page (inline CSS and SVG, no scripts,
//! no external assets) with an hourly traffic chart and a top-pages chart.

use super::{country_label, pages, percent, plain_int, users, visible, Style};
use crate::report::Report;
use std::fmt::Write;

/// The page's cell style: markup escaped, plain counts.
const CELLS: Style = Style {
    text: escape,
    int: plain_int,
};

/// How many pages the top-pages chart shows.
pub const CHART_PAGES: usize = 10;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in visible(s).chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}\
table{border-collapse:collapse;margin:.5em 0}\
th,td{padding:.2em .7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
svg{max-width:100%;height:auto}svg text{font:11px system-ui,sans-serif;fill:#444}\
.bar{fill:#3b6fb6}.grid{stroke:#ddd}";

/// One table: `cells` are already escaped; `numeric` marks right-aligned columns.
fn table(out: &mut String, headers: &[&str], numeric: &[bool], rows: &[Vec<String>]) {
    out.push_str("<table>\n<tr>");
    for (h, &n) in headers.iter().zip(numeric) {
        let class = if n { " class=\"n\"" } else { "" };
        let _ = write!(out, "<th{class}>{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for (cell, &n) in row.iter().zip(numeric) {
            let class = if n { " class=\"n\"" } else { "" };
            let _ = write!(out, "<td{class}>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// Vertical bars for the 24 hours.
fn hourly_chart(out: &mut String, hourly: &[u64; 24]) {
    let (w, h, left, bottom, top) = (720.0, 220.0, 40.0, 24.0, 12.0);
    let max = hourly.iter().copied().max().unwrap_or(0).max(1) as f64;
    let plot_h = h - bottom - top;
    let slot = (w - left) / 24.0;
    let _ = writeln!(
        out,
        "<svg id=\"hourly-chart\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"Hits per hour\">"
    );
    let _ = writeln!(
        out,
        "<line class=\"grid\" x1=\"{left}\" y1=\"{y}\" x2=\"{w}\" y2=\"{y}\"/><text x=\"{x}\" y=\"{ty}\" text-anchor=\"end\">{max}</text><text x=\"{x}\" y=\"{by}\" text-anchor=\"end\">0</text>",
        y = top,
        x = left - 4.0,
        ty = top + 4.0,
        by = h - bottom,
        max = max as u64
    );
    for (hour, &n) in hourly.iter().enumerate() {
        let bar_h = n as f64 / max * plot_h;
        let x = left + hour as f64 * slot + 2.0;
        let y = h - bottom - bar_h;
        let _ = writeln!(
            out,
            "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bar_h:.1}\"><title>{hour:02}:00 {n} hits</title></rect><text x=\"{tx:.1}\" y=\"{ly}\" text-anchor=\"middle\">{hour:02}</text>",
            bw = slot - 4.0,
            tx = x + (slot - 4.0) / 2.0,
            ly = h - 8.0,
        );
    }
    out.push_str("</svg>\n");
}

/// Horizontal bars for the top pages.
fn pages_chart(out: &mut String, r: &Report) {
    let pages: Vec<_> = r.pages.iter().take(CHART_PAGES).collect();
    let (w, row, label_w) = (720.0, 22.0, 260.0);
    let h = (pages.len().max(1) as f64) * row + 8.0;
    let max = pages.iter().map(|p| p.hits).max().unwrap_or(0).max(1) as f64;
    let _ = writeln!(
        out,
        "<svg id=\"pages-chart\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"Top pages by hits\">"
    );
    for (i, p) in pages.iter().enumerate() {
        let y = i as f64 * row + 4.0;
        let bar_w = p.hits as f64 / max * (w - label_w - 60.0);
        // Long paths are cut in the label; the tooltip and the table keep them whole.
        let mut label: String = p.path.chars().take(40).collect();
        if p.path.chars().count() > 40 {
            label.push('…');
        }
        let _ = writeln!(
            out,
            "<text x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}</text><rect class=\"bar\" x=\"{label_w}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{bh:.1}\"><title>{path}: {hits} hits</title></rect><text x=\"{nx:.1}\" y=\"{ty:.1}\">{hits}</text>",
            lx = label_w - 6.0,
            ty = y + 14.0,
            bh = row - 6.0,
            nx = label_w + bar_w + 4.0,
            label = escape(&label),
            path = escape(&p.path),
            hits = p.hits,
        );
    }
    out.push_str("</svg>\n");
}

/// The report as one HTML page.
pub fn render(r: &Report) -> String {
    let s = &r.summary;
    let title = format!("Page-hit report for {} ({})", r.date, r.tz);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = escape(&title)
    );

    out.push_str("<h2>Summary</h2>\n");
    let bots = if s.bots_included {
        "bots (included)"
    } else {
        "bots (left out)"
    };
    let partitions: Vec<String> = s.partitions.iter().map(|p| format!("dt={p}")).collect();
    let rows: Vec<Vec<String>> = [
        ("hits", s.hits.to_string()),
        ("users", s.users.to_string()),
        ("visitors", s.visitors.to_string()),
        ("sessions", s.sessions.to_string()),
        ("bounce rate", percent(s.bounce_rate)),
        (bots, s.bots.to_string()),
        ("duplicates", s.duplicates.to_string()),
        ("malformed rows", s.malformed_rows.to_string()),
        ("files", format!("{} ({})", s.files, partitions.join(", "))),
    ]
    .into_iter()
    .map(|(k, v)| vec![escape(k), escape(&v)])
    .collect();
    table(&mut out, &["metric", "value"], &[false, true], &rows);

    out.push_str("<h2>Hits per hour</h2>\n");
    hourly_chart(&mut out, &r.hourly);

    out.push_str("<h2>Top pages</h2>\n");
    pages_chart(&mut out, r);

    out.push_str("<h2>Pages</h2>\n");
    let rows = pages(r, usize::MAX, CELLS).rows;
    let mut numeric = vec![false];
    numeric.extend([true; 9]);
    table(
        &mut out,
        &[
            "path", "hits", "users", "visitors", "share", "entries", "exits", "bounces", "4xx",
            "5xx",
        ],
        &numeric,
        &rows,
    );

    out.push_str("<h2>Users</h2>\n");
    let rows = users(r, usize::MAX, CELLS).rows;
    table(
        &mut out,
        &[
            "user",
            "hits",
            "pages",
            "sessions",
            "first seen",
            "last seen",
            "top page",
        ],
        &[false, true, true, true, false, false, false],
        &rows,
    );

    out.push_str("<h2>Top referrer hosts</h2>\n");
    let rows: Vec<Vec<String>> = s
        .referrers
        .iter()
        .map(|x| vec![escape(&x.host), x.hits.to_string()])
        .collect();
    table(&mut out, &["host", "hits"], &[false, true], &rows);

    out.push_str("<h2>Countries</h2>\n");
    let rows: Vec<Vec<String>> = s
        .countries
        .iter()
        .map(|x| vec![escape(country_label(&x.country)), x.hits.to_string()])
        .collect();
    table(&mut out, &["country", "hits"], &[false, true], &rows);

    out.push_str("<h2>Status classes</h2>\n");
    let c = &s.status_classes;
    let rows: Vec<Vec<String>> = [
        ("1xx", c.c1xx),
        ("2xx", c.c2xx),
        ("3xx", c.c3xx),
        ("4xx", c.c4xx),
        ("5xx", c.c5xx),
    ]
    .into_iter()
    .map(|(k, v)| vec![k.to_string(), v.to_string()])
    .collect();
    table(&mut out, &["class", "hits"], &[false, true], &rows);

    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
