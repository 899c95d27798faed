//! Writing a compacted day in two passes, in memory bounded by one bucket, not by the day.
//!
//! 1. **Spill**: the landed objects are read (several at a time, `source::csv`); each valid
//!    row goes, by its visitor's bucket, to that bucket's spill file on local disk, in
//!    zstd-compressed frames (a worker compresses a full buffer, then appends it under the
//!    file's lock).
//! 2. **Write**: bucket by bucket, the spill file is read back, its rows ordered by (visitor,
//!    ts, event_id, read order), repeats of a row dropped (counted by minute), and written as
//!    one Parquet file (zstd) to the run's folder.
//!
//! A run's local files (spill files and each Parquet file before its upload) live only in the
//! run's own folder under `--tmp`, made private (0700) and new (never one that exists). The
//! run holds an exclusive lock on its `lock` file while it lives; the next run removes every
//! folder whose lock nobody holds (a run killed with SIGKILL leaves its folder behind).

use crate::compacted::bucket_of;
use crate::transform::hits::{uuid_bits, visitor_bits};
use anyhow::{Context, Result};
use pagehit::csv::Row;
use polars::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A worker's buffer for one bucket is compressed and appended when it reaches this size.
const FLUSH: usize = 256 << 10;

/// The record's columns that are not text: spilled (and written) with their own types.
const TYPED: [&str; 4] = ["ts", "status", "bot", "origin_ms"];

/// The record's text columns, in the order a spilled row holds them.
fn strings() -> impl Iterator<Item = &'static str> {
    pagehit::COLUMNS
        .iter()
        .copied()
        .filter(|c| !TYPED.contains(c))
}

/// How many text columns a spilled row holds.
const STRINGS: usize = pagehit::COLUMNS.len() - TYPED.len();

/// The spill files of one compaction run.
pub struct Spill {
    dir: PathBuf,
    buckets: u32,
    files: Vec<Mutex<std::fs::File>>,
    /// Locked while the run lives; the lock is what tells other runs this folder is in use.
    _lock: std::fs::File,
}

/// Name prefix of the runs' folders under `--tmp`.
const FOLDER_PREFIX: &str = "analyzer-compact-";

