//! Reading a compacted day (see [`crate::compacted`]) one visitor bucket at a time.
//!
//! When the partitions of a period were compacted into different numbers of buckets, they are
//! read as `groups` buckets, the most any of them has: group `i` is file `i / (groups / k)`
//! of a `k`-bucket day, keeping the rows whose visitor falls in group `i` (buckets nest).

use crate::compacted::{bucket_of, Manifest, PartFile};
use crate::period::Period;
use crate::transform::hits::{visitor_bits, Dicts, Room, Row};
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

/// The record's columns that are not text.
const NUMBERS: [&str; 3] = ["ts", "status", "bot"];

/// A file's text columns, a value read from the array of the row group it lies in, without the
/// chunked array's lookup of the chunk and bounds a value (a tenth of decoding went to that
/// lookup), and without joining a column's chunks into one array (a copy of every value).
struct Texts {
    /// The record's text columns that the reports read, in the record's order.
    names: Vec<&'static str>,
    /// Each row group's arrays, by `names` (`None` when not read).
    groups: Vec<Vec<Option<Utf8ViewArray>>>,
    /// Where each row group ends.
    ends: Vec<usize>,
}

impl Texts {
    /// The text columns of `df`, `event_id` only when `ids`.
    fn new(df: &DataFrame, ids: bool) -> Result<Texts> {
        let names: Vec<&'static str> = pagehit::COLUMNS
            .iter()
            .copied()
            .filter(|c| !UNREAD.contains(c) && !NUMBERS.contains(c))
            .collect();
        let mut columns: Vec<Option<StringChunked>> = names
            .iter()
            .map(|&name| {
                (ids || name != "event_id")
                    .then(|| Ok(df.column(name)?.str()?.clone()))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        let lengths = |ca: &StringChunked| ca.chunk_lengths().collect::<Vec<usize>>();
        let v = position(&names, "visitor");
        let of_visitor = |columns: &[Option<StringChunked>]| {
            columns[v].as_ref().map(lengths).unwrap_or_default()
        };
        let visitor = of_visitor(&columns);
        // A column cut elsewhere than the others (not one chunk a row group) is made one array,
        // as they all are then.
        if columns.iter().flatten().any(|ca| lengths(ca) != visitor) {
            for ca in columns.iter_mut().flatten() {
                *ca = ca.rechunk().into_owned();
            }
        }
        let cuts = of_visitor(&columns);
        let ends = cuts
            .iter()
            .scan(0, |end, n| {
                *end += n;
                Some(*end)
            })
            .collect();
        let groups = (0..cuts.len())
            .map(|g| {
                columns
                    .iter()
                    .map(|ca| ca.as_ref().and_then(|ca| ca.downcast_get(g).cloned()))
                    .collect()
            })
            .collect();
        Ok(Texts {
            names,
            groups,
            ends,
        })
    }

    /// Where column `name` is in a row group's arrays.
    fn at(&self, name: &str) -> usize {
        position(&self.names, name)
    }

    /// The row group of row `i` and where it starts.
    fn group_of(&self, i: usize) -> (usize, usize) {
        let g = self.ends.partition_point(|&end| end <= i);
        (g, if g == 0 { 0 } else { self.ends[g - 1] })
    }
}

/// Where text column `name` is among `names`.
fn position(names: &[&str], name: &str) -> usize {
    names
        .iter()
        .position(|&n| n == name)
        .unwrap_or_else(|| panic!("{name} is a text column of the record"))
}

/// Value `i` of a column's array (`""` when null or not read).
fn s(a: &Option<Utf8ViewArray>, i: usize) -> &str {
    a.as_ref().and_then(|a| a.get(i)).unwrap_or("")
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
    let texts = Texts::new(&df, ids)?;
    let at = |name| texts.at(name);
    let (event_id, host, path, user) = (at("event_id"), at("host"), at("path"), at("user"));
    let (visitor, referrer, country) = (at("visitor"), at("referrer"), at("country"));
    let (user_agent, event) = (at("user_agent"), at("event"));
    let utm = [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    ]
    .map(at);
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
                && (groups <= 1 || {
                    let (g, start) = texts.group_of(i);
                    bucket_of(
                        visitor_bits(s(&texts.groups[g][visitor], i - start)),
                        groups,
                    ) == group
                })
        })
        .collect();
    // The file's span bounds its coded rows': a wider span only makes a tie check stricter.
    let span = (!rows.is_empty()).then(|| ts.min().zip(ts.max())).flatten();
    let mut slots = into.grow(rows.len());
    // Parts of at most CHUNK rows, each within one row group.
    let mut chunks = Vec::with_capacity(rows.len().div_ceil(CHUNK) + texts.ends.len());
    let mut rest = rows.as_slice();
    while let Some(&first) = rest.first() {
        let (g, start) = texts.group_of(first as usize);
        let end = texts.ends[g];
        let take = rest.partition_point(|&r| (r as usize) < end).min(CHUNK);
        let (part, after) = rest.split_at(take);
        let (head, tail) = slots.split_at(take);
        chunks.push(((g, start), part, head));
        slots = tail;
        rest = after;
    }
    chunks.into_par_iter().for_each_init(
        || dicts.caches(),
        |caches, ((g, start), part, mut slots)| {
            let a = &texts.groups[g];
            // The row before's values and codes, in one of two buffers that take turns (moving
            // a row's 300 bytes to the other buffer every row was a twentieth of decoding).
            let mut turns = [(HitRef::default(), Row::default()); 2];
            for (j, &i) in part.iter().enumerate() {
                let i = i as usize;
                let t = i - start;
                let [even, odd] = &mut turns;
                let (this, before) = if j % 2 == 0 {
                    (even, &*odd)
                } else {
                    (odd, &*even)
                };
                let hit = &mut this.0;
                hit.event_id = s(&a[event_id], t);
                hit.host = s(&a[host], t);
                hit.path = s(&a[path], t);
                hit.status = status
                    .get(i)
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(0);
                hit.user = s(&a[user], t);
                hit.visitor = s(&a[visitor], t);
                hit.referrer = s(&a[referrer], t);
                hit.country = s(&a[country], t);
                hit.user_agent = s(&a[user_agent], t);
                hit.bot = bot.get(i).unwrap_or(false);
                hit.event = s(&a[event], t);
                hit.utm_source = s(&a[utm[0]], t);
                hit.utm_medium = s(&a[utm[1]], t);
                hit.utm_campaign = s(&a[utm[2]], t);
                hit.utm_term = s(&a[utm[3]], t);
                hit.utm_content = s(&a[utm[4]], t);
                let ts_ms = ts.get(i).unwrap_or_default();
                let before = (j > 0).then_some((&before.0, &before.1));
                this.1 = Row::code(dicts, caches, &this.0, ts_ms, before);
                slots.set(j, &this.1);
            }
        },
    );
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

