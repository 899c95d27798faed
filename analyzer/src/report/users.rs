//! The user report: signed-in page views by user across all their visitors (devices), in time
//! order. A user's page views can lie in every bucket, so a projection of them (user, time,
//! path) is kept bucket by bucket and worked out at the end. No event id: what a user's rows
//! give (sessions cut by time gaps, distinct pages and days, counts, first and last times)
//! does not depend on the order of rows of one millisecond, so the projection is 16 bytes a
//! page view, not 32. Past its share of the memory budget the projection goes to hash
//! partitions of the user name on disk, and each partition (every page view of its users) is
//! worked out alone.

use super::model::{Rows, UserRow};
use super::pages::Pages;
use super::sessions::{runs, session_flags, Seen};
use super::spill::{close_parts, part_of, RecordReader, RecordWriter, PARTS};
use super::spill::{get_str, get_str_ref, get_varint, put_str, put_varint, Row, Sorter, Spill};
use super::totals::People;
use super::visits::chunks_of_runs;
use crate::period::Period;
use crate::transform::hits::{BucketNames, Hits};
use crate::transform::intern::{Local, NONE};
use anyhow::{Context, Result};
use rayon::prelude::*;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;

/// Signed-in page views, in memory with codes of their own dictionaries.
#[derive(Default)]
struct Projection {
    user: Vec<u32>,
    ts: Vec<i64>,
    path: Vec<u32>,
    users: Local,
    paths: Local,
}

/// Bytes of one projected page view in memory.
const ROW_BYTES: usize = 4 + 8 + 4;

impl Projection {
    fn push(&mut self, user: u32, ts: i64, path: u32) {
        self.user.push(user);
        self.ts.push(ts);
        self.path.push(path);
    }

    /// Bytes held, at the vectors' capacities (up to twice their rows).
    fn bytes(&self) -> usize {
        self.user.capacity().max(self.ts.capacity()) * ROW_BYTES
            + self.users.held()
            + self.paths.held()
    }
}

/// The signed-in page views of a period, kept for the user report.
pub struct SignedIn {
    rows: Projection,
    limit: usize,
    spill: Spill,
    parts: Option<Vec<RecordWriter>>,
}

impl SignedIn {
    /// None yet; at most `limit` bytes in memory.
    pub fn new(limit: usize, spill: &Spill) -> SignedIn {
        SignedIn {
            rows: Projection::default(),
            limit,
            spill: spill.clone(),
            parts: None,
        }
    }

