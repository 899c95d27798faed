//! The page views' dimensions other than the path: source, campaign, browser, OS, device,
//! country and referrer host, counted (page views, and distinct visitors from the
//! first-of-visitor marks) in one folded pass per bucket, and their lists at the end.
//!
//! Browsers, OS, devices and countries have few values and are counted by the report's shared
//! codes; sources, campaigns and referrer hosts can have as many values as page views, so each
//! bucket's counts are added by name into [`Keyed`] tables, which spill past their budget.

use super::agents::{Classes, Device};
use super::model::{BrowserRow, CampaignRow, DeviceRow, HostRow, OsRow, Rows, SourceRow};
use super::sort_top;
use super::spill::{get_str, get_varint, put_str, put_varint, Keyed, Row, Sorter, Spill};
use super::visits::{first, Marks, SESSION_FIRST};
use super::visits::{F_BROWSER, F_CAMPAIGN, F_DEVICE, F_HOST, F_OS, F_SOURCE};
use crate::transform::hits::{campaign_parts, BucketNames, Hits};
use crate::transform::intern::{Dict, NONE};
use anyhow::Result;
use rayon::prelude::*;
use std::cmp::Ordering;

/// Codes below this are counted in a vector indexed by code (interner codes are dense, and most
/// dimensions have few values); the rest in a map, so that memory follows the values a chunk
/// saw, not the dictionary's size (`host` is a bucket's code and can have many values; the
/// dimensions that grow with the page views are counted by [`by_code`] instead).
const DENSE_CODES: usize = 1 << 16;

/// Hits and first visits (visitors) per code of a dimension: counted while the page views are
/// walked, with no frame or group-by per bucket.
#[derive(Default)]
pub struct Counts {
    dense: Vec<[u64; 2]>,
    sparse: hashbrown::HashMap<u32, [u64; 2]>,
    /// The latest code added and what it has gathered since it began to repeat: a visitor's
    /// rows mostly repeat its agent, host and country, and adding each one to its slot made
    /// every row wait on the store of the row before. Added to its slot by [`Counts::flush`].
    run: (u32, [u64; 2]),
}

impl Counts {
    /// Counts one page view of `code` ([`NONE`] is not counted), `first` if it is its
    /// visitor's first with that value.
    #[inline]
    pub fn add(&mut self, code: u32, first: bool) {
        if code == self.run.0 {
            self.run.1[0] += 1;
            self.run.1[1] += u64::from(first);
        } else {
            self.flush();
            self.run = (code, [1, u64::from(first)]);
        }
    }

    /// Adds the pending run of one code to its slot.
    pub fn flush(&mut self) {
        let (code, counts) = std::mem::replace(&mut self.run, (NONE, [0, 0]));
        self.add_to_slot(code, counts);
    }

    fn add_to_slot(&mut self, code: u32, [hits, firsts]: [u64; 2]) {
        if hits == 0 || code == NONE {
            return;
        }
        // A code already in the vector (nearly every one after the first few) takes one
        // bounds check; the rest goes the long way.
        let i = code as usize;
        let c = if i < self.dense.len() {
            &mut self.dense[i]
        } else if i < DENSE_CODES {
            self.dense.resize((i + 1).next_power_of_two(), [0, 0]);
            &mut self.dense[i]
        } else {
            self.sparse.entry(code).or_insert([0, 0])
        };
        c[0] += hits;
        c[1] += firsts;
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &Counts) {
        self.flush();
        self.add_to_slot(other.run.0, other.run.1);
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
    pub fn rows(mut self) -> impl Iterator<Item = (u32, [u64; 2])> {
        self.flush();
        let dense = self.dense.into_iter().enumerate();
        dense
            .filter(|(_, c)| c[0] > 0)
            .map(|(code, c)| (code as u32, c))
            .chain(self.sparse)
    }

    /// `(name, hits, visitors)` of every code seen.
    pub(super) fn named(self, dict: &Dict) -> Vec<(String, u64, u64)> {
        self.rows()
            .map(|(code, [hits, visitors])| (dict.name(code).to_string(), hits, visitors))
            .collect()
    }
}

/// One bucket's counts of the dimensions with few values, by the bucket's codes (hosts) or
/// the report's (the rest).
#[derive(Default)]
struct BucketCounts {
    host: Counts,
    browser: Counts,
    os: Counts,
    device: Counts,
    country: Counts,
}

impl BucketCounts {
    /// Adds every dimension's pending run to its slot.
    fn flush(&mut self) {
        self.host.flush();
        self.browser.flush();
        self.os.flush();
        self.device.flush();
        self.country.flush();
    }

