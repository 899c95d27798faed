//! Reading a compacted day (see [`crate::compacted`]) one visitor bucket at a time.
//!
//! When the partitions of a period were compacted into different numbers of buckets, they are
//! read as `groups` buckets, the most any of them has: group `i` is file `i / (groups / k)`
//! of a `k`-bucket day, keeping the rows whose visitor falls in group `i` (buckets nest).

use crate::compacted::{bucket_of, Manifest};
use crate::period::Period;
use crate::transform::hits::{Caches, Dicts, Hits};
use anyhow::{bail, Context, Result};
use pagehit::HitRef;
use polars::prelude::*;
use rayon::prelude::*;
use store::Store;

/// The record's columns the reports do not use.
const UNREAD: [&str; 3] = ["action", "method", "origin_ms"];

/// Rows converted to hit columns per task.
const CHUNK: usize = 64 * 1024;

/// The key of the file holding group `group` of `groups` in a day of `manifest.buckets`.
pub fn file_for(manifest: &Manifest, group: u32, groups: u32) -> Result<&str> {
    let per_file = groups / manifest.buckets.max(1);
    let bucket = group / per_file.max(1);
    manifest
        .files
        .iter()
        .find(|f| f.bucket == bucket)
        .map(|f| f.key.as_str())
        .with_context(|| {
            format!(
                "the compaction run {} lists no file for bucket {bucket}",
                manifest.run
            )
        })
}

/// Fetches the Parquet file of group `group` of `groups` (the bytes; decoding is
/// [`decode`]'s, on a blocking thread).
pub async fn fetch(
    store: &Store,
    manifest: &Manifest,
    group: u32,
    groups: u32,
) -> Result<bytes::Bytes> {
    let key = file_for(manifest, group, groups)?;
    match store.get(key).await? {
        Some(bytes) => Ok(bytes),
        None => bail!(
            "{} is listed by the current compaction run of {} but is missing",
            store.display(key),
            manifest.date
        ),
    }
}

fn s(ca: &StringChunked, i: usize) -> &str {
    ca.get(i).unwrap_or("")
}

/// Decodes a bucket file into hit columns: the rows in `period` whose visitor is in group
/// `group` of `groups`.
pub fn decode(
    bytes: bytes::Bytes,
    group: u32,
    groups: u32,
    period: &Period,
    dicts: &Dicts,
) -> Result<Hits> {
    let df = ParquetReader::new(std::io::Cursor::new(bytes))
        .with_columns(Some(
            pagehit::COLUMNS
                .iter()
                .filter(|c| !UNREAD.contains(c))
                .map(|c| c.to_string())
                .collect(),
        ))
        .finish()
        .map_err(|e| anyhow::anyhow!("decoding a compacted file: {e}"))?;
    let n = df.height();
    let strings = |name: &str| -> Result<StringChunked> {
        Ok(df.column(name)?.str()?.rechunk().into_owned())
    };
    let event_id = strings("event_id")?;
    let host = strings("host")?;
    let path = strings("path")?;
    let user = strings("user")?;
    let visitor = strings("visitor")?;
    let referrer = strings("referrer")?;
    let country = strings("country")?;
    let user_agent = strings("user_agent")?;
    let event = strings("event")?;
    let utm: Vec<StringChunked> = [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    ]
    .iter()
    .map(|c| strings(c))
    .collect::<Result<_>>()?;
    let ts = df
        .column("ts")?
        .cast(&DataType::Int64)?
        .i64()?
        .rechunk()
        .into_owned();
    let status = df
        .column("status")?
        .cast(&DataType::Int32)?
        .i32()?
        .rechunk()
        .into_owned();
    let bot = df.column("bot")?.bool()?.rechunk().into_owned();

    let parts: Vec<Hits> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut hits = Hits::with_capacity(CHUNK);
            let mut caches = Caches::default();
            for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
                let Some(ts_ms) = ts.get(i) else { continue };
                if !period.contains(ts_ms) {
                    continue;
                }
                let visitor = s(&visitor, i);
                if groups > 1
                    && bucket_of(crate::transform::hits::visitor_bits(visitor), groups) != group
                {
                    continue;
                }
                let hit = HitRef {
                    event_id: s(&event_id, i),
                    ts: "",
                    host: s(&host, i),
                    path: s(&path, i),
                    action: "",
                    method: "",
                    status: status
                        .get(i)
                        .and_then(|s| u16::try_from(s).ok())
                        .unwrap_or(0),
                    user: s(&user, i),
                    visitor,
                    referrer: s(&referrer, i),
                    country: s(&country, i),
                    user_agent: s(&user_agent, i),
                    bot: bot.get(i).unwrap_or(false),
                    origin_ms: 0,
                    event: s(&event, i),
                    utm_source: s(&utm[0], i),
                    utm_medium: s(&utm[1], i),
                    utm_campaign: s(&utm[2], i),
                    utm_term: s(&utm[3], i),
                    utm_content: s(&utm[4], i),
                };
                hits.push(dicts, &mut caches, &hit, ts_ms);
            }
            hits
        })
        .collect();
    Ok(Hits::concat(parts))
}
