//! From hits to the report, one bucket of visitors at a time: the [`Accumulator`] that drives
//! the parts (visits, totals, pages, dimensions, events, users) and [`report`], which puts a
//! period and its comparison together.
//!
//! Everything about a visitor (sessions, entries, exits, bounces, distinct visitors of a page,
//! a source or a day) lies inside the bucket that holds all of that visitor's hits, so each
//! bucket is worked out alone and only small partial aggregates are kept: a compacted day is
//! read bucket by bucket in bounded memory, and the landed CSVs of a period are one bucket.
//! Signed-in users span buckets (one user, several devices); for them a projection of the
//! signed-in page views (user, time, path) is kept and worked out at the end.
//!
//! Per bucket: rows ordered by (visitor, ts, event_id) [`sessions::order`], repeated rows
//! dropped, bots counted (and dropped unless included), then one pass over each visitor's
//! page views marks session entries and exits and the first hit of each page, source,
//! campaign, browser, OS, device and day ([`visits::mark`]); the parts count from those marks.
//!
//! [`sessions::order`]: super::sessions::order
//! [`visits::mark`]: super::visits::mark

use super::agents::{Agents, Classes};
use super::base::{Base, Reuse};
use super::dimensions::{DimNames, Dims};
use super::events::Events;
use super::filter::Filters;
use super::model::{self, DayRow, Previous, Report, Summary, UserRow};
use super::model::{BrowserRow, CampaignRow, DeviceRow, EventRow, HostRow, OsRow, SourceRow};
use super::pages::{self, Pages, SLOTS};
use super::select::{self, Views};
use super::sessions::order;
use super::spill::{Merged, Spill};
use super::totals::Tally;
use super::users::SignedIn;
use super::visits::{self, Marks, Want, ENTRY, EXIT, SESSION_FIRST};
use crate::period::Period;
use crate::transform::hits::{BucketNames, Dicts, Hits, Shared, BOT, PAGEVIEW};
use crate::transform::intern::Dict;
use anyhow::Result;
use rayon::prelude::*;
use std::sync::{Arc, OnceLock};

/// How many referrer hosts and countries the summary lists when `--top` is not given.
pub const DEFAULT_SUMMARY_TOP: usize = 10;

/// What the report is asked for beyond the data itself.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Keep only the first N rows of every list.
    pub top: Option<usize>,
    /// Whether bots are counted in.
    pub include_bots: bool,
}

/// What reading found besides the hits.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    /// Hit objects of the period (a compacted day counts the objects it covers).
    pub files: u64,
    /// Lines that are not valid hits.
    pub malformed_rows: u64,
    /// Objects refused for their header.
    pub unknown_header_files: u64,
    /// Duplicates already dropped by compaction, within the period.
    pub duplicates: u64,
    /// Partitions with hit objects.
    pub partitions: Vec<String>,
    /// Partitions without.
    pub missing_partitions: Vec<String>,
    /// The first malformed row or refused file, for messages.
    pub first_problem: Option<String>,
}

/// A bucket's page views as the report counts them.
enum Rows {
    /// Without filters: every page view, in visitor order.
    All(Vec<u32>),
    /// What the filters keep (see [`select::Views`]; placed views come with kept marks), and
    /// for each counted page view whether it is the first counted one of its session.
    Filtered {
        views: Views,
        session_first: Vec<bool>,
    },
}

/// A bucket's counted page views (rows of its hits) with their marks.
type Counted = (Vec<u32>, Marks);

/// A period's report in the making: fed buckets with [`Accumulator::add`].
pub struct Accumulator<'p> {
    period: &'p Period,
    include_bots: bool,
    filters: Filters,
    spill: Spill,
    tally: Tally,
    pages: Pages,
    dims: Dims,
    events: Events,
    signed_in: SignedIn,
}

/// Sixteenths of a period's budget each table may hold: while buckets are added, the pages,
/// the signed-in page views and the three large dimensions; at the end, one partition of a
/// table at a time and the sorted lists.
const PAGES_SHARE: u64 = 5;
const SIGNED_IN_SHARE: u64 = 4;
const DIMENSION_SHARE: u64 = 1;
const SORT_SHARE: u64 = 2;