    fn merge(&mut self, o: &BucketCounts) {
        self.host.merge(&o.host);
        self.browser.merge(&o.browser);
        self.os.merge(&o.os);
        self.device.merge(&o.device);
        self.country.merge(&o.country);
    }
}

/// One dimension for [`by_code`]: its column, its bucket code space and its first-visit mark
/// (0: none counted).
type Column<'a> = (&'a [u32], usize, u16);

/// Page views, first visits (the visitor's first page view with the value, where the column
/// has a first-visit mark) and sessions (counted on a session's first counted page view) per
/// bucket code of each of three dimensions that can have as many values as page views: one
/// vector over each one's code space (32-bit counts: a bucket's rows are counted in `u32`),
/// all walked in one pass over the page views and their marks (per-thread maps of the codes
/// past a dense prefix, merged, were a tenth of a bucket on a day of unique sources; a pass
/// per dimension read the rows and marks three times).
fn by_code(columns: [Column<'_>; 3], pv: &[u32], marks: &Marks) -> [Vec<[u32; 3]>; 3] {
    let mut counts = columns.map(|(_, space, _)| vec![[0u32; 3]; space]);
    // A run of one code (a session's rows share its source and campaign) is gathered before
    // it is added to its slot, as in [`Counts::add`].
    let mut runs = [(NONE, [0u32; 3]); 3];
    let add = |counts: &mut Vec<[u32; 3]>, (code, run): (u32, [u32; 3])| {
        if let Some(c) = counts.get_mut(code as usize) {
            (0..3).for_each(|k| c[k] += run[k]);
        }
    };
    for (i, &r) in pv.iter().enumerate() {
        let b = marks.bits[i];
        let session = u32::from(b & SESSION_FIRST != 0);
        for d in 0..3 {
            let (column, _, first) = columns[d];
            let code = column[r as usize];
            if code != runs[d].0 {
                add(&mut counts[d], runs[d]);
                runs[d] = (code, [0; 3]);
            }
            let run = &mut runs[d].1;
            run[0] += 1;
            run[1] += u32::from(b & first != 0);
            run[2] += session;
        }
    }
    for d in 0..3 {
        add(&mut counts[d], runs[d]);
    }
    counts
}

/// The page views' dimensions other than the path, for a period.
pub struct Dims {
    source: Keyed<3>,
    campaign: Keyed<3>,
    ref_host: Keyed<1>,
    host: Keyed<2>,
    browser: Counts,
    os: Counts,
    device: Counts,
    country: Counts,
}

/// The names of the report's shared codes.
pub struct DimNames<'a> {
    /// Browser families.
    pub browser: &'a Dict,
    /// OS families.
    pub os: &'a Dict,
    /// Countries.
    pub country: &'a Dict,
}

/// The lists the dimensions give, sorted; all but sources and campaigns cut to their top.
pub struct Lists {
    /// `sources`.
    pub sources: Rows<SourceRow>,
    /// `campaigns`.
    pub campaigns: Rows<CampaignRow>,
    /// `browsers`.
    pub browsers: Vec<BrowserRow>,
    /// `os`.
    pub os: Vec<OsRow>,
    /// `devices`.
    pub devices: Vec<DeviceRow>,
    /// `summary.countries`: (country, page views).
    pub countries: Vec<(String, u64)>,
    /// `summary.referrers`: (host, page views).
    pub referrers: Vec<(String, u64)>,
    /// `hosts`, cut to `top`.
    pub hosts: Vec<HostRow>,
}

/// A table's rows as one sorted list, `row` making each row of a key and its counters: one
/// sorter per merge worker, combined.
fn sorted<const N: usize, T: Row>(
    table: Keyed<N>,
    what: &'static str,
    limit: usize,
    spill: &Spill,
    row: impl Fn(Box<str>, [u64; N]) -> T + Sync,
) -> Result<Sorter<T>> {
    let workers = super::spill::workers();
    let sorters = table.finish()?.parts(
        Sorter::per_worker(what, limit, spill, workers),
        |sorter, part| {
            part.into_iter()
                .try_for_each(|(key, v)| sorter.push(row(key, v)))
        },
    )?;
    Sorter::combine(sorters)
}

