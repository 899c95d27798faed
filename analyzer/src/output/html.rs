//! `--format html` and `report.html`: a one-page dashboard in one self-contained file (inline
//! CSS and SVG; no scripts, fonts or other assets, so it opens offline and from an S3 link).
//!
//! The page shows the top rows of each list ([`PAGES_SHOWN`], [`USERS_SHOWN`], [`ROWS_SHOWN`])
//! and says where the rest is, so it stays small whatever the period: a day with millions of
//! distinct paths still gives a page of a few hundred kilobytes at most.

use super::{
    browsers, campaigns, compared_with, countries, daily, devices, events, grouped, headlines,
    hourly, os, pages, read_rows, referrers, sources, status, title, users, Section, Style, Trend,
};
use crate::report::Report;
use std::fmt::Write;

/// Pages the dashboard shows (the full list is in `pages.csv`).
pub const PAGES_SHOWN: usize = 20;
/// Signed-in users the dashboard shows (the full list is in `users.csv`).
pub const USERS_SHOWN: usize = 20;
/// Rows of every other list the dashboard shows (the full lists are in `summary.json`).
pub const ROWS_SHOWN: usize = 10;

/// Escapes text for HTML element content and quoted attribute values; characters that would
/// hide or reorder text (control, format, line and paragraph separators) become visible escapes
/// first ([`pagehit::rules::visible_text`]).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in pagehit::rules::visible_text(s).chars() {
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

/// The dashboard's cell style: markup escaped, counts with thousands separators.
const CELLS: Style = Style {
    text: escape,
    int: grouped,
};