impl<'p> Accumulator<'p> {
    /// An empty report of `period`, whose tables hold at most `spill.budget` bytes.
    pub fn new(
        period: &'p Period,
        include_bots: bool,
        filters: &Filters,
        spill: &Spill,
    ) -> Accumulator<'p> {
        Accumulator {
            period,
            include_bots,
            filters: filters.clone(),
            spill: spill.clone(),
            tally: Tally::new(period.days()),
            pages: Pages::new(spill.share(PAGES_SHARE), spill),
            dims: Dims::new(spill.share(DIMENSION_SHARE), spill),
            events: Events::default(),
            signed_in: SignedIn::new(spill.share(SIGNED_IN_SHARE), spill),
        }
    }

    /// Adds the hits of a set of visitors: every hit of each of them in the period (a
    /// visitor's hits must not be split between two calls); `dicts` are the bucket's.
    pub fn add(&mut self, hits: Hits, dicts: Dicts, agents: &Agents) -> Result<()> {
        let bucket = Prepared::new(hits, dicts, agents, self.include_bots, false)?;
        self.count(&bucket, agents)
    }

    /// Counts a prepared bucket (made with this report's `include_bots`) under this report's
    /// filters: a bucket may be counted by any number of reports.
    pub fn count(&mut self, bucket: &Prepared, agents: &Agents) -> Result<()> {
        self.tally.duplicates += bucket.duplicates;
        self.tally.bots += bucket.bots;
        if bucket.kept.is_empty() {
            return Ok(());
        }
        let hits = &bucket.hits;
        let names = &bucket.names;
        let kept = bucket
            .kept_marks(self.period, agents)
            .map(|base| (base, bucket.pv.as_slice()));
        let (rows, ev) = if self.filters.is_empty() {
            (Rows::All(bucket.pv.clone()), bucket.events.clone())
        } else {
            let names = select::Names {
                bucket: names,
                shared: &bucket.shared,
                agents,
            };
            let k = super::timed("filters", || match kept {
                // Filters of hits alone need no walk of the rows when the marks are kept.
                Some((base, all)) if self.filters.of_visits().next().is_none() => {
                    let events = &bucket.events;
                    select::select_hits(hits, all, base.bits(), events, &self.filters, &names)
                }
                _ => {
                    let steps = bucket
                        .steps
                        .get_or_init(|| select::steps(hits, &bucket.kept));
                    let placed = kept.is_some();
                    select::select(hits, &bucket.kept, steps, &self.filters, &names, placed)
                }
            });
            let rows = Rows::Filtered {
                views: k.views,
                session_first: k.session_first,
            };
            (rows, k.events)
        };
        self.tally.events += ev.len() as u64;
        let classes = agents.table();
        let marked = super::timed("page views", || self.page_views(hits, rows, &classes, kept))?;
        if let Some((pv, marks)) = marked {
            super::timed("tables", || self.tables(hits, &pv, &marks, &classes, names))?;
        }
        super::timed("events", || self.events.add(hits, &ev));
        Ok(())
    }

    /// Counts a bucket's page views `rows` (rows of `hits` in visitor order) into the parts
    /// that count by the report's codes; the counted rows with their marks, for
    /// [`Accumulator::tables`]. `kept`: the bucket's unfiltered marks and page views, when
    /// it keeps them ([`Prepared::kept_marks`]).
    fn page_views(
        &mut self,
        hits: &Hits,
        rows: Rows,
        classes: &Classes,
        kept: Option<(&Base, &[u32])>,
    ) -> Result<Option<Counted>> {
        let period = self.period;
        let (pv, marks, day) = match rows {
            Rows::All(pv) => {
                if pv.is_empty() {
                    return Ok(None);
                }
                if let Some((base, _)) = kept {
                    let (marks, day) = base.marks();
                    (pv, marks, day)
                } else {
                    let (marks, day) = all_marks(hits, &pv, classes, period);
                    (pv, marks, day)
                }
            }
            Rows::Filtered {
                views: Views::Rows { sessions, counted },
                session_first,
            } => {
                if sessions.is_empty() {
                    return Ok(None);
                }
                // Sessions, entries, exits and bounces are those of whole kept sessions; the
                // rest counts the counted page views.
                let whole = super::timed("session marks", || {
                    visits::mark(hits, &sessions, classes, &[], Want::Sessions, None)
                });
                let pv: Vec<u32> = counted.par_iter().map(|&i| sessions[i as usize]).collect();
                let (mut marks, day) = super::timed("first marks", || {
                    marks_of(hits, &pv, classes, period, Want::Firsts, None)
                });
                marks
                    .bits
                    .par_iter_mut()
                    .zip(counted.par_iter().zip(session_first.par_iter()))
                    .for_each(|(b, (&i, &sf))| {
                        *b |= whole.bits[i as usize] & (ENTRY | EXIT)
                            | if sf { SESSION_FIRST } else { 0 };
                    });
                marks.anon_sessions = whole.anon_sessions;
                marks.anon_bounces = whole.anon_bounces;
                (pv, marks, day)
            }
            Rows::Filtered {
                views: Views::Placed { counted, at, spans },
                session_first,
            } => {
                if spans.is_empty() {
                    return Ok(None);
                }
                let (base, all) = kept.expect("placed views come with kept marks");
                // As above, the whole sessions' marks read from the kept ones.
                let (anon_sessions, anon_bounces) =
                    super::timed("session marks", || base.anon_in(&spans));
                let reuse = Reuse::at(base, all, at);
                let (mut marks, day) = super::timed("first marks", || {
                    marks_of(hits, &counted, classes, period, Want::Firsts, Some(&reuse))
                });
                reuse.add_ends(&mut marks.bits, &session_first);
                marks.anon_sessions = anon_sessions;
                marks.anon_bounces = anon_bounces;
                (counted, marks, day)
            }
        };
        self.tally.visitors += marks.visitors;
        self.tally.anon_sessions += marks.anon_sessions;
        self.tally.anon_bounces += marks.anon_bounces;
        self.tally.count_page_views(period, hits, &pv, &day, &marks);
        Ok(Some((pv, marks)))
    }

    /// Adds a bucket's page views to the tables kept by name (pages, sources, campaigns,
    /// referrer hosts, signed-in page views).
    fn tables(
        &mut self,
        hits: &Hits,
        pv: &[u32],
        marks: &Marks,
        classes: &Classes,
        names: &BucketNames,
    ) -> Result<()> {
        // Three tables of their own, side by side (pages and the signed-in projection are one
        // pass each; the dimensions fold in parallel).
        let (dims, pages, signed_in) = (&mut self.dims, &mut self.pages, &mut self.signed_in);
        let (d, (p, s)) = rayon::join(
            || dims.count(hits, pv, classes, marks, names),
            || {
                rayon::join(
                    || pages.add(hits, pv, marks, &names.path),
                    || signed_in.add(hits, pv, names),
                )
            },
        );
        d.and(p).and(s)
    }
}

