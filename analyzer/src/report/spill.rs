//! What keeps the report's memory within its budget whatever the number of distinct values:
//! keyed tables that spill hash partitions of their keys to the spill folder and are merged
//! partition by partition, and lists sorted in runs on disk and read back merged, in order.
//!
//! A table (pages by path, sources, campaigns, referrer hosts, the signed-in page views by user)
//! holds its rows in memory until they pass its share of the budget; then every row goes to
//! one of [`PARTS`] files by a hash of its key, and memory is freed. At the end each partition
//! is read back alone and its rows added up by key (a key's rows are all in one partition), so
//! the memory of the merge is one partition's, not the table's. A partition still too large is
//! split again with another hash. The final lists go through a [`Sorter`]: rows sorted in
//! memory, written as sorted runs when they pass the budget, read back by a k-way merge.
//!
//! Nothing spills while everything fits: a day with a few thousand paths is worked out in
//! memory as before, with the same numbers either way (the tests force tiny budgets).

use super::model::{RowStream, Rows};
use anyhow::{Context, Result};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};

/// Hash partitions a spilled table is split into.
pub const PARTS: usize = 64;

/// A partition file this small is merged as it is, whatever the budget.
const SMALL_PIECE: u64 = 1 << 20;

/// Fewest rows a sorted run holds (so that a tiny budget cannot make a file per row).
const MIN_RUN: usize = 4096;

/// The default memory budget of the report's tables. The two buckets in memory of a compacted
/// day come on top, about 1 GiB when every page view has its own path, referrer and campaign:
/// measured on such a day of 10M hits, a report peaks at ~1.6 GiB with this budget (2.1 GiB
/// with 1 GiB, and no faster), under 2 GiB, half of a 4 GiB task.
pub const DEFAULT_BUDGET: u64 = 512 << 20;

/// The spill folder of one report: created on first use under the given folder (or the
/// system's temporary folder), removed with everything in it when dropped.
pub struct SpillDir {
    parent: PathBuf,
    path: Mutex<Option<PathBuf>>,
    next: AtomicU64,
}

impl SpillDir {
    /// A spill folder under `parent` (the system's temporary folder when `None`).
    pub fn new(parent: Option<PathBuf>) -> SpillDir {
        SpillDir {
            parent: parent.unwrap_or_else(std::env::temp_dir),
            path: Mutex::new(None),
            next: AtomicU64::new(0),
        }
    }

