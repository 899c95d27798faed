//! `--format markdown`: GitHub-flavoured Markdown to paste into a ticket.

use super::{
    browsers, campaigns, compared_with, countries, daily, devices, events, headlines, hourly, os,
    pages, plain_int, read_rows, referrers, sources, status, title, users, Section, Style,
};
use crate::report::Report;
use pagehit::rules::visible_text;
use std::fmt::Write;

/// Escapes text for Markdown, in a table cell or a line of its own: every ASCII punctuation
/// character gets a backslash (CommonMark lets any of them be escaped, and the escape shows the
/// character itself), so that no recorded value becomes a link or an autolink (`:`, `.`, `@`
/// and `/` escaped, GFM finds none), emphasis, code, HTML, an entity, a heading or a list, or
/// ends a table cell (`\|`); characters that would hide or reorder text become visible escapes
/// first ([`pagehit::rules::visible_text`]).
pub fn escape(s: &str) -> String {
    let shown = visible_text(s);
    let mut out = String::with_capacity(shown.len() + shown.len() / 4);
    for ch in shown.chars() {
        if ch.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn table(out: &mut String, headers: &[&str], right: &[bool], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let rule: Vec<&str> = right
        .iter()
        .map(|&r| if r { "---:" } else { "---" })
        .collect();
    let _ = writeln!(out, "| {} |", rule.join(" | "));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
}

/// Markdown's cell style: markup escaped, plain counts.
const STYLE: Style = Style {
    text: escape,
    int: plain_int,
};

/// A section under its own heading; an empty one says so instead of showing a bare header.
fn section(out: &mut String, s: &Section) {
    let _ = writeln!(out, "\n## {}\n", s.title);
    if s.rows.is_empty() {
        out.push_str("None.\n");
    } else {
        table(out, &s.headers, &s.numeric, &s.rows);
    }
}

/// A two-column section turned on its side (names as headers, one row of counts): short
/// fixed lists read better across.
fn across(out: &mut String, s: &Section) {
    let _ = writeln!(out, "\n## {}\n", s.title);
    let names: Vec<&str> = s.rows.iter().map(|r| r[0].as_str()).collect();
    let counts: Vec<String> = s.rows.iter().map(|r| r[1].clone()).collect();
    table(out, &names, &vec![true; names.len()], &[counts]);
}

/// The report as Markdown.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", escape(&title(r)));
    if let Some(filtered) = super::filtered_by(r) {
        let _ = writeln!(out, "{}\n", escape(&filtered));
    }
    if let Some(compared) = compared_with(r) {
        let _ = writeln!(out, "{}\n", escape(&compared));
    }

    out.push_str("## Summary\n\n");
    let compared = r.previous.is_some();
    let mut rows: Vec<Vec<String>> = headlines(r, plain_int)
        .into_iter()
        .map(|h| {
            let mut row = vec![h.key.to_string(), h.value];
            if let Some((before, change)) = h.previous {
                row.extend([before, change.text]);
            }
            row
        })
        .collect();
    let blank = if compared { 2 } else { 0 };
    rows.extend(read_rows(&r.summary, plain_int).into_iter().map(|(k, v)| {
        let mut row = vec![escape(k), escape(&v)];
        row.extend(std::iter::repeat_n(String::new(), blank));
        row
    }));
    if compared {
        table(
            &mut out,
            &["metric", "value", "previous", "change"],
            &[false, true, true, true],
            &rows,
        );
    } else {
        table(&mut out, &["metric", "value"], &[false, true], &rows);
    }

    let all = usize::MAX;
    across(&mut out, &hourly(r, STYLE));
    section(&mut out, &daily(r, STYLE));
    across(&mut out, &status(r, STYLE));
    for s in [
        referrers(r, all, STYLE),
        countries(r, all, STYLE),
        super::hosts(r, all, STYLE),
        sources(r, all, STYLE),
        campaigns(r, all, STYLE),
        browsers(r, all, STYLE),
        os(r, all, STYLE),
        devices(r, all, STYLE),
        events(r, all, STYLE),
        pages(r, all, STYLE),
        users(r, all, STYLE),
    ] {
        section(&mut out, &s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture;

    #[test]
    fn escapes_cells() {
        assert_eq!(escape("/a|b_c*d"), "\\/a\\|b\\_c\\*d");
        assert_eq!(escape("x\ny"), "x\\\\ny");
        assert_eq!(escape("日本"), "日本");
        assert_eq!(
            escape("Reset https://evil.example/login"),
            "Reset https\\:\\/\\/evil\\.example\\/login"
        );
        assert_eq!(escape("a\u{202e}b"), "a\\\\u\\{202e\\}b");
        // Every ASCII punctuation character, and nothing else, gets its backslash.
        let punctuation: String = (0x21u8..0x7f)
            .map(char::from)
            .filter(char::is_ascii_punctuation)
            .collect();
        assert_eq!(punctuation.len(), 32);
        let escaped: String = punctuation.chars().flat_map(|c| ['\\', c]).collect();
        assert_eq!(escape(&punctuation), escaped);
        assert_eq!(escape("abc 123 é"), "abc 123 é");
    }

    #[test]
    fn every_section_with_the_comparison() {
        let md = render(&fixture::report(true));
        for line in [
            "# Page\\-hit report for 2026\\-11\\-23 to 2026\\-11\\-25 \\(Europe\\/Berlin\\)",
            "compared with 2026\\-11\\-20 to 2026\\-11\\-22",
            "| metric | value | previous | change |",
            "| hits | 1204 | 1070 | +134 (+12.5%) |",
            "| bounce rate | 43.2% | 45.0% | -1.8 pp |",
            "| events | 52 | 0 | new |",
            "| files | 9 \\(dt\\=2026\\-11\\-23 to dt\\=2026\\-11\\-25\\) |  |  |",
            "| bots \\(left out\\) | 55 |  |  |",
            "| 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 300 | 404 | 0 | 0 | 0 | 0 | 500 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |",
            "## Days",
            "| 2026\\-11\\-24 | 404 | 21 | 160 |",
            "| 1xx | 2xx | 3xx | 4xx | 5xx |",
            "| 0 | 1100 | 50 | 44 | 10 |",
            "| news\\.example | 400 |",
            "| \\(unknown\\) | 504 |",
            "| newsletter | 304 | 62 | 70 |",
            "| campaign | source | medium | hits | visitors | sessions |",
            "| winter | newsletter | email | 250 | 50 | 55 |",
            "| \\(not set\\) | newsletter | email | 54 | 12 | 15 |",
            "| docs\\.shop\\.example | 204 | 62 |",
            "| Firefox | 504 | 162 |",
            "| Mac OS X | 604 | 200 |",
            "| mobile | 204 | 112 |",
            "| signup | 52 | 30 | 7.3% |",
            "| path | hits | previous | change | users | visitors | share | entries | exits | bounces | 4xx | 5xx |",
            "| \\/pricing | 300 | 0 | new | 15 | 150 | 24.9% | 100 | 75 | 60 | 1 | 0 |",
            "| \\/a\\<b\\>\\&\\\"c\\'\\|\\*\\_ | 200 | 250 | -50 (-20.0%) | 10 | 100 | 16.6% | 66 | 50 | 40 | 1 | 0 |",
            "| \\/日本\\\\n | 104 | 104 | no change | 5 | 52 | 8.6% | 34 | 26 | 20 | 1 | 0 |",
            "| \\<admin\\> \\& \\\"co\\\" | 7 | 1 | 1 | 2026\\-11\\-24T09\\:00\\:00\\.000\\+01\\:00 | 2026\\-11\\-24T09\\:20\\:00\\.000\\+01\\:00 | \\/ |",
        ] {
            assert!(md.lines().any(|l| l == line), "missing {line:?} in\n{md}");
        }
    }

    #[test]
    fn an_empty_section_says_none() {
        let mut r = fixture::report(false);
        r.campaigns.clear();
        let md = render(&r);
        assert!(md.contains("## Campaigns\n\nNone.\n"), "{md}");
        assert!(!md.contains("previous"), "{md}");
    }
}
