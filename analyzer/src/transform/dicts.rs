//! A bucket's dictionaries ([`Dicts`]: those of values that grow with the day belong to one
//! bucket, the others are [`Shared`] by the report) and one thread's caches in front of them
//! ([`Caches`], lent by the bucket from one part of its rows to the next), with the referrals
//! and campaign keys worked out once per distinct value.

use super::intern::{Cache, Dict, Interner, NONE};
use pagehit::rules::{referral, Referral};
use std::hash::BuildHasher;

/// The dictionaries of the columns with few values whatever the day (countries, user agents,
/// custom events): one set for the whole report, so their codes are counted across buckets.
#[derive(Default)]
pub struct Shared {
    /// `country` (`""` when unknown).
    pub country: Interner,
    /// `user_agent`.
    pub agent: Interner,
    /// `event` of custom events ([`NONE`] for page views).
    pub event: Interner,
}

/// The dictionaries of the coded columns. Those whose values grow with the day (paths, users,
/// sources, referrer hosts, campaigns) belong to one bucket of rows and are dropped with it, so
/// that the names of a day of millions of distinct paths are never all in memory at once; the
/// others are [`Shared`].
#[derive(Default)]
pub struct Dicts {
    /// `path`.
    pub path: Interner,
    /// `user` (signed-in names; anonymous is [`NONE`]).
    pub user: Interner,
    /// The source (`utm_source`, the referrer's host, `(internal)` or `(direct)`), and an
    /// external referrer's host: its label (interned once a row, not twice).
    pub source: Interner,
    /// `utm_source`, `utm_medium`, `utm_campaign` joined by U+001F ([`NONE`] without any utm_*).
    pub campaign: Interner,
    /// `host`.
    pub host: Interner,
    /// `utm_term` and `utm_content` joined by U+001F ([`NONE`] when both are empty).
    pub utm_more: Interner,
    /// The report's dictionaries of few values.
    pub shared: std::sync::Arc<Shared>,
    /// Caches of the threads coding this bucket's rows, kept between parts ([`Dicts::caches`]).
    pool: std::sync::Mutex<Vec<Caches>>,
}

/// The names behind one bucket's codes, read without locks.
pub struct BucketNames {
    /// Paths.
    pub path: Dict,
    /// Users.
    pub user: Dict,
    /// Sources, and external referrer hosts.
    pub source: Dict,
    /// Campaign keys.
    pub campaign: Dict,
    /// Hosts.
    pub host: Dict,
    /// `utm_term` and `utm_content` keys.
    pub utm_more: Dict,
}

impl Dicts {
    /// Empty dictionaries for a bucket, with the report's `shared` ones.
    pub fn new(shared: std::sync::Arc<Shared>) -> Dicts {
        Dicts {
            path: Interner::default(),
            user: Interner::default(),
            source: Interner::default(),
            campaign: Interner::default(),
            host: Interner::default(),
            utm_more: Interner::default(),
            shared,
            pool: std::sync::Mutex::default(),
        }
    }

    /// Caches in front of these dictionaries for one thread, handed back when dropped: the
    /// next part of the bucket a thread codes finds them filled (filled anew for every part,
    /// they mostly allocated and freed).
    pub fn caches(&self) -> PooledCaches<'_> {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        PooledCaches {
            caches: pool.pop().unwrap_or_default(),
            pool: &self.pool,
        }
    }

    /// The bucket's names (moved, not copied).
    pub fn into_names(self) -> BucketNames {
        BucketNames {
            path: self.path.into_dict(),
            user: self.user.into_dict(),
            source: self.source.into_dict(),
            campaign: self.campaign.into_dict(),
            host: self.host.into_dict(),
            utm_more: self.utm_more.into_dict(),
        }
    }
}

