//! Keyed tables that spill hash partitions of their keys and are merged partition by
//! partition.

use super::records::{
    close_parts, get_str, get_str_ref, get_varint, part_of, put_str, put_varint, RecordReader,
    RecordWriter, Written,
};
use super::{Spill, SpillDir, PARTS, SMALL_PIECE};
use crate::transform::intern::Local;
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};

/// Counters of `N` slots by string key, within `limit` bytes of memory: past it every row is
/// written to its hash partition's file and memory is freed.
pub struct Keyed<const N: usize> {
    what: &'static str,
    /// The keys as codes, their names in one buffer: a bucket of unique paths adds millions of
    /// keys, and one allocation per key was much of the cost of adding them.
    keys: Local,
    /// The counters of each key, by code.
    values: Vec<[u64; N]>,
    limit: usize,
    spill: Arc<SpillDir>,
    parts: Option<Vec<RecordWriter>>,
    record: Vec<u8>,
    /// Rows added since the last flush.
    adds: u64,
    /// Rows go straight to their partition's file ([`Keyed::add`]).
    direct: bool,
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

/// A row's key and counters, the key read in place (copied only when it is new to a table).
fn decode_row<const N: usize>(mut input: &[u8]) -> Option<(&str, [u64; N])> {
    let key = get_str_ref(&mut input)?;
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
            keys: Local::default(),
            values: Vec::new(),
            limit,
            spill: spill.dir.clone(),
            parts: None,
            record: Vec::new(),
            adds: 0,
            direct: false,
        }
    }

    /// Adds `v` to the counters of `key`.
    pub fn add(&mut self, key: &str, v: [u64; N]) -> Result<()> {
        if self.direct {
            if let Some(parts) = self.parts.as_mut() {
                encode_row(&mut self.record, key, &v);
                return parts[part_of(key, 0)].write(&self.record);
            }
        }
        self.adds += 1;
        let code = self.keys.code(key) as usize;
        if let Some(c) = self.values.get_mut(code) {
            add_into(c, &v);
            return Ok(());
        }
        self.values.push(v);
        // Capacities, not lengths: vectors and tables run up to twice what they hold.
        if self.keys.held() + self.values.capacity() * std::mem::size_of::<[u64; N]>() > self.limit
        {
            self.flush()?;
        }
        Ok(())
    }

    /// The rows in memory, by key.
    fn take_rows(&mut self) -> Part<N> {
        let keys = std::mem::take(&mut self.keys);
        let values = std::mem::take(&mut self.values);
        let mut part = Part::with_capacity(values.len());
        for (code, v) in values.into_iter().enumerate() {
            part.insert(keys.name(code as u32).into(), v);
        }
        part
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
        for (code, v) in self.values.iter().enumerate() {
            let key = self.keys.name(code as u32);
            encode_row(&mut self.record, key, v);
            parts[part_of(key, 0)].write(&self.record)?;
        }
        // When memory added up few rows (most keys came once: a day of unique paths), the
        // next rows go straight to their files, added up when the partitions are merged: a
        // hash table in front of the files would cost more than the writes it saves.
        if self.values.len() as u64 * 4 > self.adds * 3 {
            self.direct = true;
        }
        self.adds = 0;
        self.keys = Local::default();
        self.values = Vec::new();
        Ok(())
    }

    /// Done adding: the rows, to be read back partition by partition.
    pub fn finish(mut self) -> Result<Merged<N>> {
        if self.parts.is_none() {
            let memory = self.take_rows();
            return Ok(Merged {
                limit: self.limit,
                spill: self.spill,
                what: self.what,
                memory: Some(memory),
                files: Vec::new(),
            });
        }
        self.flush()?;
        let files = close_parts(&mut self.parts)?;
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
    files: Vec<Written>,
}

/// Rows of one partition, added up by key.
pub type Part<const N: usize> = hashbrown::HashMap<Box<str>, [u64; N]>;

/// One side of a partition to merge: a file at some split depth, or rows in memory.
enum Piece<const N: usize> {
    File(Written),
    Memory(Part<N>),
    Empty,
}

impl<const N: usize> Merged<N> {
    /// Calls `f` with a worker's state and the rows of each partition, added up by key (see
    /// [`joined`]); the states come back.
    pub fn parts<S: Send>(
        self,
        states: Vec<S>,
        f: impl Fn(&mut S, Part<N>) -> Result<()> + Sync,
    ) -> Result<Vec<S>> {
        joined(self, None::<Merged<N>>, states, |s, a, _| f(s, a))
    }
}

