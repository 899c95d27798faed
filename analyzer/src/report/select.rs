//! Which of a bucket's page views and events the report counts, and as what: each page view
//! takes its session's entry source and campaign ([`attribute_sessions`]), and under
//! `--filter` the sessions, page views and events the filters keep ([`select`], and
//! [`select_hits`] for a kept bucket under filters of hits alone). The rules are written down
//! in analyzer/README.md ("Filters").
//!
//! A session here is a visitor's page views cut by the 30-minute gap, as everywhere in the
//! report; an event belongs to the session of its visitor's latest page view before it when
//! that page view is at most 30 minutes older.

use super::agents::Agents;
use super::filter::{Dimension, Filter, Filters};
use super::sessions::gap_ends_session;
use crate::transform::hits::{campaign_parts, BucketNames, Hits, Shared, PAGEVIEW};
use crate::transform::intern::{Dict, NONE};

mod hits;
pub use hits::select_hits;

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
    /// The kept page views (see [`Views`]).
    pub views: Views,
    /// For each counted page view: whether it is the first counted one of its session.
    pub session_first: Vec<bool>,
    /// The counted events, in order.
    pub events: Vec<u32>,
}

/// The page views the filters keep: the kept sessions, whole (sessions, entries, exits and
/// bounces are theirs), and among them the counted ones (those every hit filter keeps).
#[derive(Debug, PartialEq, Eq)]
pub enum Views {
    /// The kept sessions' page views as rows, in order, and the positions among them of the
    /// counted ones: for a bucket counted once (the CLI), whose sessions are then marked.
    Rows {
        /// The page views of the kept sessions, whole, in order.
        sessions: Vec<u32>,
        /// Positions in `sessions` of the counted page views.
        counted: Vec<u32>,
    },
    /// Placed among all of the bucket's page views (`Prepared::pv`), for a bucket whose
    /// unfiltered marks are kept (the dashboard's cache): the marks of a whole session are
    /// read there, so its rows are never gathered (that gather and the search for each row's
    /// place were a tenth of a broad filter's count).
    Placed {
        /// The counted page views (rows), in order.
        counted: Vec<u32>,
        /// For each counted page view, its index among all of the bucket's page views.
        at: Vec<u32>,
        /// The kept sessions as ranges of those indices, `[start, end)` each.
        spans: Vec<[u32; 2]>,
    },
}

impl Default for Views {
    fn default() -> Views {
        Views::Rows {
            sessions: Vec::new(),
            counted: Vec::new(),
        }
    }
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

/// How a [`Test`] names a code of its column (asked once per code).
type Namer<'a> = Box<dyn Fn(u32) -> String + 'a>;

/// One filter with the column it reads and the verdicts already reached, by code.
struct Test<'a> {
    filter: &'a Filter,
    /// The codes of the filter's dimension, by row (for `event`, the custom events' names;
    /// a page view's value is "pageview").
    column: &'a [u32],
    /// The value behind a code of `column` (`NONE` included).
    name: Namer<'a>,
    memo: Vec<u8>,
    none: Option<bool>,
}

