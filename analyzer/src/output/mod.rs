//! Rendering a [`Report`] (table, JSON, CSV, Markdown, HTML) and writing the `--out` files.
//!
//! Escaping belongs to each format: JSON escapes per JSON and otherwise keeps every value as
//! recorded; CSV files also neutralise spreadsheet formulas; Markdown and HTML escape their
//! markup; the terminal table shows control characters as escapes so a path cannot move the
//! cursor or change colours.

pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod sink;
pub mod table;

use crate::cli::Format;
use crate::report::Report;
use std::borrow::Cow;

/// The report in `format`, as printed on stdout.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Table => table::render(report),
        Format::Json => json::report(report),
        Format::Csv => csv::pages(report),
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
    }
}

/// The page report's rows as text cells, in the column order every format shows; `text`
/// escapes the free-text cells for the format (numbers are the same everywhere).
pub fn page_cells(r: &Report, text: impl Fn(&str) -> String) -> Vec<Vec<String>> {
    r.pages
        .iter()
        .map(|p| {
            vec![
                text(&p.path),
                p.hits.to_string(),
                p.users.to_string(),
                p.visitors.to_string(),
                percent(p.share),
                p.entries.to_string(),
                p.exits.to_string(),
                p.bounces.to_string(),
                p.errors_4xx.to_string(),
                p.errors_5xx.to_string(),
            ]
        })
        .collect()
}

/// The user report's rows as text cells; `text` escapes the free-text cells for the format.
pub fn user_cells(r: &Report, text: impl Fn(&str) -> String) -> Vec<Vec<String>> {
    r.users
        .iter()
        .map(|u| {
            vec![
                text(&u.user),
                u.hits.to_string(),
                u.pages.to_string(),
                u.sessions.to_string(),
                text(&u.first_seen),
                text(&u.last_seen),
                text(&u.top_page),
            ]
        })
        .collect()
}

/// `s` with control characters written as escapes (`\n`, `\t`, `\u{1b}`), for text formats
/// read by people.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        if ch.is_control() {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    Cow::Owned(out)
}

/// A ratio as a percentage with one decimal: `0.3333` -> `33.3%`.
pub fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// A ratio as JSON writes it (`0.25`, `1.0`), so CSV files and JSON show the same number.
pub fn ratio(x: f64) -> String {
    serde_json::to_string(&x).unwrap_or_else(|_| "0.0".into())
}

/// The label for an unknown country.
pub fn country_label(code: &str) -> &str {
    if code.is_empty() {
        "(unknown)"
    } else {
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(visible("/a\nb\u{1b}[31m"), "/a\\nb\\u{1b}[31m");
        assert!(matches!(visible("/café"), Cow::Borrowed(_)));
        assert_eq!(percent(1.0 / 3.0), "33.3%");
        assert_eq!(ratio(0.25), "0.25");
        assert_eq!(ratio(1.0), "1.0");
        assert_eq!(country_label(""), "(unknown)");
    }
}
