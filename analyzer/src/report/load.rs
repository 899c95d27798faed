//! Reading a day's hit files into one in-memory frame of the columns the reports need.
//!
//! The files are parsed here, not by polars' CSV reader: on a 10M-hit day (2.7 GB of CSV) that
//! reader spent most of the run finding line ends one byte at a time on a single thread, and
//! only then parsed all ten used columns as strings. This reader makes one pass over each file's
//! bytes, several files at a time (one per core), and turns each row straight into the compact
//! columns below; everything after loading (dedup order, sessions, groupings, sorting) is polars.
//!
//! CSV rules are polars' (RFC 4180 quoting, the record's 14 columns by position): a field that
//! starts with `"` runs to the next `,` or end of line outside quotes and has `""` unescaped; an
//! empty unquoted field is null, a quoted `""` an empty string; a trailing `\r` is dropped; a
//! short row has nulls for its missing fields and a long row's extra fields are ignored; the
//! first line of each file is the header.
//!
//! Memory matters at 10M hits a day: local files are read in blocks, never whole; `event_id`
//! and `visitor` become u64 hashes (8 bytes instead of 36- and 16-byte strings); paths, users,
//! referrers, hosts and countries become u32 codes into per-column dictionaries; timestamps are
//! i64 milliseconds; rows outside the day are dropped while reading.

use super::pl;
use crate::day::Day;
use anyhow::{bail, Context};
use polars::prelude::*;
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

// Fixed seeds so the same id always hashes to the same key (the keys never leave the process).
// `event_id` is hashed by polars (`Expr::hash`) with these seeds, so that same-millisecond
// hits are ordered exactly as before.
const SEEDS: (u64, u64, u64, u64) = (
    0x5157_1e5a_7c1d_a001,
    0x2b7e_1516_28ae_d2a6,
    0x9e37_79b9_7f4a_7c15,
    0x243f_6a88_85a3_08d3,
);

// Positions of the used fields in a row, looked up in `pagehit::COLUMNS` at compile time.
const EVENT_ID: usize = column("event_id");
const TS: usize = column("ts");
const HOST: usize = column("host");
const PATH: usize = column("path");
const STATUS: usize = column("status");
const USER: usize = column("user");
const VISITOR: usize = column("visitor");
const REFERRER: usize = column("referrer");
const COUNTRY: usize = column("country");
const BOT: usize = column("bot");

