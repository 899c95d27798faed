//! Custom events (every `event` other than `pageview`): per bucket, each event's hits and
//! distinct visitors; at the end the list with each event's conversion rate.

use super::dimensions::Counts;
use super::model::{ratio, EventRow};
use super::sessions::{first_of_value, runs, Seen};
use super::sort_top;
use crate::transform::hits::Hits;
use crate::transform::intern::Dict;

/// Each custom event's hits and distinct visitors, by event code, over the buckets so far.
#[derive(Default)]
pub struct Events {
    counts: Counts,
    /// Custom events counted.
    pub total: u64,
}

impl Events {
    /// Counts a bucket's custom events `ev` (rows of `hits` in visitor order) by event. A
    /// visitor lies in one bucket, so a visitor first seen with an event here is new to the
    /// whole period.
    pub fn add(&mut self, hits: &Hits, ev: &[u32]) {
        self.total += ev.len() as u64;
        if ev.is_empty() {
            return;
        }
        let mut first = vec![false; ev.len()];
        let mut seen = Seen::default();
        let bounds = runs(ev, |r| hits.vis[r as usize]);
        for w in bounds.windows(2) {
            let (a, b) = (w[0], w[1]);
            first_of_value(
                |i| hits.event[ev[a + i] as usize],
                b - a,
                |i| first[a + i] = true,
                &mut seen,
            );
        }
        for (&r, &first) in ev.iter().zip(&first) {
            self.counts.add(hits.event[r as usize], first);
        }
    }

    /// The list, sorted by hits then name and cut to `top`; conversion rates of `visitors`.
    pub fn rows(self, names: &Dict, visitors: u64, top: Option<usize>) -> Vec<EventRow> {
        let mut events = self.counts.named(names);
        sort_top(&mut events, |r| r.1, |r| &r.0, top);
        events
            .into_iter()
            .map(|(event, hits, v)| EventRow {
                event,
                hits,
                visitors: v,
                conversion_rate: ratio(v, visitors),
            })
            .collect()
    }
}
