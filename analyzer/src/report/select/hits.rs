//! The filters' selection of a kept bucket ([`Views::Placed`]) under filters of hits alone:
//! no session depends on a filter of the visit, so the page views are walked alone, a block
//! at a time, and the events are filtered apart. Under a filter of the visit the general walk
//! stays: it skips a failing session whole (this walk taking filters of the visit read at a
//! session's first page view, tried, cost 9% more CPU on five such clicks).

use super::{cuts, hit_verdicts, joined, placed_joined, Kept, Names, Test, Views};
use crate::report::filter::Filters;
use crate::report::visits::ENTRY;
use crate::transform::hits::Hits;

/// Page views of a kept bucket ([`Views::Placed`]) a block at a time: the filters' verdicts
/// of a block are still in the cache when it is walked.
const BLOCK: usize = 16 * 1024;

/// [`super::select`] of a kept bucket (placed) under filters of hits alone: `pv` all of its
/// page views, `bits` their kept marks (of which the [`ENTRY`] of each session's first page
/// view), `events` its events, in order. Without a filter on the visit, a session is kept
/// when one of its page views passes and an event is counted when it passes, whatever its
/// session: both follow from the page views and the events alone, so neither the events'
/// places among the page views nor the rows' steps are walked (the walk was a quarter of a
/// click).
pub fn select_hits(
    hits: &Hits,
    pv: &[u32],
    bits: &[u16],
    events: &[u32],
    filters: &Filters,
    names: &Names<'_>,
) -> Kept {
    use rayon::prelude::*;
    debug_assert!(filters.of_visits().next().is_none());
    let cuts = cuts(pv.len(), |at| {
        (at..pv.len()).find(|&j| bits[j] & ENTRY != 0)
    });
    let (parts, events) = rayon::join(
        || {
            cuts.par_windows(2)
                .map(|w| pages_kept(hits, pv, bits, w[0]..w[1], filters, names, BLOCK))
                .collect::<Vec<Kept>>()
        },
        || {
            let ok = hit_verdicts(hits, events, filters, names);
            events
                .iter()
                .zip(&ok)
                .filter(|(_, &k)| k)
                .map(|(&r, _)| r)
                .collect()
        },
    );
    Kept {
        views: placed_joined(&parts),
        session_first: joined(&parts, |p| &p.session_first, |_, v| v),
        events,
    }
}

