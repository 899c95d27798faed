//! The live window: exact counts over the last N UTC minutes of hits, by each hit's own `ts`,
//! with memory bounded whatever the traffic. Pure: the clock is an argument of every call.
//!
//! - The window is the current minute and the `minutes - 1` before it ([`Minute`] buckets in a
//!   ring); a bucket leaving the window takes its counts with it.
//! - Distinct visitors of anything (the window, a page, a source, ...) are kept per visitor as
//!   the last minute in which the visitor had that value ([`Entry`]); a visitor is listed in
//!   the bucket of each minute it touched, so that bucket's eviction finds its entries.
//! - "Now" is the last [`NOW_MS`]: a visitor counts in `visitors_now`, and on the page of its
//!   latest page view, until [`NOW_MS`] after that page view (a queue of expiries), so a
//!   visitor who left is not counted on any page.
//! - Sources are properties of a session (the report's rule): a visitor's page views take the
//!   source of the first page view of their session (no gap over 30 minutes).
//! - Each list's values are capped ([`Tally`]): past `max_values` distinct values a dimension
//!   counts the rest as `(other)`.
//!
//! State is proportional to the visitors of the last max(window, 30 minutes) and to the
//! window's hits (its event ids, to drop repeats), and each list to at most `max_values`.

mod agents;
mod tally;

use crate::snapshot::{
    BrowserRow, CountryRow, DeviceRow, EventRow, MinuteRow, OsRow, PageRow, Snapshot, SourceRow,
};
use analyzer::report::model::ratio;
use analyzer::report::sessions::{gap_ends_session, SESSION_GAP_MS};
use hashbrown::{HashMap, HashSet};
use pagehit::HitRef;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
pub use tally::{Tally, OTHER, OTHER_NAME};

/// What "now" means: visitors with a page view in the last 5 minutes (Plausible's definition).
pub const NOW_MS: i64 = 5 * 60_000;
/// How far ahead of the clock a hit's `ts` may be and still be counted (edge clocks differ).
pub const FUTURE_MS: i64 = 60_000;
const MINUTE_MS: i64 = 60_000;
/// The longest window.
pub const MAX_MINUTES: u32 = 60;

type Hasher = foldhash::fast::RandomState;

/// The dimensions counted per visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
enum Dim {
    /// Every page view (one value): the window's hits and visitors.
    All,
    Pages,
    Sources,
    Countries,
    Browsers,
    Os,
    Devices,
    Events,
    Users,
}

const DIMS: usize = 9;

/// How the window is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Minutes in the window (1 to [`MAX_MINUTES`]).
    pub minutes: u32,
    /// Rows of each list in a snapshot.
    pub top: usize,
    /// Distinct values a list counts by name at once; the rest are `(other)`.
    pub max_values: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            minutes: 30,
            top: 50,
            max_values: 10_000,
        }
    }
}

/// One minute of the window.
#[derive(Default)]
struct Minute {
    hits: u64,
    bots: u64,
    duplicates: u64,
    rejected: u64,
    outside: u64,
    visitors: HashSet<u64, Hasher>,
    /// Event ids counted in this minute (a repeat has the same `ts`, so the same minute).
    seen: HashSet<u128, Hasher>,
    /// Hits per (dimension, slot) in this minute.
    counts: HashMap<(Dim, u32), u32, Hasher>,
    /// Visitors with an entry whose minute is this one.
    touched: Vec<u64>,
}

/// A visitor's last minute with one value of one dimension.
#[derive(Debug, Clone, Copy)]
struct Entry {
    dim: Dim,
    slot: u32,
    minute: i64,
}

/// Entries a visitor keeps in a list before they are kept in a map (a visitor with thousands
/// of distinct pages must not make each hit a linear search).
const SMALL: usize = 24;

enum Entries {
    Small(Vec<Entry>),
    Large(HashMap<(Dim, u32), i64, Hasher>),
}

impl Entries {
    /// Sets the entry's minute to at least `minute`; true when the entry is new.
    fn touch(&mut self, dim: Dim, slot: u32, minute: i64) -> bool {
        match self {
            Entries::Small(list) => {
                if let Some(e) = list.iter_mut().find(|e| e.dim == dim && e.slot == slot) {
                    e.minute = e.minute.max(minute);
                    return false;
                }
                if list.len() < SMALL {
                    list.push(Entry { dim, slot, minute });
                    return true;
                }
                let mut map: HashMap<(Dim, u32), i64, Hasher> =
                    list.iter().map(|e| ((e.dim, e.slot), e.minute)).collect();
                map.insert((dim, slot), minute);
                *self = Entries::Large(map);
                true
            }
            Entries::Large(map) => match map.entry((dim, slot)) {
                hashbrown::hash_map::Entry::Occupied(mut o) => {
                    let m = o.get_mut();
                    *m = (*m).max(minute);
                    false
                }
                hashbrown::hash_map::Entry::Vacant(v) => {
                    v.insert(minute);
                    true
                }
            },
        }
    }