/// A table's best `top` rows (all when `None`) by `hits` then `name`, `row` making each row of
/// a key and its counters: partition by partition, only the best stay.
fn best<const N: usize, T: Send + Clone>(
    table: Keyed<N>,
    top: Option<usize>,
    row: impl Fn(Box<str>, [u64; N]) -> T + Sync,
    hits: impl Fn(&T) -> u64 + Sync + Copy,
    name: impl Fn(&T) -> &str + Sync + Copy,
) -> Result<Vec<T>> {
    let workers = super::spill::workers();
    let mut rows = table
        .finish()?
        .parts(vec![Vec::new(); workers], |rows, part| {
            rows.extend(part.into_iter().map(|(key, v)| row(key, v)));
            sort_top(rows, hits, name, top);
            Ok(())
        })?
        .concat();
    sort_top(&mut rows, hits, name, top);
    Ok(rows)
}

impl Dims {
    /// Nothing counted yet; each of the three large tables holds `limit` bytes before it
    /// spills.
    pub fn new(limit: usize, spill: &Spill) -> Dims {
        Dims {
            source: Keyed::new("sources", limit, spill),
            campaign: Keyed::new("campaigns", limit, spill),
            ref_host: Keyed::new("referrers", limit, spill),
            host: Keyed::new("hosts", limit, spill),
            browser: Counts::default(),
            os: Counts::default(),
            device: Counts::default(),
            country: Counts::default(),
        }
    }

    /// Counts the page views `pv` (rows of `hits` whose agents `classes` classes, `marks.bits[i]` of
    /// `pv[i]`; `names` names the bucket's codes), folded per thread (a counter per chunk
    /// could hold a large code range many times over).
    pub fn count(
        &mut self,
        hits: &Hits,
        pv: &[u32],
        classes: &Classes,
        marks: &Marks,
        names: &BucketNames,
    ) -> Result<()> {
        // Folded a block of rows at a time: the accumulator (a few hundred bytes) is moved
        // through the fold once a block, not once a row (that copy was a sixth of a count).
        const BLOCK: usize = 4096;
        // The three large dimensions in one pass on one thread, beside the folded rest.
        let (counts, [source, campaign, ref_host]) = rayon::join(
            || {
                pv.par_chunks(BLOCK)
                    .enumerate()
                    .with_min_len(16)
                    .fold(BucketCounts::default, |mut d, (b, block)| {
                        for (j, &r) in block.iter().enumerate() {
                            let i = b * BLOCK + j;
                            let r = r as usize;
                            let class = classes.of(hits.agent[r]);
                            let b = marks.bits[i];
                            let has = |bit: u16| b & bit != 0;
                            d.host.add(hits.host[r], has(first(F_HOST)));
                            d.browser.add(class.browser, has(first(F_BROWSER)));
                            d.os.add(class.os, has(first(F_OS)));
                            d.device.add(class.device as u32, has(first(F_DEVICE)));
                            d.country.add(hits.country[r], false);
                        }
                        d.flush();
                        d
                    })
                    .reduce(BucketCounts::default, |mut a, b| {
                        a.merge(&b);
                        a
                    })
            },
            || {
                by_code(
                    [
                        (&hits.source, names.source.code_space(), first(F_SOURCE)),
                        (
                            &hits.campaign,
                            names.campaign.code_space(),
                            first(F_CAMPAIGN),
                        ),
                        (&hits.ref_host, names.source.code_space(), 0),
                    ],
                    pv,
                    marks,
                )
            },
        );
        self.browser.merge(&counts.browser);
        self.os.merge(&counts.os);
        self.device.merge(&counts.device);
        self.country.merge(&counts.country);
        let wide = |c: [u32; 3]| c.map(u64::from);
        for (code, c) in source.into_iter().enumerate() {
            if c[0] > 0 {
                self.source.add(names.source.name(code as u32), wide(c))?;
            }
        }
        for (code, c) in campaign.into_iter().enumerate() {
            if c[0] > 0 {
                self.campaign
                    .add(names.campaign.name(code as u32), wide(c))?;
            }
        }
        for (code, c) in counts.host.rows() {
            self.host.add(names.host.name(code), c)?;
        }
        for (code, c) in ref_host.into_iter().enumerate() {
            if c[0] > 0 {
                self.ref_host
                    .add(names.source.name(code as u32), [u64::from(c[0])])?;
            }
        }
        Ok(())
    }

