//! Hits from concurrent requests in one isolate share `PutRecords` calls.
//!
//! One call per page view made the worker spend most of its time on signing and subrequests
//! (`cargo xtask bench edge`). The first hit into an empty batch schedules a flush after a short
//! linger, inside its own request's `wait_until` (which keeps the isolate alive until the flush
//! is done); hits arriving meanwhile ride along. A full batch is flushed at once.

use super::record::{Entry, MAX_RECORDS_PER_CALL};
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
    flush_scheduled: bool,
    max: usize,
}

impl Default for Batcher {
    fn default() -> Self {
        Batcher::new(MAX_RECORDS_PER_CALL)
    }
}

impl Batcher {
    /// A batcher that flushes at `max` entries.
    pub const fn new(max: usize) -> Batcher {
        Batcher {
            pending: Vec::new(),
            flush_scheduled: false,
            max,
        }
    }

    /// Adds an entry and says what to do next.
    pub fn push(&mut self, entry: Entry) -> Next {
        self.pending.push(entry);
        if self.pending.len() >= self.max {
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
        let mut b = Batcher::new(10);
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
        let mut b = Batcher::new(3);
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
    fn batch_of_one_flushes_immediately() {
        let mut b = Batcher::new(1);
        assert_eq!(b.push(e(1)), Next::FlushNow(vec![e(1)]));
        assert_eq!(b.push(e(2)), Next::FlushNow(vec![e(2)]));
    }
}
