//! Which of a bucket's page views and events the report counts, and as what: each page view
//! takes its session's entry source and campaign ([`attribute_sessions`]), and under
//! `--filter` the sessions, page views and events the filters keep ([`select`]). The rules are
//! written down in analyzer/README.md ("Filters").
//!
//! A session here is a visitor's page views cut by the 30-minute gap, as everywhere in the
//! report; an event belongs to the session of its visitor's latest page view before it when
//! that page view is at most 30 minutes older.

use super::agents::Agents;
use super::filter::{Dimension, Filter, Filters};
use super::sessions::gap_ends_session;
use crate::transform::hits::{campaign_parts, BucketNames, Hits, Shared, PAGEVIEW};
use crate::transform::intern::NONE;

/// Gives each page view of `pv` (rows of `hits` in (visitor, ts, event id) order) the source
/// and campaign of its session's first page view: sources and campaigns are properties of a
/// visit, so a click from one page of the site to another is not a source.
pub fn attribute_sessions(hits: &mut Hits, pv: &[u32]) {
    let mut entry = 0usize;
    let mut last: Option<(u64, i64)> = None;
    for &r in pv {
        let r = r as usize;
        let starts = last.is_none_or(|(v, t)| v != hits.vis[r] || gap_ends_session(t, hits.ts[r]));
        if starts {
            entry = r;
        } else {
            hits.source[r] = hits.source[entry];
            hits.campaign[r] = hits.campaign[entry];
        }
        last = Some((hits.vis[r], hits.ts[r]));
    }
}

/// A bucket's rows as the filters keep them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Kept {
    /// The page views of the kept sessions, whole, in order (sessions, entries, exits and
    /// bounces are theirs).
    pub sessions: Vec<u32>,
    /// Positions in `sessions` of the counted page views (those every hit filter keeps).
    pub counted: Vec<u32>,
    /// For each counted page view: whether it is the first counted one of its session.
    pub session_first: Vec<bool>,
    /// The counted events, in order.
    pub events: Vec<u32>,
}

/// What the filters read besides the hit columns: the names behind the codes.
pub struct Names<'a> {
    /// The bucket's names.
    pub bucket: &'a BucketNames,
    /// Countries and event names.
    pub shared: &'a Shared,
    /// Browser and OS families and device classes (agents already classified).
    pub agents: &'a Agents,
}

/// One filter with the verdicts already reached, by code.
struct Test<'f> {
    filter: &'f Filter,
    memo: Vec<u8>,
    none: Option<bool>,
}