/// The marks (`want`) and local days of the page views `pv` (rows of `hits` in visitor order)
/// in `period`; `reuse` places them among a kept bucket's page views (their days, and the
/// firsts of visitors counted from their first page view on, are read there).
fn marks_of(
    hits: &Hits,
    pv: &[u32],
    classes: &Classes,
    period: &Period,
    want: Want,
    reuse: Option<&Reuse<'_>>,
) -> (Marks, Vec<u32>) {
    let day: Vec<u32> = match reuse {
        Some(r) => r.days(),
        None => pv
            .par_iter()
            .map(|&r| period.day_index(hits.ts[r as usize]) as u32)
            .collect(),
    };
    let marks = visits::mark(hits, pv, classes, &day, want, reuse);
    (marks, day)
}

/// [`marks_of`] every mark of all of a bucket's page views `pv`: each session is counted at
/// its entry.
fn all_marks(hits: &Hits, pv: &[u32], classes: &Classes, period: &Period) -> (Marks, Vec<u32>) {
    let (mut marks, day) = marks_of(hits, pv, classes, period, Want::All, None);
    marks.bits.par_iter_mut().for_each(|b| {
        if *b & ENTRY != 0 {
            *b |= SESSION_FIRST;
        }
    });
    (marks, day)
}

/// A bucket of visitors made ready to count: what does not depend on the filters (visitor
/// order, repeats and bots dropped, sessions' sources, agents classified), worked out once.
/// The report counts each bucket once and drops it; the dashboard keeps a period's buckets
/// and counts them again under every filter it is asked for.
pub struct Prepared {
    hits: Hits,
    names: BucketNames,
    shared: Arc<Shared>,
    /// Rows kept, in (visitor, ts, event id) order.
    kept: Vec<u32>,
    /// The page views of `kept`.
    pv: Vec<u32>,
    /// The custom events of `kept`.
    events: Vec<u32>,
    duplicates: u64,
    bots: u64,
    /// Laid out in visitor order (see [`Prepared::new`]): the only kind that keeps marks.
    laid_out: bool,
    /// Its unfiltered marks, once a report has asked ([`Prepared::kept_marks`]).
    marks: OnceLock<Option<Base>>,
    /// What the filters' walk reads of each kept row ([`select::steps`]), once filtered.
    steps: OnceLock<Vec<u8>>,
}

