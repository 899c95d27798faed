//! The live page: one self-contained HTML document (inline CSS, SVG and one small script; no
//! external asset) whose panels are rendered here, on the server, and swapped in by the script
//! whenever the server pushes a new rendering over Server-Sent Events. Every recorded value is
//! escaped by the report's own `escape` (markup, control and invisible characters), so the
//! page works without JavaScript too (it then shows the snapshot it was loaded with).

use crate::snapshot::Snapshot;
use analyzer::output::grouped;
use analyzer::output::html::{escape, CSS};
use std::fmt::Write;

/// The page's script: subscribe to the HTML renderings and swap them in; say how old the
/// shown snapshot is and whether the connection is up. Its hash is in the page's CSP.
pub const SCRIPT: &str = "\
const live=document.getElementById('live'),state=document.getElementById('state');\
const es=new EventSource('/api/live/events?format=html');\
es.addEventListener('html',e=>{live.innerHTML=e.data;state.textContent='connected';});\
es.onerror=()=>{state.textContent='reconnecting\u{2026}';};\
setInterval(()=>{const t=document.getElementById('at');if(!t)return;\
const s=Math.max(0,Math.round((Date.now()-Number(t.dataset.ms))/1000));\
document.getElementById('age').textContent=s+' s ago';},1000);";

/// The live page's own rules, after the report's stylesheet.
const LIVE_CSS: &str = "\
.now .v{color:var(--accent)}#state{font-weight:600}\
.kv{display:grid;grid-template-columns:auto 1fr;gap:.2rem 1rem;margin:0}\
.kv dt{color:var(--muted)}.kv dd{margin:0;font-variant-numeric:tabular-nums}";

/// The whole page, showing `snapshot` until the first push; `history` links the history.
pub fn document(snapshot: &Snapshot, history: bool) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Live \u{2014} page hits</title>\n<link rel=\"icon\" href=\"data:,\">\n\
         <style>{CSS}{LIVE_CSS}</style>\n</head>\n<body>\n\
         <header>\n<h1>Live</h1>\n<p class=\"sub\">Counted straight from the stream: the last \
         {} minutes by each hit's own time, and the visitors of the last {} minutes as \
         \u{201c}now\u{201d}. <span id=\"state\">loaded</span>{}</p>\n</header>\n\
         <div id=\"live\">\n{}</div>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        snapshot.window_minutes,
        snapshot.now_minutes,
        if history {
            " <a href=\"/history\">History</a>"
        } else {
            ""
        },
        panels(snapshot)
    );
    out
}

/// The panels of `snapshot` (what each push replaces).
pub fn panels(s: &Snapshot) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let window = format!("last {} min", s.window_minutes);
    out.push_str("<main>\n<section class=\"wide\" aria-label=\"Totals\">\n<dl class=\"cards\">\n");
    let cards = [
        (
            "visitors_now",
            format!("Visitors now (last {} min)", s.now_minutes),
            s.visitors_now,
            " now",
        ),
        ("hits", format!("Page views ({window})"), s.hits, ""),
        ("visitors", format!("Visitors ({window})"), s.visitors, ""),
        ("users", format!("Signed-in users ({window})"), s.users, ""),
    ];
    for (id, label, n, class) in cards {
        let _ = writeln!(
            out,
            "<div class=\"card{class}\"><dt>{}</dt><dd class=\"v\" id=\"{id}\">{}</dd></div>",
            escape(&label),
            grouped(n)
        );
    }
    out.push_str("</dl>\n</section>\n");
    minutes_chart(&mut out, s);
    let pages: Vec<[String; 4]> = s
        .pages
        .iter()
        .map(|p| {
            [
                p.path.clone(),
                grouped(p.now),
                grouped(p.visitors),
                grouped(p.hits),
            ]
        })
        .collect();
    table(
        &mut out,
        "pages",
        "Pages",
        ["Path", "Now", "Visitors", "Views"],
        &pages,
        " span2",
    );
    let three =
        |name: &str, hits: u64, visitors: u64| [name.to_string(), grouped(visitors), grouped(hits)];
    let lists: [(&str, &str, &str, Vec<[String; 3]>); 6] = [
        (
            "sources",
            "Sources (of the sessions)",
            "Source",
            s.sources
                .iter()
                .map(|r| three(&r.source, r.hits, r.visitors))
                .collect(),
        ),
        (
            "countries",
            "Countries",
            "Country",
            s.countries
                .iter()
                .map(|r| {
                    three(
                        analyzer::output::country_label(&r.country),
                        r.hits,
                        r.visitors,
                    )
                })
                .collect(),
        ),
        (
            "devices",
            "Devices",
            "Device",
            s.devices
                .iter()
                .map(|r| three(&r.device, r.hits, r.visitors))
                .collect(),
        ),
        (
            "browsers",
            "Browsers",
            "Browser",
            s.browsers
                .iter()
                .map(|r| three(&r.browser, r.hits, r.visitors))
                .collect(),
        ),
        (
            "os",
            "Operating systems",
            "OS",
            s.os.iter()
                .map(|r| three(&r.os, r.hits, r.visitors))
                .collect(),
        ),
        (
            "events",
            "Custom events",
            "Event",
            s.events
                .iter()
                .map(|r| three(&r.event, r.hits, r.visitors))
                .collect(),
        ),
    ];
    for (id, title, first, rows) in lists {
        table(&mut out, id, title, [first, "Visitors", "Hits"], &rows, "");
    }
    stream_panel(&mut out, s);
    out.push_str("</main>\n");
    out
}

