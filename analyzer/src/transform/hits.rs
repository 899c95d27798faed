//! The hits the reports are computed from, as compact columns: one row per hit, ids as
//! integers, every string as a code of a shared [`Interner`], and what a report needs of the
//! referrer and campaign worked out once, when the row is read.
//!
//! About 80 bytes a row whatever the strings' length (a day of 10M hits is ~0.8 GB), 64 once
//! prepared ([`Hits::eid`] is then dropped).

use super::dicts::join_key;
use super::intern::{Interner, NONE};
use pagehit::HitRef;

/// A bucket's dictionaries and a thread's caches in front of them.
pub use super::dicts::{campaign_parts, BucketNames, Caches, Dicts, PooledCaches, Shared};

/// Ids as integers, as the columns hold them.
pub use super::ids::{uuid_bits, uuid_text, visitor_bits, visitor_text};

/// [`Hits::flags`] bit: the user agent is a crawler's.
pub const BOT: u8 = 1;
/// [`Hits::flags`] bit: the hit is a page view (not a custom event).
pub const PAGEVIEW: u8 = 2;

/// Columns of hits.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Hits {
    /// `event_id` as a 128-bit number (its hex digits; same order as the text), of the first
    /// `eid.len()` rows: rows read from compacted days after them have none (see
    /// [`Room::without_ids`]). Empty once a bucket is prepared (it only orders rows and finds
    /// repeats).
    pub eid: Vec<u128>,
    /// `ts` in ms since the Unix epoch.
    pub ts: Vec<i64>,
    /// `visitor` as a 64-bit number (its hex digits; same order as the text).
    pub vis: Vec<u64>,
    /// Path codes.
    pub path: Vec<u32>,
    /// User codes ([`NONE`] when anonymous).
    pub user: Vec<u32>,
    /// HTTP status.
    pub status: Vec<u16>,
    /// [`BOT`] and [`PAGEVIEW`] bits.
    pub flags: Vec<u8>,
    /// Country codes.
    pub country: Vec<u32>,
    /// Source codes.
    pub source: Vec<u32>,
    /// External referrer host codes, in the source dictionary ([`NONE`] when none).
    pub ref_host: Vec<u32>,
    /// Campaign codes ([`NONE`] when none).
    pub campaign: Vec<u32>,
    /// User-agent codes.
    pub agent: Vec<u32>,
    /// Custom event codes ([`NONE`] for page views).
    pub event: Vec<u32>,
    /// Host codes.
    pub host: Vec<u32>,
    /// `utm_term` and `utm_content` codes, joined by U+001F ([`NONE`] when
    /// both are empty): only filters read them.
    pub utm_more: Vec<u32>,
}

macro_rules! each_column {
    ($m:ident) => {
        $m!(
            eid, ts, vis, path, user, status, flags, country, source, ref_host, campaign, agent,
            event, host, utm_more
        )
    };
}

/// [`each_column`] but `eid`, which only some rows may have.
macro_rules! each_column_but_eid {
    ($m:ident) => {
        $m!(
            ts, vis, path, user, status, flags, country, source, ref_host, campaign, agent, event,
            host, utm_more
        )
    };
}

/// One hit's values as [`Hits`] holds them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    eid: u128,
    ts: i64,
    vis: u64,
    path: u32,
    user: u32,
    status: u16,
    flags: u8,
    country: u32,
    source: u32,
    ref_host: u32,
    campaign: u32,
    agent: u32,
    event: u32,
    host: u32,
    utm_more: u32,
    /// The referral's label (`source` unless `utm_source` is set), for the row after.
    label: u32,
}

/// Whether two strings are equal, comparing their addresses first (rows decoded from a
/// dictionary page share their values' bytes).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.as_ptr() == b.as_ptr() || a == b)
}

