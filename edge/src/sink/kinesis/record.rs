//! The `PutRecords` request body.

use base64::Engine;
use pagehit::PageHit;
use serde::Serialize;

/// Kinesis accepts at most this many records in one `PutRecords` call.
pub const MAX_RECORDS_PER_CALL: usize = 500;

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

/// The JSON body of a `PutRecords` call for `entries` (at most [`MAX_RECORDS_PER_CALL`]).
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
}