/// The report's stylesheet, shared with the dashboard server's pages.
// Colours meet WCAG AA (4.5:1) for text: muted #57606a is 6.4:1 on white and 6.0:1 on the page
// background, green #1a7f37 5.1:1, red #cf222e 5.4:1, text on a row's bar 12.8:1; the chart's
// blue bars are 5.2:1 against white.
pub const CSS: &str = "\
:root{--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--bg:#f6f8fa;--panel:#fff;--accent:#0969da;\
--bar:#dbe9fb;--good:#1a7f37;--bad:#cf222e}\
*{box-sizing:border-box}\
body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);\
background:var(--bg)}\
header{padding:1.25rem 1.5rem 0}h1{font-size:1.35rem;margin:0}\
.sub{color:var(--muted);margin:.2rem 0 0}\
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,21rem),1fr));gap:1rem;\
padding:1rem 1.5rem}\
.wide{grid-column:1/-1}@media (min-width:46rem){.span2{grid-column:span 2}}\
.panel{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:.9rem 1rem;\
min-width:0}\
.panel h2{font-size:1rem;margin:0 0 .5rem}\
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(9.5rem,1fr));gap:1rem;margin:0}\
.card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem}\
.card dt{color:var(--muted);font-size:.78rem;font-weight:600;text-transform:uppercase;\
letter-spacing:.04em}\
.card dd{margin:0}.card .v{font-size:1.75rem;font-weight:600;font-variant-numeric:tabular-nums}\
.card .d{font-weight:600}.card .p{color:var(--muted);font-size:.85rem}\
.good{color:var(--good)}.bad{color:var(--bad)}.flat{color:var(--muted)}\
.scroll{overflow-x:auto}\
table{border-collapse:collapse;width:100%}\
th,td{padding:.28rem .5rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}\
thead th{color:var(--muted);font-size:.72rem;font-weight:600;text-transform:uppercase;\
letter-spacing:.04em;white-space:nowrap}\
tbody th{font-weight:400}\
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
.name{overflow-wrap:anywhere;min-width:7rem;\
background:linear-gradient(90deg,var(--bar) var(--w,0%),transparent var(--w,0%)) no-repeat}\
.more,.empty{color:var(--muted);font-size:.85rem;margin:.5rem 0 0}\
.warn{color:var(--bad);font-weight:600}\
details{margin-top:.5rem}summary{color:var(--muted);cursor:pointer}\
svg{display:block;width:100%;height:auto}\
svg text{font-size:12px;fill:#57606a}.b{fill:#0969da}.g{stroke:#d0d7de}\
footer{color:var(--muted);font-size:.85rem;padding:0 1.5rem 1.5rem}\
@media (max-width:40rem){header,main,footer{padding-left:.6rem;padding-right:.6rem}}";

/// The report as one HTML page.
pub fn render(r: &Report) -> String {
    let title = escape(&title(r));
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<header>\n<h1>{title}</h1>\n"
    );
    let bots = if r.summary.bots_included {
        "bots included"
    } else {
        "bots left out"
    };
    let mut sub = vec![bots.to_string()];
    if let Some(compared) = compared_with(r) {
        sub.insert(0, compared);
    }
    if let Some(filtered) = super::filtered_by(r) {
        sub.insert(0, filtered);
    }
    let _ = writeln!(
        out,
        "<p class=\"sub\">{}</p>\n</header>",
        escape(&sub.join(" · "))
    );
    out.push_str("<main>\n");

    cards(&mut out, r);
    if r.from == r.to {
        hourly_chart(&mut out, r);
    } else {
        daily_chart(&mut out, r);
    }

    const PAGES_CSV: &str = "pages.csv";
    const USERS_CSV: &str = "users.csv";
    const SUMMARY_JSON: &str = "summary.json";
    panel(
        &mut out,
        &pages(r, PAGES_SHOWN, CELLS),
        PAGES_CSV,
        Width::Full,
    );
    // Three panels to a row on a laptop: the two five- and four-column lists take two places,
    // and what was read fills the last one.
    for (s, width) in [
        (sources(r, ROWS_SHOWN, CELLS), Width::One),
        (campaigns(r, ROWS_SHOWN, CELLS), Width::Two),
        (devices(r, ROWS_SHOWN, CELLS), Width::One),
        (browsers(r, ROWS_SHOWN, CELLS), Width::One),
        (os(r, ROWS_SHOWN, CELLS), Width::One),
        (countries(r, ROWS_SHOWN, CELLS), Width::One),
        (referrers(r, ROWS_SHOWN, CELLS), Width::One),
        (super::hosts(r, ROWS_SHOWN, CELLS), Width::One),
        (status(r, CELLS), Width::One),
        (events(r, ROWS_SHOWN, CELLS), Width::Two),
    ] {
        panel(&mut out, &s, SUMMARY_JSON, width);
    }
    read_panel(&mut out, r);
    panel(
        &mut out,
        &users(r, USERS_SHOWN, CELLS),
        USERS_CSV,
        Width::Full,
    );

    out.push_str(
        "</main>\n<footer>Made by analyzer report. Full lists: pages.csv, users.csv and \
         summary.json next to this file (--out).</footer>\n</body>\n</html>\n",
    );
    out
}

/// The headline numbers as cards, each with its change when the report has a comparison.
fn cards(out: &mut String, r: &Report) {
    out.push_str(
        "<section id=\"headline\" class=\"wide\" aria-label=\"Headline numbers\">\n<dl class=\"cards\">\n",
    );
    for h in headlines(r, grouped) {
        let id = h.key.replace(' ', "-");
        let _ = write!(
            out,
            "<div class=\"card\" id=\"h-{id}\"><dt>{}</dt><dd class=\"v\">{}</dd>",
            escape(h.label),
            escape(&h.value)
        );
        if let Some((before, change)) = &h.previous {
            let class = match (change.trend, h.up_is_good) {
                (Trend::Flat, _) => "flat",
                (Trend::Up, true) | (Trend::Down, false) => "good",
                _ => "bad",
            };
            let _ = write!(
                out,
                "<dd class=\"d {class}\">{}</dd><dd class=\"p\">previous: {}</dd>",
                escape(&change.text),
                escape(before)
            );
        }
        out.push_str("</div>\n");
    }
    out.push_str("</dl>\n</section>\n");
}

/// How many grid places a panel takes.
#[derive(Clone, Copy)]
enum Width {
    One,
    Two,
    Full,
}

