//! Strings of a column (paths, users, sources, ...) as dense `u32` codes, shared by every
//! reading thread: no per-thread dictionaries to merge afterwards.
//!
//! A value's hash picks one of [`SHARDS`] shards, each a hash table behind its own lock, so
//! threads rarely wait on each other; a code is the shard number plus the value's index in its
//! shard, so codes stay dense (an array indexed by code is about as long as the number of
//! distinct values) and are stable for the whole run (the report and the previous period of
//! `--compare` share them).

use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::Mutex;

const SHARD_BITS: u32 = 6;
/// Number of shards.
pub const SHARDS: usize = 1 << SHARD_BITS;

/// Marks "no value" in a code column (an anonymous user, no referrer).
pub const NONE: u32 = u32::MAX;

/// A slot of a [`Table`]: the value's index and the low 32 bits of its hash. Growing the table
/// rehashes from `check` alone, and a probe passes over a slot whose `check` differs without
/// reading its name: on a day of unique paths, reading the names back was most of the cost.
#[derive(Clone, Copy)]
struct Slot {
    index: u32,
    check: u32,
}

/// The hash the table itself uses for a slot: `check` spread over 64 bits (hashbrown takes its
/// tag from the top bits and the bucket from the low ones).
fn slot_hash(check: u32) -> u64 {
    u64::from(check).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Names by index in an [`Arena`], found by value through a hash table of [`Slot`]s.
#[derive(Default)]
struct Table {
    slots: HashTable<Slot>,
    names: Arena,
}

/// Whether `slot` holds `value`, whose hash's low 32 bits are `check`: its name is read only
/// when the checks agree.
fn holds(names: &Arena, slot: &Slot, check: u32, value: &str) -> bool {
    slot.check == check && names.get(slot.index as usize) == Some(value)
}

impl Table {
    /// The index of `value`, whose hash is `hash`, if it is held.
    fn find(&self, hash: u64, value: &str) -> Option<usize> {
        let check = hash as u32;
        self.slots
            .find(slot_hash(check), |s| holds(&self.names, s, check, value))
            .map(|s| s.index as usize)
    }

    /// The index of `value`, whose hash is `hash`, added if new: one probe either way (a find
    /// then an insert probed twice, and on a day of unique paths nearly every value is new).
    fn index(&mut self, hash: u64, value: &str) -> usize {
        let check = hash as u32;
        let Table { slots, names } = self;
        let entry = slots.entry(
            slot_hash(check),
            |s| holds(names, s, check, value),
            |s| slot_hash(s.check),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(e) => e.get().index as usize,
            hashbrown::hash_table::Entry::Vacant(e) => {
                let index =
                    u32::try_from(names.len()).expect("fewer than 4 billion values in one table");
                names.push(value);
                e.insert(Slot { index, check });
                index as usize
            }
        }
    }

    /// Bytes held, at the buffers' capacities.
    fn held(&self) -> usize {
        self.names.text.capacity()
            + self.names.ends.capacity() * std::mem::size_of::<usize>()
            + self.slots.allocation_size()
    }
}

/// Names one after another in one buffer, each a slice of it: a dictionary of millions of
/// distinct paths is a few allocations instead of one per name, and dropping a bucket's
/// dictionaries is a few frees (on a day of unique paths the allocator was a quarter of a
/// report).
#[derive(Debug, Clone, Default)]
struct Arena {
    text: String,
    ends: Vec<usize>,
}

impl Arena {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..end])
    }

    fn push(&mut self, name: &str) {
        self.text.push_str(name);
        self.ends.push(self.text.len());
    }
}

/// A concurrent string -> code dictionary.
pub struct Interner {
    shards: Vec<Mutex<Table>>,
    hasher: foldhash::fast::FixedState,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: foldhash::fast::FixedState::with_seed(0x5157_1e5a_7c1d_a001),
        }
    }
}

/// The shard of a value's hash: the 6 bits below the top 7. Not the top bits: hashbrown takes
/// its 7-bit tag from those (and the slot from the low bits), so a shard picked by the top 6
/// bits left every value of a shard with one of two tags, and a lookup compared the names of
/// half of each group it probed: on a day of unique paths those cache misses were a third of
/// the report's CPU.
fn shard_of(hash: u64) -> usize {
    (hash >> (57 - SHARD_BITS)) as usize & (SHARDS - 1)
}

fn code_of(shard: usize, index: usize) -> u32 {
    let code = (index << SHARD_BITS) | shard;
    u32::try_from(code)
        .ok()
        .filter(|&c| c != NONE)
        .expect("fewer than 4 billion distinct values in one column")
}

