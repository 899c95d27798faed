//! Queue messages: hits packed into messages and `sendBatch` calls within the Queues limits,
//! read back by the consumer, and what the consumer does with each message.

use crate::sink::kinesis::record::Entry;
use crate::sink::kinesis::sink::Failure;
use serde_json::Value;
use std::ops::Range;

/// Largest message the producer packs several hits into. Queues bills each 64 KB (1 KB = 1000
/// bytes) written, read and deleted, and adds ~100 bytes of metadata: a message under 63,000
/// bytes costs one operation of each.
pub const PACK_BYTES: usize = 63_000;
/// Largest message at all: Queues takes 128 KB with its metadata. A hit alone over
/// [`PACK_BYTES`] still goes, as a message of its own.
pub const MAX_MESSAGE_BYTES: usize = 127_000;
/// Messages per `sendBatch` call (Queues' limit).
pub const MAX_BATCH_MESSAGES: usize = 100;
/// Bytes per `sendBatch` call: Queues takes 256 KB, metadata included.
pub const MAX_BATCH_BYTES: usize = 240_000;

/// Format version: a consumer refuses messages of a format it does not know.
/// A message is `{"v":1,"records":[{"data":"<hit JSON>","partition_key":"<key>"},...]}`.
/// (Written and read by hand, through `serde_json::Value`: derived serde code for two structs
/// cost the Wasm more than these few lines.)
const VERSION: u64 = 1;

/// One record's JSON inside a message.
fn record_json(entry: &Entry) -> String {
    format!(
        "{{\"data\":{},\"partition_key\":{}}}",
        Value::from(entry.data.as_str()),
        Value::from(entry.partition_key.as_str())
    )
}

/// One `sendBatch` call: the message texts, and which of the offered entries they carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendBatch {
    /// Message bodies (JSON text).
    pub messages: Vec<String>,
    /// Indexes into the entries given to [`pack`].
    pub entries: Vec<usize>,
}

/// Packs `entries` into messages of at most [`PACK_BYTES`] and those into `sendBatch` calls
/// within Queues' limits. Returns the calls and the indexes of entries too large for any
/// message (to be logged as lost: they could never be queued).
pub fn pack(entries: &[&Entry]) -> (Vec<SendBatch>, Vec<usize>) {
    let mut too_large = Vec::new();
    // Messages as (text, entry indexes); `text` is the open message, without its closing `]}`.
    let mut messages: Vec<(String, Vec<usize>)> = Vec::new();
    let head = format!("{{\"v\":{VERSION},\"records\":[");
    let mut text = head.clone();
    let mut members: Vec<usize> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let record = record_json(entry);
        if head.len() + record.len() + 2 > MAX_MESSAGE_BYTES {
            too_large.push(i);
            continue;
        }
        if !members.is_empty() && text.len() + 1 + record.len() + 2 > PACK_BYTES {
            text.push_str("]}");
            messages.push((
                std::mem::replace(&mut text, head.clone()),
                std::mem::take(&mut members),
            ));
        }
        if !members.is_empty() {
            text.push(',');
        }
        text.push_str(&record);
        members.push(i);
    }
    if !members.is_empty() {
        text.push_str("]}");
        messages.push((text, members));
    }

    let mut batches: Vec<SendBatch> = Vec::new();
    let mut bytes = 0;
    for (text, members) in messages {
        let fits = batches.last().is_some_and(|b| {
            b.messages.len() < MAX_BATCH_MESSAGES && bytes + text.len() <= MAX_BATCH_BYTES
        });
        if !fits {
            batches.push(SendBatch {
                messages: Vec::new(),
                entries: Vec::new(),
            });
            bytes = 0;
        }
        let batch = batches.last_mut().expect("pushed above");
        bytes += text.len();
        batch.messages.push(text);
        batch.entries.extend(members);
    }
    (batches, too_large)
}

/// The records of a message body, or why it is not a message of this format.
pub fn unpack(text: &str) -> Result<Vec<Entry>, String> {
    let bad = |why: &str| format!("not a hits message: {why}");
    let wire: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
    match wire["v"].as_u64() {
        Some(VERSION) => {}
        Some(v) => return Err(format!("hits message version {v} is not {VERSION}")),
        None => return Err(bad("no version")),
    }
    let records = wire["records"]
        .as_array()
        .ok_or_else(|| bad("no records"))?;
    records
        .iter()
        .map(
            |r| match (r["data"].as_str(), r["partition_key"].as_str()) {
                (Some(data), Some(key)) => Ok(Entry {
                    data: data.to_string(),
                    partition_key: key.to_string(),
                }),
                _ => Err(bad("a record without data or partition_key")),
            },
        )
        .collect()
}

/// What the consumer does with one message after trying to put its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every record landed: acknowledge.
    Ack,
    /// Some did not (this error, for one of them): retry the message after a delay. Records of
    /// it that did land are put again then; `event_id` makes the repeat harmless.
    Retry(String),
}

/// The verdict per message: `spans[m]` are message `m`'s records among those put,
/// `failures` what did not land.
pub fn verdicts(spans: &[Range<usize>], failures: &[Failure]) -> Vec<Verdict> {
    spans
        .iter()
        .map(
            |span| match failures.iter().find(|f| span.contains(&f.index)) {
                Some(f) => Verdict::Retry(f.error.clone()),
                None => Verdict::Ack,
            },
        )
        .collect()
}