impl Prepared {
    /// Prepares the hits of a set of visitors (all of each one's hits in the period) with
    /// the bucket's `dicts`; `include_bots` keeps crawlers' hits; `lay_out` when the bucket
    /// will be counted again and again (the dashboard's cache): its rows are laid out in their
    /// order first, the repeats and bots dropped.
    pub fn new(
        mut hits: Hits,
        dicts: Dicts,
        agents: &Agents,
        include_bots: bool,
        lay_out: bool,
    ) -> Result<Prepared> {
        let sorted = super::timed("sort", || order(&hits.vis, &hits.ts, &hits.eid));
        // A repeat of the row before it (same visitor, time and id: the same record landed
        // twice) is dropped; of two equal rows the one read first is kept (it sorts first).
        const KEPT: u8 = 0;
        const REPEAT: u8 = 1;
        const BOT_OUT: u8 = 2;
        let fate: Vec<u8> = (0..sorted.len())
            .into_par_iter()
            .map(|i| {
                let r = sorted[i] as usize;
                if i > 0 {
                    let p = sorted[i - 1] as usize;
                    // Rows without ids are of compacted days, which hold no repeats.
                    if hits.vis[p] == hits.vis[r]
                        && hits.ts[p] == hits.ts[r]
                        && hits.id(p).is_some_and(|id| hits.id(r) == Some(id))
                    {
                        return REPEAT;
                    }
                }
                if hits.flags[r] & BOT != 0 && !include_bots {
                    BOT_OUT
                } else {
                    KEPT
                }
            })
            .collect();
        // Event ids only order rows and find repeats: done, their column (a fifth of a
        // bucket's) is freed before the bucket is laid out or kept.
        hits.eid = Vec::new();
        let duplicates = fate.par_iter().filter(|&&f| f == REPEAT).count() as u64;
        let bots = (0..sorted.len())
            .into_par_iter()
            .filter(|&i| fate[i] != REPEAT && hits.flags[sorted[i] as usize] & BOT != 0)
            .count() as u64;
        let mut order: Vec<u32> = sorted
            .par_iter()
            .zip(fate.par_iter())
            .filter(|(_, &f)| f == KEPT)
            .map(|(&r, _)| r)
            .collect();
        drop(sorted);
        drop(fate);
        if lay_out {
            // Laid out in their order, the rest dropped: every count walks the columns front
            // to back (through the order it would jump between the period's days, a stream per
            // day and column, which the caches cannot follow; ~10% of a count), and the kept
            // bucket holds no repeat or bot (~11% of a month's memory). Counted once, the
            // copy would cost more than it saves.
            super::timed("lay out", || hits.select_rows(&order));
            order = (0..order.len() as u32).collect();
        }
        let kept = order;
        let (mut pv, mut events): (Vec<u32>, Vec<u32>) = kept
            .iter()
            .partition(|&&r| hits.flags[r as usize] & PAGEVIEW != 0);
        // A bucket may be kept (the dashboard's cache): no room left unused.
        pv.shrink_to_fit();
        events.shrink_to_fit();
        super::timed("session sources", || {
            select::attribute_sessions(&mut hits, &pv)
        });
        let shared = dicts.shared.clone();
        // The filters may ask the events' browsers too.
        let agent_codes: Vec<u32> = kept.iter().map(|&r| hits.agent[r as usize]).collect();
        agents.classify(&agent_codes, &shared.agent)?;
        Ok(Prepared {
            hits,
            names: dicts.into_names(),
            shared,
            kept,
            pv,
            events,
            duplicates,
            bots,
            laid_out: lay_out,
            marks: OnceLock::new(),
            steps: OnceLock::new(),
        })
    }