    /// Whether anything was spilled.
    pub fn used(&self) -> bool {
        self.path
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// A new file in the folder, named after `what`.
    fn create(&self, what: &str) -> Result<(PathBuf, File)> {
        let mut guard = self.path.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let dir = self
                .parent
                .join(format!("analyzer-report-{}-{stamp}", std::process::id()));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating the spill folder {}", dir.display()))?;
            *guard = Some(dir);
        }
        let dir = guard.as_ref().expect("just created");
        let n = self.next.fetch_add(1, AtomicOrdering::Relaxed);
        let path = dir.join(format!("{what}-{n}"));
        let file = File::create(&path)
            .with_context(|| format!("creating the spill file {}", path.display()))?;
        Ok((path, file))
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        if let Some(dir) = self.path.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Where spilled rows go and how much memory each table may hold.
#[derive(Clone)]
pub struct Spill {
    /// The folder.
    pub dir: Arc<SpillDir>,
    /// Bytes of the whole budget.
    pub budget: u64,
}

impl Spill {
    /// A budget of `budget` bytes spilling under `parent`.
    pub fn new(budget: u64, parent: Option<PathBuf>) -> Spill {
        Spill {
            dir: Arc::new(SpillDir::new(parent)),
            budget,
        }
    }

    /// `part` sixteenths of the budget, in bytes: each table's share.
    pub fn share(&self, part: u64) -> usize {
        usize::try_from(self.budget / 16 * part).unwrap_or(usize::MAX)
    }
}

/// Writes `n` as LEB128.
pub fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a LEB128 number.
pub fn get_varint(input: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    let mut shift = 0;
    loop {
        let (&b, rest) = input.split_first()?;
        *input = rest;
        n |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(n);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Writes a length-prefixed string.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Reads a length-prefixed string.
pub fn get_str(input: &mut &[u8]) -> Option<String> {
    let n = usize::try_from(get_varint(input)?).ok()?;
    if input.len() < n {
        return None;
    }
    let (s, rest) = input.split_at(n);
    *input = rest;
    String::from_utf8(s.to_vec()).ok()
}

/// Writes records (each a varint length, then its bytes) to a file.
pub struct RecordWriter {
    path: PathBuf,
    out: BufWriter<File>,
    bytes: u64,
}

impl RecordWriter {
    /// A new file in `spill`, named after `what`.
    pub fn create(spill: &SpillDir, what: &str) -> Result<RecordWriter> {
        let (path, file) = spill.create(what)?;
        Ok(RecordWriter {
            path,
            out: BufWriter::with_capacity(64 << 10, file),
            bytes: 0,
        })
    }

    /// Appends one record.
    pub fn write(&mut self, record: &[u8]) -> Result<()> {
        let mut len = Vec::with_capacity(5);
        put_varint(&mut len, record.len() as u64);
        self.out
            .write_all(&len)
            .and_then(|()| self.out.write_all(record))
            .with_context(|| format!("writing the spill file {}", self.path.display()))?;
        self.bytes += (len.len() + record.len()) as u64;
        Ok(())
    }

    /// The file, complete: its path and size.
    pub fn close(mut self) -> Result<(PathBuf, u64)> {
        self.out
            .flush()
            .with_context(|| format!("writing the spill file {}", self.path.display()))?;
        Ok((self.path, self.bytes))
    }
}

/// Reads the records of a spill file back, one at a time.
pub struct RecordReader {
    path: PathBuf,
    input: BufReader<File>,
    buf: Vec<u8>,
}

impl RecordReader {
    /// Opens a file a [`RecordWriter`] wrote.
    pub fn open(path: &Path) -> Result<RecordReader> {
        let file = File::open(path)
            .with_context(|| format!("reading the spill file {}", path.display()))?;
        Ok(RecordReader {
            path: path.to_path_buf(),
            input: BufReader::with_capacity(64 << 10, file),
            buf: Vec::new(),
        })
    }

    /// The next record, `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>> {
        let what = || format!("reading the spill file {}", self.path.display());
        let mut len = 0u64;
        let mut shift = 0;
        loop {
            let mut b = [0u8];
            match self.input.read(&mut b).with_context(what)? {
                0 if shift == 0 => return Ok(None),
                0 => anyhow::bail!("{}: cut short", what()),
                _ => {}
            }
            len |= u64::from(b[0] & 0x7f) << shift;
            if b[0] < 0x80 {
                break;
            }
            shift += 7;
        }
        self.buf.resize(len as usize, 0);
        self.input.read_exact(&mut self.buf).with_context(what)?;
        Ok(Some(&self.buf))
    }
}

/// The partition of `key` at split depth `depth` (each depth hashes with another seed).
pub fn part_of(key: &str, depth: u32) -> usize {
    let state = foldhash::fast::FixedState::with_seed(0x7370_696c_6c00 + u64::from(depth));
    (state.hash_one(key) >> 58) as usize % PARTS
}

/// Heap bytes a string of `len` bytes takes (the allocator's rounding and header, roughly).
pub fn string_bytes(len: usize) -> usize {
    len.next_multiple_of(16) + 16
}

/// Counters of `N` slots by string key, within `limit` bytes of memory: past it every row is
/// written to its hash partition's file and memory is freed.
pub struct Keyed<const N: usize> {
    what: &'static str,
    map: hashbrown::HashMap<Box<str>, [u64; N]>,
    /// Heap bytes of the keys; the map's own allocation is asked of the map (its capacity runs
    /// up to twice its rows, which a per-row estimate misses).
    keys: usize,
    limit: usize,
    spill: Arc<SpillDir>,
    parts: Option<Vec<RecordWriter>>,
    record: Vec<u8>,
}

fn add_into<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

fn encode_row<const N: usize>(out: &mut Vec<u8>, key: &str, v: &[u64; N]) {
    out.clear();
    put_str(out, key);
    for &x in v {
        put_varint(out, x);
    }
}

fn decode_row<const N: usize>(mut input: &[u8]) -> Option<(String, [u64; N])> {
    let key = get_str(&mut input)?;
    let mut v = [0u64; N];
    for x in v.iter_mut() {
        *x = get_varint(&mut input)?;
    }
    Some((key, v))
}

impl<const N: usize> Keyed<N> {
    /// An empty table named `what` (for its files), holding at most `limit` bytes in memory.
    pub fn new(what: &'static str, limit: usize, spill: &Spill) -> Keyed<N> {
        Keyed {
            what,
            map: hashbrown::HashMap::new(),
            keys: 0,
            limit,
            spill: spill.dir.clone(),
            parts: None,
            record: Vec::new(),
        }
    }

    /// Adds `v` to the counters of `key`.
    pub fn add(&mut self, key: &str, v: [u64; N]) -> Result<()> {
        if let Some(c) = self.map.get_mut(key) {
            add_into(c, &v);
            return Ok(());
        }
        self.map.insert(key.into(), v);
        self.keys += string_bytes(key.len());
        if self.keys + self.map.allocation_size() > self.limit {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes every row in memory to its partition's file.
    fn flush(&mut self) -> Result<()> {
        if self.parts.is_none() {
            let parts = (0..PARTS)
                .map(|_| RecordWriter::create(&self.spill, self.what))
                .collect::<Result<Vec<_>>>()?;
            self.parts = Some(parts);
        }
        let parts = self.parts.as_mut().expect("just made");
        for (key, v) in self.map.drain() {
            encode_row(&mut self.record, &key, &v);
            parts[part_of(&key, 0)].write(&self.record)?;
        }
        self.map = hashbrown::HashMap::new();
        self.keys = 0;
        Ok(())
    }

    /// Done adding: the rows, to be read back partition by partition.
    pub fn finish(mut self) -> Result<Merged<N>> {
        if self.parts.is_none() {
            return Ok(Merged {
                limit: self.limit,
                spill: self.spill,
                what: self.what,
                memory: Some(self.map),
                files: Vec::new(),
            });
        }
        self.flush()?;
        let files = self
            .parts
            .take()
            .expect("spilled")
            .into_iter()
            .map(RecordWriter::close)
            .collect::<Result<Vec<_>>>()?;
        Ok(Merged {
            limit: self.limit,
            spill: self.spill,
            what: self.what,
            memory: None,
            files,
        })
    }
}

/// A finished [`Keyed`] table: in memory, or in partition files.
pub struct Merged<const N: usize> {
    what: &'static str,
    limit: usize,
    spill: Arc<SpillDir>,
    memory: Option<hashbrown::HashMap<Box<str>, [u64; N]>>,
    files: Vec<(PathBuf, u64)>,
}

/// Rows of one partition, added up by key.
pub type Part<const N: usize> = hashbrown::HashMap<Box<str>, [u64; N]>;

/// One side of a partition to merge: a file at some split depth, or rows in memory.
enum Piece<const N: usize> {
    File(PathBuf, u64),
    Memory(Part<N>),
    Empty,
}

impl<const N: usize> Merged<N> {
    /// Calls `f` with the rows of each partition, added up by key; at most one partition is
    /// in memory at a time.
    pub fn for_each_part(self, mut f: impl FnMut(Part<N>) -> Result<()>) -> Result<()> {
        joined(self, None::<Merged<N>>, |a, _| f(a))
    }
}

/// Calls `f` with the same partition of two tables (`b` may be absent: an empty part then),
/// so that rows of one key in both meet: the join of a period with the one before it.
pub fn joined<const N: usize, const M: usize>(
    a: Merged<N>,
    b: Option<Merged<M>>,
    mut f: impl FnMut(Part<N>, Part<M>) -> Result<()>,
) -> Result<()> {
    let spilled = !a.files.is_empty() || b.as_ref().is_some_and(|b| !b.files.is_empty());
    if !spilled {
        return f(
            a.memory.unwrap_or_default(),
            b.and_then(|b| b.memory).unwrap_or_default(),
        );
    }
    let limit = a.limit.max(b.as_ref().map_or(0, |b| b.limit));
    let spill = a.spill.clone();
    let what = a.what;
    let split_a = pieces(a);
    let split_b = match b {
        Some(b) => pieces(b),
        None => (0..PARTS).map(|_| Piece::Empty).collect(),
    };
    for (pa, pb) in split_a.into_iter().zip(split_b) {
        join_pieces(pa, pb, 0, limit, &spill, what, &mut f)?;
    }
    Ok(())
}

/// A finished table as [`PARTS`] pieces at depth 0.
fn pieces<const N: usize>(m: Merged<N>) -> Vec<Piece<N>> {
    if let Some(memory) = m.memory {
        let mut parts: Vec<Part<N>> = (0..PARTS).map(|_| Part::new()).collect();
        for (k, v) in memory {
            parts[part_of(&k, 0)].insert(k, v);
        }
        return parts.into_iter().map(Piece::Memory).collect();
    }
    m.files
        .into_iter()
        .map(|(path, bytes)| Piece::File(path, bytes))
        .collect()
}

fn piece_bytes<const N: usize>(p: &Piece<N>) -> u64 {
    match p {
        Piece::File(_, bytes) => *bytes,
        _ => 0,
    }
}

/// Reads a piece into memory, adding its rows up by key.
fn load<const N: usize>(p: Piece<N>) -> Result<Part<N>> {
    match p {
        Piece::Empty => Ok(Part::new()),
        Piece::Memory(m) => Ok(m),
        Piece::File(path, _) => {
            let mut out = Part::new();
            let mut reader = RecordReader::open(&path)?;
            while let Some(record) = reader.next_record()? {
                let (key, v) = decode_row::<N>(record)
                    .with_context(|| format!("a damaged record in {}", path.display()))?;
                match out.get_mut(key.as_str()) {
                    Some(c) => add_into(c, &v),
                    None => {
                        out.insert(key.into_boxed_str(), v);
                    }
                }
            }
            drop(reader);
            let _ = std::fs::remove_file(&path);
            Ok(out)
        }
    }
}

/// Splits a piece into [`PARTS`] pieces by the hash of depth `depth`.
fn split<const N: usize>(
    p: Piece<N>,
    depth: u32,
    spill: &SpillDir,
    what: &str,
) -> Result<Vec<Piece<N>>> {
    match p {
        Piece::Empty => Ok((0..PARTS).map(|_| Piece::Empty).collect()),
        Piece::Memory(m) => {
            let mut parts: Vec<Part<N>> = (0..PARTS).map(|_| Part::new()).collect();
            for (k, v) in m {
                parts[part_of(&k, depth)].insert(k, v);
            }
            Ok(parts.into_iter().map(Piece::Memory).collect())
        }
        Piece::File(path, _) => {
            let mut writers = (0..PARTS)
                .map(|_| RecordWriter::create(spill, what))
                .collect::<Result<Vec<_>>>()?;
            let mut reader = RecordReader::open(&path)?;
            while let Some(record) = reader.next_record()? {
                let mut input = record;
                let key = get_str(&mut input)
                    .with_context(|| format!("a damaged record in {}", path.display()))?;
                writers[part_of(&key, depth)].write(record)?;
            }
            drop(reader);
            let _ = std::fs::remove_file(&path);
            writers
                .into_iter()
                .map(|w| w.close().map(|(p, b)| Piece::File(p, b)))
                .collect()
        }
    }
}

fn join_pieces<const N: usize, const M: usize>(
    a: Piece<N>,
    b: Piece<M>,
    depth: u32,
    limit: usize,
    spill: &SpillDir,
    what: &str,
    f: &mut impl FnMut(Part<N>, Part<M>) -> Result<()>,
) -> Result<()> {
    // A file's records take about twice their bytes once in a map. Past a few splits the keys
    // are not spreading (one huge key cannot be split): merge whatever is left.
    let bytes = piece_bytes(&a) + piece_bytes(&b);
    if bytes * 2 > limit as u64 && bytes > SMALL_PIECE && depth < 4 {
        let next = depth + 1;
        let parts_a = split(a, next, spill, what)?;
        let parts_b = split(b, next, spill, what)?;
        for (pa, pb) in parts_a.into_iter().zip(parts_b) {
            join_pieces(pa, pb, next, limit, spill, what, f)?;
        }
        return Ok(());
    }
    f(load(a)?, load(b)?)
}

/// A row of a final list that can be sorted and spilled.
pub trait Row: Sized + Send + 'static {
    /// Appends the row's bytes.
    fn encode(&self, out: &mut Vec<u8>);
    /// The row from its bytes.
    fn decode(input: &[u8]) -> Option<Self>;
    /// Bytes it takes in memory, roughly.
    fn weight(&self) -> usize;
    /// The list's order.
    fn order(a: &Self, b: &Self) -> Ordering;
}

/// Sorts a list within `limit` bytes of memory: past it, sorted runs go to the spill folder
/// and are merged when read.
pub struct Sorter<T: Row> {
    what: &'static str,
    rows: Vec<T>,
    bytes: usize,
    limit: usize,
    spill: Arc<SpillDir>,
    runs: Vec<PathBuf>,
    total: u64,
}

impl<T: Row> Sorter<T> {
    /// An empty list named `what` (for its files), holding at most `limit` bytes in memory.
    pub fn new(what: &'static str, limit: usize, spill: &Spill) -> Sorter<T> {
        Sorter {
            what,
            rows: Vec::new(),
            bytes: 0,
            limit,
            spill: spill.dir.clone(),
            runs: Vec::new(),
            total: 0,
        }
    }

    /// Adds a row.
    pub fn push(&mut self, row: T) -> Result<()> {
        self.bytes += row.weight();
        self.rows.push(row);
        self.total += 1;
        // The vector's spare capacity is memory too (up to as much again as its rows).
        let spare = (self.rows.capacity() - self.rows.len()) * std::mem::size_of::<T>();
        if self.bytes + spare > self.limit && self.rows.len() >= MIN_RUN {
            self.write_run()?;
        }
        Ok(())
    }

    fn write_run(&mut self) -> Result<()> {
        use rayon::slice::ParallelSliceMut;
        self.rows.par_sort_unstable_by(T::order);
        let mut w = RecordWriter::create(&self.spill, self.what)?;
        let mut record = Vec::new();
        for row in self.rows.drain(..) {
            record.clear();
            row.encode(&mut record);
            w.write(&record)?;
        }
        self.rows = Vec::new();
        self.bytes = 0;
        self.runs.push(w.close()?.0);
        Ok(())
    }

    /// The sorted list, every row of it, showing the first `shown` (all when `None`).
    pub fn finish(mut self, shown: Option<usize>) -> Result<Rows<T>> {
        if self.runs.is_empty() {
            use rayon::slice::ParallelSliceMut;
            self.rows.par_sort_unstable_by(T::order);
            return Ok(Rows::memory(self.rows, shown));
        }
        if !self.rows.is_empty() {
            self.write_run()?;
        }
        let stream = Runs {
            runs: std::mem::take(&mut self.runs),
            _spill: self.spill.clone(),
            _row: std::marker::PhantomData,
        };
        Ok(Rows::stream(Arc::new(stream), self.total, shown))
    }
}

/// Sorted runs on disk, read back merged.
struct Runs<T: Row> {
    runs: Vec<PathBuf>,
    // Keeps the folder until the list is dropped.
    _spill: Arc<SpillDir>,
    _row: std::marker::PhantomData<fn() -> T>,
}

/// The head of one run in the merge heap (reversed: the smallest row first).
struct Head<T: Row> {
    row: T,
    run: usize,
}

impl<T: Row> PartialEq for Head<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T: Row> Eq for Head<T> {}
impl<T: Row> PartialOrd for Head<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: Row> Ord for Head<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        T::order(&other.row, &self.row).then_with(|| other.run.cmp(&self.run))
    }
}

impl<T: Row> RowStream<T> for Runs<T> {
    fn each(&self, limit: u64, f: &mut dyn FnMut(&T) -> Result<()>) -> Result<()> {
        let mut readers = self
            .runs
            .iter()
            .map(|p| RecordReader::open(p))
            .collect::<Result<Vec<_>>>()?;
        let mut heap = BinaryHeap::with_capacity(readers.len());
        let read = |readers: &mut Vec<RecordReader>, run: usize| -> Result<Option<T>> {
            let r = &mut readers[run];
            match r.next_record()? {
                None => Ok(None),
                Some(bytes) => T::decode(bytes)
                    .map(Some)
                    .with_context(|| format!("a damaged record in {}", r.path.display())),
            }
        };
        for run in 0..readers.len() {
            if let Some(row) = read(&mut readers, run)? {
                heap.push(Head { row, run });
            }
        }
        let mut done = 0u64;
        while done < limit {
            let Some(Head { row, run }) = heap.pop() else {
                break;
            };
            f(&row)?;
            done += 1;
            if let Some(next) = read(&mut readers, run)? {
                heap.push(Head { row: next, run });
            }
        }
        Ok(())
    }
}

impl<T: Row> Drop for Runs<T> {
    fn drop(&mut self) {
        for run in &self.runs {
            let _ = std::fs::remove_file(run);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u64) -> impl Iterator<Item = (String, [u64; 2])> {
        // Every key three times, in an order that spreads the repeats apart.
        (0..3 * n).map(move |i| (format!("/p/{}", (i * 7919) % n), [1, i % 2]))
    }

    fn totals<const N: usize>(m: Merged<N>) -> std::collections::BTreeMap<String, [u64; N]> {
        let mut out = std::collections::BTreeMap::new();
        m.for_each_part(|part| {
            for (k, v) in part {
                assert!(
                    out.insert(k.into_string(), v).is_none(),
                    "a key in two partitions"
                );
            }
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn a_spilled_table_adds_up_to_the_same_as_one_in_memory() {
        let (tight, roomy) = (Spill::new(0, None), Spill::new(1 << 30, None));
        let mut a: Keyed<2> = Keyed::new("t", tight.share(1), &tight);
        let mut b: Keyed<2> = Keyed::new("t", roomy.share(1), &roomy);
        for (k, v) in keys(50_000) {
            a.add(&k, v).unwrap();
            b.add(&k, v).unwrap();
        }
        assert!(tight.dir.used() && !roomy.dir.used());
        let (a, b) = (totals(a.finish().unwrap()), totals(b.finish().unwrap()));
        assert_eq!(a.len(), 50_000);
        assert_eq!(a, b);
        // "/p/42" comes from three rows `i`; its second counter adds up their `i % 2`.
        let odd = (0..150_000u64)
            .filter(|i| (i * 7919) % 50_000 == 42 && i % 2 == 1)
            .count() as u64;
        assert_eq!(a["/p/42"], [3, odd]);
    }

    #[test]
    fn a_join_meets_each_key_of_both_sides_whatever_spilled() {
        for (budget_a, budget_b) in [(0, 1 << 30), (1 << 30, 0), (0, 0), (1 << 30, 1 << 30)] {
            let (sa, sb) = (Spill::new(budget_a, None), Spill::new(budget_b, None));
            let mut a: Keyed<2> = Keyed::new("a", sa.share(1), &sa);
            let mut b: Keyed<1> = Keyed::new("b", sb.share(1), &sb);
            for (k, v) in keys(20_000) {
                a.add(&k, v).unwrap();
            }
            // The other side: every third key, and keys of its own.
            for i in (0..20_000).step_by(3).chain(30_000..30_100) {
                b.add(&format!("/p/{i}"), [i]).unwrap();
            }
            let (mut met, mut seen) = (0, 0);
            joined(a.finish().unwrap(), Some(b.finish().unwrap()), |pa, pb| {
                seen += pa.len();
                for (k, _) in pa {
                    if let Some([i]) = pb.get(&k) {
                        assert_eq!(format!("/p/{i}"), &*k);
                        met += 1;
                    }
                }
                Ok(())
            })
            .unwrap();
            assert_eq!((seen, met), (20_000, 6_667), "{budget_a} {budget_b}");
        }
    }

    #[test]
    fn large_partitions_are_split_again() {
        // 1 MiB of budget: 40k keys of ~1.8 KB are ~72 MB, so each of the 64 partitions
        // (~1.1 MB) is past SMALL_PIECE and over half of the budget.
        let spill = Spill::new(16 << 20, None);
        let mut t: Keyed<2> = Keyed::new("t", 1 << 20, &spill);
        let tail = "x".repeat(1800);
        for i in 0..40_000u64 {
            t.add(&format!("/p/{i}/{tail}"), [1, i % 2]).unwrap();
        }
        let mut parts = 0;
        let mut rows = 0;
        t.finish()
            .unwrap()
            .for_each_part(|p| {
                parts += 1;
                rows += p.len();
                Ok(())
            })
            .unwrap();
        assert_eq!(rows, 40_000);
        assert!(parts > PARTS, "{parts}");
    }

    #[derive(Debug, Clone, PartialEq)]
    struct R(u64, String);

    impl Row for R {
        fn encode(&self, out: &mut Vec<u8>) {
            put_varint(out, self.0);
            put_str(out, &self.1);
        }
        fn decode(mut input: &[u8]) -> Option<Self> {
            let i = &mut input;
            Some(R(get_varint(i)?, get_str(i)?))
        }
        fn weight(&self) -> usize {
            32 + self.1.len()
        }
        fn order(a: &Self, b: &Self) -> Ordering {
            b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1))
        }
    }

    #[test]
    fn sorted_runs_read_back_in_order_showing_the_top() {
        let rows: Vec<R> = (0..50_000u64)
            .map(|i| R((i * 7919) % 1000, format!("k{i}")))
            .collect();
        let mut want = rows.clone();
        want.sort_by(R::order);
        let tight = Spill::new(0, None);
        let mut sorter = Sorter::new("r", 0, &tight);
        for r in rows {
            sorter.push(r).unwrap();
        }
        let list = sorter.finish(Some(10)).unwrap();
        assert!(list.in_memory().is_none(), "on disk");
        assert_eq!((list.len(), list.total()), (10, 50_000));
        assert_eq!(list.to_vec(), want[..10]);
        let mut all = Vec::new();
        list.each_all(|r| {
            all.push(r.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(all, want);
        assert_eq!(list, list.clone());
    }

    #[test]
    fn numbers_and_strings_round_trip() {
        let mut out = Vec::new();
        for n in [0, 1, 127, 128, 300, u64::MAX] {
            put_varint(&mut out, n);
        }
        put_str(&mut out, "/café|日本");
        let mut input = &out[..];
        for n in [0, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(get_varint(&mut input), Some(n));
        }
        assert_eq!(get_str(&mut input).as_deref(), Some("/café|日本"));
        assert_eq!(get_varint(&mut input), None);
    }
}
