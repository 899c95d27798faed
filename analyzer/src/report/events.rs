//! Custom events (every `event` other than `pageview`): per bucket, each event's hits and
//! distinct visitors; at the end the list with each event's conversion rate.

use super::model::{ratio, EventRow};
use super::sessions::{first_of_value, runs, Seen};
use super::sort_top;
use crate::transform::hits::Hits;
use crate::transform::intern::{Dict, NONE};
use anyhow::Result;
use hashbrown::HashMap;

/// Each custom event's hits and distinct visitors, by event code, over the buckets so far.
#[derive(Default)]
pub struct Events {
    counts: HashMap<u32, (u64, u64), foldhash::fast::RandomState>,
    /// Custom events counted.
    pub total: u64,
}

impl Events {
    /// Counts a bucket's custom events `ev` (rows of `hits` in visitor order) by event. A
    /// visitor lies in one bucket, so a visitor first seen with an event here is new to the
    /// whole period.
    pub fn add(&mut self, hits: &Hits, ev: &[u32]) -> Result<()> {
        self.total += ev.len() as u64;
        if ev.is_empty() {
            return Ok(());
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
            let event = hits.event[r as usize];
            if event == NONE {
                continue;
            }
            let (hits, visitors) = self.counts.entry(event).or_default();
            *hits += 1;
            *visitors += u64::from(first);
        }
        Ok(())
    }

    /// The list, sorted by hits then name and cut to `top`; conversion rates of `visitors`.
    pub fn rows(self, names: &Dict, visitors: u64, top: Option<usize>) -> Result<Vec<EventRow>> {
        let mut events: Vec<(String, u64, u64)> = self
            .counts
            .into_iter()
            .map(|(code, (hits, v))| (names.name(code).to_string(), hits, v))
            .collect();
        sort_top(&mut events, |r| r.1, |r| &r.0, top);
        Ok(events
            .into_iter()
            .map(|(event, hits, v)| EventRow {
                event,
                hits,
                visitors: v,
                conversion_rate: ratio(v, visitors),
            })
            .collect())
    }
}
