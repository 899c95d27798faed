//! Per-visitor work inside one bucket: where each visitor's sessions begin and end, and which
//! page view is the visitor's first of each page, source, campaign, browser, OS, device and day
//! (so that summing those marks counts distinct visitors per value).
//!
//! Runs of one visitor are worked out in parallel, in chunks of whole runs.

use super::agents::Classes;
use super::base::Reuse;
use super::sessions::{first_of_value, gap_ends_session, runs, session_flags, Seen};
use crate::transform::hits::Hits;
use crate::transform::intern::NONE;
use rayon::prelude::*;

/// The dimensions a first-of-visitor mark is kept for, in [`first`] bit order.
pub const FIRSTS: usize = 8;
/// Dimension ([`first`]): the path.
pub const F_PATH: usize = 0;
/// Dimension ([`first`]): the source.
pub const F_SOURCE: usize = 1;
/// Dimension ([`first`]): the campaign.
pub const F_CAMPAIGN: usize = 2;
/// Dimension ([`first`]): the browser family.
pub const F_BROWSER: usize = 3;
/// Dimension ([`first`]): the OS family.
pub const F_OS: usize = 4;
/// Dimension ([`first`]): the device class.
pub const F_DEVICE: usize = 5;
/// Dimension ([`first`]): the local day.
pub const F_DAY: usize = 6;
/// Dimension ([`first`]): the host.
pub const F_HOST: usize = 7;

/// [`Marks::bits`]: a visitor session's first page view.
pub const ENTRY: u16 = 1 << FIRSTS;
/// [`Marks::bits`]: a visitor session's last page view.
pub const EXIT: u16 = 1 << (FIRSTS + 1);
/// [`Marks::bits`]: a session's first counted page view (its entry, without filters): where
/// the session is counted in the lists of sources and campaigns. Set by the caller of [`mark`].
pub const SESSION_FIRST: u16 = 1 << (FIRSTS + 2);

/// [`Marks::bits`]: the visitor's first page view with its value of dimension `d` (a
/// [`FIRSTS`] index).
pub const fn first(d: usize) -> u16 {
    1 << d
}

/// [`Marks::bits`]: the first page view of a session of the visitor's anonymous page views
/// (those sessions lie inside the visitor's sessions: a whole session kept keeps them whole).
pub const ANON_START: u16 = 1 << (FIRSTS + 3);
/// [`Marks::bits`]: the first page view of such a session of one page view (a bounce).
pub const ANON_BOUNCE: u16 = 1 << (FIRSTS + 4);
/// [`Marks::bits`] (of every page view, with [`Want::All`]): all of the visitor's page views
/// have one agent, so one browser, OS and device.
pub const SAME_AGENT: u16 = 1 << (FIRSTS + 5);
/// [`Marks::bits`] (of every page view, with [`Want::All`]): all of the visitor's page views
/// have one host.
pub const SAME_HOST: u16 = 1 << (FIRSTS + 6);
/// The first-of-value bits of the dimensions that come from the agent.
const AGENT_FIRSTS: u16 = first(F_BROWSER) | first(F_OS) | first(F_DEVICE);

/// The [`first`] bits of every dimension.
pub const FIRSTS_MASK: u16 = (1 << FIRSTS) - 1;

/// The marks of a bucket's page views, in the order of the rows given to [`mark`].
pub struct Marks {
    /// Per page view, its marks as bits: [`first`] of each dimension, [`ENTRY`], [`EXIT`],
    /// [`SESSION_FIRST`], [`ANON_START`], [`ANON_BOUNCE`] (two bytes a page view, where a
    /// vector per mark took eleven).
    pub bits: Vec<u16>,
    /// Visitors (runs).
    pub visitors: u64,
    /// Sessions of anonymous page views, per visitor.
    pub anon_sessions: u64,
    /// Those of one page view.
    pub anon_bounces: u64,
}