    /// A compacted file of `n` rows of day `day` in row groups of `group` rows (`None`: one).
    fn file(day: i64, n: usize, group: Option<usize>) -> bytes::Bytes {
        let text = |name: &str, f: &dyn Fn(usize) -> String| {
            Column::new(name.into(), (0..n).map(f).collect::<Vec<String>>())
        };
        let columns: Vec<Column> = pagehit::COLUMNS
            .iter()
            .map(|&name| match name {
                "ts" => Int64Chunked::from_vec(
                    "ts".into(),
                    (0..n).map(|i| day * 86_400_000 + i as i64 * 1000).collect(),
                )
                .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                .into_column(),
                "status" => Column::new("status".into(), vec![200i32; n]),
                "bot" => Column::new("bot".into(), vec![false; n]),
                "origin_ms" => Column::new("origin_ms".into(), vec![0i64; n]),
                "event_id" => text(name, &|i| format!("01a21490-e20a-7000-8000-{i:012x}")),
                "visitor" => text(name, &|i| format!("{:016x}", i / 5)),
                "path" => text(name, &|i| format!("/p/{}", i % 7)),
                "user" => text(name, &|i| {
                    if i % 3 == 0 {
                        format!("u{}", i % 4)
                    } else {
                        String::new()
                    }
                }),
                "referrer" => text(name, &|i| {
                    if i % 2 == 0 {
                        format!("https://r{}.example/x", i % 3)
                    } else {
                        String::new()
                    }
                }),
                "utm_campaign" => text(name, &|i| format!("c{}", i % 5)),
                "event" => text(name, &|_| "pageview".into()),
                "host" => text(name, &|_| "h.example".into()),
                "country" => text(name, &|i| ["KR", "JP"][i % 2].into()),
                _ => text(name, &|_| String::new()),
            })
            .collect();
        let mut df = DataFrame::new(n, columns).unwrap();
        let mut out = Vec::new();
        ParquetWriter::new(&mut out)
            .with_row_group_size(group)
            .finish(&mut df)
            .unwrap();
        out.into()
    }

