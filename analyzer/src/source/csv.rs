//! Reading landed hit objects (`hits/dt=.../*.csv`) with `pagehit`'s one reader, several at a
//! time: one parsing thread per core, and on S3 many objects fetched at once ahead of them (S3
//! latency is per request, not per core: a quiet site's day is thousands of small objects).
//!
//! Used by `report` (rows into hit columns) and `compact` (rows into bucket spill files).

use anyhow::{Context, Result};
use bytes::Bytes;
use futures::StreamExt;
use pagehit::csv::{FileReader, HeaderError, Row, RowError, MAX_ROW};
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use store::{Location, Object, Store};

/// Bytes read from a local file at a time.
const BLOCK: usize = 4 << 20;
/// Objects up to this size are fetched whole ahead of the parsers; larger ones are streamed.
const PREFETCH_MAX: u64 = 8 << 20;
/// Objects fetched ahead of the parsers at most (and so the most requests in flight).
const AHEAD: usize = 64;

/// What reading one object found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileOutcome {
    /// Valid rows.
    pub rows: u64,
    /// Lines that are not valid rows.
    pub malformed: u64,
    /// Why the object was refused whole (its first line is not a page-hit header).
    pub refused: Option<HeaderError>,
    /// The first malformed line and why.
    pub first_malformed: Option<(u64, RowError)>,
}

/// What reading a set of objects found, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadTotals {
    /// Objects read.
    pub files: u64,
    /// Lines that are not valid rows.
    pub malformed: u64,
    /// Objects refused for their header.
    pub unknown_header_files: u64,
    /// The first problem, for messages: the object and what was wrong.
    pub first_problem: Option<String>,
}

impl ReadTotals {
    /// Sums per-object outcomes (`keys[i]` is object `i`'s display name).
    pub fn of(outcomes: &[FileOutcome], names: &[String]) -> ReadTotals {
        let mut t = ReadTotals {
            files: outcomes.len() as u64,
            ..ReadTotals::default()
        };
        for (o, name) in outcomes.iter().zip(names) {
            t.malformed += o.malformed;
            if let Some(why) = &o.refused {
                t.unknown_header_files += 1;
                t.first_problem
                    .get_or_insert_with(|| format!("{name} was not read: {why}"));
            }
            if let Some((line, why)) = &o.first_malformed {
                t.first_problem
                    .get_or_insert_with(|| format!("{name} line {line}: {why}"));
            }
        }
        t
    }

    /// Adds another set's totals.
    pub fn add(&mut self, other: &ReadTotals) {
        self.files += other.files;
        self.malformed += other.malformed;
        self.unknown_header_files += other.unknown_header_files;
        if self.first_problem.is_none() {
            self.first_problem.clone_from(&other.first_problem);
        }
    }
}

/// Where parsers get an S3 object's bytes from.
enum Slot {
    Waiting,
    Ready(Result<Bytes>),
    Taken,
}

/// Objects fetched ahead of the parsers.
struct Prefetch {
    slots: Mutex<Vec<Slot>>,
    ready: Condvar,
}

