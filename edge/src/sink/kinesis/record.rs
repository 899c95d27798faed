//! The `PutRecords` request body.

use base64::Engine;
use pagehit::PageHit;
use serde::Serialize;

/// Kinesis accepts at most this many records in one `PutRecords` call.
pub const MAX_RECORDS_PER_CALL: usize = 500;

/// Largest `PutRecords` request body the worker sends. Kinesis refuses a request over 5 MiB, and
/// a refused request fails every hit in it; the body is base64 (4/3 of the data) plus JSON, so
/// this counts the real encoded bytes and stays a full MiB under the limit.
pub const MAX_CALL_BYTES: usize = 4 * 1024 * 1024;

/// Largest record (data plus partition key) Kinesis accepts.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Longest partition key Kinesis accepts, in characters.
pub const MAX_PARTITION_KEY_CHARS: usize = 256;

/// `{"Data":"","PartitionKey":""}` and the comma that separates records.
const RECORD_OVERHEAD: usize = 30;

/// One record to put: the hit's JSON and its partition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The record payload (the hit's JSON form).
    pub data: String,
    /// Partition key (visitor id): spreads load over shards.
    pub partition_key: String,
}

impl Entry {
    /// The entry for one hit.
    pub fn from_hit(hit: &PageHit) -> Entry {
        Entry {
            data: hit.to_json(),
            partition_key: hit.partition_key().to_string(),
        }
    }
}

/// Why `entry` can never be put (Kinesis would refuse the whole call it is in), or `Ok`.
pub fn check_fits(entry: &Entry) -> Result<(), String> {
    let key_chars = entry.partition_key.chars().count();
    if key_chars == 0 || key_chars > MAX_PARTITION_KEY_CHARS {
        return Err(format!(
            "partition key is {key_chars} characters; Kinesis takes 1 to {MAX_PARTITION_KEY_CHARS}"
        ));
    }
    let size = entry.data.len() + entry.partition_key.len();
    if size > MAX_RECORD_BYTES {
        return Err(format!(
            "record is {size} bytes; Kinesis takes at most {MAX_RECORD_BYTES} per record"
        ));
    }
    Ok(())
}

/// Bytes `entry` adds to a `PutRecords` body: its base64 data, its JSON-escaped key, the field
/// names and the separator. [`put_records_body`] produces exactly this.
pub fn encoded_len(entry: &Entry) -> usize {
    entry.data.len().div_ceil(3) * 4 + json_escaped_len(&entry.partition_key) + RECORD_OVERHEAD
}

/// Bytes of a `PutRecords` body for `stream` besides its records.
pub fn body_base_len(stream: &str) -> usize {
    // {"StreamName":"…","Records":[]} minus the separator counted for the first record.
    r#"{"StreamName":"","Records":[]}"#.len() + json_escaped_len(stream) - 1
}

/// Length of `s` inside a JSON string as serde_json writes it.
fn json_escaped_len(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        })
        .sum()
}

/// Splits `entries` into `PutRecords` calls of at most [`MAX_RECORDS_PER_CALL`] records and
/// [`MAX_CALL_BYTES`] of body, in order. Entries that can never be put are not in any call:
/// they come back apart, with the reason, so one of them cannot fail the others.
pub fn plan_calls(stream: &str, entries: &[Entry]) -> (Vec<Vec<usize>>, Vec<(usize, String)>) {
    let base = body_base_len(stream);
    let (mut calls, mut unfit) = (Vec::new(), Vec::new());
    let (mut call, mut bytes) = (Vec::new(), base);
    for (i, entry) in entries.iter().enumerate() {
        if let Err(why) = check_fits(entry) {
            unfit.push((i, why));
            continue;
        }
        let n = encoded_len(entry);
        if !call.is_empty() && (call.len() == MAX_RECORDS_PER_CALL || bytes + n > MAX_CALL_BYTES) {
            calls.push(std::mem::take(&mut call));
            bytes = base;
        }
        call.push(i);
        bytes += n;
    }
    if !call.is_empty() {
        calls.push(call);
    }
    (calls, unfit)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Body<'a> {
    stream_name: &'a str,
    records: Vec<WireRecord<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct WireRecord<'a> {
    // The JSON 1.1 protocol carries blobs as base64 strings.
    data: String,
    partition_key: &'a str,
}