impl Interner {
    /// The code of `value`, added if new.
    pub fn code(&self, value: &str) -> u32 {
        self.code_hashed(self.hasher.hash_one(value), value)
    }

    /// [`Interner::code`] with the value's hash already computed by this interner's hasher.
    fn code_hashed(&self, hash: u64, value: &str) -> u32 {
        let shard = shard_of(hash);
        let mut guard = self.shards[shard].lock().unwrap_or_else(|e| e.into_inner());
        code_of(shard, guard.index(hash, value))
    }

    /// The code of `value` if it was added.
    pub fn get(&self, value: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(value);
        let shard = shard_of(hash);
        let guard = self.shards[shard].lock().unwrap_or_else(|e| e.into_inner());
        guard.find(hash, value).map(|i| code_of(shard, i))
    }

    /// The value of `code` (empty for [`NONE`] or an unknown code).
    pub fn name(&self, code: u32) -> String {
        let (shard, index) = split(code);
        self.shards
            .get(shard)
            .and_then(|s| {
                let guard = s.lock().unwrap_or_else(|e| e.into_inner());
                guard.names.get(index).map(str::to_string)
            })
            .unwrap_or_default()
    }

    /// One more than the largest code given out: the length of an array indexed by code.
    pub fn code_space(&self) -> usize {
        self.shards
            .iter()
            .enumerate()
            .map(|(shard, s)| {
                let n = s.lock().unwrap_or_else(|e| e.into_inner()).names.len();
                if n == 0 {
                    0
                } else {
                    ((n - 1) << SHARD_BITS | shard) + 1
                }
            })
            .max()
            .unwrap_or(0)
    }

    /// The dictionary, for reading names without locks, without copying them.
    pub fn into_dict(self) -> Dict {
        Dict {
            shards: self
                .shards
                .into_iter()
                .map(|s| {
                    let mut names = s.into_inner().unwrap_or_else(|e| e.into_inner()).names;
                    // Kept for the bucket's life: no room left unused.
                    names.text.shrink_to_fit();
                    names.ends.shrink_to_fit();
                    names
                })
                .collect(),
        }
    }

    /// Whether no value was added.
    pub fn is_empty(&self) -> bool {
        self.shards
            .iter()
            .all(|s| s.lock().unwrap_or_else(|e| e.into_inner()).names.is_empty())
    }

    /// The dictionary as it is now, for reading names without locks (outputs).
    pub fn snapshot(&self) -> Dict {
        use rayon::prelude::*;
        Dict {
            shards: self
                .shards
                .par_iter()
                .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).names.clone())
                .collect(),
        }
    }
}

/// A string -> code dictionary for one thread: codes dense in the order the values were first
/// added, the names in one `Arena` (no allocation per name).
#[derive(Default)]
pub struct Local {
    table: Table,
}

impl Local {
    /// The code of `value`, added if new.
    pub fn code(&mut self, value: &str) -> u32 {
        let hash = foldhash::fast::FixedState::with_seed(0x7573_6572).hash_one(value);
        u32::try_from(self.table.index(hash, value))
            .ok()
            .filter(|&c| c != NONE)
            .expect("fewer than 4 billion distinct values")
    }

    /// The value of `code` (empty for an unknown code).
    pub fn name(&self, code: u32) -> &str {
        self.table.names.get(code as usize).unwrap_or_default()
    }

    /// Values held: one more than the largest code.
    pub fn len(&self) -> usize {
        self.table.names.len()
    }

    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.table.names.is_empty()
    }

    /// Bytes held, at the buffers' capacities.
    pub fn held(&self) -> usize {
        self.table.held()
    }
}

/// Values a [`Cache`] keeps at most.
const CACHE_VALUES: usize = 16 * 1024;

/// Bytes of names a [`Cache`] keeps at most: a column of long unique values (paths of a crawler)
/// stops filling it early, so that it stays in the core's caches.
const CACHE_BYTES: usize = 1 << 20;

/// One thread's cache in front of an [`Interner`]: a value seen before is found without the
/// shared table's lock, which matters for columns with few values (countries, sources, user
/// agents) that every thread looks up on every row. Bounded: once full, new values go
/// straight to the interner. Its names lie in one buffer (a cache filled anew for every part
/// of a bucket allocated and freed a name at a time: a twentieth of a report from Parquet).
#[derive(Default)]
pub struct Cache {
    /// (start, end) of a name in `text`, and its code. The span is in the slot, not an
    /// [`Arena`] index: a hit then reads no second array (an `Arena` here cost the CSV reader
    /// ~3% more CPU on the hostile day, where every row asks every cache).
    table: HashTable<(u32, u32, u32)>,
    text: String,
}