impl Row {
    /// Codes one valid hit (its `ts` already parsed) through the thread's caches `c` in front
    /// of `d`. `before` is the row coded just before it with the same `d` and `c`, if any: a
    /// value equal to its value there takes its code without a lookup (a visitor's rows lie
    /// together and share their agent, country, host, referrer and campaign).
    pub fn code(
        d: &Dicts,
        c: &mut Caches,
        hit: &HitRef<'_>,
        ts_ms: i64,
        before: Option<(&HitRef<'_>, &Row)>,
    ) -> Row {
        // The code of a value (or values) equal to the row before's, when that row has one,
        // else `code()`: a row without a campaign has [`NONE`] for its empty utm_* parts, which
        // a hit with only utm_term or utm_content has too.
        macro_rules! memo {
            ($($field:ident),+ => $col:ident, $code:expr) => {
                match before {
                    Some((h, r)) if r.$col != NONE && $(same(h.$field, hit.$field))&&+ => r.$col,
                    _ => $code,
                }
            };
        }
        let (label, ref_host) = match before {
            Some((h, r)) if same(h.referrer, hit.referrer) && same(h.host, hit.host) => {
                (r.label, r.ref_host)
            }
            _ => c.referral.codes(d, &mut c.source, hit.referrer, hit.host),
        };
        let source = if hit.utm_source.is_empty() {
            label
        } else {
            memo!(utm_source => source, c.source.code(&d.source, hit.utm_source))
        };
        let has_utm = !(hit.utm_source.is_empty()
            && hit.utm_medium.is_empty()
            && hit.utm_campaign.is_empty()
            && hit.utm_term.is_empty()
            && hit.utm_content.is_empty());
        let pageview = hit.is_pageview();
        Row {
            eid: uuid_bits(hit.event_id),
            ts: ts_ms,
            vis: visitor_bits(hit.visitor),
            path: memo!(path => path, c.path.code(&d.path, hit.path)),
            user: if hit.user.is_empty() {
                NONE
            } else {
                memo!(user => user, c.user.code(&d.user, hit.user))
            },
            status: hit.status,
            flags: if hit.bot { BOT } else { 0 } | if pageview { PAGEVIEW } else { 0 },
            country: memo!(country => country, c.country.code(&d.shared.country, hit.country)),
            source,
            ref_host,
            campaign: if has_utm {
                memo!(utm_source, utm_medium, utm_campaign => campaign, {
                    join_key(&mut c.key, &[hit.utm_source, hit.utm_medium, hit.utm_campaign]);
                    c.campaign.code(&d.campaign, &c.key)
                })
            } else {
                NONE
            },
            agent: memo!(user_agent => agent, c.agent.code(&d.shared.agent, hit.user_agent)),
            event: if pageview {
                NONE
            } else {
                memo!(event => event, c.event.code(&d.shared.event, hit.event))
            },
            host: memo!(host => host, c.host.code(&d.host, hit.host)),
            utm_more: if hit.utm_term.is_empty() && hit.utm_content.is_empty() {
                NONE
            } else {
                memo!(utm_term, utm_content => utm_more, {
                    join_key(&mut c.key, &[hit.utm_term, hit.utm_content]);
                    c.utm_more.code(&d.utm_more, &c.key)
                })
            },
            label,
        }
    }
}

/// Rows of [`Hits`] to be filled in place ([`Room::grow`]).
pub struct Slots<'a> {
    eid: &'a mut [u128],
    ts: &'a mut [i64],
    vis: &'a mut [u64],
    path: &'a mut [u32],
    user: &'a mut [u32],
    status: &'a mut [u16],
    flags: &'a mut [u8],
    country: &'a mut [u32],
    source: &'a mut [u32],
    ref_host: &'a mut [u32],
    campaign: &'a mut [u32],
    agent: &'a mut [u32],
    event: &'a mut [u32],
    host: &'a mut [u32],
    utm_more: &'a mut [u32],
}

impl<'a> Slots<'a> {
    /// The first `n` rows and the rest.
    pub fn split_at(self, n: usize) -> (Slots<'a>, Slots<'a>) {
        let eid = self.eid.split_at_mut(n.min(self.eid.len()));
        macro_rules! s {
            ($($c:ident),*) => {{
                $( let $c = self.$c.split_at_mut(n); )*
                (Slots { eid: eid.0, $( $c: $c.0, )* }, Slots { eid: eid.1, $( $c: $c.1, )* })
            }};
        }
        each_column_but_eid!(s)
    }

    /// Sets row `i` (its id only where the rows have ids).
    pub fn set(&mut self, i: usize, row: &Row) {
        macro_rules! s {
            ($($c:ident),*) => { $( self.$c[i] = row.$c; )* };
        }
        each_column_but_eid!(s);
        if let Some(eid) = self.eid.get_mut(i) {
            *eid = row.eid;
        }
    }
}

