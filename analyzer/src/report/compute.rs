//! From hits to the report, one bucket of visitors at a time.
//!
//! Everything about a visitor (sessions, entries, exits, bounces, distinct visitors of a page,
//! a source or a day) lies inside the bucket that holds all of that visitor's hits, so each
//! bucket is worked out alone and only small partial aggregates are kept: a compacted day is
//! read bucket by bucket in bounded memory, and the landed CSVs of a period are one bucket.
//! Signed-in users span buckets (one user, several devices); for them a projection of the
//! signed-in page views (user, time, id, path) is kept and worked out at the end.
//!
//! Per bucket: rows ordered by (visitor, ts, event_id) [`sessions::order`], repeated rows
//! dropped, bots counted (and dropped unless included), then one pass over each visitor's
//! page views marks session entries and exits and the first hit of each page, source,
//! campaign, browser, OS, device and day; polars then groups the bucket by each of those.
//! At the end polars adds the buckets' partial groups up.

use super::agents::{Agents, Device};
use super::model::{
    ratio, BrowserRow, CampaignRow, CountryCount, DayRow, DeviceRow, EventRow, OsRow, PageRow,
    Previous, ReferrerCount, Report, SourceRow, StatusClasses, Summary, UserRow,
};
use super::pl;
use super::sessions::{first_of_value, order, runs, session_flags, SESSION_GAP_MS};
use crate::period::Period;
use crate::transform::hits::{campaign_parts, Hits, BOT, PAGEVIEW};
use crate::transform::intern::{Dict, NONE};
use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;
use std::collections::HashMap;

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

/// Signed-in page views, kept for the user report.
#[derive(Default)]
struct SignedIn {
    user: Vec<u32>,
    ts: Vec<i64>,
    eid: Vec<u128>,
    path: Vec<u32>,
}

/// The marks of the page views of a chunk of visitor runs.
struct RunMarks {
    entry: Vec<bool>,
    exit: Vec<bool>,
    firsts: [Vec<bool>; 7],
    anon_sessions: u64,
    anon_bounces: u64,
}

/// Codes below this are counted in a vector indexed by code (interner codes are dense, and most
/// dimensions have few values); the rest in a map, so that memory follows the values a chunk
/// saw, not the dictionary's size (a day can have millions of referrer hosts).
const DENSE_CODES: usize = 1 << 16;

/// Hits and first visits (visitors) per code of a dimension: counted while the page views are
/// walked, with no frame or group-by per bucket.
#[derive(Default)]
struct Counts {
    dense: Vec<[u64; 2]>,
    sparse: hashbrown::HashMap<u32, [u64; 2]>,
}

impl Counts {
    fn add(&mut self, code: u32, first: bool) {
        if code == NONE {
            return;
        }
        let i = code as usize;
        let c = if i < DENSE_CODES {
            if i >= self.dense.len() {
                self.dense.resize((i + 1).next_power_of_two(), [0, 0]);
            }
            &mut self.dense[i]
        } else {
            self.sparse.entry(code).or_insert([0, 0])
        };
        c[0] += 1;
        c[1] += u64::from(first);
    }

    fn merge(&mut self, other: &Counts) {
        if other.dense.len() > self.dense.len() {
            self.dense.resize(other.dense.len(), [0, 0]);
        }
        for (a, b) in self.dense.iter_mut().zip(&other.dense) {
            a[0] += b[0];
            a[1] += b[1];
        }
        for (&code, b) in &other.sparse {
            let a = self.sparse.entry(code).or_insert([0, 0]);
            a[0] += b[0];
            a[1] += b[1];
        }
    }

    /// `(code, [hits, visitors])` of every code seen.
    fn rows(self) -> impl Iterator<Item = (u32, [u64; 2])> {
        let dense = self.dense.into_iter().enumerate();
        dense
            .filter(|(_, c)| c[0] > 0)
            .map(|(code, c)| (code as u32, c))
            .chain(self.sparse)
    }
}

/// The page views' dimensions other than the path.
#[derive(Default)]
struct Dims {
    source: Counts,
    campaign: Counts,
    browser: Counts,
    os: Counts,
    device: Counts,
    country: Counts,
    ref_host: Counts,
}

