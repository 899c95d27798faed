//! The marks of a kept bucket's page views without filters (sessions, first-of-value marks,
//! local days), worked out at its first count and reused by every later one: as they are
//! when nothing is filtered, and under filters for each visitor whose counted page views are
//! the first of theirs, none missing (a whole visitor, or one whose later page views the
//! filters drop): a page view is the first of its value among those exactly when it is among
//! all of the visitor's.
//!
//! Only for buckets laid out in visitor order (the dashboard's cache): there the page views
//! are in ascending row order, each visitor's a contiguous stretch; the filters' walk gives
//! each counted row its place among all of them ([`super::select::Views::Placed`]), whole
//! kept sessions are ranges of places, and "the first of a visitor's page views, none
//! missing" is found by comparing places.

use super::visits::SESSION_FIRST;
use super::visits::{Marks, ANON_BOUNCE, ANON_START, ENTRY, EXIT, SAME_AGENT, SAME_HOST};
use crate::period::Period;
use crate::transform::hits::Hits;
use rayon::prelude::*;

/// A kept bucket's unfiltered marks: 4 bytes a page view.
pub struct Base {
    period: Period,
    /// Per page view: its [`Marks::bits`].
    bits: Vec<u16>,
    /// Per page view: its local day in `period`.
    day: Vec<u16>,
    visitors: u64,
    anon_sessions: u64,
    anon_bounces: u64,
}

impl Base {
    /// Keeps the marks and local days of every page view of a bucket (`visits::mark` with
    /// `Want::All`) worked out for `period`; `None` when its days do not fit 16 bits.
    pub fn new(period: &Period, marks: Marks, day: &[u32]) -> Option<Base> {
        if period.days() > usize::from(u16::MAX) + 1 {
            return None;
        }
        Some(Base {
            period: period.clone(),
            bits: marks.bits,
            day: day.par_iter().map(|&d| d as u16).collect(),
            visitors: marks.visitors,
            anon_sessions: marks.anon_sessions,
            anon_bounces: marks.anon_bounces,
        })
    }

    /// Whether these are the marks of `period` (its days and zone).
    pub fn is_for(&self, period: &Period) -> bool {
        self.period == *period
    }

    /// The marks and local days of every page view.
    pub fn marks(&self) -> (Marks, Vec<u32>) {
        let marks = Marks {
            bits: self.bits.clone(),
            visitors: self.visitors,
            anon_sessions: self.anon_sessions,
            anon_bounces: self.anon_bounces,
        };
        (marks, self.day.par_iter().map(|&d| u32::from(d)).collect())
    }

    /// Every page view's marks.
    pub fn bits(&self) -> &[u16] {
        &self.bits
    }

    /// The anonymous sessions and bounces inside whole sessions of the bucket, given as
    /// ranges of its page views (`[start, end)`; they lie inside sessions, so a whole session
    /// keeps them whole).
    pub fn anon_in(&self, spans: &[[u32; 2]]) -> (u64, u64) {
        spans
            .par_iter()
            .with_min_len(1024)
            .map(|&[a, b]| {
                // Both counted in one pass (a span is a session: a few page views).
                let bits = &self.bits[a as usize..b as usize];
                bits.iter().fold((0, 0), |(starts, bounces), &x| {
                    (
                        starts + u64::from(x & ANON_START != 0),
                        bounces + u64::from(x & ANON_BOUNCE != 0),
                    )
                })
            })
            .reduce(|| (0, 0), |x, y| (x.0 + y.0, x.1 + y.1))
    }
}

/// The counted page views of a filtered count, placed among all of the bucket's.
pub struct Reuse<'a> {
    base: &'a Base,
    /// All of the bucket's page views (rows in ascending order).
    all: &'a [u32],
    /// For each counted page view, its index in `all`.
    at: Vec<u32>,
}

