//! The report as plain Rust values: what every output format renders, and (through serde) the
//! `--format json` contract. Field order here is the key order in the JSON; keys are only ever
//! added. The counting rules are in `analyzer/README.md` ("What is counted").
//!
//! The lists that grow with the number of distinct values (pages, users, sources, campaigns)
//! are [`Rows`]: in memory, or past the memory budget on disk, streamed whenever written.

use serde::Serialize;

/// The whole report for one period (one local day, or `--from`..`--to`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The period's first local day, `YYYY-MM-DD` (for a one-day report, the day).
    pub date: String,
    /// The period's first local day.
    pub from: String,
    /// The period's last local day (inclusive).
    pub to: String,
    /// The IANA zone the period is counted in.
    pub tz: String,
    /// The `--filter` expressions the report counts under (absent: the whole period).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
    /// Period totals.
    pub summary: Summary,
    /// One row per path: page views descending, then path.
    pub pages: Rows<PageRow>,
    /// One row per signed-in user: page views descending, then user.
    pub users: Rows<UserRow>,
    /// Page views in each local clock hour 00..23, over the whole period.
    pub hourly: [u64; 24],
    /// One row per local day of the period, in date order (days without page views included).
    pub daily: Vec<DayRow>,
    /// Where page views came from: hits descending, then source.
    pub sources: Rows<SourceRow>,
    /// Page views with campaign parameters, by (source, medium, campaign).
    pub campaigns: Rows<CampaignRow>,
    /// Page views by browser family.
    pub browsers: Vec<BrowserRow>,
    /// Page views by operating system family.
    pub os: Vec<OsRow>,
    /// Page views by device class (`desktop`, `mobile`, `tablet`, `other`).
    pub devices: Vec<DeviceRow>,
    /// Custom events (every `event` other than `pageview`): hits descending, then event.
    pub events: Vec<EventRow>,
    /// Page views by the host they were served for (one deployment, several sites).
    pub hosts: Vec<HostRow>,
    /// With `--compare`: the period of equal length just before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
}

/// Period totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Page views in the report (after dedup; without bots unless they were included).
    pub hits: u64,
    /// Distinct signed-in users with a page view.
    pub users: u64,
    /// Distinct visitors with a page view (every page view has one, signed in or not).
    pub visitors: u64,
    /// Sessions of people: signed-in page views per user, anonymous ones per visitor, 30-minute gap.
    pub sessions: u64,
    /// Share of those sessions that have exactly one page view (0 when there are none).
    pub bounce_rate: f64,
    /// Bot hits (page views and events) in the period after dedup, whether or not included.
    pub bots: u64,
    /// Whether bot hits are part of every other number (`--include-bots`).
    pub bots_included: bool,
    /// Rows of the period dropped because an earlier row had the same `event_id`.
    pub duplicates: u64,
    /// Rows in the files read that are not valid hits (see the README for the rules).
    pub malformed_rows: u64,
    /// Files read whose header is not a page-hit header (refused whole, `--strict`: fatal).
    pub unknown_header_files: u64,
    /// Hit files of the period (landed objects; a compacted day counts the objects it covers).
    pub files: u64,
    /// The UTC `dt=` partitions that hold hits of the period and have files.
    pub partitions: Vec<String>,
    /// The UTC `dt=` partitions of the period with no hit files at all (missing, not zero).
    pub missing_partitions: Vec<String>,
    /// Custom events in the period (not page views).
    pub events: u64,
    /// Top referrer hosts by page views (external: a referrer on the hit's own host is internal).
    pub referrers: Vec<ReferrerCount>,
    /// Top countries by page views (`""` when the edge did not know).
    pub countries: Vec<CountryCount>,
    /// Page views by status class.
    pub status_classes: StatusClasses,
}

impl Report {
    /// The first error of a list on disk read back while the report was rendered, if any.
    pub fn read_error(&self) -> anyhow::Result<()> {
        self.pages.read_error()?;
        self.users.read_error()?;
        self.sources.read_error()?;
        self.campaigns.read_error()
    }
}

/// Page views from one referrer host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferrerCount {
    /// Lowercase host of the referring URL.
    pub host: String,
    /// Page views with that referrer host.
    pub hits: u64,
}

/// Page views from one country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountryCount {
    /// Two-letter code as recorded, `""` when unknown.
    pub country: String,
    /// Page views from that country.
    pub hits: u64,
}

