//! Random daily salts kept in a Workers KV namespace (`VISITOR_SALTS`), so that visitor ids
//! cannot be linked across days or back to addresses by anyone, the operator included, once a
//! day's salt has expired.
//!
//! A day's salt is 32 random bytes, made by the first isolate that needs it and stored under
//! [`salt_key`] with an expiry of [`SALT_TTL_SECONDS`]. KV has no conditional write and is
//! eventually consistent (a write can take a minute to be seen elsewhere, and a miss is cached
//! too), so two isolates can both find no salt and both write one; the last write wins. Each
//! isolate therefore reads the day's salt again from time to time ([`REREAD_OWN_MS`] after
//! making one, [`REREAD_MS`] after reading one) and takes whatever KV holds: isolates that raced
//! agree again within minutes. To keep that window away from the salt's use, the worker makes
//! tomorrow's salt while it serves today (the first hit of a day makes the next one), so races
//! settle hours before midnight. What a race still costs: when a day's salt is first made at
//! the moment it is needed (the first day after deploying, or after a day without one hit),
//! a visitor seen by two isolates in those minutes can get two ids and count as two visitors.
//!
//! Pure: the worker's KV calls, clock and randomness come in as arguments (`app.rs` drives it).

use crate::transform::day::utc_day;

/// How long KV keeps a day's salt: about two days from when it was made, which is at least
/// the whole of its day (it is made no earlier than the day before), then it is gone for good.
pub const SALT_TTL_SECONDS: u64 = 2 * 86_400;
/// How long an isolate uses a salt it read from KV before reading it again.
pub const REREAD_MS: i64 = 5 * 60_000;
/// How long an isolate uses a salt it made (or could not read) before reading KV again, to
/// take the winner of a race.
pub const REREAD_OWN_MS: i64 = 60_000;
/// How long one KV read or write of a salt may take; without an answer the isolate goes on as
/// when KV cannot be read ([`DaySalts::unreadable`]).
pub const KV_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
/// Days an isolate remembers (yesterday's late hits, today, tomorrow).
const KEPT: usize = 3;

/// The KV key of `day`'s salt.
pub fn salt_key(day: &str) -> String {
    format!("visitor-salt:{day}")
}

/// The day after `day` (`YYYY-MM-DD`); `None` when `day` is not a date.
pub fn next_day(day: &str) -> Option<String> {
    let ms = pagehit::time::parse_ts(&format!("{day}T00:00:00.000Z"))?;
    Some(utc_day(ms + 86_400_000))
}

/// A fresh salt's text: 32 random bytes in hex.
pub fn new_salt(random: [u8; 32]) -> String {
    crate::transform::hit::hex(&random)
}

