//! From hit files to a [`model::Report`]: loading (parse, day filter, dedup, bot filter) and
//! the page, user and summary computations.

pub mod compute;
pub mod load;
pub mod model;

pub use model::Report;

/// Attaches what was being done to a polars error (anyhow's and polars' `context` methods
/// clash when both traits are in scope).
pub(crate) fn pl<T>(result: polars::prelude::PolarsResult<T>, what: &str) -> anyhow::Result<T> {
    result.map_err(|e| anyhow::Error::new(e).context(what.to_string()))
}
