//! The user report: signed-in page views by user across all their visitors (devices), in time
//! order. A user's page views can lie in every bucket, so a projection of them (user, time, id,
//! path) is kept bucket by bucket and worked out at the end.

use super::model::UserRow;
use super::sessions::{order, runs, session_flags};
use super::sort_top;
use super::totals::People;
use super::visits::chunks_of_runs;
use crate::period::Period;
use crate::transform::hits::Hits;
use crate::transform::intern::{Dict, NONE};
use rayon::prelude::*;
use std::collections::HashMap;

/// Signed-in page views, kept for the user report.
#[derive(Default)]
pub struct SignedIn {
    user: Vec<u32>,
    ts: Vec<i64>,
    eid: Vec<u128>,
    path: Vec<u32>,
}

impl SignedIn {
    /// Keeps the signed-in ones of the page views `pv` (rows of `hits`).
    pub fn add(&mut self, hits: &Hits, pv: &[u32]) {
        for &r in pv {
            let r = r as usize;
            if hits.user[r] != NONE {
                self.user.push(hits.user[r]);
                self.ts.push(hits.ts[r]);
                self.eid.push(hits.eid[r]);
                self.path.push(hits.path[r]);
            }
        }
    }
}

/// What the signed-in page views give.
pub struct Users {
    /// The user rows, sorted by hits then user and cut to the top.
    pub rows: Vec<UserRow>,
    /// Distinct users, user sessions and their bounces, for the summary.
    pub people: People,
    /// Distinct users per path code.
    pub per_page: HashMap<u32, u64>,
    /// Distinct users per local day.
    pub per_day: Vec<u64>,
}

/// The user report of the signed-in page views `s`.
pub fn users(
    s: SignedIn,
    period: &Period,
    paths: &Dict,
    user_names: &Dict,
    top: Option<usize>,
) -> Users {
    let keys: Vec<u64> = s.user.iter().map(|&u| u64::from(u)).collect();
    let sorted = order(&keys, &s.ts, &s.eid);
    drop(keys);
    let n = sorted.len();
    let mut out = Users {
        rows: Vec::new(),
        people: People {
            users: 0,
            sessions: 0,
            bounces: 0,
        },
        per_page: HashMap::new(),
        per_day: vec![0; period.days()],
    };
    let bounds = runs(&sorted, |r| u64::from(s.user[r as usize]));
    // (user, hits, pages, sessions, first, last, top page, name)
    type Row<'n> = (u32, u64, u64, u64, i64, i64, u32, &'n str);
    struct Part<'n> {
        rows: Vec<Row<'n>>,
        sessions: u64,
        bounces: u64,
        per_page: HashMap<u32, u64>,
        per_day: Vec<u64>,
    }
    let chunks = chunks_of_runs(&bounds, n / (8 * rayon::current_num_threads()) + 1);
    let parts: Vec<Part<'_>> = chunks
        .par_iter()
        .map(|&(c0, c1)| {
            let mut part = Part {
                rows: Vec::with_capacity(c1 - c0),
                sessions: 0,
                bounces: 0,
                per_page: HashMap::new(),
                per_day: vec![0; period.days()],
            };
            let mut entry = Vec::new();
            let mut exit = Vec::new();
            let mut seen = hashbrown::HashSet::new();
            let mut days = hashbrown::HashSet::new();
            let mut counts: HashMap<u32, u64> = HashMap::new();
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
                seen.clear();
                days.clear();
                counts.clear();
                for i in 0..len {
                    let r = row(i);
                    let path = s.path[r];
                    if seen.insert(path) {
                        *part.per_page.entry(path).or_default() += 1;
                    }
                    *counts.entry(path).or_default() += 1;
                    let d = period.day_index(s.ts[r]);
                    if days.insert(d) {
                        part.per_day[d] += 1;
                    }
                }
                // The most viewed path; ties go to the smallest path.
                let top_page = counts
                    .iter()
                    .max_by(|x, y| {
                        x.1.cmp(y.1)
                            .then_with(|| paths.name(*y.0).cmp(paths.name(*x.0)))
                    })
                    .map_or(NONE, |(p, _)| *p);
                part.rows.push((
                    s.user[row(0)],
                    len as u64,
                    seen.len() as u64,
                    sessions,
                    s.ts[row(0)],
                    s.ts[row(len - 1)],
                    top_page,
                    user_names.name(s.user[row(0)]),
                ));
            }
            part
        })
        .collect();
    let mut rows: Vec<Row<'_>> = Vec::with_capacity(bounds.len());
    for part in parts {
        rows.extend(part.rows);
        out.people.sessions += part.sessions;
        out.people.bounces += part.bounces;
        for (page, users) in part.per_page {
            *out.per_page.entry(page).or_default() += users;
        }
        for (d, users) in part.per_day.into_iter().enumerate() {
            out.per_day[d] += users;
        }
    }
    out.people.users = rows.len() as u64;
    sort_top(&mut rows, |r| r.1, |r| r.7, top);
    out.rows = rows
        .into_iter()
        .map(
            |(_, hits, pages, sessions, first, last, top_page, name)| UserRow {
                user: name.to_string(),
                hits,
                pages,
                sessions,
                first_seen: period.format_local(first),
                last_seen: period.format_local(last),
                top_page: paths.name(top_page).to_string(),
            },
        )
        .collect();
    out
}