/// Page views by HTTP status class.
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PageRow {
    /// The path exactly as recorded.
    pub path: String,
    /// Page views of the path.
    pub hits: u64,
    /// Distinct signed-in users who viewed it.
    pub users: u64,
    /// Distinct visitors who viewed it.
    pub visitors: u64,
    /// Its page views as a fraction of the period's (0..1, rounded to 6 decimals).
    pub share: f64,
    /// Visitor sessions that started on it.
    pub entries: u64,
    /// Visitor sessions that ended on it.
    pub exits: u64,
    /// Visitor sessions of this one page view.
    pub bounces: u64,
    /// Page views answered 400-499.
    pub errors_4xx: u64,
    /// Page views answered 500-599.
    pub errors_5xx: u64,
    /// With `--compare`: the path's page views in the previous period (0 when it had none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_hits: Option<u64>,
}

/// One signed-in user of the user report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRow {
    /// The user name exactly as recorded.
    pub user: String,
    /// The user's page views.
    pub hits: u64,
    /// Distinct paths the user viewed.
    pub pages: u64,
    /// The user's sessions (30-minute inactivity gap, across all their visitors/devices).
    pub sessions: u64,
    /// First page view, RFC 3339 in the report's zone.
    pub first_seen: String,
    /// Last page view, RFC 3339 in the report's zone.
    pub last_seen: String,
    /// The user's most viewed path (ties: the smallest path).
    pub top_page: String,
}

/// One local day of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayRow {
    /// The local date, `YYYY-MM-DD`.
    pub date: String,
    /// Page views that day.
    pub hits: u64,
    /// Distinct signed-in users with a page view that day.
    pub users: u64,
    /// Distinct visitors with a page view that day.
    pub visitors: u64,
}

/// Page views from one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRow {
    /// The source of the session's first page view: `utm_source` when set, else the referrer's
    /// host, `(internal)` when that is the site's own host, `(direct)` without a referrer.
    pub source: String,
    /// Page views.
    pub hits: u64,
    /// Distinct visitors.
    pub visitors: u64,
    /// Sessions that came from it (counted once, on their first counted page view).
    pub sessions: u64,
}

/// Page views served for one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostRow {
    /// The host of the page view.
    pub host: String,
    /// Page views.
    pub hits: u64,
    /// Distinct visitors.
    pub visitors: u64,
}

/// Page views of one campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignRow {
    /// `utm_source`.
    pub utm_source: String,
    /// `utm_medium`.
    pub utm_medium: String,
    /// `utm_campaign`.
    pub utm_campaign: String,
    /// Page views.
    pub hits: u64,
    /// Distinct visitors.
    pub visitors: u64,
    /// Sessions that came from it (counted once, on their first counted page view).
    pub sessions: u64,
}

/// Page views from one browser family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrowserRow {
    /// Browser family from the user agent (`Chrome`, `Firefox`, `Mobile Safari`, `Other`).
    pub browser: String,
    /// Page views.
    pub hits: u64,
    /// Distinct visitors.
    pub visitors: u64,
}

/// Page views from one operating system family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OsRow {
    /// OS family from the user agent (`Windows`, `Mac OS X`, `iOS`, `Android`, `Other`).
    pub os: String,
    /// Page views.
    pub hits: u64,
    /// Distinct visitors.
    pub visitors: u64,
}

/// Page views from one device class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceRow {
    /// `desktop`, `mobile`, `tablet` or `other`.
    pub device: String,
    /// Page views.
    pub hits: u64,
    /// Distinct visitors.
    pub visitors: u64,
}

/// One custom event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    /// The event name.
    pub event: String,
    /// Times it happened.
    pub hits: u64,
    /// Distinct visitors who did it.
    pub visitors: u64,
    /// `visitors` / the period's `summary.visitors` (rounded to 6 decimals; 0 without visitors).
    pub conversion_rate: f64,
}

/// The period before, for `--compare`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Previous {
    /// Its first local day.
    pub from: String,
    /// Its last local day.
    pub to: String,
    /// Its totals, counted by the same rules.
    pub summary: Summary,
}

/// Rounds a ratio to 6 decimals so that JSON and CSV show stable, short numbers.
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// `part / whole` rounded to 6 decimals, 0 when `whole` is 0.
pub fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round6(part as f64 / whole as f64)
    }
}

/// One list of the report: every row, in the list's order, with how many of them are shown
/// (`--top`). Rows live in memory, or (a list past the memory budget) in sorted runs on disk
/// that are read back in order each time the list is written.
pub struct Rows<T> {
    all: RowsIn<T>,
    total: u64,
    shown: u64,
    // The first error of a read by [`Rows::first`], which cannot return it.
    failed: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

enum RowsIn<T> {
    Memory(Vec<T>),
    Stream(std::sync::Arc<dyn RowStream<T>>),
}

/// A list kept outside memory, read back in order.
pub trait RowStream<T>: Send + Sync {
    /// Calls `f` with the first `limit` rows, in order.
    fn each(&self, limit: u64, f: &mut dyn FnMut(&T) -> anyhow::Result<()>) -> anyhow::Result<()>;
}

impl<T> Rows<T> {
    /// `rows` (already in order), showing the first `shown` (all when `None`).
    pub fn memory(rows: Vec<T>, shown: Option<usize>) -> Rows<T> {
        let total = rows.len() as u64;
        Rows {
            all: RowsIn::Memory(rows),
            total,
            shown: shown.map_or(total, |n| total.min(n as u64)),
            failed: Default::default(),
        }
    }