/// Page views per minute as inline SVG bars, oldest on the left.
fn minutes_chart(out: &mut String, s: &Snapshot) {
    let (w, h, top) = (720.0_f64, 120.0_f64, 16.0_f64);
    let max = s
        .per_minute
        .iter()
        .map(|m| m.hits)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = s.per_minute.len().max(1) as f64;
    let slot = w / n;
    let _ = write!(
        out,
        "<section class=\"panel wide\" aria-label=\"Page views per minute\">\n\
         <h2>Page views per minute (UTC)</h2>\n\
         <svg id=\"per_minute\" viewBox=\"0 0 {w} {}\" role=\"img\" \
         aria-label=\"page views per minute\">\n",
        h + 18.0
    );
    for (i, m) in s.per_minute.iter().enumerate() {
        let bar = (m.hits as f64 / max) * (h - top);
        let _ = writeln!(
            out,
            "<rect class=\"b\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\">\
             <title>{} {} page views, {} visitors</title></rect>",
            i as f64 * slot + 1.0,
            h - bar,
            (slot - 2.0).max(1.0),
            bar,
            escape(minute_label(&m.minute)),
            m.hits,
            m.visitors
        );
    }
    if let (Some(first), Some(last)) = (s.per_minute.first(), s.per_minute.last()) {
        let _ = writeln!(
            out,
            "<text x=\"0\" y=\"{:.0}\">{}</text><text x=\"{w}\" y=\"{:.0}\" \
             text-anchor=\"end\">{} (now)</text>",
            h + 14.0,
            escape(minute_label(&first.minute)),
            h + 14.0,
            escape(minute_label(&last.minute))
        );
    }
    out.push_str("</svg>\n</section>\n");
}

/// `HH:MM` of an RFC 3339 minute.
fn minute_label(minute: &str) -> &str {
    minute.get(11..16).unwrap_or(minute)
}

