//! The live view's snapshot: what `/api/live`, the SSE stream, `dashboard live --once
//! --format json`, the live page and the terminal view all show. Field order here is the key
//! order in the JSON; keys are only ever added (documented in the README, "Live view").

use serde::Serialize;

/// Everything the live view shows at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// When it was taken (RFC 3339 UTC with milliseconds).
    pub now: String,
    /// Minutes in the window: the current UTC minute and the ones before it.
    pub window_minutes: u32,
    /// Page views in the window (bots left out, repeats dropped).
    pub hits: u64,
    /// Distinct visitors with a page view in the window.
    pub visitors: u64,
    /// Distinct signed-in users with a page view in the window.
    pub users: u64,
    /// Distinct visitors with a page view in the last [`Snapshot::now_minutes`] minutes.
    pub visitors_now: u64,
    /// Per minute of the window, oldest first; the last one is the current minute.
    pub per_minute: Vec<MinuteRow>,
    /// Pages: hits descending, then path.
    pub pages: Vec<PageRow>,
    /// Sources of the sessions the window's page views belong to.
    pub sources: Vec<SourceRow>,
    /// Countries.
    pub countries: Vec<CountryRow>,
    /// Device classes.
    pub devices: Vec<DeviceRow>,
    /// Browser families.
    pub browsers: Vec<BrowserRow>,
    /// Custom events (not page views).
    pub events: Vec<EventRow>,
    /// Crawler hits in the window (left out of every other number).
    pub bots: u64,
    /// Records of the window dropped because their `event_id` was already counted.
    pub duplicates: u64,
    /// Records read in the window that are not valid hits.
    pub rejected: u64,
    /// Valid hits read in the window whose `ts` is before the window or over a minute ahead.
    pub outside_window: u64,
    /// `now` minus the newest hit's `ts`, in ms (`null` before any hit was read).
    pub lag_ms: Option<i64>,
    /// The largest `MillisBehindLatest` over the shards being read.
    pub behind_ms: i64,
    /// Operating system families.
    pub os: Vec<OsRow>,
    /// The minutes that "now" means in `visitors_now` and each page's `now` (5).
    pub now_minutes: u32,
    /// Whether the reader has caught up with every shard since it started (false while it
    /// still reads the window's past).
    pub caught_up: bool,
}

/// One minute of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MinuteRow {
    /// The minute's start (RFC 3339 UTC).
    pub minute: String,
    /// Page views with a `ts` in that minute.
    pub hits: u64,
    /// Distinct visitors with a page view in that minute.
    pub visitors: u64,
}

/// One page of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageRow {
    /// The path as recorded.
    pub path: String,
    /// Page views.
    pub hits: u64,
    /// Distinct visitors.
    pub visitors: u64,
    /// Visitors whose latest page view in the last 5 minutes is this page.
    pub now: u64,
}

/// One source of the window's sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRow {
    /// The session's entry source (`utm_source`, the referrer's host, `(direct)`).
    pub source: String,
    /// Page views of those sessions.
    pub hits: u64,
    /// Distinct visitors.
    pub visitors: u64,
}

/// One country of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountryRow {
    /// Two-letter code, `""` when the edge did not know.
    pub country: String,
    /// Page views.
    pub hits: u64,
    /// Distinct visitors.
    pub visitors: u64,
}

/// One device class of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceRow {
    /// `desktop`, `mobile`, `tablet` or `other`.
    pub device: String,
    /// Page views.
    pub hits: u64,
    /// Distinct visitors.
    pub visitors: u64,
}

/// One browser family of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrowserRow {
    /// The family uap-core names.
    pub browser: String,
    /// Page views.
    pub hits: u64,
    /// Distinct visitors.
    pub visitors: u64,
}

/// One operating-system family of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OsRow {
    /// The family uap-core names.
    pub os: String,
    /// Page views.
    pub hits: u64,
    /// Distinct visitors.
    pub visitors: u64,
}

/// One custom event of the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    /// The event name.
    pub event: String,
    /// Times it happened.
    pub hits: u64,
    /// Distinct visitors who did it.
    pub visitors: u64,
    /// `visitors` / the window's `visitors` (6 decimals; 0 without visitors).
    pub conversion_rate: f64,
}

impl Snapshot {
    /// Whether `other` shows the same numbers, whatever their times (`now`, `lag_ms`): a
    /// snapshot that only aged is not news.
    pub fn same_numbers(&self, other: &Snapshot) -> bool {
        let strip = |s: &Snapshot| Snapshot {
            now: String::new(),
            lag_ms: None,
            ..s.clone()
        };
        strip(self) == strip(other)
    }
}