    /// Every row of a decoded file, by name.
    fn decoded(bytes: bytes::Bytes, period: &Period) -> Vec<String> {
        let dicts = Dicts::new(Default::default());
        let mut room = crate::transform::hits::Hits::room(2000, 2000);
        decode(bytes, (0, 1), period, &dicts, &mut room, true).unwrap();
        let hits = room.finish();
        let (shared, names) = (dicts.shared.clone(), dicts.into_names());
        (0..hits.len())
            .map(|r| {
                let name = |d: &crate::transform::intern::Dict, c: u32| d.name(c).to_string();
                format!(
                    "{} {} {} {} {} {} {} {} {}",
                    hits.eid[r],
                    hits.ts[r],
                    hits.vis[r],
                    name(&names.path, hits.path[r]),
                    name(&names.user, hits.user[r]),
                    name(&names.source, hits.source[r]),
                    name(&names.source, hits.ref_host[r]),
                    name(&names.campaign, hits.campaign[r]),
                    shared.country.name(hits.country[r]),
                )
            })
            .collect()
    }

    #[test]
    fn rows_are_coded_alike_whatever_the_row_groups() {
        let day = 20_782;
        let period = Period::day(day, chrono_tz::UTC);
        let groups = |bytes: &bytes::Bytes| {
            let df = ParquetReader::new(std::io::Cursor::new(bytes.clone()))
                .finish()
                .unwrap();
            Texts::new(&df, true).unwrap().groups.len()
        };
        let one = file(day, 2000, None);
        // Row groups of about 300 rows (as the writer evens them out), so that the parts of
        // 64K rows are cut at each.
        let many = file(day, 2000, Some(300));
        assert_eq!(groups(&one), 1);
        assert!(groups(&many) >= 6, "{}", groups(&many));
        let want = decoded(one, &period);
        assert_eq!(want.len(), 2000);
        let first = "/p/0 u0 r0.example r0.example \u{1f}\u{1f}c0 KR";
        assert!(want[0].ends_with(first), "{}", want[0]);
        assert_eq!(decoded(many, &period), want);
    }

    #[test]
    fn columns_cut_unlike_the_others_are_read_as_one_array() {
        let mut visitor = StringChunked::new("visitor".into(), ["a", "b"]);
        visitor
            .append(&StringChunked::new("visitor".into(), ["c"]))
            .unwrap();
        let path = StringChunked::new("path".into(), ["/x", "/y", "/z"]);
        let (visitor, path) = (visitor.into_column(), path.into_column());
        let columns: Vec<Column> = pagehit::COLUMNS
            .iter()
            .map(|&name| match name {
                "visitor" => visitor.clone(),
                "path" => path.clone(),
                _ => StringChunked::new(name.into(), ["", "", ""]).into_column(),
            })
            .collect();
        let df = DataFrame::new(3, columns).unwrap();
        let texts = Texts::new(&df, false).unwrap();
        assert_eq!(texts.ends, [3]);
        let a = &texts.groups[0];
        let (visitor, path) = (&a[texts.at("visitor")], &a[texts.at("path")]);
        assert_eq!((s(visitor, 2), s(path, 2)), ("c", "/z"));
        assert_eq!(texts.group_of(2), (0, 0));
    }

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
