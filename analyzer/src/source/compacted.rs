//! Reading a compacted day (see [`crate::compacted`]) one visitor bucket at a time.
//!
//! When the partitions of a period were compacted into different numbers of buckets, they are
//! read as `groups` buckets, the most any of them has: group `i` is file `i / (groups / k)`
//! of a `k`-bucket day, keeping the rows whose visitor falls in group `i` (buckets nest).

use crate::compacted::{bucket_of, Manifest, PartFile};
use crate::period::Period;
use crate::transform::hits::{visitor_bits, Caches, Dicts, Room, Row};
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

/// The array type of a string column's chunks.
type Utf8ViewArray = <StringType as PolarsDataType>::Array;

/// A string column as one array, its values read without the chunked array's lookup of the
/// chunk and bounds a value (a tenth of decoding went to that lookup).
struct Text(StringChunked);

impl Text {
    fn new(ca: &StringChunked) -> Text {
        Text(ca.rechunk().into_owned())
    }

    /// The column's single array (after `rechunk`), if it has rows.
    fn array(&self) -> Option<&Utf8ViewArray> {
        self.0.downcast_iter().next()
    }
}

/// Value `i` of a column's array (`""` when null or not read).
fn s(a: Option<&Utf8ViewArray>, i: usize) -> &str {
    a.and_then(|a| a.get(i)).unwrap_or("")
}

/// Decodes a bucket file's rows in `period` whose visitor is in group `group` of `groups`,
/// coding them straight into their place in `into` (a copy of a bucket's columns into fresh
/// memory was a sixth of a cold month, the kernel clearing its pages). Reads `event_id` only
/// when `ids`: a file's rows are unique and sorted by (visitor, ts, event id), so the ids
/// are needed only where its rows tie with another source's ([`ranges_meet`]); they are
/// half of a file's bytes. Returns the least and greatest `ts` of the file when it coded rows.
pub fn decode(
    bytes: bytes::Bytes,
    (group, groups): (u32, u32),
    period: &Period,
    dicts: &Dicts,
    into: &mut Room,
    ids: bool,
) -> Result<Option<(i64, i64)>> {
    let df = ParquetReader::new(std::io::Cursor::new(bytes))
        .with_columns(Some(
            pagehit::COLUMNS
                .iter()
                .filter(|c| !UNREAD.contains(c) && (ids || **c != "event_id"))
                .map(|c| c.to_string())
                .collect(),
        ))
        .finish()
        .map_err(|e| anyhow::anyhow!("decoding a compacted file: {e}"))?;
    let n = df.height();
    let strings = |name: &str| -> Result<Text> { Ok(Text::new(df.column(name)?.str()?)) };
    let event_id = ids.then(|| strings("event_id")).transpose()?;
    let host = strings("host")?;
    let path = strings("path")?;
    let user = strings("user")?;
    let visitor = strings("visitor")?;
    let referrer = strings("referrer")?;
    let country = strings("country")?;
    let user_agent = strings("user_agent")?;
    let event = strings("event")?;
    let utm: Vec<Text> = [
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
    let (event_id, host, path, user, visitor) = (
        event_id.as_ref().and_then(Text::array),
        host.array(),
        path.array(),
        user.array(),
        visitor.array(),
    );
    let (referrer, country, user_agent, event) = (
        referrer.array(),
        country.array(),
        user_agent.array(),
        event.array(),
    );
    let utm: Vec<Option<&Utf8ViewArray>> = utm.iter().map(Text::array).collect();

    let rows: Vec<u32> = (0..n as u32)
        .into_par_iter()
        .filter(|&i| {
            let i = i as usize;
            ts.get(i).is_some_and(|t| period.contains(t))
                && (groups <= 1 || bucket_of(visitor_bits(s(visitor, i)), groups) == group)
        })
        .collect();
    // The file's span bounds its coded rows': a wider span only makes a tie check stricter.
    let span = (!rows.is_empty()).then(|| ts.min().zip(ts.max())).flatten();
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
            // The row before's values and codes, in one of two buffers that take turns (moving
            // a row's 300 bytes to the other buffer every row was a twentieth of decoding).
            let mut turns = [(HitRef::default(), Row::default()); 2];
            for (j, &i) in part.iter().enumerate() {
                let i = i as usize;
                let [even, odd] = &mut turns;
                let (this, before) = if j % 2 == 0 {
                    (even, &*odd)
                } else {
                    (odd, &*even)
                };
                let hit = &mut this.0;
                hit.event_id = s(event_id, i);
                hit.host = s(host, i);
                hit.path = s(path, i);
                hit.status = status
                    .get(i)
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(0);
                hit.user = s(user, i);
                hit.visitor = s(visitor, i);
                hit.referrer = s(referrer, i);
                hit.country = s(country, i);
                hit.user_agent = s(user_agent, i);
                hit.bot = bot.get(i).unwrap_or(false);
                hit.event = s(event, i);
                hit.utm_source = s(utm[0], i);
                hit.utm_medium = s(utm[1], i);
                hit.utm_campaign = s(utm[2], i);
                hit.utm_term = s(utm[3], i);
                hit.utm_content = s(utm[4], i);
                let ts_ms = ts.get(i).unwrap_or_default();
                let before = (j > 0).then_some((&before.0, &before.1));
                this.1 = Row::code(dicts, caches, &this.0, ts_ms, before);
                slots.set(j, &this.1);
            }
        });
    Ok(span)
}

/// Whether rows of different sources of a bucket may tie on (visitor, ts), so that their
/// order and repeats need the event ids: when two compacted files' `ts` spans meet, or a row
/// read from the CSVs (`landed`, ids kept) lies in one's span. Never on days landed by the
/// aggregator (a hit lands in the day of its own `ts`), so the ids are almost never read.
pub fn ranges_meet(landed: &[i64], spans: &[(i64, i64)]) -> bool {
    let mut spans = spans.to_vec();
    spans.sort_unstable();
    spans.windows(2).any(|w| w[1].0 <= w[0].1)
        || landed.iter().any(|&t| {
            let after = spans.partition_point(|&(lo, _)| lo <= t);
            after > 0 && t <= spans[after - 1].1
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_meet_where_a_tie_between_them_is_possible() {
        let days = [(200, 299), (0, 99), (100, 199)];
        assert!(!ranges_meet(&[], &days));
        assert!(!ranges_meet(&[300, 350, -5], &days));
        assert!(
            ranges_meet(&[300, 150], &days),
            "a landed row in a day's span"
        );
        assert!(ranges_meet(&[99], &days), "ends count");
        assert!(ranges_meet(&[], &[(0, 100), (100, 199)]), "spans touching");
        assert!(
            ranges_meet(&[], &[(0, 500), (100, 199)]),
            "one inside another"
        );
        assert!(
            !ranges_meet(&[5, 5], &[]),
            "landed rows alone keep their ids"
        );
    }
}
