//! The report as plain Rust values: what every output format renders, and (through serde) the
//! `--format json` contract. Field order here is the key order in the JSON.

use serde::Serialize;

/// The whole report for one local day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The local calendar day, `YYYY-MM-DD`.
    pub date: String,
    /// The IANA zone the day is counted in.
    pub tz: String,
    /// Day totals.
    pub summary: Summary,
    /// One row per path: hits descending, then path.
    pub pages: Vec<PageRow>,
    /// One row per signed-in user: hits descending, then user.
    pub users: Vec<UserRow>,
    /// Hits in each local clock hour 00..23.
    pub hourly: [u64; 24],
}

/// Day totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Hits in the report (after dedup; without bots unless they were included).
    pub hits: u64,
    /// Distinct signed-in users.
    pub users: u64,
    /// Distinct visitors (every hit has one, signed in or not).
    pub visitors: u64,
    /// Sessions of people: signed-in hits per user, anonymous hits per visitor, 30-minute gap.
    pub sessions: u64,
    /// Share of those sessions that have exactly one hit (0 when there are none).
    pub bounce_rate: f64,
    /// Bot hits in the day (after dedup), whether or not they were included.
    pub bots: u64,
    /// Whether bot hits are part of `hits` and of every list (`--include-bots`).
    pub bots_included: bool,
    /// Rows of the day dropped because an earlier row had the same `event_id`.
    pub duplicates: u64,
    /// Rows in the files read that could not be used (see the README for the rules).
    pub malformed_rows: u64,
    /// Number of files read.
    pub files: u64,
    /// The UTC `dt=` partitions read.
    pub partitions: Vec<String>,
    /// Top referrer hosts (external: a referrer on the hit's own host is internal navigation).
    pub referrers: Vec<ReferrerCount>,
    /// Top countries (`""` when the edge did not know).
    pub countries: Vec<CountryCount>,
    /// Hits by status class.
    pub status_classes: StatusClasses,
}

/// Hits from one referrer host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferrerCount {
    /// Lowercase host of the referring URL.
    pub host: String,
    /// Hits with that referrer host.
    pub hits: u64,
}

/// Hits from one country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountryCount {
    /// Two-letter code as recorded, `""` when unknown.
    pub country: String,
    /// Hits from that country.
    pub hits: u64,
}

/// Hits by HTTP status class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusClasses {
    /// 100-199.
    #[serde(rename = "1xx")]
    pub c1xx: u64,
    /// 200-299.
    #[serde(rename = "2xx")]
    pub c2xx: u64,
    /// 300-399.
    #[serde(rename = "3xx")]
    pub c3xx: u64,
    /// 400-499.
    #[serde(rename = "4xx")]
    pub c4xx: u64,
    /// 500-599.
    #[serde(rename = "5xx")]
    pub c5xx: u64,
}

/// One path of the page report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageRow {
    /// The path exactly as recorded.
    pub path: String,
    /// Hits on the path.
    pub hits: u64,
    /// Distinct signed-in users who hit it.
    pub users: u64,
    /// Distinct visitors who hit it.
    pub visitors: u64,
    /// Its hits as a fraction of the day's hits (0..1, rounded to 6 decimals).
    pub share: f64,
    /// Visitor sessions that started on it.
    pub entries: u64,
    /// Visitor sessions that ended on it.
    pub exits: u64,
    /// Visitor sessions of this one hit.
    pub bounces: u64,
    /// Hits answered 400-499.
    pub errors_4xx: u64,
    /// Hits answered 500-599.
    pub errors_5xx: u64,
}

/// One signed-in user of the user report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRow {
    /// The user name exactly as recorded.
    pub user: String,
    /// The user's hits.
    pub hits: u64,
    /// Distinct paths the user hit.
    pub pages: u64,
    /// The user's sessions (30-minute inactivity gap, across all their visitors/devices).
    pub sessions: u64,
    /// First hit, RFC 3339 in the report's zone.
    pub first_seen: String,
    /// Last hit, RFC 3339 in the report's zone.
    pub last_seen: String,
    /// The user's most hit path (ties: the smallest path).
    pub top_page: String,
}

/// Rounds a ratio to 6 decimals so that JSON and CSV show stable, short numbers.
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