    /// Removes the entries of minutes up to `minute`, calling `gone` for each.
    fn expire(&mut self, minute: i64, mut gone: impl FnMut(Dim, u32)) {
        match self {
            Entries::Small(list) => list.retain(|e| {
                let keep = e.minute > minute;
                if !keep {
                    gone(e.dim, e.slot);
                }
                keep
            }),
            Entries::Large(map) => map.retain(|&(dim, slot), m| {
                let keep = *m > minute;
                if !keep {
                    gone(dim, slot);
                }
                keep
            }),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Entries::Small(list) => list.is_empty(),
            Entries::Large(map) => map.is_empty(),
        }
    }
}

const NO_VIEW: i64 = i64::MIN;

/// What the window knows of one visitor.
struct Visitor {
    /// `ts` of the latest page view, [`NO_VIEW`] without one.
    last_view: i64,
    /// The session's source (a slot of the sources tally it holds a reference on).
    source: Option<u32>,
    /// Counted in `visitors_now`, on this page.
    now_page: Option<u32>,
    entries: Entries,
    /// Bit `minute % 64` is set while the visitor is in that minute's `touched` list.
    touched: u64,
}

impl Visitor {
    fn new() -> Visitor {
        Visitor {
            last_view: NO_VIEW,
            source: None,
            now_page: None,
            entries: Entries::Small(Vec::new()),
            touched: 0,
        }
    }

    /// Nothing is left to count or remember: no entry in the window, not "now", and the
    /// session (which names the source of the next page view) is over.
    fn idle(&self, now: i64) -> bool {
        self.entries.is_empty()
            && self.now_page.is_none()
            && (self.last_view == NO_VIEW || gap_ends_session(self.last_view, now))
    }
}

/// The window's state.
pub struct Window {
    options: Options,
    /// Minute index (ms / 60000) of `ring[0]`.
    start: i64,
    ring: VecDeque<Minute>,
    tallies: [Tally; DIMS],
    visitors: HashMap<u64, Visitor, Hasher>,
    /// (`ts` + [`NOW_MS`], visitor) of page views counted "now".
    now_expiries: BinaryHeap<Reverse<(i64, u64)>>,
    /// (`ts` + the session gap, visitor): when a visitor may be forgotten.
    idle_checks: BinaryHeap<Reverse<(i64, u64)>>,
    visitors_now: u64,
    newest_ts: Option<i64>,
    clock: i64,
    agents: agents::Agents,
}

/// Why a record was not counted (besides being counted apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A page view counted in the window.
    PageView,
    /// A custom event counted in the window.
    Event,
    /// A crawler's hit (counted in `bots`).
    Bot,
    /// Its `event_id` was already counted (`duplicates`).
    Duplicate,
    /// Its `ts` is before the window or over a minute ahead (`outside_window`).
    Outside,
    /// Not a valid hit (`rejected`).
    Rejected,
}

impl Window {
    /// An empty window.
    pub fn new(options: Options) -> Window {
        let options = Options {
            minutes: options.minutes.clamp(1, MAX_MINUTES),
            ..options
        };
        let cap = options.max_values;
        Window {
            options,
            start: 0,
            ring: VecDeque::new(),
            tallies: [
                Tally::new(1),
                Tally::new(cap),
                Tally::new(cap),
                Tally::new(cap),
                Tally::new(cap),
                Tally::new(cap),
                Tally::new(cap),
                Tally::new(cap),
                // The count of users is exact; no list of them is shown.
                Tally::new(usize::MAX),
            ],
            visitors: HashMap::default(),
            now_expiries: BinaryHeap::new(),
            idle_checks: BinaryHeap::new(),
            visitors_now: 0,
            newest_ts: None,
            clock: i64::MIN,
            agents: agents::Agents::default(),
        }
    }

    /// The window's options (minutes clamped to 1..=60).
    pub fn options(&self) -> Options {
        self.options
    }

    /// Counts one record of the stream (its bytes and its arrival time at the stream, which
    /// places a record that is not a valid hit in a minute).
    pub fn add_record(&mut self, bytes: &[u8], arrival_ms: i64, now: i64) -> Outcome {
        match pagehit::json::decode(bytes) {
            Ok((hit, ts)) => self.add_hit(&hit.view(), ts, arrival_ms, now),
            Err(_) => {
                self.advance(now);
                self.at_arrival(arrival_ms, now, |m| m.rejected += 1);
                Outcome::Rejected
            }
        }
    }

