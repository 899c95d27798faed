//! The page report: per bucket, each path's page views, distinct visitors, visitor-session
//! entries, exits and bounces and error statuses, counted by the bucket's path codes and added
//! by name into a [`Keyed`] table (which spills past its share of the budget); distinct users
//! come from the user report; at the end one row per path, joined with the period before.

use super::model::{ratio, PageRow, Rows};
use super::spill::{get_str_ref, get_varint, joined, put_str, put_varint, Keyed, Merged, Row};
use super::spill::{Sorter, Spill};
use super::visits::{first, Marks, ENTRY, EXIT, F_PATH};
use crate::transform::hits::Hits;
use crate::transform::intern::Dict;
use anyhow::Result;
use std::cmp::Ordering;

/// Counter slots of a path: hits, visitors, entries, exits, bounces, 4xx, 5xx, users.
pub const SLOTS: usize = 8;
const HITS: usize = 0;
const USERS: usize = 7;

/// The period's pages, by path.
pub struct Pages {
    table: Keyed<SLOTS>,
    /// Page views counted, for the shares.
    pub total: u64,
}

impl Pages {
    /// No pages yet; the table holds `limit` bytes before it spills.
    pub fn new(limit: usize, spill: &Spill) -> Pages {
        Pages {
            table: Keyed::new("pages", limit, spill),
            total: 0,
        }
    }

    /// Counts a bucket's page views `pv` (rows of `hits`, marked by `marks`); `paths` names
    /// the bucket's path codes.
    pub fn add(&mut self, hits: &Hits, pv: &[u32], marks: &Marks, paths: &Dict) -> Result<()> {
        // The bucket's codes are dense: one counter row per code, of 32 bits (a bucket's rows
        // are counted in `u32`): half the memory to clear and to jump about in.
        let mut counts = vec![[0u32; SLOTS - 1]; paths.code_space()];
        for (i, &r) in pv.iter().enumerate() {
            let r = r as usize;
            let c = &mut counts[hits.path[r] as usize];
            let (entry, exit) = (marks.has(i, ENTRY), marks.has(i, EXIT));
            let status = hits.status[r];
            c[0] += 1;
            c[1] += u32::from(marks.has(i, first(F_PATH)));
            c[2] += u32::from(entry);
            c[3] += u32::from(exit);
            c[4] += u32::from(entry && exit);
            c[5] += u32::from((400..=499).contains(&status));
            c[6] += u32::from((500..=599).contains(&status));
        }
        self.total += pv.len() as u64;
        for (code, c) in counts.iter().enumerate() {
            if c[HITS] > 0 {
                let mut v = [0u64; SLOTS];
                for (v, &c) in v.iter_mut().zip(c) {
                    *v = u64::from(c);
                }
                self.table.add(paths.name(code as u32), v)?;
            }
        }
        Ok(())
    }

    /// Adds `users` distinct signed-in users of `path`.
    pub fn add_users(&mut self, path: &str, users: u64) -> Result<()> {
        let mut v = [0u64; SLOTS];
        v[USERS] = users;
        self.table.add(path, v)
    }

    /// Done counting.
    pub fn finish(self) -> Result<(Merged<SLOTS>, u64)> {
        Ok((self.table.finish()?, self.total))
    }
}

/// The page list: a row per path of `current` (of `total` page views) with its page views in
/// `previous` when compared, sorted by hits then path, showing the first `shown`.
pub fn rows(
    current: Merged<SLOTS>,
    total: u64,
    previous: Option<Merged<SLOTS>>,
    shown: Option<usize>,
    limit: usize,
    spill: &Spill,
) -> Result<Rows<PageRow>> {
    let compared = previous.is_some();
    let sorters = Sorter::per_worker("page-rows", limit, spill, super::spill::workers());
    let sorters = joined(current, previous, sorters, |sorter, now, before| {
        for (path, v) in now {
            // A path counted only through the user report's slot has no page view here.
            if v[HITS] == 0 {
                continue;
            }
            let previous_hits = compared.then(|| before.get(&path).map_or(0, |b| b[HITS]));
            sorter.push(PageRow {
                path: path.into_string(),
                hits: v[0],
                users: v[USERS],
                visitors: v[1],
                share: ratio(v[0], total),
                entries: v[2],
                exits: v[3],
                bounces: v[4],
                errors_4xx: v[5],
                errors_5xx: v[6],
                previous_hits,
            })?;
        }
        Ok(())
    })?;
    Sorter::combine(sorters)?.finish(shown)
}

impl Row for PageRow {
    fn encode(&self, out: &mut Vec<u8>) {
        put_str(out, &self.path);
        for n in [
            self.hits,
            self.users,
            self.visitors,
            self.entries,
            self.exits,
            self.bounces,
            self.errors_4xx,
            self.errors_5xx,
        ] {
            put_varint(out, n);
        }
        out.extend_from_slice(&self.share.to_bits().to_le_bytes());
        match self.previous_hits {
            None => out.push(0),
            Some(n) => {
                out.push(1);
                put_varint(out, n);
            }
        }
    }

    fn decode(input: &[u8]) -> Option<Self> {
        let mut row = PageRow::default();
        Self::decode_into(input, &mut row).then_some(row)
    }

    fn decode_into(mut input: &[u8], row: &mut Self) -> bool {
        let mut read = || -> Option<()> {
            let i = &mut input;
            let path = get_str_ref(i)?;
            let mut n = [0u64; 8];
            for x in n.iter_mut() {
                *x = get_varint(i)?;
            }
            let (bits, rest) = i.split_first_chunk::<8>()?;
            let share = f64::from_bits(u64::from_le_bytes(*bits));
            let (&flag, mut rest) = rest.split_first()?;
            let previous_hits = match flag {
                0 => None,
                _ => Some(get_varint(&mut rest)?),
            };
            row.path.clear();
            row.path.push_str(path);
            [
                row.hits,
                row.users,
                row.visitors,
                row.entries,
                row.exits,
                row.bounces,
                row.errors_4xx,
                row.errors_5xx,
            ] = n;
            row.share = share;
            row.previous_hits = previous_hits;
            Some(())
        };
        read().is_some()
    }

    fn weight(&self) -> usize {
        std::mem::size_of::<PageRow>() + self.path.len()
    }

    fn order(a: &Self, b: &Self) -> Ordering {
        b.hits.cmp(&a.hits).then_with(|| a.path.cmp(&b.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_row_reads_back_into_a_used_row() {
        let row = PageRow {
            path: "/é?q=1".into(),
            hits: 300,
            users: 2,
            visitors: 7,
            share: 0.25,
            entries: 5,
            exits: 4,
            bounces: 3,
            errors_4xx: 1,
            errors_5xx: u64::MAX,
            previous_hits: Some(0),
        };
        let mut bytes = Vec::new();
        row.encode(&mut bytes);
        assert_eq!(PageRow::decode(&bytes).as_ref(), Some(&row));
        let mut used = PageRow {
            path: "/a/much/longer/path/than/the/row/read".into(),
            previous_hits: None,
            ..row.clone()
        };
        assert!(PageRow::decode_into(&bytes, &mut used));
        assert_eq!(used, row);
        // Cut short: an error, and the row is left as it was.
        assert!(!PageRow::decode_into(&bytes[..bytes.len() - 1], &mut used));
        assert_eq!(used, row);
    }
}
