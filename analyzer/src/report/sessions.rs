//! Ordering hits for sessions: by (visitor or user, time, event id), dropping repeated rows,
//! and marking where runs of one key and sessions begin and end.

use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::binary_heap::{BinaryHeap, PeekMut};

/// Inactivity that ends a session, in milliseconds: a gap of more than 30 minutes (30:00.001
/// or longer) starts a new one.
pub const SESSION_GAP_MS: i64 = 30 * 60 * 1000;

/// Whether a hit at `ts` starts a new session after its visitor's (or user's) page view at
/// `prev`: the one rule every part of the report and the live view cuts sessions by.
#[inline]
pub fn gap_ends_session(prev: i64, ts: i64) -> bool {
    ts - prev > SESSION_GAP_MS
}

/// Row indices sorted by `(key, ts, eid, row)`. Rows that lie in a few stretches already in
/// `(key, ts)` order (a bucket of compacted days: each day's file is sorted by visitor and
/// time) are merged; others are sorted as 24-byte `(key, ts, row)` values (comparing through
/// indices would miss the cache on every comparison). Then the rare runs of equal `(key, ts)`
/// are put in `eid` order (a row past `eid`'s end sorts as id 0).
pub fn order(keys: &[u64], ts: &[i64], eid: &[u128]) -> Vec<u32> {
    if keys.is_empty() {
        return Vec::new();
    }
    let at = |r: usize| (keys[r], ts[r]);
    // Where a row sorts before the row before it: each begins a sorted stretch.
    let mut starts: Vec<usize> = vec![0];
    starts.extend(
        (1..keys.len())
            .into_par_iter()
            .filter(|&r| at(r) < at(r - 1))
            .collect::<Vec<usize>>(),
    );
    starts.push(keys.len());
    let (mut out, ties) = if starts.len() - 1 <= MERGED {
        merged(keys, ts, &starts)
    } else {
        let mut packed: Vec<(u64, i64, u32)> = keys
            .par_iter()
            .zip(ts.par_iter())
            .enumerate()
            .map(|(r, (&k, &t))| (k, t, r as u32))
            .collect();
        packed.par_sort_unstable();
        let ties = equal_runs(packed.len(), |i| (packed[i].0, packed[i].1));
        (packed.par_iter().map(|&(_, _, r)| r).collect(), ties)
    };
    // Same key and millisecond: by event id, then by row (the first read first). Rows past
    // `eid` have none: rows of one compacted file, already in id order (the reader made sure
    // that no such tie mixes sources).
    for (a, b) in ties {
        out[a..b].sort_unstable_by_key(|&r| (eid.get(r as usize).copied().unwrap_or(0), r));
    }
    out
}

/// Sorted stretches [`order`] merges at most; rows in more are sorted instead.
const MERGED: usize = 1024;

/// The ranges of two or more equal values among the `n` values `at(i)`, in order.
fn equal_runs(n: usize, at: impl Fn(usize) -> (u64, i64)) -> Vec<(usize, usize)> {
    let mut ties = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        if i == n || at(i) != at(start) {
            if i - start > 1 {
                ties.push((start, i));
            }
            start = i;
        }
    }
    ties
}