    /// Counts one valid hit whose `ts` is `ts` ms since the epoch.
    pub fn add_hit(&mut self, hit: &HitRef<'_>, ts: i64, arrival_ms: i64, now: i64) -> Outcome {
        self.advance(now);
        let future = ts > self.clock + FUTURE_MS;
        if !future {
            // A hit from the far future (a broken clock) must not hide the lag for good.
            self.newest_ts = Some(self.newest_ts.map_or(ts, |n| n.max(ts)));
        }
        let current = self.start + self.ring.len() as i64 - 1;
        let minute = ts.div_euclid(MINUTE_MS);
        if future || minute < self.start {
            self.at_arrival(arrival_ms, now, |m| m.outside += 1);
            // A page view just before the window still starts the session that later page
            // views belong to (their source).
            if hit.is_pageview() && !hit.bot && !future {
                if let Some(vid) = visitor_id(hit.visitor) {
                    self.earlier_view(vid, ts, hit);
                }
            }
            return Outcome::Outside;
        }
        // A hit up to a minute ahead of the clock counts in the current minute.
        let minute = minute.min(current);
        let i = (minute - self.start) as usize;
        let eid = analyzer::transform::hits::uuid_bits(hit.event_id);
        if !self.ring[i].seen.insert(eid) {
            self.ring[i].duplicates += 1;
            return Outcome::Duplicate;
        }
        if hit.bot {
            self.ring[i].bots += 1;
            return Outcome::Bot;
        }
        let Some(vid) = visitor_id(hit.visitor) else {
            // Validation guarantees 16 hex digits; never reached.
            return Outcome::Rejected;
        };
        if hit.is_pageview() {
            self.page_view(i, minute, vid, ts, hit);
            Outcome::PageView
        } else {
            let slot = self.tallies[Dim::Events as usize].slot(hit.event);
            self.count(i, minute, vid, Dim::Events, slot);
            Outcome::Event
        }
    }

    fn page_view(&mut self, i: usize, minute: i64, vid: u64, ts: i64, hit: &HitRef<'_>) {
        let class = self.agents.class(hit.user_agent);
        let source = self.session_source(vid, ts, hit);
        let page = self.tallies[Dim::Pages as usize].slot(hit.path);
        self.ring[i].hits += 1;
        self.ring[i].visitors.insert(vid);
        let slots = [
            (Dim::All, self.tallies[Dim::All as usize].slot("")),
            (Dim::Pages, page),
            (Dim::Sources, source),
            (
                Dim::Countries,
                self.tallies[Dim::Countries as usize].slot(hit.country),
            ),
            (
                Dim::Browsers,
                self.tallies[Dim::Browsers as usize].slot(&class.browser),
            ),
            (Dim::Os, self.tallies[Dim::Os as usize].slot(&class.os)),
            (
                Dim::Devices,
                self.tallies[Dim::Devices as usize].slot(class.device.name()),
            ),
        ];
        for (dim, slot) in slots {
            self.count(i, minute, vid, dim, slot);
        }
        if !hit.user.is_empty() {
            let slot = self.tallies[Dim::Users as usize].slot(hit.user);
            self.count(i, minute, vid, Dim::Users, slot);
        }
        self.latest_view(vid, ts, Some(page));
    }

    /// A page view before the window: it only tells where the visitor's session started.
    fn earlier_view(&mut self, vid: u64, ts: i64, hit: &HitRef<'_>) {
        if self.clock - ts > SESSION_GAP_MS + i64::from(self.options.minutes) * MINUTE_MS {
            return;
        }
        self.session_source(vid, ts, hit);
        self.latest_view(vid, ts, None);
    }

    /// The source slot of the session `ts` belongs to: a page view more than the session gap
    /// after the visitor's previous one (or its first) starts a session with its own source.
    fn session_source(&mut self, vid: u64, ts: i64, hit: &HitRef<'_>) -> u32 {
        let visitor = self.visitors.entry(vid).or_insert_with(Visitor::new);
        let new_session = match visitor.source {
            None => true,
            Some(_) => gap_ends_session(visitor.last_view, ts),
        };
        let sources = &mut self.tallies[Dim::Sources as usize];
        if new_session {
            let label = pagehit::rules::source(hit.utm_source, hit.referrer, hit.host);
            let slot = sources.slot(&label);
            sources.get_mut(slot).refs += 1;
            if let Some(old) = visitor.source.replace(slot) {
                sources.get_mut(old).refs -= 1;
                sources.release_if_unused(old);
            }
        }
        visitor.source.expect("set above")
    }