/// Columns made once for the rows a bucket may hold, filled in place: rows coded straight into
/// their final columns are not copied again, and a copy into fresh memory is mostly the kernel
/// clearing pages. The columns are allocated zeroed, which memory fresh from the system
/// already is: no pass writes zeros first (one thread's `memset` was a sixth of a cold month),
/// the threads that code the rows fault their pages in, and room never filled is never resident.
pub struct Room {
    hits: Hits,
    filled: usize,
    /// Whether the rows still to come keep their ids.
    ids: bool,
}

impl Room {
    /// The rows still to come keep no ids (rows of compacted days, each file unique and in id
    /// order where visitor and time are equal: the reader checks that they need none).
    pub fn without_ids(&mut self) {
        self.ids = false;
        self.hits.eid.truncate(self.filled);
    }

    /// The slots of the next `n` rows, to be set (by several threads, once split); past the
    /// room made, the columns grow.
    pub fn grow(&mut self, n: usize) -> Slots<'_> {
        let at = self.filled;
        self.filled += n;
        let h = &mut self.hits;
        let eid: &mut [u128] = if self.ids {
            if h.eid.len() < at + n {
                h.eid.resize(at + n, 0);
            }
            &mut h.eid[at..at + n]
        } else {
            &mut []
        };
        macro_rules! g {
            ($($c:ident),*) => {{
                $( if h.$c.len() < at + n { h.$c.resize(at + n, Default::default()); } )*
                Slots { eid, $( $c: &mut h.$c[at..at + n], )* }
            }};
        }
        each_column_but_eid!(g)
    }

    /// Copies every row of `other` after the rows filled.
    pub fn append(&mut self, other: &Hits) {
        let n = other.len();
        let slots = self.grow(n);
        macro_rules! a {
            ($($c:ident),*) => { $( slots.$c.copy_from_slice(&other.$c); )* };
        }
        each_column_but_eid!(a);
        let ids = slots.eid.len().min(other.eid.len());
        slots.eid[..ids].copy_from_slice(&other.eid[..ids]);
    }

    /// The rows filled (ids of those that keep them).
    pub fn finish(mut self) -> Hits {
        let n = self.filled;
        macro_rules! t {
            ($($c:ident),*) => { $( self.hits.$c.truncate(n); )* };
        }
        each_column!(t);
        self.hits
    }
}