/// Shortest wait before a message is delivered again.
pub const MIN_RETRY_DELAY_S: u32 = 2;
/// Longest wait: with the consumer's `max_retries = 100` in `wrangler.toml`, a message is
/// retried for about a day before it goes to the dead-letter queue.
pub const MAX_RETRY_DELAY_S: u32 = 900;

/// Delay before delivering again a message first sent `age_ms` ago: as long as it has waited
/// so far, so waits double from try to try (the runtime binding does not tell the number of
/// attempts), within [`MIN_RETRY_DELAY_S`] and [`MAX_RETRY_DELAY_S`].
pub fn retry_delay_s(age_ms: i64) -> u32 {
    let age_s = (age_ms.max(0) / 1000).min(i64::from(u32::MAX)) as u32;
    age_s.clamp(MIN_RETRY_DELAY_S, MAX_RETRY_DELAY_S)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize, data_len: usize) -> Entry {
        Entry {
            data: format!("{{\"n\":{i},\"p\":\"{}\"}}", "\"".repeat(data_len)),
            partition_key: format!("{i:016x}"),
        }
    }

    #[test]
    fn packed_messages_read_back_whole_and_in_order() {
        let entries: Vec<Entry> = (0..700).map(|i| entry(i, 400)).collect();
        let refs: Vec<&Entry> = entries.iter().collect();
        let (batches, too_large) = pack(&refs);
        assert!(too_large.is_empty());
        let mut back = Vec::new();
        for b in &batches {
            assert!(b.messages.len() <= MAX_BATCH_MESSAGES);
            assert!(b.messages.iter().map(String::len).sum::<usize>() <= MAX_BATCH_BYTES);
            let mut carried = Vec::new();
            for m in &b.messages {
                assert!(m.len() <= PACK_BYTES, "{} bytes", m.len());
                carried.extend(unpack(m).unwrap());
            }
            let expected: Vec<Entry> = b.entries.iter().map(|&i| entries[i].clone()).collect();
            assert_eq!(carried, expected, "a batch carries exactly its entries");
            back.extend(carried);
        }
        assert_eq!(back, entries);
        // ~830 bytes a record: ~75 records a message, not one message per hit.
        let messages: usize = batches.iter().map(|b| b.messages.len()).sum();
        assert!(messages <= 12, "{messages} messages for 700 hits");
    }

    #[test]
    fn a_hit_too_large_for_any_message_is_set_apart() {
        let entries = [entry(0, 10), entry(1, MAX_MESSAGE_BYTES), entry(2, 40_000)];
        let refs: Vec<&Entry> = entries.iter().collect();
        let (batches, too_large) = pack(&refs);
        assert_eq!(too_large, [1]);
        let carried: Vec<usize> = batches.iter().flat_map(|b| b.entries.clone()).collect();
        assert_eq!(carried, [0, 2]);
        // Entry 2 escapes to ~80 KB: over PACK_BYTES, so alone in its message, yet it goes.
        let lone = batches
            .iter()
            .flat_map(|b| &b.messages)
            .find(|m| m.len() > PACK_BYTES)
            .expect("the large hit's own message");
        assert_eq!(unpack(lone).unwrap(), [entries[2].clone()]);
    }

    #[test]
    fn foreign_messages_are_refused_with_a_reason() {
        assert!(unpack("hello").unwrap_err().contains("not a hits message"));
        assert!(unpack(r#"{"v":1,"records":[{"data":"x"}]}"#)
            .unwrap_err()
            .contains("without data or partition_key"));
        assert!(unpack(r#"{"records":[]}"#)
            .unwrap_err()
            .contains("no version"));
        assert!(unpack(r#"{"v":2,"records":[]}"#)
            .unwrap_err()
            .contains("version 2"));
        assert_eq!(unpack(r#"{"v":1,"records":[]}"#).unwrap(), vec![]);
    }

    #[test]
    fn a_message_is_acked_only_when_all_its_records_landed() {
        let spans = [0..2, 2..5, 5..6];
        let failed = |index| Failure {
            index,
            error: format!("HTTP 503 #{index}"),
            tries: 3,
            unfit: false,
        };
        assert_eq!(
            verdicts(&spans, &[failed(3), failed(4)]),
            [
                Verdict::Ack,
                Verdict::Retry("HTTP 503 #3".into()),
                Verdict::Ack
            ]
        );
        assert_eq!(
            verdicts(&spans, &[]),
            [Verdict::Ack, Verdict::Ack, Verdict::Ack]
        );
        assert_eq!(
            verdicts(&[0..0, 0..1], &[failed(0)]),
            [Verdict::Ack, Verdict::Retry("HTTP 503 #0".into())],
            "an empty message has nothing to wait for"
        );
    }

    #[test]
    fn retry_delays_double_with_age_within_bounds() {
        assert_eq!(retry_delay_s(0), MIN_RETRY_DELAY_S);
        assert_eq!(retry_delay_s(-5), MIN_RETRY_DELAY_S, "clock skew");
        assert_eq!(retry_delay_s(7_900), 7);
        // Waiting as long again as it has waited: 2, 4, 8, ... seconds.
        let mut age = 2_000;
        for expected in [2, 4, 8, 16, 32] {
            let d = retry_delay_s(age);
            assert_eq!(d, expected);
            age += i64::from(d) * 1000;
        }
        assert_eq!(retry_delay_s(10 * 86_400_000), MAX_RETRY_DELAY_S);
    }
}