    /// Records a page view at `ts` as the visitor's latest if it is: "now" (on `page`) and
    /// the session clock.
    fn latest_view(&mut self, vid: u64, ts: i64, page: Option<u32>) {
        let visitor = self.visitors.get_mut(&vid).expect("made by session_source");
        if ts <= visitor.last_view {
            return;
        }
        visitor.last_view = ts;
        let pages = &mut self.tallies[Dim::Pages as usize];
        if let Some(old) = visitor.now_page.take() {
            pages.get_mut(old).now -= 1;
            pages.release_if_unused(old);
            self.visitors_now -= 1;
        }
        if let Some(page) = page.filter(|_| ts + NOW_MS > self.clock) {
            pages.get_mut(page).now += 1;
            visitor.now_page = Some(page);
            self.visitors_now += 1;
            self.now_expiries.push(Reverse((ts + NOW_MS, vid)));
        }
        self.idle_checks.push(Reverse((ts + SESSION_GAP_MS, vid)));
    }

    /// Counts a hit of `vid` with value `slot` of `dim` in minute `minute` (ring index `i`).
    fn count(&mut self, i: usize, minute: i64, vid: u64, dim: Dim, slot: u32) {
        let tally = &mut self.tallies[dim as usize];
        tally.get_mut(slot).hits += 1;
        let bucket = &mut self.ring[i];
        *bucket.counts.entry((dim, slot)).or_default() += 1;
        let visitor = self.visitors.entry(vid).or_insert_with(Visitor::new);
        if visitor.entries.touch(dim, slot, minute) {
            tally.get_mut(slot).visitors += 1;
        }
        let bit = 1u64 << minute.rem_euclid(64);
        if visitor.touched & bit == 0 {
            visitor.touched |= bit;
            bucket.touched.push(vid);
        }
    }

    /// Applies `f` to the bucket of the minute a record arrived in, if it is in the window.
    fn at_arrival(&mut self, arrival_ms: i64, now: i64, f: impl FnOnce(&mut Minute)) {
        let at = if arrival_ms > 0 { arrival_ms } else { now };
        let current = self.start + self.ring.len() as i64 - 1;
        let minute = at.div_euclid(MINUTE_MS).min(current);
        if minute >= self.start {
            f(&mut self.ring[(minute - self.start) as usize]);
        }
    }

    /// Moves the window to the clock `now` (never backwards): minutes that left it are
    /// evicted, visitors no longer "now" and visitors with nothing left are dropped.
    pub fn advance(&mut self, now: i64) {
        if now <= self.clock {
            return;
        }
        self.clock = now;
        let current = now.div_euclid(MINUTE_MS);
        let start = current - i64::from(self.options.minutes) + 1;
        while self.start < start {
            let Some(bucket) = self.ring.pop_front() else {
                break;
            };
            self.evict(self.start, bucket);
            self.start += 1;
        }
        if self.ring.is_empty() {
            self.start = start;
        }
        while self.start + (self.ring.len() as i64) <= current {
            self.ring.push_back(Minute::default());
        }
        while let Some(&Reverse((at, vid))) = self.now_expiries.peek() {
            if at > now {
                break;
            }
            self.now_expiries.pop();
            let pages = &mut self.tallies[Dim::Pages as usize];
            if let Some(v) = self.visitors.get_mut(&vid) {
                if v.last_view + NOW_MS == at {
                    if let Some(page) = v.now_page.take() {
                        pages.get_mut(page).now -= 1;
                        pages.release_if_unused(page);
                        self.visitors_now -= 1;
                    }
                }
            }
            self.forget_if_idle(vid);
        }
        while let Some(&Reverse((at, _))) = self.idle_checks.peek() {
            if at >= now {
                break;
            }
            let Some(Reverse((_, vid))) = self.idle_checks.pop() else {
                break;
            };
            self.forget_if_idle(vid);
        }
    }

    /// Takes a minute's counts out of the window.
    fn evict(&mut self, minute: i64, bucket: Minute) {
        for ((dim, slot), n) in bucket.counts {
            let tally = &mut self.tallies[dim as usize];
            tally.get_mut(slot).hits -= u64::from(n);
            tally.release_if_unused(slot);
        }
        let bit = 1u64 << minute.rem_euclid(64);
        for vid in bucket.touched {
            let Some(visitor) = self.visitors.get_mut(&vid) else {
                continue;
            };
            visitor.touched &= !bit;
            let tallies = &mut self.tallies;
            visitor.entries.expire(minute, |dim, slot| {
                let tally = &mut tallies[dim as usize];
                tally.get_mut(slot).visitors -= 1;
                tally.release_if_unused(slot);
            });
            self.forget_if_idle(vid);
        }
    }

