//! A stream's shards and their lineage: which may be read now, and when a closed one is done.
//! Pure: no I/O.

use std::cmp::Ordering;
use std::collections::HashSet;

/// A shard and its lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// `shardId-000000000000`.
    pub id: String,
    /// The shard it was split or merged from.
    pub parent: Option<String>,
    /// The other parent of a merge.
    pub adjacent_parent: Option<String>,
    /// Set when the shard is closed (after a reshard): its last sequence number.
    pub ending_sequence: Option<String>,
}

impl Shard {
    /// Whether the shard came from a reshard (it has a parent).
    pub fn is_child(&self) -> bool {
        self.parent.is_some() || self.adjacent_parent.is_some()
    }

    /// Whether the shard is closed (a reshard replaced it; it takes no more records).
    pub fn is_closed(&self) -> bool {
        self.ending_sequence.is_some()
    }

    /// Whether a reader at `sequence` has read the whole of this closed shard.
    pub fn read_to_end(&self, sequence: Option<&str>) -> bool {
        match (&self.ending_sequence, sequence) {
            (Some(end), Some(seq)) => sequence_cmp(seq, end) != Ordering::Less,
            _ => false,
        }
    }
}

/// Orders sequence numbers, which are decimal integers too long for u128.
pub fn sequence_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Shards that may be read now: not finished, and every parent finished (or gone from the
/// stream past its retention). Reading children only after their parents keeps each
/// partition key's records in order and makes a reshard lose nothing.
pub fn readable<'a>(shards: &'a [Shard], finished: &HashSet<String>) -> Vec<&'a Shard> {
    let present: HashSet<&str> = shards.iter().map(|s| s.id.as_str()).collect();
    let done = |id: &Option<String>| match id {
        None => true,
        Some(p) => finished.contains(p) || !present.contains(p.as_str()),
    };
    shards
        .iter()
        .filter(|s| !finished.contains(&s.id) && done(&s.parent) && done(&s.adjacent_parent))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parent: Option<&str>, adjacent: Option<&str>) -> Shard {
        Shard {
            id: id.into(),
            parent: parent.map(Into::into),
            adjacent_parent: adjacent.map(Into::into),
            ending_sequence: None,
        }
    }

    #[test]
    fn closed_shards_end_at_their_ending_sequence() {
        let mut s = shard("0", None, None);
        assert!(!s.read_to_end(Some("99")), "an open shard never ends");
        assert!(!s.is_closed());
        s.ending_sequence = Some("49590338271490256608559692538361571095921575989136588898".into());
        assert!(s.is_closed());
        assert!(!s.read_to_end(None));
        assert!(!s.read_to_end(Some(
            "49590338271490256608559692538361571095921575989136588897"
        )));
        assert!(s.read_to_end(Some(
            "49590338271490256608559692538361571095921575989136588898"
        )));
        assert!(s.read_to_end(Some(
            "49590338271490256608559692538361571095921575989136588899"
        )));
        assert!(
            !s.read_to_end(Some(
                "9959033827149025660855969253836157109592157598913658889"
            )),
            "shorter is smaller"
        );
        assert_eq!(sequence_cmp("007", "7"), Ordering::Equal);
    }

    fn ids(v: Vec<&Shard>) -> Vec<&str> {
        v.into_iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn children_wait_for_their_parents() {
        // 0 split into 1 and 2; 1 and 2 merged into 3.
        let shards = [
            shard("0", None, None),
            shard("1", Some("0"), None),
            shard("2", Some("0"), None),
            shard("3", Some("1"), Some("2")),
        ];
        assert!(!shards[0].is_child() && shards[3].is_child());
        let mut done = HashSet::new();
        assert_eq!(ids(readable(&shards, &done)), ["0"]);
        done.insert("0".to_string());
        assert_eq!(ids(readable(&shards, &done)), ["1", "2"]);
        done.insert("1".to_string());
        assert_eq!(
            ids(readable(&shards, &done)),
            ["2"],
            "a merge waits for both parents"
        );
        done.insert("2".to_string());
        assert_eq!(ids(readable(&shards, &done)), ["3"]);
    }

    #[test]
    fn parents_past_retention_do_not_block() {
        let shards = [shard("5", Some("expired"), None)];
        assert_eq!(ids(readable(&shards, &HashSet::new())), ["5"]);
    }
}