impl Dims {
    fn merge(&mut self, o: &Dims) {
        self.source.merge(&o.source);
        self.campaign.merge(&o.campaign);
        self.browser.merge(&o.browser);
        self.os.merge(&o.os);
        self.device.merge(&o.device);
        self.country.merge(&o.country);
        self.ref_host.merge(&o.ref_host);
    }
}

/// Counts of a chunk of page views.
struct Tally {
    hourly: [u64; 24],
    daily_hits: Vec<u64>,
    daily_visitors: Vec<u64>,
    status: [u64; 5],
    signed_in: SignedIn,
}

/// Cuts runs (given by their `bounds`) into chunks of whole runs of about `rows` rows: pairs
/// of indices into `bounds`.
fn chunks_of_runs(bounds: &[usize], rows: usize) -> Vec<(usize, usize)> {
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

/// A period's report in the making: fed buckets with [`Accumulator::add`].
pub struct Accumulator<'p> {
    period: &'p Period,
    include_bots: bool,
    pages: Vec<DataFrame>,
    dims: Dims,
    events: Vec<DataFrame>,
    hourly: [u64; 24],
    daily_hits: Vec<u64>,
    daily_visitors: Vec<u64>,
    status: [u64; 5],
    hits: u64,
    visitors: u64,
    anon_sessions: u64,
    anon_bounces: u64,
    bots: u64,
    events_total: u64,
    duplicates: u64,
    signed_in: SignedIn,
}

fn u32_col(name: &str, values: Vec<u32>) -> Column {
    UInt32Chunked::from_vec(name.into(), values).into_column()
}

fn bool_col(name: &str, values: &[bool]) -> Column {
    BooleanChunked::from_slice(name.into(), values).into_column()
}

/// Groups `df` by `key` (rows where it is not [`NONE`]) into `hits` and, when `first` is given,
/// `visitors` (the sum of the first-of-visitor marks).
fn group(df: &DataFrame, key: &str, first: Option<&str>) -> LazyFrame {
    let mut aggs = vec![len().alias("hits")];
    if let Some(first) = first {
        aggs.push(col(first).sum().alias("visitors"));
    }
    df.clone()
        .lazy()
        .filter(col(key).neq(lit(NONE)))
        .group_by([col(key)])
        .agg(aggs)
}

