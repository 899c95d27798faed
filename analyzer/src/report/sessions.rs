//! Ordering hits for sessions: by (visitor or user, time, event id), dropping repeated rows,
//! and marking where runs of one key and sessions begin and end.

use rayon::prelude::*;

/// Inactivity that ends a session, in milliseconds: a gap of more than 30 minutes (30:00.001
/// or longer) starts a new one.
pub const SESSION_GAP_MS: i64 = 30 * 60 * 1000;

/// Whether a hit at `ts` starts a new session after its visitor's (or user's) page view at
/// `prev`: the one rule every part of the report and the live view cuts sessions by.
#[inline]
pub fn gap_ends_session(prev: i64, ts: i64) -> bool {
    ts - prev > SESSION_GAP_MS
}

/// Row indices sorted by `(key, ts, eid, row)`. Sorting 24-byte `(key, ts, row)` values and
/// then fixing the rare runs of equal `(key, ts)` by `eid` keeps the sort's memory traffic low
/// (comparing through indices would miss the cache on every comparison).
pub fn order(keys: &[u64], ts: &[i64], eid: &[u128]) -> Vec<u32> {
    let mut packed: Vec<(u64, i64, u32)> = keys
        .par_iter()
        .zip(ts.par_iter())
        .enumerate()
        .map(|(r, (&k, &t))| (k, t, r as u32))
        .collect();
    if !packed.windows(2).all(|w| w[0] <= w[1]) {
        packed.par_sort_unstable();
    }
    let mut out: Vec<u32> = packed.iter().map(|&(_, _, r)| r).collect();
    // Same key and millisecond: by event id, then by row (the first read first).
    let mut start = 0;
    while start < packed.len() {
        let mut end = start + 1;
        while end < packed.len()
            && packed[end].0 == packed[start].0
            && packed[end].1 == packed[start].1
        {
            end += 1;
        }
        if end - start > 1 {
            out[start..end].sort_unstable_by_key(|&r| (eid[r as usize], r));
        }
        start = end;
    }
    out
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
