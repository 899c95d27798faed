//! Reading a compacted day (see [`crate::compacted`]) one visitor bucket at a time.
//!
//! When the partitions of a period were compacted into different numbers of buckets, they are
//! read as `groups` buckets, the most any of them has: group `i` is file `i / (groups / k)`
//! of a `k`-bucket day, keeping the rows whose visitor falls in group `i` (buckets nest).

use crate::compacted::{bucket_of, Manifest, PartFile};
use crate::period::Period;
use crate::transform::hits::{visitor_bits, Caches, Dicts, Hits, Row};
use anyhow::{bail, Context, Result};
use pagehit::HitRef;
use polars::prelude::*;
use rayon::prelude::*;
use store::Store;

/// The record's columns the reports do not use.
const UNREAD: [&str; 3] = ["action", "method", "origin_ms"];

/// Rows converted to hit columns per task.
const CHUNK: usize = 64 * 1024;

/// The file holding group `group` of `groups` in a day of `manifest.buckets`.
pub fn file_for(manifest: &Manifest, group: u32, groups: u32) -> Result<&PartFile> {
    let per_file = groups / manifest.buckets.max(1);
    let bucket = group / per_file.max(1);
    manifest
        .files
        .iter()
        .find(|f| f.bucket == bucket)
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
    let key = &file_for(manifest, group, groups)?.key;
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

/// Decodes a bucket file's rows in `period` whose visitor is in group `group` of `groups`,
/// appending them to `into` (coded straight into their place: a copy of a bucket's columns
/// into fresh memory was a sixth of a cold month, the kernel clearing its pages).
pub fn decode(
    bytes: bytes::Bytes,
    group: u32,
    groups: u32,
    period: &Period,
    dicts: &Dicts,
    into: &mut Hits,
) -> Result<()> {
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

    let rows: Vec<u32> = (0..n as u32)
        .into_par_iter()
        .filter(|&i| {
            let i = i as usize;
            ts.get(i).is_some_and(|t| period.contains(t))
                && (groups <= 1 || bucket_of(visitor_bits(s(&visitor, i)), groups) == group)
        })
        .collect();
    let mut slots = into.grow(rows.len());
    let mut chunks = Vec::with_capacity(rows.len().div_ceil(CHUNK));
    for part in rows.chunks(CHUNK) {
        let (head, rest) = slots.split_at(part.len());
        chunks.push((part, head));
        slots = rest;
    }
    chunks
        .into_par_iter()
        .for_each_init(Caches::default, |caches, (part, mut slots)| {
            let mut before: Option<(HitRef, Row)> = None;
            for (j, &i) in part.iter().enumerate() {
                let i = i as usize;
                let ts_ms = ts.get(i).unwrap_or_default();
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
                    visitor: s(&visitor, i),
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
                let row = Row::code(
                    dicts,
                    caches,
                    &hit,
                    ts_ms,
                    before.as_ref().map(|(h, r)| (h, r)),
                );
                slots.set(j, &row);
                before = Some((hit, row));
            }
        });
    Ok(())
}
