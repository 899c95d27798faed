//! The compacted day's format: the commit object (`_current.json`, [`Manifest`]), the visitor
//! buckets, and the Parquet columns. Written by `analyzer compact` (`sink::compacted`), read by
//! `analyzer report` (`source::compacted`) and by `jobs/spark/report.py`.
//!
//! **Commit rule (Architecture Invariant):** a run's Parquet files are written first, under
//! their own `run=<id>/` folder; the one small `_current.json` naming the run, its files and the
//! landed objects it covers is written last, with one PUT (atomic on S3 and, by rename, in a
//! folder). Readers follow only `_current.json`, so they see the previous run or the new one,
//! never a mix or a half-written run. Older runs are deleted only after the new
//! `_current.json` is in place. One compaction of a day runs at a time (the schedule runs one).

use serde::{Deserialize, Serialize};

/// The `format` of the manifests this program writes and reads.
pub const FORMAT: u32 = 1;

/// Target size of one bucket, in bytes of landed CSV: about a million hits, a few hundred MB
/// in memory while it is sorted and written.
pub const TARGET_BUCKET_BYTES: u64 = 256 << 20;

/// Most buckets a day is split into.
pub const MAX_BUCKETS: u32 = 4096;

/// `_current.json`: the current compaction run of one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The UTC day, `YYYY-MM-DD`.
    pub date: String,
    /// The run's id (its start time, sortable, and a random suffix).
    pub run: String,
    /// When the run was committed (RFC 3339 UTC).
    pub created: String,
    /// Number of visitor buckets (a power of two).
    pub buckets: u32,
    /// The Parquet files, one per bucket, in bucket order.
    pub files: Vec<PartFile>,
    /// Hits written (bots included; duplicates and malformed rows not).
    pub rows: u64,
    /// The landed objects this run read.
    pub covers: Covers,
    /// Rows dropped as repeats of an earlier row.
    pub duplicates: u64,
    /// `[minute of the UTC day, duplicates]` for each minute that had any: a duplicate has the
    /// same `ts` as its original, so the duplicates of any period are the sum over its minutes.
    pub duplicates_by_minute: Vec<[u64; 2]>,
    /// Lines of the landed objects that are not valid hits.
    pub malformed_rows: u64,
    /// Landed objects whose header is not a page-hit header.
    pub unknown_header_files: u64,
}

/// One Parquet file of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartFile {
    /// Its key under the source (`pagehit::layout::compacted_part`).
    pub key: String,
    /// The bucket it holds.
    pub bucket: u32,
    /// Its rows.
    pub rows: u64,
    /// Its size.
    pub bytes: u64,
}

/// The landed objects a run covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Covers {
    /// How many.
    pub objects: u64,
    /// Their keys under the source, sorted.
    pub keys: Vec<String>,
}

impl Manifest {
    /// Whether every key of `landed` (sorted) is one this run read.
    pub fn covers(&self, landed: &[&str]) -> bool {
        landed.iter().all(|k| {
            self.covers
                .keys
                .binary_search_by(|c| c.as_str().cmp(k))
                .is_ok()
        })
    }

    /// Duplicates dropped in `[start_ms, end_ms)` (period bounds fall on whole minutes).
    pub fn duplicates_between(&self, start_ms: i64, end_ms: i64) -> u64 {
        let Some(day) = pagehit::time::parse_date(&self.date) else {
            return 0;
        };
        let day_ms = day * pagehit::time::MS_PER_DAY;
        self.duplicates_by_minute
            .iter()
            .filter(|[m, _]| (start_ms..end_ms).contains(&(day_ms + *m as i64 * 60_000)))
            .map(|[_, n]| n)
            .sum()
    }
}

/// The bucket of a visitor among `buckets` (a power of two): the top bits of a mix of its id,
/// so that bucket `i` of `2k` buckets is within bucket `i / 2` of `k` buckets.
pub fn bucket_of(visitor: u64, buckets: u32) -> u32 {
    let bits = buckets.trailing_zeros();
    if bits == 0 {
        return 0;
    }
    // splitmix64's finaliser: visitor ids are keyed hashes already, but files from elsewhere
    // need not be.
    let mut z = visitor;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> (64 - bits)) as u32
}

/// How many buckets a day of `bytes` of landed CSV is split into.
pub fn buckets_for(bytes: u64) -> u32 {
    let n = bytes.div_ceil(TARGET_BUCKET_BYTES).max(1);
    (n.next_power_of_two().min(u64::from(MAX_BUCKETS))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_nest_and_spread() {
        let mut counts = [0u32; 16];
        for v in 0..100_000u64 {
            let b16 = bucket_of(v, 16);
            counts[b16 as usize] += 1;
            assert_eq!(bucket_of(v, 8), b16 / 2);
            assert_eq!(bucket_of(v, 1), 0);
        }
        assert!(
            counts.iter().all(|&c| (5_500..7_000).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(buckets_for(0), 1);
        assert_eq!(buckets_for(TARGET_BUCKET_BYTES), 1);
        assert_eq!(buckets_for(TARGET_BUCKET_BYTES + 1), 2);
        assert_eq!(buckets_for(27 << 30), 128);
        assert_eq!(buckets_for(u64::MAX / 2), MAX_BUCKETS);
    }

    #[test]
    fn coverage_and_duplicates_by_period() {
        let m = Manifest {
            format: FORMAT,
            date: "2026-11-25".into(),
            run: "r".into(),
            created: String::new(),
            buckets: 1,
            files: vec![],
            rows: 0,
            covers: Covers {
                objects: 2,
                keys: vec![
                    "hits/dt=2026-11-25/a.csv".into(),
                    "hits/dt=2026-11-25/b.csv".into(),
                ],
            },
            duplicates: 3,
            duplicates_by_minute: vec![[0, 1], [600, 2]],
            malformed_rows: 0,
            unknown_header_files: 0,
        };
        assert!(m.covers(&["hits/dt=2026-11-25/a.csv"]));
        assert!(!m.covers(&["hits/dt=2026-11-25/a.csv", "hits/dt=2026-11-25/c.csv"]));
        let day = pagehit::time::parse_ts("2026-11-25T00:00:00.000Z").unwrap();
        assert_eq!(m.duplicates_between(day, day + 86_400_000), 3);
        assert_eq!(m.duplicates_between(day + 60_000, day + 86_400_000), 2);
        assert_eq!(m.duplicates_between(day, day + 600 * 60_000), 1);
    }
}
