//! The `--format json` contract and `summary.json`.
//!
//! `--format json` is the serde form of [`crate::report::model::Report`] (keys in field order);
//! `summary.json` is the same without `pages` and `users`. Strings are exactly as recorded.

use crate::report::model::{
    BrowserRow, CampaignRow, DayRow, DeviceRow, EventRow, OsRow, Previous, Report, SourceRow,
    Summary,
};
use serde::Serialize;

/// The full report as pretty-printed JSON, newline-terminated.
pub fn report(report: &Report) -> String {
    to_json(report)
}

/// What `summary.json` holds: the report without the page and user lists (those are in
/// `pages.csv` and `users.csv`, and can be millions of rows). The other lists stay: the
/// dashboard shows only their top rows, and this is where the rest is. Fields in the order of
/// [`Report`]'s, so the keys come in the contract's order.
#[derive(Serialize)]
struct SummaryFile<'a> {
    date: &'a str,
    from: &'a str,
    to: &'a str,
    tz: &'a str,
    summary: &'a Summary,
    hourly: &'a [u64; 24],
    daily: &'a [DayRow],
    sources: &'a [SourceRow],
    campaigns: &'a [CampaignRow],
    browsers: &'a [BrowserRow],
    os: &'a [OsRow],
    devices: &'a [DeviceRow],
    events: &'a [EventRow],
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<&'a Previous>,
}

/// `summary.json`: the JSON contract without `pages` and `users`.
pub fn summary(report: &Report) -> String {
    // Destructured whole, so a field added to `Report` does not compile here until it is
    // placed in `summary.json` or deliberately left out.
    let Report {
        date,
        from,
        to,
        tz,
        summary,
        pages: _,
        users: _,
        hourly,
        daily,
        sources,
        campaigns,
        browsers,
        os,
        devices,
        events,
        previous,
    } = report;
    to_json(&SummaryFile {
        date,
        from,
        to,
        tz,
        summary,
        hourly,
        daily,
        sources,
        campaigns,
        browsers,
        os,
        devices,
        events,
        previous: previous.as_ref(),
    })
}

fn to_json<T: Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("plain data always serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture;
    use serde_json::Value;

    /// The top-level keys of pretty-printed JSON, in order.
    fn top_keys(json: &str) -> Vec<String> {
        json.lines()
            .filter_map(|l| l.strip_prefix("  \""))
            .filter_map(|l| l.split_once('"').map(|(k, _)| k.to_string()))
            .collect()
    }

    #[test]
    fn summary_file_is_the_contract_without_pages_and_users() {
        for compare in [false, true] {
            let r = fixture::report(compare);
            let full = report(&r);
            let file = summary(&r);

            let mut want: Value = serde_json::from_str(&full).unwrap();
            let obj = want.as_object_mut().unwrap();
            assert!(obj.remove("pages").is_some() && obj.remove("users").is_some());
            assert_eq!(serde_json::from_str::<Value>(&file).unwrap(), want);

            let mut keys = top_keys(&full);
            keys.retain(|k| k != "pages" && k != "users");
            assert_eq!(top_keys(&file), keys, "same keys in the same order");
            assert_eq!(keys.contains(&"previous".to_string()), compare);
            assert!(keys.len() >= 13, "{keys:?}");
        }
    }
}