/// The position of `name` in the record's columns; a name that is not one fails the build.
const fn column(name: &str) -> usize {
    let mut i = 0;
    while i < pagehit::COLUMNS.len() {
        if pagehit::COLUMNS[i].len() == name.len() {
            let (a, b) = (pagehit::COLUMNS[i].as_bytes(), name.as_bytes());
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not a pagehit column")
}

/// Fields kept per row: up to the last used one; the rest of a row is skipped.
const KEPT_FIELDS: usize = max(
    max(max(EVENT_ID, TS), max(HOST, PATH)),
    max(
        max(max(STATUS, USER), max(VISITOR, REFERRER)),
        max(COUNTRY, BOT),
    ),
) + 1;

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// Bytes read from a local file at a time (grown when one row is longer).
const BLOCK: usize = 8 << 20;
/// Event ids hashed by polars per call.
const ID_BATCH: usize = 1 << 16;

/// Marks a null in the `user` and `referrer` code vectors while reading.
const NONE: u32 = u32::MAX;

/// The distinct values of one column, in byte order: a row holds the index of its value, so
/// comparing codes compares the strings (sorting and tie-breaks by name work on codes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dict {
    names: Vec<String>,
}

impl Dict {
    /// A dictionary of `names` (sorted and deduplicated here).
    pub fn new(mut names: Vec<String>) -> Dict {
        names.sort_unstable();
        names.dedup();
        Dict { names }
    }

    /// The string of `code`; `""` for a code that is not in the dictionary.
    pub fn name(&self, code: u32) -> &str {
        self.names.get(code as usize).map_or("", String::as_str)
    }

    /// The code of `name`, if present.
    pub fn code(&self, name: &str) -> Option<u32> {
        self.names
            .binary_search_by(|n| n.as_str().cmp(name))
            .ok()
            .map(|i| i as u32)
    }

    /// Number of distinct values.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The dictionaries of the coded columns of [`Loaded::hits`].
#[derive(Debug, Clone, Default)]
pub struct Dicts {
    /// `path`.
    pub path: Dict,
    /// `user` (signed-in names; anonymous hits are null).
    pub user: Dict,
    /// `referrer` (empty referrers are null).
    pub referrer: Dict,
    /// `host` (an empty host is `""`).
    pub host: Dict,
    /// `country` (`""` when unknown).
    pub country: Dict,
}

/// The hits of one day, ready for the reports, with the counts of what was left out.
pub struct Loaded {
    /// Columns: `eid` (u64 hash of event_id), `ts` (i64 ms), `path` (u32 code), `status`
    /// (i32), `user` (u32 code, null when anonymous), `vis` (u64 hash of visitor), `bot`,
    /// `referrer` (u32 code, null when empty), `host` and `country` (u32 codes). Codes index
    /// [`Loaded::dicts`].
    pub hits: DataFrame,
    /// The strings behind the coded columns.
    pub dicts: Dicts,
    /// Rows that could not be used.
    pub malformed: u64,
    /// Rows of the day dropped as repeats of an `event_id`.
    pub duplicates: u64,
    /// Bot hits of the day after dedup.
    pub bots: u64,
}

/// Reads `files` and returns the day's usable, deduplicated hits (bots only if `include_bots`).
/// `on_file(i, n)` is called when file `i` of `n` starts being read (for progress).
///
/// Files are `s3://bucket/key` URLs or local paths. Blocking (and for S3 it needs the tokio
/// runtime it is called from): call it from a blocking thread inside tokio.
pub fn load(
    files: &[String],
    day: &Day,
    include_bots: bool,
    on_file: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<Loaded> {
    let runtime = tokio::runtime::Handle::try_current().ok();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let parts: Vec<Mutex<Option<anyhow::Result<Part>>>> =
        files.iter().map(|_| Mutex::new(None)).collect();
    let interners: Vec<Interners> = super::timed("parse", || {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|worker| {
                    let (next, parts, runtime) = (&next, &parts, runtime.as_ref());
                    s.spawn(move || {
                        let mut dicts = Interners::default();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(file) = files.get(i) else { break };
                            on_file(i, files.len());
                            let part = read_file(file, day, runtime, &mut dicts, worker)
                                .with_context(|| format!("reading {file}"));
                            if part.is_err() {
                                // Stop every worker: the first error (in file order) is reported.
                                next.store(files.len(), Ordering::Relaxed);
                            }
                            *parts[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(part);
                        }
                        dicts
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    });
    let mut read = Vec::with_capacity(files.len());
    for part in parts {
        match part.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(part) => read.push(part?),
            // Not read because another file failed first; that error comes first in file order.
            None => continue,
        }
    }
    super::timed("assemble", || assemble(read, interners, include_bots))
}

/// Merges the per-worker dictionaries, drops repeated event ids (the first row of an id in
/// file order is kept) and bots (unless included), and builds the frame.
fn assemble(
    parts: Vec<Part>,
    interners: Vec<Interners>,
    include_bots: bool,
) -> anyhow::Result<Loaded> {
    let (dicts, remaps) = merge_dicts(interners);
    let malformed = parts.iter().map(|p| p.malformed).sum();
    let rows: usize = parts.iter().map(|p| p.eid.len()).sum();
    let mut out = Columns::with_capacity(rows);
    let mut seen = IdSet::with_capacity(rows);
    let (mut duplicates, mut bots) = (0u64, 0u64);
    for part in parts {
        let remap = &remaps[part.worker];
        let c = &part.cols;
        for (r, &eid) in part.eid.iter().enumerate() {
            if let Some(&ahead) = part.eid.get(r + LOOKAHEAD) {
                seen.touch(ahead);
            }
            if !seen.insert(eid) {
                duplicates += 1;
                continue;
            }
            if c.bot[r] {
                bots += 1;
                if !include_bots {
                    continue;
                }
            }
            out.push_row(c, r, eid, remap);
        }
    }
    drop(seen);
    Ok(Loaded {
        hits: out.into_frame()?,
        dicts,
        malformed,
        duplicates,
        bots,
    })
}

/// The rows of one file that are usable and in the day, with worker-local codes.
struct Part {
    /// The worker whose [`Interners`] the codes refer to.
    worker: usize,
    /// polars' hash of each row's event_id.
    eid: Vec<u64>,
    cols: Columns,
    malformed: u64,
}

/// The frame's columns as vectors (`eid` is kept apart while reading: it is hashed in batches).
#[derive(Default)]
struct Columns {
    eid: Vec<u64>,
    ts: Vec<i64>,
    path: Vec<u32>,
    status: Vec<i32>,
    user: Vec<u32>,
    vis: Vec<u64>,
    bot: Vec<bool>,
    referrer: Vec<u32>,
    host: Vec<u32>,
    country: Vec<u32>,
}

impl Columns {
    fn with_capacity(n: usize) -> Columns {
        Columns {
            eid: Vec::with_capacity(n),
            ts: Vec::with_capacity(n),
            path: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            user: Vec::with_capacity(n),
            vis: Vec::with_capacity(n),
            bot: Vec::with_capacity(n),
            referrer: Vec::with_capacity(n),
            host: Vec::with_capacity(n),
            country: Vec::with_capacity(n),
        }
    }

    /// Appends row `r` of `c` with its codes mapped to the merged dictionaries.
    fn push_row(&mut self, c: &Columns, r: usize, eid: u64, remap: &Remap) {
        let map = |codes: &[u32], code: u32| {
            if code == NONE {
                NONE
            } else {
                codes[code as usize]
            }
        };
        self.eid.push(eid);
        self.ts.push(c.ts[r]);
        self.path.push(remap.path[c.path[r] as usize]);
        self.status.push(c.status[r]);
        self.user.push(map(&remap.user, c.user[r]));
        self.vis.push(c.vis[r]);
        self.bot.push(c.bot[r]);
        self.referrer.push(map(&remap.referrer, c.referrer[r]));
        self.host.push(remap.host[c.host[r] as usize]);
        self.country.push(remap.country[c.country[r] as usize]);
    }

    fn into_frame(self) -> PolarsResult<DataFrame> {
        let nullable = |name: &str, codes: Vec<u32>| {
            UInt32Chunked::from_iter_options(
                name.into(),
                codes.into_iter().map(|c| (c != NONE).then_some(c)),
            )
            .into_column()
        };
        let height = self.eid.len();
        DataFrame::new(
            height,
            vec![
                UInt64Chunked::from_vec("eid".into(), self.eid).into_column(),
                Int64Chunked::from_vec("ts".into(), self.ts).into_column(),
                UInt32Chunked::from_vec("path".into(), self.path).into_column(),
                Int32Chunked::from_vec("status".into(), self.status).into_column(),
                nullable("user", self.user),
                UInt64Chunked::from_vec("vis".into(), self.vis).into_column(),
                BooleanChunked::from_slice("bot".into(), &self.bot).into_column(),
                nullable("referrer", self.referrer),
                UInt32Chunked::from_vec("host".into(), self.host).into_column(),
                UInt32Chunked::from_vec("country".into(), self.country).into_column(),
            ],
        )
    }
}

/// Reads one file (local, in blocks; S3, whole) into a [`Part`].
fn read_file(
    file: &str,
    day: &Day,
    runtime: Option<&tokio::runtime::Handle>,
    dicts: &mut Interners,
    worker: usize,
) -> anyhow::Result<Part> {
    let mut reader = RowReader::new(day, dicts);
    if let Some(url) = file.strip_prefix("s3://") {
        let Some((bucket, key)) = url.split_once('/') else {
            bail!("{file:?} is not an s3://bucket/key URL");
        };
        let Some(runtime) = runtime else {
            bail!("reading from S3 needs the async runtime");
        };
        let store = crate::location::s3_store(bucket)?;
        let key = object_store::path::Path::parse(key).context("an invalid object key")?;
        let bytes = runtime.block_on(async {
            use object_store::ObjectStoreExt;
            store.get(&key).await?.bytes().await
        })?;
        reader.rows(&bytes, true)?;
    } else {
        let mut f = std::fs::File::open(file)?;
        let mut buf = vec![0u8; BLOCK];
        let mut len = 0;
        loop {
            let mut eof = false;
            while len < buf.len() {
                match f.read(&mut buf[len..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => len += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let used = reader.rows(&buf[..len], eof)?;
            if eof {
                break;
            }
            if used == 0 {
                // One row longer than the buffer.
                buf.resize(buf.len() * 2, 0);
            }
            buf.copy_within(used..len, 0);
            len -= used;
        }
    }
    reader.finish(worker)
}

/// Turns CSV rows into [`Columns`], counting malformed rows.
struct RowReader<'a> {
    day: &'a Day,
    dicts: &'a mut Interners,
    cols: Columns,
    malformed: u64,
    header_done: bool,
    /// Event ids of kept rows not hashed yet: bytes, and where each ends.
    ids: Vec<u8>,
    id_ends: Vec<usize>,
}

impl<'a> RowReader<'a> {
    fn new(day: &'a Day, dicts: &'a mut Interners) -> RowReader<'a> {
        RowReader {
            day,
            dicts,
            cols: Columns::default(),
            malformed: 0,
            header_done: false,
            ids: Vec::new(),
            id_ends: Vec::new(),
        }
    }

    /// Reads the complete rows at the start of `buf` and returns how many bytes they took;
    /// at `eof` a last row without a line end is complete too.
    fn rows(&mut self, buf: &[u8], eof: bool) -> anyhow::Result<usize> {
        let mut pos = 0;
        let mut fields: [&[u8]; KEPT_FIELDS] = [&[]; KEPT_FIELDS];
        while pos < buf.len() {
            let Some((end, n)) = split_row(buf, pos, eof, &mut fields) else {
                break;
            };
            pos = end;
            if self.header_done {
                self.row(&fields[..n])?;
            } else {
                self.header_done = true;
            }
        }
        Ok(pos)
    }

    /// Checks one row and keeps it if it is usable and in the day.
    fn row(&mut self, fields: &[&[u8]]) -> anyhow::Result<()> {
        let field = |i: usize| value(fields.get(i).copied());
        let event_id = field(EVENT_ID)?;
        let ts = field(TS)?.as_deref().and_then(parse_ts);
        let path = field(PATH)?;
        let status = field(STATUS)?.as_deref().and_then(parse_i32);
        let visitor = field(VISITOR)?;
        let bot = match field(BOT)?.as_deref() {
            Some(b"true") => Some(true),
            Some(b"false") => Some(false),
            _ => None,
        };
        let (
            Some(event_id),
            Some(ts),
            Some(path),
            Some(status @ 100..=599),
            Some(visitor),
            Some(bot),
        ) = (event_id, ts, path, status, visitor, bot)
        else {
            self.malformed += 1;
            return Ok(());
        };
        if ts < self.day.start_ms || ts >= self.day.end_ms {
            return Ok(());
        }
        let user = field(USER)?;
        let referrer = field(REFERRER)?;
        let host = field(HOST)?;
        let country = field(COUNTRY)?;
        let d = &mut *self.dicts;
        let c = &mut self.cols;
        c.ts.push(ts);
        c.path.push(d.path.code(&path)?);
        c.status.push(status);
        c.user.push(match user {
            Some(u) => d.user.code(&u)?,
            None => NONE,
        });
        c.vis.push(hash_bytes(&visitor));
        c.bot.push(bot);
        // An empty referrer, quoted or not, is no referrer.
        c.referrer.push(match referrer {
            Some(r) if !r.is_empty() => d.referrer.code(&r)?,
            _ => NONE,
        });
        c.host
            .push(d.host.code_repeated(host.as_deref().unwrap_or_default())?);
        c.country
            .push(d.country.code(country.as_deref().unwrap_or_default())?);
        self.ids.extend_from_slice(&event_id);
        self.id_ends.push(self.ids.len());
        if self.id_ends.len() >= ID_BATCH {
            self.hash_ids()?;
        }
        Ok(())
    }

    /// Hashes the pending event ids with polars (the same hash as `col("event_id").hash(..)`).
    fn hash_ids(&mut self) -> anyhow::Result<()> {
        if self.id_ends.is_empty() {
            return Ok(());
        }
        let mut start = 0;
        let ids = &self.ids;
        let values = self.id_ends.iter().map(|&end| {
            let id = &ids[start..end];
            start = end;
            id
        });
        let ca = BinaryChunked::from_iter_values("e".into(), values);
        let (k0, k1, k2, k3) = SEEDS;
        let hashed = pl(
            DataFrame::new(ca.len(), vec![ca.into_column()])
                .and_then(|df| df.lazy().select([col("e").hash(k0, k1, k2, k3)]).collect()),
            "hashing event ids",
        )?;
        self.cols
            .eid
            .extend(hashed.column("e")?.u64()?.into_no_null_iter());
        self.ids.clear();
        self.id_ends.clear();
        Ok(())
    }

    fn finish(mut self, worker: usize) -> anyhow::Result<Part> {
        self.hash_ids()?;
        let mut cols = self.cols;
        let eid = std::mem::take(&mut cols.eid);
        Ok(Part {
            worker,
            eid,
            cols,
            malformed: self.malformed,
        })
    }
}

/// Splits the row that starts at `pos` into its first [`KEPT_FIELDS`] fields (raw, quotes
/// included). Returns where the next row starts and how many fields were stored, or `None`
/// when `buf` ends inside the row and more bytes follow (`!eof`).
fn split_row<'b>(
    buf: &'b [u8],
    mut pos: usize,
    eof: bool,
    fields: &mut [&'b [u8]; KEPT_FIELDS],
) -> Option<(usize, usize)> {
    let n = buf.len();
    let mut k = 0;
    loop {
        let start = pos;
        if buf.get(pos) == Some(&b'"') {
            // polars' rule: every quote toggles "inside quotes"; the field ends at the first
            // separator or line end outside them.
            let mut quoted = false;
            while let Some(&c) = buf.get(pos) {
                if c == b'"' {
                    quoted = !quoted;
                } else if !quoted && (c == b',' || c == b'\n') {
                    break;
                }
                pos += 1;
            }
        } else {
            while let Some(&c) = buf.get(pos) {
                if c == b',' || c == b'\n' {
                    break;
                }
                pos += 1;
            }
        }
        if pos == n && !eof {
            return None;
        }
        if let Some(slot) = fields.get_mut(k) {
            *slot = &buf[start..pos];
        }
        k += 1;
        match buf.get(pos) {
            None => return Some((n, k.min(KEPT_FIELDS))),
            Some(b'\n') => return Some((pos + 1, k.min(KEPT_FIELDS))),
            Some(_) => pos += 1,
        }
    }
}

/// A field's value as polars reads it into a string column: `None` for a missing or empty
/// field; a quoted field unquoted and unescaped; one trailing `\r` dropped.
fn value(raw: Option<&[u8]>) -> anyhow::Result<Option<Cow<'_, [u8]>>> {
    let Some(mut f) = raw else { return Ok(None) };
    if let [rest @ .., b'\r'] = f {
        f = rest;
    }
    if f.is_empty() {
        return Ok(None);
    }
    if f[0] != b'"' {
        return Ok(Some(Cow::Borrowed(f)));
    }
    if f.len() < 2 || f[f.len() - 1] != b'"' {
        bail!(
            "invalid CSV: the field {} is not properly quoted",
            String::from_utf8_lossy(f)
        );
    }
    let inner = &f[1..f.len() - 1];
    if !inner.contains(&b'"') {
        return Ok(Some(Cow::Borrowed(inner)));
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut prev_quote = false;
    for &c in inner {
        if c == b'"' && !prev_quote {
            prev_quote = true;
        } else {
            prev_quote = false;
            out.push(c);
        }
    }
    Ok(Some(Cow::Owned(out)))
}

/// The record's `ts` (`YYYY-MM-DDTHH:MM:SS.mmmZ`, exactly) as ms since the Unix epoch, by
/// pagehit's rule; `None` for anything else, including dates and times that do not exist.
fn parse_ts(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b)
        .ok()
        .and_then(pagehit::time::parse_ts)
}

/// An i32 the way polars casts a string to one: an optional sign and decimal digits only.
fn parse_i32(b: &[u8]) -> Option<i32> {
    let (neg, digits) = match b {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
        if v > i64::from(i32::MAX) + 1 {
            return None;
        }
    }
    i32::try_from(if neg { -v } else { v }).ok()
}

/// A fast 64-bit hash of a short byte string (visitor ids, dictionary keys); not stable
/// across versions, never stored.
fn hash_bytes(b: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    const M: u64 = 0xff51_afd7_ed55_8ccd;
    let fold = |a: u64, b: u64| {
        let p = u128::from(a) * u128::from(b);
        (p as u64) ^ ((p >> 64) as u64)
    };
    let mut h = (b.len() as u64) ^ K;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = fold(h ^ u64::from_le_bytes(w), M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut w = [0u8; 8];
        w[..tail.len()].copy_from_slice(tail);
        h = fold(h ^ u64::from_le_bytes(w), K);
    }
    // murmur3's finaliser: every input bit reaches every output bit.
    h ^= h >> 33;
    h = h.wrapping_mul(M);
    h ^= h >> 33;
    h
}

/// Hashes byte strings with [`hash_bytes`] (dictionary lookups).
#[derive(Default)]
struct BytesHasher(u64);

impl Hasher for BytesHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = self.0.rotate_left(5) ^ hash_bytes(bytes);
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = self.0.rotate_left(5) ^ n as u64;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// How many rows ahead [`IdSet::touch`] is called while deduplicating.
const LOOKAHEAD: usize = 16;

/// A set of event id hashes for dedup: open addressing with linear probing, the slot taken from
/// the id's top bits (ids are already hashes). With 10M ids the table is far larger than the
/// CPU caches, so almost every insert is a cache miss; [`IdSet::touch`] loads the slot of an id
/// a few rows ahead so that those misses overlap instead of queueing.
struct IdSet {
    slots: Vec<u64>,
    shift: u32,
    /// Whether id 0 (the empty-slot marker) was inserted.
    zero: bool,
}

impl IdSet {
    fn with_capacity(n: usize) -> IdSet {
        // At most 2/3 full.
        let bits = (n.max(8) * 3 / 2).next_power_of_two().trailing_zeros();
        IdSet {
            slots: vec![0; 1 << bits],
            shift: 64 - bits,
            zero: false,
        }
    }

    fn slot(&self, id: u64) -> usize {
        (id >> self.shift) as usize
    }

    /// Loads the slot of `id` into the cache.
    fn touch(&self, id: u64) {
        std::hint::black_box(self.slots[self.slot(id)]);
    }

    /// Adds `id`; false when it was already there.
    fn insert(&mut self, id: u64) -> bool {
        if id == 0 {
            return !std::mem::replace(&mut self.zero, true);
        }
        let mask = self.slots.len() - 1;
        let mut i = self.slot(id);
        loop {
            match self.slots[i] {
                0 => {
                    self.slots[i] = id;
                    return true;
                }
                s if s == id => return false,
                _ => i = (i + 1) & mask,
            }
        }
    }
}

/// One worker's dictionary of one column: codes in first-seen order.
#[derive(Default)]
struct Interner {
    map: HashMap<Box<[u8]>, u32, BuildHasherDefault<BytesHasher>>,
    names: Vec<String>,
    /// The code of the last value looked up, for [`Interner::code_repeated`].
    last: Option<u32>,
}

impl Interner {
    /// [`Interner::code`] for a column whose rows mostly repeat the previous value (`host`).
    fn code_repeated(&mut self, bytes: &[u8]) -> anyhow::Result<u32> {
        if let Some(code) = self.last {
            if self.names[code as usize].as_bytes() == bytes {
                return Ok(code);
            }
        }
        let code = self.code(bytes)?;
        self.last = Some(code);
        Ok(code)
    }

    fn code(&mut self, bytes: &[u8]) -> anyhow::Result<u32> {
        Ok(match self.map.get(bytes) {
            Some(&code) => code,
            None => {
                let name = std::str::from_utf8(bytes).context("invalid utf-8 in a field")?;
                let code = u32::try_from(self.names.len()).context("too many distinct values")?;
                self.names.push(name.to_string());
                self.map.insert(bytes.into(), code);
                code
            }
        })
    }
}

#[derive(Default)]
struct Interners {
    path: Interner,
    user: Interner,
    referrer: Interner,
    host: Interner,
    country: Interner,
}

/// For one worker: its codes -> merged codes, per column.
struct Remap {
    path: Vec<u32>,
    user: Vec<u32>,
    referrer: Vec<u32>,
    host: Vec<u32>,
    country: Vec<u32>,
}

fn merge_dicts(workers: Vec<Interners>) -> (Dicts, Vec<Remap>) {
    fn merge(columns: Vec<Vec<String>>) -> (Dict, Vec<Vec<u32>>) {
        let dict = Dict::new(columns.iter().flatten().cloned().collect());
        let remaps = columns
            .iter()
            .map(|names| {
                names
                    .iter()
                    .map(|n| {
                        dict.code(n)
                            .expect("every name is in the merged dictionary")
                    })
                    .collect()
            })
            .collect();
        (dict, remaps)
    }
    let mut cols: [Vec<Vec<String>>; 5] = Default::default();
    for w in workers {
        for (i, interner) in [w.path, w.user, w.referrer, w.host, w.country]
            .into_iter()
            .enumerate()
        {
            cols[i].push(interner.names);
        }
    }
    let [path, user, referrer, host, country] = cols.map(merge);
    let remaps = (path.1.into_iter().zip(user.1).zip(referrer.1))
        .zip(host.1.into_iter().zip(country.1))
        .map(|(((path, user), referrer), (host, country))| Remap {
            path,
            user,
            referrer,
            host,
            country,
        })
        .collect();
    let dicts = Dicts {
        path: path.0,
        user: user.0,
        referrer: referrer.0,
        host: host.0,
        country: country.0,
    };
    (dicts, remaps)
}
#[cfg(test)]
mod tests {
    use super::*;
    use pagehit::{csv_header, PageHit};

    fn hit(n: u32, ts: &str) -> PageHit {
        PageHit {
            event_id: format!("01936b2e-1f00-7abc-8def-{n:012x}"),
            ts: ts.into(),
            host: "shop.example".into(),
            path: "/p".into(),
            action: "p".into(),
            method: "GET".into(),
            status: 200,
            user: String::new(),
            visitor: "0123456789abcdef".into(),
            referrer: String::new(),
            country: "DE".into(),
            user_agent: "ua".into(),
            bot: false,
            origin_ms: 1,
            ..PageHit::default()
        }
    }

    fn load_text(name: &str, body: &str) -> Loaded {
        let dir = std::env::temp_dir().join(format!("analyzer-load-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("x.csv");
        std::fs::write(&file, format!("{}{body}", csv_header())).unwrap();
        let day = Day::new(
            pagehit::time::parse_date("2026-11-25").unwrap(),
            chrono_tz::Tz::UTC,
        );
        let loaded = load(&[file.display().to_string()], &day, false, &|_, _| {}).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        loaded
    }

    fn row(h: &PageHit) -> String {
        let mut s = String::new();
        h.write_csv_row(&mut s);
        s
    }

    #[test]
    fn only_the_exact_timestamp_format_is_usable() {
        let good = row(&hit(1, "2026-11-25T10:00:00.123Z"));
        let mut body = good.clone();
        for (n, ts) in [
            (2, "2026-11-25T10:00:00Z"),
            (3, "2026-11-25T10:00:00.1234Z"),
            (4, "2026-11-25T10:00:00.123+00:00"),
            (5, "2026-11-25 10:00:00.123Z"),
            (6, "2026-11-25T25:00:00.123Z"),
            (7, "yesterday"),
        ] {
            body.push_str(&row(&hit(n, ts)));
        }
        let loaded = load_text("ts", &body);
        assert_eq!(loaded.hits.height(), 1);
        assert_eq!(loaded.malformed, 6);
        let ts = loaded.hits.column("ts").unwrap().i64().unwrap().get(0);
        assert_eq!(ts, pagehit::time::parse_ts("2026-11-25T10:00:00.123Z"));
    }

    #[test]
    fn bad_fields_and_ragged_rows_are_malformed() {
        let good = row(&hit(1, "2026-11-25T10:00:00.000Z"));
        let mut body = good.clone();
        body.push_str(&good.replacen(",false,", ",yes,", 1)); // bot
        body.push_str(&good.replacen(",200,", ",99,", 1)); // status out of range
        body.push_str(&good.replacen(",200,", ",2x0,", 1)); // status not a number
        body.push_str(&good.replacen(",/p,", ",,", 1)); // empty path
        body.push_str(&good.replacen(",0123456789abcdef,", ",,", 1)); // empty visitor
        body.push_str("only,three,fields\n"); // short row
                                              // An unquoted comma in the user agent shifts `bot` and `origin_ms`: a long row.
        body.push_str(&good.replacen(",ua,", ",u,a,", 1));
        let loaded = load_text("fields", &body);
        assert_eq!(loaded.malformed, 7);
        assert_eq!(loaded.hits.height(), 1);
    }

    #[test]
    fn no_files_is_an_empty_day() {
        let day = Day::new(0, chrono_tz::Tz::UTC);
        let loaded = load(&[], &day, false, &|_, _| {}).unwrap();
        assert_eq!(loaded.hits.height(), 0);
        assert_eq!(loaded.malformed, 0);
    }

    #[test]
    fn dedup_and_bots_are_counted() {
        let mut body = String::new();
        let mut bot = hit(3, "2026-11-25T11:00:00.000Z");
        bot.bot = true;
        for h in [
            hit(1, "2026-11-25T10:00:00.000Z"),
            hit(1, "2026-11-25T10:00:00.000Z"),
            hit(1, "2026-11-25T10:00:00.000Z"),
            hit(2, "2026-11-25T10:00:00.000Z"),
            bot.clone(),
            bot,
            // Another day: neither counted nor a duplicate.
            hit(4, "2026-11-26T00:00:00.000Z"),
            hit(4, "2026-11-26T00:00:00.000Z"),
        ] {
            body.push_str(&row(&h));
        }
        let loaded = load_text("dedup", &body);
        assert_eq!(loaded.hits.height(), 2);
        assert_eq!(loaded.duplicates, 3);
        assert_eq!(loaded.bots, 1);
        assert_eq!(loaded.malformed, 0);
    }

    #[test]
    fn field_positions_match_the_record() {
        for (i, name) in [
            (EVENT_ID, "event_id"),
            (TS, "ts"),
            (HOST, "host"),
            (PATH, "path"),
            (STATUS, "status"),
            (USER, "user"),
            (VISITOR, "visitor"),
            (REFERRER, "referrer"),
            (COUNTRY, "country"),
            (BOT, "bot"),
        ] {
            assert_eq!(pagehit::COLUMNS[i], name);
        }
    }

    #[test]
    fn event_ids_hash_as_polars_hashes_strings() {
        // Same-millisecond hits are ordered by this hash: it must stay polars' own.
        let ids = [
            "01936b2e-1f00-7abc-8def-000000000001",
            "x",
            "zoë-ünïcode",
            "",
        ];
        let (k0, k1, k2, k3) = SEEDS;
        let want = df!("e" => ids)
            .unwrap()
            .lazy()
            .select([col("e").hash(k0, k1, k2, k3)])
            .collect()
            .unwrap();
        let want: Vec<u64> = want
            .column("e")
            .unwrap()
            .u64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        let day = Day::new(0, chrono_tz::Tz::UTC);
        let mut dicts = Interners::default();
        let mut reader = RowReader::new(&day, &mut dicts);
        for id in ids {
            reader.ids.extend_from_slice(id.as_bytes());
            reader.id_ends.push(reader.ids.len());
        }
        reader.hash_ids().unwrap();
        assert_eq!(reader.cols.eid, want);
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_ts(b"1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_ts(b"2024-02-29T23:59:59.999Z"),
            pagehit::time::parse_ts("2024-02-29T23:59:59.999Z")
        );
        assert_eq!(parse_ts(b"2026-02-29T00:00:00.000Z"), None);
        assert_eq!(parse_ts(b"2026-11-31T00:00:00.000Z"), None);
        assert_eq!(parse_ts(b"2026-11-25T10:60:00.000Z"), None);
        // The record never carries a leap second (the worker's clock is Unix time).
        assert_eq!(parse_ts(b"2026-11-25T23:59:60.250Z"), None);
        assert_eq!(parse_ts(b"2026-11-25 10:00:00.000Z"), None);
        assert_eq!(parse_ts(b"2026-11-25T10:00:00.000+00:00"), None);
    }

    #[test]
    fn csv_fields_are_split_and_unquoted_like_polars() {
        let buf = b"a,\"b,\"\"c\"\"\",,\"\",\"x\ny\"\r\nnext";
        let mut fields: [&[u8]; KEPT_FIELDS] = [&[]; KEPT_FIELDS];
        let (end, n) = split_row(buf, 0, false, &mut fields).unwrap();
        assert_eq!(&buf[end..], b"next");
        assert_eq!(n, 5);
        let values: Vec<Option<Vec<u8>>> = fields[..n]
            .iter()
            .map(|f| value(Some(f)).unwrap().map(|v| v.into_owned()))
            .collect();
        assert_eq!(
            values,
            [
                Some(b"a".to_vec()),
                Some(b"b,\"c\"".to_vec()),
                None,
                Some(Vec::new()),
                Some(b"x\ny".to_vec()),
            ]
        );
        // The row is not complete until its line end (or the end of the file).
        assert_eq!(split_row(b"a,b", 0, false, &mut fields), None);
        assert_eq!(split_row(b"a,b", 0, true, &mut fields), Some((3, 2)));
        assert!(value(Some(b"\"open")).is_err());
        assert_eq!(parse_i32(b"+0200"), Some(200));
        assert_eq!(parse_i32(b" 200"), None);
        assert_eq!(parse_i32(b"2147483648"), None);
    }
}