impl Marks {
    /// Whether page view `i` has the mark `bit`.
    #[inline]
    pub fn has(&self, i: usize, bit: u16) -> bool {
        self.bits[i] & bit != 0
    }
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
    /// Sessions only: [`ENTRY`], [`EXIT`], `visitors` and the anonymous sessions (no
    /// [`first`] bit set).
    Sessions,
    /// First-of-value marks and `visitors` only (no [`ENTRY`] or [`EXIT`], no anonymous
    /// sessions).
    Firsts,
}

/// Marks the page views `pv` (rows of `hits` in (visitor, ts, event id) order): `classes`
/// classes the agents and `day[i]` is the local day index of `pv[i]` (read for the firsts
/// only: empty with [`Want::Sessions`]); `want` says which marks
/// (a filtered report takes its sessions from whole sessions and its firsts from the counted
/// page views, so each half is worked out once); `reuse`, when given, places `pv` among the
/// bucket's page views whose unfiltered marks are kept, and a visitor counted from its first
/// page view on, none missing, takes its first-of-value marks from there.
pub fn mark(
    hits: &Hits,
    pv: &[u32],
    classes: &Classes,
    day: &[u32],
    want: Want,
    reuse: Option<&Reuse<'_>>,
) -> Marks {
    let sessions = want != Want::Firsts;
    let firsts = want != Want::Sessions;
    let n = pv.len();
    let bounds = runs(pv, |r| hits.vis[r as usize]);
    let chunks = chunks_of_runs(&bounds, n / (8 * rayon::current_num_threads()) + 1);
    let mut bits = vec![0u16; n];
    // Each chunk marks its own stretch of `bits`.
    let mut parts = Vec::with_capacity(chunks.len());
    let mut rest = bits.as_mut_slice();
    for &(c0, c1) in &chunks {
        let (part, tail) = rest.split_at_mut(bounds[c1] - bounds[c0]);
        parts.push(part);
        rest = tail;
    }
    let counts: Vec<(u64, u64)> = chunks
        .par_iter()
        .zip(parts)
        .map(|(&(c0, c1), out)| {
            let base = bounds[c0];
            let (mut anon_sessions, mut anon_bounces) = (0u64, 0u64);
            let (mut entry, mut exit) = (Vec::new(), Vec::new());
            let session_runs = if sessions { &bounds[c0..=c1] } else { &[] };
            for w in session_runs.windows(2) {
                let (a, b) = (w[0], w[1]);
                let len = b - a;
                let row = |i: usize| pv[a + i] as usize;
                if len == 1 {
                    out[a - base] |= ENTRY | EXIT;
                } else {
                    entry.resize(len, false);
                    exit.resize(len, false);
                    session_flags(|i| hits.ts[row(i)], len, &mut entry, &mut exit);
                    for (i, o) in out[a - base..b - base].iter_mut().enumerate() {
                        *o |= if entry[i] { ENTRY } else { 0 } | if exit[i] { EXIT } else { 0 };
                    }
                }
                // Anonymous page views make sessions of their visitor (signed-in ones are the
                // user's, counted in the user report).
                let (mut last, mut current, mut start) = (None::<i64>, 0u64, 0usize);
                let mut bounce = |current: u64, start: usize, out: &mut [u16]| {
                    if current == 1 {
                        anon_bounces += 1;
                        out[start] |= ANON_BOUNCE;
                    }
                };
                for i in 0..len {
                    let r = row(i);
                    if hits.user[r] != NONE {
                        continue;
                    }
                    let t = hits.ts[r];
                    if last.is_none_or(|l| gap_ends_session(l, t)) {
                        anon_sessions += 1;
                        bounce(current, start, out);
                        current = 0;
                        start = a + i - base;
                        out[start] |= ANON_START;
                    }
                    current += 1;
                    last = Some(t);
                }
                bounce(current, start, out);
            }
            if firsts {
                let p = |k: usize| pv[k] as usize;
                // Visitors counted from their first page view on, none missing, take their
                // kept marks; the rest are worked out, but for a dimension that has one value
                // on all of a visitor's page views, whose first counted one is its first.
                let mut runs = Vec::with_capacity(c1 - c0);
                let (mut agent_runs, mut host_runs) = (Vec::new(), Vec::new());
                for w in bounds[c0..=c1].windows(2) {
                    let (a, b) = (w[0], w[1]);
                    let same = match reuse {
                        Some(r) => match r.visitor_prefix(hits, a, b) {
                            Some(kept) => {
                                for (o, &x) in out[a - base..b - base].iter_mut().zip(kept) {
                                    *o |= x & FIRSTS_MASK;
                                }
                                continue;
                            }
                            None => r.same(a),
                        },
                        // All of the visitor's page views (or, filtered, some of them).
                        None => {
                            let (agent, host) = (hits.agent[p(a)], hits.host[p(a)]);
                            let agent = (a + 1..b).all(|k| hits.agent[p(k)] == agent);
                            let host = (a + 1..b).all(|k| hits.host[p(k)] == host);
                            let same = if agent { SAME_AGENT } else { 0 }
                                | if host { SAME_HOST } else { 0 };
                            if want == Want::All {
                                out[a - base..b - base].iter_mut().for_each(|o| *o |= same);
                            }
                            same
                        }
                    };
                    runs.push((a, b));
                    if same & SAME_AGENT != 0 {
                        out[a - base] |= AGENT_FIRSTS;
                    } else {
                        agent_runs.push((a, b));
                    }
                    if same & SAME_HOST != 0 {
                        out[a - base] |= first(F_HOST);
                    } else {
                        host_runs.push((a, b));
                    }
                }
                // A dimension at a time, each with a closure of its own (one call through a
                // `dyn` per row and dimension cost more than the marks themselves).
                let mut seen = Seen::default();
                let r = (runs.as_slice(), base);
                firsts_of(r, first(F_PATH), |k| hits.path[p(k)], out, &mut seen);
                firsts_of(r, first(F_SOURCE), |k| hits.source[p(k)], out, &mut seen);
                firsts_of(
                    r,
                    first(F_CAMPAIGN),
                    |k| hits.campaign[p(k)],
                    out,
                    &mut seen,
                );
                firsts_of(r, first(F_DAY), |k| day[k], out, &mut seen);
                let class = |k: usize| classes.of(hits.agent[p(k)]);
                let r = (agent_runs.as_slice(), base);
                firsts_of(r, first(F_BROWSER), |k| class(k).browser, out, &mut seen);
                firsts_of(r, first(F_OS), |k| class(k).os, out, &mut seen);
                let device = |k: usize| class(k).device as u32;
                firsts_of(r, first(F_DEVICE), device, out, &mut seen);
                let r = (host_runs.as_slice(), base);
                firsts_of(r, first(F_HOST), |k| hits.host[p(k)], out, &mut seen);
            }
            (anon_sessions, anon_bounces)
        })
        .collect();
    let mut out = Marks {
        bits,
        visitors: (bounds.len() - 1) as u64,
        anon_sessions: 0,
        anon_bounces: 0,
    };
    for (s, b) in counts {
        out.anon_sessions += s;
        out.anon_bounces += b;
    }
    out
}

/// Marks (`bit`) the first row of each value within each run of a chunk: `runs` are the
/// runs (`a..b`, positions in the page views) and the chunk's start, `value(k)` the value at
/// position `k`, `out` the chunk's marks.
fn firsts_of(
    (runs, base): (&[(usize, usize)], usize),
    bit: u16,
    value: impl Fn(usize) -> u32,
    out: &mut [u16],
    seen: &mut Seen,
) {
    for &(a, b) in runs {
        let run = &mut out[a - base..b - base];
        first_of_value(|i| value(a + i), b - a, |i| run[i] |= bit, seen);
    }
}
