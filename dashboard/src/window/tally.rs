//! One dimension of the live window (pages, sources, countries, ...): the distinct values seen
//! in the window, each with its counts, at most `cap` of them. A value that finds the table
//! full is counted in [`OTHER`], so a flood of unique values costs a fixed amount of memory;
//! a value's slot is freed as soon as nothing in the window refers to it any more.

use hashbrown::HashMap;

/// The slot of every value that found the table full, named `(other)`.
pub const OTHER: u32 = 0;

/// The name under which [`OTHER`] is shown.
pub const OTHER_NAME: &str = "(other)";

/// Counts of one value over the window.
#[derive(Debug, Default, Clone)]
pub struct Slot {
    /// The value; empty while the slot is free.
    pub name: Box<str>,
    /// Hits in the window.
    pub hits: u64,
    /// Distinct visitors with a hit of this value in the window.
    pub visitors: u64,
    /// Visitors whose latest page view in the last 5 minutes is this value (pages only).
    pub now: u64,
    /// Visitors whose current session refers to this value (sources only).
    pub refs: u64,
    live: bool,
}

impl Slot {
    fn unused(&self) -> bool {
        self.hits == 0 && self.visitors == 0 && self.now == 0 && self.refs == 0
    }
}

/// The values of one dimension.
#[derive(Debug)]
pub struct Tally {
    cap: usize,
    index: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl Tally {
    /// A table that names at most `cap` values at once (the rest go to [`OTHER`]).
    pub fn new(cap: usize) -> Tally {
        let other = Slot {
            name: OTHER_NAME.into(),
            live: true,
            ..Slot::default()
        };
        Tally {
            cap,
            index: HashMap::default(),
            slots: vec![other],
            free: Vec::new(),
        }
    }

    /// The slot of `name`, made if there is room, else [`OTHER`].
    pub fn slot(&mut self, name: &str) -> u32 {
        if let Some(&slot) = self.index.get(name) {
            return slot;
        }
        if self.index.len() >= self.cap {
            return OTHER;
        }
        let entry = Slot {
            name: name.into(),
            live: true,
            ..Slot::default()
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = entry;
                slot
            }
            None => {
                self.slots.push(entry);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(name.into(), slot);
        slot
    }

    /// The counts of `slot`, to change; call [`Tally::release_if_unused`] after decreasing.
    pub fn get_mut(&mut self, slot: u32) -> &mut Slot {
        &mut self.slots[slot as usize]
    }

    /// The counts of `slot`.
    pub fn get(&self, slot: u32) -> &Slot {
        &self.slots[slot as usize]
    }

    /// Frees `slot` when nothing counts it any more, so that another value may take it.
    pub fn release_if_unused(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        if slot == OTHER || !s.live || !s.unused() {
            return;
        }
        let name = std::mem::take(&mut s.name);
        s.live = false;
        self.index.remove(&name);
        self.free.push(slot);
    }

    /// Values with a slot now (not counting [`OTHER`]).
    pub fn named(&self) -> usize {
        self.index.len()
    }

    /// Every value in use, [`OTHER`] included when it counts anything.
    pub fn live(&self) -> impl Iterator<Item = &Slot> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(i, s)| s.live && (*i as u32 != OTHER || !s.unused()))
            .map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_past_the_cap_go_to_other_until_a_slot_is_freed() {
        let mut t = Tally::new(2);
        let a = t.slot("/a");
        let b = t.slot("/b");
        assert_ne!(a, b);
        assert_eq!(t.slot("/a"), a, "a value keeps its slot");
        assert_eq!(t.slot("/c"), OTHER, "the table is full");
        t.get_mut(a).hits = 1;
        t.release_if_unused(a);
        assert_eq!(t.named(), 2, "a slot with hits is kept");
        t.get_mut(a).hits = 0;
        t.release_if_unused(a);
        assert_eq!(t.named(), 1);
        let c = t.slot("/c");
        assert_eq!(c, a, "the freed slot is reused");
        assert_eq!(&*t.get(c).name, "/c");
        assert_eq!(t.slot("/a"), OTHER, "and /a now finds the table full");
    }

    #[test]
    fn other_is_listed_only_when_it_counts_something() {
        let mut t = Tally::new(1);
        let a = t.slot("/a");
        t.get_mut(a).hits = 2;
        assert_eq!(t.live().count(), 1);
        t.get_mut(OTHER).hits = 1;
        t.release_if_unused(OTHER);
        let names: Vec<&str> = t.live().map(|s| &*s.name).collect();
        assert_eq!(names, [OTHER_NAME, "/a"]);
    }

    #[test]
    fn every_count_keeps_a_slot() {
        let mut t = Tally::new(4);
        for field in 0..4 {
            let s = t.slot("/x");
            let slot = t.get_mut(s);
            match field {
                0 => slot.hits = 1,
                1 => slot.visitors = 1,
                2 => slot.now = 1,
                _ => slot.refs = 1,
            }
            t.release_if_unused(s);
            assert_eq!(t.named(), 1, "field {field} keeps the slot");
            *t.get_mut(s) = Slot {
                name: "/x".into(),
                live: true,
                ..Slot::default()
            };
            t.release_if_unused(s);
            assert_eq!(t.named(), 0);
        }
    }
}
