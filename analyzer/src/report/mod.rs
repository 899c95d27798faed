//! From hit columns to a [`model::Report`]: sessions, the page, user, source, device and event
//! reports, and the summary.
//!
//! By role: [`sessions`] (ordering and session marks of one run), [`visits`] (each visitor's
//! sessions and first-of-value marks in a bucket), [`totals`] (the period's counts and the
//! summary), [`pages`], [`dimensions`] (sources, campaigns, browsers, OS, devices, countries,
//! referrers), [`events`], [`users`]; [`compute`] drives them bucket by bucket.

pub mod agents;
pub mod base;
pub mod cache;
pub mod compute;
pub mod dimensions;
pub mod events;
pub mod filter;
pub mod model;
pub mod pages;
pub mod query;
pub mod select;
pub mod sessions;
pub mod spill;
pub mod totals;
pub mod users;
pub mod visits;

pub use model::Report;
use rayon::prelude::*;

/// Sorts rows by hits descending, then name, and keeps the first `top`.
pub(crate) fn sort_top<T: Send>(
    rows: &mut Vec<T>,
    hits: impl Fn(&T) -> u64 + Sync,
    name: impl Fn(&T) -> &str + Sync,
    top: Option<usize>,
) {
    let cmp = |a: &T, b: &T| hits(b).cmp(&hits(a)).then_with(|| name(a).cmp(name(b)));
    match top {
        Some(n) if n < rows.len() => {
            rows.select_nth_unstable_by(n, cmp);
            rows.truncate(n);
            rows.sort_unstable_by(cmp);
        }
        _ => rows.par_sort_unstable_by(cmp),
    }
}

/// Prints how long a stage took on stderr when `ANALYZER_TIMING` is set (for profiling).
pub(crate) fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    // Unset, the stage runs as it is: no clock or /proc reads.
    if std::env::var_os("ANALYZER_TIMING").is_none() {
        return f();
    }
    let start = std::time::Instant::now();
    let cpu0 = cpu_secs();
    let out = f();
    eprintln!(
        "[timing] {what}: {:.2}s wall, {:.2}s cpu",
        start.elapsed().as_secs_f64(),
        cpu_secs() - cpu0
    );
    out
}

fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}