/// Removes the folders of runs that died (their lock is free) under `tmp`; returns how many.
pub fn remove_dead_spills(tmp: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_run = name.to_str().is_some_and(|n| n.starts_with(FOLDER_PREFIX));
        if !is_run || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path();
        // A folder without a lock file is being created (its lock comes next) or is not ours.
        let Ok(lock) = std::fs::File::open(dir.join("lock")) else {
            continue;
        };
        if lock.try_lock().is_ok() && std::fs::remove_dir_all(&dir).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// One reading thread's buffers, one per bucket.
pub struct SpillWriter<'s> {
    spill: &'s Spill,
    buffers: Vec<Vec<u8>>,
    /// The object being read and the rows read from it so far (the read order).
    file: usize,
    row: u32,
    error: Option<anyhow::Error>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Every field is capped well under 64 KiB (pagehit::Limits), a row under pagehit's MAX_ROW.
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Spill {
    /// Creates `buckets` empty spill files in a new private folder under `tmp`, locked for
    /// as long as the [`Spill`] lives.
    pub fn create(tmp: &Path, run: &str, buckets: u32) -> Result<Spill> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::create_dir_all(tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let dir = tmp.join(format!("{FOLDER_PREFIX}{run}"));
        // Never an existing folder: a run's files are nobody else's to read or plant.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        // Locked under another name first: a cleaner never sees an unlocked `lock`.
        let lock = std::fs::File::create(dir.join("lock.new"))
            .and_then(|f| f.try_lock().map_err(std::io::Error::from).map(|()| f))
            .and_then(|f| std::fs::rename(dir.join("lock.new"), dir.join("lock")).map(|()| f))
            .with_context(|| format!("locking {}", dir.display()))?;
        let files = (0..buckets)
            .map(|b| {
                let path = dir.join(format!("bucket-{b:05}.zst"));
                std::fs::File::create(&path)
                    .map(Mutex::new)
                    .with_context(|| format!("creating {}", path.display()))
            })
            .collect::<Result<_>>()?;
        Ok(Spill {
            dir,
            buckets,
            files,
            _lock: lock,
        })
    }

    /// Where bucket `bucket`'s Parquet file is written before its upload.
    pub fn parquet(&self, bucket: u32) -> PathBuf {
        self.dir.join(format!("part-{bucket:05}.parquet"))
    }

    /// A writer for one reading thread.
    pub fn writer(&self) -> SpillWriter<'_> {
        SpillWriter {
            spill: self,
            buffers: vec![Vec::new(); self.buckets as usize],
            file: usize::MAX,
            row: 0,
            error: None,
        }
    }

    fn append(&self, bucket: usize, raw: &[u8]) -> Result<()> {
        let frame = zstd::bulk::compress(raw, 1).context("compressing a spill buffer")?;
        let mut file = self.files[bucket].lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&frame).context("writing a spill file")
    }

    /// The spilled rows of one bucket, decompressed.
    pub fn read(&self, bucket: u32) -> Result<Vec<u8>> {
        let path = self.dir.join(format!("bucket-{bucket:05}.zst"));
        let compressed =
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        if compressed.is_empty() {
            // No visitor of the day fell in this bucket.
            return Ok(Vec::new());
        }
        zstd::stream::decode_all(&compressed[..])
            .with_context(|| format!("decompressing {}", path.display()))
    }

    /// Deletes one bucket's spill file (once it is written out).
    pub fn remove(&self, bucket: u32) {
        let _ = std::fs::remove_file(self.dir.join(format!("bucket-{bucket:05}.zst")));
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl SpillWriter<'_> {
    /// Spills one row of object `file` (rows of an object arrive in line order).
    pub fn push(&mut self, file: usize, row: Row<'_>) {
        if self.file != file {
            self.file = file;
            self.row = 0;
        }
        let seq = (file as u64) << 32 | u64::from(self.row);
        self.row += 1;
        let h = &row.hit;
        let bucket = bucket_of(visitor_bits(h.visitor), self.spill.buckets) as usize;
        let out = &mut self.buffers[bucket];
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend_from_slice(&row.ts_ms.to_le_bytes());
        out.extend_from_slice(&h.status.to_le_bytes());
        out.push(u8::from(h.bot));
        out.extend_from_slice(&h.origin_ms.to_le_bytes());
        for s in [
            h.event_id,
            h.host,
            h.path,
            h.action,
            h.method,
            h.user,
            h.visitor,
            h.referrer,
            h.country,
            h.user_agent,
            h.event,
            h.utm_source,
            h.utm_medium,
            h.utm_campaign,
            h.utm_term,
            h.utm_content,
        ] {
            put_str(out, s);
        }
        if out.len() >= FLUSH {
            let full = std::mem::take(out);
            if let Err(e) = self.spill.append(bucket, &full) {
                self.error.get_or_insert(e);
            }
        }
    }

    /// Writes what is left in the buffers.
    pub fn finish(mut self) -> Result<()> {
        for (bucket, buffer) in self.buffers.iter().enumerate() {
            if !buffer.is_empty() {
                self.spill.append(bucket, buffer)?;
            }
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// One spilled row, located in a decompressed bucket.
struct Spilled {
    seq: u64,
    ts: i64,
    status: u16,
    bot: bool,
    origin_ms: u32,
    /// Offsets of the text fields (start of each length prefix), in [`strings`] order.
    strings: [u32; STRINGS],
}

fn parse_spilled(buf: &[u8]) -> Vec<Spilled> {
    let mut rows = Vec::new();
    let mut p = 0usize;
    let u16_at = |p: usize| u16::from_le_bytes([buf[p], buf[p + 1]]) as usize;
    while p < buf.len() {
        let seq = u64::from_le_bytes(buf[p..p + 8].try_into().expect("8 bytes"));
        let ts = i64::from_le_bytes(buf[p + 8..p + 16].try_into().expect("8 bytes"));
        let status = u16::from_le_bytes([buf[p + 16], buf[p + 17]]);
        let bot = buf[p + 18] != 0;
        let origin_ms = u32::from_le_bytes(buf[p + 19..p + 23].try_into().expect("4 bytes"));
        p += 23;
        let mut strings = [0u32; STRINGS];
        for s in strings.iter_mut() {
            *s = p as u32;
            p += 2 + u16_at(p);
        }
        rows.push(Spilled {
            seq,
            ts,
            status,
            bot,
            origin_ms,
            strings,
        });
    }
    rows
}

fn string_at(buf: &[u8], offset: u32) -> &str {
    let p = offset as usize;
    let len = u16::from_le_bytes([buf[p], buf[p + 1]]) as usize;
    // Written from validated `&str`s by this program.
    std::str::from_utf8(&buf[p + 2..p + 2 + len]).unwrap_or("")
}

/// What writing one bucket did.
pub struct Written {
    /// Rows in the Parquet file.
    pub rows: u64,
    /// Repeats dropped, by UTC minute of the day.
    pub duplicates_by_minute: Vec<(u64, u64)>,
}

/// Orders a bucket's spilled rows, drops repeats and writes them as Parquet to `file`.
pub fn write_bucket(buf: &[u8], file: &Path) -> Result<Written> {
    let rows = parse_spilled(buf);
    let at = |name: &str| strings().position(|c| c == name).expect("a text column");
    let (visitor, event_id) = (at("visitor"), at("event_id"));
    let vis: Vec<u64> = rows
        .iter()
        .map(|r| visitor_bits(string_at(buf, r.strings[visitor])))
        .collect();
    let eid: Vec<u128> = rows
        .iter()
        .map(|r| uuid_bits(string_at(buf, r.strings[event_id])))
        .collect();
    // Ordered by (visitor, ts, event_id) and, among equal rows, the one read first first.
    let mut order: Vec<u32> = (0..rows.len() as u32).collect();
    order.sort_unstable_by_key(|&i| {
        let i = i as usize;
        (vis[i], rows[i].ts, eid[i], rows[i].seq)
    });
    let mut kept = Vec::with_capacity(order.len());
    let mut duplicates: std::collections::BTreeMap<u64, u64> = Default::default();
    let mut prev: Option<usize> = None;
    for &i in &order {
        let i = i as usize;
        if let Some(p) = prev {
            if vis[p] == vis[i] && rows[p].ts == rows[i].ts && eid[p] == eid[i] {
                let minute = rows[i].ts.rem_euclid(pagehit::time::MS_PER_DAY) / 60_000;
                *duplicates.entry(minute as u64).or_default() += 1;
                continue;
            }
        }
        prev = Some(i);
        kept.push(i);
    }
    let n = kept.len();
    let mut columns: Vec<Column> = Vec::with_capacity(pagehit::COLUMNS.len());
    // Every text column in one pass over the rows in order: a row's strings lie together in
    // the spill buffer, so each row costs one cache miss rather than one per column.
    let mut builders: Vec<StringChunkedBuilder> = strings()
        .map(|name| StringChunkedBuilder::new(name.into(), n))
        .collect();
    for &i in &kept {
        for (b, &offset) in builders.iter_mut().zip(&rows[i].strings) {
            b.append_value(string_at(buf, offset));
        }
    }
    let mut texts: Vec<Option<Column>> = builders
        .into_iter()
        .map(|b| Some(b.finish().into_column()))
        .collect();
    for name in pagehit::COLUMNS {
        let column = match name {
            "ts" => Int64Chunked::from_vec("ts".into(), kept.iter().map(|&i| rows[i].ts).collect())
                .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                .into_column(),
            "status" => Int32Chunked::from_vec(
                "status".into(),
                kept.iter().map(|&i| i32::from(rows[i].status)).collect(),
            )
            .into_column(),
            "bot" => {
                BooleanChunked::from_iter_values("bot".into(), kept.iter().map(|&i| rows[i].bot))
                    .into_column()
            }
            "origin_ms" => Int64Chunked::from_vec(
                "origin_ms".into(),
                kept.iter().map(|&i| i64::from(rows[i].origin_ms)).collect(),
            )
            .into_column(),
            other => texts[at(other)].take().expect("each text column once"),
        };
        columns.push(column);
    }
    let mut df =
        DataFrame::new(n, columns).map_err(|e| anyhow::anyhow!("building a bucket: {e}"))?;
    let f = std::fs::File::create(file).with_context(|| format!("creating {}", file.display()))?;
    ParquetWriter::new(std::io::BufWriter::new(f))
        .with_compression(ParquetCompression::Zstd(None))
        .finish(&mut df)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", file.display()))?;
    Ok(Written {
        rows: n as u64,
        duplicates_by_minute: duplicates.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_runs_folder_is_new_private_locked_and_holds_its_parquet() {
        let tmp = tempfile::tempdir().unwrap();
        let spill = Spill::create(tmp.path(), "r1", 2).unwrap();
        let dir = tmp.path().join("analyzer-compact-r1");
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert!(spill.parquet(1).starts_with(&dir));
        assert!(
            Spill::create(tmp.path(), "r1", 2).is_err(),
            "an existing folder is never taken over"
        );
        assert_eq!(remove_dead_spills(tmp.path()), 0, "its lock is held");
        assert!(dir.exists());
        drop(spill);
        assert!(!dir.exists(), "removed when the run ends");

        // A run killed with SIGKILL leaves its folder with a lock nobody holds.
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("lock"), "").unwrap();
        std::fs::write(dir.join("bucket-00000.zst"), "x").unwrap();
        // One being created (no lock file yet) and one that is not a run's are left alone.
        let young = tmp.path().join("analyzer-compact-r2");
        std::fs::create_dir(&young).unwrap();
        std::fs::create_dir(tmp.path().join("other")).unwrap();
        assert_eq!(remove_dead_spills(tmp.path()), 1);
        assert!(!dir.exists() && young.exists());
    }
}
