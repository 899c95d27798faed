//! Where things are under a sink's prefix (an S3 prefix or a folder): the one definition of
//! every object key the pipeline writes or reads.
//!
//! ```text
//! hits/dt=YYYY-MM-DD/<shard>-<first-seq>-<last-seq>.csv        landed hits, one object per batch and day
//! rejected/dt=YYYY-MM-DD/<shard>-<first-seq>-<last-seq>.jsonl  bad records, raw + reason
//! _checkpoints/<stream>/<shard>                                 `aggregator consume` only
//! _checkpoints/<stream>/_lease.json                             the one `consume` of this stream and sink
//! _landed/dt=YYYY-MM-DD/<shard>                                 rewritten after every batch of the day
//! compacted/dt=YYYY-MM-DD/_current.json                         the day's current compaction run (the commit)
//! compacted/dt=YYYY-MM-DD/run=<id>/part-<b>-of-<n>.parquet      its files, one per visitor bucket
//! compacted/_symlink/dt=YYYY-MM-DD/manifest                     the current run's files, for Athena
//! ```
//!
//! Keys are relative to the prefix; `dt=` partitions are Hive style, so Athena, Spark and
//! DuckDB see `dt` as a column. Report outputs (`--out`) go under `dt=YYYY-MM-DD/` or
//! `range=FROM_TO/` of their own location.

/// Folder of landed hit objects.
pub const HITS: &str = "hits";
/// Folder of rejected records.
pub const REJECTED: &str = "rejected";
/// Folder of the polling consumer's checkpoints.
pub const CHECKPOINTS: &str = "_checkpoints";
/// Folder of compacted days.
pub const COMPACTED: &str = "compacted";
/// File name of a compacted day's commit object.
pub const CURRENT: &str = "_current.json";

/// `dt=YYYY-MM-DD`: a partition's folder name.
pub fn partition(date: &str) -> String {
    format!("dt={date}")
}

/// `hits/dt=DATE/`: the landed objects of one UTC day.
pub fn hits_dir(date: &str) -> String {
    format!("{HITS}/dt={date}/")
}

/// `rejected/dt=DATE/`: the rejected records that arrived on one UTC day.
pub fn rejected_dir(date: &str) -> String {
    format!("{REJECTED}/dt={date}/")
}

/// A batch object: `hits/dt=DATE/SHARD-FIRST-LAST.csv` or `rejected/dt=DATE/SHARD-FIRST-LAST.jsonl`.
///
/// Named by the batch's first *and* last sequence numbers: a batch re-read after a crash
/// starts at the same record but may be longer; with both ends an identical retry finds its
/// own object and a longer one gets a new object (repeated rows, which readers drop by
/// `event_id`), never a loss.
pub fn batch_object(rejected: bool, date: &str, shard: &str, first: &str, last: &str) -> String {
    if rejected {
        format!("{}{shard}-{first}-{last}.jsonl", rejected_dir(date))
    } else {
        format!("{}{shard}-{first}-{last}.csv", hits_dir(date))
    }
}

/// Whether a key under [`hits_dir`] is a landed hit object (not a temporary or foreign file).
pub fn is_hit_object(key: &str) -> bool {
    key.ends_with(".csv") && !key.rsplit('/').next().unwrap_or("").starts_with('.')
}

/// `_checkpoints/STREAM/SHARD`.
pub fn checkpoint(stream: &str, shard: &str) -> String {
    format!("{CHECKPOINTS}/{stream}/{shard}")
}

/// Folder of the per-day, per-shard "last landed" markers.
pub const LANDED: &str = "_landed";

/// `_checkpoints/STREAM/_lease.json`: who is consuming `stream` into this sink (`consume`).
pub fn lease(stream: &str) -> String {
    format!("{CHECKPOINTS}/{stream}/_lease.json")
}

/// `_landed/dt=DATE/`: the markers of one UTC day.
pub fn landed_dir(date: &str) -> String {
    format!("{LANDED}/dt={date}/")
}

/// `_landed/dt=DATE/SHARD`: rewritten (new content each time) after every batch that landed
/// objects of `date` from `shard`, so that a reader that saw the same marker versions at two
/// times knows no object of the day landed in between: one listing of a few shards instead of
/// a listing of every object.
pub fn landed_marker(date: &str, shard: &str) -> String {
    format!("{}{shard}", landed_dir(date))
}

/// `compacted/dt=DATE/`: a compacted day.
pub fn compacted_dir(date: &str) -> String {
    format!("{COMPACTED}/dt={date}/")
}

/// `compacted/dt=DATE/_current.json`: the commit object naming the day's current run.
pub fn compacted_current(date: &str) -> String {
    format!("{}{CURRENT}", compacted_dir(date))
}

/// `compacted/dt=DATE/run=RUN/`: the files of one compaction run.
pub fn compacted_run_dir(date: &str, run: &str) -> String {
    format!("{}run={run}/", compacted_dir(date))
}

/// `compacted/dt=DATE/run=RUN/part-BBBBB-of-NNNNN.parquet`: bucket `bucket` of `buckets`.
pub fn compacted_part(date: &str, run: &str, bucket: u32, buckets: u32) -> String {
    format!(
        "{}part-{bucket:05}-of-{buckets:05}.parquet",
        compacted_run_dir(date, run)
    )
}

/// `compacted/_symlink/dt=DATE/manifest`: the current run's file URLs, one a line (Athena's
/// `SymlinkTextInputFormat` reads exactly these files).
pub fn compacted_symlink(date: &str) -> String {
    format!("{COMPACTED}/_symlink/dt={date}/manifest")
}

/// `dt=DATE/`: a one-day report's folder under `--out`.
pub fn report_day_dir(date: &str) -> String {
    format!("dt={date}/")
}

/// `range=FROM_TO/`: a period report's folder under `--out`.
pub fn report_range_dir(from: &str, to: &str) -> String {
    format!("range={from}_{to}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            batch_object(false, "2026-11-26", "shardId-000000000001", "4960", "4962"),
            "hits/dt=2026-11-26/shardId-000000000001-4960-4962.csv"
        );
        assert_eq!(
            batch_object(true, "2026-11-26", "s", "1", "3"),
            "rejected/dt=2026-11-26/s-1-3.jsonl"
        );
        assert_eq!(checkpoint("page-hits", "s0"), "_checkpoints/page-hits/s0");
        assert_eq!(lease("page-hits"), "_checkpoints/page-hits/_lease.json");
        assert_eq!(
            landed_marker("2026-11-26", "shardId-000000000001"),
            "_landed/dt=2026-11-26/shardId-000000000001"
        );
        assert_eq!(
            compacted_current("2026-11-26"),
            "compacted/dt=2026-11-26/_current.json"
        );
        assert_eq!(
            compacted_part("2026-11-26", "r1", 3, 16),
            "compacted/dt=2026-11-26/run=r1/part-00003-of-00016.parquet"
        );
        assert_eq!(
            compacted_symlink("2026-11-26"),
            "compacted/_symlink/dt=2026-11-26/manifest"
        );
        assert_eq!(
            report_range_dir("2026-11-01", "2026-11-30"),
            "range=2026-11-01_2026-11-30/"
        );
        assert!(is_hit_object("hits/dt=2026-11-26/s-1-2.csv"));
        assert!(!is_hit_object("hits/dt=2026-11-26/.s-1-2.csv"));
        assert!(!is_hit_object("hits/dt=2026-11-26/notes.txt"));
    }
}