impl Hits {
    /// Empty columns with room for `rows` rows.
    pub fn with_capacity(rows: usize) -> Hits {
        macro_rules! cap {
            ($($c:ident),*) => { Hits { $( $c: Vec::with_capacity(rows), )* } };
        }
        each_column!(cap)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Appends one valid hit (its `ts` already parsed), its strings coded through the thread's
    /// caches `c` in front of `d`.
    pub fn push(&mut self, d: &Dicts, c: &mut Caches, hit: &HitRef<'_>, ts_ms: i64) {
        let row = Row::code(d, c, hit, ts_ms, None);
        macro_rules! p {
            ($($c:ident),*) => { $( self.$c.push(row.$c); )* };
        }
        each_column!(p);
    }

    /// Room for `rows` rows, to be filled in place ([`Room::grow`]) and then cut to what was
    /// filled ([`Room::finish`]); ids for the first `ids` of them (more as rows keeping
    /// theirs come).
    pub fn room(rows: usize, ids: usize) -> Room {
        macro_rules! z {
            ($($c:ident),*) => { Hits { eid: vec![0; ids.min(rows)], $( $c: vec![Default::default(); rows], )* } };
        }
        Room {
            hits: each_column_but_eid!(z),
            filled: 0,
            ids: true,
        }
    }

    /// The id of row `r`, if it kept one.
    pub fn id(&self, r: usize) -> Option<u128> {
        self.eid.get(r).copied()
    }

    /// Joins parts in order, freeing each part's column as it is copied (so the peak is one
    /// copy of the rows plus one column, not two copies).
    pub fn concat(mut parts: Vec<Hits>) -> Hits {
        let n: usize = parts.iter().map(Hits::len).sum();
        let mut out = Hits::default();
        macro_rules! cat {
            ($($c:ident),*) => { $(
                out.$c.reserve_exact(n);
                for p in parts.iter_mut() {
                    out.$c.append(&mut p.$c);
                    p.$c = Vec::new();
                }
            )* };
        }
        each_column!(cat);
        out
    }

    /// The rows at `rows`, in that order.
    pub fn gather(&self, rows: &[u32]) -> Hits {
        // Ids are gathered when every row has one (else no row keeps one).
        let eid = if self.eid.len() == self.len() {
            rows.iter().map(|&r| self.eid[r as usize]).collect()
        } else {
            Vec::new()
        };
        macro_rules! g {
            ($($c:ident),*) => { Hits { eid, $( $c: rows.iter().map(|&r| self.$c[r as usize]).collect(), )* } };
        }
        each_column_but_eid!(g)
    }

    /// Keeps only the rows at `rows`, in that order, a column at a time (so the rows are
    /// copied once and only one old column is held beside its new one: the allocator gives
    /// the next column the memory the last one freed); a column emptied (`eid` once
    /// prepared) stays empty.
    pub fn select_rows(&mut self, rows: &[u32]) {
        use rayon::prelude::*;
        macro_rules! s {
            ($($c:ident),*) => {{ $( if !self.$c.is_empty() {
                let new = rows.par_iter().map(|&r| self.$c[r as usize]).collect();
                self.$c = new;
            } )* }};
        }
        each_column!(s)
    }

    /// Moves the per-bucket codes of these rows from the dictionaries `from` to `to` (rows read
    /// from landed CSVs joining a bucket of a compacted day). Each distinct value is looked up
    /// once.
    pub fn recode(&mut self, from: &Dicts, to: &Dicts) {
        fn column(codes: &mut [u32], from: &Interner, to: &Interner) {
            let mut seen: hashbrown::HashMap<u32, u32> = hashbrown::HashMap::new();
            for c in codes.iter_mut() {
                if *c == NONE {
                    continue;
                }
                *c = *seen.entry(*c).or_insert_with(|| to.code(&from.name(*c)));
            }
        }
        column(&mut self.path, &from.path, &to.path);
        column(&mut self.user, &from.user, &to.user);
        column(&mut self.source, &from.source, &to.source);
        column(&mut self.ref_host, &from.source, &to.source);
        column(&mut self.campaign, &from.campaign, &to.campaign);
        column(&mut self.host, &from.host, &to.host);
        column(&mut self.utm_more, &from.utm_more, &to.utm_more);
    }

    /// Keeps the rows for which `keep(row)` is true.
    pub fn retain(&mut self, keep: impl Fn(usize) -> bool) {
        let rows: Vec<u32> = (0..self.len())
            .filter(|&r| keep(r))
            .map(|r| r as u32)
            .collect();
        if rows.len() != self.len() {
            *self = self.gather(&rows);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagehit::PageHit;

    #[test]
    fn a_row_coded_after_another_equals_it_coded_alone() {
        // Every pair of hits whose fields take a few values each, empty ones included: the
        // codes a row takes from the row before are those it would look up.
        let base = PageHit {
            event_id: "01936b2e-1f00-7abc-8def-0123456789ab".into(),
            ts: "2026-11-25T10:00:00.000Z".into(),
            action: "index".into(),
            method: "GET".into(),
            status: 200,
            visitor: "0123456789abcdef".into(),
            ..PageHit::default()
        };
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut pick = |values: &[&str]| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values[(x % values.len() as u64) as usize].to_string()
        };
        let hits: Vec<PageHit> = (0..400)
            .map(|_| {
                let mut h = base.clone();
                h.host = pick(&["a.example", "b.example"]);
                h.path = pick(&["/", "/x"]);
                h.referrer = pick(&["", "https://a.example/", "https://news.example/"]);
                h.user = pick(&["", "ann"]);
                h.country = pick(&["", "JP"]);
                h.user_agent = pick(&["ua1", "ua2"]);
                h.event = pick(&[pagehit::PAGEVIEW, pagehit::PAGEVIEW, "signup"]);
                h.utm_source = pick(&["", "", "mail"]);
                h.utm_medium = pick(&["", "", "email"]);
                h.utm_campaign = pick(&["", "", "winter"]);
                h.utm_term = pick(&["", "", "shoes"]);
                h.utm_content = pick(&["", "", "top"]);
                h
            })
            .collect();
        let d = Dicts::default();
        let mut c = Caches::default();
        let alone: Vec<Row> = hits
            .iter()
            .map(|h| Row::code(&d, &mut c, &h.view(), 0, None))
            .collect();
        for i in 1..hits.len() {
            let (before, hit) = (hits[i - 1].view(), hits[i].view());
            let after = Row::code(&d, &mut c, &hit, 0, Some((&before, &alone[i - 1])));
            assert_eq!(after, alone[i], "{:?} after {:?}", hits[i], hits[i - 1]);
        }
    }

    #[test]
    fn a_row_gets_its_source_referrer_and_campaign() {
        let d = Dicts::default();
        let mut hits = Hits::default();
        let base = PageHit {
            event_id: "01936b2e-1f00-7abc-8def-0123456789ab".into(),
            ts: "2026-11-25T10:00:00.000Z".into(),
            host: "shop.example".into(),
            path: "/".into(),
            action: "index".into(),
            method: "GET".into(),
            status: 200,
            visitor: "0123456789abcdef".into(),
            ..PageHit::default()
        };
        let cases = [
            ("", "", "(direct)", None),
            ("https://SHOP.example/x", "", "(internal)", None),
            (
                "https://news.example/a",
                "",
                "news.example",
                Some("news.example"),
            ),
            (
                "https://news.example/a",
                "mail",
                "mail",
                Some("news.example"),
            ),
        ];
        for (referrer, utm, _, _) in cases {
            let mut h = base.clone();
            h.referrer = referrer.into();
            h.utm_source = utm.into();
            if !utm.is_empty() {
                h.utm_campaign = "winter".into();
            }
            hits.push(&d, &mut Caches::default(), &h.view(), 0);
        }
        // An external referrer's host is coded in the sources' dictionary.
        let src = d.source.snapshot();
        for (i, (_, _, source, ref_host)) in cases.iter().enumerate() {
            assert_eq!(src.name(hits.source[i]), *source);
            assert_eq!(
                (hits.ref_host[i] != NONE).then(|| src.name(hits.ref_host[i])),
                *ref_host
            );
        }
        assert_eq!(hits.campaign[..3], [NONE, NONE, NONE]);
        let key = d.campaign.snapshot().name(hits.campaign[3]).to_string();
        assert_eq!(campaign_parts(&key), ("mail", "", "winter"));
        assert_eq!(hits.flags[0], PAGEVIEW);
        assert_eq!(hits.user[0], NONE);

        let mut more = hits.clone();
        more.retain(|r| r % 2 == 0);
        assert_eq!(more.len(), 2);
        let joined = Hits::concat(vec![hits.clone(), more]);
        assert_eq!(joined.len(), 6);
        assert_eq!(joined.gather(&[4]).source, vec![hits.source[0]]);
    }

    #[test]
    fn room_holds_its_rows_in_order_cut_to_what_was_filled() {
        let d = Dicts::default();
        let mut c = Caches::default();
        let hit = |path: &str| PageHit {
            event_id: "01936b2e-1f00-7abc-8def-0123456789ab".into(),
            host: "shop.example".into(),
            path: path.into(),
            status: 200,
            visitor: "0123456789abcdef".into(),
            ..PageHit::default()
        };
        let mut landed = Hits::default();
        for p in ["/a", "/b"] {
            landed.push(&d, &mut c, &hit(p).view(), 1);
        }
        let rows = ["/c", "/d", "/e", "/f"].map(|p| Row::code(&d, &mut c, &hit(p).view(), 2, None));
        // Room made for five: two copied, then four set in place, one past the room made.
        let mut room = Hits::room(5, 5);
        room.append(&landed);
        let mut slots = room.grow(4);
        for (i, row) in rows.iter().enumerate() {
            slots.set(i, row);
        }
        let hits = room.finish();
        let names = d.path.snapshot();
        let paths: Vec<&str> = hits.path.iter().map(|&p| names.name(p)).collect();
        assert_eq!(paths, ["/a", "/b", "/c", "/d", "/e", "/f"]);
        assert_eq!(hits.ts, [1, 1, 2, 2, 2, 2]);
        assert_eq!(hits.status, [200; 6]);
        // Room never filled is not a row.
        let mut room = Hits::room(5, 5);
        room.append(&landed);
        assert_eq!(room.finish(), landed);
        // Rows after `without_ids` keep none; those before keep theirs.
        let mut room = Hits::room(5, 2);
        room.append(&landed);
        room.without_ids();
        let (mut head, mut tail) = room.grow(3).split_at(1);
        head.set(0, &rows[0]);
        tail.set(0, &rows[1]);
        tail.set(1, &rows[2]);
        let hits = room.finish();
        assert_eq!(hits.len(), 5);
        assert_eq!(hits.eid, landed.eid);
        assert_eq!((hits.id(1), hits.id(2)), (landed.id(1), None));
        assert_eq!(hits.gather(&[0, 1]).eid, Vec::<u128>::new());
        assert_eq!(landed.gather(&[1, 0]).eid, [landed.eid[1], landed.eid[0]]);
    }
}