    /// `total` rows read from `stream`, showing the first `shown` (all when `None`).
    pub fn stream(
        stream: std::sync::Arc<dyn RowStream<T>>,
        total: u64,
        shown: Option<usize>,
    ) -> Rows<T> {
        Rows {
            all: RowsIn::Stream(stream),
            total,
            shown: shown.map_or(total, |n| total.min(n as u64)),
            failed: Default::default(),
        }
    }

    /// Rows shown (the first `--top`, or all).
    pub fn len(&self) -> usize {
        usize::try_from(self.shown).unwrap_or(usize::MAX)
    }

    /// Whether no row is shown.
    pub fn is_empty(&self) -> bool {
        self.shown == 0
    }

    /// Every row of the list, shown or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Calls `f` with each shown row, in order.
    pub fn each(&self, f: impl FnMut(&T) -> anyhow::Result<()>) -> anyhow::Result<()> {
        self.each_of(self.shown, f)
    }

    /// Calls `f` with every row, shown or not, in order (`pages.csv`, `users.csv`).
    pub fn each_all(&self, f: impl FnMut(&T) -> anyhow::Result<()>) -> anyhow::Result<()> {
        self.each_of(self.total, f)
    }

    fn each_of(
        &self,
        limit: u64,
        mut f: impl FnMut(&T) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        match &self.all {
            RowsIn::Memory(rows) => rows
                .iter()
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .try_for_each(f),
            RowsIn::Stream(s) => s.each(limit, &mut f),
        }
    }

    /// Empties the list.
    pub fn clear(&mut self) {
        *self = Rows::default();
    }

    /// The rows in memory, `None` when the list is on disk.
    pub fn in_memory(&self) -> Option<&[T]> {
        match &self.all {
            RowsIn::Memory(rows) => Some(&rows[..self.len()]),
            RowsIn::Stream(_) => None,
        }
    }
}

impl<T: Clone> Rows<T> {
    /// Copies of the first `n` shown rows.
    pub fn first(&self, n: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(n.min(self.len()));
        let limit = self.shown.min(n as u64);
        let read = self.each_of(limit, |row| {
            out.push(row.clone());
            Ok(())
        });
        // Kept for [`Rows::read_error`]: a list on disk that cannot be read back fails the
        // output, never shows as a shorter list.
        if let Err(e) = read {
            let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
            failed.get_or_insert_with(|| format!("{e:#}"));
        }
        out
    }

    /// The first error of a read by [`Rows::first`], if any.
    pub fn read_error(&self) -> anyhow::Result<()> {
        match &*self.failed.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => anyhow::bail!("reading a list of the report back: {e}"),
            None => Ok(()),
        }
    }

    /// Every shown row, copied into memory.
    pub fn to_vec(&self) -> Vec<T> {
        self.first(self.len())
    }
}

impl<T> Default for Rows<T> {
    fn default() -> Self {
        Rows::memory(Vec::new(), None)
    }
}

impl<T> From<Vec<T>> for Rows<T> {
    fn from(rows: Vec<T>) -> Self {
        Rows::memory(rows, None)
    }
}

impl<T> FromIterator<T> for Rows<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Rows::memory(iter.into_iter().collect(), None)
    }
}

impl<T: Clone> Clone for Rows<T> {
    fn clone(&self) -> Self {
        Rows {
            all: match &self.all {
                RowsIn::Memory(rows) => RowsIn::Memory(rows.clone()),
                RowsIn::Stream(s) => RowsIn::Stream(s.clone()),
            },
            total: self.total,
            shown: self.shown,
            failed: Default::default(),
        }
    }
}

impl<T: Clone + PartialEq> PartialEq for Rows<T> {
    fn eq(&self, other: &Self) -> bool {
        self.total == other.total && self.shown == other.shown && self.to_vec() == other.to_vec()
    }
}

impl<T: Clone + std::fmt::Debug> std::fmt::Debug for Rows<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows")
            .field("total", &self.total)
            .field("shown", &self.shown)
            .field("first", &self.first(20))
            .finish()
    }
}

impl<T: Serialize> Serialize for Rows<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        let mut failed = None;
        let read = self.each(|row| {
            seq.serialize_element(row).map_err(|e| {
                failed = Some(e);
                anyhow::anyhow!("serialising")
            })
        });
        if let Some(e) = failed {
            return Err(e);
        }
        read.map_err(|e| S::Error::custom(format!("{e:#}")))?;
        seq.end()
    }
}