/// One list as a panel: a table of its top rows and where the full list is when rows were
/// left out.
fn panel(out: &mut String, s: &Section, full_list: &str, width: Width) {
    let class = match width {
        Width::One => "panel",
        Width::Two => "panel span2",
        Width::Full => "panel wide",
    };
    let id = s.id;
    let _ = writeln!(
        out,
        "<section id=\"{id}\" class=\"{class}\" aria-labelledby=\"{id}-h\">\n<h2 id=\"{id}-h\">{}</h2>",
        escape(s.title)
    );
    if s.rows.is_empty() {
        out.push_str("<p class=\"empty\">None in this period.</p>\n</section>\n");
        return;
    }
    table(out, s);
    if s.total > s.rows.len() {
        let _ = writeln!(
            out,
            "<p class=\"more\">showing {} of {} — full list in {full_list}</p>",
            grouped(s.rows.len() as u64),
            grouped(s.total as u64)
        );
    }
    out.push_str("</section>\n");
}

/// A section's rows as a table with column and row headers; each name cell has a bar for its
/// row's hits against the largest.
fn table(out: &mut String, s: &Section) {
    out.push_str("<div class=\"scroll\"><table>\n<thead><tr>");
    for (h, &n) in s.headers.iter().zip(&s.numeric) {
        let class = if n { " class=\"n\"" } else { "" };
        let _ = write!(out, "<th scope=\"col\"{class}>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let max = s.weights.iter().copied().max().unwrap_or(0).max(1);
    for (row, &weight) in s.rows.iter().zip(&s.weights) {
        out.push_str("<tr>");
        for (i, (cell, &n)) in row.iter().zip(&s.numeric).enumerate() {
            if i == 0 {
                let w = weight as f64 / max as f64 * 100.0;
                let _ = write!(
                    out,
                    "<th scope=\"row\" class=\"name\" style=\"--w:{w:.1}%\">{cell}</th>"
                );
            } else {
                let class = if n { " class=\"n\"" } else { "" };
                let _ = write!(out, "<td{class}>{cell}</td>");
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
}

/// What reading the files found, with missing partitions marked.
fn read_panel(out: &mut String, r: &Report) {
    out.push_str(
        "<section id=\"read\" class=\"panel\" aria-labelledby=\"read-h\">\n\
         <h2 id=\"read-h\">What was read</h2>\n<table>\n<tbody>\n",
    );
    let missing = !r.summary.missing_partitions.is_empty();
    for (label, value) in read_rows(&r.summary, grouped) {
        let class = if label == "missing partitions" && missing {
            " class=\"warn\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td{class}>{}</td></tr>",
            escape(label),
            escape(&value)
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// One bar of a chart: its axis label (empty for none), its tooltip, its value.
struct Bar {
    label: String,
    tip: String,
    value: u64,
}

/// The axis for values up to `max`: a round step (1, 2 or 5 × 10^k) and how many steps (at
/// most 5) reach `max`, so grid lines fall on round numbers and the tallest bar fills most of
/// the height.
fn axis(max: u64) -> (u64, u64) {
    let mut magnitude: u64 = 1;
    loop {
        for step in [1, 2, 5].map(|m| magnitude.saturating_mul(m)) {
            let steps = max.div_ceil(step);
            if steps <= 5 {
                return (step, steps.max(1));
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// A vertical bar chart in inline SVG: round-numbered grid lines, a `<title>` naming the
/// chart for screen readers and one per bar as its tooltip.
fn bar_chart(out: &mut String, id: &str, name: &str, bars: &[Bar]) {
    let (w, h, left, right, top, bottom) = (960.0, 260.0, 56.0, 8.0, 10.0, 26.0);
    let plot_h = h - top - bottom;
    let (step, steps) = axis(bars.iter().map(|b| b.value).max().unwrap_or(0));
    // In f64: near u64::MAX, step × steps is past what a u64 holds.
    let top_value = step as f64 * steps as f64;
    let _ = writeln!(
        out,
        "<svg id=\"{id}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"{id}-t\">\n<title id=\"{id}-t\">{}</title>",
        escape(name)
    );
    for i in 0..=steps {
        let t = step.saturating_mul(i);
        let y = top + plot_h - t as f64 / top_value * plot_h;
        let _ = writeln!(
            out,
            "<line class=\"g\" x1=\"{left}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\"/><text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{}</text>",
            grouped(t),
            x2 = w - right,
            tx = left - 6.0,
            ty = y + 4.0,
        );
    }
    let slot = (w - left - right) / bars.len().max(1) as f64;
    let gap = (slot * 0.2).min(6.0);
    for (i, bar) in bars.iter().enumerate() {
        let x = left + i as f64 * slot + gap / 2.0;
        let mut bar_h = bar.value as f64 / top_value * plot_h;
        if bar.value > 0 {
            // A small count still shows as a sliver, not as nothing.
            bar_h = bar_h.max(1.0);
        }
        let y = top + plot_h - bar_h;
        let _ = writeln!(
            out,
            "<rect class=\"b\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bar_h:.1}\"><title>{}</title></rect>",
            escape(&bar.tip),
            bw = slot - gap,
        );
        if !bar.label.is_empty() {
            let _ = writeln!(
                out,
                "<text x=\"{cx:.1}\" y=\"{ly}\" text-anchor=\"middle\">{}</text>",
                escape(&bar.label),
                cx = left + (i as f64 + 0.5) * slot,
                ly = h - 8.0,
            );
        }
    }
    out.push_str("</svg>\n");
}

/// `1 visitor`, `1,204 visitors`.
fn counted(n: u64, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", grouped(n))
}

/// Page views per local hour, for a one-day report.
fn hourly_chart(out: &mut String, r: &Report) {
    let bars: Vec<Bar> = r
        .hourly
        .iter()
        .enumerate()
        .map(|(h, &n)| Bar {
            label: format!("{h:02}"),
            tip: format!(
                "{h:02}:00–{:02}:00: {}",
                (h + 1) % 24,
                counted(n, "page view")
            ),
            value: n,
        })
        .collect();
    out.push_str(
        "<section id=\"hourly\" class=\"panel wide\" aria-labelledby=\"hourly-h\">\n\
         <h2 id=\"hourly-h\">Page views per hour</h2>\n",
    );
    let name = format!("Page views per hour of {} ({})", r.from, r.tz);
    bar_chart(out, "hourly-chart", &name, &bars);
    data_table(out, &hourly(r, CELLS));
    out.push_str("</section>\n");
}

/// Page views per local day, for a range; about a dozen dates labelled on the axis.
fn daily_chart(out: &mut String, r: &Report) {
    let every = r.daily.len().div_ceil(12).max(1);
    let bars: Vec<Bar> = r
        .daily
        .iter()
        .enumerate()
        .map(|(i, d)| Bar {
            // MM-DD under the bar; the tooltip has the whole date.
            label: if i % every == 0 {
                d.date.get(5..).unwrap_or(&d.date).to_string()
            } else {
                String::new()
            },
            tip: format!(
                "{}: {}, {}, {}",
                d.date,
                counted(d.hits, "page view"),
                counted(d.visitors, "visitor"),
                counted(d.users, "user")
            ),
            value: d.hits,
        })
        .collect();
    out.push_str(
        "<section id=\"daily\" class=\"panel wide\" aria-labelledby=\"daily-h\">\n\
         <h2 id=\"daily-h\">Page views per day</h2>\n",
    );
    let name = format!("Page views per day, {} to {} ({})", r.from, r.to, r.tz);
    bar_chart(out, "daily-chart", &name, &bars);
    data_table(out, &daily(r, CELLS));
    out.push_str("</section>\n");
}

/// A chart's numbers as a table, folded away under the chart (opens without scripts).
fn data_table(out: &mut String, s: &Section) {
    out.push_str("<details><summary>The numbers</summary>\n");
    table(out, s);
    out.push_str("</details>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture;
    use crate::report::model::{PageRow, UserRow};

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(escape("/a\nb"), "/a\\nb");
        assert_eq!(
            escape("/\u{202e}gpj.exe\u{200b}\u{2028}"),
            "/\\u{202e}gpj.exe\\u{200b}\\u{2028}"
        );
    }

    #[test]
    fn axis_steps_are_round_and_few() {
        for (max, want) in [
            (0, (1, 1)),
            (1, (1, 1)),
            (4, (1, 4)),
            (6, (2, 3)),
            (404, (100, 5)),
            (2_590, (1_000, 3)),
            (27_655, (10_000, 3)),
            (u64::MAX, (5_000_000_000_000_000_000, 4)),
        ] {
            assert_eq!(axis(max), want, "{max}");
        }
    }

    /// Everything between `<section id="ID"` and its `</section>`.
    fn section<'a>(html: &'a str, id: &str) -> &'a str {
        let start = html
            .find(&format!("<section id=\"{id}\""))
            .unwrap_or_else(|| panic!("no section {id} in\n{html}"));
        let end = start + html[start..].find("</section>").unwrap();
        &html[start..end]
    }

    #[test]
    fn dashboard_of_a_range_with_comparison() {
        let html = render(&fixture::report(true));
        for id in [
            "headline",
            "daily",
            "pages",
            "sources",
            "campaigns",
            "devices",
            "browsers",
            "os",
            "countries",
            "referrers",
            "events",
            "status",
            "users",
            "read",
        ] {
            section(&html, id);
        }
        assert!(
            !html.contains("id=\"hourly\""),
            "a range shows days, not hours"
        );

        let cards = section(&html, "headline");
        for needle in [
            "<div class=\"card\" id=\"h-hits\"><dt>Page views</dt><dd class=\"v\">1,204</dd><dd class=\"d good\">+134 (+12.5%)</dd><dd class=\"p\">previous: 1,070</dd></div>",
            // The bounce rate going down is good news.
            "<dt>Bounce rate</dt><dd class=\"v\">43.2%</dd><dd class=\"d good\">-1.8 pp</dd>",
            "<dt>Events</dt><dd class=\"v\">52</dd><dd class=\"d good\">new</dd>",
        ] {
            assert!(cards.contains(needle), "missing {needle:?} in\n{cards}");
        }

        let days = section(&html, "daily");
        assert!(days.contains("<title>2026-11-24: 404 page views, 160 visitors, 21 users</title>"));
        assert!(days.contains(">11-23</text>"), "{days}");
        assert_eq!(days.matches("<rect").count(), 3);

        let pages = section(&html, "pages");
        assert!(pages.contains(
            "<th scope=\"col\" class=\"n\">previous</th><th scope=\"col\" class=\"n\">change</th>"
        ));
        assert!(pages.contains("<tr><th scope=\"row\" class=\"name\" style=\"--w:100.0%\">/</th><td class=\"n\">600</td><td class=\"n\">500</td><td class=\"n\">+100 (+20.0%)</td>"), "{pages}");
        assert!(
            pages.contains("style=\"--w:33.3%\">/a&lt;b&gt;&amp;&quot;c&#39;|*_</th>"),
            "{pages}"
        );
        assert!(pages.contains(">/日本\\n</th>"), "{pages}");
        assert!(!pages.contains("showing"), "every row fits");

        assert!(section(&html, "users").contains(">&lt;admin&gt; &amp; &quot;co&quot;</th>"));
        assert!(section(&html, "events").contains("<td class=\"n\">7.3%</td>"));
        assert!(section(&html, "campaigns")
            .contains(">(not set)</th><td>newsletter</td><td>email</td><td class=\"n\">54</td>"));
        let read = section(&html, "read");
        assert!(read.contains(
            "<tr><th scope=\"row\">files</th><td>9 (dt=2026-11-23 to dt=2026-11-25)</td></tr>"
        ));
        assert!(
            read.contains("<td class=\"warn\">dt=2026-11-22</td>"),
            "{read}"
        );
        assert!(read.contains("<th scope=\"row\">unknown header files</th><td>1</td>"));
    }

    #[test]
    fn dashboard_of_one_day_shows_hours() {
        let mut r = fixture::report(false);
        r.to = r.from.clone();
        r.campaigns.clear();
        let html = render(&r);
        let hours = section(&html, "hourly");
        assert_eq!(hours.matches("<rect").count(), 24);
        assert!(hours.contains("<title>14:00–15:00: 500 page views</title>"));
        assert!(!html.contains("id=\"daily\""));
        assert!(section(&html, "campaigns").contains("None in this period."));
        assert!(
            !html.contains("previous"),
            "no comparison, no previous values"
        );
    }

    #[test]
    fn self_contained_without_scripts_or_fetches() {
        let html = render(&fixture::report(true));
        for external in [
            "<script",
            "src=",
            "href=",
            "url(",
            "@import",
            "<link",
            "@font-face",
        ] {
            assert!(
                !html.contains(external),
                "{external} in a self-contained page"
            );
        }
    }

    /// A day with `pages` distinct paths and `users` signed-in users; when `hostile`, the top
    /// rows of each are as large as the record allows: paths of 2048 bytes of characters that
    /// HTML escapes to six bytes, user names of 256 such bytes.
    fn huge_report(pages: usize, users: usize, hostile: bool) -> Report {
        let mut r = fixture::report(true);
        let long_path = if hostile {
            format!("/{}", "\"".repeat(2047))
        } else {
            "/blog/2026/11/a-rather-long-article-title".to_string()
        };
        let name = if hostile {
            "&".repeat(256)
        } else {
            "someone@example.com".to_string()
        };
        r.pages = (0..pages)
            .map(|i| PageRow {
                path: if i < PAGES_SHOWN {
                    long_path.clone()
                } else {
                    format!("/p/{i}")
                },
                hits: (pages - i) as u64,
                users: 1,
                visitors: 1,
                share: 0.0,
                entries: 1,
                exits: 1,
                bounces: 0,
                errors_4xx: 0,
                errors_5xx: 0,
                previous_hits: Some(i as u64),
            })
            .collect();
        r.users = (0..users)
            .map(|i| UserRow {
                user: if i < USERS_SHOWN {
                    name.clone()
                } else {
                    format!("u#{i}")
                },
                hits: 1,
                pages: 1,
                sessions: 1,
                first_seen: "2026-11-23T08:00:00.000+01:00".into(),
                last_seen: "2026-11-23T08:00:00.000+01:00".into(),
                top_page: if i < USERS_SHOWN {
                    long_path.clone()
                } else {
                    "/".into()
                },
            })
            .collect();
        r
    }

    #[test]
    fn a_day_of_four_million_paths_gives_a_small_page() {
        for hostile in [false, true] {
            let r = huge_report(4_000_000, 200_000, hostile);
            let html = render(&r);
            drop(r);
            assert!(html.len() < 2_000_000, "{} bytes", html.len());
            assert!(html.contains("showing 20 of 4,000,000 — full list in pages.csv"));
            assert!(html.contains("showing 20 of 200,000 — full list in users.csv"));
            assert_eq!(
                section(&html, "pages").matches("<tr>").count(),
                1 + PAGES_SHOWN
            );
            assert_eq!(
                section(&html, "users").matches("<tr>").count(),
                1 + USERS_SHOWN
            );
            assert!(!html.contains("/p/"), "no path past the top 20");
            assert!(!html.contains("u#"), "no user past the top 20");
            // `cargo test -- --nocapture` shows the sizes (the README quotes them).
            eprintln!(
                "4M paths, 200k users, hostile strings {hostile}: {} bytes",
                html.len()
            );
        }
    }

    #[test]
    fn every_list_is_capped() {
        let mut r = fixture::report(false);
        let source = r.sources.first(1)[0].clone();
        r.sources = vec![source; 25].into();
        let html = render(&r);
        let sources = section(&html, "sources");
        assert_eq!(sources.matches("<tr>").count(), 1 + ROWS_SHOWN);
        assert!(sources.contains("showing 10 of 25 — full list in summary.json"));
    }
}