impl<'a> Test<'a> {
    fn new(filter: &'a Filter, hits: &'a Hits, names: &'a Names<'_>) -> Test<'a> {
        let b = names.bucket;
        let agents = names.agents;
        let shared = names.shared;
        // The source, medium or campaign (`i`) of a campaign key, or of the term and content.
        let part = |dict: &'a Dict, i: usize| -> Namer<'a> {
            Box::new(move |code| {
                if code == NONE {
                    String::new()
                } else {
                    let (a, m, c) = campaign_parts(dict.name(code));
                    [a, m, c][i].to_string()
                }
            })
        };
        // (`Dict::name` of `NONE` is the empty name.)
        let named =
            |dict: &'a Dict| -> Namer<'a> { Box::new(move |code| dict.name(code).to_string()) };
        let (column, name): (&[u32], Namer<'a>) = match filter.dimension {
            Dimension::Page | Dimension::EntryPage | Dimension::ExitPage => {
                (&hits.path, named(&b.path))
            }
            Dimension::Host => (&hits.host, named(&b.host)),
            Dimension::Source => (&hits.source, named(&b.source)),
            Dimension::Referrer => (&hits.ref_host, named(&b.source)),
            Dimension::UtmSource => (&hits.campaign, part(&b.campaign, 0)),
            Dimension::UtmMedium => (&hits.campaign, part(&b.campaign, 1)),
            Dimension::UtmCampaign => (&hits.campaign, part(&b.campaign, 2)),
            Dimension::UtmTerm => (&hits.utm_more, part(&b.utm_more, 0)),
            Dimension::UtmContent => (&hits.utm_more, part(&b.utm_more, 1)),
            Dimension::Country => (&hits.country, Box::new(|c| shared.country.name(c))),
            Dimension::Browser => (
                &hits.agent,
                Box::new(|a| agents.browsers.name(agents.class(a).browser)),
            ),
            Dimension::Os => (
                &hits.agent,
                Box::new(|a| agents.os.name(agents.class(a).os)),
            ),
            Dimension::Device => (
                &hits.agent,
                Box::new(|a| agents.class(a).device.name().to_string()),
            ),
            Dimension::User => (&hits.user, named(&b.user)),
            Dimension::Event => (&hits.event, Box::new(|c| shared.event.name(c))),
        };
        Test {
            filter,
            column,
            name,
            memo: Vec::new(),
            none: None,
        }
    }

    /// Whether the value behind `code` passes: one byte read once the verdict is reached
    /// (`NONE`'s lies past any code's), the way to it kept out of the callers' loops.
    #[inline]
    fn pass(&mut self, code: u32) -> bool {
        match self.memo.get(code as usize) {
            Some(&v) if v != 0 => v == 1,
            None if code == NONE && self.none.is_some() => self.none == Some(true),
            _ => self.learn(code),
        }
    }

    /// [`Test::pass`] of a code whose verdict is not reached yet.
    #[cold]
    #[inline(never)]
    fn learn(&mut self, code: u32) -> bool {
        if code == NONE {
            return *self
                .none
                .get_or_insert_with(|| self.filter.matches(&(self.name)(NONE)));
        }
        let i = code as usize;
        if i >= self.memo.len() {
            self.memo.resize(i + 1, 0);
        }
        if self.memo[i] == 0 {
            self.memo[i] = if self.filter.matches(&(self.name)(code)) {
                1
            } else {
                2
            };
        }
        self.memo[i] == 1
    }

    /// Whether row `r` of `hits` passes, reading the dimension of this filter at row `r`
    /// (for a visit dimension, `r` is the session's first page view, or its last for
    /// `exit_page`).
    fn row(&mut self, hits: &Hits, r: usize) -> bool {
        if self.filter.dimension != Dimension::Event {
            return self.pass(self.column[r]);
        }
        if hits.flags[r] & PAGEVIEW != 0 {
            return *self
                .none
                .get_or_insert_with(|| self.filter.matches("pageview"));
        }
        // A custom event's name (one without a name is the empty one, never memoized with
        // the page views' verdict).
        match self.column[r] {
            NONE => self.filter.matches(""),
            code => self.pass(code),
        }
    }

    /// Clears `ok[i]` for each row `kept[i]` this filter does not keep: one column read in
    /// order, the verdict by code.
    fn rows(&mut self, hits: &Hits, kept: &[u32], ok: &mut [bool]) {
        if self.filter.dimension == Dimension::Event {
            for (o, &r) in ok.iter_mut().zip(kept) {
                *o = *o && self.row(hits, r as usize);
            }
            return;
        }
        let column = self.column;
        for (o, &r) in ok.iter_mut().zip(kept) {
            // Every row is asked (no branch on `o`): a verdict is one byte read.
            let pass = self.pass(column[r as usize]);
            *o &= pass;
        }
    }
}

/// [`steps`]: the row does not continue the session of the page view before it (none, another
/// visitor's, or one more than the session gap older).
const NEW: u8 = 1;
/// [`steps`]: the row is a page view.
const PAGE: u8 = 2;