/// Reads every object of `objects` (keys under `store`, sorted) on `states.len()` threads.
/// Calls `on_file(i, n)` when object `i` of `n` starts and `on_row(state, i, row)` for each of
/// its valid rows, on the thread that reads it (each object is read by one thread, in line
/// order). Returns one outcome per object; an object that cannot be fetched or read fails the
/// whole read. Call from a blocking thread: S3 requests run on `runtime`.
pub fn read_objects<S: Send>(
    store: &Store,
    runtime: &tokio::runtime::Handle,
    objects: &[Object],
    states: &mut [S],
    on_file: &(dyn Fn(usize, usize) + Sync),
    on_row: &(dyn Fn(&mut S, usize, Row<'_>) + Sync),
) -> Result<Vec<FileOutcome>> {
    let n = objects.len();
    let outcomes: Vec<Mutex<Option<Result<FileOutcome>>>> =
        (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let prefetch = Prefetch {
        slots: Mutex::new(
            objects
                .iter()
                .map(|o| {
                    if o.size <= PREFETCH_MAX {
                        Slot::Waiting
                    } else {
                        Slot::Taken
                    }
                })
                .collect(),
        ),
        ready: Condvar::new(),
    };
    let permits = tokio::sync::Semaphore::new(AHEAD);
    let s3 = matches!(store.location(), Location::S3 { .. });

    std::thread::scope(|scope| -> Result<()> {
        if s3 {
            let (prefetch, permits, failed) = (&prefetch, &permits, &failed);
            scope.spawn(move || {
                runtime.block_on(fetch_ahead(store, objects, prefetch, permits, failed));
            });
        }
        for state in states.iter_mut() {
            let (next, outcomes, failed, prefetch, permits) =
                (&next, &outcomes, &failed, &prefetch, &permits);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || failed.load(Ordering::Relaxed) {
                    break;
                }
                on_file(i, n);
                let object = &objects[i];
                let result = read_one(
                    store,
                    runtime,
                    object,
                    i,
                    prefetch,
                    permits,
                    failed,
                    |row| on_row(state, i, row),
                )
                .with_context(|| format!("reading {}", store.display(&object.key)));
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                    // Wake the parsers waiting for objects and stop the fetcher.
                    permits.close();
                    prefetch.ready.notify_all();
                }
                *outcomes[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            });
        }
        Ok(())
    })?;

    let mut out = Vec::with_capacity(n);
    for slot in outcomes {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(result) => out.push(result?),
            // Skipped because another object failed first; that error comes first.
            None => continue,
        }
    }
    Ok(out)
}

/// Fetches the small objects in order, at most [`AHEAD`] beyond what the parsers took.
async fn fetch_ahead(
    store: &Store,
    objects: &[Object],
    prefetch: &Prefetch,
    permits: &tokio::sync::Semaphore,
    failed: &AtomicBool,
) {
    let small = objects
        .iter()
        .enumerate()
        .filter(|(_, o)| o.size <= PREFETCH_MAX);
    futures::stream::iter(small)
        .map(|(i, object)| async move {
            if failed.load(Ordering::Relaxed) {
                return;
            }
            // Returned by the parser that takes this object.
            let Ok(permit) = permits.acquire().await else {
                return;
            };
            permit.forget();
            let got = match store.get(&object.key).await {
                Ok(Some(bytes)) => Ok(bytes),
                Ok(None) => Err(anyhow::anyhow!(
                    "the object disappeared after it was listed"
                )),
                Err(e) => Err(e),
            };
            let mut slots = prefetch.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots[i] = Slot::Ready(got);
            prefetch.ready.notify_all();
        })
        .buffer_unordered(AHEAD)
        .for_each(|()| async {})
        .await;
}

/// Reads one object, feeding its rows to `on_row`.
#[allow(clippy::too_many_arguments)]
fn read_one(
    store: &Store,
    runtime: &tokio::runtime::Handle,
    object: &Object,
    index: usize,
    prefetch: &Prefetch,
    permits: &tokio::sync::Semaphore,
    failed: &AtomicBool,
    mut on_row: impl FnMut(Row<'_>),
) -> Result<FileOutcome> {
    let mut reader = FileReader::new();
    let refused = match store.location() {
        Location::Dir(root) => {
            let mut file = std::fs::File::open(root.join(&object.key))?;
            feed_blocks(&mut reader, &mut on_row, |buf| Ok(file.read(buf)?))?
        }
        Location::S3 { .. } if object.size <= PREFETCH_MAX => {
            let bytes = {
                let mut slots = prefetch.slots.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    match std::mem::replace(&mut slots[index], Slot::Taken) {
                        Slot::Ready(got) => break got,
                        _ if failed.load(Ordering::Relaxed) => {
                            anyhow::bail!("stopped: another object could not be read")
                        }
                        other => {
                            slots[index] = other;
                            slots = prefetch
                                .ready
                                .wait(slots)
                                .unwrap_or_else(|e| e.into_inner());
                        }
                    }
                }
            };
            permits.add_permits(1);
            let bytes = bytes?;
            reader.feed(&bytes, true, &mut on_row).err()
        }
        Location::S3 { .. } => {
            let mut stream = runtime.block_on(store.get_stream(&object.key))?;
            let mut pending = Bytes::new();
            feed_blocks(&mut reader, &mut on_row, |buf| {
                if pending.is_empty() {
                    match runtime.block_on(stream.next()) {
                        Some(chunk) => pending = chunk?,
                        None => return Ok(0),
                    }
                }
                let n = pending.len().min(buf.len());
                buf[..n].copy_from_slice(&pending[..n]);
                pending = pending.slice(n..);
                Ok(n)
            })?
        }
    };
    Ok(FileOutcome {
        rows: reader.rows,
        malformed: reader.malformed,
        refused,
        first_malformed: reader.first_malformed.take(),
    })
}

