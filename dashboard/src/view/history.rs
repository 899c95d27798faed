//! The history page: one period of the report with its filters, rendered here from the
//! analyzer's report and its sections ([`analyzer::output`]): the numbers and the cells are the
//! analyzer's. Every state is a URL (period, zone, comparison, filters), so the page works
//! without JavaScript, can be bookmarked and shared, and the back button goes back. Each row's
//! name is a link that adds its `is` filter (replacing one on the same dimension); each filter
//! shows with a link that removes it. Recorded values are escaped by the report's `escape`.

use crate::history::params::{describe, is, Asked, Params, PRESETS};
use analyzer::output::html::{escape, CSS};
use analyzer::output::{self, grouped, Section, Style};
use analyzer::report::filter::Dimension;
use analyzer::report::Report;
use std::fmt::Write;

/// Rows shown per list (the whole lists are in the CSV downloads and `/api/report`).
const CELLS: Style = Style {
    text: escape,
    int: grouped,
};

/// The page's own rules, after the report's stylesheet.
const HISTORY_CSS: &str = "\
nav{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;padding:.6rem 1.5rem 0}\
nav a,.chip{border:1px solid var(--line);border-radius:1rem;padding:.1rem .6rem;\
background:var(--panel);color:var(--fg);text-decoration:none}\
nav a[aria-current]{background:var(--accent);color:#fff;border-color:var(--accent)}\
.filters{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;padding:.6rem 1.5rem 0}\
.chip a{color:var(--bad);text-decoration:none;margin-left:.3rem}\
form{display:inline-flex;gap:.3rem;align-items:center}input{font:inherit}\
td a{color:inherit}table{width:100%;border-collapse:collapse}\
th,td{padding:.2rem .4rem;border-bottom:1px solid var(--line);text-align:left}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
section{background:var(--panel);border:1px solid var(--line);border-radius:.5rem;padding:.6rem}\
h2{font-size:1rem;margin:0 0 .4rem}.cards{display:flex;flex-wrap:wrap;gap:1rem;margin:0}\
.card dt{color:var(--muted)}.card dd{margin:0;font-size:1.3rem;font-weight:600}";

/// The whole page for `report`, computed for `params`; `live` links the realtime view.
pub fn document(params: &Params, report: &Report, live: bool) -> String {
    let mut title = output::title(report);
    if let Some(compared) = output::compared_with(report) {
        title = format!("{title}, {compared}");
    }
    let mut out = head(params, &title, live);
    cards(&mut out, report);
    for (section, dimension, names) in lists(report) {
        panel(&mut out, params, &section, dimension, &names);
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// The page for a period without data: the controls, and saying so.
pub fn missing(params: &Params, live: bool) -> String {
    let mut out = head(params, "No data for this period", live);
    out.push_str(
        "<section class=\"wide\"><p>No page-hit files for this period: pick another one.</p>\
         </section>\n</main>\n</body>\n</html>\n",
    );
    out
}

/// From the document's start to the opened `<main>`: title, period links, the filter bar.
fn head(params: &Params, title: &str, live: bool) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<link rel=\"icon\" href=\"data:,\">\n\
         <style>{CSS}{HISTORY_CSS}</style>\n</head>\n<body>\n<header>\n<h1>{t}</h1>\n\
         <p class=\"sub\">{tz}</p>\n</header>\n<nav aria-label=\"Period\">\n{realtime}",
        t = escape(title),
        tz = escape(params.tz.name()),
        realtime = if live {
            "<a href=\"/\">Realtime</a>\n"
        } else {
            ""
        },
    );
    for (key, label) in PRESETS {
        let current = params.asked == Asked::Preset(key);
        let _ = writeln!(
            out,
            "<a href=\"/history?{}\"{}>{label}</a>",
            escape(&params.over(Asked::Preset(key)).query()),
            if current {
                " aria-current=\"page\""
            } else {
                ""
            }
        );
    }
    // A custom range and the zone, keeping the comparison and the filters.
    let (from, to) = match &params.asked {
        Asked::Days { from, to } => (from.clone(), to.clone()),
        Asked::Preset(_) => (String::new(), String::new()),
    };
    let _ = write!(
        out,
        "<form method=\"get\" action=\"/history\" aria-label=\"Custom period\">\
         <input type=\"date\" name=\"from\" value=\"{}\" required aria-label=\"From\">\
         <input type=\"date\" name=\"to\" value=\"{}\" required aria-label=\"To\">\
         <input name=\"tz\" value=\"{}\" size=\"14\" aria-label=\"Time zone\">",
        escape(&from),
        escape(&to),
        escape(params.tz.name())
    );
    hidden_state(&mut out, params, true);
    out.push_str("<button>Show</button></form>\n");
    let toggled = Params {
        compare: !params.compare,
        ..params.clone()
    };
    let _ = writeln!(
        out,
        "<a href=\"/history?{}\">{}</a>",
        escape(&toggled.query()),
        if params.compare {
            "Hide the comparison"
        } else {
            "Compare with the period before"
        }
    );
    out.push_str("</nav>\n<div class=\"filters\" id=\"filters\">\n");
    for (i, f) in params.filters.iter().enumerate() {
        let _ = writeln!(
            out,
            "<span class=\"chip\" data-filter=\"{}\">{}<a href=\"/history?{}\" \
             aria-label=\"Remove this filter\">\u{d7}</a></span>",
            escape(&f.expression()),
            escape(&describe(f)),
            escape(&params.without(i).query())
        );
    }
    // A filter typed as the CLI takes it, added to the ones shown.
    out.push_str(
        "<form method=\"get\" action=\"/history\" aria-label=\"Add a filter\">\
         <input name=\"filter\" placeholder=\"country=JP|US, page~/blog\" \
         aria-label=\"Filter\" size=\"24\">",
    );
    hidden_state(&mut out, params, false);
    let _ = writeln!(
        out,
        "<button>Filter</button></form>\n<a href=\"/api/report/pages.csv?{q}\" \
         download=\"pages.csv\">pages.csv</a> <a href=\"/api/report/users.csv?{q}\" \
         download=\"users.csv\">users.csv</a> <a href=\"/api/report?{q}\">JSON</a>",
        q = escape(&params.query())
    );
    out.push_str("</div>\n<main>\n");
    out
}

