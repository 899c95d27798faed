//! The period's totals: page views, visitors, sessions, bots, events, repeats, page views per
//! local hour, per local day and per status class, and the summary they make.

use super::compute::{Options, Reading};
use super::model::{ratio, CountryCount, DayRow, ReferrerCount, StatusClasses, Summary};
use super::visits::{first, Marks, F_DAY};
use crate::period::Period;
use crate::transform::hits::Hits;
use rayon::prelude::*;

/// Counts of a period, added up bucket by bucket.
pub struct Tally {
    /// Page views per local clock hour.
    pub hourly: [u64; 24],
    /// Page views per local day of the period.
    pub daily_hits: Vec<u64>,
    /// Distinct visitors per local day.
    pub daily_visitors: Vec<u64>,
    /// Page views per status class 1xx..5xx.
    pub status: [u64; 5],
    /// Page views.
    pub hits: u64,
    /// Distinct visitors with a page view.
    pub visitors: u64,
    /// Sessions of anonymous page views.
    pub anon_sessions: u64,
    /// Those of one page view.
    pub anon_bounces: u64,
    /// Bot hits after dedup.
    pub bots: u64,
    /// Custom events.
    pub events: u64,
    /// Repeated rows dropped.
    pub duplicates: u64,
}

/// Hour, day and status counts of a chunk of page views.
struct Chunk {
    hourly: [u64; 24],
    daily_hits: Vec<u64>,
    daily_visitors: Vec<u64>,
    status: [u64; 5],
}

/// Page views counted per parallel task.
const CHUNK: usize = 64 * 1024;

impl Tally {
    /// Zeros for a period of `days` local days.
    pub fn new(days: usize) -> Tally {
        Tally {
            hourly: [0; 24],
            daily_hits: vec![0; days],
            daily_visitors: vec![0; days],
            status: [0; 5],
            hits: 0,
            visitors: 0,
            anon_sessions: 0,
            anon_bounces: 0,
            bots: 0,
            events: 0,
            duplicates: 0,
        }
    }

    /// Counts the page views `pv` (rows of `hits`) by hour, day and status class; `day[i]` is
    /// the local day of `pv[i]`, `marks` say whether it is its visitor's first that day.
    pub fn count_page_views(
        &mut self,
        period: &Period,
        hits: &Hits,
        pv: &[u32],
        day: &[u32],
        marks: &Marks,
    ) {
        let days = self.daily_hits.len();
        let chunks: Vec<Chunk> = pv
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(c, rows)| {
                let mut t = Chunk {
                    hourly: [0; 24],
                    daily_hits: vec![0; days],
                    daily_visitors: vec![0; days],
                    status: [0; 5],
                };
                for (k, &r) in rows.iter().enumerate() {
                    let i = c * CHUNK + k;
                    let r = r as usize;
                    t.hourly[period.hour(hits.ts[r])] += 1;
                    let d = day[i] as usize;
                    t.daily_hits[d] += 1;
                    if marks.has(i, first(F_DAY)) {
                        t.daily_visitors[d] += 1;
                    }
                    if let Some(class) = (hits.status[r] / 100).checked_sub(1) {
                        if let Some(slot) = t.status.get_mut(class as usize) {
                            *slot += 1;
                        }
                    }
                }
                t
            })
            .collect();
        for t in chunks {
            for h in 0..24 {
                self.hourly[h] += t.hourly[h];
            }
            for d in 0..days {
                self.daily_hits[d] += t.daily_hits[d];
                self.daily_visitors[d] += t.daily_visitors[d];
            }
            for c in 0..5 {
                self.status[c] += t.status[c];
            }
        }
        self.hits += pv.len() as u64;
    }

    /// The local days of `period` with their page views, distinct `users` (per day) and
    /// visitors.
    pub fn daily(&self, period: &Period, users: &[u64]) -> Vec<DayRow> {
        (0..period.days())
            .map(|d| DayRow {
                date: period.date_of(d),
                hits: self.daily_hits[d],
                users: users[d],
                visitors: self.daily_visitors[d],
            })
            .collect()
    }

    /// The summary, with what the user report and the lists found.
    pub fn summary(
        &self,
        people: People,
        reading: &Reading,
        opts: Options,
        referrers: Vec<(String, u64)>,
        countries: Vec<(String, u64)>,
    ) -> Summary {
        let sessions = people.sessions + self.anon_sessions;
        let bounces = people.bounces + self.anon_bounces;
        Summary {
            hits: self.hits,
            users: people.users,
            visitors: self.visitors,
            sessions,
            bounce_rate: ratio(bounces, sessions),
            bots: self.bots,
            bots_included: opts.include_bots,
            duplicates: self.duplicates + reading.duplicates,
            malformed_rows: reading.malformed_rows,
            unknown_header_files: reading.unknown_header_files,
            files: reading.files,
            partitions: reading.partitions.clone(),
            missing_partitions: reading.missing_partitions.clone(),
            events: self.events,
            referrers: referrers
                .into_iter()
                .map(|(host, hits)| ReferrerCount { host, hits })
                .collect(),
            countries: countries
                .into_iter()
                .map(|(country, hits)| CountryCount { country, hits })
                .collect(),
            status_classes: StatusClasses {
                c1xx: self.status[0],
                c2xx: self.status[1],
                c3xx: self.status[2],
                c4xx: self.status[3],
                c5xx: self.status[4],
            },
        }
    }
}

/// What the user report adds to the summary.
pub struct People {
    /// Distinct signed-in users.
    pub users: u64,
    /// User sessions.
    pub sessions: u64,
    /// Those of one page view.
    pub bounces: u64,
}
