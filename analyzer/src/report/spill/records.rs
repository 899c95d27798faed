//! The spill files' format: records of varint-framed bytes, and the hash that picks a key's
//! partition.

use super::{SpillDir, PARTS};
use anyhow::{Context, Result};
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

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
    get_str_ref(input).map(str::to_string)
}

/// Reads a length-prefixed string in place.
pub fn get_str_ref<'a>(input: &mut &'a [u8]) -> Option<&'a str> {
    let n = usize::try_from(get_varint(input)?).ok()?;
    if input.len() < n {
        return None;
    }
    let (s, rest) = input.split_at(n);
    *input = rest;
    std::str::from_utf8(s).ok()
}

/// Writes records (each a varint length, then its bytes) to a file.
pub struct RecordWriter {
    path: PathBuf,
    out: BufWriter<File>,
    bytes: u64,
    records: u64,
    /// A record's length, written here first (kept: a new vector was an allocation a record).
    head: Vec<u8>,
}

/// A spill file, complete.
#[derive(Debug)]
pub struct Written {
    /// Where it is.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// How many records it holds.
    pub records: u64,
}

impl RecordWriter {
    /// A new file in `spill`, named after `what`.
    pub fn create(spill: &SpillDir, what: &str) -> Result<RecordWriter> {
        let (path, file) = spill.create(what)?;
        Ok(RecordWriter {
            path,
            out: BufWriter::with_capacity(64 << 10, file),
            bytes: 0,
            records: 0,
            head: Vec::with_capacity(10),
        })
    }

    /// Appends one record.
    pub fn write(&mut self, record: &[u8]) -> Result<()> {
        self.head.clear();
        put_varint(&mut self.head, record.len() as u64);
        self.out
            .write_all(&self.head)
            .and_then(|()| self.out.write_all(record))
            .with_context(|| format!("writing the spill file {}", self.path.display()))?;
        self.bytes += (self.head.len() + record.len()) as u64;
        self.records += 1;
        Ok(())
    }

    /// The file, complete.
    pub fn close(mut self) -> Result<Written> {
        self.out
            .flush()
            .with_context(|| format!("writing the spill file {}", self.path.display()))?;
        Ok(Written {
            path: self.path,
            bytes: self.bytes,
            records: self.records,
        })
    }
}

/// Closes a table's partition files, if it has any, in order.
pub fn close_parts(parts: &mut Option<Vec<RecordWriter>>) -> Result<Vec<Written>> {
    parts
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(RecordWriter::close)
        .collect()
}

/// Reads the records of a spill file back, one at a time.
pub struct RecordReader {
    /// The file read, for messages.
    pub path: PathBuf,
    input: BufReader<File>,
    buf: Vec<u8>,
    /// Bytes of `input`'s buffer handed out as the last record, consumed on the next call.
    pending: usize,
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
            pending: 0,
        })
    }

    /// The next record, `None` at the end: read in place from the buffer when it holds the
    /// whole record (nearly always), else copied a piece at a time.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>> {
        let what = || format!("reading the spill file {}", self.path.display());
        self.input.consume(std::mem::take(&mut self.pending));
        let whole = {
            let avail = self.input.fill_buf().with_context(what)?;
            if avail.is_empty() {
                return Ok(None);
            }
            let mut rest = avail;
            match get_varint(&mut rest).and_then(|n| usize::try_from(n).ok()) {
                Some(n) if n <= rest.len() => Some((avail.len() - rest.len(), n)),
                _ => None,
            }
        };
        if let Some((head, n)) = whole {
            self.pending = head + n;
            return Ok(Some(&self.input.buffer()[head..head + n]));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn records_read_back_whole_across_the_readers_buffer() {
        // Sizes that put records and their lengths across the 64 KiB buffer's edges, one
        // larger than the buffer, and empty ones.
        let spill = SpillDir::new(None);
        let mut w = RecordWriter::create(&spill, "r").unwrap();
        let mut sizes: Vec<usize> = (0..3000)
            .map(|i| match i % 7 {
                0 => 0,
                1 => 127,
                2 => 128,
                3 => 200_000 * usize::from(i == 1003),
                _ => (i * 37) % 300,
            })
            .collect();
        sizes.push(50);
        let record = |i: usize, n: usize| -> Vec<u8> { (0..n).map(|k| (i + k) as u8).collect() };
        for (i, &n) in sizes.iter().enumerate() {
            w.write(&record(i, n)).unwrap();
        }
        let Written {
            path,
            bytes,
            records,
        } = w.close().unwrap();
        assert_eq!(bytes, std::fs::metadata(&path).unwrap().len());
        assert_eq!(records, sizes.len() as u64);
        let mut r = RecordReader::open(&path).unwrap();
        for (i, &n) in sizes.iter().enumerate() {
            assert_eq!(
                r.next_record().unwrap(),
                Some(&record(i, n)[..]),
                "record {i}"
            );
        }
        assert_eq!(r.next_record().unwrap(), None);
        // A file cut inside a record is an error, not a shorter record.
        let all = std::fs::read(&path).unwrap();
        std::fs::write(&path, &all[..all.len() - 1]).unwrap();
        let mut r = RecordReader::open(&path).unwrap();
        let mut read = 0;
        let end = loop {
            match r.next_record() {
                Ok(Some(_)) => read += 1,
                other => break other.map(|o| o.map(<[u8]>::len)),
            }
        };
        assert!(end.is_err(), "{end:?} after {read} records");
        assert_eq!(read, sizes.len() - 1);
    }
}