/// Feeds a reader from `read` (like `Read::read`, 0 at the end) through a bounded buffer;
/// returns why the file was refused, if it was.
fn feed_blocks(
    reader: &mut FileReader,
    on_row: &mut impl FnMut(Row<'_>),
    mut read: impl FnMut(&mut [u8]) -> Result<usize>,
) -> Result<Option<HeaderError>> {
    let mut buf = vec![0u8; BLOCK + MAX_ROW];
    let mut len = 0;
    loop {
        let mut eof = false;
        while len < buf.len() {
            match read(&mut buf[len..])? {
                0 => {
                    eof = true;
                    break;
                }
                n => len += n,
            }
        }
        let used = match reader.feed(&buf[..len], eof, &mut *on_row) {
            Ok(used) => used,
            Err(refused) => return Ok(Some(refused)),
        };
        if eof {
            return Ok(None);
        }
        buf.copy_within(used..len, 0);
        len -= used;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagehit::{csv_header, PageHit};

    fn hit(n: u32) -> PageHit {
        PageHit {
            event_id: format!("01936b2e-1f00-7abc-8def-{n:012x}"),
            ts: "2026-11-25T10:00:00.000Z".into(),
            host: "shop.example".into(),
            path: format!("/p/{n}"),
            action: "p".into(),
            method: "GET".into(),
            status: 200,
            visitor: "0123456789abcdef".into(),
            ..PageHit::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_every_object_on_several_threads_in_line_order() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::Dir(dir.path().to_path_buf());
        let store = Store::open(&location).await.unwrap();
        let mut objects = Vec::new();
        for f in 0..7u32 {
            let mut body = csv_header();
            for r in 0..(f * 1000) {
                hit(f * 100_000 + r).write_csv_row(&mut body);
            }
            if f == 3 {
                body.push_str("broken,row\n");
            }
            let key = format!("hits/dt=2026-11-25/{f}.csv");
            store.put(&key, body).await.unwrap();
            objects.push(store::Object { key, size: 0 });
        }
        store
            .put("hits/dt=2026-11-25/x.csv", "not,a,header\n")
            .await
            .unwrap();
        objects.push(store::Object {
            key: "hits/dt=2026-11-25/x.csv".into(),
            size: 0,
        });
        let runtime = tokio::runtime::Handle::current();
        let (states, outcomes) = tokio::task::spawn_blocking(move || {
            let mut states: Vec<Vec<(usize, u32)>> = vec![Vec::new(); 3];
            let outcomes = read_objects(
                &store,
                &runtime,
                &objects,
                &mut states,
                &|_, _| {},
                &|s, i, row| {
                    let n = u32::from_str_radix(&row.hit.event_id[24..], 16).unwrap();
                    s.push((i, n));
                },
            )
            .unwrap();
            (states, outcomes)
        })
        .await
        .unwrap();
        let mut rows: Vec<(usize, u32)> = states.concat();
        rows.sort();
        assert_eq!(rows.len(), (0..7).map(|f| f * 1000).sum::<u32>() as usize);
        for (i, n) in &rows {
            assert_eq!(*n / 100_000, *i as u32);
        }
        assert_eq!(outcomes[3].malformed, 1);
        assert!(outcomes[7].refused.is_some());
        let totals = ReadTotals::of(
            &outcomes,
            &(0..8).map(|i| i.to_string()).collect::<Vec<_>>(),
        );
        assert_eq!(
            (totals.files, totals.malformed, totals.unknown_header_files),
            (8, 1, 1)
        );
        assert!(totals.first_problem.unwrap().starts_with("3 line"));
    }
}