impl<'p> Accumulator<'p> {
    /// An empty report of `period`.
    pub fn new(period: &'p Period, include_bots: bool) -> Accumulator<'p> {
        Accumulator {
            period,
            include_bots,
            pages: Vec::new(),
            dims: Dims::default(),
            events: Vec::new(),
            hourly: [0; 24],
            daily_hits: vec![0; period.days()],
            daily_visitors: vec![0; period.days()],
            status: [0; 5],
            hits: 0,
            visitors: 0,
            anon_sessions: 0,
            anon_bounces: 0,
            bots: 0,
            events_total: 0,
            duplicates: 0,
            signed_in: SignedIn::default(),
        }
    }

    /// Adds the hits of a set of visitors: every hit of each of them in the period (a
    /// visitor's hits must not be split between two calls).
    pub fn add(
        &mut self,
        hits: &Hits,
        agents: &Agents,
        agent_names: &crate::transform::intern::Interner,
    ) -> Result<()> {
        if hits.is_empty() {
            return Ok(());
        }
        let sorted = super::timed("sort", || order(&hits.vis, &hits.ts, &hits.eid));
        // A repeat of the row before it (same visitor, time and id: the same record landed
        // twice) is dropped; of two equal rows the one read first is kept (it sorts first).
        const KEPT: u8 = 0;
        const REPEAT: u8 = 1;
        const BOT_OUT: u8 = 2;
        let include_bots = self.include_bots;
        let fate: Vec<u8> = (0..sorted.len())
            .into_par_iter()
            .map(|i| {
                let r = sorted[i] as usize;
                if i > 0 {
                    let p = sorted[i - 1] as usize;
                    if hits.vis[p] == hits.vis[r]
                        && hits.ts[p] == hits.ts[r]
                        && hits.eid[p] == hits.eid[r]
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
        self.duplicates += fate.par_iter().filter(|&&f| f == REPEAT).count() as u64;
        self.bots += (0..sorted.len())
            .into_par_iter()
            .filter(|&i| fate[i] != REPEAT && hits.flags[sorted[i] as usize] & BOT != 0)
            .count() as u64;
        let kept: Vec<u32> = sorted
            .par_iter()
            .zip(fate.par_iter())
            .filter(|(_, &f)| f == KEPT)
            .map(|(&r, _)| r)
            .collect();
        drop(sorted);
        let (pv, ev): (Vec<u32>, Vec<u32>) = kept
            .into_iter()
            .partition(|&r| hits.flags[r as usize] & PAGEVIEW != 0);
        self.events_total += ev.len() as u64;
        super::timed("page views", || {
            self.page_views(hits, &pv, agents, agent_names)
        })?;
        super::timed("events", || self.custom_events(hits, &ev))
    }

    fn page_views(
        &mut self,
        hits: &Hits,
        pv: &[u32],
        agents: &Agents,
        agent_names: &crate::transform::intern::Interner,
    ) -> Result<()> {
        let n = pv.len();
        if n == 0 {
            return Ok(());
        }
        let agent_codes: Vec<u32> = pv.iter().map(|&r| hits.agent[r as usize]).collect();
        agents.classify(&agent_codes, agent_names)?;
        let classes = agents.classes(&agent_codes);
        drop(agent_codes);
        let period = self.period;
        let day: Vec<u32> = pv
            .par_iter()
            .map(|&r| period.day_index(hits.ts[r as usize]) as u32)
            .collect();

        // Runs of one visitor, worked out in parallel in chunks of whole runs.
        let bounds = runs(pv, |r| hits.vis[r as usize]);
        let chunks = chunks_of_runs(&bounds, n / (8 * rayon::current_num_threads()) + 1);
        let marked: Vec<RunMarks> = chunks
            .par_iter()
            .map(|&(c0, c1)| {
                let base = bounds[c0];
                let rows = bounds[c1] - base;
                let mut m = RunMarks {
                    entry: vec![false; rows],
                    exit: vec![false; rows],
                    firsts: [(); 7].map(|()| vec![false; rows]),
                    anon_sessions: 0,
                    anon_bounces: 0,
                };
                let mut seen = hashbrown::HashSet::new();
                for w in bounds[c0..=c1].windows(2) {
                    let (a, b) = (w[0], w[1]);
                    let (la, lb) = (a - base, b - base);
                    let len = b - a;
                    let row = |i: usize| pv[a + i] as usize;
                    if len == 1 {
                        m.entry[la] = true;
                        m.exit[la] = true;
                        for f in m.firsts.iter_mut() {
                            f[la] = true;
                        }
                    } else {
                        session_flags(
                            |i| hits.ts[row(i)],
                            len,
                            &mut m.entry[la..lb],
                            &mut m.exit[la..lb],
                        );
                        let values: [&dyn Fn(usize) -> u32; 7] = [
                            &|i| hits.path[row(i)],
                            &|i| hits.source[row(i)],
                            &|i| hits.campaign[row(i)],
                            &|i| classes[a + i].browser,
                            &|i| classes[a + i].os,
                            &|i| classes[a + i].device as u32,
                            &|i| day[a + i],
                        ];
                        for (value, out) in values.iter().zip(m.firsts.iter_mut()) {
                            first_of_value(value, len, &mut out[la..lb], &mut seen);
                        }
                    }
                    // Anonymous page views make sessions of their visitor (signed-in ones
                    // are the user's, counted in the user report).
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
                m
            })
            .collect();
        let mut entry = Vec::with_capacity(n);
        let mut exit = Vec::with_capacity(n);
        let mut firsts = [(); 7].map(|()| Vec::with_capacity(n));
        for m in marked {
            entry.extend_from_slice(&m.entry);
            exit.extend_from_slice(&m.exit);
            for (all, part) in firsts.iter_mut().zip(&m.firsts) {
                all.extend_from_slice(part);
            }
            self.anon_sessions += m.anon_sessions;
            self.anon_bounces += m.anon_bounces;
        }
        self.visitors += (bounds.len() - 1) as u64;
        self.hits += n as u64;
        let [fv_path, fv_source, fv_campaign, fv_browser, fv_os, fv_device, fv_day] = firsts;

        // Hours, days, status classes and the signed-in projection, in parallel chunks.
        let days = period.days();
        let tallies: Vec<Tally> = pv
            .par_chunks(64 * 1024)
            .enumerate()
            .map(|(c, rows)| {
                let mut t = Tally {
                    hourly: [0; 24],
                    daily_hits: vec![0; days],
                    daily_visitors: vec![0; days],
                    status: [0; 5],
                    signed_in: SignedIn::default(),
                };
                for (k, &r) in rows.iter().enumerate() {
                    let i = c * 64 * 1024 + k;
                    let r = r as usize;
                    let ts = hits.ts[r];
                    t.hourly[period.hour(ts)] += 1;
                    let d = day[i] as usize;
                    t.daily_hits[d] += 1;
                    if fv_day[i] {
                        t.daily_visitors[d] += 1;
                    }
                    if let Some(class) = (hits.status[r] / 100).checked_sub(1) {
                        if let Some(slot) = t.status.get_mut(class as usize) {
                            *slot += 1;
                        }
                    }
                    if hits.user[r] != NONE {
                        let s = &mut t.signed_in;
                        s.user.push(hits.user[r]);
                        s.ts.push(ts);
                        s.eid.push(hits.eid[r]);
                        s.path.push(hits.path[r]);
                    }
                }
                t
            })
            .collect();
        for t in tallies {
            for h in 0..24 {
                self.hourly[h] += t.hourly[h];
            }
            for d in 0..days {
                self.daily_hits[d] += t.daily_hits[d];
                self.daily_visitors[d] += t.daily_visitors[d];
            }
            for c in 0..5 {
                self.status[c] += t.status[c];
            }
            let s = &mut self.signed_in;
            s.user.extend_from_slice(&t.signed_in.user);
            s.ts.extend_from_slice(&t.signed_in.ts);
            s.eid.extend_from_slice(&t.signed_in.eid);
            s.path.extend_from_slice(&t.signed_in.path);
        }

        // The other dimensions, folded per thread (a counter per chunk could hold a
        // large code range many times over).
        let dims = pv
            .par_iter()
            .enumerate()
            .with_min_len(64 * 1024)
            .fold(Dims::default, |mut d, (i, &r)| {
                let r = r as usize;
                let class = &classes[i];
                d.source.add(hits.source[r], fv_source[i]);
                d.campaign.add(hits.campaign[r], fv_campaign[i]);
                d.browser.add(class.browser, fv_browser[i]);
                d.os.add(class.os, fv_os[i]);
                d.device.add(class.device as u32, fv_device[i]);
                d.country.add(hits.country[r], false);
                d.ref_host.add(hits.ref_host[r], false);
                d
            })
            .reduce(Dims::default, |mut a, b| {
                a.merge(&b);
                a
            });
        self.dims.merge(&dims);
        let pick =
            |column: &[u32]| -> Vec<u32> { pv.iter().map(|&r| column[r as usize]).collect() };
        let status_in = |lo: u16, hi: u16| -> Vec<bool> {
            pv.iter()
                .map(|&r| (lo..=hi).contains(&hits.status[r as usize]))
                .collect()
        };
        let bounce: Vec<bool> = entry.iter().zip(&exit).map(|(a, b)| *a && *b).collect();
        let df = pl(
            DataFrame::new(
                n,
                vec![
                    u32_col("path", pick(&hits.path)),
                    bool_col("entry", &entry),
                    bool_col("exit", &exit),
                    bool_col("bounce", &bounce),
                    bool_col("fv_path", &fv_path),
                    bool_col("e4", &status_in(400, 499)),
                    bool_col("e5", &status_in(500, 599)),
                ],
            ),
            "building a bucket's page views",
        )?;
        let pages = pl(
            df.lazy()
                .group_by([col("path")])
                .agg([
                    len().alias("hits"),
                    col("fv_path").sum().alias("visitors"),
                    col("entry").sum().alias("entries"),
                    col("exit").sum().alias("exits"),
                    col("bounce").sum().alias("bounces"),
                    col("e4").sum().alias("errors_4xx"),
                    col("e5").sum().alias("errors_5xx"),
                ])
                .collect(),
            "grouping a bucket's page views",
        )?;
        self.pages.push(pages);
        Ok(())
    }

    fn custom_events(&mut self, hits: &Hits, ev: &[u32]) -> Result<()> {
        if ev.is_empty() {
            return Ok(());
        }
        let mut first = vec![false; ev.len()];
        let mut seen = hashbrown::HashSet::new();
        let bounds = runs(ev, |r| hits.vis[r as usize]);
        for w in bounds.windows(2) {
            let (a, b) = (w[0], w[1]);
            first_of_value(
                |i| hits.event[ev[a + i] as usize],
                b - a,
                &mut first[a..b],
                &mut seen,
            );
        }
        let df = pl(
            DataFrame::new(
                ev.len(),
                vec![
                    u32_col(
                        "event",
                        ev.iter().map(|&r| hits.event[r as usize]).collect(),
                    ),
                    bool_col("fv_event", &first),
                ],
            ),
            "building a bucket's events",
        )?;
        self.events.push(pl(
            group(&df, "event", Some("fv_event")).collect(),
            "grouping a bucket's events",
        )?);
        Ok(())
    }
}

/// Adds partial groups up: `key` -> the sums of `values`, as `(key, sums)` rows.
fn merge(parts: Vec<DataFrame>, key: &str, values: &[&str]) -> Result<Vec<(u32, Vec<u64>)>> {
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let df = if parts.len() == 1 {
        // One bucket: already one row per key.
        let casts: Vec<Expr> = std::iter::once(col(key))
            .chain(values.iter().map(|v| col(*v).cast(DataType::UInt64)))
            .collect();
        let part = parts.into_iter().next().expect("one part");
        pl(
            part.lazy().select(casts).collect(),
            "reading a bucket's groups",
        )?
    } else {
        let lazy: Vec<LazyFrame> = parts.into_iter().map(DataFrame::lazy).collect();
        let sums: Vec<Expr> = values
            .iter()
            .map(|v| col(*v).cast(DataType::UInt64).sum().alias(*v))
            .collect();
        pl(
            concat(lazy, UnionArgs::default())
                .and_then(|lf| lf.group_by([col(key)]).agg(sums).collect()),
            "adding up the buckets",
        )?
    };
    let keys: Vec<u32> = pl(
        df.column(key).and_then(|c| c.u32().cloned()),
        "reading keys",
    )?
    .into_no_null_iter()
    .collect();
    let mut columns = Vec::new();
    for v in values {
        let c: Vec<u64> = pl(df.column(v).and_then(|c| c.u64().cloned()), "reading sums")?
            .iter()
            .map(|x| x.unwrap_or(0))
            .collect();
        columns.push(c);
    }
    Ok((0..keys.len())
        .map(|i| (keys[i], columns.iter().map(|c| c[i]).collect()))
        .collect())
}

/// Sorts rows by hits descending, then name, and keeps the first `top`.
fn sort_top<T: Send>(
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

/// The names behind the codes, for the outputs.
pub struct Names {
    /// Paths.
    pub path: Dict,
    /// Users.
    pub user: Dict,
    /// Countries.
    pub country: Dict,
    /// Sources.
    pub source: Dict,
    /// External referrer hosts.
    pub ref_host: Dict,
    /// Campaign keys.
    pub campaign: Dict,
    /// Custom events.
    pub event: Dict,
    /// Browser families.
    pub browser: Dict,
    /// OS families.
    pub os: Dict,
}

/// One period worked out: everything but the comparison.
pub struct Totals {
    summary: Summary,
    pages: Vec<(u32, PageRow)>,
    users: Vec<UserRow>,
    hourly: [u64; 24],
    daily: Vec<DayRow>,
    sources: Vec<SourceRow>,
    campaigns: Vec<CampaignRow>,
    browsers: Vec<BrowserRow>,
    os: Vec<OsRow>,
    devices: Vec<DeviceRow>,
    events: Vec<EventRow>,
}

impl Accumulator<'_> {
    /// Adds the buckets up and works out the user report.
    pub fn finish(self, names: &Names, reading: &Reading, opts: Options) -> Result<Totals> {
        let period = self.period;
        let pages = merge(
            self.pages,
            "path",
            &[
                "hits",
                "visitors",
                "entries",
                "exits",
                "bounces",
                "errors_4xx",
                "errors_5xx",
            ],
        )?;
        let users = super::timed("users", || users(self.signed_in, period, names, opts.top))?;

        let total = self.hits;
        let mut page_rows: Vec<(u32, PageRow)> = pages
            .into_par_iter()
            .map(|(code, v)| {
                let row = PageRow {
                    path: names.path.name(code).to_string(),
                    hits: v[0],
                    users: users.per_page.get(&code).copied().unwrap_or(0),
                    visitors: v[1],
                    share: ratio(v[0], total),
                    entries: v[2],
                    exits: v[3],
                    bounces: v[4],
                    errors_4xx: v[5],
                    errors_5xx: v[6],
                    previous_hits: None,
                };
                (code, row)
            })
            .collect();
        // All of them: the comparison looks up pages outside the current top; [`report`] cuts.
        sort_top(&mut page_rows, |(_, p)| p.hits, |(_, p)| &p.path, None);

        let keyed =
            |parts: Vec<DataFrame>, key: &str, dict: &Dict| -> Result<Vec<(String, u64, u64)>> {
                Ok(merge(parts, key, &["hits", "visitors"])?
                    .into_iter()
                    .map(|(code, v)| (dict.name(code).to_string(), v[0], v[1]))
                    .collect())
            };
        let counted = |counts: Counts, dict: &Dict| -> Vec<(String, u64, u64)> {
            counts
                .rows()
                .map(|(code, [hits, visitors])| (dict.name(code).to_string(), hits, visitors))
                .collect()
        };
        let Dims {
            source,
            campaign,
            browser,
            os,
            device,
            country,
            ref_host,
        } = self.dims;
        let mut sources = counted(source, &names.source);
        sort_top(&mut sources, |r| r.1, |r| &r.0, opts.top);
        let mut campaigns = counted(campaign, &names.campaign);
        sort_top(&mut campaigns, |r| r.1, |r| &r.0, opts.top);
        let mut browsers = counted(browser, &names.browser);
        sort_top(&mut browsers, |r| r.1, |r| &r.0, opts.top);
        let mut os = counted(os, &names.os);
        sort_top(&mut os, |r| r.1, |r| &r.0, opts.top);
        let mut devices: Vec<(String, u64, u64)> = device
            .rows()
            .filter_map(|(code, [hits, visitors])| {
                Device::ALL
                    .iter()
                    .find(|d| **d as u32 == code)
                    .map(|d| (d.name().to_string(), hits, visitors))
            })
            .collect();
        sort_top(&mut devices, |r| r.1, |r| &r.0, opts.top);

        let summary_top = Some(opts.top.unwrap_or(DEFAULT_SUMMARY_TOP));
        let mut countries: Vec<(String, u64)> = country
            .rows()
            .map(|(code, [hits, _])| (names.country.name(code).to_string(), hits))
            .collect();
        sort_top(&mut countries, |r| r.1, |r| &r.0, summary_top);
        let mut referrers: Vec<(String, u64)> = ref_host
            .rows()
            .map(|(code, [hits, _])| (names.ref_host.name(code).to_string(), hits))
            .collect();
        sort_top(&mut referrers, |r| r.1, |r| &r.0, summary_top);

        let mut events: Vec<(String, u64, u64)> = keyed(self.events, "event", &names.event)?;
        sort_top(&mut events, |r| r.1, |r| &r.0, opts.top);

        let sessions = users.sessions + self.anon_sessions;
        let bounces = users.bounces + self.anon_bounces;
        let summary = Summary {
            hits: total,
            users: users.distinct,
            visitors: self.visitors,
            sessions,
            bounce_rate: ratio(bounces, sessions),
            bots: self.bots,
            bots_included: opts.include_bots,
            duplicates: self.duplicates + reading.duplicates,
            malformed_rows: reading.malformed_rows,
            unknown_header_files: reading.unknown_header_files,
            files: reading.files,
            partitions: reading.partitions.clone(),
            missing_partitions: reading.missing_partitions.clone(),
            events: self.events_total,
            referrers: referrers
                .into_iter()
                .map(|(host, hits)| ReferrerCount { host, hits })
                .collect(),
            countries: countries
                .into_iter()
                .map(|(country, hits)| CountryCount { country, hits })
                .collect(),
            status_classes: StatusClasses {
                c1xx: self.status[0],
                c2xx: self.status[1],
                c3xx: self.status[2],
                c4xx: self.status[3],
                c5xx: self.status[4],
            },
        };
        let visitors = summary.visitors;
        Ok(Totals {
            pages: page_rows,
            users: users.rows,
            hourly: self.hourly,
            daily: (0..period.days())
                .map(|d| DayRow {
                    date: period.date_of(d),
                    hits: self.daily_hits[d],
                    users: users.per_day[d],
                    visitors: self.daily_visitors[d],
                })
                .collect(),
            sources: sources
                .into_iter()
                .map(|(source, hits, visitors)| SourceRow {
                    source,
                    hits,
                    visitors,
                })
                .collect(),
            campaigns: campaigns
                .into_iter()
                .map(|(key, hits, visitors)| {
                    let (s, m, c) = campaign_parts(&key);
                    CampaignRow {
                        utm_source: s.to_string(),
                        utm_medium: m.to_string(),
                        utm_campaign: c.to_string(),
                        hits,
                        visitors,
                    }
                })
                .collect(),
            browsers: browsers
                .into_iter()
                .map(|(browser, hits, visitors)| BrowserRow {
                    browser,
                    hits,
                    visitors,
                })
                .collect(),
            os: os
                .into_iter()
                .map(|(os, hits, visitors)| OsRow { os, hits, visitors })
                .collect(),
            devices: devices
                .into_iter()
                .map(|(device, hits, visitors)| DeviceRow {
                    device,
                    hits,
                    visitors,
                })
                .collect(),
            events: events
                .into_iter()
                .map(|(event, hits, v)| EventRow {
                    event,
                    hits,
                    visitors: v,
                    conversion_rate: ratio(v, visitors),
                })
                .collect(),
            summary,
        })
    }
}

/// What the signed-in page views give.
struct Users {
    rows: Vec<UserRow>,
    distinct: u64,
    sessions: u64,
    bounces: u64,
    per_page: HashMap<u32, u64>,
    per_day: Vec<u64>,
}

/// The user report: signed-in page views by user (across devices), in time order.
fn users(s: SignedIn, period: &Period, names: &Names, top: Option<usize>) -> Result<Users> {
    let keys: Vec<u64> = s.user.iter().map(|&u| u64::from(u)).collect();
    let sorted = order(&keys, &s.ts, &s.eid);
    drop(keys);
    let n = sorted.len();
    let mut out = Users {
        rows: Vec::new(),
        distinct: 0,
        sessions: 0,
        bounces: 0,
        per_page: HashMap::new(),
        per_day: vec![0; period.days()],
    };
    let bounds = runs(&sorted, |r| u64::from(s.user[r as usize]));
    // (user, hits, pages, sessions, first, last, top page, name)
    type Row<'n> = (u32, u64, u64, u64, i64, i64, u32, &'n str);
    struct Part<'n> {
        rows: Vec<Row<'n>>,
        sessions: u64,
        bounces: u64,
        per_page: HashMap<u32, u64>,
        per_day: Vec<u64>,
    }
    let chunks = chunks_of_runs(&bounds, n / (8 * rayon::current_num_threads()) + 1);
    let parts: Vec<Part<'_>> = chunks
        .par_iter()
        .map(|&(c0, c1)| {
            let mut part = Part {
                rows: Vec::with_capacity(c1 - c0),
                sessions: 0,
                bounces: 0,
                per_page: HashMap::new(),
                per_day: vec![0; period.days()],
            };
            let mut entry = Vec::new();
            let mut exit = Vec::new();
            let mut seen = hashbrown::HashSet::new();
            let mut days = hashbrown::HashSet::new();
            let mut counts: HashMap<u32, u64> = HashMap::new();
            for w in bounds[c0..=c1].windows(2) {
                let (a, b) = (w[0], w[1]);
                let len = b - a;
                let row = |i: usize| sorted[a + i] as usize;
                entry.clear();
                entry.resize(len, false);
                exit.clear();
                exit.resize(len, false);
                session_flags(|i| s.ts[row(i)], len, &mut entry, &mut exit);
                let sessions = entry.iter().filter(|&&e| e).count() as u64;
                part.sessions += sessions;
                part.bounces += (0..len).filter(|&i| entry[i] && exit[i]).count() as u64;
                seen.clear();
                days.clear();
                counts.clear();
                for i in 0..len {
                    let r = row(i);
                    let path = s.path[r];
                    if seen.insert(path) {
                        *part.per_page.entry(path).or_default() += 1;
                    }
                    *counts.entry(path).or_default() += 1;
                    let d = period.day_index(s.ts[r]);
                    if days.insert(d) {
                        part.per_day[d] += 1;
                    }
                }
                // The most viewed path; ties go to the smallest path.
                let top_page = counts
                    .iter()
                    .max_by(|x, y| {
                        x.1.cmp(y.1)
                            .then_with(|| names.path.name(*y.0).cmp(names.path.name(*x.0)))
                    })
                    .map_or(NONE, |(p, _)| *p);
                part.rows.push((
                    s.user[row(0)],
                    len as u64,
                    seen.len() as u64,
                    sessions,
                    s.ts[row(0)],
                    s.ts[row(len - 1)],
                    top_page,
                    names.user.name(s.user[row(0)]),
                ));
            }
            part
        })
        .collect();
    let mut rows: Vec<Row<'_>> = Vec::with_capacity(bounds.len());
    for part in parts {
        rows.extend(part.rows);
        out.sessions += part.sessions;
        out.bounces += part.bounces;
        for (page, users) in part.per_page {
            *out.per_page.entry(page).or_default() += users;
        }
        for (d, users) in part.per_day.into_iter().enumerate() {
            out.per_day[d] += users;
        }
    }
    out.distinct = rows.len() as u64;
    sort_top(&mut rows, |r| r.1, |r| r.7, top);
    out.rows = rows
        .into_iter()
        .map(
            |(_, hits, pages, sessions, first, last, top_page, name)| UserRow {
                user: name.to_string(),
                hits,
                pages,
                sessions,
                first_seen: period.format_local(first),
                last_seen: period.format_local(last),
                top_page: names.path.name(top_page).to_string(),
            },
        )
        .collect();
    Ok(out)
}

/// The report of `period`, compared with `previous` when given.
pub fn report(
    period: &Period,
    current: Totals,
    previous: Option<(&Period, Totals)>,
    opts: Options,
) -> Report {
    let mut pages = current.pages;
    if let Some(n) = opts.top {
        pages.truncate(n);
    }
    let previous = previous.map(|(p, totals)| {
        let before: HashMap<u32, u64> = totals
            .pages
            .iter()
            .map(|(code, row)| (*code, row.hits))
            .collect();
        for (code, row) in pages.iter_mut() {
            row.previous_hits = Some(before.get(code).copied().unwrap_or(0));
        }
        Previous {
            from: p.from(),
            to: p.to(),
            summary: totals.summary,
        }
    });
    Report {
        date: period.from(),
        from: period.from(),
        to: period.to(),
        tz: period.tz.name().to_string(),
        summary: current.summary,
        pages: pages.into_iter().map(|(_, row)| row).collect(),
        users: current.users,
        hourly: current.hourly,
        daily: current.daily,
        sources: current.sources,
        campaigns: current.campaigns,
        browsers: current.browsers,
        os: current.os,
        devices: current.devices,
        events: current.events,
        previous,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_small_and_large_codes_across_merges() {
        let (mut a, mut b) = (Counts::default(), Counts::default());
        let big = DENSE_CODES as u32 + 7;
        a.add(3, true);
        a.add(3, false);
        a.add(big, true);
        a.add(NONE, true);
        b.add(3, true);
        b.add(big, false);
        b.add(70, false);
        a.merge(&b);
        let mut rows: Vec<(u32, [u64; 2])> = a.rows().collect();
        rows.sort_unstable();
        assert_eq!(rows, [(3, [3, 2]), (70, [1, 0]), (big, [2, 1])]);
    }
}