/// The rows of the sorted stretches `starts[i]..starts[i + 1]` merged in `(key, ts, row)`
/// order, and the ranges of equal `(key, ts)` in it. Merged in parts side by side: each part
/// holds the rows between two keys taken from the longest stretch, found in every stretch
/// by a binary search.
fn merged(keys: &[u64], ts: &[i64], starts: &[usize]) -> (Vec<u32>, Vec<(usize, usize)>) {
    let at = |r: usize| (keys[r], ts[r]);
    let stretches: Vec<(usize, usize)> = starts.windows(2).map(|w| (w[0], w[1])).collect();
    let Some(&(lo, hi)) = stretches.iter().max_by_key(|(a, b)| b - a) else {
        return (Vec::new(), Vec::new());
    };
    let parts = 8 * rayon::current_num_threads();
    // The keys that split the parts; a row goes to the part of the last split at or below
    // it, so equal keys stay in one part.
    let mut splits: Vec<(u64, i64)> = (1..parts).map(|p| at(lo + (hi - lo) * p / parts)).collect();
    splits.dedup();
    // Where each part's rows begin and end in each stretch.
    let cuts: Vec<Vec<usize>> = stretches
        .iter()
        .map(|&(a, b)| {
            let mut c = vec![a];
            c.extend(splits.iter().map(|s| {
                // The first row of a..b at or above the split.
                let (mut lo, mut hi) = (a, b);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if at(mid) < *s {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                lo
            }));
            c.push(b);
            c
        })
        .collect();
    let mut out = vec![0u32; keys.len()];
    let mut rest: &mut [u32] = &mut out;
    let mut work = Vec::with_capacity(splits.len() + 1);
    let mut offset = 0;
    for p in 0..=splits.len() {
        let ranges: Vec<(usize, usize)> = cuts.iter().map(|c| (c[p], c[p + 1])).collect();
        let len = ranges.iter().map(|(a, b)| b - a).sum();
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
        work.push((offset, ranges, head));
        offset += len;
        rest = tail;
    }
    let ties: Vec<Vec<(usize, usize)>> = work
        .into_par_iter()
        .map(|(offset, ranges, dest)| {
            // The smallest head first; of equal heads, the earlier stretch (earlier rows).
            let mut heap: BinaryHeap<Reverse<(u64, i64, usize)>> = ranges
                .iter()
                .enumerate()
                .filter(|(_, (a, b))| a < b)
                .map(|(i, &(a, _))| Reverse((keys[a], ts[a], i)))
                .collect();
            let mut next: Vec<usize> = ranges.iter().map(|&(a, _)| a).collect();
            let mut ties = Vec::new();
            let (mut w, mut run, mut last) = (0, 0, None);
            while let Some(mut top) = heap.peek_mut() {
                let (k, t, i) = top.0;
                if last != Some((k, t)) {
                    if w - run > 1 {
                        ties.push((offset + run, offset + w));
                    }
                    (run, last) = (w, Some((k, t)));
                }
                dest[w] = next[i] as u32;
                w += 1;
                next[i] += 1;
                if next[i] < ranges[i].1 {
                    top.0 = (keys[next[i]], ts[next[i]], i);
                } else {
                    PeekMut::pop(top);
                }
            }
            if w - run > 1 {
                ties.push((offset + run, offset + w));
            }
            ties
        })
        .collect();
    (out, ties.into_iter().flatten().collect())
}

/// Where each run of equal keys starts in `sorted` (rows in key order), plus the end; found
/// a stretch at a time, side by side (a row begins a run when its key is not that of the row
/// before, wherever the stretch begins).
pub fn runs(sorted: &[u32], key: impl Fn(u32) -> u64 + Sync) -> Vec<usize> {
    const STRETCH: usize = 1 << 16;
    let parts: Vec<Vec<usize>> = sorted
        .par_chunks(STRETCH)
        .enumerate()
        .map(|(c, stretch)| {
            let base = c * STRETCH;
            let mut prev = base.checked_sub(1).map(|i| key(sorted[i]));
            let mut out = Vec::new();
            for (i, &r) in stretch.iter().enumerate() {
                let k = key(r);
                if prev != Some(k) {
                    out.push(base + i);
                    prev = Some(k);
                }
            }
            out
        })
        .collect();
    let mut bounds = Vec::with_capacity(parts.iter().map(Vec::len).sum::<usize>() + 1);
    for part in parts {
        bounds.extend_from_slice(&part);
    }
    bounds.push(sorted.len());
    bounds
}

/// Session flags of the rows of one run (one key, in time order): `entry` for a session's
/// first row, `exit` for its last.
pub fn session_flags(ts: impl Fn(usize) -> i64, len: usize, entry: &mut [bool], exit: &mut [bool]) {
    for (i, e) in entry.iter_mut().enumerate().take(len) {
        *e = i == 0 || gap_ends_session(ts(i - 1), ts(i));
    }
    for (i, x) in exit.iter_mut().enumerate().take(len) {
        *x = i + 1 == len || entry[i + 1];
    }
}

/// Which values a run has seen: each value is stamped with the number of the run that saw it
/// last, so that a new run starts without clearing anything (one write and one compare per
/// row, where a hash set would hash every row and be cleared for every run).
#[derive(Default)]
pub struct Seen {
    stamp: Vec<u32>,
    none: u32,
    run: u32,
}

impl Seen {
    /// Starts a new run: every value is unseen again.
    pub fn next_run(&mut self) {
        self.run = self.run.wrapping_add(1);
        if self.run == 0 {
            // Four billion runs later: forget every stamp once.
            self.stamp.fill(0);
            self.none = 0;
            self.run = 1;
        }
    }

    /// Whether `v` is new to this run (and now seen).
    pub fn first(&mut self, v: u32) -> bool {
        if v == crate::transform::intern::NONE {
            return std::mem::replace(&mut self.none, self.run) != self.run;
        }
        let i = v as usize;
        if i >= self.stamp.len() {
            self.stamp.resize((i + 1).next_power_of_two(), 0);
        }
        std::mem::replace(&mut self.stamp[i], self.run) != self.run
    }
}

/// Calls `mark(i)` for the first row `i` of each distinct value of `value` within one run of
/// `len` rows (for counting distinct visitors or users per value: summing the marks over all
/// runs). `seen` is the caller's, reused from run to run.
pub fn first_of_value(
    value: impl Fn(usize) -> u32,
    len: usize,
    mut mark: impl FnMut(usize),
    seen: &mut Seen,
) {
    // A value equal to the row before it is not new (most rows of a visitor: its agent, host,
    // day and session's source repeat), which needs no look back nor table.
    if len <= 32 {
        // Short runs (most visitors): compared in place, no table touched.
        let mut prev = None;
        for i in 0..len {
            let v = value(i);
            if prev != Some(v) && (0..i).all(|j| value(j) != v) {
                mark(i);
            }
            prev = Some(v);
        }
        return;
    }
    seen.next_run();
    let mut prev = None;
    for i in 0..len {
        let v = value(i);
        if prev != Some(v) && seen.first(v) {
            mark(i);
        }
        prev = Some(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_breaks_ties_by_event_id_then_row() {
        let keys = [2, 1, 1, 1, 1];
        let ts = [0, 50, 10, 10, 10];
        let eid = [0, 0, 9, 3, 3];
        assert_eq!(order(&keys, &ts, &eid), [3, 4, 2, 1, 0]);
        assert_eq!(runs(&[3, 4, 2, 1, 0], |r| keys[r as usize]), [0, 4, 5]);
        // Rows without ids (past the column's end) keep their order among themselves.
        assert_eq!(order(&keys, &ts, &eid[..2]), [2, 3, 4, 1, 0]);
    }

    #[test]
    fn order_merges_sorted_stretches_as_it_sorts_rows_in_none() {
        // The order by definition: (key, ts, eid, row).
        let by_definition = |keys: &[u64], ts: &[i64], eid: &[u128]| {
            let mut rows: Vec<u32> = (0..keys.len() as u32).collect();
            rows.sort_by_key(|&r| (keys[r as usize], ts[r as usize], eid[r as usize], r));
            rows
        };
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        // Days of a bucket: stretches sorted by (key, ts) whose keys overlap, with equal
        // (key, ts) within and across stretches; then the same rows shuffled (too many
        // stretches to merge), one stretch, and a row alone.
        for (stretches, len) in [(30, 400), (3, 20_000), (1, 5000), (1, 1)] {
            let mut rows: Vec<(u64, i64, u128)> = Vec::new();
            for _ in 0..stretches {
                let mut day: Vec<(u64, i64, u128)> = (0..len)
                    .map(|_| (next(300), next(4) as i64, u128::from(next(3))))
                    .collect();
                day.sort_by_key(|&(k, t, _)| (k, t));
                rows.extend(day);
            }
            let keys: Vec<u64> = rows.iter().map(|r| r.0).collect();
            let ts: Vec<i64> = rows.iter().map(|r| r.1).collect();
            let eid: Vec<u128> = rows.iter().map(|r| r.2).collect();
            assert_eq!(order(&keys, &ts, &eid), by_definition(&keys, &ts, &eid));
            let mut shuffled = rows.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, next(i as u64 + 1) as usize);
            }
            let keys: Vec<u64> = shuffled.iter().map(|r| r.0).collect();
            let ts: Vec<i64> = shuffled.iter().map(|r| r.1).collect();
            let eid: Vec<u128> = shuffled.iter().map(|r| r.2).collect();
            assert_eq!(order(&keys, &ts, &eid), by_definition(&keys, &ts, &eid));
        }
        assert_eq!(order(&[], &[], &[]), Vec::<u32>::new());
    }

    #[test]
    fn runs_across_stretches_are_those_of_one_walk() {
        // Keys in runs of 1 to 7 rows over several stretches, one run across each seam.
        let keys: Vec<u64> = (0..300_000u64).map(|i| (i * 7 + i / 3) / 29).collect();
        let rows: Vec<u32> = (0..keys.len() as u32).collect();
        assert!((1..=4).all(|s| keys[s * 65_536 - 1] == keys[s * 65_536]));
        let mut want = vec![0];
        want.extend((1..keys.len()).filter(|&i| keys[i] != keys[i - 1]));
        want.push(keys.len());
        assert_eq!(runs(&rows, |r| keys[r as usize]), want);
        assert_eq!(runs(&[], u64::from), [0]);
    }

    #[test]
    fn sessions_split_after_thirty_minutes_and_a_millisecond() {
        let ts = [
            0,
            SESSION_GAP_MS,
            2 * SESSION_GAP_MS + 1,
            2 * SESSION_GAP_MS + 2,
        ];
        let (mut entry, mut exit) = ([false; 4], [false; 4]);
        session_flags(|i| ts[i], 4, &mut entry, &mut exit);
        assert_eq!(entry, [true, false, true, false]);
        assert_eq!(exit, [false, true, false, true]);
    }

    #[test]
    fn first_of_each_value_past_the_short_list() {
        let mut seen = Seen::default();
        // 100 rows over 20 values, each value first seen at row v: more than the list holds.
        let values: Vec<u32> = (0..100u32)
            .map(|i| if i < 20 { i } else { i % 20 })
            .collect();
        let mut out = [false; 100];
        first_of_value(|i| values[i], 100, |i| out[i] = true, &mut seen);
        for (i, &first) in out.iter().enumerate() {
            assert_eq!(first, i < 20, "row {i}");
        }
    }

    #[test]
    fn first_of_each_value_small_and_large_runs() {
        let mut seen = Seen::default();
        for len in [5usize, 100] {
            let values: Vec<u32> = (0..len as u32).map(|i| i % 3).collect();
            let mut out = vec![false; len];
            first_of_value(|i| values[i], len, |i| out[i] = true, &mut seen);
            assert_eq!(out.iter().filter(|&&b| b).count(), 3);
            assert!(out[0] && out[1] && out[2] && !out[3]);
        }
    }

    #[test]
    fn firsts_with_repeated_neighbours_are_those_of_a_set() {
        let mut seen = Seen::default();
        // Runs of 1..80 rows whose values repeat in stretches and come back later.
        let mut x = 7u64;
        for len in 1..80usize {
            let values: Vec<u32> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    ((x >> 60) % 5) as u32
                })
                .scan(0u32, |v, r| {
                    if r > 1 {
                        *v = r;
                    }
                    Some(*v)
                })
                .collect();
            let mut got = vec![false; len];
            first_of_value(|i| values[i], len, |i| got[i] = true, &mut seen);
            let mut set = std::collections::HashSet::new();
            let want: Vec<bool> = values.iter().map(|&v| set.insert(v)).collect();
            assert_eq!(got, want, "{values:?}");
        }
    }

    #[test]
    fn each_long_run_starts_unseen_and_none_is_a_value() {
        let mut seen = Seen::default();
        let none = crate::transform::intern::NONE;
        // Two long runs over the same values (and NONE): each marks its own firsts.
        let values: Vec<u32> = (0..40u32)
            .map(|i| if i % 10 == 9 { none } else { i % 10 })
            .collect();
        for _ in 0..2 {
            let mut out = [false; 40];
            first_of_value(|i| values[i], 40, |i| out[i] = true, &mut seen);
            let firsts: Vec<usize> = (0..40).filter(|&i| out[i]).collect();
            assert_eq!(firsts, (0..10).collect::<Vec<_>>());
        }
        // Past four billion runs the stamps start again, still right.
        seen.run = u32::MAX;
        let mut out = [false; 40];
        first_of_value(|i| values[i], 40, |i| out[i] = true, &mut seen);
        assert_eq!(out.iter().filter(|&&b| b).count(), 10);
        assert_eq!(seen.run, 1);
    }
}