/// The state as hidden form fields; the period too unless the form sets it.
fn hidden_state(out: &mut String, params: &Params, period_set: bool) {
    let mut field = |name: &str, value: &str| {
        let _ = write!(
            out,
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(value)
        );
    };
    if !period_set {
        match &params.asked {
            Asked::Preset(p) => field("period", p),
            Asked::Days { from, to } => {
                field("from", from);
                field("to", to);
            }
        }
        field("tz", params.tz.name());
    }
    if params.compare {
        field("compare", "true");
    }
    for f in &params.filters {
        field("filter", &f.expression());
    }
}

fn cards(out: &mut String, r: &Report) {
    out.push_str("<section class=\"wide\" aria-label=\"Totals\">\n<dl class=\"cards\">\n");
    for h in output::headlines(r, grouped) {
        let before = h.previous.map_or(String::new(), |(b, change)| {
            format!(
                " <small>({} before, {})</small>",
                escape(&b),
                escape(&change.text)
            )
        });
        let _ = writeln!(
            out,
            "<div class=\"card\"><dt>{}</dt><dd data-key=\"{}\">{}{before}</dd></div>",
            escape(h.label),
            escape(h.key),
            escape(&h.value)
        );
    }
    out.push_str("</dl>\n</section>\n");
}

/// Each list shown, with the dimension a click on a row filters and each shown row's value.
fn lists(r: &Report) -> Vec<(Section, Option<Dimension>, Vec<String>)> {
    let n = usize::MAX;
    vec![
        (
            output::pages(r, n, CELLS),
            Some(Dimension::Page),
            r.pages.first(n).into_iter().map(|p| p.path).collect(),
        ),
        (
            output::sources(r, n, CELLS),
            Some(Dimension::Source),
            r.sources.first(n).into_iter().map(|s| s.source).collect(),
        ),
        (
            output::campaigns(r, n, CELLS),
            Some(Dimension::UtmCampaign),
            r.campaigns
                .first(n)
                .into_iter()
                .map(|c| c.utm_campaign)
                .collect(),
        ),
        (
            output::hosts(r, n, CELLS),
            Some(Dimension::Host),
            r.hosts.iter().map(|h| h.host.clone()).collect(),
        ),
        (
            output::referrers(r, n, CELLS),
            Some(Dimension::Referrer),
            r.summary.referrers.iter().map(|x| x.host.clone()).collect(),
        ),
        (
            output::countries(r, n, CELLS),
            Some(Dimension::Country),
            r.summary
                .countries
                .iter()
                .map(|x| x.country.clone())
                .collect(),
        ),
        (
            output::devices(r, n, CELLS),
            Some(Dimension::Device),
            r.devices.iter().map(|x| x.device.clone()).collect(),
        ),
        (
            output::browsers(r, n, CELLS),
            Some(Dimension::Browser),
            r.browsers.iter().map(|x| x.browser.clone()).collect(),
        ),
        (
            output::os(r, n, CELLS),
            Some(Dimension::Os),
            r.os.iter().map(|x| x.os.clone()).collect(),
        ),
        (
            output::events(r, n, CELLS),
            Some(Dimension::Event),
            r.events.iter().map(|x| x.event.clone()).collect(),
        ),
        (output::users(r, n, CELLS), Some(Dimension::User), {
            r.users.first(n).into_iter().map(|u| u.user).collect()
        }),
    ]
}

/// One list as a table whose first cell links to the row's filter.
fn panel(
    out: &mut String,
    params: &Params,
    s: &Section,
    dimension: Option<Dimension>,
    names: &[String],
) {
    // The two lists with many columns take the page's width.
    let wide = matches!(s.id, "pages" | "users");
    let _ = writeln!(
        out,
        "<section id=\"{}\"{} aria-label=\"{}\"><h2>{}</h2>",
        s.id,
        if wide { " class=\"wide\"" } else { "" },
        escape(s.title),
        escape(s.title)
    );
    if s.rows.is_empty() {
        out.push_str("<p>None.</p></section>\n");
        return;
    }
    out.push_str("<table><thead><tr>");
    for (h, &numeric) in s.headers.iter().zip(&s.numeric) {
        let _ = write!(
            out,
            "<th{}>{}</th>",
            if numeric { " class=\"n\"" } else { "" },
            escape(h)
        );
    }
    out.push_str("</tr></thead><tbody>\n");
    for (i, row) in s.rows.iter().enumerate() {
        out.push_str("<tr>");
        for (j, cell) in row.iter().enumerate() {
            let numeric = s.numeric.get(j).copied().unwrap_or(false);
            let link = match (j, dimension, names.get(i)) {
                (0, Some(d), Some(name)) => Some(params.with_is(is(d, name)).query()),
                _ => None,
            };
            match link {
                Some(q) => {
                    let _ = write!(
                        out,
                        "<td><a href=\"/history?{}\">{cell}</a></td>",
                        escape(&q)
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        "<td{}>{cell}</td>",
                        if numeric { " class=\"n\"" } else { "" }
                    );
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>");
    if s.total > s.rows.len() {
        let _ = write!(
            out,
            "<p class=\"sub\">showing {} of {}</p>",
            s.rows.len(),
            s.total
        );
    }
    out.push_str("</section>\n");
}
