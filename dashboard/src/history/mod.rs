//! The history half of `dashboard serve --source`: any period of the landed (or compacted)
//! days, with filters, computed by the analyzer as a library. The numbers, the JSON and the
//! page's sections are the analyzer's own ([`analyzer::report::query::run`] and
//! [`analyzer::output`]), so `/api/report` says byte for byte what `analyzer report --format
//! json` says for the same arguments.
//!
//! A period once read is kept in memory, prepared ([`analyzer::report::cache`]), so the next
//! filter on it is counted without reading or decoding anything; a day that lands more hits
//! (or is compacted anew) is read again.

pub mod params;

use analyzer::progress::Progress;
use analyzer::report::cache::Cache;
use analyzer::report::query::{self, Query};
use analyzer::report::Report;
use params::Params;
use std::sync::Arc;
use store::Store;

/// Why a report could not be made.
#[derive(Debug)]
pub enum Failed {
    /// Something in the request is wrong (HTTP 400).
    BadRequest(String),
    /// No hit files for the period (HTTP 404, as the CLI's exit 3).
    NoData(String),
    /// The server has no `--source` (HTTP 404).
    NoHistory,
    /// Reading or computing failed (HTTP 500; the details go to the server's log).
    Internal(anyhow::Error),
}

/// A report and how it was made.
pub struct Answer {
    /// The report, as `analyzer report` computes it.
    pub report: Report,
    /// Every period of it was counted from memory (nothing read).
    pub from_memory: bool,
}

/// Where the history is read from, and the one report computed at a time.
pub struct History {
    store: Store,
    /// The periods read so far.
    cache: Cache,
    /// One report at a time: each uses every core and up to its memory budget.
    running: tokio::sync::Semaphore,
    /// The zone of a request without `tz`.
    pub default_tz: chrono_tz::Tz,
    /// Bytes each report's tables may hold before they spill.
    budget: u64,
}

impl History {
    /// The history of the hits in `store`, keeping up to `cache_bytes` of periods read; each
    /// report's tables hold up to `budget` bytes before they spill.
    pub fn new(
        store: Store,
        default_tz: chrono_tz::Tz,
        cache_bytes: u64,
        budget: u64,
    ) -> Arc<History> {
        Arc::new(History {
            store,
            cache: Cache::new(cache_bytes),
            running: tokio::sync::Semaphore::new(1),
            default_tz,
            budget,
        })
    }

    /// Where the hits are read from.
    pub fn location(&self) -> String {
        self.store.location().to_string()
    }

    /// The report `params` ask for, as `analyzer report` computes it; `default_top` applies
    /// when `params` give no `top` (`None`: whole lists, as the CLI).
    pub async fn report(
        self: &Arc<Self>,
        params: &Params,
        default_top: Option<usize>,
    ) -> Result<Answer, Failed> {
        let period = params
            .period(chrono::Utc::now())
            .map_err(Failed::BadRequest)?;
        let mut q = Query::new(period);
        q.compare = params.compare;
        q.top = params.top.or(default_top);
        q.filters = params.report_filters();
        q.budget = self.budget;
        let _turn = self
            .running
            .acquire()
            .await
            .map_err(|e| Failed::Internal(e.into()))?;
        let before = self.cache.stats();
        let periods = if q.compare { 2 } else { 1 };
        let this = self.clone();
        let rt = tokio::runtime::Handle::current();
        let done = tokio::task::spawn_blocking(move || {
            query::run_with(
                &rt,
                &this.store,
                &q,
                Some(&this.cache),
                &Progress::silent(),
                &|_| {},
            )
        })
        .await
        .map_err(|e| Failed::Internal(e.into()))?;
        let after = self.cache.stats();
        let from_memory = after.read == before.read && after.found == before.found + periods;
        let report = done.map_err(|e| {
            if let Some(no) = e
                .chain()
                .find_map(|c| c.downcast_ref::<analyzer::error::NoData>())
            {
                Failed::NoData(no.to_string())
            } else if let Some(u) = e
                .chain()
                .find_map(|c| c.downcast_ref::<analyzer::error::Usage>())
            {
                Failed::BadRequest(u.0.clone())
            } else {
                Failed::Internal(e)
            }
        })?;
        Ok(Answer {
            report,
            from_memory,
        })
    }
}
