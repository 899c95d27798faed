//! Per-visitor work inside one bucket: where each visitor's sessions begin and end, and which
//! page view is the visitor's first of each page, source, campaign, browser, OS, device and day
//! (so that summing those marks counts distinct visitors per value).
//!
//! Runs of one visitor are worked out in parallel, in chunks of whole runs.

use super::agents::Class;
use super::base::Reuse;
use super::sessions::{first_of_value, runs, session_flags, Seen, SESSION_GAP_MS};
use crate::transform::hits::Hits;
use crate::transform::intern::NONE;
use rayon::prelude::*;

/// The dimensions a first-of-visitor mark is kept for, in [`Marks::firsts`] order.
pub const FIRSTS: usize = 8;
/// [`Marks::firsts`] index: the path.
pub const F_PATH: usize = 0;
/// [`Marks::firsts`] index: the source.
pub const F_SOURCE: usize = 1;
/// [`Marks::firsts`] index: the campaign.
pub const F_CAMPAIGN: usize = 2;
/// [`Marks::firsts`] index: the browser family.
pub const F_BROWSER: usize = 3;
/// [`Marks::firsts`] index: the OS family.
pub const F_OS: usize = 4;
/// [`Marks::firsts`] index: the device class.
pub const F_DEVICE: usize = 5;
/// [`Marks::firsts`] index: the local day.
pub const F_DAY: usize = 6;
/// [`Marks::firsts`] index: the host.
pub const F_HOST: usize = 7;

/// The marks of a bucket's page views, in the order of the rows given to [`mark`].
pub struct Marks {
    /// A visitor session's first page view.
    pub entry: Vec<bool>,
    /// A visitor session's last page view.
    pub exit: Vec<bool>,
    /// A session's first counted page view (its entry, without filters): where the session is
    /// counted in the lists of sources and campaigns. Filled by the caller of [`mark`].
    pub session_first: Vec<bool>,
    /// The visitor's first page view with this value of each dimension (see [`FIRSTS`]).
    pub firsts: [Vec<bool>; FIRSTS],
    /// Visitors (runs).
    pub visitors: u64,
    /// Sessions of anonymous page views, per visitor.
    pub anon_sessions: u64,
    /// Those of one page view.
    pub anon_bounces: u64,
}

/// The marks of one chunk of runs.
struct ChunkMarks {
    entry: Vec<bool>,
    exit: Vec<bool>,
    firsts: [Vec<bool>; FIRSTS],
    anon_sessions: u64,
    anon_bounces: u64,
}

/// Cuts runs (given by their `bounds`) into chunks of whole runs of about `rows` rows: pairs
/// of indices into `bounds`.
pub fn chunks_of_runs(bounds: &[usize], rows: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let runs = bounds.len().saturating_sub(1);
    let mut start = 0;
    for r in 1..=runs {
        if bounds[r] - bounds[start] >= rows || r == runs {
            out.push((start, r));
            start = r;
        }
    }
    out
}

/// Which marks [`mark`] works out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Every mark.
    All,
    /// Sessions only: `entry`, `exit`, `visitors` and the anonymous sessions (`firsts` left
    /// empty).
    Sessions,
    /// First-of-value marks and `visitors` only (`entry` and `exit` left empty, no anonymous
    /// sessions).
    Firsts,
}