impl<'a> Reuse<'a> {
    /// The counted page views of a filtered count, at `at` among `all`, the bucket's page
    /// views (ascending rows) whose marks `base` holds.
    pub fn at(base: &'a Base, all: &'a [u32], at: Vec<u32>) -> Reuse<'a> {
        Reuse { base, all, at }
    }

    /// The local day of each counted page view.
    pub fn days(&self) -> Vec<u32> {
        self.at
            .par_iter()
            .map(|&j| u32::from(self.base.day[j as usize]))
            .collect()
    }

    /// Adds to `bits` (the counted page views' marks) the [`ENTRY`] and [`EXIT`] marks of
    /// their whole sessions, and [`SESSION_FIRST`] where `session_first` says so.
    pub fn add_ends(&self, bits: &mut [u16], session_first: &[bool]) {
        bits.par_iter_mut()
            .zip(self.at.par_iter().zip(session_first.par_iter()))
            .for_each(|(b, (&j, &sf))| {
                *b |= self.base.bits[j as usize] & (ENTRY | EXIT)
                    | if sf { SESSION_FIRST } else { 0 };
            });
    }

    /// The [`SAME_AGENT`] and [`SAME_HOST`] bits of the visitor of counted page view `a`.
    pub fn same(&self, a: usize) -> u16 {
        self.base.bits[self.at[a] as usize] & (SAME_AGENT | SAME_HOST)
    }

    /// When the counted page views `a..b` (one visitor's, in order) are the first of that
    /// visitor's page views, every one of them up to the last counted (a whole visitor, or
    /// one whose later page views the filters drop): their kept [`Marks::bits`], whose
    /// first-of-value bits are theirs counted so, since no earlier page view is missing.
    pub fn visitor_prefix(&self, hits: &Hits, a: usize, b: usize) -> Option<&[u16]> {
        let (first, last) = (self.at[a] as usize, self.at[b - 1] as usize);
        // Ascending and as many as the stretch they span: every page view between them.
        if last - first != b - 1 - a {
            return None;
        }
        let starts = first == 0
            || hits.vis[self.all[first - 1] as usize] != hits.vis[self.all[first] as usize];
        starts.then(|| &self.base.bits[first..=last])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index in `all` (ascending rows) of each of `rows` (some of them, ascending).
    fn places(all: &[u32], rows: &[u32]) -> Vec<u32> {
        const CHUNK: usize = 1 << 15;
        let mut at = vec![0u32; rows.len()];
        at.par_chunks_mut(CHUNK)
            .zip(rows.par_chunks(CHUNK))
            .for_each(|(out, rows)| {
                let mut j = all.partition_point(|&x| x < rows[0]);
                for (o, &r) in out.iter_mut().zip(rows) {
                    while all[j] < r {
                        j += 1;
                    }
                    assert_eq!(all[j], r, "a page view placed is one of the bucket's");
                    *o = j as u32;
                }
            });
        at
    }

    /// [`Reuse::at`], the places searched.
    fn placed<'a>(base: &'a Base, all: &'a [u32], counted: &[u32]) -> Reuse<'a> {
        Reuse::at(base, all, places(all, counted))
    }

    fn marks(rows: usize, visitors: u64) -> Marks {
        Marks {
            bits: (0..rows as u16).map(|i| i.wrapping_mul(2_654)).collect(),
            visitors,
            anon_sessions: 7,
            anon_bounces: 2,
        }
    }

    #[test]
    fn keeps_every_mark() {
        let period = Period::new(20_758, 20_787, chrono_tz::UTC).unwrap();
        let m = marks(50, 9);
        let day: Vec<u32> = (0..50).map(|i| i % 30).collect();
        let base = Base::new(&period, marks(50, 9), &day).unwrap();
        let (back, days) = base.marks();
        assert_eq!(back.bits, m.bits);
        assert_eq!(
            (back.visitors, back.anon_sessions, back.anon_bounces),
            (9, 7, 2)
        );
        assert_eq!(days, day);
        assert!(base.is_for(&period));
        assert!(!base.is_for(&Period::new(20_758, 20_786, chrono_tz::UTC).unwrap()));
    }

    #[test]
    fn only_a_visitors_first_page_views_reuse_its_marks() {
        let period = Period::day(20_758, chrono_tz::UTC);
        // Rows 0..8; page views at rows 0,1,2 (visitor 1), 4,5 (visitor 2), 6,7 (visitor 3);
        // row 3 is an event of visitor 1.
        let hits = Hits {
            vis: vec![1, 1, 1, 1, 2, 2, 3, 3],
            ..Hits::default()
        };
        let all = [0u32, 1, 2, 4, 5, 6, 7];
        let base = Base::new(&period, marks(all.len(), 3), &[0; 7]).unwrap();
        // Visitor 1 whole, visitor 2 without its first page view, visitor 3 whole.
        let counted = [0u32, 1, 2, 5, 6, 7];
        let reuse = placed(&base, &all, &counted);
        assert_eq!(reuse.at, [0, 1, 2, 4, 5, 6]);
        assert_eq!(reuse.visitor_prefix(&hits, 0, 3), Some(&base.bits[0..3]));
        assert_eq!(reuse.visitor_prefix(&hits, 3, 4), None);
        assert_eq!(reuse.visitor_prefix(&hits, 4, 6), Some(&base.bits[5..7]));
        // A visitor's first two of three page views: the first two.
        let reuse = placed(&base, &all, &[0, 1]);
        assert_eq!(reuse.visitor_prefix(&hits, 0, 2), Some(&base.bits[0..2]));
        // Its first and last, one missing between them: not a prefix.
        let reuse = placed(&base, &all, &[0, 2]);
        assert_eq!(reuse.visitor_prefix(&hits, 0, 2), None);
        // Its last two: not a prefix either.
        let reuse = placed(&base, &all, &[1, 2]);
        assert_eq!(reuse.visitor_prefix(&hits, 0, 2), None);
    }
}