/// A panel with one table; the first column is text (escaped), the others counts.
fn table<const N: usize>(
    out: &mut String,
    id: &str,
    title: &str,
    heads: [&str; N],
    rows: &[[String; N]],
    class: &str,
) {
    let _ = write!(
        out,
        "<section class=\"panel{class}\" aria-label=\"{title}\">\n<h2>{title}</h2>\n"
    );
    if rows.is_empty() {
        out.push_str("<p class=\"empty\">None in the window.</p>\n</section>\n");
        return;
    }
    let _ = write!(
        out,
        "<div class=\"scroll\"><table id=\"{id}\">\n<thead><tr>"
    );
    for (i, head) in heads.iter().enumerate() {
        let cls = if i == 0 { "" } else { " class=\"n\"" };
        let _ = write!(out, "<th scope=\"col\"{cls}>{head}</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        let _ = write!(
            out,
            "<tr><th scope=\"row\" class=\"name\">{}</th>",
            escape(&row[0])
        );
        for cell in &row[1..] {
            let _ = write!(out, "<td class=\"n\">{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n</section>\n");
}

/// What the reader knows: the lag, how far behind the stream it is, and what was left out.
fn stream_panel(out: &mut String, s: &Snapshot) {
    let ms = pagehit::time::parse_ts(&s.now).unwrap_or(0);
    let lag = match s.lag_ms {
        Some(l) => format!("{:.1} s", l as f64 / 1000.0),
        None => "no hit read yet".to_string(),
    };
    let state = if s.caught_up {
        "caught up"
    } else {
        "reading the window's past"
    };
    let rows = [
        (
            "Updated",
            format!(
                "{} UTC (<span id=\"age\">0 s ago</span>)",
                escape(s.now.get(11..19).unwrap_or(&s.now))
            ),
        ),
        (
            "Newest hit",
            format!(
                "{lag} before the update (<span id=\"lag_ms\">{}</span> ms)",
                s.lag_ms.unwrap_or(0)
            ),
        ),
        (
            "Stream",
            format!(
                "{state}, {} ms behind its tip",
                grouped(s.behind_ms.max(0) as u64)
            ),
        ),
        ("Bots left out", grouped(s.bots)),
        ("Repeats dropped", grouped(s.duplicates)),
        ("Not valid hits", grouped(s.rejected)),
        ("Outside the window", grouped(s.outside_window)),
    ];
    let _ = write!(
        out,
        "<section class=\"panel\" aria-label=\"Stream\">\n<h2>Stream</h2>\n\
         <dl class=\"kv\" id=\"at\" data-ms=\"{ms}\">\n"
    );
    for (k, v) in rows {
        let _ = writeln!(out, "<dt>{k}</dt><dd>{v}</dd>");
    }
    out.push_str("</dl>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{MinuteRow, PageRow, SourceRow};

    fn snapshot() -> Snapshot {
        Snapshot {
            now: "2026-12-04T23:59:30.000Z".into(),
            window_minutes: 2,
            hits: 1234,
            visitors: 3,
            users: 0,
            visitors_now: 2,
            per_minute: vec![
                MinuteRow {
                    minute: "2026-12-04T23:58:00.000Z".into(),
                    hits: 4,
                    visitors: 1,
                },
                MinuteRow {
                    minute: "2026-12-04T23:59:00.000Z".into(),
                    hits: 1230,
                    visitors: 3,
                },
            ],
            pages: vec![PageRow {
                path: "/<script>alert(1)</script>\u{202e}gpj.exe".into(),
                hits: 1234,
                visitors: 3,
                now: 2,
            }],
            sources: vec![SourceRow {
                source: "\"><img src=x onerror=alert(1)>".into(),
                hits: 1,
                visitors: 1,
            }],
            countries: vec![],
            devices: vec![],
            browsers: vec![],
            events: vec![],
            bots: 5,
            duplicates: 1,
            rejected: 2,
            outside_window: 3,
            lag_ms: Some(1500),
            behind_ms: 0,
            os: vec![],
            now_minutes: 5,
            caught_up: true,
        }
    }

    #[test]
    fn recorded_values_are_escaped() {
        let html = panels(&snapshot());
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    }

    #[test]
    fn the_page_says_what_now_means_and_shows_the_numbers() {
        let doc = document(&snapshot(), false);
        assert!(doc.contains("Visitors now (last 5 min)"));
        assert!(doc.contains("id=\"hits\">1,234<"));
        assert!(doc.contains("id=\"visitors_now\">2<"));
        assert!(doc.contains("<span id=\"lag_ms\">1500</span>"));
        assert!(doc.contains(SCRIPT), "the script is inline");
        assert!(!doc.contains("src=\"http"), "no external asset");
        assert_eq!(doc.matches("<rect").count(), 2, "one bar per minute");
    }
}