    /// Keeps the signed-in ones of the page views `pv` (rows of `hits`, whose bucket codes
    /// `names` names).
    pub fn add(&mut self, hits: &Hits, pv: &[u32], names: &BucketNames) -> Result<()> {
        // Bucket code -> projection code, each looked up once.
        let mut users = vec![NONE; names.user.code_space()];
        let mut paths = vec![NONE; names.path.code_space()];
        for &r in pv {
            let r = r as usize;
            let u = hits.user[r];
            if u == NONE {
                continue;
            }
            let user = match users[u as usize] {
                NONE => {
                    let c = self.rows.users.code(names.user.name(u));
                    users[u as usize] = c;
                    c
                }
                c => c,
            };
            let p = hits.path[r];
            let path = match paths[p as usize] {
                NONE => {
                    let c = self.rows.paths.code(names.path.name(p));
                    paths[p as usize] = c;
                    c
                }
                c => c,
            };
            self.rows.push(user, hits.ts[r], path);
        }
        if self.rows.bytes() > self.limit {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the rows in memory to the partitions of their user names.
    fn flush(&mut self) -> Result<()> {
        if self.parts.is_none() {
            let parts = (0..PARTS)
                .map(|_| RecordWriter::create(&self.spill.dir, "signed-in"))
                .collect::<Result<Vec<_>>>()?;
            self.parts = Some(parts);
        }
        let parts = self.parts.as_mut().expect("just made");
        let p = std::mem::take(&mut self.rows);
        let mut record = Vec::new();
        for i in 0..p.user.len() {
            let user = p.users.name(p.user[i]);
            record.clear();
            put_str(&mut record, user);
            put_varint(&mut record, p.ts[i] as u64);
            put_str(&mut record, p.paths.name(p.path[i]));
            parts[part_of(user, 0)].write(&record)?;
        }
        Ok(())
    }

    /// The user report; adds each path's distinct users to `pages`.
    pub fn finish(
        mut self,
        period: &Period,
        shown: Option<usize>,
        limit: usize,
        pages: &mut Pages,
    ) -> Result<Users> {
        let mut out = Users {
            rows: Rows::default(),
            people: People {
                users: 0,
                sessions: 0,
                bounces: 0,
            },
            per_day: vec![0; period.days()],
        };
        let mut sorter = Sorter::new("user-rows", limit, &self.spill);
        if self.parts.is_none() {
            work(&self.rows, period, &mut out, &mut sorter, pages)?;
        } else {
            self.flush()?;
            let files = close_parts(&mut self.parts)?;
            // The next partition is read (one thread) while one is worked out (the rest):
            // read in turn, they left a core idle for most of the stage.
            let read = |i: usize| -> Result<Option<Projection>> {
                let Some(path) = files.get(i).map(|f| &f.path) else {
                    return Ok(None);
                };
                let rows = load(path)?;
                let _ = std::fs::remove_file(path);
                Ok(Some(rows))
            };
            let mut next = read(0)?;
            for i in 0..files.len() {
                let rows = next
                    .take()
                    .context("a partition of the signed-in page views")?;
                let (loaded, worked) = rayon::join(
                    || read(i + 1),
                    || work(&rows, period, &mut out, &mut sorter, pages),
                );
                worked?;
                next = loaded?;
            }
        }
        out.rows = sorter.finish(shown)?;
        Ok(out)
    }
}

/// Reads a partition of the projection back.
fn load(path: &Path) -> Result<Projection> {
    let mut p = Projection::default();
    let mut reader = RecordReader::open(path)?;
    let damaged = || format!("a damaged record in {}", path.display());
    while let Some(mut record) = reader.next_record()? {
        // The names read in place: the dictionaries copy the ones they have not seen.
        let user = get_str_ref(&mut record).with_context(damaged)?;
        let ts = get_varint(&mut record).with_context(damaged)? as i64;
        let page = get_str_ref(&mut record).with_context(damaged)?;
        let (u, c) = (p.users.code(user), p.paths.code(page));
        p.push(u, ts, c);
    }
    Ok(p)
}

/// What the signed-in page views give.
pub struct Users {
    /// The user rows, sorted by hits then user.
    pub rows: Rows<UserRow>,
    /// Distinct users, user sessions and their bounces, for the summary.
    pub people: People,
    /// Distinct users per local day.
    pub per_day: Vec<u64>,
}

/// Works out the users of `s` (every page view of each of its users).
fn work(
    s: &Projection,
    period: &Period,
    out: &mut Users,
    sorter: &mut Sorter<UserRow>,
    pages: &mut Pages,
) -> Result<()> {
    let sorted = by_user_and_time(&s.user, &s.ts, s.users.len());
    let n = sorted.len();
    let bounds = runs(&sorted, |r| u64::from(s.user[r as usize]));
    struct Chunk {
        rows: Vec<UserRow>,
        sessions: u64,
        bounces: u64,
        per_page: HashMap<u32, u64>,
        per_day: Vec<u64>,
    }
    let chunks = chunks_of_runs(&bounds, n / (8 * rayon::current_num_threads()) + 1);
    let parts: Vec<Chunk> = chunks
        .par_iter()
        .map(|&(c0, c1)| {
            let mut part = Chunk {
                rows: Vec::with_capacity(c1 - c0),
                sessions: 0,
                bounces: 0,
                per_page: HashMap::new(),
                per_day: vec![0; period.days()],
            };
            let mut entry = Vec::new();
            let mut exit = Vec::new();
            // Per user: its distinct paths (stamped, in first-seen order) with their views,
            // and its days.
            let mut seen = Seen::default();
            let mut days = Seen::default();
            let mut paths: Vec<u32> = Vec::new();
            let mut views: Vec<u64> = Vec::new();
            for w in bounds[c0..=c1].windows(2) {
                let (a, b) = (w[0], w[1]);
                let len = b - a;
                let row = |i: usize| sorted[a + i] as usize;
                entry.clear();
                entry.resize(len, false);
                exit.clear();
                exit.resize(len, false);
                session_flags(|i| s.ts[row(i)], len, &mut entry, &mut exit);
                let sessions = entry.iter().filter(|&&e| e).count() as u64;
                part.sessions += sessions;
                part.bounces += (0..len).filter(|&i| entry[i] && exit[i]).count() as u64;
                seen.next_run();
                days.next_run();
                paths.clear();
                for i in 0..len {
                    let r = row(i);
                    let path = s.path[r];
                    let p = path as usize;
                    if seen.first(path) {
                        *part.per_page.entry(path).or_default() += 1;
                        paths.push(path);
                        if p >= views.len() {
                            views.resize((p + 1).next_power_of_two(), 0);
                        }
                        views[p] = 0;
                    }
                    views[p] += 1;
                    let d = period.day_index(s.ts[r]);
                    if days.first(d as u32) {
                        part.per_day[d] += 1;
                    }
                }
                // The most viewed path; ties go to the smallest path.
                let top_page = paths
                    .iter()
                    .max_by(|&&x, &&y| {
                        views[x as usize]
                            .cmp(&views[y as usize])
                            .then_with(|| s.paths.name(y).cmp(s.paths.name(x)))
                    })
                    .map_or(NONE, |&p| p);
                part.rows.push(UserRow {
                    user: s.users.name(s.user[row(0)]).to_string(),
                    hits: len as u64,
                    pages: paths.len() as u64,
                    sessions,
                    first_seen: period.format_local(s.ts[row(0)]),
                    last_seen: period.format_local(s.ts[row(len - 1)]),
                    top_page: s.paths.name(top_page).to_string(),
                });
            }
            part
        })
        .collect();
    // Each path's users, by the partition's dense path codes (a map by name allocated a key
    // per path: on a day of millions of paths, most of the users' time on one core).
    let mut per_page = vec![0u64; s.paths.len()];
    for part in parts {
        out.people.users += part.rows.len() as u64;
        for row in part.rows {
            sorter.push(row)?;
        }
        out.people.sessions += part.sessions;
        out.people.bounces += part.bounces;
        for (page, users) in part.per_page {
            per_page[page as usize] += users;
        }
        for (d, users) in part.per_day.into_iter().enumerate() {
            out.per_day[d] += users;
        }
    }
    for (page, &users) in per_page.iter().enumerate() {
        if users > 0 {
            pages.add_users(s.paths.name(page as u32), users)?;
        }
    }
    Ok(())
}

/// Rows sorted by (user code, time, row): the users' codes are dense, so the rows are put in
/// user order by counting (no comparison), then each user's few rows sorted by time (a stable
/// sort, so ties stay in row order). With many rows a user, parts of the rows are counted side
/// by side and each user's rows gathered from the parts in order (one part counted alone was
/// a tenth of a broad click).
fn by_user_and_time(user: &[u32], ts: &[i64], users: usize) -> Vec<u32> {
    let n = user.len();
    // A part's counts take a slot a user: at most a quarter of its rows.
    let parts = (n / (4 * users.max(1))).clamp(1, 2 * rayon::current_num_threads());
    let size = n.div_ceil(parts).max(1);
    let counted: Vec<(Vec<u32>, Vec<u32>)> = (0..parts)
        .into_par_iter()
        .map(|p| {
            let rows = p * size..((p + 1) * size).min(n);
            let mut start = vec![0u32; users + 1];
            for &u in &user[rows.clone()] {
                start[u as usize + 1] += 1;
            }
            for i in 1..=users {
                start[i] += start[i - 1];
            }
            let mut out = vec![0u32; rows.len()];
            let mut next = start.clone();
            for r in rows {
                let u = user[r] as usize;
                out[next[u] as usize] = r as u32;
                next[u] += 1;
            }
            (start, out)
        })
        .collect();
    // User `u`'s rows in a part.
    fn run((start, rows): &(Vec<u32>, Vec<u32>), u: usize) -> &[u32] {
        &rows[start[u] as usize..start[u + 1] as usize]
    }
    // Users in chunks of about equal rows, each chunk filling its own stretch of the output.
    let mut chunks = Vec::new();
    let (mut first, mut rows) = (0, 0);
    let per_chunk = n / (8 * rayon::current_num_threads()) + 1;
    for u in 0..users {
        rows += counted.iter().map(|c| run(c, u).len()).sum::<usize>();
        if rows >= per_chunk || u + 1 == users {
            chunks.push((first..u + 1, rows));
            (first, rows) = (u + 1, 0);
        }
    }
    let mut out = vec![0u32; n];
    let mut pieces = Vec::with_capacity(chunks.len());
    let mut rest = out.as_mut_slice();
    for (users, rows) in chunks {
        let (piece, tail) = rest.split_at_mut(rows);
        pieces.push((users, piece));
        rest = tail;
    }
    pieces.into_par_iter().for_each(|(users, piece)| {
        let mut at = 0;
        for u in users {
            let from = at;
            for c in &counted {
                let rows = run(c, u);
                piece[at..at + rows.len()].copy_from_slice(rows);
                at += rows.len();
            }
            piece[from..at].sort_by_key(|&r| ts[r as usize]);
        }
    });
    out
}

impl Row for UserRow {
    fn encode(&self, out: &mut Vec<u8>) {
        put_str(out, &self.user);
        put_varint(out, self.hits);
        put_varint(out, self.pages);
        put_varint(out, self.sessions);
        put_str(out, &self.first_seen);
        put_str(out, &self.last_seen);
        put_str(out, &self.top_page);
    }

    fn decode(mut input: &[u8]) -> Option<Self> {
        let i = &mut input;
        Some(UserRow {
            user: get_str(i)?,
            hits: get_varint(i)?,
            pages: get_varint(i)?,
            sessions: get_varint(i)?,
            first_seen: get_str(i)?,
            last_seen: get_str(i)?,
            top_page: get_str(i)?,
        })
    }

    fn weight(&self) -> usize {
        std::mem::size_of::<UserRow>()
            + self.user.len()
            + self.first_seen.len()
            + self.last_seen.len()
            + self.top_page.len()
    }

    fn order(a: &Self, b: &Self) -> Ordering {
        b.hits.cmp(&a.hits).then_with(|| a.user.cmp(&b.user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_by_user_then_time_then_row() {
        // Users 0-4 over 5,000 rows, times with many ties, in a scrambled order.
        let user: Vec<u32> = (0..5000u32).map(|i| (i * 7919) % 5).collect();
        let ts: Vec<i64> = (0..5000i64).map(|i| (i * 104_729) % 50).collect();
        let keys: Vec<u64> = user.iter().map(|&u| u64::from(u)).collect();
        let want = super::super::sessions::order(&keys, &ts, &vec![0; 5000]);
        assert_eq!(by_user_and_time(&user, &ts, 5), want);
        assert!(by_user_and_time(&[], &[], 0).is_empty());
        // As many users as a fifth of the rows: counted in one part.
        let user: Vec<u32> = (0..5000u32).map(|i| (i * 7919) % 1000).collect();
        let keys: Vec<u64> = user.iter().map(|&u| u64::from(u)).collect();
        let want = super::super::sessions::order(&keys, &ts, &vec![0; 5000]);
        assert_eq!(by_user_and_time(&user, &ts, 1000), want);
    }
}