/// Marks the page views `pv` (rows of `hits` in (visitor, ts, event id) order): `classes[i]`
/// and `day[i]` are the agent class and local day index of `pv[i]` (read for the firsts only:
/// empty with [`Want::Sessions`]); `want` says which marks
/// (a filtered report takes its sessions from whole sessions and its firsts from the counted
/// page views, so each half is worked out once); `reuse`, when given, places `pv` among the
/// bucket's page views whose unfiltered marks are kept, and a visitor counted from its first
/// page view on, none missing, takes its first-of-value marks from there.
pub fn mark(
    hits: &Hits,
    pv: &[u32],
    classes: &[Class],
    day: &[u32],
    want: Want,
    reuse: Option<&Reuse<'_>>,
) -> Marks {
    let sessions = want != Want::Firsts;
    let firsts = want != Want::Sessions;
    // An unwanted mark's vectors stay empty.
    let rows_if = |on: bool, rows: usize| if on { rows } else { 0 };
    let n = pv.len();
    let bounds = runs(pv, |r| hits.vis[r as usize]);
    let chunks = chunks_of_runs(&bounds, n / (8 * rayon::current_num_threads()) + 1);
    let marked: Vec<ChunkMarks> = chunks
        .par_iter()
        .map(|&(c0, c1)| {
            let base = bounds[c0];
            let rows = bounds[c1] - base;
            let mut m = ChunkMarks {
                entry: vec![false; rows_if(sessions, rows)],
                exit: vec![false; rows_if(sessions, rows)],
                firsts: [(); FIRSTS].map(|()| vec![false; rows_if(firsts, rows)]),
                anon_sessions: 0,
                anon_bounces: 0,
            };
            let mut seen = Seen::default();
            let session_runs = if sessions { &bounds[c0..=c1] } else { &[] };
            for w in session_runs.windows(2) {
                let (a, b) = (w[0], w[1]);
                let (la, lb) = (a - base, b - base);
                let len = b - a;
                let row = |i: usize| pv[a + i] as usize;
                if len == 1 {
                    m.entry[la] = true;
                    m.exit[la] = true;
                } else {
                    session_flags(
                        |i| hits.ts[row(i)],
                        len,
                        &mut m.entry[la..lb],
                        &mut m.exit[la..lb],
                    );
                }
                // Anonymous page views make sessions of their visitor (signed-in ones are the
                // user's, counted in the user report).
                let (mut last, mut current) = (None::<i64>, 0u64);
                for i in 0..len {
                    let r = row(i);
                    if hits.user[r] != NONE {
                        continue;
                    }
                    let t = hits.ts[r];
                    if last.is_none_or(|l| t - l > SESSION_GAP_MS) {
                        m.anon_sessions += 1;
                        if current == 1 {
                            m.anon_bounces += 1;
                        }
                        current = 0;
                    }
                    current += 1;
                    last = Some(t);
                }
                if current == 1 {
                    m.anon_bounces += 1;
                }
            }
            if firsts {
                // Visitors counted from their first page view on, none missing, take their
                // kept marks; the rest are worked out.
                let mut runs = Vec::with_capacity(c1 - c0);
                for w in bounds[c0..=c1].windows(2) {
                    let (a, b) = (w[0], w[1]);
                    match reuse.and_then(|r| r.visitor_prefix(hits, a, b)) {
                        Some(bits) => {
                            for (d, out) in m.firsts.iter_mut().enumerate() {
                                for (o, &x) in out[a - base..b - base].iter_mut().zip(bits) {
                                    *o = x >> d & 1 != 0;
                                }
                            }
                        }
                        None => runs.push((a, b)),
                    }
                }
                // A dimension at a time, each with a closure of its own (one call through a
                // `dyn` per row and dimension cost more than the marks themselves).
                let [path, source, campaign, browser, os, device, days, host] = &mut m.firsts;
                let p = |k: usize| pv[k] as usize;
                let runs = (runs.as_slice(), base);
                firsts_of(runs, |k| hits.path[p(k)], path, &mut seen);
                firsts_of(runs, |k| hits.source[p(k)], source, &mut seen);
                firsts_of(runs, |k| hits.campaign[p(k)], campaign, &mut seen);
                firsts_of(runs, |k| classes[k].browser, browser, &mut seen);
                firsts_of(runs, |k| classes[k].os, os, &mut seen);
                firsts_of(runs, |k| classes[k].device as u32, device, &mut seen);
                firsts_of(runs, |k| day[k], days, &mut seen);
                firsts_of(runs, |k| hits.host[p(k)], host, &mut seen);
            }
            m
        })
        .collect();
    let mut out = Marks {
        entry: Vec::with_capacity(rows_if(sessions, n)),
        exit: Vec::with_capacity(rows_if(sessions, n)),
        session_first: Vec::new(),
        firsts: [(); FIRSTS].map(|()| Vec::with_capacity(rows_if(firsts, n))),
        visitors: (bounds.len() - 1) as u64,
        anon_sessions: 0,
        anon_bounces: 0,
    };
    for m in marked {
        out.entry.extend_from_slice(&m.entry);
        out.exit.extend_from_slice(&m.exit);
        for (all, part) in out.firsts.iter_mut().zip(&m.firsts) {
            all.extend_from_slice(part);
        }
        out.anon_sessions += m.anon_sessions;
        out.anon_bounces += m.anon_bounces;
    }
    out
}

/// Marks the first row of each value within each run of a chunk: `runs` are the runs
/// (`a..b`, positions in the page views) and the chunk's start, `value(k)` the value at
/// position `k`, `out` the chunk's marks.
fn firsts_of(
    (runs, base): (&[(usize, usize)], usize),
    value: impl Fn(usize) -> u32,
    out: &mut [bool],
    seen: &mut Seen,
) {
    for &(a, b) in runs {
        first_of_value(|i| value(a + i), b - a, &mut out[a - base..b - base], seen);
    }
}