/// Whether a value read from KV is a salt this worker wrote.
fn is_salt(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// One day's salt as an isolate knows it.
#[derive(Debug, Clone)]
struct Known {
    day: String,
    salt: String,
    /// When to read it from KV again.
    reread_at: i64,
}

/// The salts an isolate holds, by day.
#[derive(Debug, Default)]
pub struct DaySalts {
    known: Vec<Known>,
}

impl DaySalts {
    /// `day`'s salt when it needs no KV read at `now_ms`.
    pub fn cached(&self, day: &str, now_ms: i64) -> Option<String> {
        self.find(day)
            .filter(|k| now_ms < k.reread_at)
            .map(|k| k.salt.clone())
    }

    /// Takes what KV answered for `day` at `now_ms`: a salt it holds wins over the isolate's.
    /// Without one, the isolate keeps the salt it has (its own write may not be visible yet,
    /// or another request of this isolate made it meanwhile) or makes one from `random`.
    /// Returns the salt to use and, when KV lacks it, the value to write.
    pub fn read(
        &mut self,
        day: &str,
        stored: Option<&str>,
        now_ms: i64,
        random: [u8; 32],
    ) -> (String, Option<String>) {
        match stored.filter(|v| is_salt(v)) {
            Some(salt) => {
                self.keep(day, salt, now_ms + REREAD_MS);
                (salt.to_string(), None)
            }
            None => {
                let salt = self
                    .find(day)
                    .map(|k| k.salt.clone())
                    .unwrap_or_else(|| new_salt(random));
                self.keep(day, &salt, now_ms + REREAD_OWN_MS);
                (salt.clone(), Some(salt))
            }
        }
    }

    /// KV could not be read at `now_ms`: the salt the isolate has, else a new random one (the
    /// promise holds: the id is never keyed by a salt someone could make again), read again
    /// soon.
    pub fn unreadable(&mut self, day: &str, now_ms: i64, random: [u8; 32]) -> String {
        let salt = self
            .find(day)
            .map(|k| k.salt.clone())
            .unwrap_or_else(|| new_salt(random));
        self.keep(day, &salt, now_ms + REREAD_OWN_MS);
        salt
    }

    fn find(&self, day: &str) -> Option<&Known> {
        self.known.iter().find(|k| k.day == day)
    }

    fn keep(&mut self, day: &str, salt: &str, reread_at: i64) {
        self.known.retain(|k| k.day != day);
        self.known.push(Known {
            day: day.to_string(),
            salt: salt.to_string(),
            reread_at,
        });
        // The day kept longest without a read goes first: yesterday's, once today's and
        // tomorrow's are being read.
        if self.known.len() > KEPT {
            self.known.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const DAY: &str = "2026-11-25";
    const T: i64 = 1_795_641_022_123;

    /// KV as it behaves: a write is seen by other isolates only after a delay, and the last
    /// write wins.
    #[derive(Default)]
    struct Kv {
        /// key -> (value, visible from)
        values: HashMap<String, Vec<(String, i64)>>,
    }

    impl Kv {
        const DELAY: i64 = 60_000;
        fn get(&self, key: &str, now: i64) -> Option<String> {
            self.values
                .get(key)?
                .iter()
                .filter(|(_, from)| *from <= now)
                .max_by_key(|(_, from)| *from)
                .map(|(v, _)| v.clone())
        }
        fn put(&mut self, key: &str, value: String, now: i64) {
            self.values
                .entry(key.into())
                .or_default()
                .push((value, now + Self::DELAY));
        }
    }

    /// One request of an isolate: its salt for `day` at `now`, reading and writing `kv` as
    /// the worker does.
    fn salt_of(isolate: &mut DaySalts, kv: &mut Kv, day: &str, now: i64, seed: u8) -> String {
        if let Some(s) = isolate.cached(day, now) {
            return s;
        }
        let stored = kv.get(&salt_key(day), now);
        let (salt, write) = isolate.read(day, stored.as_deref(), now, [seed; 32]);
        if let Some(w) = write {
            kv.put(&salt_key(day), w, now);
        }
        salt
    }

    #[test]
    fn racing_isolates_end_up_with_one_salt() {
        let mut kv = Kv::default();
        let (mut a, mut b) = (DaySalts::default(), DaySalts::default());
        // Both find nothing and make their own.
        let first_a = salt_of(&mut a, &mut kv, DAY, T, 1);
        let first_b = salt_of(&mut b, &mut kv, DAY, T + 10, 2);
        assert_ne!(first_a, first_b);
        // Within a minute each keeps its own; then both read KV and take the last write.
        assert_eq!(salt_of(&mut a, &mut kv, DAY, T + 30_000, 3), first_a);
        let mut now = T + 30_000;
        // At most a minute to see a write, a minute to read again, five to read once more.
        for _ in 0..20 {
            now += 30_000;
            salt_of(&mut a, &mut kv, DAY, now, 4);
            salt_of(&mut b, &mut kv, DAY, now, 5);
        }
        let (sa, sb) = (
            salt_of(&mut a, &mut kv, DAY, now, 6),
            salt_of(&mut b, &mut kv, DAY, now, 7),
        );
        assert_eq!(sa, sb, "one salt after the race");
        assert_eq!(sa, first_b, "the last write");
        assert_eq!(kv.get(&salt_key(DAY), now).as_deref(), Some(sa.as_str()));
        // A third isolate started later reads it, and keeps it.
        let mut c = DaySalts::default();
        assert_eq!(salt_of(&mut c, &mut kv, DAY, now, 8), sa);
        assert_eq!(salt_of(&mut c, &mut kv, DAY, now + 3 * REREAD_MS, 9), sa);
    }

    #[test]
    fn salts_are_random_per_day_and_read_again_on_time() {
        let mut kv = Kv::default();
        let mut a = DaySalts::default();
        let today = salt_of(&mut a, &mut kv, DAY, T, 1);
        let tomorrow = salt_of(&mut a, &mut kv, "2026-11-26", T, 2);
        assert_ne!(today, tomorrow);
        assert_eq!(today, new_salt([1; 32]));
        assert_eq!(today.len(), 64);
        assert_eq!(a.cached(DAY, T + REREAD_OWN_MS - 1), Some(today.clone()));
        assert_eq!(
            a.cached(DAY, T + REREAD_OWN_MS),
            None,
            "own salts are checked"
        );
        let (salt, write) = a.read(DAY, Some(&today), T + REREAD_OWN_MS, [9; 32]);
        assert_eq!((salt, write), (today.clone(), None));
        assert!(a.cached(DAY, T + REREAD_OWN_MS + REREAD_MS - 1).is_some());
        assert!(a.cached(DAY, T + REREAD_OWN_MS + REREAD_MS).is_none());
    }

    #[test]
    fn a_missing_or_broken_value_keeps_the_isolate_s_salt_and_writes_it() {
        let mut a = DaySalts::default();
        let (made, write) = a.read(DAY, None, T, [1; 32]);
        assert_eq!(write.as_deref(), Some(made.as_str()));
        // KV still shows nothing (or something that is not a salt): keep ours, write it again.
        for stored in [None, Some("garbage"), Some("")] {
            let (salt, write) = a.read(DAY, stored, T + REREAD_OWN_MS, [2; 32]);
            assert_eq!(salt, made);
            assert_eq!(write.as_deref(), Some(made.as_str()));
        }
        // Unreadable: keep ours; a new isolate makes a random one, never a derived one.
        assert_eq!(a.unreadable(DAY, T, [3; 32]), made);
        let mut fresh = DaySalts::default();
        assert_eq!(fresh.unreadable(DAY, T, [3; 32]), new_salt([3; 32]));
        assert_eq!(fresh.cached(DAY, T + 1), Some(new_salt([3; 32])));
    }

    #[test]
    fn an_isolate_keeps_the_three_days_read_last() {
        let mut a = DaySalts::default();
        for (i, day) in [
            "2026-11-24",
            "2026-11-25",
            "2026-11-26",
            "2026-11-25",
            "2026-11-27",
        ]
        .iter()
        .enumerate()
        {
            a.read(day, None, T, [i as u8; 32]);
        }
        assert!(
            a.cached("2026-11-24", T).is_none(),
            "the one not read longest went"
        );
        for day in ["2026-11-25", "2026-11-26", "2026-11-27"] {
            assert!(a.cached(day, T).is_some(), "{day}");
        }
    }

    #[test]
    fn days_and_keys() {
        assert_eq!(next_day("2026-11-25").as_deref(), Some("2026-11-26"));
        assert_eq!(next_day("2026-12-31").as_deref(), Some("2027-01-01"));
        assert_eq!(next_day("2028-02-28").as_deref(), Some("2028-02-29"));
        assert_eq!(next_day("nope"), None);
        assert_eq!(salt_key(DAY), "visitor-salt:2026-11-25");
    }
}
