//! The spill files' format: records of varint-framed bytes, and the hash that picks a key's
//! partition.

use super::{SpillDir, PARTS};
use anyhow::{Context, Result};
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{BufReader, BufWriter, Read, Write};
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

/// Closes a table's partition files, if it has any: each file's path and bytes, in order.
pub fn close_parts(parts: &mut Option<Vec<RecordWriter>>) -> Result<Vec<(PathBuf, u64)>> {
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
}