impl Cache {
    /// The code of `value` in `interner`.
    pub fn code(&mut self, interner: &Interner, value: &str) -> u32 {
        let hash = interner.hasher.hash_one(value);
        let Cache { table, text } = self;
        if let Some(&(_, _, code)) = table.find(hash, |&(s, e, _)| {
            text.get(s as usize..e as usize) == Some(value)
        }) {
            return code;
        }
        let code = interner.code_hashed(hash, value);
        if table.len() < CACHE_VALUES && text.len() + value.len() <= CACHE_BYTES {
            let start = text.len() as u32;
            text.push_str(value);
            let hasher = &interner.hasher;
            let entry = (start, text.len() as u32, code);
            table.insert_unique(hash, entry, |&(s, e, _)| {
                hasher.hash_one(&text[s as usize..e as usize])
            });
        }
        code
    }
}

fn split(code: u32) -> (usize, usize) {
    let code = code as usize;
    (code & (SHARDS - 1), code >> SHARD_BITS)
}

/// Code -> value, read-only.
#[derive(Debug, Clone, Default)]
pub struct Dict {
    shards: Vec<Arena>,
}

impl Dict {
    /// One more than the largest code: the length of an array indexed by code.
    pub fn code_space(&self) -> usize {
        self.shards
            .iter()
            .enumerate()
            .map(|(shard, names)| {
                if names.is_empty() {
                    0
                } else {
                    ((names.len() - 1) << SHARD_BITS | shard) + 1
                }
            })
            .max()
            .unwrap_or(0)
    }

    /// The value of `code` (empty for [`NONE`] or an unknown code).
    pub fn name(&self, code: u32) -> &str {
        let (shard, index) = split(code);
        self.shards
            .get(shard)
            .and_then(|s| s.get(index))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_dense_and_shared_between_threads() {
        let interner = Interner::default();
        let names: Vec<String> = (0..20_011).map(|i| format!("/p/{i}")).collect();
        let codes: Vec<Vec<u32>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let (interner, names) = (&interner, &names);
                    s.spawn(move || {
                        // Each thread walks the names in another order (20,011 is prime: every stride visits all).
                        let mut out = vec![0; names.len()];
                        for k in 0..names.len() {
                            let i = (k * (2 * t + 1)) % names.len();
                            out[i] = interner.code(&names[i]);
                        }
                        out
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            codes.windows(2).all(|w| w[0] == w[1]),
            "same value, same code"
        );
        let dict = interner.snapshot();
        for (name, &code) in names.iter().zip(&codes[0]) {
            assert_eq!(dict.name(code), name);
            assert_eq!(interner.get(name), Some(code));
        }
        let distinct: std::collections::HashSet<u32> = codes[0].iter().copied().collect();
        assert_eq!(distinct.len(), names.len());
        // Dense: the largest shard sets the space; of 64 shards of ~313 values it is expected
        // ~2.5 standard deviations (~14%) above the mean.
        let space = interner.code_space();
        assert!(
            space >= names.len() && space < names.len() * 5 / 4,
            "{space}"
        );
        assert_eq!(interner.get("/none"), None);
        // Through a cache: the same codes, and values past its bound still get theirs.
        let mut cache = Cache::default();
        for (name, &code) in names.iter().zip(&codes[0]) {
            assert_eq!(cache.code(&interner, name), code);
        }
        assert_eq!(cache.code(&interner, "/p/7"), codes[0][7]);
        assert_eq!(dict.name(NONE), "");
    }

    #[test]
    fn a_shard_spreads_its_values_over_the_tables_tags() {
        // hashbrown tags a slot with the top 7 bits of the hash it is given: the values one
        // shard holds must not share them, or every probe compares names.
        let hasher = Interner::default().hasher;
        let tags: std::collections::HashSet<u64> = (0..100_000)
            .map(|i| hasher.hash_one(format!("/p/{i}")))
            .filter(|&h| shard_of(h) == 0)
            .map(|h| slot_hash(h as u32) >> 57)
            .collect();
        assert!(tags.len() > 100, "{} of 128 tags", tags.len());
    }

    #[test]
    fn a_local_dictionary_codes_in_first_seen_order() {
        let mut local = Local::default();
        assert!(local.is_empty());
        let values = ["/b", "/a", "", "/b", "/é", "/a", "/c"];
        let codes: Vec<u32> = values.iter().map(|v| local.code(v)).collect();
        assert_eq!(codes, [0, 1, 2, 0, 3, 1, 4]);
        assert_eq!(local.len(), 5);
        for (v, &c) in values.iter().zip(&codes) {
            assert_eq!(local.name(c), *v);
        }
        assert_eq!(local.name(5), "");
        assert!(local.held() >= "/b/a/é/c".len() + 5 * 8);
    }
}