    fn forget_if_idle(&mut self, vid: u64) {
        let clock = self.clock;
        if !self.visitors.get(&vid).is_some_and(|v| v.idle(clock)) {
            return;
        }
        let visitor = self.visitors.remove(&vid).expect("checked above");
        if let Some(source) = visitor.source {
            let sources = &mut self.tallies[Dim::Sources as usize];
            sources.get_mut(source).refs -= 1;
            sources.release_if_unused(source);
        }
    }

    /// Visitors the window remembers (for the memory bound's tests and the bench).
    pub fn remembered_visitors(&self) -> usize {
        self.visitors.len()
    }

    /// The snapshot at `now`; `behind_ms` and `caught_up` come from the stream's reader.
    pub fn snapshot(&mut self, now: i64, behind_ms: i64, caught_up: bool) -> Snapshot {
        self.advance(now);
        let top = self.options.top;
        let all = &self.tallies[Dim::All as usize];
        let (hits, visitors) = all
            .live()
            .find(|s| s.name.is_empty())
            .map_or((0, 0), |s| (s.hits, s.visitors));
        let rows = |dim: Dim| sorted(&self.tallies[dim as usize], top);
        let per_minute = self
            .ring
            .iter()
            .enumerate()
            .map(|(i, m)| MinuteRow {
                minute: pagehit::time::format_ts((self.start + i as i64) * MINUTE_MS),
                hits: m.hits,
                visitors: m.visitors.len() as u64,
            })
            .collect();
        let sum = |f: fn(&Minute) -> u64| self.ring.iter().map(f).sum::<u64>();
        Snapshot {
            now: pagehit::time::format_ts(self.clock),
            window_minutes: self.options.minutes,
            hits,
            visitors,
            users: self.tallies[Dim::Users as usize].named() as u64,
            visitors_now: self.visitors_now,
            per_minute,
            pages: rows(Dim::Pages)
                .map(|s| PageRow {
                    path: s.name.to_string(),
                    hits: s.hits,
                    visitors: s.visitors,
                    now: s.now,
                })
                .collect(),
            sources: rows(Dim::Sources)
                .map(|s| SourceRow {
                    source: s.name.to_string(),
                    hits: s.hits,
                    visitors: s.visitors,
                })
                .collect(),
            countries: rows(Dim::Countries)
                .map(|s| CountryRow {
                    country: s.name.to_string(),
                    hits: s.hits,
                    visitors: s.visitors,
                })
                .collect(),
            devices: rows(Dim::Devices)
                .map(|s| DeviceRow {
                    device: s.name.to_string(),
                    hits: s.hits,
                    visitors: s.visitors,
                })
                .collect(),
            browsers: rows(Dim::Browsers)
                .map(|s| BrowserRow {
                    browser: s.name.to_string(),
                    hits: s.hits,
                    visitors: s.visitors,
                })
                .collect(),
            events: rows(Dim::Events)
                .map(|s| EventRow {
                    event: s.name.to_string(),
                    hits: s.hits,
                    visitors: s.visitors,
                    conversion_rate: ratio(s.visitors, visitors),
                })
                .collect(),
            bots: sum(|m| m.bots),
            duplicates: sum(|m| m.duplicates),
            rejected: sum(|m| m.rejected),
            outside_window: sum(|m| m.outside),
            lag_ms: self.newest_ts.map(|t| (self.clock - t).max(0)),
            behind_ms,
            os: rows(Dim::Os)
                .map(|s| OsRow {
                    os: s.name.to_string(),
                    hits: s.hits,
                    visitors: s.visitors,
                })
                .collect(),
            now_minutes: (NOW_MS / MINUTE_MS) as u32,
            caught_up,
        }
    }
}

/// A list's rows as the report sorts them: hits descending, then name; the first `top`.
/// A page counted "now" whose hits already left a short window is still listed.
fn sorted(tally: &Tally, top: usize) -> impl Iterator<Item = &tally::Slot> {
    let mut rows: Vec<&tally::Slot> = tally.live().filter(|s| s.hits > 0 || s.now > 0).collect();
    rows.sort_unstable_by(|a, b| b.hits.cmp(&a.hits).then_with(|| a.name.cmp(&b.name)));
    rows.into_iter().take(top)
}

/// A visitor id (16 hex digits) as a number.
fn visitor_id(visitor: &str) -> Option<u64> {
    u64::from_str_radix(visitor, 16).ok()
}

#[cfg(test)]
mod tests;
