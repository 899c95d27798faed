//! The page views' dimensions other than the path: source, campaign, browser, OS, device,
//! country and referrer host, counted (page views, and distinct visitors from the
//! first-of-visitor marks) in one folded pass per bucket, and their lists at the end.

use super::agents::{Class, Device};
use super::model::{BrowserRow, CampaignRow, DeviceRow, OsRow, SourceRow};
use super::sort_top;
use super::visits::{FIRSTS, F_BROWSER, F_CAMPAIGN, F_DEVICE, F_OS, F_SOURCE};
use crate::transform::hits::{campaign_parts, Hits};
use crate::transform::intern::{Dict, NONE};
use rayon::prelude::*;

/// Codes below this are counted in a vector indexed by code (interner codes are dense, and most
/// dimensions have few values); the rest in a map, so that memory follows the values a chunk
/// saw, not the dictionary's size (a day can have millions of referrer hosts).
const DENSE_CODES: usize = 1 << 16;

/// Hits and first visits (visitors) per code of a dimension: counted while the page views are
/// walked, with no frame or group-by per bucket.
#[derive(Default)]
pub struct Counts {
    dense: Vec<[u64; 2]>,
    sparse: hashbrown::HashMap<u32, [u64; 2]>,
}

impl Counts {
    /// Counts one page view of `code` ([`NONE`] is not counted), `first` if it is its
    /// visitor's first with that value.
    pub fn add(&mut self, code: u32, first: bool) {
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

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &Counts) {
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
    pub fn rows(self) -> impl Iterator<Item = (u32, [u64; 2])> {
        let dense = self.dense.into_iter().enumerate();
        dense
            .filter(|(_, c)| c[0] > 0)
            .map(|(code, c)| (code as u32, c))
            .chain(self.sparse)
    }

    /// `(name, hits, visitors)` of every code seen.
    fn named(self, dict: &Dict) -> Vec<(String, u64, u64)> {
        self.rows()
            .map(|(code, [hits, visitors])| (dict.name(code).to_string(), hits, visitors))
            .collect()
    }
}

/// The page views' dimensions other than the path.
#[derive(Default)]
pub struct Dims {
    source: Counts,
    campaign: Counts,
    browser: Counts,
    os: Counts,
    device: Counts,
    country: Counts,
    ref_host: Counts,
}

/// The names of the dimensions' codes.
pub struct DimNames<'a> {
    /// Sources.
    pub source: &'a Dict,
    /// Campaign keys.
    pub campaign: &'a Dict,
    /// Browser families.
    pub browser: &'a Dict,
    /// OS families.
    pub os: &'a Dict,
    /// Countries.
    pub country: &'a Dict,
    /// External referrer hosts.
    pub ref_host: &'a Dict,
}

/// The lists the dimensions give, sorted and cut.
pub struct Lists {
    /// `sources`.
    pub sources: Vec<SourceRow>,
    /// `campaigns`.
    pub campaigns: Vec<CampaignRow>,
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

    /// Counts the page views `pv` (rows of `hits`; `classes[i]` and `firsts[_][i]` belong to
    /// `pv[i]`), folded per thread (a counter per chunk could hold a large code range many
    /// times over).
    pub fn count(
        &mut self,
        hits: &Hits,
        pv: &[u32],
        classes: &[Class],
        firsts: &[Vec<bool>; FIRSTS],
    ) {
        let dims = pv
            .par_iter()
            .enumerate()
            .with_min_len(64 * 1024)
            .fold(Dims::default, |mut d, (i, &r)| {
                let r = r as usize;
                let class = &classes[i];
                d.source.add(hits.source[r], firsts[F_SOURCE][i]);
                d.campaign.add(hits.campaign[r], firsts[F_CAMPAIGN][i]);
                d.browser.add(class.browser, firsts[F_BROWSER][i]);
                d.os.add(class.os, firsts[F_OS][i]);
                d.device.add(class.device as u32, firsts[F_DEVICE][i]);
                d.country.add(hits.country[r], false);
                d.ref_host.add(hits.ref_host[r], false);
                d
            })
            .reduce(Dims::default, |mut a, b| {
                a.merge(&b);
                a
            });
        self.merge(&dims);
    }

    /// The lists, sorted by hits (then name) and cut to `top`; the summary's countries and
    /// referrers to `summary_top`.
    pub fn lists(self, names: &DimNames<'_>, top: Option<usize>, summary_top: usize) -> Lists {
        let Dims {
            source,
            campaign,
            browser,
            os,
            device,
            country,
            ref_host,
        } = self;
        let mut sources = source.named(names.source);
        sort_top(&mut sources, |r| r.1, |r| &r.0, top);
        let mut campaigns = campaign.named(names.campaign);
        sort_top(&mut campaigns, |r| r.1, |r| &r.0, top);
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

        let hits_of = |counts: Counts, dict: &Dict| -> Vec<(String, u64)> {
            let mut rows: Vec<(String, u64)> = counts
                .rows()
                .map(|(code, [hits, _])| (dict.name(code).to_string(), hits))
                .collect();
            sort_top(&mut rows, |r| r.1, |r| &r.0, Some(summary_top));
            rows
        };
        Lists {
            countries: hits_of(country, names.country),
            referrers: hits_of(ref_host, names.ref_host),
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
        }
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