impl<'f> Test<'f> {
    fn new(filter: &'f Filter) -> Test<'f> {
        Test {
            filter,
            memo: Vec::new(),
            none: None,
        }
    }

    /// Whether the value behind `code` passes (`value` names it, asked once per code).
    fn pass(&mut self, code: u32, value: impl FnOnce() -> String) -> bool {
        if code == NONE {
            return *self
                .none
                .get_or_insert_with(|| self.filter.matches(&value()));
        }
        let i = code as usize;
        if i >= self.memo.len() {
            self.memo.resize(i + 1, 0);
        }
        if self.memo[i] == 0 {
            self.memo[i] = if self.filter.matches(&value()) { 1 } else { 2 };
        }
        self.memo[i] == 1
    }

    /// Whether row `r` of `hits` passes, reading the dimension of this filter at row `r`
    /// (for a visit dimension, `r` is the session's first page view, or its last for
    /// `exit_page`).
    fn row(&mut self, hits: &Hits, names: &Names<'_>, r: usize) -> bool {
        let b = names.bucket;
        let part = |code: u32, dict: &crate::transform::intern::Dict, i: usize| {
            if code == NONE {
                String::new()
            } else {
                let key = dict.name(code);
                let (a, m, c) = campaign_parts(key);
                [a, m, c][i].to_string()
            }
        };
        let class = |agent: u32| names.agents.class(agent);
        match self.filter.dimension {
            Dimension::Page | Dimension::EntryPage | Dimension::ExitPage => {
                self.pass(hits.path[r], || b.path.name(hits.path[r]).to_string())
            }
            Dimension::Host => self.pass(hits.host[r], || b.host.name(hits.host[r]).to_string()),
            Dimension::Source => {
                self.pass(hits.source[r], || b.source.name(hits.source[r]).to_string())
            }
            Dimension::Referrer => self.pass(hits.ref_host[r], || {
                b.ref_host.name(hits.ref_host[r]).to_string()
            }),
            Dimension::UtmSource => {
                self.pass(hits.campaign[r], || part(hits.campaign[r], &b.campaign, 0))
            }
            Dimension::UtmMedium => {
                self.pass(hits.campaign[r], || part(hits.campaign[r], &b.campaign, 1))
            }
            Dimension::UtmCampaign => {
                self.pass(hits.campaign[r], || part(hits.campaign[r], &b.campaign, 2))
            }
            Dimension::UtmTerm => {
                self.pass(hits.utm_more[r], || part(hits.utm_more[r], &b.utm_more, 0))
            }
            Dimension::UtmContent => {
                self.pass(hits.utm_more[r], || part(hits.utm_more[r], &b.utm_more, 1))
            }
            Dimension::Country => self.pass(hits.country[r], || {
                names.shared.country.name(hits.country[r])
            }),
            Dimension::Browser => self.pass(hits.agent[r], || {
                names.agents.browsers.name(class(hits.agent[r]).browser)
            }),
            Dimension::Os => self.pass(hits.agent[r], || {
                names.agents.os.name(class(hits.agent[r]).os)
            }),
            Dimension::Device => self.pass(hits.agent[r], || {
                class(hits.agent[r]).device.name().to_string()
            }),
            Dimension::User => self.pass(hits.user[r], || b.user.name(hits.user[r]).to_string()),
            Dimension::Event => {
                if hits.flags[r] & PAGEVIEW != 0 {
                    self.pass(NONE, || "pageview".to_string())
                } else {
                    // A custom event's code; page views (NONE) were answered above.
                    let code = hits.event[r];
                    let name = || names.shared.event.name(code);
                    if code == NONE {
                        self.filter.matches(&name())
                    } else {
                        self.pass(code, name)
                    }
                }
            }
        }
    }
}

/// The session being walked.
#[derive(Default)]
struct Session {
    /// Its page views, and whether each passes the hit filters.
    rows: Vec<(u32, bool)>,
    /// The events that belong to it and pass the hit filters.
    events: Vec<u32>,
}

/// [`steps`]: the row does not continue the session of the page view before it (none, another
/// visitor's, or one more than the session gap older).
const NEW: u8 = 1;
/// [`steps`]: the row is a page view.
const PAGE: u8 = 2;

/// What the walk of [`select`] reads of each row of `kept` (as [`select`] takes them) besides
/// the filters' columns, one byte a row ([`NEW`], [`PAGE`]) where visitor, time and flags are
/// 17: it does not depend on the filters, so a kept bucket works it out once.
pub fn steps(hits: &Hits, kept: &[u32]) -> Vec<u8> {
    use rayon::prelude::*;
    let bounds = super::sessions::runs(kept, |r| hits.vis[r as usize]);
    let rows = kept.len() / (8 * rayon::current_num_threads()) + 1;
    let parts: Vec<Vec<u8>> = super::visits::chunks_of_runs(&bounds, rows)
        .into_par_iter()
        .map(|(c0, c1)| {
            let mut out = Vec::with_capacity(bounds[c1] - bounds[c0]);
            // The visitor and time of the latest page view.
            let mut last: Option<(u64, i64)> = None;
            for &r in &kept[bounds[c0]..bounds[c1]] {
                let r = r as usize;
                let (vis, ts) = (hits.vis[r], hits.ts[r]);
                let in_session = last.is_some_and(|(v, t)| v == vis && !gap_ends_session(t, ts));
                let page = hits.flags[r] & PAGEVIEW != 0;
                if page {
                    last = Some((vis, ts));
                }
                out.push(if in_session { 0 } else { NEW } | if page { PAGE } else { 0 });
            }
            out
        })
        .collect();
    parts.concat()
}

/// Applies `filters` to a bucket's rows `kept` (page views and events of `hits`, in (visitor,
/// ts, event id) order, repeats and left-out bots already dropped; `steps` theirs, see
/// [`steps`]): in chunks cut where a session begins, side by side, joined in order.
pub fn select(
    hits: &Hits,
    kept: &[u32],
    steps: &[u8],
    filters: &Filters,
    names: &Names<'_>,
) -> Kept {
    use rayon::prelude::*;
    // A few chunks a thread: each learns its filters' verdicts by code on its own. A row that
    // begins a session owes nothing to the rows before it (nor do the rows after it until
    // the next such row), so a chunk may begin there.
    let rows = kept.len() / (2 * rayon::current_num_threads()) + 1;
    let mut cuts = vec![0];
    let mut at = rows;
    while at < kept.len() {
        match steps[at..].iter().position(|&s| s & NEW != 0) {
            Some(p) => {
                cuts.push(at + p);
                at += p + rows;
            }
            None => break,
        }
    }
    cuts.push(kept.len());
    let parts: Vec<Kept> = cuts
        .par_windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            select_sessions(hits, &kept[a..b], &steps[a..b], filters, names)
        })
        .collect();
    let mut parts = parts.into_iter();
    let mut out = parts.next().unwrap_or_default();
    for part in parts {
        let offset = out.sessions.len() as u32;
        out.counted.extend(part.counted.iter().map(|&i| i + offset));
        out.sessions.extend_from_slice(&part.sessions);
        out.session_first.extend_from_slice(&part.session_first);
        out.events.extend_from_slice(&part.events);
    }
    out
}

