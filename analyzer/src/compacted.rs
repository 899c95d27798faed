//! The compacted day's format: the commit object (`_current.json`, [`Manifest`]), the visitor
//! buckets, and the Parquet columns. Written by `analyzer compact` (`sink::compacted`), read by
//! `analyzer report` (`source::compacted`) and by `jobs/spark/report.py`.
//!
//! **Commit rule (Architecture Invariant):** a run's Parquet files are written first, under
//! their own `run=<id>/` folder; the one small `_current.json` naming the run, its files and the
//! landed objects it covers is written last, with one conditional PUT: `If-None-Match: *` when
//! the day had no run, else `If-Match` on the version of `_current.json` the run read when it
//! started (in a folder, the same comparison under a lock of the day's folder). Readers follow
//! only `_current.json`, so they see the previous run or the new one, never a mix or a
//! half-written run. Of two compactions of a day at once, the one that commits second finds
//! `_current.json` changed, discards its own files and starts over (finding the day up to
//! date, or compacting what landed since). A run not named by `_current.json` (read again
//! after the commit) is deleted only once `_current.json` and the run's own newest file are
//! both older than the grace period ([`DEFAULT_GRACE`]): a reader that planned on a replaced
//! run finishes from it, and a run still being written is never deleted under its writer.
//!
//! Readers do not trust a manifest as read: [`Manifest::problem`] checks it against the day,
//! and a day whose run is unusable is read from its landed CSVs instead.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The `format` of the manifests this program writes and reads.
pub const FORMAT: u32 = 1;

/// Target size of one bucket, in bytes of landed CSV: about a million hits, a few hundred MB
/// in memory while it is sorted and written.
pub const TARGET_BUCKET_BYTES: u64 = 256 << 20;

/// Most buckets a day is split into.
pub const MAX_BUCKETS: u32 = 4096;

/// How long a replaced run (and the files of a run that never committed) are kept before a
/// compaction deletes them: longer than any report or Spark job that planned on the run takes
/// to read it, and than any compaction takes to write one bucket.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(6 * 3600);

