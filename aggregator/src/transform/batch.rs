//! The core shared by the Lambda and the polling consumer: stream records of one shard ->
//! one CSV object per UTC day of the hits' own `ts`, and one JSONL object per day of rejected
//! records with their reasons. Pure: no I/O, no clock.

use base64::Engine;
use pagehit::{csv_header, time, PageHit};
use std::collections::BTreeMap;

/// One record as read from the stream (either driver).
#[derive(Debug, Clone, Copy)]
pub struct StreamRecord<'a> {
    /// Kinesis sequence number.
    pub sequence: &'a str,
    /// Kinesis arrival time, ms since the epoch: dates a record whose own `ts` is unreadable.
    pub arrival_ms: i64,
    /// The payload (a hit's JSON, if the producer behaved).
    pub data: &'a [u8],
}

/// Which kind of object a [`DayObject`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Valid hits as CSV (header row first).
    Hits,
    /// Invalid records, one JSON object per line: raw data and the reason.
    Rejected,
}

/// One object to write for a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayObject {
    /// Hits or rejected.
    pub kind: Kind,
    /// `YYYY-MM-DD` partition.
    pub date: String,
    /// Object body.
    pub body: String,
    /// Records in it.
    pub records: usize,
    /// Index (in the batch) of the first record it holds: where a retry must start if this
    /// object could not be written.
    pub first_index: usize,
}

impl DayObject {
    /// Its key under the sink (`pagehit::layout::batch_object`): one immutable object per
    /// batch and day, named by the batch's first and last sequence numbers.
    pub fn key(&self, shard: &str, first_sequence: &str, last_sequence: &str) -> String {
        pagehit::layout::batch_object(
            self.kind == Kind::Rejected,
            &self.date,
            shard,
            first_sequence,
            last_sequence,
        )
    }
}

/// The objects of one batch, in a stable order (hits before rejected, then by date).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchObjects {
    /// Objects to write.
    pub objects: Vec<DayObject>,
    /// Valid hits in the batch.
    pub hits: usize,
    /// Rejected records in the batch.
    pub rejected: usize,
}