/// What the walk of [`select`] reads of each row of `kept` (as [`select`] takes them) besides
/// the filters' columns, one byte a row (`NEW`, `PAGE`) where visitor, time and flags are
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
/// [`steps`]): in chunks cut where a session begins, side by side, joined in order. `placed`:
/// the page views come back as [`Views::Placed`] (their places among the page views of
/// `kept`), else as [`Views::Rows`].
pub fn select(
    hits: &Hits,
    kept: &[u32],
    steps: &[u8],
    filters: &Filters,
    names: &Names<'_>,
    placed: bool,
) -> Kept {
    use rayon::prelude::*;
    // A row that begins a session owes nothing to the rows before it (nor do the rows after
    // it until the next such row), so a chunk may begin there.
    let cuts = cuts(kept.len(), |at| next_new(&steps[at..]).map(|p| at + p));
    // Placed: the place of each chunk's first page view (the page views before it).
    let mut first_place: Vec<u32> = if placed {
        cuts.par_windows(2)
            .map(|w| pages_in(&steps[w[0]..w[1]]))
            .collect()
    } else {
        vec![0; cuts.len() - 1]
    };
    let mut before = 0;
    for p in &mut first_place {
        (*p, before) = (before, before + *p);
    }
    let parts: Vec<Kept> = cuts
        .par_windows(2)
        .zip(first_place)
        .map(|(w, first)| {
            let (a, b) = (w[0], w[1]);
            let place = placed.then_some(first);
            select_sessions(hits, &kept[a..b], &steps[a..b], filters, names, place)
        })
        .collect();
    // Joined into one room each, the parts copied side by side (grown part by part, the
    // join was a tenth of a broad filter's selection, on one thread). Places and rows are
    // the bucket's already; positions in `sessions` are shifted by the sessions before.
    let views = if placed {
        placed_joined(&parts)
    } else {
        let mut offsets = Vec::with_capacity(parts.len());
        let mut at = 0u32;
        for part in &parts {
            offsets.push(at);
            at += part.views.rows().0.len() as u32;
        }
        Views::Rows {
            sessions: joined(&parts, |p| p.views.rows().0, |_, v| v),
            counted: joined(&parts, |p| p.views.rows().1, |i, v| v + offsets[i]),
        }
    };
    Kept {
        views,
        session_first: joined(&parts, |p| &p.session_first, |_, v| v),
        events: joined(&parts, |p| &p.events, |_, v| v),
    }
}

/// Where to cut `n` rows into a few chunks a thread, each beginning where a session does
/// (`begins(at)`: the first such row at or after `at`), so that each chunk is selected on
/// its own (and learns its filters' verdicts by code on its own): the chunks' starts and
/// `n`.
fn cuts(n: usize, begins: impl Fn(usize) -> Option<usize>) -> Vec<usize> {
    let rows = n / (2 * rayon::current_num_threads()) + 1;
    let mut cuts = vec![0];
    let mut at = rows;
    while at < n {
        match begins(at) {
            Some(cut) => {
                cuts.push(cut);
                at = cut + rows;
            }
            None => break,
        }
    }
    cuts.push(n);
    cuts
}

/// The [`Views::Placed`] of `parts` joined in order (their rows and places are the bucket's
/// already).
fn placed_joined(parts: &[Kept]) -> Views {
    Views::Placed {
        counted: joined(parts, |p| p.views.placed().0, |_, v| v),
        at: joined(parts, |p| p.views.placed().1, |_, v| v),
        spans: joined(parts, |p| p.views.placed().2, |_, v| v),
    }
}

/// Whether every filter of hits keeps each of `rows`: a filter at a time, one column read
/// in order, the verdicts by code.
fn hit_verdicts(hits: &Hits, rows: &[u32], filters: &Filters, names: &Names<'_>) -> Vec<bool> {
    let mut ok = vec![true; rows.len()];
    for filter in filters.of_hits() {
        Test::new(filter, hits, names).rows(hits, rows, &mut ok);
    }
    ok
}

/// `bit` in each byte of a word.
const fn in_every_byte(bit: u8) -> u64 {
    u64::from_ne_bytes([bit; 8])
}