/// The JSON body of a `PutRecords` call for `entries` (one call of [`plan_calls`]).
pub fn put_records_body<'a>(stream: &str, entries: impl IntoIterator<Item = &'a Entry>) -> Vec<u8> {
    let body = Body {
        stream_name: stream,
        records: entries
            .into_iter()
            .map(|e| WireRecord {
                data: base64::engine::general_purpose::STANDARD.encode(e.data.as_bytes()),
                partition_key: &e.partition_key,
            })
            .collect(),
    };
    serde_json::to_vec(&body).expect("strings always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_stream_and_base64_records() {
        let entries = [
            Entry {
                data: "{\"a\":1}".into(),
                partition_key: "0123456789abcdef".into(),
            },
            Entry {
                data: "é".into(),
                partition_key: "k2".into(),
            },
        ];
        let body: serde_json::Value =
            serde_json::from_slice(&put_records_body("hits", &entries)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "StreamName": "hits",
                "Records": [
                    {"Data": "eyJhIjoxfQ==", "PartitionKey": "0123456789abcdef"},
                    {"Data": "w6k=", "PartitionKey": "k2"}
                ]
            })
        );
    }

    fn entry(data_len: usize, key: &str) -> Entry {
        Entry {
            data: "d".repeat(data_len),
            partition_key: key.into(),
        }
    }

    #[test]
    fn encoded_length_is_the_real_body_length() {
        let odd_keys = ["0123456789abcdef", "k\"q\\", "\u{1}\n\t", "é✓"];
        for stream in ["hits", "a\"b"] {
            for n in 0..8 {
                let entries: Vec<Entry> = (0..n)
                    .map(|i| entry(i * 7 + (i % 3), odd_keys[i % odd_keys.len()]))
                    .collect();
                let predicted = if entries.is_empty() {
                    body_base_len(stream) + 1
                } else {
                    body_base_len(stream) + entries.iter().map(encoded_len).sum::<usize>()
                };
                assert_eq!(
                    put_records_body(stream, &entries).len(),
                    predicted,
                    "{stream} with {n} entries"
                );
            }
        }
    }

    #[test]
    fn calls_are_capped_by_bytes_as_well_as_count() {
        // 500 hits of 12 KB (long escaped paths) are 8 MB of base64: over the 5 MiB a call takes.
        let big: Vec<Entry> = (0..500)
            .map(|_| entry(12_000, "0123456789abcdef"))
            .collect();
        let (calls, unfit) = plan_calls("hits", &big);
        assert!(unfit.is_empty());
        assert!(calls.len() >= 2, "{} calls", calls.len());
        let flat: Vec<usize> = calls.iter().flatten().copied().collect();
        assert_eq!(
            flat,
            (0..500).collect::<Vec<_>>(),
            "every entry once, in order"
        );
        for call in &calls {
            let body = put_records_body("hits", call.iter().map(|&i| &big[i]));
            assert!(body.len() <= MAX_CALL_BYTES, "{} bytes", body.len());
            assert!(body.len() < 5 * 1024 * 1024);
        }

        // Small hits: the count caps first.
        let small: Vec<Entry> = (0..1001).map(|_| entry(300, "k")).collect();
        let (calls, _) = plan_calls("hits", &small);
        let sizes: Vec<usize> = calls.iter().map(Vec::len).collect();
        assert_eq!(sizes, [500, 500, 1]);
    }

    #[test]
    fn a_record_that_cannot_fit_is_set_apart_and_the_rest_still_go() {
        let entries = vec![
            entry(10, "a"),
            entry(MAX_RECORD_BYTES, "b"),
            entry(10, ""),
            entry(10, &"k".repeat(MAX_PARTITION_KEY_CHARS + 1)),
            entry(MAX_RECORD_BYTES - 1, "c"),
        ];
        let (calls, unfit) = plan_calls("hits", &entries);
        assert_eq!(
            calls,
            vec![vec![0, 4]],
            "the largest record that fits still goes"
        );
        let unfit_ids: Vec<usize> = unfit.iter().map(|(i, _)| *i).collect();
        assert_eq!(unfit_ids, [1, 2, 3]);
        assert!(unfit[0].1.contains("1048577 bytes"), "{}", unfit[0].1);
        assert!(unfit[1].1.contains("partition key"), "{}", unfit[1].1);
    }
}