/// [`select_hits`] of the page views `range` of `pv` (beginning with a session's first),
/// `block` page views at a time.
fn pages_kept(
    hits: &Hits,
    pv: &[u32],
    bits: &[u16],
    range: std::ops::Range<usize>,
    filters: &Filters,
    names: &Names<'_>,
    block: usize,
) -> Kept {
    let mut tests: Vec<Test> = filters
        .of_hits()
        .map(|f| Test::new(f, hits, names))
        .collect();
    let n = range.len();
    let (mut counted, mut at) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut spans, mut session_first) = (Vec::new(), Vec::with_capacity(n));
    let room = block.min(n);
    let mut ok = vec![true; room];
    // A block's findings are written to scratch rows whether they are kept or not, the next
    // write advancing only past a kept one (no branch a page view: whether one passes is
    // as good as random), then appended.
    let (mut c_rows, mut c_at, mut c_first) =
        (vec![0u32; room], vec![0u32; room], vec![false; room]);
    let mut c_spans = vec![[0u32; 2]; room];
    // The session being walked: its first page view, whether one of its page views passed
    // so far, and whether none has been counted yet.
    let (mut start, mut any, mut first) = (range.start as u32, false, true);
    let mut from = range.start;
    while from < range.end {
        let end = (from + block).min(range.end);
        let rows = &pv[from..end];
        let ok = &mut ok[..rows.len()];
        ok.fill(true);
        for test in &mut tests {
            test.rows(hits, rows, ok);
        }
        let (mut c, mut s) = (0, 0);
        for (k, (&r, &pass)) in rows.iter().zip(ok.iter()).enumerate() {
            let j = (from + k) as u32;
            let entry = bits[from + k] & ENTRY != 0;
            // A session ends where the next begins: kept when one of its page views passed.
            c_spans[s] = [start, j];
            s += usize::from(entry & any);
            start = if entry { j } else { start };
            any &= !entry;
            first |= entry;
            (c_rows[c], c_at[c], c_first[c]) = (r, j, first);
            c += usize::from(pass);
            first &= !pass;
            any |= pass;
        }
        counted.extend_from_slice(&c_rows[..c]);
        at.extend_from_slice(&c_at[..c]);
        session_first.extend_from_slice(&c_first[..c]);
        spans.extend_from_slice(&c_spans[..s]);
        from = end;
    }
    if any {
        spans.push([start, range.end as u32]);
    }
    Kept {
        views: Views::Placed { counted, at, spans },
        session_first,
        events: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{select, steps, NEW, PAGE};
    use super::*;
    use crate::report::filter::Filter;
    use crate::transform::hits::PAGEVIEW;
    use crate::transform::intern::NONE;

    #[test]
    fn filters_of_hits_keep_what_the_walk_keeps_in_blocks_of_any_size() {
        use crate::transform::hits::{Dicts, Shared};
        const GAP: i64 = crate::report::sessions::SESSION_GAP_MS;
        // 40 visitors, a few sessions each (some gaps past the session's), one row in four
        // an event, countries changing along the way: sessions kept whole, in part, not at all.
        let shared = Shared::default();
        let countries = ["JP", "US", "DE"].map(|c| shared.country.code(c));
        let (mut seed, mut hits) = (7u64, Hits::default());
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        for v in 0..40u64 {
            let mut ts = 0i64;
            for _ in 0..1 + next(12) {
                ts += if next(4) == 0 { GAP + 1 } else { 60_000 };
                hits.vis.push(v);
                hits.ts.push(ts);
                hits.flags.push(if next(4) == 0 { 0 } else { PAGEVIEW });
                hits.country.push(countries[next(3) as usize]);
            }
        }
        let rows = hits.vis.len();
        hits.event = vec![NONE; rows];
        let kept: Vec<u32> = (0..rows as u32).collect();
        let steps = steps(&hits, &kept);
        let (pv, events): (Vec<u32>, Vec<u32>) = kept
            .iter()
            .partition(|&&r| hits.flags[r as usize] & PAGEVIEW != 0);
        // A page view beginning a session takes ENTRY, as the kept marks give it.
        let bits: Vec<u16> = (0..rows)
            .filter(|&i| steps[i] & PAGE != 0)
            .map(|i| if steps[i] & NEW != 0 { ENTRY } else { 0 })
            .collect();
        let shared = std::sync::Arc::new(shared);
        let bucket = Dicts::new(shared.clone()).into_names();
        let agents = crate::report::agents::Agents::default();
        let names = Names {
            bucket: &bucket,
            shared: &shared,
            agents: &agents,
        };
        for expr in ["country=JP", "country!=JP", "country=US|DE", "country=FR"] {
            let filters = Filters(vec![Filter::parse(expr).unwrap()]);
            let walked = select(&hits, &kept, &steps, &filters, &names, true);
            let (counted, _, spans) = walked.views.placed();
            let sessions = bits.iter().filter(|&&b| b & ENTRY != 0).count();
            if expr != "country=FR" {
                assert!(!counted.is_empty() && counted.len() < pv.len(), "{expr}");
                assert!(!spans.is_empty() && spans.len() < sessions, "{expr}");
            }
            assert_eq!(
                select_hits(&hits, &pv, &bits, &events, &filters, &names),
                walked
            );
            // The page views alone, as the walk kept them.
            let want = Kept {
                events: Vec::new(),
                ..walked
            };
            for block in [1, 2, 3, 7, 1000] {
                let whole = pages_kept(&hits, &pv, &bits, 0..pv.len(), &filters, &names, block);
                assert_eq!(whole, want, "{expr}, blocks of {block}");
            }
        }
    }
}