/// Page views among rows of these `steps`, eight at a time (a byte at a time, counting the
/// places of a walk was 2% of a median click).
fn pages_in(steps: &[u8]) -> u32 {
    let words = steps.chunks_exact(8);
    let rest = words.remainder();
    let whole: u32 = words
        .map(|w| {
            (u64::from_ne_bytes(w.try_into().expect("8 bytes")) & in_every_byte(PAGE)).count_ones()
        })
        .sum();
    whole + rest.iter().map(|&s| u32::from(s & PAGE != 0)).sum::<u32>()
}

/// The index in `steps` of the first row marked [`NEW`], eight rows at a time.
fn next_new(steps: &[u8]) -> Option<usize> {
    let mut words = steps.chunks_exact(8);
    for (k, w) in words.by_ref().enumerate() {
        let marks = u64::from_le_bytes(w.try_into().expect("8 bytes")) & in_every_byte(NEW);
        if marks != 0 {
            return Some(k * 8 + marks.trailing_zeros() as usize / 8);
        }
    }
    let done = steps.len() - words.remainder().len();
    let rest = words.remainder().iter().position(|&x| x & NEW != 0);
    rest.map(|p| done + p)
}

impl Views {
    /// `Rows`' sessions and counted positions (none of a `Placed`).
    fn rows(&self) -> (&[u32], &[u32]) {
        match self {
            Views::Rows { sessions, counted } => (sessions, counted),
            Views::Placed { .. } => (&[], &[]),
        }
    }

    /// `Placed`'s counted rows, places and spans (none of `Rows`).
    fn placed(&self) -> (&[u32], &[u32], &[[u32; 2]]) {
        match self {
            Views::Placed { counted, at, spans } => (counted, at, spans),
            Views::Rows { .. } => (&[], &[], &[]),
        }
    }
}

/// The places of rows among the page views of a chunk's rows, walked forward: `place(i)` is
/// the number of page views before row `i`, plus the chunk's first place.
struct Places<'a> {
    steps: &'a [u8],
    row: usize,
    place: u32,
}

impl Places<'_> {
    /// The place of the page view at row `i` (or of the next one after it), `i` no smaller
    /// than the row asked before.
    fn of(&mut self, i: usize) -> u32 {
        self.place += pages_in(&self.steps[self.row..i]);
        self.row = i;
        self.place
    }
}

/// The vectors `of` each of `parts`, joined in order, each value as `shift(part, value)`
/// gives it: one room made (zeroed room comes untouched from the allocator), filled side by
/// side.
fn joined<T: Copy + Default + Send + Sync>(
    parts: &[Kept],
    of: impl Fn(&Kept) -> &[T] + Sync,
    shift: impl Fn(usize, T) -> T + Sync,
) -> Vec<T> {
    use rayon::prelude::*;
    let total = parts.iter().map(|p| of(p).len()).sum();
    let mut out = vec![T::default(); total];
    let mut pieces = Vec::with_capacity(parts.len());
    let mut rest = out.as_mut_slice();
    for (i, part) in parts.iter().enumerate() {
        let (piece, tail) = rest.split_at_mut(of(part).len());
        pieces.push((i, piece));
        rest = tail;
    }
    pieces.into_par_iter().for_each(|(i, piece)| {
        for (o, &v) in piece.iter_mut().zip(of(&parts[i])) {
            *o = shift(i, v);
        }
    });
    out
}