    /// The unfiltered marks of a laid-out bucket's page views in `period`, worked out at the
    /// first count and kept with it (4 bytes a page view): every later count reuses them.
    /// `None` for a bucket not laid out, or counted in another period than the first.
    pub fn kept_marks(&self, period: &Period, agents: &Agents) -> Option<&Base> {
        if !self.laid_out || self.pv.is_empty() {
            return None;
        }
        let kept = self.marks.get_or_init(|| {
            super::timed("kept marks", || {
                let (marks, day) = all_marks(&self.hits, &self.pv, &agents.table(), period);
                Base::new(period, marks, &day)
            })
        });
        kept.as_ref().filter(|base| base.is_for(period))
    }

    /// Rows of hits held.
    pub fn len(&self) -> usize {
        self.hits.len()
    }

    /// Whether it holds no hit.
    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }
}

/// The names behind the report's shared codes, for the outputs.
pub struct Names {
    /// Countries.
    pub country: Dict,
    /// Custom events.
    pub event: Dict,
    /// Browser families.
    pub browser: Dict,
    /// OS families.
    pub os: Dict,
}

/// One period worked out: everything but the comparison and the page list.
pub struct Totals {
    summary: Summary,
    pages: Merged<SLOTS>,
    users: model::Rows<UserRow>,
    hourly: [u64; 24],
    daily: Vec<DayRow>,
    sources: model::Rows<SourceRow>,
    campaigns: model::Rows<CampaignRow>,
    browsers: Vec<BrowserRow>,
    os: Vec<OsRow>,
    devices: Vec<DeviceRow>,
    events: Vec<EventRow>,
    hosts: Vec<HostRow>,
}

impl Accumulator<'_> {
    /// Adds the buckets up and works out the user report.
    pub fn finish(self, names: &Names, reading: &Reading, opts: Options) -> Result<Totals> {
        let period = self.period;
        let spill = self.spill;
        let mut pages = self.pages;
        let dim_names = DimNames {
            browser: &names.browser,
            os: &names.os,
            country: &names.country,
        };
        let summary_top = opts.top.unwrap_or(DEFAULT_SUMMARY_TOP);
        let (signed_in, dims) = (self.signed_in, self.dims);
        // The user report and the dimensions' lists share nothing: side by side, each sorting
        // within half the sorting share (the pages table still fills beside them).
        let (users, lists) = rayon::join(
            || {
                super::timed("users", || {
                    signed_in.finish(period, opts.top, spill.share(SORT_SHARE / 2), &mut pages)
                })
            },
            || {
                super::timed("dimensions", || {
                    dims.lists(
                        &dim_names,
                        opts.top,
                        summary_top,
                        spill.share(SORT_SHARE / 2),
                        &spill,
                    )
                })
            },
        );
        let (users, lists) = (users?, lists?);
        let (pages, _) = pages.finish()?;
        let summary = self.tally.summary(
            users.people,
            reading,
            opts,
            lists.referrers,
            lists.countries,
        );
        let events = self.events.rows(&names.event, summary.visitors, opts.top);
        Ok(Totals {
            pages,
            users: users.rows,
            hourly: self.tally.hourly,
            daily: self.tally.daily(period, &users.per_day),
            sources: lists.sources,
            campaigns: lists.campaigns,
            browsers: lists.browsers,
            os: lists.os,
            devices: lists.devices,
            events,
            hosts: lists.hosts,
            summary,
        })
    }
}

/// The report of `period`, compared with `previous` when given; the page list is sorted
/// within `spill`'s budget.
pub fn report(
    period: &Period,
    current: Totals,
    previous: Option<(&Period, Totals)>,
    opts: Options,
    spill: &Spill,
) -> Result<Report> {
    let (before, previous) = match previous {
        Some((p, totals)) => (
            Some(totals.pages),
            Some(Previous {
                from: p.from(),
                to: p.to(),
                summary: totals.summary,
            }),
        ),
        None => (None, None),
    };
    let pages = super::timed("page list", || {
        pages::rows(
            current.pages,
            current.summary.hits,
            before,
            opts.top,
            spill.share(SORT_SHARE * 2),
            spill,
        )
    })?;
    Ok(Report {
        date: period.from(),
        from: period.from(),
        to: period.to(),
        tz: period.tz.name().to_string(),
        filters: Vec::new(),
        summary: current.summary,
        pages,
        users: current.users,
        hourly: current.hourly,
        daily: current.daily,
        sources: current.sources,
        campaigns: current.campaigns,
        browsers: current.browsers,
        os: current.os,
        devices: current.devices,
        events: current.events,
        hosts: current.hosts,
        previous,
    })
}
