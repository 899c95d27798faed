//! The `--format json` contract and `summary.json`.
//!
//! `--format json` is the serde form of [`crate::report::model::Report`] (keys in field order);
//! `summary.json` is the same without `pages` and `users`. Strings are exactly as recorded.
//! Written as a stream: a list kept on disk is read back row by row while it is written.

use crate::report::model::{
    BrowserRow, CampaignRow, DayRow, DeviceRow, EventRow, HostRow, OsRow, Previous, Report, Rows,
    SourceRow, Summary,
};
use anyhow::{Context, Result};
use serde::Serialize;
use std::io::Write;

/// The full report as pretty-printed JSON, newline-terminated.
pub fn report(report: &Report) -> String {
    text(|w| write(report, w))
}

/// Writes the full report as pretty-printed JSON, newline-terminated: what
/// `analyzer report --format json` prints.
pub fn write(report: &Report, out: &mut dyn Write) -> Result<()> {
    to_writer(report, out)
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
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    filters: &'a [String],
    summary: &'a Summary,
    hourly: &'a [u64; 24],
    daily: &'a [DayRow],
    sources: &'a Rows<SourceRow>,
    campaigns: &'a Rows<CampaignRow>,
    browsers: &'a [BrowserRow],
    os: &'a [OsRow],
    devices: &'a [DeviceRow],
    events: &'a [EventRow],
    hosts: &'a [HostRow],
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<&'a Previous>,
}

/// `summary.json`: the JSON contract without `pages` and `users`.
pub fn summary(report: &Report) -> String {
    text(|w| write_summary(report, w))
}

/// Writes `summary.json`.
pub fn write_summary(report: &Report, out: &mut dyn Write) -> Result<()> {
    // Destructured whole, so a field added to `Report` does not compile here until it is
    // placed in `summary.json` or deliberately left out.
    let Report {
        date,
        from,
        to,
        tz,
        filters,
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
        hosts,
        previous,
    } = report;
    to_writer(
        &SummaryFile {
            date,
            from,
            to,
            tz,
            filters,
            summary,
            hourly,
            daily,
            sources,
            campaigns,
            browsers,
            os,
            devices,
            events,
            hosts,
            previous: previous.as_ref(),
        },
        out,
    )
}

fn to_writer<T: Serialize>(value: &T, out: &mut dyn Write) -> Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    serde_json::to_writer_pretty(&mut out, value).context("writing the report as JSON")?;
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .context("writing the report as JSON")
}

/// What `write` writes, as a string (a list on disk that cannot be read back fails loudly:
/// there is no partial report).
fn text(write: impl FnOnce(&mut dyn Write) -> Result<()>) -> String {
    let mut bytes = Vec::new();
    if let Err(e) = write(&mut bytes) {
        panic!("rendering the report: {e:#}");
    }
    String::from_utf8(bytes).expect("serde_json writes UTF-8")
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
