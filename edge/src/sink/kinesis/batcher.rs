//! Hits from concurrent requests in one isolate share `PutRecords` calls.
//!
//! One call per page view made the worker spend most of its time on signing and subrequests
//! (`cargo xtask bench edge`). The first hit into an empty batch schedules a flush after a short
//! linger, inside its own request's `wait_until` (which keeps the isolate alive until the flush
//! is done); hits arriving meanwhile ride along. A full batch (by count or by the bytes of its
//! `PutRecords` body) is flushed at once, so one flush is one call and fits its time budget.

use super::record::{encoded_len, Entry, MAX_CALL_BYTES, MAX_RECORDS_PER_CALL};
use std::time::Duration;

/// How long the first hit of a batch waits for company. Short against the pipeline's seconds
/// of latency, long against the milliseconds between requests under load.
pub const LINGER: Duration = Duration::from_millis(50);

/// What the caller must do after [`Batcher::push`].
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Schedule a flush after [`LINGER`] (in this request's `wait_until`), then [`Batcher::take`].
    ScheduleFlush,
    /// Nothing: an already scheduled flush will carry this entry.
    Buffered,
    /// Send these now: the batch reached the per-call limit.
    FlushNow(Vec<Entry>),
}

/// Entries waiting for the next `PutRecords` call.
#[derive(Debug)]
pub struct Batcher {
    pending: Vec<Entry>,
    /// Encoded bytes of `pending` ([`encoded_len`]).
    bytes: usize,
    flush_scheduled: bool,
    max: usize,
    max_bytes: usize,
}

/// Room left in a call's body for the stream name and the JSON around the records.
const BODY_MARGIN: usize = 4096;

impl Default for Batcher {
    fn default() -> Self {
        Batcher::new(MAX_RECORDS_PER_CALL, MAX_CALL_BYTES - BODY_MARGIN)
    }
}

impl Batcher {
    /// A batcher that flushes at `max` entries or `max_bytes` of encoded records.
    pub const fn new(max: usize, max_bytes: usize) -> Batcher {
        Batcher {
            pending: Vec::new(),
            bytes: 0,
            flush_scheduled: false,
            max,
            max_bytes,
        }
    }

    /// Adds an entry and says what to do next.
    pub fn push(&mut self, entry: Entry) -> Next {
        let n = encoded_len(&entry);
        if !self.pending.is_empty() && self.bytes + n > self.max_bytes {
            // This entry would take the call over the byte limit: what waits goes now, and the
            // entry starts the next batch, which the flush already scheduled will carry (a
            // non-empty batch always has one scheduled).
            let full = std::mem::replace(&mut self.pending, vec![entry]);
            self.bytes = n;
            return Next::FlushNow(full);
        }
        self.pending.push(entry);
        self.bytes += n;
        if self.pending.len() >= self.max {
            self.bytes = 0;
            // A scheduled flush stays scheduled and takes whatever arrives after this.
            return Next::FlushNow(std::mem::take(&mut self.pending));
        }
        if self.flush_scheduled {
            Next::Buffered
        } else {
            self.flush_scheduled = true;
            Next::ScheduleFlush
        }
    }

    /// Takes the pending entries for the scheduled flush; the next push schedules a new one.
    pub fn take(&mut self) -> Vec<Entry> {
        self.flush_scheduled = false;
        self.bytes = 0;
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(n: usize) -> Entry {
        Entry {
            data: n.to_string(),
            partition_key: format!("k{n}"),
        }
    }

    #[test]
    fn first_push_schedules_then_others_ride_along() {
        let mut b = Batcher::new(10, usize::MAX);
        assert_eq!(b.push(e(1)), Next::ScheduleFlush);
        assert_eq!(b.push(e(2)), Next::Buffered);
        assert_eq!(b.push(e(3)), Next::Buffered);
        assert_eq!(b.take(), vec![e(1), e(2), e(3)]);
        assert_eq!(b.take(), vec![]);
        assert_eq!(
            b.push(e(4)),
            Next::ScheduleFlush,
            "a new batch after the flush"
        );
    }

    #[test]
    fn a_full_batch_goes_at_once_and_nothing_is_lost() {
        let mut b = Batcher::new(3, usize::MAX);
        assert_eq!(b.push(e(1)), Next::ScheduleFlush);
        assert_eq!(b.push(e(2)), Next::Buffered);
        assert_eq!(b.push(e(3)), Next::FlushNow(vec![e(1), e(2), e(3)]));
        assert_eq!(
            b.push(e(4)),
            Next::Buffered,
            "the scheduled flush is still coming"
        );
        assert_eq!(b.take(), vec![e(4)]);
    }

    #[test]
    fn a_batch_full_by_bytes_goes_at_once_and_the_new_entry_waits_for_the_scheduled_flush() {
        let big = |n: usize| Entry {
            data: "x".repeat(3000),
            partition_key: format!("k{n}"),
        };
        let per_entry = encoded_len(&big(1));
        let mut b = Batcher::new(500, per_entry * 2);
        assert_eq!(b.push(big(1)), Next::ScheduleFlush);
        assert_eq!(b.push(big(2)), Next::Buffered);
        assert_eq!(
            b.push(big(3)),
            Next::FlushNow(vec![big(1), big(2)]),
            "a third would be over the byte cap"
        );
        assert_eq!(b.take(), vec![big(3)]);
        assert_eq!(b.push(big(4)), Next::ScheduleFlush);
    }

    #[test]
    fn the_default_batch_stays_under_the_call_limit() {
        let mut b = Batcher::default();
        let long = Entry {
            data: "%22".repeat(4000),
            partition_key: "0123456789abcdef".into(),
        };
        let mut flushed = None;
        for _ in 0..500 {
            if let Next::FlushNow(batch) = b.push(long.clone()) {
                flushed = Some(batch);
                break;
            }
        }
        let batch = flushed.expect("flushed by bytes before 500 entries");
        assert!(batch.len() < 500);
        let body = super::super::record::put_records_body("a-long-stream-name", &batch);
        assert!(body.len() <= MAX_CALL_BYTES, "{}", body.len());
    }

    #[test]
    fn batch_of_one_flushes_immediately() {
        let mut b = Batcher::new(1, usize::MAX);
        assert_eq!(b.push(e(1)), Next::FlushNow(vec![e(1)]));
        assert_eq!(b.push(e(2)), Next::FlushNow(vec![e(2)]));
    }
}