/// [`select`] on rows that begin with a session's first.
fn select_sessions(
    hits: &Hits,
    kept: &[u32],
    steps: &[u8],
    filters: &Filters,
    names: &Names<'_>,
) -> Kept {
    let mut hit_tests: Vec<Test> = filters.of_hits().map(Test::new).collect();
    let mut visit_tests: Vec<Test> = filters.of_visits().map(Test::new).collect();
    let any_hit_filter = !hit_tests.is_empty();
    let any_visit_filter = !visit_tests.is_empty();
    let mut out = Kept::default();
    let mut session = Session::default();

    let close = |s: &mut Session, out: &mut Kept, visit_tests: &mut Vec<Test>| {
        let (Some(&(first, _)), Some(&(end, _))) = (s.rows.first(), s.rows.last()) else {
            return;
        };
        let visit_ok = visit_tests.iter_mut().all(|t| {
            let at = if t.filter.dimension == Dimension::ExitPage {
                end
            } else {
                first
            };
            t.row(hits, names, at as usize)
        });
        let keep = visit_ok && (!any_hit_filter || s.rows.iter().any(|&(_, ok)| ok));
        if keep {
            let mut first_counted = true;
            for &(r, ok) in &s.rows {
                if ok {
                    out.counted.push(out.sessions.len() as u32);
                    out.session_first.push(std::mem::take(&mut first_counted));
                }
                out.sessions.push(r);
            }
        }
        if visit_ok {
            out.events.extend_from_slice(&s.events);
        }
        s.rows.clear();
        s.events.clear();
    };

    for (&r, &step) in kept.iter().zip(steps) {
        let ri = r as usize;
        let in_session = step & NEW == 0;
        let hit_ok = hit_tests.iter_mut().all(|t| t.row(hits, names, ri));
        // Past the gap (or another visitor) the open session has ended, whatever comes.
        if !in_session {
            close(&mut session, &mut out, &mut visit_tests);
        }
        if step & PAGE != 0 {
            session.rows.push((r, hit_ok));
        } else if hit_ok {
            if in_session {
                session.events.push(r);
            } else if !any_visit_filter {
                out.events.push(r);
            }
        }
    }
    close(&mut session, &mut out, &mut visit_tests);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_mark_page_views_and_where_a_session_cannot_continue() {
        const GAP: i64 = super::super::sessions::SESSION_GAP_MS;
        // Visitor 1: a page view, an event, a page view within the gap, an event past the
        // gap (no session of its own), a page view after it; visitor 2: an event first, then
        // a page view.
        let hits = Hits {
            vis: vec![1, 1, 1, 1, 1, 2, 2],
            ts: vec![0, 10, GAP, 2 * GAP + 1, 2 * GAP + 2, 5, 6],
            flags: vec![PAGEVIEW, 0, PAGEVIEW, 0, PAGEVIEW, 0, PAGEVIEW],
            ..Hits::default()
        };
        let kept: Vec<u32> = (0..7).collect();
        assert_eq!(
            steps(&hits, &kept),
            [NEW | PAGE, 0, PAGE, NEW, NEW | PAGE, NEW, NEW | PAGE]
        );
    }
}
