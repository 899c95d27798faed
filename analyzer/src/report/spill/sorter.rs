//! Lists sorted within a memory limit: sorted runs on disk, read back by a k-way merge.

use super::super::model::{RowStream, Rows};
use super::records::{RecordReader, RecordWriter};
use super::{Spill, SpillDir, MIN_RUN};
use anyhow::{Context, Result};
use std::cmp::Ordering;
use std::path::PathBuf;
use std::sync::Arc;

/// A row of a final list that can be sorted and spilled.
pub trait Row: Sized + Clone + Send + 'static {
    /// Appends the row's bytes.
    fn encode(&self, out: &mut Vec<u8>);
    /// The row from its bytes.
    fn decode(input: &[u8]) -> Option<Self>;
    /// Overwrites `row` with the row of `input`, reusing what it holds (its strings' buffers)
    /// where it can; `false` for damaged bytes. Reading a list back calls it once per row.
    fn decode_into(input: &[u8], row: &mut Self) -> bool {
        match Self::decode(input) {
            Some(r) => {
                *row = r;
                true
            }
            None => false,
        }
    }
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

    /// `workers` sorters sharing `limit`, one per worker of a merge (see [`Sorter::combine`]).
    pub fn per_worker(
        what: &'static str,
        limit: usize,
        spill: &Spill,
        workers: usize,
    ) -> Vec<Sorter<T>> {
        let workers = workers.max(1);
        (0..workers)
            .map(|_| Sorter::new(what, limit / workers, spill))
            .collect()
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
        self.runs.push(w.close()?.path);
        Ok(())
    }

    /// The rows of several sorters as one (the workers of a merge each fill their own): rows
    /// in memory stay there while no sorter spilled, else they become runs beside the others.
    pub fn combine(sorters: Vec<Sorter<T>>) -> Result<Sorter<T>> {
        let mut sorters = sorters.into_iter();
        let mut all = sorters.next().context("combining no sorter at all")?;
        for mut other in sorters {
            // Each kept within its own limit: together within the sum, which is the list's.
            all.limit += other.limit;
            if all.runs.is_empty() && other.runs.is_empty() {
                all.rows.append(&mut other.rows);
                all.bytes += other.bytes;
            } else {
                if !other.rows.is_empty() {
                    other.write_run()?;
                }
                all.runs.append(&mut other.runs);
            }
            all.total += other.total;
        }
        Ok(all)
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

/// Rows handed from the merging thread to the one writing them, at a time.
const BATCH: usize = 4096;

impl<T: Row> RowStream<T> for Runs<T> {
    /// Two threads: this one calls `f` (formatting and writing, for `pages.csv`) while another
    /// merges the runs and decodes the rows, handing them over in batches; the batches come
    /// back, so their rows' buffers are read into again.
    fn each(&self, limit: u64, f: &mut dyn FnMut(&T) -> Result<()>) -> Result<()> {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<T>>(2);
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<T>>();
        std::thread::scope(|scope| {
            let merging = scope.spawn(move || -> Result<()> {
                let mut spares: Vec<T> = Vec::new();
                let mut batch: Vec<T> = Vec::with_capacity(BATCH);
                self.merge(limit, &mut |row: &mut T| {
                    let spare = spares.pop().unwrap_or_else(|| row.clone());
                    batch.push(std::mem::replace(row, spare));
                    if batch.len() == BATCH {
                        let next = match back_rx.try_recv() {
                            Ok(mut used) => {
                                spares.append(&mut used);
                                used
                            }
                            Err(_) => Vec::with_capacity(BATCH),
                        };
                        let full = std::mem::replace(&mut batch, next);
                        // The writer stopped (its error is the one reported).
                        full_tx
                            .send(full)
                            .map_err(|_| anyhow::anyhow!("the writer stopped"))?;
                    }
                    Ok(())
                })?;
                if !batch.is_empty() {
                    let _ = full_tx.send(batch);
                }
                Ok(())
            });
            let mut written = Ok(());
            while let Ok(batch) = full_rx.recv() {
                written = batch.iter().try_for_each(&mut *f);
                if written.is_err() {
                    break;
                }
                let _ = back_tx.send(batch);
            }
            drop(full_rx);
            let merged = merging
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            written.and(merged)
        })
    }
}

impl<T: Row> Runs<T> {
    /// Merges the runs, calling `take` with each row in order (the first `limit`); `take` may
    /// swap the row for another value, which the run's next row is then read into.
    fn merge(&self, limit: u64, take: &mut dyn FnMut(&mut T) -> Result<()>) -> Result<()> {
        let mut readers = self
            .runs
            .iter()
            .map(|p| RecordReader::open(p))
            .collect::<Result<Vec<_>>>()?;
        // Each run's current row, read in place; the heap holds run numbers (rows of ~100
        // bytes moved on every sift were a tenth of writing a list of millions).
        let mut heads: Vec<Option<T>> = Vec::with_capacity(readers.len());
        for r in readers.iter_mut() {
            let head = match r.next_record()? {
                None => None,
                Some(bytes) => Some(
                    T::decode(bytes)
                        .with_context(|| format!("a damaged record in {}", r.path.display()))?,
                ),
            };
            heads.push(head);
        }
        let mut heap = Heap::new((0..heads.len()).filter(|&i| heads[i].is_some()), &heads);
        let mut done = 0u64;
        while done < limit {
            let Some(run) = heap.top() else { break };
            let row = heads[run].as_mut().expect("a run in the heap has a row");
            take(row)?;
            done += 1;
            let r = &mut readers[run];
            match r.next_record()? {
                Some(bytes) => {
                    if !T::decode_into(bytes, row) {
                        anyhow::bail!("a damaged record in {}", r.path.display());
                    }
                    heap.replace_top(&heads);
                }
                None => {
                    heads[run] = None;
                    heap.pop(&heads);
                }
            }
        }
        Ok(())
    }
}

/// A binary min-heap of run numbers ordered by their current rows (then by run, so that equal
/// rows come in run order).
struct Heap {
    runs: Vec<usize>,
}

impl Heap {
    fn new<T: Row>(runs: impl Iterator<Item = usize>, heads: &[Option<T>]) -> Heap {
        let mut heap = Heap {
            runs: runs.collect(),
        };
        for i in (0..heap.runs.len() / 2).rev() {
            heap.sift_down(i, heads);
        }
        heap
    }

    fn less<T: Row>(heads: &[Option<T>], a: usize, b: usize) -> bool {
        match (&heads[a], &heads[b]) {
            (Some(x), Some(y)) => T::order(x, y).then(a.cmp(&b)) == Ordering::Less,
            _ => false,
        }
    }

    fn top(&self) -> Option<usize> {
        self.runs.first().copied()
    }

    /// The top's row changed: moves it down to its place.
    fn replace_top<T: Row>(&mut self, heads: &[Option<T>]) {
        self.sift_down(0, heads);
    }

    /// The top's run is exhausted: removes it.
    fn pop<T: Row>(&mut self, heads: &[Option<T>]) {
        let last = self.runs.pop();
        if let (Some(last), false) = (last, self.runs.is_empty()) {
            self.runs[0] = last;
            self.sift_down(0, heads);
        }
    }

    fn sift_down<T: Row>(&mut self, mut i: usize, heads: &[Option<T>]) {
        let n = self.runs.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut least = i;
            if l < n && Self::less(heads, self.runs[l], self.runs[least]) {
                least = l;
            }
            if r < n && Self::less(heads, self.runs[r], self.runs[least]) {
                least = r;
            }
            if least == i {
                return;
            }
            self.runs.swap(i, least);
            i = least;
        }
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
    use super::super::records::{get_str, get_varint, put_str, put_varint};
    use super::*;

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
    fn sorters_combined_give_the_same_list_spilled_or_not() {
        let rows: Vec<R> = (0..30_000u64)
            .map(|i| R((i * 7919) % 500, format!("k{i}")))
            .collect();
        let mut want = rows.clone();
        want.sort_by(R::order);
        // (limit of each of three sorters): none spills, one spills, all spill.
        for limit in [1 << 30, 0] {
            let spill = Spill::new(0, None);
            let mut sorters: Vec<Sorter<R>> = (0..3)
                .map(|i| Sorter::new("r", if i == 1 { 0 } else { limit }, &spill))
                .collect();
            for (i, r) in rows.iter().enumerate() {
                sorters[i % 3].push(r.clone()).unwrap();
            }
            let list = Sorter::combine(sorters).unwrap().finish(None).unwrap();
            assert_eq!(list.total(), 30_000);
            let mut all = Vec::new();
            list.each_all(|r| {
                all.push(r.clone());
                Ok(())
            })
            .unwrap();
            assert_eq!(all, want, "{limit}");
        }
        let spill = Spill::new(1 << 30, None);
        let in_memory: Vec<Sorter<R>> = (0..2).map(|_| Sorter::new("r", 1 << 20, &spill)).collect();
        let list = Sorter::combine(in_memory).unwrap().finish(None).unwrap();
        assert_eq!(
            (list.total(), list.in_memory().map(|r| r.len())),
            (0, Some(0))
        );
        assert!(Sorter::<R>::combine(Vec::new()).is_err());
    }

    #[test]
    fn a_writer_error_stops_the_merge_and_is_the_one_reported() {
        let tight = Spill::new(0, None);
        let mut sorter = Sorter::new("r", 0, &tight);
        for i in 0..50_000u64 {
            sorter.push(R(i % 7, format!("k{i}"))).unwrap();
        }
        let list = sorter.finish(None).unwrap();
        let mut n = 0;
        let err = list
            .each_all(|_| {
                n += 1;
                if n == 10_000 {
                    anyhow::bail!("disk full");
                }
                Ok(())
            })
            .unwrap_err();
        assert_eq!((err.to_string(), n), ("disk full".to_string(), 10_000));
        // The list can still be read whole afterwards.
        let mut all = 0;
        list.each_all(|_| {
            all += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(all, 50_000);
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
}