/// Parses a duration such as `6h`, `30m`, `90s` or `0s` (`--grace`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?} has no unit: write e.g. 6h, 30m or 90s"))?;
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration: write e.g. 6h, 30m or 90s"))?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(format!("{s:?}: the unit is one of s, m, h, d")),
    };
    Ok(Duration::from_secs(secs))
}

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
    /// The versions of the day's "last landed" markers (`pagehit::layout::landed_marker`, by
    /// shard), read before the landed objects were listed. A reader that finds exactly these
    /// versions knows that nothing landed since, without listing every object. Empty when the
    /// day had no markers (objects landed by an older aggregator or by hand): readers then
    /// list the objects.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub landed: BTreeMap<String, String>,
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
    /// Parses `_current.json` and checks it as the current run of `date`: `Err` says why it
    /// cannot be used.
    pub fn parse(bytes: &[u8], date: &str) -> Result<Manifest, String> {
        let manifest: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| format!("it is not a compaction manifest ({e})"))?;
        match manifest.problem(date) {
            Some(why) => Err(why),
            None => Ok(manifest),
        }
    }

    /// Why this manifest cannot be the current run of `date`, if it cannot: the format, the
    /// day, the bucket count (a power of two up to [`MAX_BUCKETS`]), exactly one file per
    /// bucket in order, every file under this run's own folder, the row counts, and the
    /// covered keys (sorted, of this day).
    pub fn problem(&self, date: &str) -> Option<String> {
        if self.format != FORMAT {
            return Some(format!(
                "it has format {} (this analyzer reads {FORMAT})",
                self.format
            ));
        }
        if self.date != date {
            return Some(format!("it names the day {:?}", self.date));
        }
        let segment = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && !s.contains(['/', '\\'])
                && !s.chars().any(char::is_control)
        };
        if !segment(&self.run) {
            return Some(format!("its run id {:?} is not a folder name", self.run));
        }
        if !self.buckets.is_power_of_two() || self.buckets > MAX_BUCKETS {
            return Some(format!(
                "it has {} buckets (a power of two from 1 to {MAX_BUCKETS} expected)",
                self.buckets
            ));
        }
        if self.files.len() != self.buckets as usize {
            return Some(format!(
                "it lists {} files for {} buckets (one per bucket expected)",
                self.files.len(),
                self.buckets
            ));
        }
        let folder = pagehit::layout::compacted_run_dir(date, &self.run);
        for (i, f) in self.files.iter().enumerate() {
            if f.bucket as usize != i {
                return Some(format!(
                    "its file {} holds bucket {} (bucket {i} expected: one file per bucket, in order)",
                    i + 1,
                    f.bucket
                ));
            }
            let name = f.key.strip_prefix(&folder).unwrap_or("");
            if !segment(name) || !name.ends_with(".parquet") {
                return Some(format!(
                    "its file {:?} is not a Parquet file of its own run folder {folder}",
                    f.key
                ));
            }
        }
        let rows: u64 = self.files.iter().map(|f| f.rows).sum();
        if rows != self.rows {
            return Some(format!(
                "its files hold {rows} rows but it says {}",
                self.rows
            ));
        }
        if self.covers.objects != self.covers.keys.len() as u64 {
            return Some(format!(
                "it covers {} objects but lists {} keys",
                self.covers.objects,
                self.covers.keys.len()
            ));
        }
        let day = pagehit::layout::hits_dir(date);
        if let Some(k) = self.covers.keys.iter().find(|k| !k.starts_with(&day)) {
            return Some(format!("it covers {k:?}, not an object of {day}"));
        }
        if self.covers.keys.windows(2).any(|w| w[0] >= w[1]) {
            return Some("its covered keys are not sorted".into());
        }
        let by_minute: u64 = self.duplicates_by_minute.iter().map(|[_, n]| n).sum();
        if by_minute != self.duplicates
            || self
                .duplicates_by_minute
                .iter()
                .any(|[m, _]| *m >= (pagehit::time::MS_PER_DAY / 60_000) as u64)
        {
            return Some(format!(
                "its duplicates by minute do not add up to its {} duplicates",
                self.duplicates
            ));
        }
        None
    }

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

    fn two_buckets() -> Manifest {
        let run = "20261126T010000.000Z-0000abcd";
        let files = (0..2)
            .map(|b| PartFile {
                key: pagehit::layout::compacted_part("2026-11-25", run, b, 2),
                bucket: b,
                rows: 5,
                bytes: 100,
            })
            .collect();
        Manifest {
            format: FORMAT,
            date: "2026-11-25".into(),
            run: run.into(),
            created: String::new(),
            buckets: 2,
            files,
            rows: 10,
            covers: Covers {
                objects: 1,
                keys: vec!["hits/dt=2026-11-25/a.csv".into()],
            },
            duplicates: 2,
            duplicates_by_minute: vec![[5, 2]],
            malformed_rows: 0,
            unknown_header_files: 0,
            landed: BTreeMap::new(),
        }
    }

    #[test]
    fn manifests_are_checked_before_they_are_trusted() {
        let good = two_buckets();
        assert_eq!(good.problem("2026-11-25"), None);
        let bytes = serde_json::to_vec(&good).unwrap();
        assert_eq!(Manifest::parse(&bytes, "2026-11-25"), Ok(good.clone()));
        let why = |f: &dyn Fn(&mut Manifest)| {
            let mut m = good.clone();
            f(&mut m);
            m.problem("2026-11-25").unwrap_or_default()
        };
        assert!(why(&|m| m.format = 2).contains("format 2"));
        assert!(why(&|m| m.buckets = 0).contains("0 buckets"));
        assert!(why(&|m| m.buckets = 1 << 31).contains("2147483648 buckets"));
        assert!(why(&|m| m.buckets = 8192).contains("8192 buckets"));
        assert!(why(&|m| m.buckets = 4).contains("2 files for 4 buckets"));
        assert!(why(&|m| m.files.swap(0, 1)).contains("holds bucket 1"));
        assert!(
            why(&|m| m.files[0].key = "hits/dt=2026-11-25/a.csv".into()).contains("own run folder")
        );
        assert!(why(&|m| m.files[0].key = format!(
            "{}../x.parquet",
            pagehit::layout::compacted_run_dir("2026-11-25", &m.run)
        ))
        .contains("own run folder"));
        assert!(why(&|m| m.run = "../x".into()).contains("not a folder name"));
        assert!(why(&|m| m.rows = 11).contains("hold 10 rows but it says 11"));
        assert!(why(&|m| m.covers.objects = 2).contains("covers 2 objects"));
        assert!(
            why(&|m| m.covers.keys[0] = "hits/dt=2026-11-24/a.csv".into())
                .contains("not an object of")
        );
        assert!(why(&|m| m.duplicates = 3).contains("do not add up"));
        assert!(why(&|m| m.duplicates_by_minute = vec![[1440, 2]]).contains("do not add up"));
        assert!(good
            .problem("2026-11-24")
            .unwrap()
            .contains("names the day"));
        assert!(Manifest::parse(b"{\"format\": 1", "2026-11-25")
            .unwrap_err()
            .contains("not a compaction manifest"));
    }

    #[test]
    fn grace_periods_parse() {
        assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(21_600)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1_800)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        for bad in ["6", "h", "6 h", "-1h", "6y", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
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
            landed: BTreeMap::new(),
        };
        assert!(m.covers(&["hits/dt=2026-11-25/a.csv"]));
        assert!(!m.covers(&["hits/dt=2026-11-25/a.csv", "hits/dt=2026-11-25/c.csv"]));
        let day = pagehit::time::parse_ts("2026-11-25T00:00:00.000Z").unwrap();
        assert_eq!(m.duplicates_between(day, day + 86_400_000), 3);
        assert_eq!(m.duplicates_between(day + 60_000, day + 86_400_000), 2);
        assert_eq!(m.duplicates_between(day, day + 600 * 60_000), 1);
    }
}