/// Groups a batch of records of one shard into per-day objects.
pub fn build(records: &[StreamRecord<'_>]) -> BatchObjects {
    let mut days: BTreeMap<(Kind, String), DayObject> = BTreeMap::new();
    let mut out = BatchObjects::default();
    for (index, record) in records.iter().enumerate() {
        let (kind, date, line) = match PageHit::from_json(record.data) {
            Ok(hit) => {
                let mut row = String::new();
                hit.write_csv_row(&mut row);
                out.hits += 1;
                (Kind::Hits, hit.utc_date().to_string(), row)
            }
            Err(reason) => {
                out.rejected += 1;
                let date = time::format_date(record.arrival_ms.div_euclid(time::MS_PER_DAY));
                (
                    Kind::Rejected,
                    date,
                    rejected_line(record, &reason.to_string()),
                )
            }
        };
        let object = days
            .entry((kind, date.clone()))
            .or_insert_with(|| DayObject {
                kind,
                date,
                body: if kind == Kind::Hits {
                    csv_header()
                } else {
                    String::new()
                },
                records: 0,
                first_index: index,
            });
        object.body.push_str(&line);
        object.records += 1;
    }
    out.objects = days.into_values().collect();
    out
}

/// One line of a rejected-records object: everything needed to inspect or replay the record.
pub fn rejected_line(record: &StreamRecord<'_>, reason: &str) -> String {
    let mut line = serde_json::json!({
        "reason": reason,
        "sequence_number": record.sequence,
        "arrival": time::format_ts(record.arrival_ms),
    });
    // Raw text when it is text, base64 when it is not: the record is kept exactly.
    match std::str::from_utf8(record.data) {
        Ok(text) => line["data"] = text.into(),
        Err(_) => {
            line["data_base64"] = base64::engine::general_purpose::STANDARD
                .encode(record.data)
                .into()
        }
    }
    let mut s = line.to_string();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn hit_json(ts: &str, path: &str, user: &str) -> String {
        PageHit {
            event_id: format!("0193{:0>4}-0000-7000-8000-000000000000", ts.len() % 10),
            ts: ts.into(),
            host: "shop.example".into(),
            path: path.into(),
            action: "x".into(),
            method: "GET".into(),
            status: 200,
            user: user.into(),
            visitor: "0123456789abcdef".into(),
            referrer: String::new(),
            country: "DE".into(),
            user_agent: "Mozilla/5.0".into(),
            bot: false,
            origin_ms: 3,
            ..PageHit::default()
        }
        .to_json()
    }

    const MIDNIGHT: i64 = 1_795_737_600_000; // 2026-11-27T00:00:00.000Z

    #[test]
    fn a_batch_spanning_midnight_lands_in_two_days_by_the_hits_own_ts() {
        let a = hit_json("2026-11-26T23:59:59.999Z", "/a", "");
        let b = hit_json("2026-11-27T00:00:00.000Z", "/b", "alice");
        let c = hit_json("2026-11-26T23:59:58.000Z", "/c", "");
        let recs = [
            StreamRecord {
                sequence: "1",
                arrival_ms: MIDNIGHT + 5,
                data: a.as_bytes(),
            },
            StreamRecord {
                sequence: "2",
                arrival_ms: MIDNIGHT + 6,
                data: b.as_bytes(),
            },
            StreamRecord {
                sequence: "3",
                arrival_ms: MIDNIGHT + 7,
                data: c.as_bytes(),
            },
        ];
        let out = build(&recs);
        assert_eq!((out.hits, out.rejected), (3, 0));
        assert_eq!(out.objects.len(), 2);
        let (d26, d27) = (&out.objects[0], &out.objects[1]);
        assert_eq!(
            (d26.date.as_str(), d26.records, d26.first_index),
            ("2026-11-26", 2, 0)
        );
        assert_eq!(
            (d27.date.as_str(), d27.records, d27.first_index),
            ("2026-11-27", 1, 1)
        );
        assert!(d26.body.starts_with(&csv_header()));
        let read = pagehit::csv::read_all(d26.body.as_bytes()).unwrap();
        assert_eq!(read.malformed, 0);
        assert_eq!(read.hits[0].path, "/a");
        assert_eq!(read.hits[1].path, "/c");
        assert_eq!(
            d26.key("shardId-000000000001", "4960", "4962"),
            "hits/dt=2026-11-26/shardId-000000000001-4960-4962.csv"
        );
        assert_eq!(d27.key("s", "1", "3"), "hits/dt=2026-11-27/s-1-3.csv");
    }

    #[test]
    fn bad_records_are_rejected_with_reason_and_raw_data() {
        let mut long_user = serde_json::from_str::<serde_json::Value>(&hit_json(
            "2026-11-26T10:00:00.000Z",
            "/",
            "",
        ))
        .unwrap();
        long_user["user"] = "u".repeat(300).into();
        let mut missing = long_user.clone();
        missing.as_object_mut().unwrap().remove("visitor");
        let long_user = long_user.to_string();
        let missing = missing.to_string();
        let good = hit_json("2026-11-26T10:00:00.000Z", "/a,\"b\"%0A/café", "Zoë, \"Z\"");
        let recs = [
            StreamRecord {
                sequence: "10",
                arrival_ms: MIDNIGHT - 1,
                data: b"{not json",
            },
            StreamRecord {
                sequence: "11",
                arrival_ms: MIDNIGHT - 1,
                data: missing.as_bytes(),
            },
            StreamRecord {
                sequence: "12",
                arrival_ms: MIDNIGHT + 1,
                data: long_user.as_bytes(),
            },
            StreamRecord {
                sequence: "13",
                arrival_ms: MIDNIGHT,
                data: &[0xff, 0xfe, b'{'],
            },
            StreamRecord {
                sequence: "14",
                arrival_ms: MIDNIGHT,
                data: good.as_bytes(),
            },
        ];
        let out = build(&recs);
        assert_eq!((out.hits, out.rejected), (1, 4));
        let hits = &out.objects[0];
        assert_eq!(hits.kind, Kind::Hits);
        let back = &pagehit::csv::read_all(hits.body.as_bytes()).unwrap().hits[0];
        assert_eq!(back.path, "/a,\"b\"%0A/café");
        assert_eq!(back.user, "Zoë, \"Z\"");

        // Rejected records are dated by arrival: two on the 26th, two on the 27th.
        let rejected: Vec<&DayObject> = out
            .objects
            .iter()
            .filter(|o| o.kind == Kind::Rejected)
            .collect();
        assert_eq!(rejected.len(), 2);
        assert_eq!(
            (rejected[0].date.as_str(), rejected[0].records),
            ("2026-11-26", 2)
        );
        assert_eq!(
            (rejected[1].date.as_str(), rejected[1].records),
            ("2026-11-27", 2)
        );
        let lines: Vec<serde_json::Value> = rejected
            .iter()
            .flat_map(|o| o.body.lines())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["data"], "{not json");
        assert!(lines[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("not a page-hit JSON object"));
        assert!(lines[1]["reason"].as_str().unwrap().contains("visitor"));
        assert_eq!(lines[1]["sequence_number"], "11");
        assert_eq!(
            lines[2]["reason"],
            "invalid page hit: user is 300 bytes, over the 256-byte cap"
        );
        assert_eq!(lines[2]["arrival"], "2026-11-27T00:00:00.001Z");
        assert_eq!(lines[3]["data_base64"], "//57");
    }

    #[test]
    fn empty_batch_has_no_objects() {
        assert_eq!(build(&[]), BatchObjects::default());
    }
}
