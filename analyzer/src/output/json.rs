//! The `--format json` contract and `summary.json`.
//!
//! The keys are the fields of [`crate::report::model::Report`], in that order. Strings are
//! exactly as recorded.

use crate::report::model::{
    BrowserRow, CampaignRow, DayRow, DeviceRow, EventRow, OsRow, Previous, Report, SourceRow,
    Summary,
};

/// The full report as pretty-printed JSON, newline-terminated.
pub fn report(report: &Report) -> String {
    to_json(report)
}

/// What `summary.json` holds: the report without the page and user lists (those are in
/// `pages.csv` and `users.csv`, and can be millions of rows), keys in the report's order.
#[derive(serde::Serialize)]
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

/// `summary.json`.
pub fn summary(r: &Report) -> String {
    to_json(&SummaryFile {
        date: &r.date,
        from: &r.from,
        to: &r.to,
        tz: &r.tz,
        summary: &r.summary,
        hourly: &r.hourly,
        daily: &r.daily,
        sources: &r.sources,
        campaigns: &r.campaigns,
        browsers: &r.browsers,
        os: &r.os,
        devices: &r.devices,
        events: &r.events,
        previous: r.previous.as_ref(),
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("plain data always serialises");
    s.push('\n');
    s
}