/// Calls `f` with a worker's state and the same partition of two tables (`b` may be absent:
/// an empty part then), so that rows of one key in both meet: the join of a period with the
/// one before it. One worker per state takes partitions in turn, each holding one partition
/// at a time: the tables' limit is shared among them, so memory does not grow with workers.
/// The states come back, in order; a table that never spilled is one call on the first state.
pub fn joined<const N: usize, const M: usize, S: Send>(
    a: Merged<N>,
    b: Option<Merged<M>>,
    mut states: Vec<S>,
    f: impl Fn(&mut S, Part<N>, Part<M>) -> Result<()> + Sync,
) -> Result<Vec<S>> {
    anyhow::ensure!(!states.is_empty(), "a merge needs one worker at least");
    let spilled = !a.files.is_empty() || b.as_ref().is_some_and(|b| !b.files.is_empty());
    if !spilled {
        f(
            &mut states[0],
            a.memory.unwrap_or_default(),
            b.and_then(|b| b.memory).unwrap_or_default(),
        )?;
        return Ok(states);
    }
    let limit = a.limit.max(b.as_ref().map_or(0, |b| b.limit)) / states.len();
    let spill = a.spill.clone();
    let what = a.what;
    let split_a = pieces(a);
    let split_b = match b {
        Some(b) => pieces(b),
        None => (0..PARTS).map(|_| Piece::Empty).collect(),
    };
    let queue = Mutex::new(split_a.into_iter().zip(split_b));
    let failed = AtomicBool::new(false);
    let (queue, failed, f, spill) = (&queue, &failed, &f, &*spill);
    let done: Vec<Result<S>> = std::thread::scope(|scope| {
        let workers: Vec<_> = states
            .into_iter()
            .map(|mut state| {
                scope.spawn(move || -> Result<S> {
                    // Another worker's error ends the merge: no partition is left half-read
                    // (its files go with the spill folder).
                    while !failed.load(AtomicOrdering::Relaxed) {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                        let Some((pa, pb)) = next else { break };
                        let mut call = |x: Part<N>, y: Part<M>| f(&mut state, x, y);
                        if let Err(e) = join_pieces(pa, pb, 0, limit, spill, what, &mut call) {
                            failed.store(true, AtomicOrdering::Relaxed);
                            return Err(e);
                        }
                    }
                    Ok(state)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.into_iter().collect()
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
    m.files.into_iter().map(Piece::File).collect()
}

fn piece_bytes<const N: usize>(p: &Piece<N>) -> u64 {
    match p {
        Piece::File(w) => w.bytes,
        _ => 0,
    }
}

/// Reads a piece into memory, adding its rows up by key; `limit`: the bytes a piece may take.
fn load<const N: usize>(p: Piece<N>, limit: usize) -> Result<Part<N>> {
    match p {
        Piece::Empty => Ok(Part::new()),
        Piece::Memory(m) => Ok(m),
        Piece::File(Written { path, records, .. }) => {
            // Room for every record from the start: growing rehashed every key (a hash of its
            // name), ~3% of the instructions of a report of unique paths. At most the piece's
            // share of memory, for a file of many records of few keys.
            let most = limit / (std::mem::size_of::<(Box<str>, [u64; N])>() + 1);
            let mut out = Part::with_capacity(usize::try_from(records).unwrap_or(most).min(most));
            let mut reader = RecordReader::open(&path)?;
            while let Some(record) = reader.next_record()? {
                let (key, v) = decode_row::<N>(record)
                    .with_context(|| format!("a damaged record in {}", path.display()))?;
                // One hash a row, and an allocation only for a key not seen before.
                match out.entry_ref(key) {
                    hashbrown::hash_map::EntryRef::Occupied(mut e) => add_into(e.get_mut(), &v),
                    hashbrown::hash_map::EntryRef::Vacant(e) => {
                        e.insert(v);
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
        Piece::File(Written { path, .. }) => {
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
                .map(|w| w.close().map(Piece::File))
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
    f: &mut dyn FnMut(Part<N>, Part<M>) -> Result<()>,
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
    // The two sides share the limit.
    f(load(a, limit / 2)?, load(b, limit / 2)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u64) -> impl Iterator<Item = (String, [u64; 2])> {
        // Every key three times, in an order that spreads the repeats apart.
        (0..3 * n).map(move |i| (format!("/p/{}", (i * 7919) % n), [1, i % 2]))
    }

    /// Every row of a finished table, merged by `workers` workers.
    fn totals_by<const N: usize>(
        m: Merged<N>,
        workers: usize,
    ) -> std::collections::BTreeMap<String, [u64; N]> {
        let states = m
            .parts(vec![Vec::new(); workers], |rows, part| {
                rows.extend(part.into_iter().map(|(k, v)| (k.into_string(), v)));
                Ok(())
            })
            .unwrap();
        let mut out = std::collections::BTreeMap::new();
        for (k, v) in states.into_iter().flatten() {
            assert!(out.insert(k, v).is_none(), "a key in two partitions");
        }
        out
    }

    fn totals<const N: usize>(m: Merged<N>) -> std::collections::BTreeMap<String, [u64; N]> {
        totals_by(m, 1)
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
    fn keys_seen_once_go_straight_to_the_files_and_add_up_the_same() {
        // A limit of 64 KiB: both tables spill several times.
        let spill = Spill::new(1 << 20, None);
        // Each key in a run of 20 rows: memory adds them up, and keeps doing so.
        let mut repeated: Keyed<2> = Keyed::new("r", spill.share(1), &spill);
        // Each key once (as a day of unique paths): past the first spill, rows are written.
        let mut once: Keyed<2> = Keyed::new("o", spill.share(1), &spill);
        let mut want = std::collections::BTreeMap::new();
        for i in 0..200_000u64 {
            let key = format!("/r/{}", i / 20);
            repeated.add(&key, [1, i]).unwrap();
            let w: &mut [u64; 2] = want.entry(key).or_default();
            w[0] += 1;
            w[1] += i;
        }
        // Then keys seen before come back: they meet their rows in the merge.
        for i in (0..20_000u64).chain(0..5_000) {
            once.add(&format!("/o/{i}"), [1, i]).unwrap();
        }
        assert!(repeated.parts.is_some() && !repeated.direct);
        assert!(once.parts.is_some() && once.direct);
        assert_eq!(totals(repeated.finish().unwrap()), want);
        let once = totals(once.finish().unwrap());
        assert_eq!(once.len(), 20_000);
        assert_eq!(once["/o/4999"], [2, 2 * 4999]);
        assert_eq!(once["/o/5000"], [1, 5000]);
    }

    #[test]
    fn workers_share_the_partitions_and_an_error_stops_the_merge() {
        let tight = Spill::new(0, None);
        let build = || {
            let mut t: Keyed<2> = Keyed::new("t", tight.share(1), &tight);
            for (k, v) in keys(30_000) {
                t.add(&k, v).unwrap();
            }
            t.finish().unwrap()
        };
        let one = totals_by(build(), 1);
        assert_eq!(totals_by(build(), 3), one);
        assert_eq!(one.len(), 30_000);
        // Every worker took partitions (64 of them, about 1 ms each at least).
        let states = build()
            .parts(vec![0usize; 2], |n, part| {
                *n += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
                drop(part);
                Ok(())
            })
            .unwrap();
        assert!(states.iter().all(|&n| n > 0), "{states:?}");
        assert_eq!(states.iter().sum::<usize>(), PARTS);
        let err = build()
            .parts(vec![(); 2], |_, _| anyhow::bail!("no room"))
            .unwrap_err();
        assert_eq!(err.to_string(), "no room");
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
            // Two workers: each counts what it saw and met.
            let states = joined(
                a.finish().unwrap(),
                Some(b.finish().unwrap()),
                vec![(0, 0); 2],
                |(seen, met), pa, pb| {
                    *seen += pa.len();
                    for (k, _) in pa {
                        if let Some([i]) = pb.get(&k) {
                            assert_eq!(format!("/p/{i}"), &*k);
                            *met += 1;
                        }
                    }
                    Ok(())
                },
            )
            .unwrap();
            let (seen, met) = states
                .into_iter()
                .fold((0, 0), |(s, m), (s2, m2)| (s + s2, m + m2));
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
        let [(parts, rows)] = t
            .finish()
            .unwrap()
            .parts(vec![(0, 0)], |(parts, rows), p| {
                *parts += 1;
                *rows += p.len();
                Ok(())
            })
            .unwrap()[..]
        else {
            panic!("one state")
        };
        assert_eq!(rows, 40_000);
        assert!(parts > PARTS, "{parts}");
    }
}