/// [`select`] on rows that begin with a session's first: whether every hit filter keeps a
/// row is worked out a filter at a time (one column read in order, the verdicts by code),
/// then the rows are walked a stretch at a time between the [`NEW`] marks of `steps` (a
/// session with its events, or an event outside any session). `first_place`: the page
/// views come back placed ([`Views::Placed`]), the first of these rows' at that place.
fn select_sessions(
    hits: &Hits,
    kept: &[u32],
    steps: &[u8],
    filters: &Filters,
    names: &Names<'_>,
    first_place: Option<u32>,
) -> Kept {
    let ok = hit_verdicts(hits, kept, filters, names);
    let mut visit_tests: Vec<Test> = filters
        .of_visits()
        .map(|f| Test::new(f, hits, names))
        .collect();
    let any_hit_filter = filters.of_hits().next().is_some();
    let any_visit_filter = !visit_tests.is_empty();
    let n = kept.len();
    // Room for every row (room never written is never touched): no copy while growing.
    let placed = first_place.is_some();
    let room = |of_placed: bool| if of_placed == placed { n } else { 0 };
    let (mut sessions, mut counted) = (Vec::with_capacity(room(false)), Vec::with_capacity(n));
    let (mut at, mut spans) = (Vec::with_capacity(room(true)), Vec::new());
    let mut places = Places {
        steps,
        row: 0,
        place: first_place.unwrap_or(0),
    };
    let (mut session_first, mut events) = (Vec::with_capacity(n), Vec::with_capacity(n));
    // Without visit filters a stretch counts something only when a row of it passes the hit
    // filters: the walk goes from one such row's stretch to the next (a narrow filter skips
    // almost every row).
    let skip = any_hit_filter && !any_visit_filter;
    let mut s = 0;
    while s < n {
        if skip {
            let Some(i) = ok[s..].iter().position(|&k| k) else {
                break;
            };
            // `s` begins a stretch, so one begins between it and the passing row.
            s = (s..=s + i)
                .rev()
                .find(|&j| steps[j] & NEW != 0)
                .unwrap_or(s);
        }
        let e = s + 1 + next_new(&steps[s + 1..]).unwrap_or(n - s - 1);
        let rows = s..e;
        if steps[s] & PAGE == 0 {
            // An event outside any session (a later row would begin a stretch of its own).
            if ok[s] && !any_visit_filter {
                events.push(kept[s]);
            }
            s = e;
            continue;
        }
        let visit_ok = !any_visit_filter || {
            let last = rows
                .clone()
                .rev()
                .find(|&i| steps[i] & PAGE != 0)
                .unwrap_or(s);
            visit_tests.iter_mut().all(|t| {
                let at = if t.filter.dimension == Dimension::ExitPage {
                    last
                } else {
                    s
                };
                t.row(hits, kept[at] as usize)
            })
        };
        if !visit_ok {
            s = e;
            continue;
        }
        let keep = !any_hit_filter || rows.clone().any(|i| steps[i] & PAGE != 0 && ok[i]);
        let mut first_counted = true;
        // Placed: the place of each page view of the stretch, counted along (the rows'
        // walk, the CLI's, counts none).
        let start = if placed { places.of(s) } else { 0 };
        let mut place = start;
        for i in rows {
            if steps[i] & PAGE == 0 {
                if ok[i] {
                    events.push(kept[i]);
                }
                continue;
            }
            if keep && ok[i] {
                if placed {
                    counted.push(kept[i]);
                    at.push(place);
                } else {
                    counted.push(sessions.len() as u32);
                }
                session_first.push(std::mem::take(&mut first_counted));
            }
            if keep && !placed {
                sessions.push(kept[i]);
            }
            place += 1;
        }
        if placed {
            (places.row, places.place) = (e, place);
            if keep {
                spans.push([start, place]);
            }
        }
        s = e;
    }
    let views = match first_place {
        Some(_) => Views::Placed { counted, at, spans },
        None => Views::Rows { sessions, counted },
    };
    Kept {
        views,
        session_first,
        events,
    }
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

    #[test]
    fn page_views_are_counted_and_session_starts_found_a_word_at_a_time() {
        // Every length up to three words and every place of the first NEW, against the byte
        // at a time answer.
        let all: Vec<u8> = (0..40u32)
            .map(|i| [PAGE, 0, PAGE, PAGE, 0][(i * 7 % 5) as usize])
            .collect();
        for len in 0..all.len() {
            let steps = &all[..len];
            let want = steps.iter().filter(|&&s| s & PAGE != 0).count() as u32;
            assert_eq!(pages_in(steps), want, "{len} rows");
            for at in 0..len {
                let mut steps = steps.to_vec();
                steps[at] |= NEW;
                if at + 1 < len {
                    steps[len - 1] |= NEW;
                }
                assert_eq!(next_new(&steps), Some(at), "{len} rows, NEW at {at}");
            }
            assert_eq!(next_new(steps), None);
        }
    }
}