    /// The lists, sorted by hits (then name): sources and campaigns whole, showing the first
    /// `top`; the others cut to `top`; the summary's countries and referrers to `summary_top`.
    pub fn lists(
        self,
        names: &DimNames<'_>,
        top: Option<usize>,
        summary_top: usize,
        limit: usize,
        spill: &Spill,
    ) -> Result<Lists> {
        let Dims {
            source,
            campaign,
            ref_host,
            host,
            browser,
            os,
            device,
            country,
        } = self;
        let sources = sorted(source, "source-rows", limit, spill, |source, [h, v, s]| {
            SourceRow {
                source: source.into_string(),
                hits: h,
                visitors: v,
                sessions: s,
            }
        })?;
        let campaigns = sorted(campaign, "campaign-rows", limit, spill, |key, [h, v, s]| {
            let (source, medium, campaign) = campaign_parts(&key);
            CampaignRow {
                utm_source: source.to_string(),
                utm_medium: medium.to_string(),
                utm_campaign: campaign.to_string(),
                hits: h,
                visitors: v,
                sessions: s,
            }
        })?;
        let referrers: Vec<(String, u64)> = best(
            ref_host,
            Some(summary_top),
            |host, [hits]| (host.into_string(), hits),
            |r| r.1,
            |r| &r.0,
        )?;
        let hosts: Vec<(String, u64, u64)> = best(
            host,
            top,
            |host, [hits, visitors]| (host.into_string(), hits, visitors),
            |r| r.1,
            |r| &r.0,
        )?;

        let mut browsers = browser.named(names.browser);
        sort_top(&mut browsers, |r| r.1, |r| &r.0, top);
        let mut oses = os.named(names.os);
        sort_top(&mut oses, |r| r.1, |r| &r.0, top);
        let mut devices: Vec<(String, u64, u64)> = device
            .rows()
            .filter_map(|(code, [hits, visitors])| {
                Device::ALL
                    .iter()
                    .find(|d| **d as u32 == code)
                    .map(|d| (d.name().to_string(), hits, visitors))
            })
            .collect();
        sort_top(&mut devices, |r| r.1, |r| &r.0, top);
        let mut countries: Vec<(String, u64)> = country
            .rows()
            .map(|(code, [hits, _])| (names.country.name(code).to_string(), hits))
            .collect();
        sort_top(&mut countries, |r| r.1, |r| &r.0, Some(summary_top));
        Ok(Lists {
            sources: sources.finish(top)?,
            campaigns: campaigns.finish(top)?,
            countries,
            referrers,
            hosts: hosts
                .into_iter()
                .map(|(host, hits, visitors)| HostRow {
                    host,
                    hits,
                    visitors,
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
            os: oses
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
        })
    }
}

impl Row for SourceRow {
    fn encode(&self, out: &mut Vec<u8>) {
        put_str(out, &self.source);
        put_varint(out, self.hits);
        put_varint(out, self.visitors);
        put_varint(out, self.sessions);
    }

    fn decode(mut input: &[u8]) -> Option<Self> {
        let i = &mut input;
        Some(SourceRow {
            source: get_str(i)?,
            hits: get_varint(i)?,
            visitors: get_varint(i)?,
            sessions: get_varint(i)?,
        })
    }

    fn weight(&self) -> usize {
        std::mem::size_of::<SourceRow>() + self.source.len()
    }

    fn order(a: &Self, b: &Self) -> Ordering {
        b.hits.cmp(&a.hits).then_with(|| a.source.cmp(&b.source))
    }
}

impl Row for CampaignRow {
    fn encode(&self, out: &mut Vec<u8>) {
        put_str(out, &self.utm_source);
        put_str(out, &self.utm_medium);
        put_str(out, &self.utm_campaign);
        put_varint(out, self.hits);
        put_varint(out, self.visitors);
        put_varint(out, self.sessions);
    }

    fn decode(mut input: &[u8]) -> Option<Self> {
        let i = &mut input;
        Some(CampaignRow {
            utm_source: get_str(i)?,
            utm_medium: get_str(i)?,
            utm_campaign: get_str(i)?,
            hits: get_varint(i)?,
            visitors: get_varint(i)?,
            sessions: get_varint(i)?,
        })
    }

    fn weight(&self) -> usize {
        std::mem::size_of::<CampaignRow>()
            + self.utm_source.len()
            + self.utm_medium.len()
            + self.utm_campaign.len()
    }

    // The parts in order: as the joined key (U+001F sorts before any character a hit holds).
    fn order(a: &Self, b: &Self) -> Ordering {
        b.hits.cmp(&a.hits).then_with(|| {
            (&a.utm_source, &a.utm_medium, &a.utm_campaign).cmp(&(
                &b.utm_source,
                &b.utm_medium,
                &b.utm_campaign,
            ))
        })
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