/// One thread's caches in front of [`Dicts`] (see [`Cache`]).
#[derive(Default)]
pub struct Caches {
    pub(super) path: Cache,
    pub(super) user: Cache,
    pub(super) country: Cache,
    pub(super) source: Cache,
    pub(super) campaign: Cache,
    pub(super) host: Cache,
    pub(super) utm_more: Cache,
    pub(super) agent: Cache,
    pub(super) event: Cache,
    pub(super) referral: Referrals,
    /// Where a campaign or term-and-content key is joined.
    pub(super) key: String,
}

/// [`Caches`] lent by [`Dicts::caches`].
pub struct PooledCaches<'a> {
    caches: Caches,
    pool: &'a std::sync::Mutex<Vec<Caches>>,
}

impl std::ops::Deref for PooledCaches<'_> {
    type Target = Caches;
    fn deref(&self) -> &Caches {
        &self.caches
    }
}

impl std::ops::DerefMut for PooledCaches<'_> {
    fn deref_mut(&mut self) -> &mut Caches {
        &mut self.caches
    }
}

impl Drop for PooledCaches<'_> {
    fn drop(&mut self) {
        let caches = std::mem::take(&mut self.caches);
        self.pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(caches);
    }
}

/// Referrals already worked out, by (referrer, host): a day has few distinct pairs, and
/// parsing the referrer's URL on every row was a tenth of reading it. Bounded like [`Cache`],
/// its pairs in one buffer.
#[derive(Default)]
pub(super) struct Referrals {
    /// Where the referrer starts, where the host starts and ends in `text`; the two codes.
    table: hashbrown::HashTable<([u32; 3], u32, u32)>,
    text: String,
}

/// Distinct (referrer, host) pairs a [`Referrals`] keeps at most.
const REFERRALS: usize = 16 * 1024;

/// Bytes of pairs a [`Referrals`] keeps at most (see [`Cache`]).
const REFERRAL_BYTES: usize = 1 << 20;

impl Referrals {
    /// The codes (in `d.source`) of the referral's label and of its external host (the
    /// label again; [`NONE`] for direct and internal hits).
    pub(super) fn codes(
        &mut self,
        d: &Dicts,
        c_source: &mut Cache,
        referrer: &str,
        host: &str,
    ) -> (u32, u32) {
        let state = foldhash::fast::FixedState::with_seed(0x7265_6665_7272_616c);
        let hash = state.hash_one((referrer, host));
        let Referrals { table, text } = self;
        fn pair(text: &str, [a, b, c]: [u32; 3]) -> (&str, &str) {
            (
                text.get(a as usize..b as usize).unwrap_or_default(),
                text.get(b as usize..c as usize).unwrap_or_default(),
            )
        }
        if let Some(&(_, label, ref_host)) =
            table.find(hash, |&(at, _, _)| pair(text, at) == (referrer, host))
        {
            return (label, ref_host);
        }
        let referral = referral(referrer, host);
        let label = c_source.code(&d.source, referral.label());
        let ref_host = match &referral {
            Referral::External(_) => label,
            _ => NONE,
        };
        if table.len() < REFERRALS && text.len() + referrer.len() + host.len() <= REFERRAL_BYTES {
            let a = text.len() as u32;
            text.push_str(referrer);
            let b = text.len() as u32;
            text.push_str(host);
            let at = [a, b, text.len() as u32];
            table.insert_unique(hash, (at, label, ref_host), |&(at, _, _)| {
                state.hash_one(pair(text, at))
            });
        }
        (label, ref_host)
    }
}

/// Writes `parts` joined by U+001F into `out` (a thread's buffer: no allocation a row): the
/// dictionary value of a campaign (`utm_source`, `utm_medium`, `utm_campaign`) or of `utm_term`
/// and `utm_content`. U+001F cannot occur in a valid hit.
pub(super) fn join_key(out: &mut String, parts: &[&str]) {
    out.clear();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('\u{1f}');
        }
        out.push_str(part);
    }
}

/// Splits a campaign key (its parts joined by U+001F) back into its parts.
pub fn campaign_parts(key: &str) -> (&str, &str, &str) {
    let mut it = key.split('\u{1f}');
    let mut next = || it.next().unwrap_or("");
    (next(), next(), next())
}
