//! Lists sorted within a memory limit: sorted runs on disk, read back by a k-way merge.

use super::super::model::{RowStream, Rows};
use super::records::{RecordReader, RecordWriter};
use super::{Spill, SpillDir, MIN_RUN};
use anyhow::{Context, Result};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::sync::Arc;

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
